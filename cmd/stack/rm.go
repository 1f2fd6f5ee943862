package main

import (
	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

type rmOptions struct {
	force   bool
	volumes bool
}

func init() { registerCommand(newRmCommand) }

func newRmCommand() *cobra.Command {
	var opts rmOptions
	cmd := &cobra.Command{
		Use:   "rm [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Remove one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := resolveTargets(args, false)
			if err != nil {
				return err
			}
			return runRm(cmd, opts, args)
		},
	}
	cmd.Flags().BoolVarP(&opts.force, "force", "f", false, "force the removal of a running container (uses SIGKILL)")
	cmd.Flags().BoolVarP(&opts.volumes, "volumes", "v", false, "remove anonymous volumes associated with the container")
	return cmd
}

// runRm removes each container, printing its name as docker does; it goes on
// after an error and fails at the end.
func runRm(cmd *cobra.Command, opts rmOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	return eachContainer(cmd, refs, func(ref string) error {
		return executor.RemoveContainer(root, ref, opts.force, opts.volumes)
	})
}
