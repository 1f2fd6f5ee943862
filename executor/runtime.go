package executor

// Containers outside of a project: `stack run`, `stack exec`, `stack rm`.
// This file translates docker's run options and an image config into the
// runtime's own types (container.Config, cgroups.Resources). It is pure:
// the kernel work is in runtime_linux.go.

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/spec"
)

// ErrContainerNotFound is returned when no container has the given name or ID.
var ErrContainerNotFound = errors.New("no such container")

// ErrNameInUse is returned when a container name is taken.
var ErrNameInUse = errors.New("container name already in use")

// RunOptions is one container request in docker's terms (`stack run` flags).
type RunOptions struct {
	ID         string // set by SpawnInit; empty: a new one
	Image      string
	Name       string
	Command    []string // replaces the image's Cmd when not empty
	Entrypoint *string  // replaces the image's Entrypoint (and drops its Cmd); "" clears it
	// EntrypointList is compose's list form: nil keeps the image's, an
	// empty list clears it; either way set, it drops the image's Cmd.
	EntrypointList []string
	// CommandSet makes an empty Command clear the image's Cmd (compose `command: []`).
	CommandSet bool
	Env        []string // KEY=value, or KEY to take the value from the caller's environment
	EnvFiles   []string
	Workdir    string
	User       string
	GroupAdd   []string
	Hostname   string
	Domainname string
	Labels     []string // key=value

	Interactive bool // -i: keep stdin open
	TTY         bool // -t
	Remove      bool // --rm

	Network string // "none", "host", or "" (the default network)
	// Net is the rest of the network request (ports, DNS, hosts, aliases,
	// further networks): see runtime_net.go.
	Net         NetOptions
	Volumes     []string
	Tmpfs       []string
	ReadOnly    bool
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string
	ShmSize     string
	Ulimits     []string
	StopSignal  string
	// Restart is docker's --restart: no, always, unless-stopped,
	// on-failure[:N]. It applies to detached containers (their supervisor
	// restarts them).
	Restart string
	// LogOpts are --log-opt values: max-size (10m), max-file (3).
	LogOpts map[string]string
	// Healthcheck overrides the image's HEALTHCHECK (nil: the image's).
	Healthcheck *HealthConfig

	Memory         string
	MemorySwap     string
	CPUs           string
	CPUShares      int64
	CPUQuota       int64
	CPUPeriod      int64
	CpusetCpus     string
	CpusetMems     string
	PidsLimit      int64 // 0: not set
	PidsLimitSet   bool  // --pids-limit given (0 and -1 mean unlimited)
	BlkioWeight    uint16
	DeviceReadBps  []string // PATH:RATE
	DeviceWriteBps []string
	// Devices are docker's --device HOST[:CONTAINER[:PERMS]].
	Devices []string
}

// Container is a container's record, <root>/containers/<id>/config.json:
// what it was made from and everything needed to start it again or to exec
// into it. It is written once, at creation; the changing part is
// container.State in state.json beside it.
type Container struct {
	ID         string            `json:"id"`
	Name       string            `json:"name"`
	Image      string            `json:"image"`    // as the user named it
	ImageID    string            `json:"image_id"` // sha256:... (read by the image store's rmi)
	Created    time.Time         `json:"created"`
	Labels     map[string]string `json:"labels,omitempty"`
	StopSignal string            `json:"stop_signal"`
	AutoRemove bool              `json:"auto_remove,omitempty"`
	OpenStdin  bool              `json:"open_stdin,omitempty"`
	Tty        bool              `json:"tty,omitempty"`
	Network    string            `json:"network"`
	// Net is the container's network setup as created (runtime_net.go).
	Net *NetRecord `json:"net,omitempty"`
	// Volumes are the named volumes the container uses; Anonymous ones
	// are removed with it when AutoRemove is set.
	Volumes   []string `json:"volumes,omitempty"`
	Anonymous []string `json:"anonymous_volumes,omitempty"`

	// Restart is the restart policy (docker's syntax, "" = no); LogOpts
	// the log rotation options; Healthcheck the check the supervisor runs
	// (nil: none).
	Restart     string            `json:"restart,omitempty"`
	LogOpts     map[string]string `json:"log_opts,omitempty"`
	Healthcheck *HealthConfig     `json:"healthcheck,omitempty"`

	// SeccompProfile is what was asked: "" (docker's default),
	// "unconfined", or a profile file; the compiled program is in Runtime.
	SeccompProfile string `json:"seccomp_profile,omitempty"`

	Runtime   container.Config  `json:"runtime"`
	Resources cgroups.Resources `json:"resources"`
}

