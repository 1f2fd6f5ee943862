package container

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// Init is the body of the hidden `__stack_init` entrypoint: the container's
// first process, started by Start in new namespaces. It returns only on
// failure (the error has then been sent to the parent as data); on success it
// becomes the container's command through execve.
func Init() int {
	runtime.LockOSThread()
	sync, cfgFile, err := childFDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack init:", err)
		return 1
	}
	var cfg Config
	b, err := io.ReadAll(cfgFile)
	cfgFile.Close()
	if err == nil {
		err = json.Unmarshal(b, &cfg)
	}
	if err != nil {
		return fail(sync, fmt.Errorf("reading config: %w", err))
	}
	if err := initContainer(&cfg, sync); err != nil {
		return fail(sync, err)
	}
	return 0 // not reached: initContainer execs
}

func childFDs() (sync int, cfg *os.File, err error) {
	sync, err1 := strconv.Atoi(os.Getenv(envSyncFD))
	cfd, err2 := strconv.Atoi(os.Getenv(envConfigFD))
	if err1 != nil || err2 != nil {
		return -1, nil, fmt.Errorf("%s/%s not set: not started by the stack runtime", envSyncFD, envConfigFD)
	}
	unix.CloseOnExec(sync)
	unix.CloseOnExec(cfd)
	os.Unsetenv(envSyncFD)
	os.Unsetenv(envConfigFD)
	// Blocking reads: the parent's end was non-blocking (the flag belongs
	// to the shared open file), and a pollable File would park this locked
	// goroutine and hand its thread over on every read.
	unix.SetNonblock(cfd, false)
	return sync, os.NewFile(uintptr(cfd), "config"), nil
}

// fail sends err to the parent and returns the init's exit code.
func fail(sync int, err error) int {
	ie, ok := errors.AsType[*InitError](err)
	if !ok {
		ie = &InitError{Msg: err.Error(), Code: 125}
	}
	if serr := sendMsg(sync, syncMsg{Type: msgError, Error: ie}, -1); serr != nil {
		fmt.Fprintln(os.Stderr, "stack init:", ie.Msg)
	}
	return 1
}

func initContainer(cfg *Config, sync int) error {
	if p := cfg.Namespaces.NetPath; p != "" {
		if err := joinNamespace(p, unix.CLONE_NEWNET); err != nil {
			return err
		}
	}
	if !cfg.Namespaces.HostNetwork && cfg.Namespaces.NetPath == "" {
		// A new network namespace starts with lo down: up, as docker has it.
		if err := loopbackUp(); err != nil {
			return err
		}
	}
	if cfg.Hostname != "" {
		if err := unix.Sethostname([]byte(cfg.Hostname)); err != nil {
			return fmt.Errorf("setting hostname: %w", err)
		}
	}
	if cfg.Domainname != "" {
		if err := unix.Setdomainname([]byte(cfg.Domainname)); err != nil {
			return fmt.Errorf("setting domainname: %w", err)
		}
	}
	unix.Umask(0o022)
	// Hosts with systemd share mounts by default: stop every mount event here
	// from propagating back to the host.
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return &MountError{Op: "making / private", Target: "/", Err: err}
	}
	root, err := mountRootfs(&cfg.Rootfs)
	if err != nil {
		return err
	}
	if err := mountStandard(root, cfg); err != nil {
		return err
	}
	for i := range cfg.Mounts {
		if err := mountOne(root, &cfg.Mounts[i]); err != nil {
			return err
		}
	}
	if err := makeDevices(root); err != nil {
		return err
	}
	if err := makeExtraDevices(root, cfg.Devices); err != nil {
		return err
	}
	var ptyName string
	if cfg.Process.Terminal {
		if ptyName, err = setupConsole(root, sync, true); err != nil {
			return err
		}
	}
	if err := pivotRoot(root); err != nil {
		return err
	}
	for _, p := range cfg.ReadonlyPaths {
		if err := readonlyPath(p); err != nil {
			return err
		}
	}
	for _, p := range cfg.MaskedPaths {
		if err := maskPath(p); err != nil {
			return err
		}
	}
	if cfg.ReadonlyRootfs {
		if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_RDONLY, ""); err != nil {
			return &MountError{Op: "remounting read-only", Target: "/", Err: err}
		}
	}
	if _, err := unix.Setsid(); err != nil {
		return fmt.Errorf("setsid: %w", err)
	}
	if ptyName != "" {
		if err := takeConsole(ptyName); err != nil {
			return err
		}
	}
	pp, err := prepareProcess(&cfg.Process)
	if err != nil {
		return err
	}
	if err := waitGo(sync); err != nil {
		return err
	}
	// In its cgroups now: they become the root of its cgroup namespace
	// (this thread's; execve keeps it).
	if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil {
		return fmt.Errorf("creating cgroup namespace: %w", err)
	}
	return finishProcess(pp, sync, cfg.ParentDeathSignal)
}

