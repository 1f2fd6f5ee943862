package spec

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

var serviceSchema = newSchema(
	[]string{
		"image", "build", "pull_policy", "command", "entrypoint", "working_dir", "user",
		"environment", "env_file", "labels", "label_file", "annotations", "container_name",
		"hostname", "domainname", "init", "read_only", "tty", "stdin_open", "attach",
		"stop_signal", "stop_grace_period", "restart", "ports", "expose", "network_mode",
		"networks", "dns", "dns_search", "dns_opt", "extra_hosts", "depends_on", "healthcheck",
		"mem_limit", "mem_reservation", "memswap_limit", "cpus", "cpu_shares", "cpu_quota",
		"cpu_period", "cpuset", "pids_limit", "shm_size", "ulimits", "blkio_config", "deploy",
		"volumes", "tmpfs", "volumes_from", "cap_add", "cap_drop", "privileged", "security_opt",
		"sysctls", "devices", "group_add", "oom_score_adj", "ipc", "pid", "uts", "cgroup",
		"configs", "secrets", "logging", "scale", "profiles", "platform", "extends",
	},
	map[string]string{
		"credential_spec":     "Windows only",
		"isolation":           "Windows only",
		"cpu_count":           "Windows only",
		"cpu_percent":         "Windows only",
		"runtime":             "stack is its own runtime",
		"storage_opt":         "needs a storage driver with quotas",
		"links":               "legacy: use networks and aliases",
		"external_links":      "legacy: use external networks",
		"develop":             "watch mode",
		"post_start":          "lifecycle hooks",
		"pre_stop":            "lifecycle hooks",
		"provider":            "provider services",
		"models":              "AI models need docker model runner",
		"use_api_socket":      "there is no docker API socket",
		"gpus":                "GPU devices",
		"oom_kill_disable":    "",
		"mem_swappiness":      "",
		"cpu_rt_runtime":      "",
		"cpu_rt_period":       "",
		"device_cgroup_rules": "",
		"userns_mode":         "",
		"mac_address":         "set it per network: networks.NAME.mac_address",
		"cgroup_parent":       "stack places containers in its own cgroup tree",
		"volume_driver":       "only the local volume driver exists",
	},
	"x-stack-publish-all",
)

var buildSchema = newSchema(
	[]string{"context", "dockerfile", "dockerfile_inline", "args", "target", "labels", "tags", "network", "no_cache", "pull", "cache_from", "shm_size", "extra_hosts"},
	map[string]string{
		"isolation":           "Windows only",
		"platforms":           "multi-platform builds",
		"platform":            "cross-platform builds",
		"entitlements":        "",
		"ssh":                 "",
		"secrets":             "build secrets",
		"cache_to":            "",
		"additional_contexts": "",
		"privileged":          "",
		"ulimits":             "",
		"provenance":          "",
		"sbom":                "",
	},
)

var deploySchema = newSchema(
	[]string{"mode", "replicas", "resources", "restart_policy"},
	map[string]string{
		"placement":       "swarm only",
		"endpoint_mode":   "swarm only",
		"update_config":   "swarm only",
		"rollback_config": "swarm only",
		"labels":          "swarm service labels: use labels",
	},
)

var resourcesSchema = newSchema([]string{"limits", "reservations"}, nil)

var limitsSchema = newSchema([]string{"cpus", "memory", "pids"}, nil)

var reservationsSchema = newSchema([]string{"memory"}, map[string]string{
	"cpus":              "no local CPU reservation mechanism",
	"devices":           "device reservations (GPUs)",
	"generic_resources": "swarm only",
})

var restartPolicySchema = newSchema([]string{"condition", "max_attempts"}, map[string]string{
	"delay":  "restart delays",
	"window": "restart windows",
})

