package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
)

type commitOptions struct {
	author  string
	message string
	changes []string
	pause   bool
}

func init() { registerCommand(newCommitCommand) }

func newCommitCommand() *cobra.Command {
	var opts commitOptions
	cmd := &cobra.Command{
		Use:   "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
		Short: "Create a new image from a container's changes",
		Long: `Create a new image from a container's changes: its writable layer becomes a
new layer over its image. The container is paused (freezer cgroup) while the
layer is taken, unless --pause=false. Without a name the image is dangling;
its ID is printed either way.`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCommit(cmd, opts, args)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.author, "author", "a", "", `author (e.g., "John Hannibal Smith <hannibal@a-team.com>")`)
	f.StringVarP(&opts.message, "message", "m", "", "commit message")
	f.StringArrayVarP(&opts.changes, "change", "c", nil, "apply a Dockerfile instruction to the image (CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR); repeatable")
	f.BoolVarP(&opts.pause, "pause", "p", true, "pause the container while the layer is taken")
	return cmd
}

func runCommit(cmd *cobra.Command, opts commitOptions, args []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	store, err := openStore()
	if err != nil {
		return err
	}
	c, st, err := executor.LoadContainer(root, args[0])
	if err != nil {
		return err
	}
	tag := ""
	if len(args) == 2 {
		tag = args[1]
	}
	upper := c.Runtime.Rootfs.Upper
	if upper == "" {
		return fmt.Errorf("committing container %s: it has no writable layer", c.Name)
	}
	if alive, _ := executor.IsRunning(st); alive && opts.pause && st.Status != container.Paused && len(st.Cgroups) > 0 {
		cg := cgroups.Open(st.Cgroups)
		if err := cg.Freeze(true); err != nil {
			return fmt.Errorf("pausing container %s: %w", c.Name, err)
		}
		defer cg.Freeze(false)
	}
	img, err := build.CommitContainer(store, build.ContainerCommit{
		ImageID: c.ImageID, UpperDir: upper, CreatedBy: strings.Join(c.Runtime.Process.Args, " "),
		Author: opts.author, Message: opts.message, Changes: opts.changes, Tag: tag,
	})
	if err != nil {
		return fmt.Errorf("container %s: %w", c.Name, err)
	}
	fmt.Fprintln(cmd.OutOrStdout(), img.ID)
	return nil
}
