package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

func init() { registerCommand(newWaitCommand) }

func newWaitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "wait CONTAINER [CONTAINER...]",
		Short: "Block until one or more containers stop, then print their exit codes",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := resolveTargets(args, false)
			if err != nil {
				return err
			}
			return runWait(cmd, args)
		},
	}
}

// runWait prints each container's exit code once it has stopped.
func runWait(cmd *cobra.Command, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range refs {
		code, err := executor.WaitContainer(cmd.Context(), root, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		fmt.Fprintln(cmd.OutOrStdout(), code)
	}
	return errors.Join(errs...)
}
