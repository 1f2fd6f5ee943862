package spec

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeFiles creates files (name → content) in a new temp dir and returns it.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// load loads the files in dir (discovery when names is empty).
func load(t *testing.T, dir string, opts LoadOptions, names ...string) (*Stack, error) {
	t.Helper()
	for _, n := range names {
		opts.Files = append(opts.Files, filepath.Join(dir, n))
	}
	if len(names) == 0 {
		opts.ProjectDir = dir
	}
	if opts.Env == nil {
		opts.Env = map[string]string{"HOME": "/home/user"}
	}
	return Load(opts)
}

func mustLoad(t *testing.T, dir string, opts LoadOptions, names ...string) *Stack {
	t.Helper()
	st, err := load(t, dir, opts, names...)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return st
}

// errorsOf returns the error diagnostics of err as strings with dir removed.
func errorsOf(t *testing.T, dir string, err error) []string {
	t.Helper()
	var serr *Error
	if !errors.As(err, &serr) {
		t.Fatalf("want *spec.Error, got %v", err)
	}
	var out []string
	for _, d := range serr.Diagnostics {
		if d.Severity == SevError {
			out = append(out, strings.ReplaceAll(d.String(), dir+"/", ""))
		}
	}
	return out
}

func warningsText(dir string, st *Stack) []string {
	var out []string
	for _, d := range st.Warnings {
		out = append(out, strings.ReplaceAll(d.String(), dir+"/", ""))
	}
	return out
}

