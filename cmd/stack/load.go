package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type loadOptions struct {
	input string
	quiet bool
}

func init() { registerCommand(newLoadCommand) }

func newLoadCommand() *cobra.Command {
	var opts loadOptions
	cmd := &cobra.Command{
		Use:   "load [-i FILE]",
		Short: "Load images from a docker save or OCI layout archive (plain, gzip or zstd)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLoad(cmd, opts)
		},
	}
	cmd.Flags().StringVarP(&opts.input, "input", "i", "", "read from FILE instead of standard input")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "print nothing")
	return cmd
}

func runLoad(cmd *cobra.Command, opts loadOptions) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	var r io.Reader = cmd.InOrStdin()
	name := "standard input"
	if f, ok := r.(*os.File); ok && opts.input == "" && term.IsTerminal(int(f.Fd())) {
		return fmt.Errorf("loading: standard input is a terminal; give -i FILE or redirect an archive")
	}
	if opts.input != "" {
		f, err := os.Open(opts.input)
		if err != nil {
			return fmt.Errorf("loading: %w", err)
		}
		defer f.Close()
		r, name = f, opts.input
	}
	imgs, err := store.Load(r)
	if !opts.quiet {
		for _, img := range imgs {
			if len(img.RepoTags) == 0 {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded image ID: %s\n", img.ID)
			}
			for _, t := range img.RepoTags {
				fmt.Fprintf(cmd.OutOrStdout(), "Loaded image: %s\n", t)
			}
		}
	}
	if err != nil {
		return fmt.Errorf("loading %s: %w", name, err)
	}
	return nil
}
