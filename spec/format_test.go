package spec

import (
	"os"
	"path/filepath"
	"testing"
)

// TestFormatRoundTrip checks that FormatYAML's output is a stack file that
// loads to the same Stack, for the examples, the loadable files of the
// compat corpus and a file using most fields.
func TestFormatRoundTrip(t *testing.T) {
	files, _ := filepath.Glob("../examples/*/compose.yaml")
	compat, _ := filepath.Glob(filepath.Join(compatDir, "*.yaml"))
	files = append(files, compat...)
	dir := writeFiles(t, map[string]string{"compose.yaml": `
name: everything
x-stack-images:
  box:
    commit:
      from: busybox
      run: ["echo $$HOME > /x"]
      pause: false
      changes: {cmd: [], env: {A: "$$B"}, expose: ["80"], stopsignal: SIGINT}
services:
  web:
    image: box
    command: []
    entrypoint: ["/bin/sh", "-c", "echo $$PATH"]
    environment: {COST: "$$5"}
    attach: false
    stop_grace_period: 1m30s
    ports: ["[::1]::80", "127.0.0.1:8000-8001:80-81/udp", {target: 90, name: admin, mode: host}]
    networks:
      front: {ipv4_address: 10.5.0.9, aliases: [w]}
    extra_hosts: ["v6:::1"]
    healthcheck: {test: ["NONE"]}
    memswap_limit: -1
    mem_limit: 1g
    cpus: 0.25
    pids_limit: -1
    ulimits: {nofile: 1000}
    blkio_config: {weight: 100, device_write_iops: [{path: /dev/vda, rate: 100}]}
    volumes:
      - type: tmpfs
        target: /t
        tmpfs: {size: 1m, mode: 0700}
      - data:/data:nocopy
      - /src:/src:rslave,Z
      - type: bind
        source: /opt
        target: /opt
        bind: {create_host_path: false}
    devices: ["/dev/null:/dev/n:r"]
    configs: [{source: c, target: /c, mode: 0400}]
    secrets: [s]
    logging: {driver: local, options: {max-size: 1m}}
    x-stack-publish-all: true
    depends_on:
      db: {condition: service_healthy, required: false, restart: true}
  db:
    image: db
    profiles: [p]
    deploy: {replicas: 2, restart_policy: {condition: on-failure, max_attempts: 2}}
networks:
  front:
    driver_opts: {com.docker.network.driver.mtu: "1400"}
    ipam: {config: [{subnet: 10.5.0.0/16, gateway: 10.5.0.1, aux_addresses: {x: 10.5.0.2}}]}
  ext: {external: true, name: outside}
volumes:
  data: {driver: local, labels: {a: b}}
configs:
  c: {content: "x=$$y"}
secrets:
  s: {environment: SECRET}
`})
	files = append(files, filepath.Join(dir, "compose.yaml"))
	env := map[string]string{"HOME": "/home/user", "SECRET": "s3"}
	n := 0
	for _, f := range files {
		opts := LoadOptions{Files: []string{f}, Env: env, Profiles: []string{"*"}}
		st, err := Load(opts)
		if err != nil {
			if filepath.Dir(f) == dir {
				t.Fatalf("the test file does not load: %v", err)
			}
			continue
		}
		n++
		out, err := FormatYAML(st)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		again := filepath.Join(t.TempDir(), "stack.yaml")
		if err := os.WriteFile(again, out, 0o644); err != nil {
			t.Fatal(err)
		}
		st2, err := Load(LoadOptions{Files: []string{again}, Env: env, Profiles: []string{"*"}})
		if err != nil {
			t.Errorf("%s: the formatted file does not load: %v\n%s", f, err, out)
			continue
		}
		if a, b := jsonOf(t, st), jsonOf(t, st2); a != b {
			t.Errorf("%s: round trip changes the stack:\n%s\n%s\n%s", filepath.Base(f), a, b, out)
		}
		out2, _ := FormatYAML(st2)
		if string(out2) != string(out) {
			t.Errorf("%s: formatting is not stable", filepath.Base(f))
		}
	}
	if n < 10 {
		t.Errorf("only %d files round-tripped", n)
	}
}