// Dir returns the container's state directory.
func containerDir(root, id string) string { return filepath.Join(root, "containers", id) }

func newID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var nameAdjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "witty", "zealous", "bold", "clever"}
var nameNouns = []string{"turing", "hopper", "lovelace", "ritchie", "thompson", "knuth", "dijkstra", "hamilton", "liskov", "kernighan", "torvalds", "pike", "cerf", "shannon", "babbage", "noether", "curie", "darwin", "euler", "gauss"}

func randomName() string {
	var b [2]byte
	rand.Read(b[:])
	return nameAdjectives[int(b[0])%len(nameAdjectives)] + "_" + nameNouns[int(b[1])%len(nameNouns)]
}

func validName(n string) bool {
	if n == "" || len(n) > 128 {
		return false
	}
	for i, c := range n {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '.' || c == '-')
		if !ok {
			return false
		}
	}
	return true
}

// buildContainer translates opts and the image config into a record. It
// does no I/O besides reading --env-file files and the caller's
// environment (for -e KEY); paths under root are computed, not created.
func buildContainer(root, id string, opts *RunOptions, img *v1.ConfigFile, imageID string) (*Container, error) {
	ic := img.Config
	c := &Container{
		ID: id, Name: opts.Name, Image: opts.Image, ImageID: imageID,
		Created: time.Now().UTC(), AutoRemove: opts.Remove, OpenStdin: opts.Interactive, Tty: opts.TTY,
		Labels: map[string]string{},
	}
	for k, v := range ic.Labels {
		c.Labels[k] = v
	}
	for _, l := range opts.Labels {
		k, v, _ := strings.Cut(l, "=")
		c.Labels[k] = v
	}
	// Command: docker's rules. --entrypoint replaces the image's entrypoint
	// and drops its Cmd; arguments replace Cmd.
	entry := ic.Entrypoint
	cmd := ic.Cmd
	if opts.Entrypoint != nil {
		entry = nil
		if *opts.Entrypoint != "" {
			entry = []string{*opts.Entrypoint}
		}
		cmd = nil
	}
	if opts.EntrypointList != nil {
		entry, cmd = opts.EntrypointList, nil
	}
	if len(opts.Command) > 0 || opts.CommandSet {
		cmd = opts.Command
	}
	args := append(append([]string(nil), entry...), cmd...)
	if len(args) == 0 {
		return nil, &container.InitError{Msg: "no command specified", Code: 125}
	}

	if err := applyNetworkMode(c, opts, ic.ExposedPorts); err != nil {
		return nil, err
	}

	hostname := opts.Hostname
	if hostname == "" {
		if c.Network == "host" {
			hostname, _ = os.Hostname()
		} else {
			hostname = id[:12]
		}
	}
	env, err := mergeEnv(ic.Env, opts, hostname)
	if err != nil {
		return nil, err
	}
	user := opts.User
	if user == "" {
		user = ic.User
	}
	cwd := opts.Workdir
	if cwd == "" {
		cwd = ic.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	if !strings.HasPrefix(cwd, "/") {
		return nil, fmt.Errorf("the working directory %q is invalid: it needs to be an absolute path", cwd)
	}
	c.StopSignal = opts.StopSignal
	if c.StopSignal == "" {
		c.StopSignal = ic.StopSignal
	}
	if c.StopSignal == "" {
		c.StopSignal = "SIGTERM"
	}
	if _, err := ParseSignal(c.StopSignal); err != nil {
		return nil, err
	}

	if _, err := ParseRestartPolicy(opts.Restart); err != nil {
		return nil, err
	}
	if opts.Remove && opts.Restart != "" && opts.Restart != "no" {
		return nil, errors.New("conflicting options: cannot specify both --restart and --rm")
	}
	c.Restart = opts.Restart
	if _, err := parseLogOpts(opts.LogOpts); err != nil {
		return nil, err
	}
	c.LogOpts = opts.LogOpts
	if c.Healthcheck, err = mergeHealth(opts.Healthcheck, ic.Healthcheck); err != nil {
		return nil, err
	}

	sec, err := parseSecurityOpts(opts.SecurityOpt)
	if err != nil {
		return nil, err
	}
	caps := container.DefaultCapabilities
	if opts.Privileged {
		caps = container.AllCapabilities()
	}
	caps, err = container.AdjustCapabilities(caps, opts.CapAdd, opts.CapDrop)
	if err != nil {
		return nil, err
	}

	dir := containerDir(root, id)
	rc := container.Config{
		ID:             id,
		Hostname:       hostname,
		Domainname:     opts.Domainname,
		ReadonlyRootfs: opts.ReadOnly,
		Privileged:     opts.Privileged,
		Namespaces:     container.Namespaces{HostNetwork: c.Network == "host"},
		Process: container.Process{
			Args: args, Env: env, Cwd: cwd, User: user, AdditionalGroups: opts.GroupAdd,
			Terminal: opts.TTY, Capabilities: caps,
			NoNewPrivileges: !opts.Privileged,
		},
	}
	if sec.noNewPrivs != nil {
		rc.Process.NoNewPrivileges = *sec.noNewPrivs
	}
	if !opts.Privileged && !sec.systemPathsUnconfined {
		rc.MaskedPaths = container.DefaultMaskedPaths
		rc.ReadonlyPaths = container.DefaultReadonlyPaths
	}
	if opts.ShmSize != "" {
		n, err := spec.ParseBytes(opts.ShmSize)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("invalid --shm-size %q: %v", opts.ShmSize, err)
		}
		rc.ShmSize = n
	}
	for _, u := range opts.Ulimits {
		rl, err := parseUlimit(u)
		if err != nil {
			return nil, err
		}
		rc.Process.Rlimits = append(rc.Process.Rlimits, rl)
	}
	// Per-container files bind-mounted over the image's.
	for _, f := range []string{"hosts", "hostname", "resolv.conf"} {
		rc.Mounts = append(rc.Mounts, container.Mount{Type: "bind", Source: filepath.Join(dir, f), Destination: "/etc/" + f, Options: []string{"bind", "rprivate"}})
	}
	for _, v := range opts.Volumes {
		m, name, anon, err := parseVolume(root, v)
		if err != nil {
			return nil, err
		}
		if name != "" {
			if anon {
				c.Anonymous = append(c.Anonymous, name)
			} else {
				c.Volumes = append(c.Volumes, name)
			}
		}
		rc.Mounts = append(rc.Mounts, m)
	}
	for _, t := range opts.Tmpfs {
		m, err := parseTmpfs(t)
		if err != nil {
			return nil, err
		}
		rc.Mounts = append(rc.Mounts, m)
	}
	res, err := buildResources(opts)
	if err != nil {
		return nil, err
	}
	res.AllowAllDevices = opts.Privileged
	if rc.Devices, err = buildDevices(opts); err != nil {
		return nil, err
	}
	c.Runtime = rc
	c.Resources = *res
	c.SeccompProfile = sec.seccomp
	if opts.Privileged && c.SeccompProfile == "" {
		c.SeccompProfile = "unconfined"
	}
	return c, nil
}