func TestLoadBasic(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
name: demo
services:
  web:
    image: nginx:1.27
    command: nginx -g "daemon off;"
    environment:
      - A=1
      - B
    ports: ["127.0.0.1:8080:80", "443"]
    volumes:
      - ./html:/usr/share/nginx/html:ro
      - data:/data
      - ~/cache:/cache
    cap_add: [sys_admin, NET_ADMIN]
    mem_limit: 64m
    cpus: "0.5"
    pids_limit: 64
    healthcheck:
      test: curl -f http://localhost
      interval: 10s
    depends_on: [db]
  db:
    image: postgres
    restart: on-failure:3
volumes:
  data: {}
`})
	st := mustLoad(t, dir, LoadOptions{Env: map[string]string{"HOME": "/home/user", "B": "from-env"}})
	if st.Name != "demo" {
		t.Errorf("name = %q", st.Name)
	}
	web := st.Services["web"]
	want := &Service{
		Name: "web", Pos: Pos{File: filepath.Join(dir, "compose.yaml"), Line: 4, Col: 3},
		Image:       "nginx:1.27",
		Command:     []string{"nginx", "-g", "daemon off;"},
		Environment: map[string]string{"A": "1", "B": "from-env"},
		Ports: []Port{
			{HostIP: "127.0.0.1", Published: PortRange{8080, 8080}, Target: PortRange{80, 80}, Protocol: "tcp"},
			{Target: PortRange{443, 443}, Protocol: "tcp"},
		},
		Volumes: []Mount{
			{Type: "bind", Source: filepath.Join(dir, "html"), Target: "/usr/share/nginx/html", ReadOnly: true, CreateHostPath: true},
			{Type: "volume", Source: "data", Target: "/data"},
			{Type: "bind", Source: "/home/user/cache", Target: "/cache", CreateHostPath: true},
		},
		CapAdd:      []string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"},
		Resources:   Resources{MemLimit: 64 << 20, CPUs: 0.5, PidsLimit: 64},
		Healthcheck: &Healthcheck{Test: []string{"CMD-SHELL", "curl -f http://localhost"}, Interval: Duration(10 * time.Second)},
		DependsOn:   map[string]Dependency{"db": {Condition: "service_started", Required: true}},
		Networks:    map[string]*ServiceNetwork{"default": {}},
	}
	if diff := cmp.Diff(want, web); diff != "" {
		t.Errorf("web (-want +got):\n%s", diff)
	}
	if got := st.Services["db"].Restart; got != "on-failure:3" {
		t.Errorf("db restart = %q", got)
	}
	def := st.Networks["default"]
	if def == nil || !def.Implicit || def.HostName != "demo_default" || def.Driver != "bridge" {
		t.Errorf("default network = %+v", def)
	}
	if st.Volumes["data"].HostName != "demo_data" {
		t.Errorf("volume host name = %q", st.Volumes["data"].HostName)
	}
}

func TestDiscovery(t *testing.T) {
	t.Run("order and override", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"compose.yaml":          "services:\n  a:\n    image: one\n",
			"compose.override.yaml": "services:\n  a:\n    image: two\n",
			"docker-compose.yml":    "services:\n  b:\n    image: other\n",
		})
		st := mustLoad(t, dir, LoadOptions{})
		if st.Services["a"].Image != "two" || st.Services["b"] != nil {
			t.Errorf("services = %v", st.Services)
		}
		if w := warningsText(dir, st); len(w) != 1 || !strings.Contains(w[0], "found several stack files") {
			t.Errorf("warnings = %q", w)
		}
	})
	t.Run("stack.yaml", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"stack.yaml": "services:\n  a:\n    image: one\n"})
		if st := mustLoad(t, dir, LoadOptions{}); st.Services["a"] == nil {
			t.Error("stack.yaml not found")
		}
	})
	t.Run("none", func(t *testing.T) {
		_, err := load(t, t.TempDir(), LoadOptions{})
		if !errors.Is(err, ErrNoFile) {
			t.Errorf("err = %v, want ErrNoFile", err)
		}
	})
}

func TestProjectName(t *testing.T) {
	for _, tc := range []struct {
		name, dir, file string
		opts            LoadOptions
		want, err       string
	}{
		{name: "directory normalized", dir: "My.App_1", file: "services:\n  a:\n    image: x\n", want: "myapp_1"},
		{name: "name key", dir: "d", file: "name: web-shop\nservices:\n  a:\n    image: x\n", want: "web-shop"},
		{name: "flag wins", dir: "d", file: "name: web-shop\nservices:\n  a:\n    image: x\n", opts: LoadOptions{ProjectName: "other"}, want: "other"},
		{name: "env wins over key", dir: "d", file: "name: web-shop\nservices:\n  a:\n    image: x\n", opts: LoadOptions{Env: map[string]string{"COMPOSE_PROJECT_NAME": "fromenv"}}, want: "fromenv"},
		{name: "invalid flag", dir: "d", file: "services:\n  a:\n    image: x\n", opts: LoadOptions{ProjectName: "Bad Name"}, err: "invalid project name"},
		{name: "invalid key", dir: "d", file: "name: Shop\nservices:\n  a:\n    image: x\n", err: "name: \"Shop\": must contain only lowercase"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := writeFiles(t, map[string]string{filepath.Join(tc.dir, "compose.yaml"): tc.file})
			st, err := load(t, filepath.Join(root, tc.dir), tc.opts)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if st.Name != tc.want {
				t.Errorf("name = %q, want %q", st.Name, tc.want)
			}
		})
	}
}

func TestMergeFiles(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": `
services:
  web:
    image: nginx
    command: ["a", "b"]
    environment:
      - A=1
      - B=2
    labels: {x: "1"}
    ports: ["8080:80", "9090:90"]
    volumes:
      - ./one:/data
      - ./logs:/logs
    dns: [1.1.1.1]
    healthcheck:
      test: ["CMD", "old"]
      interval: 5s
    cap_add: [NET_ADMIN]
    x-note: kept
  db:
    image: postgres
    mem_limit: 1g
`,
		"b.yaml": `
services:
  web:
    command: ["c"]
    environment:
      B: "3"
      C: "4"
    labels: [y=2]
    ports: ["9090:90", "7070:70"]
    volumes:
      - ./two:/data
    dns: [8.8.8.8]
    healthcheck:
      test: ["CMD", "new"]
    cap_add: !reset []
  db:
    mem_limit: !reset
    image: !override mysql
`,
	})
	st := mustLoad(t, dir, LoadOptions{}, "a.yaml", "b.yaml")
	web := st.Services["web"]
	if diff := cmp.Diff([]string{"c"}, web.Command); diff != "" {
		t.Errorf("command replaced (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"A": "1", "B": "3", "C": "4"}, web.Environment); diff != "" {
		t.Errorf("environment merged (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]string{"x": "1", "y": "2"}, web.Labels); diff != "" {
		t.Errorf("labels merged (-want +got):\n%s", diff)
	}
	var ports []string
	for _, p := range web.Ports {
		ports = append(ports, strings.Trim(strings.ReplaceAll(strings.ReplaceAll(jsonOf(t, p.Published), "\"", ""), ",", "-"), "{}"))
	}
	if len(web.Ports) != 3 {
		t.Errorf("ports = %v, want 3 unique", ports)
	}
	if len(web.Volumes) != 2 || web.Volumes[0].Source != filepath.Join(dir, "two") || web.Volumes[1].Target != "/logs" {
		t.Errorf("volumes keyed by target: %+v", web.Volumes)
	}
	if diff := cmp.Diff([]string{"1.1.1.1", "8.8.8.8"}, web.DNS); diff != "" {
		t.Errorf("dns appended (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(&Healthcheck{Test: []string{"CMD", "new"}, Interval: Duration(5 * time.Second)}, web.Healthcheck); diff != "" {
		t.Errorf("healthcheck (-want +got):\n%s", diff)
	}
	if web.CapAdd != nil {
		t.Errorf("cap_add after !reset = %v", web.CapAdd)
	}
	db := st.Services["db"]
	if db.Image != "mysql" || db.Resources.MemLimit != 0 {
		t.Errorf("db = image %q mem %d", db.Image, db.Resources.MemLimit)
	}
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAnchorsAndMergeKeys(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
x-common: &common
  image: busybox
  environment:
    LEVEL: info
  restart: always
services:
  a:
    <<: *common
    restart: "no"
  b:
    <<: [*common]
    command: *cmd
x-cmd: &cmd ["sleep", "1"]
`})
	_, err := load(t, dir, LoadOptions{})
	// An alias before its anchor is a YAML error.
	if err == nil {
		t.Fatal("alias before its anchor loads")
	}
	dir = writeFiles(t, map[string]string{"compose.yaml": `
x-cmd: &cmd ["sleep", "1"]
x-common: &common
  image: busybox
  environment:
    LEVEL: info
  restart: always
services:
  a:
    <<: *common
    restart: "no"
  b:
    <<: [*common]
    command: *cmd
`})
	st := mustLoad(t, dir, LoadOptions{})
	if a := st.Services["a"]; a.Image != "busybox" || a.Restart != "no" || a.Environment["LEVEL"] != "info" {
		t.Errorf("a = %+v", a)
	}
	if b := st.Services["b"]; b.Restart != "always" || !cmp.Equal(b.Command, []string{"sleep", "1"}) {
		t.Errorf("b = %+v", b)
	}
}

