package planner

import (
	"errors"
	"strings"
)

// ErrCycle is wrapped by a *CycleError: resources depend on each other in a ring.
var ErrCycle = errors.New("dependency cycle")

// ErrUnknownService is returned when a selected service is not in the stack file.
var ErrUnknownService = errors.New("no such service")

// ErrOptions is returned for contradictory options.
var ErrOptions = errors.New("invalid plan options")

// CycleError names the resources of one dependency cycle, rotated to start
// at the smallest resource id, the first repeated at the end:
// service/a → service/b → service/a.
type CycleError struct {
	Cycle []string
}

func (e *CycleError) Error() string {
	return "dependency cycle: " + strings.Join(e.Cycle, " → ")
}

func (e *CycleError) Unwrap() error { return ErrCycle }
