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

// currentProject is the project of the working directory (or of -f/-p),
// or "" when there is none: container commands then take containers only.
// Problems in the stack file are not reported here (plan and up do that):
// a directory with a broken file is taken as having no project.
func currentProject() string {
	if global.projectName != "" {
		return spec.NormalizeProjectName(global.projectName)
	}
	st, err := spec.Load(spec.LoadOptions{
		Files: global.files, ProjectDir: global.projectDir, Profiles: global.profiles,
		EnvFiles: global.envFiles, Loose: true,
	})
	if err != nil {
		return ""
	}
	return st.Name
}

// resolveTargets turns the arguments of a command that takes containers
// or services (logs, exec, start, stop, restart, kill, pause, unpause, top,
// port, rm) into container references. In a project, an argument naming
// one of its services stands for that service's containers (docker
// compose's meaning); anything else is a container name or id (docker's).
// With no arguments and all set, the project's containers are the targets.
func resolveTargets(args []string, all bool) ([]string, error) {
	project := currentProject()
	if project == "" {
		return args, nil
	}
	root, err := stateRoot()
	if err != nil {
		return nil, err
	}
	cs, err := projectContainers(root, project)
	if err != nil {
		return nil, err
	}
	byService := map[string][]string{}
	var every []string
	for _, c := range cs {
		byService[c.Service] = append(byService[c.Service], c.Name)
		every = append(every, c.Name)
	}
	if len(args) == 0 && all {
		return every, nil
	}
	var out []string
	for _, a := range args {
		if names, ok := byService[a]; ok {
			out = append(out, names...)
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// targetsOrAll is resolveTargets for the commands that act on the whole
// project when given no argument (start, stop, restart, kill, pause,
// unpause); outside a project they need at least one container.
func targetsOrAll(args []string) ([]string, error) {
	out, err := resolveTargets(args, true)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		if len(args) == 0 && currentProject() == "" {
			return nil, errors.New("requires at least 1 argument: a container, or a service of the project in this directory")
		}
		return nil, errors.New("the project has no containers")
	}
	return out, nil
}
