package container

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/nsenter"
)

// Exec starts p in the running container whose init has the host PID pid:
// in all of its namespaces (mount included, through the nsenter
// constructor) and, with o.Cgroup, in its cgroups. Stdio, Cgroup, Logger
// and Executable of o apply; the returned Task waits for the command.
func Exec(pid int, p *Process, o StartOptions) (*Task, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfgJSON, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("encoding exec config: %w", err)
	}
	repR, repW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("creating report pipe: %w", err)
	}
	defer repR.Close()
	cmd := command(o.Executable, nsenter.Entrypoint)
	cmd.ExtraFiles = []*os.File{repW} // fd 3
	cmd.Env = append(cmd.Env, nsenter.Env(pid, nsenter.AllNamespaces, 3)...)
	if !p.Terminal {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = o.Stdin, o.Stdout, o.Stderr
	}
	pidOf := func() (int, error) {
		repW.Close()
		child, err := nsenter.ReadReport(repR)
		if err != nil {
			return 0, err
		}
		return child, nil
	}
	ch, err := spawnChild(cmd, pidOf, log)
	repW.Close()
	if err != nil {
		return nil, err
	}
	t, err := ch.complete(cfgJSON, o.Cgroup, nil)
	if err != nil {
		cmd.Wait()
		return nil, err
	}
	// Reap the intermediate process (it exited after its report) and drain
	// the stdio copies once the command ends.
	wait := t.wait
	t.wait = func() (*os.ProcessState, error) {
		ps, err := wait()
		cmd.Wait()
		return ps, err
	}
	return t, nil
}

// ExecInit is the body of the hidden `__stack_exec` entrypoint. The nsenter
// constructor has already put the process in the container's namespaces;
// it reads its Process, takes a terminal if asked and execs the command.
func ExecInit() int {
	runtime.LockOSThread()
	sync, cfgFile, err := childFDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, "stack exec:", err)
		return 1
	}
	var p Process
	b, err := io.ReadAll(cfgFile)
	cfgFile.Close()
	if err == nil {
		err = json.Unmarshal(b, &p)
	}
	if err != nil {
		return fail(sync, fmt.Errorf("reading exec config: %w", err))
	}
	if _, err := unix.Setsid(); err != nil {
		return fail(sync, fmt.Errorf("setsid: %w", err))
	}
	if p.Terminal {
		name, err := setupConsole("", sync, false)
		if err == nil {
			err = takeConsole(name)
		}
		if err != nil {
			return fail(sync, err)
		}
	}
	pp, err := prepareProcess(&p)
	if err != nil {
		return fail(sync, err)
	}
	if err := waitGo(sync); err != nil {
		return fail(sync, err)
	}
	return fail(sync, finishProcess(pp, sync, 0))
}
