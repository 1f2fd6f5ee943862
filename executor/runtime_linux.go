package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/layers"
)

// deviceNumber returns the major:minor of a block device path.
func deviceNumber(path string) (int64, int64, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err == nil && st.Mode&unix.S_IFMT == unix.S_IFBLK {
		return int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
	}
	b, err := os.ReadFile(filepath.Join("/sys/block", filepath.Base(path), "dev"))
	if err != nil {
		return 0, 0, fmt.Errorf("%s is not a block device", path)
	}
	var maj, min int64
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); err != nil {
		return 0, 0, fmt.Errorf("%s: reading its device number: %w", path, err)
	}
	return maj, min, nil
}

// CreateContainer makes a container from opts: its record
// (<root>/containers/<id>/config.json), its /etc/hosts, /etc/hostname and
// /etc/resolv.conf, its writable layer on the image, and its name
// (<root>/names/<name> → id). sync makes the record durable (fsync);
// containers removed when they end (--rm) skip it.
func CreateContainer(root string, opts *RunOptions, log *slog.Logger) (c *Container, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	store, err := layers.Open(root)
	if err != nil {
		return nil, err
	}
	// Hold the image store's GC lock (shared) from resolving the image
	// until the record naming its ID exists, so GC cannot remove its layers
	// in between (the store reads image_id from config.json).
	unlock, err := lockShared(filepath.Join(root, "images", "gc.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	t0 := time.Now()
	img, err := store.Image(opts.Image)
	log.Debug("image resolved", "took", time.Since(t0))
	if err != nil {
		if errors.Is(err, layers.ErrNotFound) {
			return nil, fmt.Errorf("unable to find image '%s' locally: %w", opts.Image, err)
		}
		return nil, err
	}
	id := opts.ID
	if id == "" {
		id = newID()
	}
	if opts.Name == "" {
		opts.Name = randomName()
		for i := 0; i < 10 && nameTaken(root, opts.Name); i++ {
			opts.Name = randomName() + fmt.Sprint(i)
		}
	} else if !validName(opts.Name) {
		return nil, fmt.Errorf("invalid container name %q, only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", opts.Name)
	}
	c, err = buildContainer(root, id, opts, &img.Config, img.ID)
	if err != nil {
		return nil, err
	}
	if err := reserveName(root, c.Name, id); err != nil {
		return nil, err
	}
	// The directory is filled under a temporary name and renamed into
	// place: readers never see a partial record, and no file needs a
	// temporary copy of its own.
	dir := containerDir(root, id)
	tmp := filepath.Join(root, "containers", ".new-"+id)
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
			releaseName(root, opts.Name, id) // c is nil here: returns say "nil, err"
		}
	}()
	if err := os.Mkdir(tmp, 0o700); err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	// The directory stays locked while it is filled: a cleanup of
	// interrupted creates (clearInterruptedCreates) skips a locked one,
	// whoever is creating it. The kernel drops the lock if we are killed.
	if d, err := os.Open(tmp); err == nil {
		unix.Flock(int(d.Fd()), unix.LOCK_EX)
		defer d.Close()
	}
	// The rootfs: the image's layers, top first, under a writable layer
	// (what layers.PrepareRootfs makes, without its fsync on this path).
	var lower []string
	for i := len(img.ChainIDs) - 1; i >= 0; i-- {
		if !store.HasLayer(img.ChainIDs[i]) {
			return nil, fmt.Errorf("creating container %s: image %s: layer %s: %w", id, opts.Image, img.ChainIDs[i], layers.ErrNotFound)
		}
		lower = append(lower, store.LayerDir(img.ChainIDs[i]))
	}
	if len(lower) == 0 {
		lower = []string{filepath.Join(root, "layers", "empty")}
	}
	// The overlay is mounted in the container's own mount namespace only,
	// so every container can use the same mount point.
	mnt := filepath.Join(root, "run", "rootfs")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	r := container.Rootfs{Lower: lower, Upper: filepath.Join(dir, "upper"), Work: filepath.Join(dir, "work"),
		Target: mnt, Volatile: c.AutoRemove}
	for _, d := range []string{"upper", "work"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating container %s: %w", id, err)
		}
	}
	c.Runtime.Rootfs = r
	if err := prepareMounts(root, c); err != nil {
		return nil, err
	}
	log.Debug("rootfs prepared", "took", time.Since(t0))
	if err := writeEtcFiles(tmp, c); err != nil {
		return nil, err
	}
	if err := compileSeccomp(root, c); err != nil {
		return nil, err
	}
	if err := setupNetwork(root, c, tmp); err != nil {
		return nil, err
	}
	created := c
	defer func() {
		if err != nil {
			teardownNetwork(root, created)
		}
	}()
	log.Debug("seccomp ready", "took", time.Since(t0))
	if err := writeRecord(tmp, c, !c.AutoRemove); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("creating container %s: %w", id, err)
	}
	networkCreated(root, c)
	if !c.AutoRemove {
		syncDir(filepath.Dir(dir))
	}
	log.Debug("container created", "id", id, "name", c.Name, "image", img.ID)
	emitEvent(root, c, EventCreate, nil)
	return c, nil
}

