package spec

import (
	"fmt"
	"strconv"
	"time"
)

// This file is the canonical stack model: what the loader produces and what
// the planner and the executor consume. It holds no host details (no PIDs,
// no interface names, no absolute state paths), so that an exporter to other
// platforms can read it. Every map is iterated in sorted order by its users;
// JSON encoding sorts map keys, so the JSON form is canonical.
//
// Conventions:
//   - A nil slice means "not set" where the difference matters (Command,
//     Entrypoint: nil = the image's default, empty non-nil = cleared).
//   - Sizes are bytes (int64), durations are time.Duration, CPU counts are
//     float64; 0 means "not set" unless the field says otherwise.
//   - Relative paths are resolved against the project directory at load time.

// Pos is a position in a stack file. Line and Col are 1-based.
type Pos struct {
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	Col  int    `json:"col,omitempty"`
}

// Stack is one project: the merged, interpolated, validated stack file(s).
type Stack struct {
	Name       string                 `json:"name"`
	WorkingDir string                 `json:"-"` // project directory; not part of any hash
	Services   map[string]*Service    `json:"services"`
	Networks   map[string]*Network    `json:"networks,omitempty"`
	Volumes    map[string]*Volume     `json:"volumes,omitempty"`
	Configs    map[string]*FileObject `json:"configs,omitempty"`
	Secrets    map[string]*FileObject `json:"secrets,omitempty"`
	// Images are the named images the stack makes itself (x-stack-images).
	Images map[string]*Image `json:"x-stack-images,omitempty"`
	// Warnings are non-fatal diagnostics found while loading (unset variables,
	// `version`, fields ignored under --loose), sorted by position.
	Warnings []Diagnostic `json:"-"`
}

// Service is one service of the stack, normalized.
type Service struct {
	Name string `json:"-"`
	Pos  Pos    `json:"-"` // position of the service's key

	Image      string   `json:"image,omitempty"`
	Build      *Build   `json:"build,omitempty"`
	PullPolicy string   `json:"pull_policy,omitempty"`
	Command    []string `json:"command"`    // nil: image default; []: cleared
	Entrypoint []string `json:"entrypoint"` // nil: image default; []: cleared
	WorkingDir string   `json:"working_dir,omitempty"`
	User       string   `json:"user,omitempty"`
	// Environment after env_file and pass-through resolution.
	Environment map[string]string `json:"environment,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`

	ContainerName string `json:"container_name,omitempty"`
	Hostname      string `json:"hostname,omitempty"`
	Domainname    string `json:"domainname,omitempty"`
	Init          bool   `json:"init,omitempty"`
	ReadOnly      bool   `json:"read_only,omitempty"`
	Tty           bool   `json:"tty,omitempty"`
	StdinOpen     bool   `json:"stdin_open,omitempty"`
	Attach        *bool  `json:"attach,omitempty"` // nil: attach (compose default)

	StopSignal      string   `json:"stop_signal,omitempty"`
	StopGracePeriod Duration `json:"stop_grace_period,omitempty"` // 0: default (10s)
	Restart         string   `json:"restart,omitempty"`           // "no", "always", "on-failure[:N]", "unless-stopped"

	Ports      []Port   `json:"ports,omitempty"`
	PublishAll bool     `json:"x-stack-publish-all,omitempty"` // like `docker run -P`
	Expose     []string `json:"expose,omitempty"`              // "80", "8000-8010/udp"

	// NetworkMode is "", "none", "host", "bridge", "service:NAME" or
	// "container:NAME". "" means the service is on Networks (the project's
	// default network when the file names none).
	NetworkMode string                     `json:"network_mode,omitempty"`
	Networks    map[string]*ServiceNetwork `json:"networks,omitempty"`
	DNS         []string                   `json:"dns,omitempty"`
	DNSSearch   []string                   `json:"dns_search,omitempty"`
	DNSOpt      []string                   `json:"dns_opt,omitempty"`
	ExtraHosts  []string                   `json:"extra_hosts,omitempty"` // "host:ip", in file order
	MacAddress  string                     `json:"mac_address,omitempty"`

	DependsOn   map[string]Dependency `json:"depends_on,omitempty"`
	Healthcheck *Healthcheck          `json:"healthcheck,omitempty"`

	Resources Resources `json:"resources"`

	Volumes     []Mount  `json:"volumes,omitempty"`
	Tmpfs       []string `json:"tmpfs,omitempty"` // "PATH[:opts]"
	VolumesFrom []string `json:"volumes_from,omitempty"`

	CapAdd      []string          `json:"cap_add,omitempty"`
	CapDrop     []string          `json:"cap_drop,omitempty"`
	Privileged  bool              `json:"privileged,omitempty"`
	SecurityOpt []string          `json:"security_opt,omitempty"`
	Sysctls     map[string]string `json:"sysctls,omitempty"`
	Devices     []Device          `json:"devices,omitempty"`
	GroupAdd    []string          `json:"group_add,omitempty"`
	OomScoreAdj int               `json:"oom_score_adj,omitempty"`
	Ipc         string            `json:"ipc,omitempty"`
	Pid         string            `json:"pid,omitempty"`
	Uts         string            `json:"uts,omitempty"`
	Cgroup      string            `json:"cgroup,omitempty"`

	Configs []FileRef `json:"configs,omitempty"`
	Secrets []FileRef `json:"secrets,omitempty"`

	Logging *Logging `json:"logging,omitempty"`

	Scale    int      `json:"scale,omitempty"` // 0 and 1 both mean one container
	Profiles []string `json:"profiles,omitempty"`
}

