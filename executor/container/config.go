package container

// Config is everything the container's init needs, as plain data: it crosses
// the process boundary as JSON (parent → init over a pipe) and is stored in the
// container's state directory so that `exec` can rebuild the process
// environment later. Nothing in it is computed by the init itself except what
// can only be known inside the container (the user's IDs from the image's
// /etc/passwd, the executable's path in $PATH).
type Config struct {
	ID         string `json:"id"`
	Hostname   string `json:"hostname,omitempty"`
	Domainname string `json:"domainname,omitempty"`

	Rootfs Rootfs `json:"rootfs"`
	// ReadonlyRootfs remounts the root read-only after every mount is made.
	ReadonlyRootfs bool `json:"readonly_rootfs,omitempty"`
	// Mounts are made after the standard ones (/proc, /dev, /dev/pts,
	// /dev/shm, /dev/mqueue, /sys), in order. A Source of a bind mount is a
	// host path; a Destination is a path inside the container.
	Mounts []Mount `json:"mounts,omitempty"`
	// ShmSize is the size of /dev/shm in bytes (0: 64 MiB, docker's default).
	ShmSize int64 `json:"shm_size,omitempty"`
	// MaskedPaths are made unreadable (bind of /dev/null on files, an empty
	// read-only tmpfs on directories); ReadonlyPaths are remounted read-only.
	// Missing paths are skipped. See DefaultMaskedPaths, DefaultReadonlyPaths.
	MaskedPaths   []string `json:"masked_paths,omitempty"`
	ReadonlyPaths []string `json:"readonly_paths,omitempty"`
	// Privileged mounts /sys read-write; masking and capabilities are the
	// caller's choice (it passes no masked paths and all capabilities).
	Privileged bool `json:"privileged,omitempty"`
	// Devices are device nodes made in /dev besides the standard ones: the
	// host's for a privileged container (HostDevices), and --device ones.
	Devices []Device `json:"devices,omitempty"`

	Namespaces Namespaces `json:"namespaces"`
	Process    Process    `json:"process"`
	// ParentDeathSignal is sent to the container's init when the process
	// that started it dies (the foreground `stack run`); 0 for none. It is
	// set again after the user switch, which clears it.
	ParentDeathSignal int `json:"parent_death_signal,omitempty"`
}

// Rootfs is the container's root filesystem as mount data: either a plain
// directory (bind-mounted onto itself, then pivoted into), or an overlay of
// Lower directories (top first) with an Upper and a Work directory, mounted
// at Target inside the container's mount namespace only (the host never sees
// it, so a crashed container leaves no mount behind).
type Rootfs struct {
	Dir    string   `json:"dir,omitempty"`
	Lower  []string `json:"lower,omitempty"`
	Upper  string   `json:"upper,omitempty"`
	Work   string   `json:"work,omitempty"`
	Target string   `json:"target,omitempty"` // mount point for the overlay
	// Volatile mounts the overlay with "volatile": no syncs of the upper
	// directory, for containers whose changes are thrown away (--rm).
	Volatile bool `json:"volatile,omitempty"`
}

// Mount is one filesystem mount. Type "bind" bind-mounts Source (recursively
// unless the options say "bind"); any other type is mounted with Source as the
// device name. Options are fstab-like: "ro", "rw", "nosuid", "nodev",
// "noexec", "rbind", "bind", "private", "rprivate", and anything else
// (e.g. "size=64m", "mode=1777") becomes filesystem data.
type Mount struct {
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Destination string   `json:"destination"`
	Options     []string `json:"options,omitempty"`
}

// Namespaces says which namespaces the container gets. Mount, UTS, IPC, PID
// and cgroup namespaces are always new; the network namespace is new unless
// HostNetwork is set or NetPath names one to join (/proc/<pid>/ns/net or a
// bind-mounted netns file).
type Namespaces struct {
	HostNetwork bool   `json:"host_network,omitempty"`
	NetPath     string `json:"net_path,omitempty"`
}

// Process is the program the container runs, and its security context. The
// same type drives `exec`.
type Process struct {
	Args []string `json:"args"`
	Env  []string `json:"env,omitempty"`
	Cwd  string   `json:"cwd,omitempty"`
	// User is docker's --user: "name", "uid", "name:group", "uid:gid", ...,
	// resolved in the container's /etc/passwd and /etc/group (empty: root).
	// Supplementary groups of the user are added, then AdditionalGroups.
	User             string   `json:"user,omitempty"`
	AdditionalGroups []string `json:"additional_groups,omitempty"`
	Terminal         bool     `json:"terminal,omitempty"`

	// Capabilities are names such as "CAP_CHOWN": the bounding set, and the
	// effective and permitted sets when the user is root (a non-root user
	// gets none effective, as in docker).
	Capabilities    []string `json:"capabilities"`
	NoNewPrivileges bool     `json:"no_new_privileges,omitempty"`
	// Seccomp is a compiled classic-BPF filter (struct sock_filter array,
	// native endianness), or nil for none. See CompileSeccomp.
	Seccomp []byte   `json:"seccomp,omitempty"`
	Rlimits []Rlimit `json:"rlimits,omitempty"`
	// OOMScoreAdj is written to /proc/self/oom_score_adj when not nil.
	OOMScoreAdj *int `json:"oom_score_adj,omitempty"`
}

// Rlimit is one resource limit, e.g. {"RLIMIT_NOFILE", 1024, 2048}.
type Rlimit struct {
	Type string `json:"type"`
	Soft uint64 `json:"soft"`
	Hard uint64 `json:"hard"`
}

// DefaultCapabilities is docker's default capability set.
var DefaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
	"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
	"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// DefaultMaskedPaths are the paths docker makes unreadable.
var DefaultMaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
	"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	"/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
}

// DefaultReadonlyPaths are the paths docker remounts read-only.
var DefaultReadonlyPaths = []string{
	"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger",
}

// DefaultPath is docker's PATH for containers whose image sets none.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
