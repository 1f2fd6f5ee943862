package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"
	"golang.org/x/term"
)

type saveOptions struct{ output string }

func init() { registerCommand(newSaveCommand) }

func newSaveCommand() *cobra.Command {
	var opts saveOptions
	cmd := &cobra.Command{
		Use:   "save [-o FILE] IMAGE...",
		Short: "Write images to a docker save archive (docker load reads it)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runSave(cmd, opts, args)
		},
	}
	cmd.Flags().StringVarP(&opts.output, "output", "o", "", "write to FILE instead of standard output")
	return cmd
}

func runSave(cmd *cobra.Command, opts saveOptions, args []string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	if opts.output == "" {
		if f, ok := cmd.OutOrStdout().(*os.File); ok && term.IsTerminal(int(f.Fd())) {
			return fmt.Errorf("saving: refusing to write an archive to a terminal; use -o FILE or redirect")
		}
		return store.Save(cmd.OutOrStdout(), args)
	}
	// Write next to the target and rename: no half archive under its name.
	f, err := os.CreateTemp(filepath.Dir(opts.output), ".stack-save-")
	if err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	defer os.Remove(f.Name())
	if err := store.Save(f, args); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	if err := os.Rename(f.Name(), opts.output); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	return nil
}
