package main

import (
	"errors"
	"os"
	"os/signal"
	"sync"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor"
)

type execOptions struct {
	interactive bool
	tty         bool
	env         []string
	workdir     string
	user        string
	privileged  bool
	detach      bool
}

func init() { registerCommand(newExecCommand) }

func newExecCommand() *cobra.Command {
	var opts execOptions
	cmd := &cobra.Command{
		Use:   "exec [OPTIONS] CONTAINER COMMAND [ARG...]",
		Short: "Execute a command in a running container",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			first, err := resolveTargets(args[:1], false)
			if err != nil {
				return err
			}
			args[0] = first[0]
			return runExec(cmd, opts, args[0], args[1:])
		},
	}
	f := cmd.Flags()
	f.SetInterspersed(false)
	f.BoolVarP(&opts.interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&opts.tty, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringArrayVarP(&opts.env, "env", "e", nil, "set environment variables")
	f.StringVarP(&opts.workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&opts.user, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	f.BoolVar(&opts.privileged, "privileged", false, "give extended privileges to the command")
	f.BoolVarP(&opts.detach, "detach", "d", false, "run the command in the background (not available yet)")
	return cmd
}

// runExec runs a command in a running container and returns its exit code.
func runExec(cmd *cobra.Command, opts execOptions, ref string, args []string) error {
	if opts.detach {
		return &exitError{code: 125, err: errors.New("exec -d: not available yet")}
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	eo := executor.ExecOptions{
		Args: args, Env: opts.env, Workdir: opts.workdir, User: opts.user,
		Interactive: opts.interactive, TTY: opts.tty, Privileged: opts.privileged,
		Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr(), Logger: logger,
	}
	if opts.interactive {
		eo.Stdin = cmd.InOrStdin()
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	task, err := executor.ExecContainer(root, ref, eo)
	if err != nil {
		return startError(err)
	}
	var restore func()
	var copies sync.WaitGroup
	if task.Console != nil {
		restore = attachTerminal(task.Console, opts.interactive, cmd.InOrStdin(), cmd.OutOrStdout(), &copies)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig, ok := s.(unix.Signal)
				if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
					continue
				}
				if sig == unix.SIGWINCH {
					if task.Console != nil {
						resizeConsole(task.Console)
					}
					continue
				}
				task.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	es, err := task.Wait()
	close(done)
	if task.Console != nil {
		copies.Wait()
		task.Console.Close()
	}
	if restore != nil {
		restore()
	}
	if err != nil {
		return &exitError{code: 126, err: err}
	}
	if es.Code != 0 {
		return &exitError{code: es.Code}
	}
	return nil
}
