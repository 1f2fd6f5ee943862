package container

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Start starts the container described by cfg: its init process in new
// namespaces, which mounts the root filesystem and execs cfg.Process. Start
// returns once the command runs (or with the init's error, as an
// *InitError, when it could not be started). The protocol is drawn in
// sync_linux.go. It is Spawn followed by Pending.Start.
func Start(cfg *Config, o StartOptions) (*Task, error) {
	p, err := Spawn(cfg.Namespaces, cfg.Process.Terminal, cfg.ParentDeathSignal, o)
	if err != nil {
		return nil, err
	}
	return p.Start(cfg, o.Cgroup, o.OnCreate)
}

// Pending is an init process that waits for its config. Spawning it before
// the container's config is complete lets the process start (fork, exec,
// Go runtime) overlap with the caller's own preparation.
type Pending struct {
	cmd  *exec.Cmd
	spec spawnSpec
	ch   *childStart
}

type spawnSpec struct {
	ns        Namespaces
	terminal  bool
	pdeathsig int
}

// Spawn starts an init process for a container with these namespaces,
// terminal setting and parent death signal, and the stdio of o (its Cgroup
// and OnCreate are Pending.Start's arguments); the config given to
// Pending.Start must agree with them.
func Spawn(ns Namespaces, terminal bool, pdeathsig int, o StartOptions) (*Pending, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	// No CLONE_NEWCGROUP here: the init makes its cgroup namespace once it
	// is in its cgroups, so that they are the namespace's root.
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID)
	if !ns.HostNetwork && ns.NetPath == "" {
		flags |= unix.CLONE_NEWNET
	}
	initArg := o.InitArg
	if initArg == "" {
		initArg = "__stack_init"
	}
	cmd := command(o.Executable, initArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  syscall.Signal(pdeathsig),
		Setsid:     o.Setsid,
	}
	if !terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	ch, err := spawnChild(cmd, nil, o.Logger)
	if err != nil {
		return nil, err
	}
	return &Pending{cmd: cmd, spec: spawnSpec{ns, terminal, pdeathsig}, ch: ch}, nil
}

// Pid is the host PID of the waiting init.
func (p *Pending) Pid() int { return p.ch.task.Pid }

// Start sends cfg to the init, puts it in cg (may be nil), calls onCreate
// (may be nil) and completes the start as Start does.
func (p *Pending) Start(cfg *Config, cg Joiner, onCreate func(pid int) error) (*Task, error) {
	if (spawnSpec{cfg.Namespaces, cfg.Process.Terminal, cfg.ParentDeathSignal}) != p.spec {
		p.Abort()
		return nil, fmt.Errorf("starting container %s: its config does not match the spawned init (namespaces, terminal or parent death signal)", cfg.ID)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		p.Abort()
		return nil, fmt.Errorf("encoding container config: %w", err)
	}
	return p.ch.complete(cfgJSON, cg, onCreate)
}

// Abort kills the waiting init and reaps it.
func (p *Pending) Abort() { p.ch.abort(nil) }

func command(executable, arg string) *exec.Cmd {
	if executable == "" {
		executable = "/proc/self/exe"
	}
	cmd := &exec.Cmd{Path: executable, Args: []string{"stack", arg}}
	// The child is short-lived Go code before execve: no GC work needed.
	cmd.Env = []string{"GOGC=off", "GOMAXPROCS=1"}
	return cmd
}

// childStart is a child process of the protocol, between its start and
// the exec of its command.
type childStart struct {
	cmd        *exec.Cmd
	cfgW       *os.File
	parentSock int
	task       *Task
	log        *slog.Logger
	t0         time.Time
}

