package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/layers"
)

type pushOptions struct{ quiet bool }

func init() { registerCommand(newPushCommand) }

func newPushCommand() *cobra.Command {
	var opts pushOptions
	cmd := &cobra.Command{
		Use:   "push NAME[:TAG]",
		Short: "Push an image to the registry in its name",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd, opts, args[0])
		},
	}
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "print only the pushed digest")
	return cmd
}

func runPush(cmd *cobra.Command, opts pushOptions, ref string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	p := newProgress(cmd.ErrOrStderr(), opts.quiet, "pushing")
	digest, err := store.Push(cmd.Context(), ref, layers.RegistryOptions{Progress: p.event})
	p.finish()
	if err != nil {
		return err
	}
	if opts.quiet {
		fmt.Fprintln(cmd.OutOrStdout(), digest)
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "%s: digest: %s\n", ref, digest)
	return nil
}
