package executor

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/netplan"
)

// BuildRunner runs the commands of build steps (RUN, and the commands of
// a commit) in throwaway containers of stack's runtime: build.Runner.
//
// Each command gets a container of its own, with no record and no
// cgroup: its overlay (the step's layers under the build's upper
// directory) is mounted in its own mount namespace, and its processes
// die with its PID namespace when the command ends. The namespaces are
// docker's (mount, UTS, IPC, PID, cgroup, and network unless host), with
// docker's default capabilities, seccomp profile and masked paths.
type BuildRunner struct {
	root string
	log  *slog.Logger
	// Executable has the hidden init entrypoint (default /proc/self/exe).
	Executable string
	// HostNetNS is the network namespace that plays the host for the
	// build network's bridge (netplan.Options.HostNetNS; tests use their
	// own); "" is this process's.
	HostNetNS string

	mu        sync.Mutex
	net       *netplan.Manager // opened on the first RUN on the default network
	detaching sync.WaitGroup
}

// BuildNetwork is the bridge network of build steps on the "default"
// network (docker's build containers use its default bridge): made on
// the first such step, kept for the next builds, removed like any other
// network (`stack network rm stack-build`).
const BuildNetwork = "stack-build"

var _ build.Runner = (*BuildRunner)(nil)

// NewBuildRunner returns the runner of a state root; log may be nil.
func NewBuildRunner(root string, log *slog.Logger) *BuildRunner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &BuildRunner{root: root, log: log}
}

// Close waits for the build containers' endpoints to be released and
// releases the build network's handle, if one was opened.
func (r *BuildRunner) Close() error {
	r.detaching.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.net == nil {
		return nil
	}
	err := r.net.Close()
	r.net = nil
	return err
}

// network opens the network manager and makes sure the build network
// exists.
func (r *BuildRunner) network(ctx context.Context) (*netplan.Manager, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.net != nil {
		return r.net, nil
	}
	m, err := netplan.Open(r.root, netplan.Options{Logger: r.log, HostNetNS: r.HostNetNS})
	if err != nil {
		return nil, err
	}
	if _, err := m.CreateNetwork(ctx, netplan.NetworkConfig{Name: BuildNetwork, Labels: map[string]string{"stack.build": "true"}}); err != nil {
		m.Close()
		return nil, fmt.Errorf("making the build network: %w", err)
	}
	r.net = m
	return m, nil
}

