package main

import (
	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

func init() { registerCommand(newPauseCommand) }

func newPauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "pause CONTAINER [CONTAINER...]",
		Short: "Pause all processes within one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runPause(cmd, args, true)
		},
	}
}

// runPause freezes (or thaws) each container's cgroup.
func runPause(cmd *cobra.Command, refs []string, pause bool) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	return eachContainer(cmd, refs, func(ref string) error {
		if pause {
			return executor.PauseContainer(root, ref)
		}
		return executor.UnpauseContainer(root, ref)
	})
}