// Build is a compose `build:` section (or the build of an x-stack-images entry).
type Build struct {
	Context          string            `json:"context,omitempty"`
	Dockerfile       string            `json:"dockerfile,omitempty"`
	DockerfileInline string            `json:"dockerfile_inline,omitempty"`
	Args             map[string]string `json:"args,omitempty"`
	Target           string            `json:"target,omitempty"`
	Labels           map[string]string `json:"labels,omitempty"`
	Tags             []string          `json:"tags,omitempty"`
	Network          string            `json:"network,omitempty"`
	NoCache          bool              `json:"no_cache,omitempty"`
	Pull             bool              `json:"pull,omitempty"`
	CacheFrom        []string          `json:"cache_from,omitempty"`
	ShmSize          int64             `json:"shm_size,omitempty"`
	ExtraHosts       []string          `json:"extra_hosts,omitempty"`
}

// Image is a named image the stack makes itself (top-level x-stack-images):
// exactly one of Build and Commit is set.
type Image struct {
	Name   string  `json:"-"`
	Pos    Pos     `json:"-"`
	Build  *Build  `json:"build,omitempty"`
	Commit *Commit `json:"commit,omitempty"`
}

// Commit makes an image like `docker commit -a -m -c -p`: a temporary
// container from From runs Run (each a shell command, in order), then its
// changes are committed with Author, Message and Changes.
type Commit struct {
	From    string       `json:"from"`
	Run     []string     `json:"run,omitempty"`
	Author  string       `json:"author,omitempty"`
	Message string       `json:"message,omitempty"`
	Changes ImageChanges `json:"changes,omitempty"`
	Pause   *bool        `json:"pause,omitempty"` // nil: true, as docker commit
}

// ImageChanges are Dockerfile-like config changes (`docker commit -c`).
type ImageChanges struct {
	Cmd        []string          `json:"cmd,omitempty"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Env        map[string]string `json:"env,omitempty"`
	Expose     []string          `json:"expose,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
	User       string            `json:"user,omitempty"`
	WorkingDir string            `json:"workdir,omitempty"`
	Volumes    []string          `json:"volumes,omitempty"`
	StopSignal string            `json:"stopsignal,omitempty"`
}

// PortRange is an inclusive range of ports; Start == End for one port.
// The zero value means "not set" (for a published port: chosen free).
type PortRange struct {
	Start uint16 `json:"start"`
	End   uint16 `json:"end"`
}

// Port is one published port mapping, in any compose or docker form.
type Port struct {
	HostIP      string    `json:"host_ip,omitempty"` // "" = all addresses; IPv6 without brackets
	Published   PortRange `json:"published"`         // zero: a free port chosen at up
	Target      PortRange `json:"target"`            // the container side
	Protocol    string    `json:"protocol"`          // "tcp" or "udp"
	Mode        string    `json:"mode,omitempty"`    // "host" or "ingress" (long form)
	Name        string    `json:"name,omitempty"`    // long form
	AppProtocol string    `json:"app_protocol,omitempty"`
}