// loopbackUp sets IFF_UP on lo in this thread's network namespace.
func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

func joinNamespace(path string, kind int) error {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("joining namespace %s: %w", path, err)
	}
	defer unix.Close(fd)
	if err := unix.Setns(fd, kind); err != nil {
		return fmt.Errorf("joining namespace %s: %w", path, err)
	}
	return nil
}

// mountRootfs mounts the root filesystem and returns its path.
func mountRootfs(r *Rootfs) (string, error) {
	if r.Dir != "" {
		// pivot_root needs a mount point: bind the directory onto itself.
		if err := unix.Mount(r.Dir, r.Dir, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return "", &MountError{Op: "mounting rootfs", Source: r.Dir, Target: r.Dir, Type: "bind", Err: err}
		}
		return r.Dir, nil
	}
	if len(r.Lower) == 0 || r.Target == "" {
		return "", errors.New("mounting rootfs: config has neither a directory nor overlay layers")
	}
	if err := os.MkdirAll(r.Target, 0o755); err != nil {
		return "", &MountError{Op: "creating mount point", Target: r.Target, Type: "overlay", Err: err}
	}
	if err := mountOverlay(r); err != nil {
		return "", &MountError{Op: "mounting rootfs", Target: r.Target, Type: "overlay", Err: err}
	}
	return r.Target, nil
}

// overlayData returns the mount(2) option string of an overlay.
func overlayData(r *Rootfs) string {
	var b strings.Builder
	b.WriteString("lowerdir=")
	b.WriteString(strings.Join(r.Lower, ":"))
	if r.Upper != "" {
		b.WriteString(",upperdir=" + r.Upper + ",workdir=" + r.Work)
	}
	if r.Volatile {
		b.WriteString(",volatile")
	}
	return b.String()
}

