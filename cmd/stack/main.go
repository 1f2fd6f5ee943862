// Command stack is a daemonless, declarative environment builder: it reads a
// compose-spec stack file, plans what would change on this host, and applies it
// with its own container runtime.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// hidden holds the re-exec entrypoints (`__stack_init`, `__stack_shim`, ...).
// They are dispatched before cobra runs: the process is then not a CLI but a
// part of the runtime (STYLE.md §7). Files register theirs in init().
var hidden = map[string]func(args []string) int{}

func registerHidden(name string, fn func(args []string) int) {
	if !strings.HasPrefix(name, "__stack_") {
		panic("hidden entrypoint without __stack_ prefix: " + name)
	}
	hidden[name] = fn
}

func main() {
	if len(os.Args) > 1 && strings.HasPrefix(os.Args[1], "__stack_") {
		if fn, ok := hidden[os.Args[1]]; ok {
			os.Exit(fn(os.Args[2:]))
		}
		fmt.Fprintf(os.Stderr, "stack: unknown internal entrypoint %q\n", os.Args[1])
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cmd := newRootCommand()
	err := cmd.ExecuteContext(ctx)
	os.Exit(exitCode(err))
}

// exitError carries a specific process exit code out of a command, such as
// the container's exit code for `stack run` or 2 for `plan --detailed-exitcode`.
type exitError struct {
	code int
	err  error // may be nil: the code alone is the result
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "stack:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "stack:", err)
	return 1
}
