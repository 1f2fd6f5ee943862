package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sort"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/spec"
)

type configOptions struct {
	format   string
	services bool
}

func init() { registerCommand(newConfigCommand) }

func newConfigCommand() *cobra.Command {
	var opts configOptions
	cmd := &cobra.Command{
		Use:   "config [SERVICE...]",
		Short: "Validate the stack file and print its canonical form",
		Long: `Config loads the stack file(s) as every other command does (discovery, -f
merging, include, extends, profiles, interpolation) and prints the canonical
stack: by default as a canonical compose file (values normalized, paths
absolute, keys in a fixed order; it loads back to the same stack), with
--format json as the JSON of stack's model (what the planner compares). The
output is deterministic: the same input always prints the same bytes.

Every problem in the file(s) is printed to stderr, one per line, with its
file:line:col and YAML path; the exit status is then 1. Warnings (unset
variables, obsolete keys, fields ignored under --loose) go to stderr too.

Naming services enables their profiles. --services prints only the names of
the enabled services, one per line.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runConfig(cmd, args, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.format, "format", "yaml", "output format: yaml or json")
	f.BoolVar(&opts.services, "services", false, "print the service names, one per line")
	projectFlags(cmd)
	return cmd
}

func runConfig(cmd *cobra.Command, args []string, opts configOptions) error {
	if opts.format != "yaml" && opts.format != "json" {
		return fmt.Errorf("--format %q: want yaml or json", opts.format)
	}
	st, err := loadProject(cmd, args)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if opts.services {
		for _, name := range sortedServiceNames(st) {
			fmt.Fprintln(out, name)
		}
		return nil
	}
	return writeCanonical(out, st, opts.format)
}

func sortedServiceNames(st *spec.Stack) []string {
	names := make([]string, 0, len(st.Services))
	for n := range st.Services {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// writeCanonical prints the stack as a canonical compose file (YAML, which
// loads back to the same stack) or as the canonical JSON of the model.
func writeCanonical(w io.Writer, st *spec.Stack, format string) error {
	if format == "yaml" {
		data, err := spec.FormatYAML(st)
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	data, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encoding stack %s: %w", st.Name, err)
	}
	var buf bytes.Buffer
	if err := json.Indent(&buf, data, "", "  "); err != nil {
		return fmt.Errorf("encoding stack %s: %w", st.Name, err)
	}
	buf.WriteByte('\n')
	_, err = w.Write(buf.Bytes())
	return err
}