var healthcheckSchema = newSchema([]string{"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}, nil)

var serviceNetworkSchema = newSchema(
	[]string{"aliases", "ipv4_address", "ipv6_address", "mac_address", "interface_name", "priority", "gw_priority"},
	map[string]string{"link_local_ips": "", "driver_opts": "per-endpoint driver options"},
)

var dependsOnSchema = newSchema([]string{"condition", "restart", "required"}, nil)

var portSchema = newSchema([]string{"target", "published", "host_ip", "protocol", "mode", "name", "app_protocol"}, nil)

var mountSchema = newSchema([]string{"type", "source", "target", "read_only", "bind", "volume", "tmpfs", "consistency"}, nil)

var bindSchema = newSchema([]string{"propagation", "create_host_path", "selinux"}, nil)

var volumeOptSchema = newSchema([]string{"nocopy", "subpath"}, nil)

var tmpfsOptSchema = newSchema([]string{"size", "mode"}, nil)

var fileRefSchema = newSchema([]string{"source", "target", "uid", "gid", "mode"}, nil)

var loggingSchema = newSchema([]string{"driver", "options"}, nil)

var ulimitSchema = newSchema([]string{"soft", "hard"}, nil)

var blkioSchema = newSchema([]string{"weight", "weight_device", "device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops"}, nil)

var weightDeviceSchema = newSchema([]string{"path", "weight"}, nil)

var throttleSchema = newSchema([]string{"path", "rate"}, nil)

var envFileSchema = newSchema([]string{"path", "required", "format"}, nil)

var deviceSchema = newSchema([]string{"source", "target", "permissions"}, nil)

// svcInfo keeps the positions the cross-checks of a service need.
type svcInfo struct {
	key   *node
	node  *node // the service's mapping
	ports []*node
	// mounts[i] is the node of Service.Volumes[i].
	mounts []*node
	nets   map[string]*node // service network key nodes
	deps   map[string]*node // depends_on key nodes
	// deploy values with their nodes, checked against the legacy keys.
	dMem, dMemRes, dCPUs, dPids, dReplicas, dRestart *node
	dMemV, dMemResV, dPidsV                          int64
	dCPUsV                                           float64
	dReplicasV                                       int
	dRestartV                                        string
}

// val is the value of a key of the service (nil when absent).
func (i *svcInfo) val(key string) *node { return i.node.get(key) }

// keyOf is the key node of a key of the service (nil when absent).
func (i *svcInfo) keyOf(key string) *node {
	k, _ := i.node.getKey(key)
	return k
}

func (d *decoder) decodeService(k, v *node) *Service {
	name := k.value
	path := "services." + name
	s := &Service{Name: name, Pos: k.pos}
	info := &svcInfo{key: k, node: v}
	d.svc[name] = info
	if v.isNull() {
		d.errf(k, path, "needs image: or build:")
		return s
	}
	// env_file first: environment overrides it. The files of a service
	// disabled by its profiles are not read.
	_, disabled := d.l.disabled[name]
	if ef := v.get("env_file"); ef != nil && v.kind == mapNode && !disabled {
		s.Environment = d.envFiles(ef, path+".env_file")
	}
	d.object(v, path, serviceSchema, func(key string, kk, vv *node, p string) {
		d.serviceKey(s, info, key, kk, vv, p)
	})
	if v.kind == mapNode && v.get("image") == nil && v.get("build") == nil && v.get("extends") == nil {
		typo := false
		for _, kk := range v.keys {
			if suggest(kk.value, []string{"image", "build"}) != "" {
				typo = true
			}
		}
		if !typo {
			d.errf(k, path, "needs image: or build:")
		}
	}
	return s
}

func (d *decoder) serviceKey(s *Service, info *svcInfo, key string, k, v *node, p string) {
	r := &s.Resources
	switch key {
	case "image":
		var ok bool
		if s.Image, ok = d.str(v, p); !ok {
			return
		}
		if s.Image == "" {
			d.errf(v, p, "must not be empty")
		} else if strings.ContainsAny(s.Image, " \t\n") || s.Image != strings.TrimSpace(s.Image) {
			d.errf(v, p, "%q is not a valid image reference", s.Image)
		}
	case "build":
		s.Build = d.decodeBuild(v, p)
	case "pull_policy":
		s.PullPolicy, _ = d.str(v, p)
		switch s.PullPolicy {
		case "always", "never", "missing", "build", "daily", "weekly", "":
		case "if_not_present":
			s.PullPolicy = "missing"
		default:
			if after, ok := strings.CutPrefix(s.PullPolicy, "every_"); ok {
				if _, err := ParseDuration(after); err == nil {
					break
				}
			}
			d.errf(v, p, "%q is not a valid pull policy (valid: always, never, missing, build, daily, weekly, every_<duration>)", s.PullPolicy)
		}
	case "command":
		s.Command = d.command(v, p)
	case "entrypoint":
		s.Entrypoint = d.command(v, p)
	case "working_dir":
		s.WorkingDir, _ = d.str(v, p)
		if s.WorkingDir != "" && !strings.HasPrefix(s.WorkingDir, "/") {
			d.errf(v, p, "%q must be an absolute path", s.WorkingDir)
		}
	case "user":
		s.User, _ = d.str(v, p)
	case "environment":
		env := d.strMap(v, p, "=", func(name string, at *node) (string, bool) {
			return d.l.lookup(name)
		})
		if len(env) > 0 && s.Environment == nil {
			s.Environment = map[string]string{}
		}
		for name, val := range env {
			s.Environment[name] = val
		}
	case "env_file":
		// Read before the other keys (see decodeService).
	case "labels", "annotations":
		m := d.strMap(v, p, "=", nil)
		for _, lk := range sortedKeys(m) {
			if key == "labels" && strings.HasPrefix(lk, "com.docker.compose.") {
				d.errf(labelNode(v, lk), p+"."+lk, "labels under com.docker.compose. are reserved")
			}
		}
		if key == "labels" {
			if s.Labels == nil {
				s.Labels = m
			} else {
				for lk, lv := range m {
					s.Labels[lk] = lv
				}
			}
		} else {
			s.Annotations = m
		}
	case "label_file":
		if _, disabled := d.l.disabled[s.Name]; disabled {
			return
		}
		for i, f := range d.strList(v, p, true) {
			lf := d.l.resolvePath(f, v.dir)
			data, err := os.ReadFile(lf)
			if err != nil {
				d.errf(itemOrSelf(v, i), p, "reading label file: %v", err)
				continue
			}
			lines, err := parseDotenv(string(data), false, nil)
			if err != nil {
				d.errf(itemOrSelf(v, i), p, "label file %s: %v", f, err)
				continue
			}
			if s.Labels == nil {
				s.Labels = map[string]string{}
			}
			for _, e := range lines {
				if _, set := s.Labels[e.key]; !set {
					s.Labels[e.key] = e.value
				}
			}
		}
	case "container_name":
		s.ContainerName, _ = d.str(v, p)
		if msg := checkResourceName(s.ContainerName); msg != "" {
			d.errf(v, p, "invalid container name: %s", msg)
		}
	case "hostname":
		s.Hostname, _ = d.str(v, p)
		if !validHostname(s.Hostname) {
			d.errf(v, p, "%q is not a valid hostname (letters, digits, '-' and '.', at most 253 characters)", s.Hostname)
		}
	case "domainname":
		s.Domainname, _ = d.str(v, p)
		if !validHostname(s.Domainname) {
			d.errf(v, p, "%q is not a valid domain name", s.Domainname)
		}
	case "init":
		s.Init = d.boolean(v, p)
	case "read_only":
		s.ReadOnly = d.boolean(v, p)
	case "tty":
		s.Tty = d.boolean(v, p)
	case "stdin_open":
		s.StdinOpen = d.boolean(v, p)
	case "attach":
		b := d.boolean(v, p)
		s.Attach = &b
	case "stop_signal":
		sig, _ := d.str(v, p)
		s.StopSignal = d.signal(v, p, sig)
	case "stop_grace_period":
		sg, _ := d.duration(v, p)
		s.StopGracePeriod = Duration(sg)
	case "restart":
		rs, _ := d.str(v, p)
		s.Restart = d.restart(v, p, rs)
	case "ports":
		if v.kind != seqNode {
			if !v.isNull() {
				d.errf(v, p, "must be a list of port mappings, got %s", describe(v))
			}
			return
		}
		for i, it := range v.vals {
			if port, ok := d.port(it, fmt.Sprintf("%s[%d]", p, i)); ok {
				s.Ports = append(s.Ports, port)
				info.ports = append(info.ports, it)
			}
		}
	case "expose":
		list := d.strList(v, p, false)
		for i, e := range list {
			r, proto, err := ParseExpose(e)
			if err != nil {
				d.errf(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%v", err)
				continue
			}
			s.Expose = append(s.Expose, exposeString(r, proto))
		}
		s.Expose = uniqueSorted(s.Expose)
	case "network_mode":
		s.NetworkMode, _ = d.str(v, p)
		switch {
		case s.NetworkMode == "none", s.NetworkMode == "host", s.NetworkMode == "bridge":
		case strings.HasPrefix(s.NetworkMode, "service:") && len(s.NetworkMode) > len("service:"):
		case strings.HasPrefix(s.NetworkMode, "container:") && len(s.NetworkMode) > len("container:"):
		default:
			d.errf(v, p, "%q is not a valid network mode (valid: none, host, bridge, service:NAME, container:NAME)", s.NetworkMode)
			s.NetworkMode = ""
		}
	case "networks":
		d.serviceNetworks(s, info, v, p)
	case "dns":
		s.DNS = uniqueInOrder(d.strList(v, p, true))
		for i, a := range s.DNS {
			if _, err := netip.ParseAddr(a); err != nil {
				d.errf(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%q is not a valid IP address", a)
			}
		}
	case "dns_search":
		s.DNSSearch = uniqueInOrder(d.strList(v, p, true))
	case "dns_opt":
		s.DNSOpt = uniqueSorted(d.strList(v, p, true))
	case "extra_hosts":
		s.ExtraHosts = d.extraHosts(v, p)
	case "depends_on":
		d.dependsOn(s, info, v, p)
	case "healthcheck":
		s.Healthcheck = d.healthcheck(v, p)
	case "mem_limit":
		r.MemLimit, _ = d.size(v, p)
	case "mem_reservation":
		r.MemReservation, _ = d.size(v, p)
	case "memswap_limit":
		if v.kind == scalarNode && v.value == "-1" {
			r.MemswapLimit = -1
		} else {
			r.MemswapLimit, _ = d.size(v, p)
		}
	case "cpus":
		if f, ok := d.float(v, p); ok {
			if f < 0 || f > 1024 {
				d.errf(v, p, "%v is out of range: must be between 0 and 1024 CPUs", f)
			}
			r.CPUs = f
		}
	case "cpu_shares":
		r.CPUShares, _ = d.intIn(v, p, 0, 262144)
	case "cpu_quota":
		if dur, ok := d.durationOrMicros(v, p); ok {
			r.CPUQuota = dur
		}
	case "cpu_period":
		if dur, ok := d.durationOrMicros(v, p); ok {
			if dur != 0 && (dur < 1000 || dur > 1000000) {
				d.errf(v, p, "%dus is out of range: must be between 1ms and 1s", dur)
			}
			r.CPUPeriod = dur
		}
	case "cpuset":
		cs, _ := d.str(v, p)
		if cs != "" {
			norm, err := ParseCpuset(cs)
			if err != nil {
				d.errf(v, p, "%v", err)
			}
			r.Cpuset = norm
		}
	case "pids_limit":
		r.PidsLimit, _ = d.intIn(v, p, -1, 1<<31)
	case "shm_size":
		r.ShmSize, _ = d.size(v, p)
	case "ulimits":
		r.Ulimits = d.ulimits(v, p)
	case "blkio_config":
		r.Blkio = d.blkio(v, p)
	case "deploy":
		d.deploy(info, v, p)
	case "volumes":
		d.mounts(s, info, v, p)
	case "tmpfs":
		for i, t := range d.strList(v, p, true) {
			if !strings.HasPrefix(t, "/") {
				d.errf(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%q must be an absolute path in the container", t)
				continue
			}
			s.Tmpfs = append(s.Tmpfs, t)
		}
		s.Tmpfs = uniqueInOrder(s.Tmpfs)
	case "volumes_from":
		s.VolumesFrom = d.strList(v, p, false)
		for i, vf := range s.VolumesFrom {
			src, mode, _ := strings.Cut(vf, ":")
			if src == "container" {
				rest := strings.TrimPrefix(vf, "container:")
				src, mode, _ = strings.Cut(rest, ":")
				src = "container:" + src
			}
			if mode != "" && mode != "ro" && mode != "rw" {
				d.errf(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%q: mode must be ro or rw", vf)
			}
		}
	case "cap_add", "cap_drop":
		var caps []string
		for i, c := range d.strList(v, p, false) {
			norm, ok := normalizeCap(c)
			if !ok {
				d.errf(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%q is not a capability%s", c, suggest(strings.TrimPrefix(strings.ToUpper(c), "CAP_"), capNames))
				continue
			}
			caps = append(caps, norm)
		}
		if key == "cap_add" {
			s.CapAdd = uniqueSorted(caps)
		} else {
			s.CapDrop = uniqueSorted(caps)
		}
	case "privileged":
		s.Privileged = d.boolean(v, p)
	case "security_opt":
		for i, o := range d.strList(v, p, false) {
			norm, ok := normalizeSecurityOpt(o)
			if !ok {
				d.unsupportedValue(itemOrSelf(v, i), fmt.Sprintf("%s[%d]", p, i), "%q is not supported by stack (valid: no-new-privileges[:true|false], seccomp=unconfined, seccomp=PROFILE.json, apparmor=unconfined, label=disable, systempaths=unconfined)", o)
				continue
			}
			s.SecurityOpt = append(s.SecurityOpt, norm)
		}
		s.SecurityOpt = uniqueSorted(s.SecurityOpt)
	case "sysctls":
		s.Sysctls = d.strMap(v, p, "=", nil)
		for _, name := range sortedKeys(s.Sysctls) {
			if !namespacedSysctl(name) {
				d.errf(labelNode(v, name), p+"."+name, "%q is not a namespaced sysctl (valid: net.*, kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*)", name)
			}
		}
	case "devices":
		s.Devices = d.devices(v, p)
	case "group_add":
		s.GroupAdd = uniqueSorted(d.strList(v, p, false))
	case "oom_score_adj":
		i, _ := d.intIn(v, p, -1000, 1000)
		s.OomScoreAdj = int(i)
	case "ipc":
		s.Ipc, _ = d.str(v, p)
		switch {
		case s.Ipc == "", s.Ipc == "shareable", s.Ipc == "private", s.Ipc == "host", s.Ipc == "none":
		case strings.HasPrefix(s.Ipc, "service:") && len(s.Ipc) > 8, strings.HasPrefix(s.Ipc, "container:") && len(s.Ipc) > 10:
		default:
			d.errf(v, p, "%q is not a valid ipc mode (valid: private, shareable, host, none, service:NAME, container:NAME)", s.Ipc)
		}
	case "pid":
		s.Pid, _ = d.str(v, p)
		switch {
		case s.Pid == "", s.Pid == "host":
		case strings.HasPrefix(s.Pid, "service:") && len(s.Pid) > 8, strings.HasPrefix(s.Pid, "container:") && len(s.Pid) > 10:
		default:
			d.errf(v, p, "%q is not a valid pid mode (valid: host, service:NAME, container:NAME)", s.Pid)
		}
	case "uts":
		s.Uts, _ = d.str(v, p)
		if s.Uts != "" && s.Uts != "host" {
			d.errf(v, p, "%q is not a valid uts mode (valid: host)", s.Uts)
		}
	case "cgroup":
		s.Cgroup, _ = d.str(v, p)
		if s.Cgroup != "" && s.Cgroup != "host" && s.Cgroup != "private" {
			d.errf(v, p, "%q is not a valid cgroup mode (valid: host, private)", s.Cgroup)
		}
	case "configs", "secrets":
		refs := d.fileRefs(key, v, p)
		if key == "configs" {
			s.Configs = refs
		} else {
			s.Secrets = refs
		}
	case "logging":
		s.Logging = d.logging(v, p)
	case "scale":
		i, _ := d.intIn(v, p, 0, 10000)
		s.Scale = int(i)
	case "profiles":
		s.Profiles = uniqueSorted(d.strList(v, p, false))
	case "platform":
		pl, _ := d.str(v, p)
		host := "linux/" + runtime.GOARCH
		if pl != "" && pl != "linux" && pl != host && !strings.HasPrefix(pl, host+"/") {
			d.unsupportedValue(v, p, "platform %q is not supported by stack: only the host's (%s)", pl, host)
		}
	case "extends":
		// Resolved before decoding; left here only when it was invalid.
	case "x-stack-publish-all":
		s.PublishAll = d.boolean(v, p)
	}
}

// labelNode finds the node of one key of a mapping (or the list item
// "key=..."), for positions.
func labelNode(v *node, key string) *node {
	switch v.kind {
	case mapNode:
		if k, _ := v.getKey(key); k != nil {
			return k
		}
	case seqNode:
		for _, it := range v.vals {
			if it.kind == scalarNode && (it.value == key || strings.HasPrefix(it.value, key+"=")) {
				return it
			}
		}
	}
	return v
}

func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' {
			continue
		}
		return false
	}
	return true
}

// durationOrMicros reads cpu_quota/cpu_period: microseconds as an integer, or a duration.
func (d *decoder) durationOrMicros(v *node, p string) (int64, bool) {
	if v.kind == scalarNode {
		if i, err := strconv.ParseInt(v.value, 10, 64); err == nil {
			if i < -1 {
				d.errf(v, p, "%d is out of range", i)
				return 0, false
			}
			return i, true
		}
	}
	dur, ok := d.duration(v, p)
	return dur.Microseconds(), ok
}

var signalNames = []string{"SIGABRT", "SIGALRM", "SIGBUS", "SIGCHLD", "SIGCONT", "SIGFPE", "SIGHUP", "SIGILL", "SIGINT", "SIGIO", "SIGKILL", "SIGPIPE", "SIGPROF", "SIGPWR", "SIGQUIT", "SIGSEGV", "SIGSTKFLT", "SIGSTOP", "SIGSYS", "SIGTERM", "SIGTRAP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGUSR1", "SIGUSR2", "SIGVTALRM", "SIGWINCH", "SIGXCPU", "SIGXFSZ"}

// signal normalizes a signal name ("term", "SIGTERM", "15", "SIGRTMIN+3").
func (d *decoder) signal(v *node, p, s string) string {
	if s == "" {
		return ""
	}
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			d.errf(v, p, "signal %d is out of range (1 to 64)", n)
		}
		return s
	}
	u := strings.ToUpper(s)
	if !strings.HasPrefix(u, "SIG") {
		u = "SIG" + u
	}
	for _, n := range signalNames {
		if n == u {
			return u
		}
	}
	if rest, ok := strings.CutPrefix(u, "SIGRTMIN"); ok {
		if rest == "" {
			return u
		}
		if n, err := strconv.Atoi(strings.TrimPrefix(rest, "+")); err == nil && n >= 0 && n <= 30 && rest[0] == '+' {
			return u
		}
	}
	d.errf(v, p, "%q is not a signal (e.g. SIGTERM, SIGINT, SIGQUIT, SIGUSR1, or a number)", s)
	return u
}

// restart checks a restart policy.
func (d *decoder) restart(v *node, p, s string) string {
	switch s {
	case "", "no", "always", "unless-stopped", "on-failure":
		return s
	}
	if n, ok := strings.CutPrefix(s, "on-failure:"); ok {
		if i, err := strconv.Atoi(n); err == nil && i >= 0 {
			return s
		}
	}
	d.errf(v, p, "%q is not a valid restart policy (valid: no, always, on-failure, on-failure:N, unless-stopped)", s)
	return ""
}

func (d *decoder) decodeBuild(v *node, p string) *Build {
	b := &Build{}
	if v.kind == scalarNode {
		if v.value == "" {
			d.errf(v, p, "must be a build context path")
			return b
		}
		b.Context = d.buildContext(v, p, v.value)
		return b
	}
	if v.kind != mapNode {
		d.errf(v, p, "must be a context path or a mapping, got %s", describe(v))
		return b
	}
	d.object(v, p, buildSchema, func(key string, _, bv *node, bp string) {
		switch key {
		case "context":
			s, _ := d.str(bv, bp)
			b.Context = d.buildContext(bv, bp, s)
		case "dockerfile":
			b.Dockerfile, _ = d.str(bv, bp)
		case "dockerfile_inline":
			b.DockerfileInline, _ = d.str(bv, bp)
		case "args":
			b.Args = d.strMap(bv, bp, "=", func(name string, _ *node) (string, bool) {
				return d.l.lookup(name)
			})
		case "target":
			b.Target, _ = d.str(bv, bp)
		case "labels":
			b.Labels = d.strMap(bv, bp, "=", nil)
		case "tags":
			b.Tags = uniqueSorted(d.strList(bv, bp, false))
		case "network":
			b.Network, _ = d.str(bv, bp)
			switch b.Network {
			case "", "default", "host", "none":
			default:
				d.unsupportedValue(bv, bp, "build network %q is not supported by stack (valid: default, host, none)", b.Network)
				b.Network = ""
			}
		case "no_cache":
			b.NoCache = d.boolean(bv, bp)
		case "pull":
			b.Pull = d.boolean(bv, bp)
		case "cache_from":
			b.CacheFrom = uniqueSorted(d.strList(bv, bp, false))
		case "shm_size":
			b.ShmSize, _ = d.size(bv, bp)
		case "extra_hosts":
			b.ExtraHosts = d.extraHosts(bv, bp)
		}
	})
	if b.Dockerfile != "" && b.DockerfileInline != "" {
		d.errf(v, p, "dockerfile and dockerfile_inline are exclusive: set one")
	}
	if b.Context == "" {
		b.Context = v.dir
		if b.Context == "" {
			b.Context = d.l.projectDir
		}
	}
	return b
}

// buildContext resolves a build context; remote contexts are rejected.
func (d *decoder) buildContext(v *node, p, s string) string {
	if s == "" {
		return ""
	}
	for _, pre := range []string{"http://", "https://", "git://", "git@", "github.com/"} {
		if strings.HasPrefix(s, pre) {
			d.unsupportedValue(v, p, "remote build context %q is not supported by stack: use a local directory", s)
			return s
		}
	}
	if strings.Contains(s, "://") {
		d.unsupportedValue(v, p, "build context %q is not supported by stack: use a local directory", s)
		return s
	}
	return d.l.resolvePath(s, v.dir)
}

// extraHosts reads extra_hosts as a list ("host:ip" or "host=ip") or a
// mapping (host: ip, or host: [ip, ...]); it returns "host:ip" items in file order.
func (d *decoder) extraHosts(v *node, p string) []string {
	var out []string
	add := func(at *node, ip string, host string, ip2 string) {
		_ = ip
		addr := strings.TrimSuffix(strings.TrimPrefix(ip2, "["), "]")
		if addr != "host-gateway" {
			if _, err := netip.ParseAddr(addr); err != nil {
				d.errf(at, p, "%q: %q is not an IP address or host-gateway", host, ip2)
				return
			}
		}
		if host == "" {
			d.errf(at, p, "empty host name")
			return
		}
		out = append(out, host+":"+addr)
	}
	switch v.kind {
	case nullNode:
		return nil
	case seqNode:
		for i, it := range v.vals {
			ip := fmt.Sprintf("%s[%d]", p, i)
			if it.kind != scalarNode {
				d.errf(it, ip, "must be \"HOST:IP\", got %s", describe(it))
				continue
			}
			host, addr, ok := strings.Cut(it.value, "=")
			if !ok {
				host, addr, ok = strings.Cut(it.value, ":")
			}
			if !ok {
				d.errf(it, ip, "%q must be \"HOST:IP\" or \"HOST=IP\"", it.value)
				continue
			}
			add(it, "", host, addr)
		}
	case mapNode:
		for i, k := range v.keys {
			val := v.vals[i]
			switch val.kind {
			case scalarNode:
				add(val, "", k.value, val.value)
			case seqNode:
				for _, a := range val.vals {
					if a.kind == scalarNode {
						add(a, "", k.value, a.value)
					}
				}
			default:
				d.errf(val, p+"."+k.value, "must be an IP address or a list of them, got %s", describe(val))
			}
		}
	default:
		d.errf(v, p, "must be a list of \"HOST:IP\" or a mapping, got %s", describe(v))
	}
	return uniqueInOrder(out)
}

// envFiles reads the service's env_file entries into an environment.
func (d *decoder) envFiles(v *node, p string) map[string]string {
	type ef struct {
		at       *node
		path     string
		required bool
		raw      bool
	}
	var files []ef
	addItem := func(it *node, ip string) {
		switch it.kind {
		case scalarNode:
			files = append(files, ef{at: it, path: it.value, required: true})
		case mapNode:
			e := ef{at: it, required: true}
			d.object(it, ip, envFileSchema, func(key string, _, fv *node, fp string) {
				switch key {
				case "path":
					e.path, _ = d.str(fv, fp)
				case "required":
					e.required = d.boolean(fv, fp)
				case "format":
					f, _ := d.str(fv, fp)
					switch f {
					case "", "compose":
					case "raw":
						e.raw = true
					default:
						d.errf(fv, fp, "%q is not a valid env file format (valid: raw)", f)
					}
				}
			})
			if e.path == "" {
				d.errf(it, ip+".path", "is required")
				return
			}
			files = append(files, e)
		default:
			d.errf(it, ip, "must be a path or {path, required, format}, got %s", describe(it))
		}
	}
	switch v.kind {
	case nullNode:
		return nil
	case scalarNode, mapNode:
		addItem(v, p)
	case seqNode:
		for i, it := range v.vals {
			addItem(it, fmt.Sprintf("%s[%d]", p, i))
		}
	}
	var env map[string]string
	for _, f := range files {
		abs := d.l.resolvePath(f.path, f.at.dir)
		data, err := os.ReadFile(abs)
		if err != nil {
			if !f.required && os.IsNotExist(err) {
				continue
			}
			d.errf(f.at, p, "env file %s: %v", f.path, unwrapPathErr(err))
			continue
		}
		var lookup func(string) (string, bool)
		if !f.raw {
			lookup = func(name string) (string, bool) {
				if v, ok := env[name]; ok {
					return v, true
				}
				return d.l.lookup(name)
			}
		}
		lines, err := parseDotenv(string(data), f.raw, lookup)
		if err != nil {
			d.errf(f.at, p, "env file %s: %v", f.path, err)
			continue
		}
		if env == nil {
			env = map[string]string{}
		}
		for _, e := range lines {
			if e.set {
				env[e.key] = e.value
			} else if val, ok := d.l.lookup(e.key); ok {
				env[e.key] = val
			}
		}
	}
	return env
}

func (d *decoder) port(it *node, p string) (Port, bool) {
	switch it.kind {
	case scalarNode:
		port, err := ParsePort(it.value)
		if err != nil {
			d.errf(it, p, "%v", err)
			return Port{}, false
		}
		return port, true
	case mapNode:
		port := Port{Protocol: "tcp"}
		ok := true
		d.object(it, p, portSchema, func(key string, _, v *node, pp string) {
			s, _ := d.str(v, pp)
			switch key {
			case "target":
				r, proto, err := ParseExpose(s)
				if err != nil || proto != "tcp" && strings.Contains(s, "/") {
					if err == nil {
						err = fmt.Errorf("%q: put the protocol in protocol:", s)
					}
					d.errf(v, pp, "%v", err)
					ok = false
					return
				}
				port.Target = r
			case "published":
				if s == "" || s == "0" {
					return
				}
				r, _, err := ParseExpose(s)
				if err != nil || strings.Contains(s, "/") {
					if err == nil {
						err = fmt.Errorf("%q: put the protocol in protocol:", s)
					}
					d.errf(v, pp, "%v", err)
					ok = false
					return
				}
				port.Published = r
			case "host_ip":
				a := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
				if a == "" {
					return
				}
				addr, err := netip.ParseAddr(a)
				if err != nil {
					d.errf(v, pp, "%q is not a valid IP address", s)
					ok = false
					return
				}
				port.HostIP = addr.String()
			case "protocol":
				switch strings.ToLower(s) {
				case "tcp", "udp":
					port.Protocol = strings.ToLower(s)
				case "":
				default:
					d.errf(v, pp, "protocol %q is not supported by stack (valid: tcp, udp)", s)
					ok = false
				}
			case "mode":
				switch s {
				case "host", "ingress", "":
					port.Mode = s
				default:
					d.errf(v, pp, "%q is not a valid port mode (valid: host, ingress)", s)
				}
			case "name":
				port.Name = s
			case "app_protocol":
				port.AppProtocol = s
			}
		})
		if port.Target.Start == 0 {
			if ok && it.get("target") == nil {
				d.errf(it, p+".target", "is required: the container port")
			}
			return Port{}, false
		}
		if port.Published.Start != 0 {
			tn := port.Target.End - port.Target.Start
			pn := port.Published.End - port.Published.Start
			if tn != pn && tn != 0 {
				d.errf(it, p, "published range %d-%d and target range %d-%d have different sizes", port.Published.Start, port.Published.End, port.Target.Start, port.Target.End)
				return Port{}, false
			}
		}
		return port, ok
	}
	d.errf(it, p, "must be a port mapping string or a mapping {target, published, host_ip, protocol}, got %s", describe(it))
	return Port{}, false
}

func (d *decoder) serviceNetworks(s *Service, info *svcInfo, v *node, p string) {
	info.nets = map[string]*node{}
	s.Networks = map[string]*ServiceNetwork{}
	switch v.kind {
	case nullNode:
		return
	case seqNode:
		for i, it := range v.vals {
			if it.kind != scalarNode || it.value == "" {
				d.errf(it, fmt.Sprintf("%s[%d]", p, i), "must be a network name, got %s", describe(it))
				continue
			}
			s.Networks[it.value] = &ServiceNetwork{}
			info.nets[it.value] = it
		}
	case mapNode:
		for i, k := range v.keys {
			if strings.HasPrefix(k.value, "x-") {
				continue
			}
			np := p + "." + k.value
			sn := &ServiceNetwork{}
			d.object(v.vals[i], np, serviceNetworkSchema, func(key string, _, nv *node, pp string) {
				switch key {
				case "aliases":
					sn.Aliases = uniqueSorted(d.strList(nv, pp, false))
				case "ipv4_address":
					a, _ := d.str(nv, pp)
					if addr, err := netip.ParseAddr(a); err != nil || !addr.Is4() {
						d.errf(nv, pp, "%q is not a valid IPv4 address", a)
					} else {
						sn.IPv4Address = addr.String()
					}
				case "ipv6_address":
					a, _ := d.str(nv, pp)
					if addr, err := netip.ParseAddr(a); err != nil || !addr.Is6() {
						d.errf(nv, pp, "%q is not a valid IPv6 address", a)
					} else {
						sn.IPv6Address = addr.String()
					}
				case "mac_address":
					sn.MacAddress, _ = d.str(nv, pp)
					if !validMAC(sn.MacAddress) {
						d.errf(nv, pp, "%q is not a valid MAC address (e.g. 02:42:ac:11:00:02)", sn.MacAddress)
					}
				case "interface_name":
					sn.InterfaceName, _ = d.str(nv, pp)
					if len(sn.InterfaceName) > 15 || sn.InterfaceName == "" {
						d.errf(nv, pp, "%q is not a valid interface name (1 to 15 characters)", sn.InterfaceName)
					}
				case "priority":
					i, _ := d.integer(nv, pp)
					sn.Priority = int(i)
				case "gw_priority":
					i, _ := d.integer(nv, pp)
					sn.GwPriority = int(i)
				}
			})
			s.Networks[k.value] = sn
			info.nets[k.value] = k
		}
	default:
		d.errf(v, p, "must be a list of network names or a mapping, got %s", describe(v))
	}
}

func validMAC(s string) bool {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return false
	}
	for _, x := range parts {
		if len(x) != 2 {
			return false
		}
		if _, err := strconv.ParseUint(x, 16, 8); err != nil {
			return false
		}
	}
	return true
}

func (d *decoder) dependsOn(s *Service, info *svcInfo, v *node, p string) {
	info.deps = map[string]*node{}
	s.DependsOn = map[string]Dependency{}
	switch v.kind {
	case nullNode:
	case seqNode:
		for i, it := range v.vals {
			if it.kind != scalarNode || it.value == "" {
				d.errf(it, fmt.Sprintf("%s[%d]", p, i), "must be a service name, got %s", describe(it))
				continue
			}
			s.DependsOn[it.value] = Dependency{Condition: "service_started", Required: true}
			info.deps[it.value] = it
		}
	case mapNode:
		for i, k := range v.keys {
			if strings.HasPrefix(k.value, "x-") {
				continue
			}
			dep := Dependency{Condition: "service_started", Required: true}
			dp := p + "." + k.value
			d.object(v.vals[i], dp, dependsOnSchema, func(key string, _, dv *node, pp string) {
				switch key {
				case "condition":
					c, _ := d.str(dv, pp)
					switch c {
					case "service_started", "service_healthy", "service_completed_successfully":
						dep.Condition = c
					default:
						d.errf(dv, pp, "%q is not a valid condition (valid: service_started, service_healthy, service_completed_successfully)", c)
					}
				case "restart":
					dep.Restart = d.boolean(dv, pp)
				case "required":
					dep.Required = d.boolean(dv, pp)
				}
			})
			s.DependsOn[k.value] = dep
			info.deps[k.value] = k
		}
	default:
		d.errf(v, p, "must be a list of service names or a mapping, got %s", describe(v))
	}
}

func (d *decoder) healthcheck(v *node, p string) *Healthcheck {
	h := &Healthcheck{}
	d.object(v, p, healthcheckSchema, func(key string, _, hv *node, hp string) {
		switch key {
		case "test":
			switch hv.kind {
			case scalarNode:
				if hv.value == "" {
					d.errf(hv, hp, "must not be empty")
					return
				}
				h.Test = []string{"CMD-SHELL", hv.value}
			case seqNode:
				t := d.strList(hv, hp, false)
				if len(t) == 0 {
					d.errf(hv, hp, "must not be empty: start it with CMD, CMD-SHELL or NONE")
					return
				}
				switch t[0] {
				case "NONE":
					if len(t) != 1 {
						d.errf(hv, hp, "NONE takes no arguments")
					}
				case "CMD", "CMD-SHELL":
					if len(t) < 2 {
						d.errf(hv, hp, "%s needs a command", t[0])
					}
					if t[0] == "CMD-SHELL" && len(t) > 2 {
						t = []string{"CMD-SHELL", strings.Join(t[1:], " ")}
					}
				default:
					d.errf(hv.vals[0], hp+"[0]", "%q: the test list must start with CMD, CMD-SHELL or NONE", t[0])
				}
				h.Test = t
			case nullNode:
			default:
				d.errf(hv, hp, "must be a string or a list, got %s", describe(hv))
			}
		case "interval":
			hd, _ := d.duration(hv, hp)
			h.Interval = Duration(hd)
		case "timeout":
			hd, _ := d.duration(hv, hp)
			h.Timeout = Duration(hd)
		case "start_period":
			hd, _ := d.duration(hv, hp)
			h.StartPeriod = Duration(hd)
		case "start_interval":
			hd, _ := d.duration(hv, hp)
			h.StartInterval = Duration(hd)
		case "retries":
			i, _ := d.intIn(hv, hp, 0, 1<<31)
			h.Retries = int(i)
		case "disable":
			h.Disable = d.boolean(hv, hp)
		}
	})
	if h.Disable && len(h.Test) > 0 && h.Test[0] != "NONE" {
		d.errf(v, p, "disable: true and a test contradict each other")
	}
	if h.Disable {
		h.Test = []string{"NONE"}
	} else if len(h.Test) == 1 && h.Test[0] == "NONE" {
		h.Disable = true
	}
	return h
}

var ulimitNames = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

func (d *decoder) ulimits(v *node, p string) map[string]Ulimit {
	if v.isNull() {
		return nil
	}
	if v.kind != mapNode {
		d.errf(v, p, "must be a mapping of limit names to a number or {soft, hard}, got %s", describe(v))
		return nil
	}
	out := map[string]Ulimit{}
	for i, k := range v.keys {
		if strings.HasPrefix(k.value, "x-") {
			continue
		}
		up := p + "." + k.value
		known := false
		for _, n := range ulimitNames {
			if n == k.value {
				known = true
			}
		}
		if !known {
			d.errf(k, up, "unknown ulimit%s", validList(k.value, ulimitNames))
			continue
		}
		val := v.vals[i]
		var u Ulimit
		switch val.kind {
		case scalarNode:
			n, ok := d.intIn(val, up, -1, 1<<62)
			if !ok {
				continue
			}
			u = Ulimit{Soft: n, Hard: n}
		case mapNode:
			var soft, hard *int64
			d.object(val, up, ulimitSchema, func(key string, _, lv *node, lp string) {
				n, ok := d.intIn(lv, lp, -1, 1<<62)
				if !ok {
					return
				}
				if key == "soft" {
					soft = &n
				} else {
					hard = &n
				}
			})
			if soft == nil || hard == nil {
				d.errf(val, up, "needs both soft and hard")
				continue
			}
			u = Ulimit{Soft: *soft, Hard: *hard}
			if u.Hard != -1 && (u.Soft == -1 || u.Soft > u.Hard) {
				d.errf(val, up, "soft limit %d is above the hard limit %d", u.Soft, u.Hard)
			}
		default:
			d.errf(val, up, "must be a number or {soft, hard}, got %s", describe(val))
			continue
		}
		out[k.value] = u
	}
	return out
}

func (d *decoder) blkio(v *node, p string) *Blkio {
	b := &Blkio{}
	d.object(v, p, blkioSchema, func(key string, _, bv *node, bp string) {
		switch key {
		case "weight":
			w, _ := d.intIn(bv, bp, 10, 1000)
			b.Weight = uint16(w)
		case "weight_device":
			d.list(bv, bp, func(it *node, ip string) {
				var wd WeightDevice
				d.object(it, ip, weightDeviceSchema, func(key string, _, wv *node, wp string) {
					if key == "path" {
						wd.Path = d.devicePath(wv, wp)
					} else {
						w, _ := d.intIn(wv, wp, 10, 1000)
						wd.Weight = uint16(w)
					}
				})
				if wd.Path == "" {
					d.errf(it, ip+".path", "is required")
				}
				b.WeightDevice = append(b.WeightDevice, wd)
			})
		case "device_read_bps", "device_write_bps", "device_read_iops", "device_write_iops":
			var list []ThrottleDevice
			d.list(bv, bp, func(it *node, ip string) {
				var td ThrottleDevice
				d.object(it, ip, throttleSchema, func(key string, _, tv *node, tp string) {
					if key == "path" {
						td.Path = d.devicePath(tv, tp)
						return
					}
					if strings.HasSuffix(bp, "_bps") {
						n, _ := d.size(tv, tp)
						td.Rate = uint64(max(n, 0))
					} else {
						n, _ := d.intIn(tv, tp, 0, 1<<62)
						td.Rate = uint64(n)
					}
				})
				if td.Path == "" {
					d.errf(it, ip+".path", "is required")
				}
				list = append(list, td)
			})
			switch key {
			case "device_read_bps":
				b.DeviceReadBps = list
			case "device_write_bps":
				b.DeviceWriteBps = list
			case "device_read_iops":
				b.DeviceReadIOps = list
			case "device_write_iops":
				b.DeviceWriteIOps = list
			}
		}
	})
	return b
}

func (d *decoder) devicePath(v *node, p string) string {
	s, _ := d.str(v, p)
	if !strings.HasPrefix(s, "/") {
		d.errf(v, p, "%q must be an absolute device path such as /dev/sda", s)
	}
	return s
}

// list calls fn for each item of a list (a null is empty).
func (d *decoder) list(v *node, p string, fn func(it *node, ip string)) {
	if v.isNull() {
		return
	}
	if v.kind != seqNode {
		d.errf(v, p, "must be a list, got %s", describe(v))
		return
	}
	for i, it := range v.vals {
		if !it.invalid {
			fn(it, fmt.Sprintf("%s[%d]", p, i))
		}
	}
}

func (d *decoder) deploy(info *svcInfo, v *node, p string) {
	d.object(v, p, deploySchema, func(key string, _, dv *node, dp string) {
		switch key {
		case "mode":
			m, _ := d.str(dv, dp)
			switch m {
			case "", "replicated":
			case "global", "replicated-job", "global-job":
				d.unsupportedValue(dv, dp, "deploy mode %q is not supported by stack (valid: replicated)", m)
			default:
				d.errf(dv, dp, "%q is not a valid deploy mode (valid: replicated)", m)
			}
		case "replicas":
			n, ok := d.intIn(dv, dp, 0, 10000)
			if ok {
				info.dReplicas, info.dReplicasV = dv, int(n)
			}
		case "resources":
			d.object(dv, dp, resourcesSchema, func(key string, _, rv *node, rp string) {
				if key == "limits" {
					d.object(rv, rp, limitsSchema, func(key string, _, lv *node, lp string) {
						switch key {
						case "cpus":
							if f, ok := d.float(lv, lp); ok {
								info.dCPUs, info.dCPUsV = lv, f
							}
						case "memory":
							if n, ok := d.size(lv, lp); ok {
								info.dMem, info.dMemV = lv, n
							}
						case "pids":
							if n, ok := d.intIn(lv, lp, -1, 1<<31); ok {
								info.dPids, info.dPidsV = lv, n
							}
						}
					})
					return
				}
				d.object(rv, rp, reservationsSchema, func(key string, _, lv *node, lp string) {
					if n, ok := d.size(lv, lp); ok {
						info.dMemRes, info.dMemResV = lv, n
					}
				})
			})
		case "restart_policy":
			cond, attempts := "any", ""
			d.object(dv, dp, restartPolicySchema, func(key string, _, rv *node, rp string) {
				switch key {
				case "condition":
					c, _ := d.str(rv, rp)
					switch c {
					case "none", "on-failure", "any":
						cond = c
					default:
						d.errf(rv, rp, "%q is not a valid condition (valid: none, on-failure, any)", c)
					}
				case "max_attempts":
					if n, ok := d.intIn(rv, rp, 0, 1<<31); ok {
						attempts = strconv.FormatInt(n, 10)
					}
				}
			})
			switch cond {
			case "none":
				info.dRestartV = "no"
			case "any":
				info.dRestartV = "always"
			case "on-failure":
				info.dRestartV = "on-failure"
				if attempts != "" && attempts != "0" {
					info.dRestartV += ":" + attempts
				}
			}
			info.dRestart = dv
		}
	})
}

var mountTypes = []string{"bind", "volume", "tmpfs"}

// mounts reads a service's volumes, short and long forms.
func (d *decoder) mounts(s *Service, info *svcInfo, v *node, p string) {
	targets := map[string]int{}
	d.list(v, p, func(it *node, ip string) {
		var m Mount
		var ok bool
		switch it.kind {
		case scalarNode:
			m, ok = d.shortMount(it, ip)
		case mapNode:
			m, ok = d.longMount(it, ip)
		default:
			d.errf(it, ip, "must be \"SOURCE:TARGET[:MODE]\" or a mapping {type, source, target}, got %s", describe(it))
		}
		if !ok {
			return
		}
		if i, dup := targets[m.Target]; dup {
			d.errf(it, ip, "target %s is already mounted by the item on line %d", m.Target, info.mounts[i].pos.Line)
			return
		}
		targets[m.Target] = len(s.Volumes)
		s.Volumes = append(s.Volumes, m)
		info.mounts = append(info.mounts, it)
	})
}

func isPathSource(src string) bool {
	return strings.HasPrefix(src, "/") || strings.HasPrefix(src, ".") || src == "~" || strings.HasPrefix(src, "~/")
}

func (d *decoder) shortMount(it *node, p string) (Mount, bool) {
	parts := strings.Split(it.value, ":")
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		if strings.HasPrefix(parts[1], "/") {
			src, dst = parts[0], parts[1]
		} else {
			dst, opts = parts[0], parts[1]
		}
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
	default:
		d.errf(it, p, "%q must be \"TARGET\", \"SOURCE:TARGET\" or \"SOURCE:TARGET:MODE\"", it.value)
		return Mount{}, false
	}
	if !strings.HasPrefix(dst, "/") {
		d.errf(it, p, "%q: the target %q must be an absolute path in the container", it.value, dst)
		return Mount{}, false
	}
	m := Mount{Type: "volume", Target: cleanTarget(dst)}
	switch {
	case src == "":
	case isPathSource(src):
		m.Type = "bind"
		m.Source = d.l.resolvePath(src, it.dir)
		m.CreateHostPath = true
	default:
		if msg := checkResourceName(src); msg != "" {
			if strings.Contains(src, "/") {
				d.errf(it, p, "%q: a relative host path must start with ./ or ../ (%q is neither an absolute path nor a volume name)", it.value, src)
			} else {
				d.errf(it, p, "%q: invalid volume name: %s", it.value, msg)
			}
			return Mount{}, false
		}
		m.Source = src
	}
	if opts != "" {
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "ro":
				m.ReadOnly = true
			case "rw":
				m.ReadOnly = false
			case "z", "Z":
				m.SELinux = o
			case "nocopy":
				if m.Type != "volume" {
					d.errf(it, p, "%q: nocopy applies to volumes only", it.value)
				}
				m.NoCopy = true
			case "shared", "rshared", "slave", "rslave", "private", "rprivate":
				if m.Type != "bind" {
					d.errf(it, p, "%q: propagation %s applies to bind mounts only", it.value, o)
				}
				m.Propagation = o
			case "consistent", "cached", "delegated":
				// No effect on Linux (docker ignores them too).
			default:
				d.errf(it, p, "%q: unknown mount option %q (valid: ro, rw, z, Z, nocopy, shared, rshared, slave, rslave, private, rprivate)", it.value, o)
			}
		}
	}
	return m, true
}

