package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/spec"
)

// loadProject loads the stack file(s) the global flags name, with services
// named on the command line. Every diagnostic goes to stderr: warnings
// always, errors with an exit status of 1 and nothing else done.
func loadProject(cmd *cobra.Command, services []string) (*spec.Stack, error) {
	st, err := spec.Load(spec.LoadOptions{
		Files:       global.files,
		ProjectDir:  global.projectDir,
		ProjectName: global.projectName,
		Profiles:    global.profiles,
		Services:    services,
		EnvFiles:    global.envFiles,
		Loose:       global.loose,
	})
	var serr *spec.Error
	if errors.As(err, &serr) {
		errs := 0
		for _, d := range serr.Diagnostics {
			fmt.Fprintln(cmd.ErrOrStderr(), d)
			if d.Severity == spec.SevError {
				errs++
			}
		}
		return nil, &exitError{code: 1, err: fmt.Errorf("the stack file has %d error(s)", errs)}
	}
	if err != nil {
		return nil, err
	}
	for _, w := range st.Warnings {
		fmt.Fprintln(cmd.ErrOrStderr(), w)
	}
	return st, nil
}
