package container

import (
	"io"
	"log/slog"
	"os"
	"syscall"
)

// Joiner puts a process in the container's cgroups (cgroups.Cgroup
// satisfies it). It is called with the host PID before the process runs
// any of the container's code.
type Joiner interface {
	Enter(pid int) error
}

// StartOptions are the parent's side of Start: stdio, hooks, and how the
// init process is started.
type StartOptions struct {
	// Stdin, Stdout, Stderr of the container's process (nil: /dev/null).
	// *os.File values are passed through; other readers and writers are
	// copied by goroutines that Wait drains. With Process.Terminal the
	// container's stdio is its pty and these are unused: use Process.Console.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Cgroup receives the init's PID before the init continues (may be nil).
	Cgroup Joiner
	// OnCreate is called with the init's host PID after its namespaces exist
	// and before it continues: the network is wired here (veth into
	// /proc/<pid>/ns/net). An error aborts the start.
	OnCreate func(pid int) error
	// Executable is the binary that has the hidden entrypoints
	// (default /proc/self/exe); InitArg is the init entrypoint's name.
	Executable string
	InitArg    string // default "__stack_init"
	// Setsid puts the init in a session of its own (a shim's children).
	Setsid bool
	Logger *slog.Logger
}

// ExitStatus is how a container's process ended. Code is docker's: the exit
// code, or 128+signal when it was killed.
type ExitStatus struct {
	Code   int
	Signal syscall.Signal // 0 unless killed by a signal
}

// Task is a started container process: the init (Start) or an exec (Exec).
type Task struct {
	Pid int
	// Console is the pty master when the process has a terminal.
	Console *os.File

	wait func() (*os.ProcessState, error)
	proc *os.Process
}

// Signal sends sig to the process.
func (p *Task) Signal(sig os.Signal) error { return p.proc.Signal(sig) }

// Wait waits for the process to end and returns its status.
func (p *Task) Wait() (ExitStatus, error) {
	ps, err := p.wait()
	if ps == nil {
		return ExitStatus{Code: -1}, err
	}
	ws, _ := ps.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return ExitStatus{Code: 128 + int(ws.Signal()), Signal: ws.Signal()}, nil
	}
	return ExitStatus{Code: ws.ExitStatus()}, nil
}