func TestInclude(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `
include:
  - db/compose.yaml
  - path: [cache/compose.yaml]
    env_file: cache/cache.env
services:
  web:
    image: nginx
    depends_on: [db, cache]
`,
		"db/compose.yaml":    "services:\n  db:\n    image: postgres\n    volumes: [./init:/docker-entrypoint-initdb.d]\n",
		"cache/compose.yaml": "services:\n  cache:\n    image: redis:${REDIS_TAG}\n",
		"cache/cache.env":    "REDIS_TAG=7\n",
	})
	st := mustLoad(t, dir, LoadOptions{})
	if st.Services["db"] == nil || st.Services["cache"].Image != "redis:7" {
		t.Fatalf("services = %v", st.Services)
	}
	if got := st.Services["db"].Volumes[0].Source; got != filepath.Join(dir, "db", "init") {
		t.Errorf("included relative path = %q, want relative to the included file", got)
	}

	t.Run("cycle", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{
			"compose.yaml": "include: [b.yaml]\nservices:\n  a:\n    image: x\n",
			"b.yaml":       "include: [compose.yaml]\nservices:\n  b:\n    image: y\n",
		})
		_, err := load(t, dir, LoadOptions{})
		got := errorsOf(t, dir, err)
		if len(got) != 1 || !strings.Contains(got[0], "b.yaml:1:11: include[0]: include cycle: compose.yaml -> b.yaml -> compose.yaml") {
			t.Errorf("errors = %q", got)
		}
	})
}

func TestExtends(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `
services:
  base:
    image: busybox
    environment: {A: "1"}
    command: ["base"]
  web:
    extends: base
    command: ["web"]
    environment: {B: "2"}
  remote:
    extends:
      file: common/services.yaml
      service: tool
`,
		"common/services.yaml": "services:\n  tool:\n    image: tool\n    volumes: [./data:/data]\n",
	})
	st := mustLoad(t, dir, LoadOptions{})
	web := st.Services["web"]
	if web.Image != "busybox" || !cmp.Equal(web.Command, []string{"web"}) || !cmp.Equal(web.Environment, map[string]string{"A": "1", "B": "2"}) {
		t.Errorf("web = %+v", web)
	}
	if got := st.Services["remote"].Volumes[0].Source; got != filepath.Join(dir, "common", "data") {
		t.Errorf("extended relative path = %q", got)
	}
}