func cleanTarget(t string) string {
	c := filepath.Clean(t)
	return filepath.ToSlash(c)
}

func (d *decoder) longMount(it *node, p string) (Mount, bool) {
	m := Mount{}
	ok := true
	var bindN, volN, tmpfsN *node
	d.object(it, p, mountSchema, func(key string, k, v *node, mp string) {
		switch key {
		case "type":
			t, _ := d.str(v, mp)
			switch t {
			case "bind", "volume", "tmpfs":
				m.Type = t
			case "npipe", "cluster", "image":
				d.unsupportedValue(v, mp, "mount type %q is not supported by stack (valid: bind, volume, tmpfs)", t)
				ok = false
			default:
				d.errf(v, mp, "%q is not a valid mount type (valid: bind, volume, tmpfs)", t)
				ok = false
			}
		case "source":
			m.Source, _ = d.str(v, mp)
		case "target":
			m.Target, _ = d.str(v, mp)
		case "read_only":
			m.ReadOnly = d.boolean(v, mp)
		case "consistency":
			d.warnf(k, mp, "has no effect on Linux: ignored")
		case "bind":
			bindN = v
		case "volume":
			volN = v
		case "tmpfs":
			tmpfsN = v
		}
	})
	if !ok {
		return m, false
	}
	if m.Type == "" {
		if it.get("type") == nil {
			d.errf(it, p+".type", "is required (valid: bind, volume, tmpfs)")
		}
		return m, false
	}
	if !strings.HasPrefix(m.Target, "/") {
		d.errf(it, p+".target", "%q must be an absolute path in the container", m.Target)
		return m, false
	}
	m.Target = cleanTarget(m.Target)
	wrong := func(n *node, name string) {
		if n != nil {
			d.errf(n, p+"."+name, "applies to type %s only, not %s", name, m.Type)
			ok = false
		}
	}
	switch m.Type {
	case "bind":
		wrong(volN, "volume")
		wrong(tmpfsN, "tmpfs")
		if m.Source == "" {
			d.errf(it, p+".source", "is required for a bind mount")
			return m, false
		}
		srcNode := it.get("source")
		m.Source = d.l.resolvePath(m.Source, srcNode.dir)
		m.CreateHostPath = true
		if bindN != nil {
			d.object(bindN, p+".bind", bindSchema, func(key string, _, v *node, bp string) {
				switch key {
				case "propagation":
					s, _ := d.str(v, bp)
					switch s {
					case "shared", "rshared", "slave", "rslave", "private", "rprivate":
						m.Propagation = s
					default:
						d.errf(v, bp, "%q is not a valid propagation (valid: private, rprivate, shared, rshared, slave, rslave)", s)
					}
				case "create_host_path":
					m.CreateHostPath = d.boolean(v, bp)
				case "selinux":
					s, _ := d.str(v, bp)
					if s != "z" && s != "Z" {
						d.errf(v, bp, "%q is not valid (valid: z, Z)", s)
					}
					m.SELinux = s
				}
			})
		}
	case "volume":
		wrong(bindN, "bind")
		wrong(tmpfsN, "tmpfs")
		if m.Source != "" {
			if msg := checkResourceName(m.Source); msg != "" {
				d.errf(it.get("source"), p+".source", "invalid volume name: %s", msg)
				return m, false
			}
		}
		if volN != nil {
			d.object(volN, p+".volume", volumeOptSchema, func(key string, _, v *node, vp string) {
				switch key {
				case "nocopy":
					m.NoCopy = d.boolean(v, vp)
				case "subpath":
					m.Subpath, _ = d.str(v, vp)
					if strings.HasPrefix(m.Subpath, "/") || strings.Contains("/"+m.Subpath+"/", "/../") {
						d.errf(v, vp, "%q must be a relative path inside the volume", m.Subpath)
					}
				}
			})
		}
	case "tmpfs":
		wrong(bindN, "bind")
		wrong(volN, "volume")
		if m.Source != "" {
			d.errf(it.get("source"), p+".source", "a tmpfs mount takes no source")
		}
		if tmpfsN != nil {
			d.object(tmpfsN, p+".tmpfs", tmpfsOptSchema, func(key string, _, v *node, tp string) {
				switch key {
				case "size":
					m.TmpfsSize, _ = d.size(v, tp)
				case "mode":
					m.TmpfsMode, _ = d.mode(v, tp)
				}
			})
		}
	}
	return m, ok
}