func mountOverlay(r *Rootfs) error {
	data := overlayData(r)
	if len(data) < os.Getpagesize()-1 {
		return unix.Mount("overlay", r.Target, "overlay", 0, data)
	}
	// Too long for mount(2)'s one page of options: the new mount API takes
	// one lower directory per call ("lowerdir+", Linux 6.8).
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	for _, l := range r.Lower {
		if err := unix.FsconfigSetString(fd, "lowerdir+", l); err != nil {
			return fmt.Errorf("lowerdir+ %s: %w", l, err)
		}
	}
	if r.Upper != "" {
		if err := unix.FsconfigSetString(fd, "upperdir", r.Upper); err != nil {
			return err
		}
		if err := unix.FsconfigSetString(fd, "workdir", r.Work); err != nil {
			return err
		}
	}
	if r.Volatile {
		if err := unix.FsconfigSetFlag(fd, "volatile"); err != nil {
			return err
		}
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return err
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(mfd)
	return unix.MoveMount(mfd, "", unix.AT_FDCWD, r.Target, unix.MOVE_MOUNT_F_EMPTY_PATH)
}

const (
	devFlags = unix.MS_NOSUID | unix.MS_STRICTATIME
	stdFlags = unix.MS_NOSUID | unix.MS_NOEXEC | unix.MS_NODEV
)

// mountStandard makes /proc, /dev, /dev/pts, /dev/shm, /dev/mqueue and /sys.
func mountStandard(root string, cfg *Config) error {
	shm := cfg.ShmSize
	if shm <= 0 {
		shm = 64 << 20
	}
	sysFlags := uintptr(stdFlags | unix.MS_RDONLY)
	if cfg.Privileged {
		sysFlags = stdFlags
	}
	std := []struct {
		typ, dst string
		flags    uintptr
		data     string
	}{
		{"proc", "/proc", stdFlags, ""},
		{"tmpfs", "/dev", devFlags, "mode=755,size=65536k"},
		{"devpts", "/dev/pts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"tmpfs", "/dev/shm", stdFlags, "mode=1777,size=" + strconv.FormatInt(shm, 10)},
		{"mqueue", "/dev/mqueue", stdFlags, ""},
		{"sysfs", "/sys", sysFlags, ""},
	}
	for _, m := range std {
		dst := root + m.dst
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return &MountError{Op: "creating mount point", Target: m.dst, Type: m.typ, Err: err}
		}
		err := unix.Mount(m.typ, dst, m.typ, m.flags, m.data)
		if err != nil && m.typ == "sysfs" && errors.Is(err, unix.EPERM) {
			// sysfs needs a network namespace of our own in a user
			// namespace: fall back to the host's, read-only.
			err = unix.Mount("/sys", dst, "", unix.MS_BIND|unix.MS_REC, "")
			if err == nil && m.flags&unix.MS_RDONLY != 0 {
				err = unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|m.flags, "")
			}
		}
		if err != nil {
			return &MountError{Op: "mounting", Target: m.dst, Type: m.typ, Err: err}
		}
	}
	return nil
}

// parsedMount is a Mount's options split into mount(2) arguments.
type parsedMount struct {
	flags       uintptr // MS_BIND, MS_REC, MS_RDONLY, ...
	propagation uintptr
	data        string
}

var mountFlagNames = map[string]struct {
	clear bool
	flag  uintptr
}{
	"ro":          {false, unix.MS_RDONLY},
	"rw":          {true, unix.MS_RDONLY},
	"nosuid":      {false, unix.MS_NOSUID},
	"suid":        {true, unix.MS_NOSUID},
	"nodev":       {false, unix.MS_NODEV},
	"dev":         {true, unix.MS_NODEV},
	"noexec":      {false, unix.MS_NOEXEC},
	"exec":        {true, unix.MS_NOEXEC},
	"noatime":     {false, unix.MS_NOATIME},
	"relatime":    {false, unix.MS_RELATIME},
	"strictatime": {false, unix.MS_STRICTATIME},
	"nodiratime":  {false, unix.MS_NODIRATIME},
	"bind":        {false, unix.MS_BIND},
	"rbind":       {false, unix.MS_BIND | unix.MS_REC},
}

var propagationNames = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
	"shared": unix.MS_SHARED, "rshared": unix.MS_SHARED | unix.MS_REC,
}

func parseMountOptions(m *Mount) parsedMount {
	var p parsedMount
	var data []string
	if m.Type == "bind" {
		p.flags = unix.MS_BIND | unix.MS_REC
		for _, o := range m.Options {
			if o == "bind" { // non-recursive only when asked
				p.flags &^= unix.MS_REC
			}
		}
	}
	for _, o := range m.Options {
		if f, ok := mountFlagNames[o]; ok {
			if o == "bind" {
				continue
			}
			if f.clear {
				p.flags &^= f.flag
			} else {
				p.flags |= f.flag
			}
			continue
		}
		if pr, ok := propagationNames[o]; ok {
			p.propagation = pr
			continue
		}
		data = append(data, o)
	}
	p.data = strings.Join(data, ",")
	return p
}

