package main

import (
	"context"
	"errors"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

type startOptions struct {
	attach      bool
	interactive bool
}

func init() { registerCommand(newStartCommand) }

func newStartCommand() *cobra.Command {
	var opts startOptions
	cmd := &cobra.Command{
		Use:   "start [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Start one or more stopped containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runStart(cmd, opts, args)
		},
	}
	cmd.Flags().BoolVarP(&opts.attach, "attach", "a", false, "attach STDOUT/STDERR and forward signals")
	cmd.Flags().BoolVarP(&opts.interactive, "interactive", "i", false, "attach the container's STDIN")
	return cmd
}

// runStart starts each container under its own supervisor. With -a (one
// container) it then streams the container's output until it ends and
// exits with its code.
func runStart(cmd *cobra.Command, opts startOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	if (opts.attach || opts.interactive) && len(refs) > 1 {
		return errors.New("you cannot start and attach multiple containers at once")
	}
	if !opts.attach && !opts.interactive {
		return eachContainer(cmd, refs, func(ref string) error {
			c, _, err := executor.LoadContainer(root, ref)
			if err != nil {
				return err
			}
			return startErrorPlain(executor.StartDetached(root, c, logger))
		})
	}
	c, _, err := executor.LoadContainer(root, refs[0])
	if err != nil {
		return err
	}
	since := time.Now()
	if err := executor.StartDetached(root, c, logger); err != nil {
		return startError(err)
	}
	if opts.interactive || c.Tty {
		// Through the supervisor: stdin, the terminal, detach keys.
		return attachTo(cmd, root, c, opts.interactive && c.OpenStdin, "", true)
	}
	ctx, cancel := context.WithCancel(cmd.Context())
	defer cancel()
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	executor.ReadLogs(ctx, root, c.ID, executor.LogOptions{Follow: true, Tail: -1, Since: since}, func(e executor.LogEntry) error {
		if e.Stream == "stderr" {
			return executor.WriteLogEntry(errw, e, false)
		}
		return executor.WriteLogEntry(out, e, false)
	})
	code, err := executor.WaitContainer(cmd.Context(), root, c.ID)
	if err != nil {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

func startErrorPlain(err error) error {
	if err == nil {
		return nil
	}
	return startError(err)
}