// buildDevices gives a privileged container every device of the host's /dev
// (its device cgroup allows all), then each --device node. Nothing walks
// /dev for an unprivileged container.
func buildDevices(opts *RunOptions) ([]container.Device, error) {
	var devs []container.Device
	if opts.Privileged {
		host, err := container.HostDevices()
		if err != nil {
			return nil, err
		}
		devs = host
	}
	extra, _, err := extraDevices(opts.Devices)
	if err != nil {
		return nil, err
	}
	for _, d := range extra {
		// --device replaces a host device of the same path.
		devs = slices.DeleteFunc(devs, func(o container.Device) bool { return o.Path == d.Path })
		devs = append(devs, d)
	}
	return devs, nil
}

// extraDevices reads docker's --device HOST[:CONTAINER[:PERMS]] values: the
// nodes to make, and the v1 device-cgroup rules (docker's default ones, then
// one per device; nil without --device, which means the default ones).
func extraDevices(specs []string) ([]container.Device, []string, error) {
	var devs []container.Device
	var rules []string
	for _, s := range specs {
		host, ctr, perms, err := container.ParseDeviceSpec(s)
		if err != nil {
			return nil, nil, err
		}
		d, err := container.DeviceFromPath(host, ctr)
		if err != nil {
			return nil, nil, fmt.Errorf("gathering device information of %q: %w", host, err)
		}
		devs = append(devs, d)
		if rules == nil {
			rules = slices.Clone(cgroups.DefaultDeviceRules)
		}
		rules = append(rules, d.Rule(perms))
	}
	return devs, rules, nil
}

