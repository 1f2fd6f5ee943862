package main

import (
	"github.com/spf13/cobra"
)

func init() { registerCommand(newTagCommand) }

func newTagCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "tag SOURCE_IMAGE TARGET_IMAGE[:TAG]",
		Short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTag(cmd, args[0], args[1])
		},
	}
}

func runTag(cmd *cobra.Command, src, dst string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	return store.Tag(src, dst)
}