// ServiceNetwork is a service's attachment to one network.
type ServiceNetwork struct {
	Aliases       []string `json:"aliases,omitempty"`
	IPv4Address   string   `json:"ipv4_address,omitempty"`
	IPv6Address   string   `json:"ipv6_address,omitempty"`
	MacAddress    string   `json:"mac_address,omitempty"`
	InterfaceName string   `json:"interface_name,omitempty"`
	Priority      int      `json:"priority,omitempty"`
	GwPriority    int      `json:"gw_priority,omitempty"`
}

// Dependency is one entry of depends_on.
type Dependency struct {
	Condition string `json:"condition"` // service_started, service_healthy, service_completed_successfully
	Restart   bool   `json:"restart,omitempty"`
	Required  bool   `json:"required"` // default true
}

// Healthcheck is a service's health check. Test is nil when the image's is
// inherited; ["NONE"] or Disable turns checking off.
type Healthcheck struct {
	Test          []string `json:"test,omitempty"` // ["CMD", ...] or ["CMD-SHELL", "..."] or ["NONE"]
	Interval      Duration `json:"interval,omitempty"`
	Timeout       Duration `json:"timeout,omitempty"`
	StartPeriod   Duration `json:"start_period,omitempty"`
	StartInterval Duration `json:"start_interval,omitempty"`
	Retries       int      `json:"retries,omitempty"`
	Disable       bool     `json:"disable,omitempty"`
}

// Resources are a service's limits, normalized from the legacy keys and
// deploy.resources (which must agree).
type Resources struct {
	MemLimit       int64             `json:"mem_limit,omitempty"`       // bytes
	MemReservation int64             `json:"mem_reservation,omitempty"` // bytes
	MemswapLimit   int64             `json:"memswap_limit,omitempty"`   // bytes; -1 = unlimited swap
	CPUs           float64           `json:"cpus,omitempty"`
	CPUShares      int64             `json:"cpu_shares,omitempty"`
	CPUQuota       int64             `json:"cpu_quota,omitempty"`  // microseconds
	CPUPeriod      int64             `json:"cpu_period,omitempty"` // microseconds
	Cpuset         string            `json:"cpuset,omitempty"`     // "0-2,4"
	CpusetMems     string            `json:"cpuset_mems,omitempty"`
	PidsLimit      int64             `json:"pids_limit,omitempty"` // -1 = unlimited
	ShmSize        int64             `json:"shm_size,omitempty"`   // bytes
	Ulimits        map[string]Ulimit `json:"ulimits,omitempty"`
	Blkio          *Blkio            `json:"blkio_config,omitempty"`
}

// Ulimit is a soft/hard pair; a single number sets both.
type Ulimit struct {
	Soft int64 `json:"soft"`
	Hard int64 `json:"hard"`
}

// Blkio is blkio_config.
type Blkio struct {
	Weight          uint16           `json:"weight,omitempty"`
	WeightDevice    []WeightDevice   `json:"weight_device,omitempty"`
	DeviceReadBps   []ThrottleDevice `json:"device_read_bps,omitempty"`
	DeviceWriteBps  []ThrottleDevice `json:"device_write_bps,omitempty"`
	DeviceReadIOps  []ThrottleDevice `json:"device_read_iops,omitempty"`
	DeviceWriteIOps []ThrottleDevice `json:"device_write_iops,omitempty"`
}

// WeightDevice is a per-device blkio weight.
type WeightDevice struct {
	Path   string `json:"path"`
	Weight uint16 `json:"weight"`
}

// ThrottleDevice is a per-device rate (bytes or operations per second).
type ThrottleDevice struct {
	Path string `json:"path"`
	Rate uint64 `json:"rate"`
}

// Mount is one entry of a service's volumes, short or long form.
type Mount struct {
	Type     string `json:"type"`             // "bind", "volume", "tmpfs"
	Source   string `json:"source,omitempty"` // absolute host path (bind), volume name (volume; "" = anonymous)
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only,omitempty"`
	// Bind options.
	Propagation    string `json:"propagation,omitempty"`
	CreateHostPath bool   `json:"create_host_path,omitempty"`
	SELinux        string `json:"selinux,omitempty"` // "z" or "Z"
	// Volume options.
	NoCopy  bool   `json:"nocopy,omitempty"`
	Subpath string `json:"subpath,omitempty"`
	// Tmpfs options.
	TmpfsSize int64  `json:"tmpfs_size,omitempty"`
	TmpfsMode uint32 `json:"tmpfs_mode,omitempty"`
}