// mergeEnv builds the environment as docker does: the image's, then PATH if
// it set none, HOSTNAME, TERM with a tty, then --env-file and -e in order.
func mergeEnv(imageEnv []string, opts *RunOptions, hostname string) ([]string, error) {
	var env []string
	index := map[string]int{}
	set := func(kv string) {
		k, _, _ := strings.Cut(kv, "=")
		if i, ok := index[k]; ok {
			env[i] = kv
			return
		}
		index[k] = len(env)
		env = append(env, kv)
	}
	for _, e := range imageEnv {
		set(e)
	}
	if _, ok := index["PATH"]; !ok {
		set("PATH=" + container.DefaultPath)
	}
	set("HOSTNAME=" + hostname)
	if opts.TTY {
		if _, ok := index["TERM"]; !ok {
			set("TERM=xterm")
		}
	}
	user := func(e string) {
		if e == "" {
			return
		}
		if !strings.Contains(e, "=") {
			if v, ok := os.LookupEnv(e); ok {
				set(e + "=" + v)
			}
			return
		}
		set(e)
	}
	for _, f := range opts.EnvFiles {
		lines, err := readEnvFile(f)
		if err != nil {
			return nil, err
		}
		for _, l := range lines {
			user(l)
		}
	}
	for _, e := range opts.Env {
		user(e)
	}
	return env, nil
}