// mountOne makes one configured mount under root.
func mountOne(root string, m *Mount) error {
	dst, err := securejoin.SecureJoin(root, m.Destination)
	if err != nil {
		return &MountError{Op: "resolving mount point", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
	}
	p := parseMountOptions(m)
	if m.Type == "bind" {
		fi, err := os.Stat(m.Source)
		if pe, ok := err.(*os.PathError); ok {
			err = pe.Err
		}
		if err != nil {
			return &MountError{Op: "mounting", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
		}
		if err := makeMountPoint(dst, fi.IsDir()); err != nil {
			return &MountError{Op: "creating mount point", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
		}
		if err := unix.Mount(m.Source, dst, "", p.flags&(unix.MS_BIND|unix.MS_REC), ""); err != nil {
			return &MountError{Op: "mounting", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
		}
		// A bind mount ignores other flags: apply them by a remount.
		if rest := p.flags &^ (unix.MS_BIND | unix.MS_REC); rest != 0 {
			if err := remountBind(dst, rest); err != nil {
				return &MountError{Op: "remounting", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
			}
		}
	} else {
		if err := makeMountPoint(dst, true); err != nil {
			return &MountError{Op: "creating mount point", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
		}
		if err := unix.Mount(m.Source, dst, m.Type, p.flags, p.data); err != nil {
			return &MountError{Op: "mounting", Source: m.Source, Target: m.Destination, Type: m.Type, Err: err}
		}
	}
	if p.propagation != 0 {
		if err := unix.Mount("", dst, "", p.propagation, ""); err != nil {
			return &MountError{Op: "setting propagation of", Target: m.Destination, Err: err}
		}
	}
	return nil
}

// remountBind applies flags to a bind mount, keeping the flags the kernel
// locks on it (a remount that drops nosuid/nodev/noexec of the source mount
// is refused in a user namespace).
func remountBind(dst string, flags uintptr) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dst, &st); err == nil {
		flags |= uintptr(st.Flags) & (unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	}
	return unix.Mount("", dst, "", unix.MS_BIND|unix.MS_REMOUNT|flags, "")
}

func makeMountPoint(dst string, dir bool) error {
	if dir {
		return os.MkdirAll(dst, 0o755)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_RDONLY|syscall.O_CLOEXEC, 0o644)
	if err != nil {
		if errors.Is(err, unix.EISDIR) {
			return nil
		}
		return err
	}
	return f.Close()
}

// makeDevices creates docker's device nodes and /dev links in root/dev.
func makeDevices(root string) error {
	devs := []struct {
		name         string
		major, minor uint32
	}{
		{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
		{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		p := root + "/dev/" + d.name
		err := unix.Mknod(p, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor)))
		if errors.Is(err, unix.EPERM) {
			// No mknod in a user namespace: bind the host's node.
			if err = makeMountPoint(p, false); err == nil {
				err = unix.Mount("/dev/"+d.name, p, "", unix.MS_BIND, "")
			}
		}
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("creating /dev/%s: %w", d.name, err)
		}
	}
	links := [][2]string{
		{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
		{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
	}
	for _, l := range links {
		if err := os.Symlink(l[0], root+"/dev/"+l[1]); err != nil && !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("creating /dev/%s: %w", l[1], err)
		}
	}
	return nil
}

// setupConsole opens a new pty in the container's devpts, sends the master
// to the parent, and (for init) bind-mounts the slave on /dev/console.
// It returns the slave's path inside the container.
func setupConsole(root string, sync int, devConsole bool) (string, error) {
	master, err := unix.Open(root+"/dev/pts/ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", fmt.Errorf("opening /dev/pts/ptmx: %w", err)
	}
	defer unix.Close(master)
	if err := unix.IoctlSetPointerInt(master, unix.TIOCSPTLCK, 0); err != nil {
		return "", fmt.Errorf("unlocking pty: %w", err)
	}
	n, err := unix.IoctlGetUint32(master, unix.TIOCGPTN)
	if err != nil {
		return "", fmt.Errorf("getting pty number: %w", err)
	}
	name := "/dev/pts/" + strconv.FormatUint(uint64(n), 10)
	if devConsole {
		if err := makeMountPoint(root+"/dev/console", false); err != nil {
			return "", fmt.Errorf("creating /dev/console: %w", err)
		}
		if err := unix.Mount(root+name, root+"/dev/console", "", unix.MS_BIND, ""); err != nil {
			return "", &MountError{Op: "mounting", Source: name, Target: "/dev/console", Type: "bind", Err: err}
		}
	}
	if err := sendMsg(sync, syncMsg{Type: msgConsole}, master); err != nil {
		return "", fmt.Errorf("sending console: %w", err)
	}
	return name, nil
}

// takeConsole makes the pty slave the controlling terminal and stdio.
func takeConsole(name string) error {
	fd, err := unix.Open(name, unix.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("opening %s: %w", name, err)
	}
	if err := unix.IoctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("setting controlling terminal: %w", err)
	}
	for i := 0; i < 3; i++ {
		if err := unix.Dup3(fd, i, 0); err != nil {
			return fmt.Errorf("dup pty: %w", err)
		}
	}
	if fd > 2 {
		unix.Close(fd)
	}
	return nil
}

// pivotRoot makes root the root of the mount namespace and detaches the
// old one, using pivot_root(".", "."): the old root is stacked on the new one
// and unmounted lazily, so no directory is needed for it.
func pivotRoot(root string) error {
	if err := unix.Chdir(root); err != nil {
		return fmt.Errorf("entering rootfs: %w", err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root %s: %w", root, err)
	}
	// The old root may be shared with other namespaces: make sure the
	// unmount below does not propagate to them.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return &MountError{Op: "making old root a slave", Target: "/", Err: err}
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return &MountError{Op: "unmounting old root", Target: "/", Err: err}
	}
	return unix.Chdir("/")
}

func readonlyPath(p string) error {
	if err := unix.Mount(p, p, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil
		}
		return &MountError{Op: "making read-only", Target: p, Err: err}
	}
	if err := remountBind(p, unix.MS_RDONLY); err != nil {
		return &MountError{Op: "making read-only", Target: p, Err: err}
	}
	return nil
}

func maskPath(p string) error {
	err := unix.Mount("/dev/null", p, "", unix.MS_BIND, "")
	if errors.Is(err, unix.ENOTDIR) {
		err = unix.Mount("tmpfs", p, "tmpfs", unix.MS_RDONLY, "size=0")
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return &MountError{Op: "masking", Target: p, Err: err}
	}
	return nil
}

// The process's own context is set in two steps, inside the container's
// root (after pivot_root, or after nsenter joined the mount namespace).

// preparedProcess is what prepareProcess found in the container: the
// user, environment and executable of the command.
type preparedProcess struct {
	p    *Process
	u    ExecUser
	env  []string
	path string
}

// prepareProcess resolves the user and the executable, and enters the
// working directory. It only reads the container's files (and may create
// the working directory), so it runs before the parent's go.
func prepareProcess(p *Process) (*preparedProcess, error) {
	if len(p.Args) == 0 {
		return nil, &InitError{Msg: "no command specified", Code: 125}
	}
	u, err := resolveUserIn("", p.User, p.AdditionalGroups)
	if err != nil {
		return nil, err
	}
	env := p.Env
	if !hasEnv(env, "HOME") {
		env = append(env, "HOME="+u.Home)
	}
	cwd := p.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := os.MkdirAll(cwd, 0o755); err != nil {
		return nil, fmt.Errorf("creating working directory %s: %w", cwd, err)
	}
	if err := unix.Chdir(cwd); err != nil {
		return nil, fmt.Errorf("changing to working directory %s: %w", cwd, err)
	}
	path, err := lookPath(p.Args[0], env)
	if err != nil {
		return nil, err
	}
	return &preparedProcess{p: p, u: u, env: env, path: path}, nil
}

// finishProcess sets the process's limits, capabilities, user,
// no_new_privs and seccomp program, and execs its command.
func finishProcess(pp *preparedProcess, sync, pdeathsig int) error {
	p, u, env, path := pp.p, pp.u, pp.env, pp.path
	for _, r := range p.Rlimits {
		n, ok := rlimitNumbers[r.Type]
		if !ok {
			return fmt.Errorf("unknown rlimit %q", r.Type)
		}
		if err := syscall.Setrlimit(n, &syscall.Rlimit{Cur: r.Soft, Max: r.Hard}); err != nil {
			return fmt.Errorf("setting %s to %d:%d: %w", r.Type, r.Soft, r.Hard, err)
		}
	}
	if p.OOMScoreAdj != nil {
		os.WriteFile("/proc/self/oom_score_adj", []byte(strconv.Itoa(*p.OOMScoreAdj)), 0)
	}
	caps, err := CapabilityMask(p.Capabilities)
	if err != nil {
		return err
	}
	// Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it
	// while we still have it (the default profile allows what follows).
	if !p.NoNewPrivileges && len(p.Seccomp) > 0 {
		if err := loadSeccomp(p.Seccomp); err != nil {
			return err
		}
	}
	if err := setCredentials(u, caps); err != nil {
		return err
	}
	if pdeathsig != 0 {
		// Changing credentials cleared it.
		if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(pdeathsig), 0, 0, 0); err != nil {
			return fmt.Errorf("setting parent death signal: %w", err)
		}
	}
	if p.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("setting no_new_privs: %w", err)
		}
		if len(p.Seccomp) > 0 {
			if err := loadSeccomp(p.Seccomp); err != nil {
				return err
			}
		}
	}
	if err := sendMsg(sync, syncMsg{Type: msgExec}, -1); err != nil {
		return fmt.Errorf("telling the parent: %w", err)
	}
	err = syscall.Exec(path, p.Args, env)
	return execError(p.Args[0], err)
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}