func lockShared(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_SH)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking image store: %w", os.NewSyscallError("flock", err))
	}
	return func() { f.Close() }, nil
}

// writeRecord writes config.json into a directory nobody reads yet. The
// default seccomp program is left out (it is most of the record's size, and
// every block freed on this host's disk costs a discard at removal):
// LoadContainer takes it from the cache again.
func writeRecord(dir string, c *Container, sync bool) error {
	rec := *c
	if rec.SeccompProfile == "" {
		rec.Runtime.Process.Seccomp = nil
	}
	b, err := jsonMarshal(&rec)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(filepath.Join(dir, "config.json"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		_, err = f.Write(b)
		if err == nil && sync {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("writing container record: %w", err)
	}
	return nil
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// prepareMounts creates named volumes and missing bind sources (as docker
// does for -v), and picks the seccomp program.
func prepareMounts(root string, c *Container) error {
	for _, m := range c.Runtime.Mounts {
		if m.Type != "bind" || strings.HasPrefix(m.Source, containerDir(root, c.ID)) {
			continue
		}
		if _, err := os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
			if err := os.MkdirAll(m.Source, 0o755); err != nil {
				return fmt.Errorf("creating volume %s: %w", m.Source, err)
			}
		}
	}
	return nil
}

func compileSeccomp(root string, c *Container) error {
	p := &c.Runtime.Process
	switch c.SeccompProfile {
	case "unconfined":
		return nil
	case "":
		bpf, err := container.DefaultSeccomp(p.Capabilities, filepath.Join(root, "cache", "seccomp"))
		if err != nil {
			return err
		}
		p.Seccomp = bpf
	default:
		body, err := os.ReadFile(c.SeccompProfile)
		if err != nil {
			return fmt.Errorf("opening seccomp profile: %w", err)
		}
		bpf, err := container.SeccompFromJSON(body, p.Capabilities)
		if err != nil {
			return fmt.Errorf("seccomp profile %s: %w", c.SeccompProfile, err)
		}
		p.Seccomp = bpf
	}
	return nil
}

// writeEtcFiles writes the container's hosts, hostname and resolv.conf.
func writeEtcFiles(dir string, c *Container) error {
	hostname := c.Runtime.Hostname
	var hosts string
	if c.Network == "host" {
		b, _ := os.ReadFile("/etc/hosts")
		hosts = string(b)
	} else {
		hosts = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n" +
			"fe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"
	}
	resolv, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		resolv = nil
	}
	for name, data := range map[string]string{"hosts": hosts, "hostname": hostname + "\n", "resolv.conf": string(resolv)} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			return fmt.Errorf("writing container's /etc/%s: %w", name, err)
		}
	}
	return nil
}

func nameTaken(root, name string) bool {
	_, err := os.Lstat(filepath.Join(root, "names", name))
	return err == nil
}

// reserveName claims name for id: creating the symlink is atomic, so two
// commands never get the same name.
func reserveName(root, name, id string) error {
	dir := filepath.Join(root, "names")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	err := os.Symlink(id, filepath.Join(dir, name))
	if errors.Is(err, fs.ErrExist) {
		other, _ := os.Readlink(filepath.Join(dir, name))
		if _, serr := os.Stat(containerDir(root, other)); errors.Is(serr, fs.ErrNotExist) {
			// A stale name (its container is gone): take it over.
			os.Remove(filepath.Join(dir, name))
			return reserveName(root, name, id)
		}
		return fmt.Errorf("conflict: the container name %q is already in use by container %q; remove (or rename) that container to be able to reuse that name: %w", "/"+name, other, ErrNameInUse)
	}
	if err != nil {
		return fmt.Errorf("reserving name %s: %w", name, err)
	}
	return nil
}

