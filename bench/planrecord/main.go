// Command planrecord writes the state record of a project whose stack file
// is fully applied, as the executor would leave it after `stack up`
// (planner.Apply of the plan from an empty host). bench/plan.sh uses it to
// time the no-op `stack plan`.
//
//	go run ./bench/planrecord ROOT STACKFILE
package main

import (
	"fmt"
	"os"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: planrecord ROOT STACKFILE")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2]); err != nil {
		fmt.Fprintln(os.Stderr, "planrecord:", err)
		os.Exit(1)
	}
}

func run(root, file string) error {
	st, err := spec.Load(spec.LoadOptions{Files: []string{file}})
	if err != nil {
		return err
	}
	p, err := planner.Diff(st, nil, planner.Options{})
	if err != nil {
		return err
	}
	return executor.WriteProjectRecord(root, executor.RecordFromObserved(planner.Apply(nil, p, st)))
}
