package main

import (
	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

func init() { registerCommand(newRestartCommand) }

func newRestartCommand() *cobra.Command {
	var opts stopOptions
	cmd := &cobra.Command{
		Use:   "restart [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Restart one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runRestart(cmd, opts, args)
		},
	}
	cmd.Flags().IntVarP(&opts.timeout, "timeout", "t", 10, "seconds to wait before killing the container")
	return cmd
}

// runRestart stops each container and starts it again, detached.
func runRestart(cmd *cobra.Command, opts stopOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	return eachContainer(cmd, refs, func(ref string) error {
		return executor.RestartContainer(cmd.Context(), root, ref, stopTimeout(opts.timeout), logger)
	})
}