func releaseName(root, name, id string) {
	p := filepath.Join(root, "names", name)
	if target, err := os.Readlink(p); err == nil && target == id {
		os.Remove(p)
	}
}

// StartContainer creates the container's cgroup and starts its init,
// recording the running state.
func StartContainer(root string, c *Container, o AttachOptions) (*Running, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := containerDir(root, c.ID)
	if o.Early == nil {
		if err := ensureNetwork(root, c); err != nil {
			return nil, err
		}
	}
	var host *cgroups.Host
	var cg cgroups.Cgroup
	var joiner container.Joiner
	if e := o.Early; e != nil {
		if e.id != c.ID {
			e.Abort()
			return nil, fmt.Errorf("starting container %s: the early start was for container %s", c.ID, e.id)
		}
		// The cgroup is being made in the background; its paths are known.
		host, cg = e.host, e.cg
		joiner = earlyJoiner{e}
	} else {
		var err error
		if host, err = cgroups.Detect(); err != nil {
			return nil, err
		}
		res := c.Resources
		t0 := time.Now()
		if cg, err = host.Create("stack/"+c.ID, &res); err != nil {
			return nil, fmt.Errorf("starting container %s: %w", c.ID, err)
		}
		log.Debug("cgroup created", "took", time.Since(t0))
		joiner = cg
	}
	st := &container.State{Status: container.Running, CreatedAt: c.Created, Cgroups: cg.Paths(), RestartCount: o.RestartCount}
	if c.Healthcheck != nil {
		st.Health = &container.Health{Status: container.HealthStarting}
	}
	cfg := c.Runtime
	if host.Mode == cgroups.Unified && !c.Resources.AllowAllDevices {
		// No device cgroup on v2 here (it needs a BPF program): without
		// it, CAP_MKNOD would let the container make any device node.
		cfg.Process.Capabilities, _ = container.AdjustCapabilities(cfg.Process.Capabilities, nil, []string{"CAP_MKNOD"})
	}
	if o.Foreground {
		cfg.ParentDeathSignal = pdeathsig(o)
	}
	// The caller waits for the container (Running.Wait): it is the
	// supervisor, whose death `stack rm` and `stack ps` can tell.
	st.Supervisor = os.Getpid()
	st.SupervisorStart, _ = container.ProcessStartTime(st.Supervisor)
	var pending *container.Pending
	if o.Early != nil {
		pending = o.Early.pending
	} else {
		var err error
		if pending, err = spawnInit(c.Runtime.Namespaces, c.Tty, o); err != nil {
			cg.Delete()
			return nil, err
		}
	}
	task, err := pending.Start(&cfg, joiner, o.Network)
	if err != nil {
		cg.Delete()
		return nil, err
	}
	st.Pid = task.Pid
	st.PidStart, _ = container.ProcessStartTime(task.Pid)
	st.StartedAt = time.Now().UTC()
	if err := container.WriteState(dir, st, !c.AutoRemove); err != nil {
		task.Signal(unix.SIGKILL)
		task.Wait()
		cg.Delete()
		return nil, err
	}
	emitEvent(root, c, EventStart, nil)
	return &Running{Container: c, Task: task, State: st, root: root, cg: cg, log: log}, nil
}

// SpawnInit begins the start of the container that `stack run` is about to
// create with opts (it sets opts.ID): pass the result to StartContainer in
// AttachOptions.Early, or Abort it when the creation fails.
func SpawnInit(root string, opts *RunOptions, o AttachOptions) (*Early, error) {
	if opts.ID == "" {
		opts.ID = newID()
	}
	ns, err := initNamespaces(root, opts)
	if err != nil {
		return nil, err
	}
	// The container's own network namespace file exists before the init
	// is cloned: the init's mount namespace is a copy of ours, and a bind
	// mount made after the copy would not be in it.
	// The options are checked before anything is made, so a bad one leaves
	// nothing behind.
	res, err := buildResources(opts)
	if err != nil {
		return nil, err
	}
	res.AllowAllDevices = opts.Privileged
	host, err := cgroups.Detect()
	if err != nil {
		return nil, err
	}
	netns, err := prepareNetNS(root, opts, ns)
	if err != nil {
		return nil, err
	}
	host.Warm()
	var cg cgroups.Cgroup
	created := make(chan error, 1)
	go func() {
		var err error
		cg, err = host.Create("stack/"+opts.ID, res)
		created <- err
	}()
	p, err := spawnInit(ns, opts.TTY, o)
	if cerr := <-created; err != nil || cerr != nil {
		if p != nil {
			p.Abort()
		}
		if cg != nil {
			cg.Delete()
		}
		releaseNetNS(netns)
		return nil, errors.Join(err, cerr)
	}
	e := &Early{pending: p, id: opts.ID, host: host, cg: cg, done: make(chan struct{}), netns: netns}
	go func() {
		defer close(e.done)
		e.err = e.cg.Enter(p.Pid())
	}()
	return e, nil
}