// readEnvFile reads docker's --env-file format: KEY=value or KEY per line,
// # comments and blank lines skipped, no quote processing.
func readEnvFile(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		l := strings.TrimLeft(sc.Text(), " \t")
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		k, _, _ := strings.Cut(l, "=")
		if k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("%s:%d: variable %q contains whitespaces or is empty", path, n, k)
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

type securityOpts struct {
	noNewPrivs            *bool
	seccomp               string // "" default, "unconfined", or a profile file
	systemPathsUnconfined bool
}

func parseSecurityOpts(opts []string) (securityOpts, error) {
	var s securityOpts
	for _, o := range opts {
		k, v, hasV := strings.Cut(o, "=")
		if !hasV {
			k, v, hasV = strings.Cut(o, ":")
		}
		switch k {
		case "no-new-privileges":
			b := true
			if hasV {
				var err error
				if b, err = strconv.ParseBool(v); err != nil {
					return s, fmt.Errorf("invalid --security-opt %q: want no-new-privileges[=true|false]", o)
				}
			}
			s.noNewPrivs = &b
		case "seccomp":
			if v == "" {
				return s, fmt.Errorf("invalid --security-opt %q: want seccomp=unconfined or seccomp=PROFILE.json", o)
			}
			s.seccomp = v
		case "systempaths":
			if v != "unconfined" {
				return s, fmt.Errorf("invalid --security-opt %q: want systempaths=unconfined", o)
			}
			s.systemPathsUnconfined = true
		case "apparmor":
			if v != "unconfined" {
				return s, fmt.Errorf("--security-opt %q: AppArmor is not supported by stack", o)
			}
		case "label":
			if v != "disable" {
				return s, fmt.Errorf("--security-opt %q: SELinux labels are not supported by stack", o)
			}
		default:
			return s, fmt.Errorf("invalid --security-opt %q", o)
		}
	}
	return s, nil
}

var ulimitNames = map[string]string{
	"core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
	"locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
	"nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC", "rss": "RLIMIT_RSS",
	"rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME", "sigpending": "RLIMIT_SIGPENDING",
	"stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}

// parseUlimit parses docker's --ulimit NAME=SOFT[:HARD] (-1: unlimited).
func parseUlimit(s string) (container.Rlimit, error) {
	name, vals, ok := strings.Cut(s, "=")
	typ, known := ulimitNames[name]
	if !ok || !known {
		return container.Rlimit{}, fmt.Errorf("invalid --ulimit %q: want NAME=SOFT[:HARD] with a name such as nofile or nproc", s)
	}
	parse := func(v string) (uint64, error) {
		if v == "-1" || v == "unlimited" {
			return math.MaxUint64, nil
		}
		return strconv.ParseUint(v, 10, 64)
	}
	softS, hardS, hasHard := strings.Cut(vals, ":")
	soft, err := parse(softS)
	if err != nil {
		return container.Rlimit{}, fmt.Errorf("invalid --ulimit %q: %v", s, err)
	}
	hard := soft
	if hasHard {
		if hard, err = parse(hardS); err != nil {
			return container.Rlimit{}, fmt.Errorf("invalid --ulimit %q: %v", s, err)
		}
	}
	if soft > hard {
		return container.Rlimit{}, fmt.Errorf("invalid --ulimit %q: soft limit %d is above the hard limit %d", s, soft, hard)
	}
	return container.Rlimit{Type: typ, Soft: soft, Hard: hard}, nil
}

// parseVolume parses -v: SRC:DST[:OPTS] where SRC is an absolute host path
// (bind) or a volume name (<root>/volumes/<name>), or DST alone (an
// anonymous volume). It returns the mount and the volume's name.
func parseVolume(root, v string) (m container.Mount, name string, anonymous bool, err error) {
	parts := strings.Split(v, ":")
	var src, dst, opts string
	switch len(parts) {
	case 1:
		dst = parts[0]
	case 2:
		src, dst = parts[0], parts[1]
	case 3:
		src, dst, opts = parts[0], parts[1], parts[2]
	default:
		return m, "", false, fmt.Errorf("invalid volume specification: %q", v)
	}
	if !strings.HasPrefix(dst, "/") {
		return m, "", false, fmt.Errorf("invalid volume specification: %q: the destination must be an absolute path", v)
	}
	if dst == "/" {
		return m, "", false, fmt.Errorf("invalid volume specification: %q: the destination can't be /", v)
	}
	m = container.Mount{Type: "bind", Destination: filepath.Clean(dst), Options: []string{"rbind"}}
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "":
		case "ro", "rw":
			m.Options = append(m.Options, o)
		case "z", "Z", "nocopy", "copy":
			// SELinux relabels and volume copy: nothing to do here.
		case "private", "rprivate", "shared", "rshared", "slave", "rslave":
			m.Options = append(m.Options, o)
		default:
			return m, "", false, fmt.Errorf("invalid volume specification: %q: unknown option %q", v, o)
		}
	}
	switch {
	case src == "":
		name = newID()
		anonymous = true
		m.Source = filepath.Join(root, "volumes", name)
	case strings.HasPrefix(src, "/"):
		m.Source = filepath.Clean(src)
	case strings.HasPrefix(src, ".") || strings.Contains(src, "/"):
		return m, "", false, fmt.Errorf("invalid volume specification: %q: a host path must be absolute", v)
	default:
		if !validName(src) {
			return m, "", false, fmt.Errorf("invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", src)
		}
		name = src
		m.Source = filepath.Join(root, "volumes", name)
	}
	return m, name, anonymous, nil
}

// parseTmpfs parses --tmpfs DST[:OPTS] (docker's defaults noexec,nosuid,nodev).
func parseTmpfs(t string) (container.Mount, error) {
	dst, opts, _ := strings.Cut(t, ":")
	if !strings.HasPrefix(dst, "/") {
		return container.Mount{}, fmt.Errorf("invalid --tmpfs %q: the path must be absolute", t)
	}
	o := []string{"noexec", "nosuid", "nodev"}
	if opts != "" {
		o = append(o, strings.Split(opts, ",")...)
	}
	return container.Mount{Type: "tmpfs", Source: "tmpfs", Destination: filepath.Clean(dst), Options: o}, nil
}

