package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

type stopOptions struct {
	timeout int
}

func init() { registerCommand(newStopCommand) }

func newStopCommand() *cobra.Command {
	var opts stopOptions
	cmd := &cobra.Command{
		Use:   "stop [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Stop one or more running containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runStop(cmd, opts, args)
		},
	}
	cmd.Flags().IntVarP(&opts.timeout, "timeout", "t", 10, "seconds to wait before killing the container (-1: wait for ever)")
	cmd.Flags().IntVar(&opts.timeout, "time", 10, "")
	cmd.Flags().Lookup("time").Hidden = true
	return cmd
}

// runStop stops each container, printing its reference as docker does; it
// goes on after an error and fails at the end.
func runStop(cmd *cobra.Command, opts stopOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	return eachContainer(cmd, refs, func(ref string) error {
		return executor.StopContainer(cmd.Context(), root, ref, stopTimeout(opts.timeout))
	})
}

func stopTimeout(seconds int) time.Duration {
	if seconds < 0 {
		return -1
	}
	return time.Duration(seconds) * time.Second
}

// eachContainer runs fn for each reference, prints the ones that
// succeeded, and joins the errors.
func eachContainer(cmd *cobra.Command, refs []string, fn func(ref string) error) error {
	var errs []error
	for _, ref := range refs {
		if err := fn(ref); err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), ref)
	}
	return errors.Join(errs...)
}