// earlyJoiner waits for the background Enter of an Early start: the init
// gets its config first and prepares its root filesystem meanwhile.
type earlyJoiner struct{ e *Early }

func (j earlyJoiner) Enter(pid int) error {
	<-j.e.done
	return j.e.err
}

// Abort kills the waiting init and removes its cgroup.
func (e *Early) Abort() {
	e.pending.Abort()
	<-e.done
	e.cg.Delete()
	releaseNetNS(e.netns)
}

func spawnInit(ns container.Namespaces, tty bool, o AttachOptions) (*container.Pending, error) {
	return container.Spawn(ns, tty, pdeathsig(o), container.StartOptions{
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Logger: o.Logger,
	})
}

// pdeathsig is the signal a container gets when its caller dies: SIGKILL
// for foreground containers.
func pdeathsig(o AttachOptions) int {
	if o.Foreground {
		return int(unix.SIGKILL)
	}
	return 0
}

// Wait waits for the container's main process, records how it ended
// (exit code, OOM kill) and tears the container down: its cgroup always,
// everything else too when it was started with --rm.
func (r *Running) Wait() (container.ExitStatus, error) {
	es, err := r.Task.Wait()
	if err != nil {
		return es, err
	}
	return es, r.finish(es)
}

// finish records how the container ended and tears it down.
func (r *Running) finish(es container.ExitStatus) error {
	t0 := time.Now()
	defer func() { r.log.Debug("container torn down", "took", time.Since(t0)) }()
	oom := false
	if n, err := r.cg.OOMKills(); err == nil && n > 0 {
		oom = true
	}
	attrs := map[string]string{"exitCode": strconv.Itoa(es.Code)}
	if oom {
		emitEvent(r.root, r.Container, EventOOM, nil)
	}
	if r.Container.AutoRemove {
		// The cgroup and the files go side by side: both wait on the
		// kernel (rmdir of cgroups, unlink and discard on disk).
		cgDone := make(chan struct{})
		go func() {
			defer close(cgDone)
			if err := r.cg.Delete(); err != nil {
				r.log.Warn("removing cgroup", "container", r.Container.ID, "err", err)
			}
		}()
		if r.beforeRecord != nil {
			<-cgDone
			r.beforeRecord()
		}
		emitEvent(r.root, r.Container, EventDie, attrs)
		err := removeFiles(r.root, r.Container)
		<-cgDone
		emitEvent(r.root, r.Container, EventDestroy, nil)
		return err
	}
	if err := r.cg.Delete(); err != nil {
		r.log.Warn("removing cgroup", "container", r.Container.ID, "err", err)
	}
	if r.beforeRecord != nil {
		r.beforeRecord()
	}
	// Read-modify-write: a stop may have set ManualStop meanwhile.
	end := time.Now().UTC()
	st, err := container.UpdateState(containerDir(r.root, r.Container.ID), r.State, true, func(st *container.State) error {
		st.Status = container.Exited
		st.ExitCode = es.Code
		st.FinishedAt = end
		st.OOMKilled = oom
		st.Pid, st.PidStart = 0, 0
		if r.restart != nil && r.restart(st) {
			st.Status = container.Restarting
		} else {
			st.Supervisor, st.SupervisorStart = 0, 0
		}
		st.Cgroups = nil
		if st.Health != nil {
			st.Health.Status = container.HealthUnhealthy
		}
		return nil
	})
	if st != nil {
		r.State = st
	}
	emitEvent(r.root, r.Container, EventDie, attrs)
	return err
}

// LoadContainer finds a container by name, full ID or unique ID prefix.
func LoadContainer(root, ref string) (*Container, *container.State, error) {
	c, st, err := loadRecord(root, ref)
	if err != nil {
		return nil, nil, err
	}
	if c.SeccompProfile == "" && c.Runtime.Process.Seccomp == nil {
		if err := compileSeccomp(root, c); err != nil {
			return nil, nil, fmt.Errorf("reading container %s: %w", c.ID, err)
		}
	}
	return c, st, nil
}

