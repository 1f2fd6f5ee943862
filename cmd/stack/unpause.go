package main

import "github.com/spf13/cobra"

func init() { registerCommand(newUnpauseCommand) }

func newUnpauseCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unpause CONTAINER [CONTAINER...]",
		Short: "Unpause all processes within one or more containers",
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := targetsOrAll(args)
			if err != nil {
				return err
			}
			return runPause(cmd, args, false)
		},
	}
}