func TestProfiles(t *testing.T) {
	file := `
services:
  web:
    image: nginx
  debug:
    image: busybox
    profiles: [dev]
  tools:
    image: busybox
    profiles: [ops, dev]
`
	for _, tc := range []struct {
		name string
		opts LoadOptions
		want []string
	}{
		{"none", LoadOptions{}, []string{"web"}},
		{"flag", LoadOptions{Profiles: []string{"dev"}}, []string{"debug", "tools", "web"}},
		{"env", LoadOptions{Env: map[string]string{"COMPOSE_PROFILES": "ops"}}, []string{"tools", "web"}},
		{"named service enables its profiles", LoadOptions{Services: []string{"tools"}}, []string{"debug", "tools", "web"}},
		{"star", LoadOptions{Profiles: []string{"*"}}, []string{"debug", "tools", "web"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"compose.yaml": file})
			st := mustLoad(t, dir, tc.opts)
			if diff := cmp.Diff(tc.want, sortedKeys(st.Services)); diff != "" {
				t.Errorf("services (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("unknown service", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"compose.yaml": file})
		_, err := load(t, dir, LoadOptions{Services: []string{"nope"}})
		if !errors.Is(err, ErrNoService) {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("optional dependency on a disabled service", func(t *testing.T) {
		dir := writeFiles(t, map[string]string{"compose.yaml": `
services:
  web:
    image: nginx
    depends_on:
      debug: {condition: service_started, required: false}
  debug:
    image: busybox
    profiles: [dev]
`})
		st := mustLoad(t, dir, LoadOptions{})
		if len(st.Services["web"].DependsOn) != 0 {
			t.Errorf("depends_on = %v", st.Services["web"].DependsOn)
		}
	})
}

func TestInterpolation(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `
services:
  web:
    image: "nginx:${TAG:-latest}"
    environment:
      FROM_DOTENV: ${DOTENV_ONLY}
      OVERRIDDEN: ${BOTH}
      LITERAL: "$$HOME"
      NESTED: ${UNSET:-${TAG}}
      EMPTY: ${NOPE}
    labels:
      ${KEY}: value
`,
		".env": "DOTENV_ONLY=dot\nBOTH=from-dotenv\nTAG=1.27\n",
	})
	st := mustLoad(t, dir, LoadOptions{Env: map[string]string{"BOTH": "from-env"}})
	web := st.Services["web"]
	if web.Image != "nginx:1.27" {
		t.Errorf("image = %q", web.Image)
	}
	want := map[string]string{"FROM_DOTENV": "dot", "OVERRIDDEN": "from-env", "LITERAL": "$HOME", "NESTED": "1.27", "EMPTY": ""}
	if diff := cmp.Diff(want, web.Environment); diff != "" {
		t.Errorf("environment (-want +got):\n%s", diff)
	}
	if _, ok := web.Labels["${KEY}"]; !ok {
		t.Errorf("keys must not be interpolated: labels = %v", web.Labels)
	}
	w := warningsText(dir, st)
	if len(w) != 1 || w[0] != "compose.yaml:10:14: warning: services.web.environment.EMPTY: variable NOPE is not set: using an empty string" {
		t.Errorf("warnings = %q", w)
	}
}

func TestEnvFile(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"compose.yaml": `
services:
  a:
    image: x
    env_file: a.env
    environment: {OVER: service}
  b:
    image: x
    env_file:
      - a.env
      - path: missing.env
        required: false
      - path: raw.env
        format: raw
`,
		"a.env":   "# comment\nexport A=1\nQUOTED=\"two words\"\nOVER=file\nREF=${A}-x\n",
		"raw.env": "RAW=\"$notexpanded\"\n",
	})
	st := mustLoad(t, dir, LoadOptions{})
	if diff := cmp.Diff(map[string]string{"A": "1", "QUOTED": "two words", "OVER": "service", "REF": "1-x"}, st.Services["a"].Environment); diff != "" {
		t.Errorf("a (-want +got):\n%s", diff)
	}
	if got := st.Services["b"].Environment["RAW"]; got != `"$notexpanded"` {
		t.Errorf("raw = %q", got)
	}
}

