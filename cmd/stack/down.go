package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/spec"
)

type downOptions struct {
	volumes       bool
	rmi           string
	removeOrphans bool
	timeout       int
	progress      string
}

func init() { registerCommand(newDownCommand) }

func newDownCommand() *cobra.Command {
	var opts downOptions
	cmd := &cobra.Command{
		Use:   "down [OPTIONS]",
		Short: "Stop and remove the project's containers, networks and rules (and with -v its volumes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDown(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.volumes, "volumes", "v", false, "remove the project's named volumes")
	f.StringVar(&opts.rmi, "rmi", "", "remove images: local (those the stack made) or all")
	f.BoolVar(&opts.removeOrphans, "remove-orphans", false, "accepted for compatibility: down always removes every container of the project")
	f.IntVarP(&opts.timeout, "timeout", "t", -1, "seconds to wait for containers to stop before killing them (default 10)")
	f.StringVar(&opts.progress, "progress", "auto", "progress output: auto, tty, plain or json")
	projectFlags(cmd)
	return cmd
}

// runDown works from the project name alone when the stack file is gone or
// broken: -p names the project, else the file (if it loads) does.
func runDown(cmd *cobra.Command, opts downOptions) error {
	if opts.rmi != "" && opts.rmi != "local" && opts.rmi != "all" {
		return fmt.Errorf("--rmi %q: want local or all", opts.rmi)
	}
	if err := validProgress(opts.progress); err != nil {
		return err
	}
	project := spec.NormalizeProjectName(global.projectName)
	grace := time.Duration(-1)
	if project == "" {
		st, err := loadProject(cmd, nil)
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				return fmt.Errorf("%w (name the project with -p to take it down anyway)", ee)
			}
			return err
		}
		project = st.Name
	}
	if opts.timeout >= 0 {
		grace = time.Duration(opts.timeout) * time.Second
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	sess, err := executor.Begin(root, project, logger)
	if err != nil {
		return err
	}
	defer sess.Close()
	pr := newUpProgress(cmd.ErrOrStderr(), opts.progress)
	err = sess.Down(cmd.Context(), executor.DownOptions{
		Timeout: grace, Volumes: opts.volumes, RemoveImages: opts.rmi,
		Progress: func(res string, err error, elapsed time.Duration) { pr.resource(res, "removed", err, elapsed) },
	})
	if err != nil {
		return fmt.Errorf("taking project %s down: %w", project, err)
	}
	return nil
}