func execError(name string, err error) error {
	code := 126
	if errors.Is(err, unix.ENOENT) {
		code = 127
	}
	return &InitError{Msg: fmt.Sprintf("exec: %q: %v", name, err), Code: code}
}

// lookPath finds the command in the container's $PATH, as exec.LookPath
// would, with docker's messages and exit codes.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", execError(name, err)
		}
		return name, nil
	}
	path := DefaultPath
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var firstErr error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := dir + "/" + name
		err := checkExecutable(p)
		if err == nil {
			return p, nil
		}
		if firstErr == nil && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
			firstErr = err
		}
	}
	if firstErr != nil {
		return "", execError(name, firstErr)
	}
	return "", &InitError{Msg: fmt.Sprintf("exec: %q: executable file not found in $PATH", name), Code: 127}
}

func checkExecutable(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return unix.EISDIR
	}
	if st.Mode&0o111 == 0 {
		return unix.EACCES
	}
	return nil
}

var rlimitNumbers = map[string]int{
	"RLIMIT_CPU": unix.RLIMIT_CPU, "RLIMIT_FSIZE": unix.RLIMIT_FSIZE, "RLIMIT_DATA": unix.RLIMIT_DATA,
	"RLIMIT_STACK": unix.RLIMIT_STACK, "RLIMIT_CORE": unix.RLIMIT_CORE, "RLIMIT_RSS": unix.RLIMIT_RSS,
	"RLIMIT_NPROC": unix.RLIMIT_NPROC, "RLIMIT_NOFILE": unix.RLIMIT_NOFILE, "RLIMIT_MEMLOCK": unix.RLIMIT_MEMLOCK,
	"RLIMIT_AS": unix.RLIMIT_AS, "RLIMIT_LOCKS": unix.RLIMIT_LOCKS, "RLIMIT_SIGPENDING": unix.RLIMIT_SIGPENDING,
	"RLIMIT_MSGQUEUE": unix.RLIMIT_MSGQUEUE, "RLIMIT_NICE": unix.RLIMIT_NICE, "RLIMIT_RTPRIO": unix.RLIMIT_RTPRIO,
	"RLIMIT_RTTIME": unix.RLIMIT_RTTIME,
}