func TestResources(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
services:
  a:
    image: x
    mem_limit: 1.5g
    memswap_limit: -1
    mem_reservation: 512m
    cpu_shares: 512
    cpu_period: 100ms
    cpu_quota: 50000
    cpuset: "0-2,4"
    shm_size: 64m
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      nproc: 100
    blkio_config:
      weight: 300
      device_read_bps: [{path: /dev/vda, rate: 1mb}]
  b:
    image: x
    cpus: 1.5
    pids_limit: 100
    scale: 2
    restart: on-failure:5
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "1.5", memory: 256M, pids: 100}
        reservations: {memory: 64M}
      restart_policy: {condition: on-failure, max_attempts: 5}
`})
	st := mustLoad(t, dir, LoadOptions{})
	wantA := Resources{
		MemLimit: 3 << 29, MemswapLimit: -1, MemReservation: 512 << 20, CPUShares: 512, CPUPeriod: 100000, CPUQuota: 50000,
		Cpuset: "0-2,4", ShmSize: 64 << 20,
		Ulimits: map[string]Ulimit{"nofile": {1024, 2048}, "nproc": {100, 100}},
		Blkio:   &Blkio{Weight: 300, DeviceReadBps: []ThrottleDevice{{Path: "/dev/vda", Rate: 1 << 20}}},
	}
	if diff := cmp.Diff(wantA, st.Services["a"].Resources); diff != "" {
		t.Errorf("a (-want +got):\n%s", diff)
	}
	b := st.Services["b"]
	wantB := Resources{CPUs: 1.5, PidsLimit: 100, MemLimit: 256 << 20, MemReservation: 64 << 20}
	if diff := cmp.Diff(wantB, b.Resources); diff != "" {
		t.Errorf("b (-want +got):\n%s", diff)
	}
	if b.Scale != 2 || b.Restart != "on-failure:5" {
		t.Errorf("b scale %d restart %q", b.Scale, b.Restart)
	}
}

func TestNetworks(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
name: net
services:
  web:
    image: x
    networks:
      front:
        aliases: [www, site]
        ipv4_address: 172.28.0.10
      back:
  side:
    image: x
    network_mode: service:web
  host:
    image: x
    network_mode: host
networks:
  front:
    driver_opts:
      com.docker.network.driver.mtu: 1400
      com.docker.network.bridge.name: br-front
    ipam:
      config:
        - subnet: 172.28.0.0/16
          gateway: 172.28.0.1
          ip_range: 172.28.5.0/24
  back:
    name: shared-back
    internal: true
  outside:
    external: true
`})
	st := mustLoad(t, dir, LoadOptions{})
	front := st.Networks["front"]
	if front.HostName != "net_front" || front.MTU != 1400 || front.BridgeName != "br-front" || len(front.IPAM) != 1 || front.IPAM[0].Gateway != "172.28.0.1" {
		t.Errorf("front = %+v", front)
	}
	if st.Networks["back"].HostName != "shared-back" || !st.Networks["back"].Internal {
		t.Errorf("back = %+v", st.Networks["back"])
	}
	if st.Networks["outside"].HostName != "outside" {
		t.Errorf("outside = %+v", st.Networks["outside"])
	}
	if _, ok := st.Networks["default"]; ok {
		t.Error("implicit default network created although no service uses it")
	}
	web := st.Services["web"]
	if diff := cmp.Diff(map[string]*ServiceNetwork{"front": {Aliases: []string{"site", "www"}, IPv4Address: "172.28.0.10"}, "back": {}}, web.Networks); diff != "" {
		t.Errorf("web networks (-want +got):\n%s", diff)
	}
	if st.Services["side"].Networks != nil || st.Services["host"].NetworkMode != "host" {
		t.Errorf("network_mode services: %+v %+v", st.Services["side"], st.Services["host"])
	}
}