// Device is a host device made available in the container.
type Device struct {
	Source      string `json:"source"`
	Target      string `json:"target"`
	Permissions string `json:"permissions,omitempty"` // "rwm" by default
}

// FileRef is a service's use of a top-level config or secret.
type FileRef struct {
	Source string  `json:"source"`
	Target string  `json:"target"` // absolute path in the container
	UID    string  `json:"uid,omitempty"`
	GID    string  `json:"gid,omitempty"`
	Mode   *uint32 `json:"mode,omitempty"`
}

// FileObject is a top-level config or secret: exactly one source is set.
type FileObject struct {
	Name        string `json:"-"`
	Pos         Pos    `json:"-"`
	File        string `json:"file,omitempty"`        // absolute path
	Content     string `json:"content,omitempty"`     // inline content (configs)
	Environment string `json:"environment,omitempty"` // name of an environment variable
}

// Logging is a service's log configuration; only the built-in file logger
// ("json-file", "local" or "" which mean the same, or "none") is supported.
type Logging struct {
	Driver  string            `json:"driver,omitempty"`
	Options map[string]string `json:"options,omitempty"` // max-size, max-file
}

// Network is a top-level network. The implicit "default" network is
// represented like any other, with Implicit set.
type Network struct {
	Name       string            `json:"-"` // key in the file
	Pos        Pos               `json:"-"`
	HostName   string            `json:"name"` // name on the host: `name:` or "<project>_<key>"
	Implicit   bool              `json:"implicit,omitempty"`
	Driver     string            `json:"driver,omitempty"` // "bridge" (default), "host", "none"
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	MTU        int               `json:"mtu,omitempty"`         // from com.docker.network.driver.mtu
	BridgeName string            `json:"bridge_name,omitempty"` // from com.docker.network.bridge.name
	IPAM       []IPAMConfig      `json:"ipam,omitempty"`
	Internal   bool              `json:"internal,omitempty"`
	EnableIPv6 bool              `json:"enable_ipv6,omitempty"`
	External   bool              `json:"external,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// IPAMConfig is one entry of ipam.config.
type IPAMConfig struct {
	Subnet       string            `json:"subnet,omitempty"`
	Gateway      string            `json:"gateway,omitempty"`
	IPRange      string            `json:"ip_range,omitempty"`
	AuxAddresses map[string]string `json:"aux_addresses,omitempty"`
}

// Volume is a top-level named volume.
type Volume struct {
	Name       string            `json:"-"`
	Pos        Pos               `json:"-"`
	HostName   string            `json:"name"` // `name:` or "<project>_<key>"
	Driver     string            `json:"driver,omitempty"`
	DriverOpts map[string]string `json:"driver_opts,omitempty"`
	External   bool              `json:"external,omitempty"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// Severity of a Diagnostic.
type Severity int

const (
	SevError Severity = iota
	SevWarning
)

// Diagnostic is one problem found in a stack file: where, at which YAML
// path, and what is wrong (and, where it helps, what would be valid).
type Diagnostic struct {
	Pos      Pos
	Path     string // YAML path, e.g. "services.web.ports[1]"
	Message  string
	Severity Severity
}

// LoadOptions say which files to load and how.
type LoadOptions struct {
	Files       []string          // -f; empty: discover in ProjectDir
	ProjectDir  string            // default: directory of the first file, else "."
	ProjectName string            // -p; default: `name:` key, COMPOSE_PROJECT_NAME, then the directory name
	Profiles    []string          // --profile (and COMPOSE_PROFILES)
	Services    []string          // services named on the command line (enable their profiles)
	Env         map[string]string // the environment; nil means os.Environ()
	EnvFiles    []string          // project env files; default: ProjectDir/.env if present
	Loose       bool              // §3b fields warn instead of failing
}

// Duration is a time.Duration whose JSON form is Go's duration syntax
// ("1m30s", "200ms"), so that the canonical form and plan diffs read as
// the stack file does. Unmarshaling also takes a number of nanoseconds.
type Duration time.Duration

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(time.Duration(d).String())), nil
}

// UnmarshalJSON reads a duration string or a number of nanoseconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	*d = Duration(n)
	return nil
}

// Std returns the time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
