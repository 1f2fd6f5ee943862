package main

import (
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/layers"
)

type importOptions struct {
	changes []string
	message string
}

func init() { registerCommand(newImportCommand) }

func newImportCommand() *cobra.Command {
	var opts importOptions
	cmd := &cobra.Command{
		Use:   "import FILE|- [NAME[:TAG]]",
		Short: "Make a one-layer image from a root filesystem tar (gzip, zstd or plain)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImport(cmd, opts, args)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.changes, "change", "c", nil, "apply an instruction to the config: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL (repeatable)")
	cmd.Flags().StringVarP(&opts.message, "message", "m", "", "history comment of the imported layer")
	return cmd
}

func runImport(cmd *cobra.Command, opts importOptions, args []string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	var r io.Reader
	if args[0] == "-" {
		r = cmd.InOrStdin()
		if f, ok := r.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("importing: standard input is a terminal; pipe a tar into it")
		}
	} else {
		f, err := os.Open(args[0])
		if err != nil {
			return fmt.Errorf("importing: %w", err)
		}
		defer f.Close()
		r = f
	}
	ref := ""
	if len(args) == 2 {
		ref = args[1]
	}
	var cfg v1.Config
	if err := build.ApplyChanges(&cfg, opts.changes); err != nil {
		return fmt.Errorf("importing: %w", err)
	}
	img, err := store.Import(r, ref, layers.ImportOptions{Config: &cfg, Message: opts.message})
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), img.ID)
	return nil
}
