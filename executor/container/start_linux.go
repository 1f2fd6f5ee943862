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
// sync_linux.go.
func Start(cfg *Config, o StartOptions) (*Task, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding container config: %w", err)
	}
	// No CLONE_NEWCGROUP here: the init makes its cgroup namespace once it
	// is in its cgroups, so that they are the namespace's root.
	flags := uintptr(unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWPID)
	if !cfg.Namespaces.HostNetwork && cfg.Namespaces.NetPath == "" {
		flags |= unix.CLONE_NEWNET
	}
	initArg := o.InitArg
	if initArg == "" {
		initArg = "__stack_init"
	}
	cmd := command(o.Executable, initArg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: flags,
		Pdeathsig:  syscall.Signal(cfg.ParentDeathSignal),
		Setsid:     o.Setsid,
	}
	if !cfg.Process.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	return startChild(cmd, cfgJSON, o.Cgroup, o.OnCreate, nil, log)
}

func command(executable, arg string) *exec.Cmd {
	if executable == "" {
		executable = "/proc/self/exe"
	}
	cmd := &exec.Cmd{Path: executable, Args: []string{"stack", arg}}
	// The child is short-lived Go code before execve: no GC work needed.
	cmd.Env = []string{"GOGC=off", "GOMAXPROCS=1"}
	return cmd
}

// startChild runs the common part of the protocol: start cmd with the config
// pipe and the sync socket, let pidOf find the process to act on (nil: cmd
// itself), enter the cgroup, call the hook, send the config, and wait for the
// exec (EOF) or an error.
func startChild(cmd *exec.Cmd, cfgJSON []byte, cg Joiner, onCreate func(int) error, pidOf func() (int, error), log *slog.Logger) (*Task, error) {
	cfgR, cfgW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating config pipe: %w", err)
	}
	defer cfgW.Close()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		cfgR.Close()
		return nil, fmt.Errorf("creating sync socket: %w", err)
	}
	parentSock := fds[0]
	childSock := os.NewFile(uintptr(fds[1]), "sync")
	defer unix.Close(parentSock)

	base := 3 + len(cmd.ExtraFiles)
	cmd.ExtraFiles = append(cmd.ExtraFiles, cfgR, childSock)
	cmd.Env = append(cmd.Env,
		fmt.Sprintf("%s=%d", envConfigFD, base),
		fmt.Sprintf("%s=%d", envSyncFD, base+1))
	t0 := time.Now()
	err = cmd.Start()
	cfgR.Close()
	childSock.Close()
	if err != nil {
		return nil, fmt.Errorf("starting container init: %w", err)
	}
	p := &Task{Pid: cmd.Process.Pid, proc: cmd.Process, wait: func() (*os.ProcessState, error) {
		err := cmd.Wait()
		if _, ok := err.(*exec.ExitError); ok {
			err = nil
		}
		return cmd.ProcessState, err
	}}
	abort := func(err error) (*Task, error) {
		cfgW.Close()
		p.proc.Kill()
		p.wait()
		if p.Console != nil {
			p.Console.Close()
		}
		return nil, err
	}
	if pidOf != nil {
		pid, err := pidOf()
		if err != nil {
			return abort(err)
		}
		proc, err := os.FindProcess(pid)
		if err != nil {
			return abort(fmt.Errorf("finding process %d: %w", pid, err))
		}
		p.Pid, p.proc = pid, proc
		p.wait = func() (*os.ProcessState, error) { return proc.Wait() }
	}
	log.Debug("container init started", "pid", p.Pid, "took", time.Since(t0))
	// The config first: the child prepares the root filesystem while we
	// move it into its cgroups (a cgroup v1 migration waits for an RCU
	// grace period: milliseconds) and wire its network.
	if _, err := cfgW.Write(cfgJSON); err != nil && err != syscall.EPIPE {
		log.Debug("writing config to init", "err", err)
	}
	cfgW.Close()
	if cg != nil {
		if err := cg.Enter(p.Pid); err != nil {
			return abort(err)
		}
	}
	if onCreate != nil {
		if err := onCreate(p.Pid); err != nil {
			return abort(err)
		}
	}
	log.Debug("container init in its cgroups", "took", time.Since(t0))
	if err := sendMsg(parentSock, syncMsg{Type: msgGo}, -1); err != nil {
		log.Debug("sending go to init", "err", err)
	}
	execing := false
	for {
		m, f, err := recvMsg(parentSock)
		if err != nil {
			return abort(err)
		}
		if m == nil {
			break // EOF: execve closed the socket
		}
		log.Debug("message from init", "type", m.Type, "took", time.Since(t0))
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
				return abort(m.Error)
			}
		}
	}
	if !execing {
		// EOF before the exec message: the child died before it could
		// say why (a crash of the init itself).
		ps, _ := p.wait()
		p.wait = nil
		st := "unknown status"
		if ps != nil {
			st = ps.String()
		}
		return nil, fmt.Errorf("container init ended before starting the command: %s", st)
	}
	return p, nil
}
