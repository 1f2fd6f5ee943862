package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

func init() { registerCommand(newCreateCommand) }

func newCreateCommand() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(cmd, args); err != nil {
				return &exitError{code: 125, err: err}
			}
			return runCreate(cmd, &opts)
		},
	}
	cmd.Flags().Bool("help", false, "help for create") // -h is --hostname
	addContainerFlags(cmd, &opts)
	return cmd
}

// runCreate creates the container and prints its ID; `stack start` runs it.
func runCreate(cmd *cobra.Command, opts *runOptions) error {
	root, err := stateRoot()
	if err != nil {
		return &exitError{code: 125, err: err}
	}
	c, err := executor.CreateContainer(root, &opts.RunOptions, logger)
	if err != nil {
		return startError(err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), c.ID)
	return nil
}
