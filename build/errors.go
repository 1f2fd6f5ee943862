package build

import (
	"errors"
	"fmt"
)

// ErrNotSupported is wrapped by every error about a Dockerfile feature that
// docker or BuildKit accept but stack does not implement.
var ErrNotSupported = errors.New("not supported by stack")

// Pos is a position in a Dockerfile: 1-based lines, EndLine for an
// instruction that spans several lines.
type Pos struct {
	File    string
	Line    int
	EndLine int
}

func (p Pos) String() string {
	if p.Line == 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Error is an error located in a Dockerfile; its text starts with
// "file:line: ".
type Error struct {
	Pos Pos
	Err error
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Err.Error() }

func (e *Error) Unwrap() error { return e.Err }

func errorAt(p Pos, err error) error {
	var located *Error
	if errors.As(err, &located) {
		return err
	}
	return &Error{Pos: p, Err: err}
}

func errorfAt(p Pos, format string, args ...any) error {
	return &Error{Pos: p, Err: fmt.Errorf(format, args...)}
}

func notSupportedAt(p Pos, format string, args ...any) error {
	return &Error{Pos: p, Err: fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrNotSupported)}
}
