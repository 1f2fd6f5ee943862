package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/build"
)

func init() { registerCommand(newBuilderCommand) }

func newBuilderCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builder",
		Short: "Manage the build cache",
	}
	cmd.AddCommand(newBuilderPruneCommand())
	return cmd
}

type builderPruneOptions struct {
	force bool
}

func newBuilderPruneCommand() *cobra.Command {
	var opts builderPruneOptions
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Empty the build cache and remove the intermediate images only it kept",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuilderPrune(cmd, opts)
		},
	}
	// -f is --force, as in docker (accepted: stack never prompts).
	cmd.Flags().String("file", "", "")
	cmd.Flags().Lookup("file").Hidden = true
	cmd.Flags().BoolVarP(&opts.force, "force", "f", false, "do not prompt for confirmation (stack never prompts)")
	return cmd
}

func runBuilderPrune(cmd *cobra.Command, opts builderPruneOptions) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	rep, err := build.PruneCache(store)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	for _, id := range rep.Images {
		fmt.Fprintf(out, "deleted: %s\n", id)
	}
	fmt.Fprintf(out, "removed %d cache entries and %d intermediate images\n", rep.Entries, len(rep.Images))
	return nil
}