// spawnChild starts cmd with the config pipe and the sync socket; pidOf
// finds the process to act on (nil: cmd itself).
func spawnChild(cmd *exec.Cmd, pidOf func() (int, error), log *slog.Logger) (*childStart, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating config pipe: %w", err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cfgR.Close()
		cfgW.Close()
		return nil, fmt.Errorf("creating sync socket: %w", err)
	}
	childSock := os.NewFile(uintptr(fds[1]), "sync")
	base := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfgR, childSock)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("%s=%d", envConfigFD, base),
		fmt.Sprintf("%s=%d", envSyncFD, base+1))
	c := &childStart{cmd: cmd, cfgW: cfgW, parentSock: fds[0], log: log, t0: time.Now()}
	err = cmd.Start()
	cfgR.Close()
	childSock.Close()
	if err != nil {
		cfgW.Close()
		unix.Close(c.parentSock)
		return nil, fmt.Errorf("starting container init: %w", err)
	}
	c.task = &Task{Pid: cmd.Process.Pid, proc: cmd.Process, wait: func() (*os.ProcessState, error) {
		err := cmd.Wait()
		if _, ok := err.(*exec.ExitError); ok {
			err = nil
		}
		return cmd.ProcessState, err
	}}
	if pidOf != nil {
		pid, err := pidOf()
		if err != nil {
			_, err = c.abort(err)
			return nil, err
		}
		proc, err := os.FindProcess(pid)
		if err != nil {
			_, err = c.abort(fmt.Errorf("finding process %d: %w", pid, err))
			return nil, err
		}
		c.task.Pid, c.task.proc = pid, proc
		c.task.wait = func() (*os.ProcessState, error) { return proc.Wait() }
	}
	log.Debug("container init started", "pid", c.task.Pid, "took", time.Since(c.t0))
	return c, nil
}

func (c *childStart) abort(err error) (*Task, error) {
	c.cfgW.Close()
	c.task.proc.Kill()
	c.task.wait()
	if c.task.Console != nil {
		c.task.Console.Close()
	}
	unix.Close(c.parentSock)
	return nil, err
}

// complete runs the rest of the protocol: send the config, enter the
// cgroup, call the hook, send go, and wait for the exec (EOF) or an error.
func (c *childStart) complete(cfgJSON []byte, cg Joiner, onCreate func(int) error) (*Task, error) {
	p, log := c.task, c.log
	// The config first: the child prepares the root filesystem while we
	// move it into its cgroups (a cgroup v1 migration waits for an RCU
	// grace period: milliseconds) and wire its network.
	if _, err := c.cfgW.Write(cfgJSON); err != nil && err != syscall.EPIPE {
		log.Debug("writing config to init", "err", err)
	}
	c.cfgW.Close()
	if cg != nil {
		if err := cg.Enter(p.Pid); err != nil {
			return c.abort(err)
		}
	}
	if onCreate != nil {
		if err := onCreate(p.Pid); err != nil {
			return c.abort(err)
		}
	}
	log.Debug("container init in its cgroups", "took", time.Since(c.t0))
	if err := sendMsg(c.parentSock, syncMsg{Type: msgGo}, -1); err != nil {
		log.Debug("sending go to init", "err", err)
	}
	execing := false
	for {
		m, f, err := recvMsg(c.parentSock)
		if err != nil {
			return c.abort(err)
		}
		if m == nil {
			break // EOF: execve closed the socket
		}
		log.Debug("message from init", "type", m.Type, "took", time.Since(c.t0))
		switch m.Type {
		case msgExec:
			execing = true
		case msgConsole:
			if f != nil {
				p.Console = f
			}
		case msgError:
			if f != nil {
				f.Close()
			}
			if m.Error != nil {
				return c.abort(m.Error)
			}
		}
	}
	unix.Close(c.parentSock)
	if !execing {
		// EOF before the exec message: the child died before it could
		// say why (a crash of the init itself).
		ps, _ := p.wait()
		st := "unknown status"
		if ps != nil {
			st = ps.String()
		}
		return nil, fmt.Errorf("container init ended before starting the command: %s", st)
	}
	return p, nil
}
