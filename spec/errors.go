package spec

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// ErrInvalid is wrapped by every error about the content of a stack file.
var ErrInvalid = errors.New("invalid stack file")

// ErrNoFile is returned when no stack file is given and none is found.
var ErrNoFile = errors.New("no stack file found")

func (p Pos) String() string {
	switch {
	case p.File == "":
		return fmt.Sprintf("%d:%d", p.Line, p.Col)
	case p.Line == 0:
		return p.File
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}

func (d Diagnostic) String() string {
	var b strings.Builder
	b.WriteString(d.Pos.String())
	b.WriteString(": ")
	if d.Severity == SevWarning {
		b.WriteString("warning: ")
	}
	if d.Path != "" {
		b.WriteString(d.Path)
		b.WriteString(": ")
	}
	b.WriteString(d.Message)
	return b.String()
}

// Error is every problem found in the stack file(s), sorted by position.
type Error struct {
	Diagnostics []Diagnostic
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

func (e *Error) Unwrap() error { return ErrInvalid }

// SortDiagnostics orders diagnostics by file, line, column, then path.
func SortDiagnostics(ds []Diagnostic) {
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Pos, ds[j].Pos
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		return ds[i].Path < ds[j].Path
	})
}

// ErrInvalidName is returned for a project name that is not valid.
var ErrInvalidName = errors.New("invalid project name")

// ErrNoService is returned when a service named on the command line is not
// in the stack file.
var ErrNoService = errors.New("no such service")
