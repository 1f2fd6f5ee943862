package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/stack-dev/stack/executor/container"
)

var _ driver = (*hostDriver)(nil)

// createContainer makes one container of a service (not started).
func (d *hostDriver) createContainer(ctx context.Context, cs *containerSpec) (*ContainerRecord, error) {
	opts, err := runOptionsFor(d.root, cs)
	if err != nil {
		return nil, err
	}
	// A leftover of the same name (an interrupted run the record lost) is
	// the project's own: remove it first.
	if c, _, err := LoadContainer(d.root, cs.Name); err == nil && c.Labels[LabelProject] == cs.Project {
		if err := RemoveContainer(d.root, c.ID, true, false); err != nil {
			return nil, fmt.Errorf("removing leftover %s: %w", cs.Name, err)
		}
	}
	c, err := CreateContainer(d.root, opts, d.log)
	if err != nil {
		return nil, err
	}
	return &ContainerRecord{ID: c.ID}, nil
}

func (d *hostDriver) startContainer(ctx context.Context, rec *ContainerRecord) error {
	c, _, err := LoadContainer(d.root, rec.ID)
	if err != nil {
		return err
	}
	return StartDetached(d.root, c, d.log)
}

func (d *hostDriver) stopContainer(ctx context.Context, rec *ContainerRecord, timeout time.Duration) error {
	if rec.ID == "" {
		return nil
	}
	err := StopContainer(ctx, d.root, rec.ID, timeout)
	if errors.Is(err, ErrContainerNotFound) {
		return nil
	}
	return err
}

func (d *hostDriver) removeContainer(ctx context.Context, rec *ContainerRecord) error {
	if rec.ID == "" {
		return nil
	}
	err := RemoveContainer(d.root, rec.ID, true, false)
	if errors.Is(err, ErrContainerNotFound) {
		return nil
	}
	return err
}

// waitFor polls the container's state until the condition holds, the
// container can no longer meet it, or ctx ends.
func (d *hostDriver) waitFor(ctx context.Context, rec *ContainerRecord, condition string) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		st, err := ContainerStatus(d.root, rec.ID)
		if err != nil {
			return err
		}
		switch condition {
		case "service_started", "":
			if st.Status == container.Running || st.Status == container.Exited || st.Status == container.Restarting {
				return nil
			}
		case "service_healthy":
			if st.Health == nil {
				return fmt.Errorf("%s has no healthcheck", rec.Name)
			}
			if st.Health.Status == container.HealthHealthy {
				return nil
			}
			if st.Status == container.Exited || st.Status == container.Dead {
				return fmt.Errorf("%s exited (code %d) before it was healthy", rec.Name, st.ExitCode)
			}
			if st.Health.Status == container.HealthUnhealthy {
				return fmt.Errorf("%s is unhealthy%s", rec.Name, lastHealthOutput(st))
			}
		case "service_completed_successfully":
			if st.Status == container.Exited {
				if st.ExitCode == 0 {
					return nil
				}
				return fmt.Errorf("%s exited with code %d", rec.Name, st.ExitCode)
			}
			if st.Status == container.Dead {
				return fmt.Errorf("%s is dead", rec.Name)
			}
		default:
			return fmt.Errorf("unknown depends_on condition %q", condition)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

func lastHealthOutput(st *container.State) string {
	if st.Health == nil || len(st.Health.Log) == 0 {
		return ""
	}
	return ": " + st.Health.Log[len(st.Health.Log)-1].Output
}