func (d *decoder) devices(v *node, p string) []Device {
	var out []Device
	d.list(v, p, func(it *node, ip string) {
		var dev Device
		switch it.kind {
		case scalarNode:
			parts := strings.Split(it.value, ":")
			if len(parts) > 3 {
				d.errf(it, ip, "%q must be \"HOST[:CONTAINER[:PERMISSIONS]]\"", it.value)
				return
			}
			dev.Source = parts[0]
			dev.Target = parts[0]
			if len(parts) > 1 {
				if len(parts) == 2 && !strings.HasPrefix(parts[1], "/") {
					dev.Permissions = parts[1]
				} else {
					dev.Target = parts[1]
				}
			}
			if len(parts) == 3 {
				dev.Permissions = parts[2]
			}
		case mapNode:
			d.object(it, ip, deviceSchema, func(key string, _, dv *node, dp string) {
				s, _ := d.str(dv, dp)
				switch key {
				case "source":
					dev.Source = s
				case "target":
					dev.Target = s
				case "permissions":
					dev.Permissions = s
				}
			})
			if dev.Target == "" {
				dev.Target = dev.Source
			}
		default:
			d.errf(it, ip, "must be \"HOST[:CONTAINER[:PERMISSIONS]]\", got %s", describe(it))
			return
		}
		if !strings.HasPrefix(dev.Source, "/") || !strings.HasPrefix(dev.Target, "/") {
			d.errf(it, ip, "device paths must be absolute (e.g. /dev/ttyUSB0:/dev/ttyUSB0:rwm)")
			return
		}
		if dev.Permissions == "" {
			dev.Permissions = "rwm"
		}
		for _, c := range dev.Permissions {
			if c != 'r' && c != 'w' && c != 'm' {
				d.errf(it, ip, "permissions %q must be made of r, w and m", dev.Permissions)
				return
			}
		}
		out = append(out, dev)
	})
	return out
}