// loadRecord reads a container's record and state, without the seccomp
// program that LoadContainer adds.
func loadRecord(root, ref string) (*Container, *container.State, error) {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return nil, nil, err
	}
	return readRecord(root, id)
}

func readRecord(root, id string) (*Container, *container.State, error) {
	dir := containerDir(root, id)
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("reading container %s: %w", id, err)
	}
	var c Container
	if err := jsonUnmarshal(b, &c); err != nil {
		return nil, nil, fmt.Errorf("reading container %s: %w", id, err)
	}
	st, err := container.ReadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		st, err = &container.State{Status: container.Created, CreatedAt: c.Created}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	return &c, st, nil
}

func resolveContainer(root, ref string) (string, error) {
	if ref == "" {
		return "", fmt.Errorf("no such container: %q: %w", ref, ErrContainerNotFound)
	}
	if target, err := os.Readlink(filepath.Join(root, "names", strings.TrimPrefix(ref, "/"))); err == nil {
		if _, err := os.Stat(containerDir(root, target)); err == nil {
			return target, nil
		}
	}
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	var match []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ref) && e.IsDir() {
			if _, err := os.Stat(filepath.Join(root, "containers", e.Name(), "config.json")); err == nil {
				match = append(match, e.Name())
			}
		}
	}
	switch len(match) {
	case 0:
		return "", fmt.Errorf("no such container: %s: %w", ref, ErrContainerNotFound)
	case 1:
		return match[0], nil
	}
	return "", fmt.Errorf("multiple IDs found with provided prefix: %s", ref)
}

// IsRunning reports whether the recorded init process still runs, and
// whether whoever waits for it (the supervisor) does.
func IsRunning(st *container.State) (initAlive, supervisorAlive bool) {
	if st.Status != container.Running && st.Status != container.Paused {
		return false, false
	}
	initAlive = container.Alive(st.Pid, st.PidStart)
	supervisorAlive = st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart)
	return initAlive, supervisorAlive
}

// RemoveContainer removes a container: its processes (only with force
// when it runs under a live supervisor), cgroup, writable layer, files,
// name, and (with volumes) its anonymous volumes. A container whose
// supervisor is gone (a killed `stack run` or shim) is cleaned up without
// force. A live shim is stopped first, so nothing writes to the container's
// directory while it is removed.
func RemoveContainer(root, ref string, force, volumes bool) error {
	c, _, err := loadRecord(root, ref)
	if err != nil {
		return err
	}
	dir := containerDir(root, c.ID)
	unlock, err := container.Lock(dir, container.OpLock)
	if err != nil {
		if _, serr := os.Stat(dir); errors.Is(serr, fs.ErrNotExist) {
			return fmt.Errorf("no such container: %s: %w", ref, ErrContainerNotFound)
		}
		return err
	}
	defer unlock()
	st, err := container.ReadState(dir)
	if errors.Is(err, fs.ErrNotExist) {
		st, err = &container.State{Status: container.Created}, nil
	}
	if err != nil {
		return err
	}
	initAlive, _ := IsRunning(st)
	// A supervisor may be alive with any status: restarting, or leaving.
	supAlive := st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart)
	if supAlive && (initAlive || st.Status == container.Restarting) && !force {
		return fmt.Errorf("you cannot remove a running container %s; stop the container before attempting removal or force remove", c.ID)
	}
	if supAlive {
		// Keep the supervisor from restarting it, end the container, and
		// let the supervisor record the end and leave.
		container.UpdateState(dir, st, false, func(d *container.State) error {
			d.ManualStop = true
			return nil
		})
		if initAlive {
			unix.Kill(st.Pid, unix.SIGKILL)
		}
		if len(st.Cgroups) > 0 {
			cgroups.Open(st.Cgroups).Kill()
		}
		if st.Supervisor != os.Getpid() {
			unix.Kill(st.Supervisor, unix.SIGUSR1)
			waitGone(st.Supervisor, st.SupervisorStart, 10*time.Second)
		}
	} else if initAlive {
		unix.Kill(st.Pid, unix.SIGKILL)
	}
	if len(st.Cgroups) > 0 {
		if err := cgroups.Open(st.Cgroups).Delete(); err != nil {
			return fmt.Errorf("removing container %s: %w", c.ID, err)
		}
	}
	if initAlive {
		waitGone(st.Pid, st.PidStart, 5*time.Second)
	}
	if volumes {
		c.AutoRemove = true // remove anonymous volumes below
	}
	_, statErr := os.Stat(dir)
	if err := removeFiles(root, c); err != nil {
		return err
	}
	if statErr == nil {
		emitEvent(root, c, EventDestroy, nil)
	}
	return nil
}