// buildResources translates the limit flags, with docker's checks.
func buildResources(o *RunOptions) (*cgroups.Resources, error) {
	r := &cgroups.Resources{
		CPUShares: uint64(o.CPUShares), CpusetCpus: o.CpusetCpus, CpusetMems: o.CpusetMems,
		BlkioWeight: o.BlkioWeight,
	}
	var err error
	if _, r.Devices, err = extraDevices(o.Devices); err != nil {
		return nil, err
	}
	if o.CPUShares < 0 {
		return nil, fmt.Errorf("invalid --cpu-shares %d", o.CPUShares)
	}
	if o.Memory != "" {
		n, err := spec.ParseBytes(o.Memory)
		if err != nil {
			return nil, fmt.Errorf("invalid --memory: %w", err)
		}
		if n < 6<<20 {
			return nil, errors.New("minimum memory limit allowed is 6MB")
		}
		r.Memory = n
	}
	if o.MemorySwap != "" {
		if o.MemorySwap == "-1" {
			r.MemorySwap = -1
		} else {
			n, err := spec.ParseBytes(o.MemorySwap)
			if err != nil {
				return nil, fmt.Errorf("invalid --memory-swap: %w", err)
			}
			r.MemorySwap = n
		}
		if r.Memory == 0 {
			return nil, errors.New("you should always set the memory limit when using the memoryswap limit, see usage")
		}
		if r.MemorySwap > 0 && r.MemorySwap < r.Memory {
			return nil, errors.New("minimum memoryswap limit should be larger than memory limit, see usage")
		}
	} else if r.Memory > 0 {
		r.MemorySwap = 2 * r.Memory // docker: as much swap as memory
	}
	if o.CPUs != "" {
		if o.CPUQuota != 0 || o.CPUPeriod != 0 {
			return nil, errors.New("conflicting options: --cpus and --cpu-period/--cpu-quota cannot both be set")
		}
		f, err := strconv.ParseFloat(o.CPUs, 64)
		if err != nil || f <= 0 {
			return nil, fmt.Errorf("invalid --cpus %q: want a positive number", o.CPUs)
		}
		r.CPUPeriod = 100000
		r.CPUQuota = int64(math.Round(f * 100000))
	} else {
		if o.CPUQuota != 0 && o.CPUQuota < 1000 && o.CPUQuota != -1 {
			return nil, errors.New("CPU cfs quota can not be less than 1ms (i.e. 1000)")
		}
		if o.CPUPeriod != 0 && (o.CPUPeriod < 1000 || o.CPUPeriod > 1000000) {
			return nil, errors.New("CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1 second (i.e. 1000000)")
		}
		r.CPUQuota, r.CPUPeriod = o.CPUQuota, uint64(o.CPUPeriod)
	}
	if o.CpusetCpus != "" {
		if _, err := spec.ParseCpuset(o.CpusetCpus); err != nil {
			return nil, fmt.Errorf("invalid --cpuset-cpus: %w", err)
		}
	}
	if o.CpusetMems != "" {
		if _, err := spec.ParseCpuset(o.CpusetMems); err != nil {
			return nil, fmt.Errorf("invalid --cpuset-mems: %w", err)
		}
	}
	if o.PidsLimitSet {
		r.PidsLimit = o.PidsLimit
		if r.PidsLimit <= 0 {
			r.PidsLimit = -1
		}
	}
	if o.BlkioWeight != 0 && (o.BlkioWeight < 10 || o.BlkioWeight > 1000) {
		return nil, errors.New("range of blkio weight is from 10 to 1000")
	}
	for _, spec := range o.DeviceReadBps {
		t, err := parseThrottle(spec)
		if err != nil {
			return nil, fmt.Errorf("invalid --device-read-bps: %w", err)
		}
		r.ReadBps = append(r.ReadBps, t)
	}
	for _, spec := range o.DeviceWriteBps {
		t, err := parseThrottle(spec)
		if err != nil {
			return nil, fmt.Errorf("invalid --device-write-bps: %w", err)
		}
		r.WriteBps = append(r.WriteBps, t)
	}
	return r, nil
}