func (d *decoder) fileRefs(kind string, v *node, p string) []FileRef {
	var out []FileRef
	d.list(v, p, func(it *node, ip string) {
		var r FileRef
		switch it.kind {
		case scalarNode:
			r.Source = it.value
		case mapNode:
			d.object(it, ip, fileRefSchema, func(key string, _, fv *node, fp string) {
				switch key {
				case "source":
					r.Source, _ = d.str(fv, fp)
				case "target":
					r.Target, _ = d.str(fv, fp)
				case "uid":
					r.UID, _ = d.str(fv, fp)
				case "gid":
					r.GID, _ = d.str(fv, fp)
				case "mode":
					if m, ok := d.mode(fv, fp); ok {
						r.Mode = &m
					}
				}
			})
		default:
			d.errf(it, ip, "must be a name or a mapping {source, target, uid, gid, mode}, got %s", describe(it))
			return
		}
		if r.Source == "" {
			d.errf(it, ip+".source", "is required")
			return
		}
		if r.Target == "" {
			r.Target = r.Source
		}
		if !strings.HasPrefix(r.Target, "/") {
			if kind == "secrets" {
				r.Target = "/run/secrets/" + r.Target
			} else {
				r.Target = "/" + r.Target
			}
		}
		out = append(out, r)
	})
	return out
}