func waitGone(pid int, start uint64, d time.Duration) {
	deadline := time.Now().Add(d)
	for container.Alive(pid, start) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
}

// removeFiles removes the container's directory (record, state, writable
// layer), its name and, for --rm containers, its anonymous volumes.
func removeFiles(root string, c *Container) error {
	if err := teardownNetwork(root, c); err != nil {
		return fmt.Errorf("removing container %s: %w", c.ID, err)
	}
	dir := containerDir(root, c.ID)
	// The overlay lives in the container's mount namespace only and is
	// gone with its last process: the directories are plain files now.
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("removing container %s: %w", c.ID, err)
	}
	releaseName(root, c.Name, c.ID)
	if c.AutoRemove {
		for _, v := range c.Anonymous {
			os.RemoveAll(filepath.Join(root, "volumes", v))
		}
	}
	return nil
}

// ExecContainer runs a command in a running container: in all its
// namespaces and its cgroup, with its environment, capabilities, seccomp
// program and user unless opts override them.
func ExecContainer(root, ref string, o ExecOptions) (*container.Task, error) {
	c, st, err := LoadContainer(root, ref)
	if err != nil {
		return nil, err
	}
	if alive, _ := IsRunning(st); !alive {
		return nil, fmt.Errorf("container %s is not running: %w", c.ID, container.ErrNotRunning)
	}
	if st.Status == container.Paused {
		return nil, fmt.Errorf("container %s is paused, unpause the container before exec", c.ID)
	}
	p := c.Runtime.Process
	p.Args = o.Args
	p.Terminal = o.TTY
	env := append([]string(nil), p.Env...)
	if o.TTY && !hasKey(env, "TERM") {
		env = append(env, "TERM=xterm")
	}
	for _, e := range o.Env {
		if !strings.Contains(e, "=") {
			if v, ok := os.LookupEnv(e); ok {
				e += "=" + v
			} else {
				continue
			}
		}
		env = setKey(env, e)
	}
	p.Env = env
	if o.Workdir != "" {
		p.Cwd = o.Workdir
	}
	if o.User != "" {
		p.User = o.User
	}
	if o.Privileged {
		p.Capabilities = container.AllCapabilities()
		p.Seccomp = nil
		p.NoNewPrivileges = false
	}
	var cg container.Joiner
	if len(st.Cgroups) > 0 {
		cg = cgroups.Open(st.Cgroups)
	}
	return container.Exec(st.Pid, &p, container.StartOptions{
		Stdin: o.Stdin, Stdout: o.Stdout, Stderr: o.Stderr, Cgroup: cg, Logger: o.Logger,
	})
}

func hasKey(env []string, k string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, k+"=") {
			return true
		}
	}
	return false
}

func setKey(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// ContainerStatus returns the container's state as its record says,
// cross-checked with the kernel: a container recorded as running (or
// restarting) whose supervisor is gone is dead, with Error saying so; one
// whose process is gone with no one left to record it is exited.
func ContainerStatus(root, ref string) (*container.State, error) {
	_, st, err := loadRecord(root, ref)
	if err != nil {
		return nil, err
	}
	return observeState(st), nil
}

// observeState cross-checks a recorded state with the kernel.
func observeState(st *container.State) *container.State {
	if !st.Status.Active() {
		return st
	}
	supAlive := st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart)
	if supAlive {
		return st
	}
	cp := *st
	cp.Status = container.Dead
	if st.Supervisor == 0 {
		cp.Error = "no supervisor was recorded"
	} else {
		cp.Error = fmt.Sprintf("its supervisor (pid %d) is gone", st.Supervisor)
	}
	if st.Status != container.Restarting && !container.Alive(st.Pid, st.PidStart) {
		cp.Error += "; its process is gone too"
	}
	return &cp
}

// lockContainer resolves ref and takes the container's op lock.
func lockContainer(root, ref string) (*Container, func(), error) {
	c, _, err := loadRecord(root, ref)
	if err != nil {
		return nil, nil, err
	}
	unlock, err := container.Lock(containerDir(root, c.ID), container.OpLock)
	if err != nil {
		return nil, nil, err
	}
	return c, unlock, nil
}