// parseThrottle parses PATH:RATE (e.g. /dev/vda:1mb).
func parseThrottle(s string) (cgroups.Throttle, error) {
	i := strings.LastIndexByte(s, ':')
	if i <= 0 {
		return cgroups.Throttle{}, fmt.Errorf("%q: want PATH:RATE", s)
	}
	rate, err := spec.ParseBytes(s[i+1:])
	if err != nil {
		return cgroups.Throttle{}, fmt.Errorf("%q: %w", s, err)
	}
	maj, min, err := deviceNumber(s[:i])
	if err != nil {
		return cgroups.Throttle{}, err
	}
	return cgroups.Throttle{Major: maj, Minor: min, Rate: uint64(rate)}, nil
}

// ParseSignal parses a signal name ("SIGTERM", "TERM", "term") or number.
func ParseSignal(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n <= 0 || n > 64 {
			return 0, fmt.Errorf("invalid signal: %s", s)
		}
		return n, nil
	}
	u := strings.ToUpper(s)
	u = strings.TrimPrefix(u, "SIG")
	if n, ok := signalNumbers[u]; ok {
		return n, nil
	}
	if strings.HasPrefix(u, "RTMIN+") || strings.HasPrefix(u, "RTMAX-") {
		off, err := strconv.Atoi(u[6:])
		if err == nil && off >= 0 && off <= 30 {
			if strings.HasPrefix(u, "RTMIN+") {
				return 34 + off, nil
			}
			return 64 - off, nil
		}
	}
	return 0, fmt.Errorf("invalid signal: %s", s)
}

var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "TRAP": 5, "ABRT": 6, "IOT": 6, "BUS": 7, "FPE": 8,
	"KILL": 9, "USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
	"STKFLT": 16, "CHLD": 17, "CONT": 18, "STOP": 19, "TSTP": 20, "TTIN": 21, "TTOU": 22,
	"URG": 23, "XCPU": 24, "XFSZ": 25, "VTALRM": 26, "PROF": 27, "WINCH": 28, "IO": 29,
	"POLL": 29, "PWR": 30, "SYS": 31, "RTMIN": 34, "RTMAX": 64,
}

// AttachOptions are the caller's side of a started container.
type AttachOptions struct {
	Stdin          io.Reader // nil: /dev/null (docker without -i)
	Stdout, Stderr io.Writer
	// Foreground ties the container to the calling process: it is killed
	// when the caller dies (PR_SET_PDEATHSIG). Either way the caller is
	// recorded as the container's supervisor (State.Supervisor).
	Foreground bool
	// Network wires the container's network namespace (pid is its init);
	// nil for none and host.
	Network func(pid int) error
	Logger  *slog.Logger
	// Early is the start SpawnInit began before the container was
	// created (nil: StartContainer does it all).
	Early *Early
	// RestartCount is recorded in the new state (the supervisor's count
	// of restarts so far).
	RestartCount int
}

// Running is a started container.
type Running struct {
	Container *Container
	Task      *container.Task
	State     *container.State
	root      string
	cg        cgroups.Cgroup
	log       *slog.Logger
	// beforeRecord runs in finish once every process of the container is
	// gone and before the end is recorded (the shim drains its logs).
	beforeRecord func()
	// restart, for a supervised container, decides from the state being
	// recorded (ManualStop, exit code, RestartCount) whether the
	// supervisor starts it again: the state then says restarting, else the
	// supervisor is no longer recorded — in the same write.
	restart func(st *container.State) bool
}

// ExecOptions is `stack exec`'s request.
type ExecOptions struct {
	Args        []string
	Env         []string
	Workdir     string
	User        string
	Interactive bool
	TTY         bool
	Privileged  bool
	Stdin       io.Reader
	Stdout      io.Writer
	Stderr      io.Writer
	Logger      *slog.Logger
}

// Early is a container start begun before its record exists: the init
// process, waiting for its config, and (in the background) its cgroup,
// with the init moved into it. A cgroup v1 migration waits for an RCU
// grace period, milliseconds that overlap with CreateContainer this way.
type Early struct {
	pending *container.Pending
	id      string
	done    chan struct{}
	host    *cgroups.Host
	cg      cgroups.Cgroup
	err     error  // of the Enter
	netns   string // the network namespace file made for it ("" : none), removed by Abort
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