func (d *decoder) logging(v *node, p string) *Logging {
	lg := &Logging{}
	d.object(v, p, loggingSchema, func(key string, _, lv *node, lp string) {
		switch key {
		case "driver":
			lg.Driver, _ = d.str(lv, lp)
			switch lg.Driver {
			case "", "json-file", "local", "none":
			default:
				d.unsupportedValue(lv, lp, "log driver %q is not supported by stack (valid: json-file, local, none)", lg.Driver)
				lg.Driver = ""
			}
		case "options":
			lg.Options = d.strMap(lv, lp, "=", nil)
			for _, k := range sortedKeys(lg.Options) {
				switch k {
				case "max-size":
					if _, err := ParseBytes(lg.Options[k]); err != nil {
						d.errf(labelNode(lv, k), lp+"."+k, "%v", err)
					}
				case "max-file":
					if n, err := strconv.Atoi(lg.Options[k]); err != nil || n < 1 {
						d.errf(labelNode(lv, k), lp+"."+k, "%q must be a positive integer", lg.Options[k])
					}
				case "compress":
				default:
					d.unsupportedValue(labelNode(lv, k), lp+"."+k, "log option %q is not supported by stack (valid: max-size, max-file, compress)", k)
				}
			}
		}
	})
	return lg
}

var capNames = []string{"AUDIT_CONTROL", "AUDIT_READ", "AUDIT_WRITE", "BLOCK_SUSPEND", "BPF", "CHECKPOINT_RESTORE", "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "IPC_LOCK", "IPC_OWNER", "KILL", "LEASE", "LINUX_IMMUTABLE", "MAC_ADMIN", "MAC_OVERRIDE", "MKNOD", "NET_ADMIN", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_RAW", "PERFMON", "SETFCAP", "SETGID", "SETPCAP", "SETUID", "SYSLOG", "SYS_ADMIN", "SYS_BOOT", "SYS_CHROOT", "SYS_MODULE", "SYS_NICE", "SYS_PACCT", "SYS_PTRACE", "SYS_RAWIO", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "WAKE_ALARM"}