// Run runs spec's command and returns its exit code.
func (r *BuildRunner) Run(ctx context.Context, spec build.RunSpec) (int, error) {
	var hostNet bool
	var bridge *netplan.Manager
	switch spec.Network {
	case build.NetworkNone:
	case build.NetworkHost:
		hostNet = true
	case "", build.NetworkDefault:
		m, err := r.network(ctx)
		if err != nil {
			return -1, err
		}
		bridge = m
	default:
		return -1, fmt.Errorf("build network %q: want default, none or host", spec.Network)
	}
	if len(spec.Args) == 0 {
		return -1, errors.New("running a build step: no command")
	}
	id := newID()
	lower := spec.Lower
	if len(lower) == 0 {
		empty := filepath.Join(r.root, "layers", "empty")
		if err := os.MkdirAll(empty, 0o755); err != nil {
			return -1, fmt.Errorf("running a build step: %w", err)
		}
		lower = []string{empty}
	}
	// A volatile overlay skips syncs; the kernel then leaves
	// work/work/incompat/volatile behind and refuses the next mount of the
	// same upper (a commit runs several commands in one): remove it, the
	// previous mount having ended cleanly.
	os.RemoveAll(filepath.Join(spec.Work, "work", "incompat", "volatile"))
	mnt := filepath.Join(r.root, "run", "rootfs")
	if err := os.MkdirAll(mnt, 0o700); err != nil {
		return -1, fmt.Errorf("running a build step: %w", err)
	}
	hostname := spec.Hostname
	if hostname == "" {
		if hostNet {
			hostname, _ = os.Hostname()
		} else {
			hostname = id[:12]
		}
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	cfg := container.Config{
		ID:            id,
		Hostname:      hostname,
		Rootfs:        container.Rootfs{Lower: lower, Upper: spec.Upper, Work: spec.Work, Target: mnt, Volatile: true},
		MaskedPaths:   container.DefaultMaskedPaths,
		ReadonlyPaths: container.DefaultReadonlyPaths,
		Namespaces:    container.Namespaces{HostNetwork: hostNet},
		Process: container.Process{
			Args: spec.Args, Env: spec.Env, Cwd: dir, User: spec.User,
			Capabilities: container.DefaultCapabilities,
		},
		ParentDeathSignal: int(unix.SIGKILL),
	}
	if hostNet || bridge != nil {
		// The host's name resolution, over files the image has (a mount
		// point the image lacks would be created in the step's layer).
		for _, f := range []string{"resolv.conf", "hosts"} {
			if imageHas(lower, "etc/"+f) {
				cfg.Mounts = append(cfg.Mounts, container.Mount{Type: "bind", Source: "/etc/" + f,
					Destination: "/etc/" + f, Options: []string{"bind", "ro", "rprivate"}})
			}
		}
	}
	bpf, err := container.DefaultSeccomp(cfg.Process.Capabilities, filepath.Join(r.root, "cache", "seccomp"))
	if err != nil {
		return -1, err
	}
	cfg.Process.Seccomp = bpf
	so := container.StartOptions{
		Stdin: spec.Stdin, Stdout: spec.Stdout, Stderr: spec.Stderr,
		Executable: r.Executable, Logger: r.log,
	}
	switch {
	case bridge != nil:
		so.OnCreate = func(pid int) error {
			if err := loopbackUp(pid); err != nil {
				return err
			}
			t0 := time.Now()
			_, err := bridge.Attach(ctx, netplan.AttachConfig{ContainerID: id, Name: "build-" + id[:12],
				Network: BuildNetwork, NetNS: netplan.NetNS{Pid: pid}})
			r.log.Debug("build container attached", "network", BuildNetwork, "took", time.Since(t0))
			return err
		}
		// Detaching waits for the kernel to delete the veth (RCU grace
		// periods: tens of milliseconds): it runs in the background, while
		// the step's layer is committed; Close waits for it.
		defer func() {
			r.detaching.Add(1)
			go func() {
				defer r.detaching.Done()
				t0 := time.Now()
				if err := bridge.DetachAll(context.WithoutCancel(ctx), id); err != nil {
					r.log.Warn("detaching a build container", "id", id, "err", err)
				}
				r.log.Debug("build container detached", "took", time.Since(t0))
			}()
		}()
	case !hostNet:
		so.OnCreate = loopbackUp // "none": loopback only, and up, as docker
	}
	task, err := container.Start(&cfg, so)
	if err != nil {
		var ie *container.InitError
		if errors.As(err, &ie) && (ie.Code == 126 || ie.Code == 127) {
			// The command could not be executed (not found, not
			// executable): docker reports it as the step's failure.
			if spec.Stderr != nil {
				fmt.Fprintln(spec.Stderr, ie.Error())
			}
			return ie.Code, nil
		}
		return -1, fmt.Errorf("starting the build container: %w", err)
	}
	stop := context.AfterFunc(ctx, func() { task.Signal(syscall.SIGKILL) })
	es, err := task.Wait()
	stop()
	if err != nil {
		return -1, fmt.Errorf("waiting for the build container: %w", err)
	}
	if ctx.Err() != nil {
		return -1, ctx.Err()
	}
	return es.Code, nil
}

// loopbackUp brings lo up in the network namespace of process pid.
func loopbackUp(pid int) error {
	ns, err := netns.GetFromPid(pid)
	if err != nil {
		return fmt.Errorf("opening the network namespace of %d: %w", pid, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("opening the network namespace of %d: %w", pid, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("finding lo: %w", err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing lo up: %w", err)
	}
	return nil
}

// imageHas reports whether a file is in one of the layers (topmost
// first) and not hidden by a whiteout above it.
func imageHas(lower []string, rel string) bool {
	for _, l := range lower {
		fi, err := os.Lstat(filepath.Join(l, rel))
		if err != nil {
			continue
		}
		if fi.Mode()&fs.ModeCharDevice != 0 {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Rdev == 0 {
				return false
			}
		}
		return true
	}
	return false
}
