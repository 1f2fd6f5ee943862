//go:build !linux

package executor

import (
	"context"
	"errors"
	"log/slog"

	"github.com/stack-dev/stack/build"
)

// BuildRunner runs build steps in containers: Linux only.
type BuildRunner struct{}

var _ build.Runner = (*BuildRunner)(nil)

func NewBuildRunner(root string, log *slog.Logger) *BuildRunner { return &BuildRunner{} }

func (r *BuildRunner) Close() error { return nil }

func (r *BuildRunner) Run(ctx context.Context, spec build.RunSpec) (int, error) {
	return -1, errors.ErrUnsupported
}