// setCredentials drops the bounding set to caps, switches to the user, and
// sets the effective, permitted and inheritable sets: caps for root, none for
// any other user (as docker). All calls are raw and act on this thread only:
// it is the thread that calls execve, and execve keeps its credentials.
func setCredentials(u ExecUser, caps uint64) error {
	// Up to the last capability the kernel knows: PR_CAPBSET_DROP says
	// EINVAL past it (cheaper than reading /proc/sys/kernel/cap_last_cap
	// from a procfs just mounted).
	for c := 0; c < 64; c++ {
		if caps&(1<<uint(c)) != 0 {
			in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(c), 0, 0, 0)
			if errors.Is(err, unix.EINVAL) {
				break
			}
			if in == 0 {
				// Not ours to give (a host without CAP_SYS_RESOURCE, say):
				// --privileged gets every capability we have.
				caps &^= 1 << uint(c)
			}
			continue
		}
		err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(c), 0, 0, 0)
		if errors.Is(err, unix.EINVAL) {
			break
		}
		if err != nil {
			return fmt.Errorf("dropping capability %s from the bounding set: %w", capName(c), err)
		}
	}
	groups := u.Groups
	var gp unsafe.Pointer
	if len(groups) > 0 {
		g32 := make([]uint32, len(groups))
		for i, g := range groups {
			g32[i] = uint32(g)
		}
		gp = unsafe.Pointer(&g32[0])
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETGROUPS, uintptr(len(groups)), uintptr(gp), 0); e != 0 {
		return fmt.Errorf("setting supplementary groups %v: %w", groups, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESGID, uintptr(u.GID), uintptr(u.GID), uintptr(u.GID)); e != 0 {
		return fmt.Errorf("setting gid %d: %w", u.GID, e)
	}
	if _, _, e := unix.RawSyscall(unix.SYS_SETRESUID, uintptr(u.UID), uintptr(u.UID), uintptr(u.UID)); e != 0 {
		return fmt.Errorf("setting uid %d: %w", u.UID, e)
	}
	eff := caps
	if u.UID != 0 {
		eff = 0
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(eff), Permitted: uint32(eff)},
		{Effective: uint32(eff >> 32), Permitted: uint32(eff >> 32)},
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("setting capabilities: %w", err)
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clearing ambient capabilities: %w", err)
	}
	return nil
}

func capName(c int) string {
	if c < len(capNames) {
		return capNames[c]
	}
	return "CAP_" + strconv.Itoa(c)
}

// loadSeccomp installs a classic-BPF filter on this thread.
func loadSeccomp(bpf []byte) error {
	if len(bpf)%8 != 0 || len(bpf) == 0 {
		return errors.New("loading seccomp filter: malformed program")
	}
	insns := make([]unix.SockFilter, len(bpf)/8)
	for i := range insns {
		b := bpf[i*8:]
		insns[i] = unix.SockFilter{
			Code: uint16(b[0]) | uint16(b[1])<<8,
			Jt:   b[2], Jf: b[3],
			K: uint32(b[4]) | uint32(b[5])<<8 | uint32(b[6])<<16 | uint32(b[7])<<24,
		}
	}
	prog := unix.SockFprog{Len: uint16(len(insns)), Filter: &insns[0]}
	if _, _, e := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog))); e != 0 {
		return fmt.Errorf("loading seccomp filter: %w", e)
	}
	return nil
}
