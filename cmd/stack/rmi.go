package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

type rmiOptions struct{ force bool }

func init() { registerCommand(newRmiCommand) }

// newRmiCommand: the global -f means --file, so rmi parses its own
// arguments (DisableFlagParsing) to give `-f` docker's meaning, force.
func newRmiCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "rmi [-f|--force] IMAGE...",
		Short: "Remove images (a tag goes; the image goes with its last tag unless a container uses it)",
		Long: `Remove images. Removing a tag keeps the image while another tag names it.
Removing an image ID with several tags needs -f. An image that a container
uses is kept; with -f its tags are removed and it stays, dangling, until the
container goes. Unused blobs and layers are freed.`,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts, images, help, err := parseRmiArgs(args)
			if err != nil {
				return err
			}
			if help {
				return cmd.Help()
			}
			if len(images) == 0 {
				return fmt.Errorf("rmi: requires at least 1 image")
			}
			return runRmi(cmd, opts, images)
		},
	}
}

// parseRmiArgs reads -f/--force and the global --root and --log-level.
func parseRmiArgs(args []string) (rmiOptions, []string, bool, error) {
	var opts rmiOptions
	var images []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			images = append(images, args[i+1:]...)
			return opts, images, false, nil
		case a == "-f" || a == "--force" || a == "--force=true":
			opts.force = true
		case a == "--force=false":
			opts.force = false
		case a == "-h" || a == "--help":
			return opts, nil, true, nil
		case a == "--root" || a == "--log-level":
			if i+1 >= len(args) {
				return opts, nil, false, fmt.Errorf("flag needs an argument: %s", a)
			}
			setGlobalFlag(a[2:], args[i+1])
			i++
		case strings.HasPrefix(a, "--root=") || strings.HasPrefix(a, "--log-level="):
			k, v, _ := strings.Cut(a[2:], "=")
			setGlobalFlag(k, v)
		case strings.HasPrefix(a, "-"):
			return opts, nil, false, fmt.Errorf("rmi: unknown flag %s", a)
		default:
			images = append(images, a)
		}
	}
	return opts, images, false, nil
}

func setGlobalFlag(name, v string) {
	switch name {
	case "root":
		global.root = v
	case "log-level":
		global.logLevel = v
	}
}

func runRmi(cmd *cobra.Command, opts rmiOptions, args []string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	var errs []error
	for _, ref := range args {
		res, err := store.Remove(ref, opts.force)
		for _, u := range res.Untagged {
			fmt.Fprintf(cmd.OutOrStdout(), "Untagged: %s\n", u)
		}
		for _, d := range res.Deleted {
			fmt.Fprintf(cmd.OutOrStdout(), "Deleted: %s\n", d)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