// StopContainer stops a container as docker does: its stop signal to the
// main process, timeout to end (negative: wait for ever), then SIGKILL to
// every process of its cgroup. Its restart policy does not apply to this
// end. Stopping a container that does not run is not an error. It returns
// once the end is recorded.
func StopContainer(ctx context.Context, root, ref string, timeout time.Duration) error {
	c, unlock, err := lockContainer(root, ref)
	if err != nil {
		return err
	}
	defer unlock()
	return stopLocked(ctx, root, c, timeout)
}

func stopLocked(ctx context.Context, root string, c *Container, timeout time.Duration) error {
	dir := containerDir(root, c.ID)
	st, err := container.UpdateState(dir, &container.State{Status: container.Created, CreatedAt: c.Created}, true, func(st *container.State) error {
		if !st.Status.Active() {
			return errStopped
		}
		st.ManualStop = true
		return nil
	})
	if errors.Is(err, errStopped) {
		return nil
	}
	if err != nil {
		return err
	}
	supAlive := st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart)
	initAlive := st.Status != container.Restarting && container.Alive(st.Pid, st.PidStart)
	var cg cgroups.Cgroup
	if len(st.Cgroups) > 0 {
		cg = cgroups.Open(st.Cgroups)
	}
	killed := false
	if initAlive {
		sig, _ := ParseSignal(c.StopSignal)
		if sig == 0 {
			sig = int(unix.SIGTERM)
		}
		emitEvent(root, c, EventKill, map[string]string{"signal": strconv.Itoa(sig)})
		unix.Kill(st.Pid, unix.Signal(sig))
		if st.Status == container.Paused && cg != nil {
			cg.Freeze(false) // the signal is delivered once thawed
		}
		if !waitGoneCtx(ctx, st.Pid, st.PidStart, timeout) {
			emitEvent(root, c, EventKill, map[string]string{"signal": strconv.Itoa(int(unix.SIGKILL))})
			unix.Kill(st.Pid, unix.SIGKILL)
			if cg != nil {
				cg.Kill()
			}
			killed = true
			waitGone(st.Pid, st.PidStart, 10*time.Second)
		}
	}
	if supAlive {
		if st.Supervisor != os.Getpid() {
			// Wake a supervisor waiting to restart; wait for it to record.
			unix.Kill(st.Supervisor, unix.SIGUSR1)
		}
		waitRecorded(dir, st, 10*time.Second)
	} else {
		// No supervisor: record the end here (its exit status is lost).
		if cg != nil {
			cg.Delete()
		}
		code := 128 + int(unix.SIGTERM)
		if killed || !initAlive {
			code = 128 + int(unix.SIGKILL)
		}
		container.UpdateState(dir, st, true, func(d *container.State) error {
			d.Status = container.Exited
			d.ExitCode = code
			d.FinishedAt = time.Now().UTC()
			d.Pid, d.PidStart, d.Supervisor, d.SupervisorStart = 0, 0, 0, 0
			d.Cgroups = nil
			return nil
		})
		emitEvent(root, c, EventDie, map[string]string{"exitCode": strconv.Itoa(code)})
	}
	emitEvent(root, c, EventStop, nil)
	return nil
}