func TestLongForms(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
services:
  web:
    image: x
    x-stack-publish-all: true
    ports:
      - target: 80
        published: "8080"
        host_ip: "::1"
        protocol: udp
        name: web
    volumes:
      - type: bind
        source: ./conf
        target: /etc/conf
        read_only: true
        bind: {create_host_path: false, propagation: rslave}
      - type: tmpfs
        target: /tmp
        tmpfs: {size: 10m, mode: 01777}
      - type: volume
        target: /anon
    depends_on:
      db: {condition: service_healthy, restart: true}
    healthcheck:
      test: ["CMD-SHELL", "exit", "0"]
      retries: 3
    configs:
      - app
      - source: app
        target: /etc/app.conf
        mode: 0440
    secrets: [token]
    devices: ["/dev/fuse", "/dev/ttyUSB0:/dev/ttyS0:r"]
    extra_hosts: ["db.local:10.0.0.2", "gw=host-gateway"]
    entrypoint: ""
  db:
    image: x
configs:
  app:
    content: "a=1"
secrets:
  token:
    file: ./token.txt
`})
	st := mustLoad(t, dir, LoadOptions{})
	web := st.Services["web"]
	if !web.PublishAll {
		t.Error("publish-all not set")
	}
	if diff := cmp.Diff([]Port{{HostIP: "::1", Published: PortRange{8080, 8080}, Target: PortRange{80, 80}, Protocol: "udp", Name: "web"}}, web.Ports); diff != "" {
		t.Errorf("ports (-want +got):\n%s", diff)
	}
	wantMounts := []Mount{
		{Type: "bind", Source: filepath.Join(dir, "conf"), Target: "/etc/conf", ReadOnly: true, Propagation: "rslave"},
		{Type: "tmpfs", Target: "/tmp", TmpfsSize: 10 << 20, TmpfsMode: 0o1777},
		{Type: "volume", Target: "/anon"},
	}
	if diff := cmp.Diff(wantMounts, web.Volumes); diff != "" {
		t.Errorf("volumes (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]Dependency{"db": {Condition: "service_healthy", Restart: true, Required: true}}, web.DependsOn); diff != "" {
		t.Errorf("depends_on (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"CMD-SHELL", "exit 0"}, web.Healthcheck.Test); diff != "" {
		t.Errorf("healthcheck (-want +got):\n%s", diff)
	}
	mode := uint32(0o440)
	if diff := cmp.Diff([]FileRef{{Source: "app", Target: "/app"}, {Source: "app", Target: "/etc/app.conf", Mode: &mode}}, web.Configs); diff != "" {
		t.Errorf("configs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]FileRef{{Source: "token", Target: "/run/secrets/token"}}, web.Secrets); diff != "" {
		t.Errorf("secrets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]Device{{"/dev/fuse", "/dev/fuse", "rwm"}, {"/dev/ttyUSB0", "/dev/ttyS0", "r"}}, web.Devices); diff != "" {
		t.Errorf("devices (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"db.local:10.0.0.2", "gw:host-gateway"}, web.ExtraHosts); diff != "" {
		t.Errorf("extra_hosts (-want +got):\n%s", diff)
	}
	if web.Entrypoint == nil || len(web.Entrypoint) != 0 {
		t.Errorf("entrypoint '' must clear: %#v", web.Entrypoint)
	}
	if st.Secrets["token"].File != filepath.Join(dir, "token.txt") {
		t.Errorf("secret file = %q", st.Secrets["token"].File)
	}
}

func TestStackImages(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
x-stack-images:
  httpd-box:
    commit:
      from: busybox:latest
      run: ["mkdir -p /www", "echo hi > /www/index.html"]
      author: ops@example.com
      message: serve /www
      pause: false
      changes:
        cmd: ["httpd", "-f", "-h", "/www"]
        env: {A: "1"}
        expose: ["80", "53/udp"]
        workdir: /www
        stopsignal: term
  app:
    build:
      context: ./app
      args: [V=1]
services:
  web:
    image: httpd-box
`})
	st := mustLoad(t, dir, LoadOptions{})
	pause := false
	want := &Image{Name: "httpd-box", Pos: Pos{File: filepath.Join(dir, "compose.yaml"), Line: 3, Col: 3}, Commit: &Commit{
		From: "busybox:latest", Run: []string{"mkdir -p /www", "echo hi > /www/index.html"}, Author: "ops@example.com", Message: "serve /www", Pause: &pause,
		Changes: ImageChanges{Cmd: []string{"httpd", "-f", "-h", "/www"}, Env: map[string]string{"A": "1"}, Expose: []string{"53/udp", "80"}, WorkingDir: "/www", StopSignal: "SIGTERM"},
	}}
	if diff := cmp.Diff(want, st.Images["httpd-box"]); diff != "" {
		t.Errorf("image (-want +got):\n%s", diff)
	}
	if b := st.Images["app"].Build; b.Context != filepath.Join(dir, "app") || b.Args["V"] != "1" {
		t.Errorf("build image = %+v", b)
	}
}

