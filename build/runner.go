package build

import (
	"context"
	"io"
)

// Runner runs the command of one RUN step in a container. The executor's
// runtime satisfies it; build never starts a process itself.
//
// The container's root filesystem is an overlay: Lower are the stage's
// layers so far (read-only, topmost first; empty for a stage from scratch),
// Upper receives every change the command makes and is what the caller
// diffs into the step's layer afterwards, Work is overlayfs' work
// directory on the same filesystem as Upper. The runner mounts the overlay
// itself and unmounts it before Run returns, leaving Upper in place.
//
// Run returns the command's exit code: a command that ran and failed is
// exitCode != 0 with a nil error. err is for a container that could not be
// started or waited for (and ctx being done); exitCode is then -1.
type Runner interface {
	Run(ctx context.Context, spec RunSpec) (exitCode int, err error)
}

// RunSpec is one RUN step's container.
type RunSpec struct {
	Lower []string // read-only layer directories, topmost first
	Upper string   // the overlay upper directory: the step's changes
	Work  string   // the overlay work directory

	Args  []string  // argv; Args[0] is looked up in the container's PATH (Env)
	Env   []string  // KEY=VALUE, the whole environment
	Dir   string    // working directory inside the container, created if missing
	User  string    // "user", "uid", "user:group" or "uid:gid", resolved in the container's /etc/passwd and /etc/group; "" is root
	Stdin io.Reader // nil: /dev/null

	// Network is "default" (a bridge with NAT, as docker builds),
	// "none" (loopback only) or "host".
	Network string
	// Hostname of the container; "" lets the runner choose.
	Hostname string

	Stdout io.Writer // the command's output; nil discards it
	Stderr io.Writer
}

// Network modes of a RUN step (the `stack build --network` flag).
const (
	NetworkDefault = "default"
	NetworkNone    = "none"
	NetworkHost    = "host"
)