// waitGoneCtx waits for the process to end within d (negative: no bound)
// or ctx's end; it reports whether the process ended.
func waitGoneCtx(ctx context.Context, pid int, start uint64, d time.Duration) bool {
	var deadline <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		deadline = t.C
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for container.Alive(pid, start) {
		select {
		case <-deadline:
			return false
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
	return true
}

// waitRecorded waits until the state no longer shows the process prev
// recorded as running (the supervisor recorded its end), or the
// supervisor is gone.
func waitRecorded(dir string, prev *container.State, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := container.ReadState(dir)
		if err != nil || !st.Status.Active() || st.Supervisor == 0 ||
			!container.Alive(st.Supervisor, st.SupervisorStart) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// KillContainer sends sig to the container's main process. SIGKILL and
// the container's stop signal count as a stop: the restart policy does not
// bring it back (docker's behaviour).
func KillContainer(root, ref string, sig unix.Signal) error {
	c, unlock, err := lockContainer(root, ref)
	if err != nil {
		return err
	}
	defer unlock()
	dir := containerDir(root, c.ID)
	stopSig, _ := ParseSignal(c.StopSignal)
	st, err := container.UpdateState(dir, nil, true, func(st *container.State) error {
		if st.Status != container.Running && st.Status != container.Paused || !container.Alive(st.Pid, st.PidStart) {
			return fmt.Errorf("cannot kill container: %s: container %s is not running: %w", c.Name, c.ID, container.ErrNotRunning)
		}
		if sig == unix.SIGKILL || int(sig) == stopSig {
			st.ManualStop = true
		}
		return nil
	})
	if err != nil {
		return err
	}
	emitEvent(root, c, EventKill, map[string]string{"signal": strconv.Itoa(int(sig))})
	if err := unix.Kill(st.Pid, sig); err != nil {
		return fmt.Errorf("killing container %s: %w", c.ID, err)
	}
	return nil
}

// PauseContainer freezes every process of the container (freezer on
// cgroup v1, cgroup.freeze on v2).
func PauseContainer(root, ref string) error { return setPaused(root, ref, true) }

// UnpauseContainer thaws a paused container.
func UnpauseContainer(root, ref string) error { return setPaused(root, ref, false) }

func setPaused(root, ref string, paused bool) error {
	c, unlock, err := lockContainer(root, ref)
	if err != nil {
		return err
	}
	defer unlock()
	dir := containerDir(root, c.ID)
	_, err = container.UpdateState(dir, nil, true, func(st *container.State) error {
		if !container.Alive(st.Pid, st.PidStart) || st.Status != container.Running && st.Status != container.Paused {
			return fmt.Errorf("container %s is not running: %w", c.ID, container.ErrNotRunning)
		}
		if paused && st.Status == container.Paused {
			return fmt.Errorf("container %s is already paused", c.ID)
		}
		if !paused && st.Status != container.Paused {
			return fmt.Errorf("container %s is not paused", c.ID)
		}
		if err := cgroups.Open(st.Cgroups).Freeze(paused); err != nil {
			return fmt.Errorf("pausing container %s: %w", c.ID, err)
		}
		st.Status = container.Running
		if paused {
			st.Status = container.Paused
		}
		return nil
	})
	if err != nil {
		return err
	}
	if paused {
		emitEvent(root, c, EventPause, nil)
	} else {
		emitEvent(root, c, EventUnpause, nil)
	}
	return nil
}

// WaitContainer blocks until the container is not running (nor paused)
// and returns its exit code; a dead container (supervisor gone) returns -1
// with no error once its process is gone.
func WaitContainer(ctx context.Context, root, ref string) (int, error) {
	id, err := resolveContainer(root, ref)
	if err != nil {
		return 0, err
	}
	dir := containerDir(root, id)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := container.ReadState(dir)
		if errors.Is(err, fs.ErrNotExist) {
			if _, derr := os.Stat(dir); errors.Is(derr, fs.ErrNotExist) {
				return 0, fmt.Errorf("no such container: %s: %w", ref, ErrContainerNotFound)
			}
			st, err = &container.State{Status: container.Created}, nil
		}
		if err != nil {
			return 0, err
		}
		ob := observeState(st)
		switch {
		case ob.Status == container.Exited:
			return ob.ExitCode, nil
		case ob.Status == container.Dead && !container.Alive(st.Pid, st.PidStart):
			return -1, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-tick.C:
		}
	}
}

// RestartContainer stops the container (as StopContainer) and starts it
// again under a new supervisor.
func RestartContainer(ctx context.Context, root, ref string, timeout time.Duration, log *slog.Logger) error {
	c, unlock, err := lockContainer(root, ref)
	if err != nil {
		return err
	}
	err = stopLocked(ctx, root, c, timeout)
	unlock() // the new supervisor takes the lock for its start
	if err != nil {
		return err
	}
	if err := StartDetached(root, c, log); err != nil {
		return err
	}
	emitEvent(root, c, EventRestart, nil)
	return nil
}

// ContainerInfo is one container as `stack ps` lists it.
type ContainerInfo struct {
	Container *Container
	State     *container.State // observed (ContainerStatus's rules)
}

// ListContainers reads every container's record and observed state,
// newest first. Records that cannot be read are skipped.
func ListContainers(root string) ([]ContainerInfo, error) {
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	out := make([]ContainerInfo, 0, len(entries))
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		c, st, err := readRecord(root, e.Name())
		if err != nil {
			continue
		}
		out = append(out, ContainerInfo{Container: c, State: observeState(st)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Container.Created.After(out[j].Container.Created) })
	return out, nil
}

// ContainerCgroup opens a running container's cgroup (for stats and top).
func ContainerCgroup(st *container.State) (cgroups.Cgroup, error) {
	if len(st.Cgroups) == 0 {
		return nil, container.ErrNotRunning
	}
	return cgroups.Open(st.Cgroups), nil
}