func TestVersionWarningAndLoose(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
version: "3.8"
services:
  web:
    image: x
    links: [db]
  db:
    image: y
`})
	_, err := load(t, dir, LoadOptions{})
	if got := errorsOf(t, dir, err); len(got) != 1 || got[0] != "compose.yaml:6:5: services.web.links: not supported by stack (legacy: use networks and aliases)" {
		t.Errorf("strict errors = %q", got)
	}
	st := mustLoad(t, dir, LoadOptions{Loose: true})
	want := []string{
		"compose.yaml:2:1: warning: version: the version key is obsolete and ignored",
		"compose.yaml:6:5: warning: services.web.links: not supported by stack (legacy: use networks and aliases): ignored (--loose)",
	}
	if diff := cmp.Diff(want, warningsText(dir, st)); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestDeterministic(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": benchFile(20, 4)})
	first := jsonOf(t, mustLoad(t, dir, LoadOptions{}))
	for i := 0; i < 5; i++ {
		if got := jsonOf(t, mustLoad(t, dir, LoadOptions{})); got != first {
			t.Fatal("two loads of one file give different JSON")
		}
	}
}

func TestConfigHash(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": `
services:
  web:
    image: nginx
    command: ["a"]
    cap_add: [NET_ADMIN, CHOWN]
`})
	st := mustLoad(t, dir, LoadOptions{})
	web := st.Services["web"]
	h := web.ConfigHash()
	if !strings.HasPrefix(h, HashVersion+":") || len(h) != len(HashVersion)+1+64 {
		t.Fatalf("hash = %q", h)
	}
	// Fields that never force a recreate do not change the hash.
	c := *web
	c.Scale = 3
	c.Profiles = []string{"x"}
	c.DependsOn = map[string]Dependency{"db": {Condition: "service_healthy", Required: true}}
	c.PullPolicy = "always"
	c.Pos = Pos{Line: 99}
	if c.ConfigHash() != h {
		t.Error("excluded fields changed the hash")
	}
	// The order of cap_add in the file does not matter.
	dir2 := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: nginx\n    command: [\"a\"]\n    cap_add: [CHOWN, NET_ADMIN]\n"})
	if mustLoad(t, dir2, LoadOptions{}).Services["web"].ConfigHash() != h {
		t.Error("cap_add order changed the hash")
	}
	c.Command = []string{"b"}
	if c.ConfigHash() == h {
		t.Error("command change did not change the hash")
	}
	snap, err := web.Snapshot()
	if err != nil || !strings.Contains(string(snap), `"command":["a"]`) {
		t.Errorf("snapshot = %s, %v", snap, err)
	}
}

func TestErrorsSortedAndComplete(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"a.yaml": "services:\n  web:\n    image: x\n    restart: maybe\n",
		"b.yaml": "services:\n  web:\n    ports: [\"99999:80\"]\n    bogus: 1\n",
	})
	_, err := load(t, dir, LoadOptions{}, "b.yaml", "a.yaml")
	got := errorsOf(t, dir, err)
	want := []string{
		`a.yaml:4:14: services.web.restart: "maybe" is not a valid restart policy (valid: no, always, on-failure, on-failure:N, unless-stopped)`,
		`b.yaml:3:13: services.web.ports[0]: port mapping "99999:80": host port 99999 is out of range; a port is a number from 1 to 65535`,
		`b.yaml:4:5: services.web.bogus: unknown key (docs/stack-file.md lists the valid keys)`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  []string
	}{
		{
			name:  "include missing file",
			files: map[string]string{"compose.yaml": "include: [nope.yaml]\nservices:\n  a:\n    image: x\n"},
			want:  []string{"compose.yaml:1:11: include[0]: included file nope.yaml: no such file or directory"},
		},
		{
			name:  "include bad entry",
			files: map[string]string{"compose.yaml": "include:\n  - pth: x.yaml\nservices:\n  a:\n    image: x\n"},
			want: []string{
				"compose.yaml:2:5: include[0]: path is required",
				`compose.yaml:2:5: include[0].pth: unknown key (did you mean "path"?)`,
			},
		},
		{
			name:  "extends missing service",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    extends: {service: basse}\n  base:\n    image: x\n"},
			want:  []string{`compose.yaml:3:24: services.a.extends.service: no service "basse" to extend`},
		},
		{
			name:  "extends missing file",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    extends: {service: b, file: other.yaml}\n"},
			want:  []string{"compose.yaml:3:33: services.a.extends.file: reading other.yaml: no such file or directory"},
		},
		{
			name: "extends cycle across files",
			files: map[string]string{
				"compose.yaml": "services:\n  a:\n    extends: {service: b, file: b.yaml}\n",
				"b.yaml":       "services:\n  b:\n    extends: {service: a, file: compose.yaml}\n",
			},
			want: []string{"compose.yaml:3:5: services.a.extends: extends cycle: a -> b -> a"},
		},
		{
			name:  "env_file missing",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    env_file: [a.env]\n"},
			want:  []string{"compose.yaml:4:16: services.a.env_file: env file a.env: no such file or directory"},
		},
		{
			name: "env_file syntax",
			files: map[string]string{
				"compose.yaml": "services:\n  a:\n    image: x\n    env_file: a.env\n",
				"a.env":        "OK=1\nBAD KEY=2\n",
			},
			want: []string{`compose.yaml:4:15: services.a.env_file: env file a.env: line 2: "BAD KEY" is not a valid variable name`},
		},
		{
			name:  "merge tags misused",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: !!binary aGVsbG8=\n"},
			want:  []string{"compose.yaml:3:12: services.a.image: binary values are not supported"},
		},
		{
			name:  "top level not a mapping",
			files: map[string]string{"compose.yaml": "- a\n- b\n"},
			want:  []string{"compose.yaml:1:1: a stack file must be a mapping (name, services, networks, ...), got a list"},
		},
		{
			name:  "duplicate static address",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    networks: {n: {ipv4_address: 10.0.0.5}}\n  b:\n    image: x\n    networks: {n: {ipv4_address: 10.0.0.5}}\nnetworks:\n  n:\n    ipam: {config: [{subnet: 10.0.0.0/24}]}\n"},
			want:  []string{`compose.yaml:7:34: services.b.networks.n.ipv4_address: 10.0.0.5 is already the address of service "a" on network "n"`},
		},
		{
			name:  "memory limits inconsistent",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    mem_limit: 64m\n    mem_reservation: 128m\n    memswap_limit: 32m\n"},
			want: []string{
				"compose.yaml:5:22: services.a.mem_reservation: 128m (134217728 bytes) is above the memory limit 64m (67108864 bytes)",
				"compose.yaml:6:20: services.a.memswap_limit: 32m (33554432 bytes) is below mem_limit 64m (67108864 bytes): memswap_limit is memory plus swap",
			},
		},
		{
			name:  "ports with a shared network namespace",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n  b:\n    image: x\n    network_mode: service:a\n    ports: [\"80:80\"]\n"},
			want:  []string{"compose.yaml:7:5: services.b.ports: ports cannot be published with network_mode: service:a: publish them on service a, whose network namespace this one shares"},
		},
		{
			name:  "publish all with host network",
			files: map[string]string{"compose.yaml": "services:\n  a:\n    image: x\n    network_mode: host\n    x-stack-publish-all: true\n"},
			want:  []string{"compose.yaml:5:5: services.a.x-stack-publish-all: cannot be used with network_mode: host"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, tc.files)
			_, err := load(t, dir, LoadOptions{})
			if diff := cmp.Diff(tc.want, errorsOf(t, dir, err)); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestComposeProjectNameVariable(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": "name: shop\nservices:\n  web:\n    image: x\n    container_name: ${COMPOSE_PROJECT_NAME}-web\n"})
	if got := mustLoad(t, dir, LoadOptions{}).Services["web"].ContainerName; got != "shop-web" {
		t.Errorf("container_name = %q", got)
	}
	if got := mustLoad(t, dir, LoadOptions{ProjectName: "other"}).Services["web"].ContainerName; got != "other-web" {
		t.Errorf("container_name with -p = %q", got)
	}
}

func TestDisabledServiceFilesNotRead(t *testing.T) {
	dir := writeFiles(t, map[string]string{"compose.yaml": "services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [dev]\n    env_file: debug.env\n    label_file: debug.labels\n"})
	st := mustLoad(t, dir, LoadOptions{})
	if len(st.Services) != 1 {
		t.Errorf("services = %v", sortedKeys(st.Services))
	}
	_, err := load(t, dir, LoadOptions{Profiles: []string{"dev"}})
	if got := errorsOf(t, dir, err); len(got) != 2 {
		t.Errorf("with the profile enabled: %q", got)
	}
}
