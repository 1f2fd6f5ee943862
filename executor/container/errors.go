package container

import (
	"errors"
	"fmt"
)

// ErrNotRunning is returned when an operation needs a running container
// (exec) and its init process is gone.
var ErrNotRunning = errors.New("container is not running")

// InitError is an error from the container's init process (or from the
// process `exec` starts), carried back to the parent as data so the user reads
// `exec: "nosuch": executable file not found in $PATH` instead of an exit
// status. Code is the exit code docker gives that failure: 127 when the
// command is not found, 126 when it cannot be executed, 125 otherwise.
type InitError struct {
	Msg  string `json:"msg"`
	Code int    `json:"code"`
}

func (e *InitError) Error() string { return e.Msg }

// MountError names the mount that failed (STYLE.md §6: a typed mount error).
type MountError struct {
	Op     string // "mounting", "remounting read-only", "creating mount point", ...
	Source string
	Target string // path inside the container
	Type   string
	Err    error
}

func (e *MountError) Error() string {
	what := e.Target
	if e.Type != "" && e.Type != "bind" {
		what = e.Type + " on " + e.Target
	} else if e.Source != "" {
		what = e.Source + " on " + e.Target
	}
	return fmt.Sprintf("%s %s: %v", e.Op, what, e.Err)
}

func (e *MountError) Unwrap() error { return e.Err }
