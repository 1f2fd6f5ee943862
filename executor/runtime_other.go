//go:build !linux

package executor

import (
	"errors"
	"log/slog"

	"github.com/stack-dev/stack/executor/container"
)

func deviceNumber(path string) (int64, int64, error) { return 0, 0, errors.ErrUnsupported }

// CreateContainer is Linux-only.
func CreateContainer(root string, opts *RunOptions, log *slog.Logger) (*Container, error) {
	return nil, errors.ErrUnsupported
}

// StartContainer is Linux-only.
func StartContainer(root string, c *Container, o AttachOptions) (*Running, error) {
	return nil, errors.ErrUnsupported
}

// Wait is Linux-only.
func (r *Running) Wait() (container.ExitStatus, error) {
	return container.ExitStatus{}, errors.ErrUnsupported
}

// LoadContainer is Linux-only.
func LoadContainer(root, ref string) (*Container, *container.State, error) {
	return nil, nil, errors.ErrUnsupported
}

// RemoveContainer is Linux-only.
func RemoveContainer(root, ref string, force, volumes bool) error { return errors.ErrUnsupported }

// ExecContainer is Linux-only.
func ExecContainer(root, ref string, o ExecOptions) (*container.Task, error) {
	return nil, errors.ErrUnsupported
}

// SpawnInit is Linux-only.
func SpawnInit(root string, opts *RunOptions, o AttachOptions) (*Early, error) { return nil, errors.ErrUnsupported }

// Abort is Linux-only.
func (e *Early) Abort() {}

// IsRunning is Linux-only.
func IsRunning(st *container.State) (initAlive, supervisorAlive bool) { return false, false }