// normalizeCap returns "ALL" or "CAP_X" for a capability name.
func normalizeCap(c string) (string, bool) {
	u := strings.ToUpper(strings.TrimSpace(c))
	if u == "ALL" {
		return u, true
	}
	u = strings.TrimPrefix(u, "CAP_")
	for _, n := range capNames {
		if n == u {
			return "CAP_" + u, true
		}
	}
	return "", false
}

// normalizeSecurityOpt accepts the subset of security_opt stack implements.
func normalizeSecurityOpt(o string) (string, bool) {
	o = strings.TrimSpace(o)
	switch o {
	case "no-new-privileges", "no-new-privileges:true", "no-new-privileges=true":
		return "no-new-privileges:true", true
	case "no-new-privileges:false", "no-new-privileges=false":
		return "no-new-privileges:false", true
	case "seccomp=unconfined", "seccomp:unconfined":
		return "seccomp=unconfined", true
	case "apparmor=unconfined", "apparmor:unconfined":
		return "apparmor=unconfined", true
	case "label=disable", "label:disable":
		return "label=disable", true
	case "systempaths=unconfined":
		return o, true
	}
	if f, ok := strings.CutPrefix(o, "seccomp="); ok && strings.HasSuffix(f, ".json") {
		return o, true
	}
	return "", false
}

// namespacedSysctl reports whether a sysctl is per-namespace (settable in a container).
func namespacedSysctl(name string) bool {
	switch name {
	case "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem", "kernel.shmall", "kernel.shmmax", "kernel.shmmni", "kernel.shm_rmid_forced":
		return true
	}
	return strings.HasPrefix(name, "net.") || strings.HasPrefix(name, "fs.mqueue.")
}
