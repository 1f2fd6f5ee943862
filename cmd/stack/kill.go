package main

import (
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor"
)

type killOptions struct {
	signal string
}

func init() { registerCommand(newKillCommand) }

func newKillCommand() *cobra.Command {
	var opts killOptions
	cmd := &cobra.Command{
		Use:   "kill [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Kill one or more running containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runKill(cmd, opts, args)
		},
	}
	cmd.Flags().StringVarP(&opts.signal, "signal", "s", "KILL", "signal to send to the container")
	return cmd
}

// runKill sends the signal to each container's main process.
func runKill(cmd *cobra.Command, opts killOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	sig, err := executor.ParseSignal(opts.signal)
	if err != nil {
		return err
	}
	return eachContainer(cmd, refs, func(ref string) error {
		return executor.KillContainer(root, ref, unix.Signal(sig))
	})
}
