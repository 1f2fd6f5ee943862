//go:build !linux

package executor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// Session is Linux-only: stack's runtime needs Linux namespaces.
type Session struct{}

// UpOptions tune Apply beyond ApplyOptions.
type UpOptions struct {
	ApplyOptions
	Pull   string
	Output io.Writer
}

// DownOptions tune Down.
type DownOptions struct {
	Timeout      time.Duration
	Volumes      bool
	RemoveImages string
	Progress     func(resource string, err error, elapsed time.Duration)
}

func Begin(root, project string, log *slog.Logger) (*Session, error) {
	return nil, errors.ErrUnsupported
}

func (s *Session) Close() {}

func (s *Session) Observe(ctx context.Context, desired *spec.Stack) (*planner.Observed, error) {
	return nil, errors.ErrUnsupported
}

func (s *Session) Apply(ctx context.Context, desired *spec.Stack, plan *planner.Plan, opts UpOptions) error {
	return errors.ErrUnsupported
}

func (s *Session) Down(ctx context.Context, opts DownOptions) error { return errors.ErrUnsupported }

// ObserveHost is Observe on hosts stack cannot run containers on.
func ObserveHost(ctx context.Context, root string, desired *spec.Stack) (*planner.Observed, error) {
	return Observe(root, desired.Name)
}

func (s *Session) Rebuild(ctx context.Context, desired *spec.Stack, digests map[string]string, out io.Writer) error {
	return errors.ErrUnsupported
}

func (s *Session) Repull(ctx context.Context, desired *spec.Stack, force bool) error {
	return errors.ErrUnsupported
}
