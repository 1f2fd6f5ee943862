//go:build !linux

package executor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/cgroups"
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
func SpawnInit(root string, opts *RunOptions, o AttachOptions) (*Early, error) {
	return nil, errors.ErrUnsupported
}

// Abort is Linux-only.
func (e *Early) Abort() {}

// IsRunning is Linux-only.
func IsRunning(st *container.State) (initAlive, supervisorAlive bool) { return false, false }

// ShimMain is Linux-only.
func ShimMain(args []string) int { return 1 }

// StartDetached is Linux-only.
func StartDetached(root string, c *Container, log *slog.Logger) error { return errors.ErrUnsupported }

// ContainerStatus is Linux-only.
func ContainerStatus(root, ref string) (*container.State, error) { return nil, errors.ErrUnsupported }

// StopContainer is Linux-only.
func StopContainer(ctx context.Context, root, ref string, timeout time.Duration) error {
	return errors.ErrUnsupported
}

// KillContainer is Linux-only.
func KillContainer(root, ref string, sig unix.Signal) error { return errors.ErrUnsupported }

// PauseContainer is Linux-only.
func PauseContainer(root, ref string) error { return errors.ErrUnsupported }

// UnpauseContainer is Linux-only.
func UnpauseContainer(root, ref string) error { return errors.ErrUnsupported }

// WaitContainer is Linux-only.
func WaitContainer(ctx context.Context, root, ref string) (int, error) {
	return 0, errors.ErrUnsupported
}

// RestartContainer is Linux-only.
func RestartContainer(ctx context.Context, root, ref string, timeout time.Duration, log *slog.Logger) error {
	return errors.ErrUnsupported
}

// ContainerInfo is one container as `stack ps` lists it.
type ContainerInfo struct {
	Container *Container
	State     *container.State
}

// ListContainers is Linux-only.
func ListContainers(root string) ([]ContainerInfo, error) { return nil, errors.ErrUnsupported }

// ContainerCgroup is Linux-only.
func ContainerCgroup(st *container.State) (cgroups.Cgroup, error) { return nil, errors.ErrUnsupported }

func resolveContainer(root, ref string) (string, error) { return "", errors.ErrUnsupported }

// Attach is Linux-only.
func Attach(ctx context.Context, root, ref string, s AttachStreams) (int, error) {
	return 0, errors.ErrUnsupported
}

// PendingShim is Linux-only.
type PendingShim struct{}

// SpawnShim is Linux-only.
func SpawnShim(root string, opts *RunOptions) (*PendingShim, error) {
	return nil, errors.ErrUnsupported
}

// Start is Linux-only.
func (p *PendingShim) Start(c *Container, log *slog.Logger) error { return errors.ErrUnsupported }

// Abort is Linux-only.
func (p *PendingShim) Abort() {}
