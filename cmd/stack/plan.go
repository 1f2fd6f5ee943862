package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/planner"
)

type planOptions struct {
	format           string
	detailedExitcode bool
	forceRecreate    bool
	noRecreate       bool
	noDeps           bool
}

func init() { registerCommand(newPlanCommand) }

func newPlanCommand() *cobra.Command {
	var opts planOptions
	cmd := &cobra.Command{
		Use:   "plan [SERVICE...]",
		Short: "Show what `stack up` would change on this host, and why",
		Long: `Plan compares the stack file with what the project has on this host and
prints the steps that would converge them: + create, ~ update in place,
± replace, - remove, each with its reason and field-level changes.

Naming services restricts the plan to them and the services they depend on.
With --detailed-exitcode the exit status is 0 when nothing would change,
2 when something would, and 1 on error.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPlan(cmd, args, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "text", "output format: text or json")
	f.BoolVar(&opts.detailedExitcode, "detailed-exitcode", false, "exit 0 when there are no changes, 2 when there are, 1 on error")
	f.BoolVar(&opts.forceRecreate, "force-recreate", false, "replace the containers even if their configuration did not change")
	f.BoolVar(&opts.noRecreate, "no-recreate", false, "keep existing containers even if their configuration changed")
	f.BoolVar(&opts.noDeps, "no-deps", false, "do not include the services the named services depend on")
	projectFlags(cmd)
	return cmd
}

func runPlan(cmd *cobra.Command, args []string, opts planOptions) error {
	if opts.format != "text" && opts.format != "json" {
		return fmt.Errorf("--format %q: want text or json", opts.format)
	}
	st, err := loadProject(cmd, args)
	if err != nil {
		return err
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	obs, err := executor.ObserveHost(cmd.Context(), root, st)
	if err != nil {
		return err
	}
	plan, err := planner.Diff(st, obs, planner.Options{
		ForceRecreate: opts.forceRecreate,
		NoRecreate:    opts.noRecreate,
		Services:      args,
		NoDeps:        opts.noDeps,

		ContextDigests: executor.ContextDigests(st),
	})
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if opts.format == "json" {
		err = plan.WriteJSON(out)
	} else {
		err = plan.WriteText(out, planner.TextOptions{Color: colorOutput(out)})
	}
	if err != nil {
		return fmt.Errorf("writing plan: %w", err)
	}
	if opts.detailedExitcode && !plan.Empty() {
		return &exitError{code: 2}
	}
	return nil
}

// colorOutput reports whether w is a terminal that should get colors
// (NO_COLOR turns them off; see no-color.org).
func colorOutput(w any) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" {
		return false
	}
	return term.IsTerminal(int(f.Fd()))
}
