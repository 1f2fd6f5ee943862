package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
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
	waitStartInFlight(ctx, d.root, rec.ID, 10*time.Second)
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
	waitSupervisorGone(d.root, rec.ID, 10*time.Second)
	err := RemoveContainer(d.root, rec.ID, true, false)
	if err != nil && !errors.Is(err, ErrContainerNotFound) {
		return err
	}
	// What an earlier, interrupted removal left (a directory without its
	// config.json, which the runtime no longer finds, and the name that
	// still points at it) goes too: otherwise the name stays taken.
	dir := containerDir(d.root, rec.ID)
	if _, serr := os.Stat(dir); serr == nil {
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("removing what is left of container %s: %w", rec.ID, err)
		}
	}
	if rec.Name != "" {
		releaseName(d.root, rec.Name, rec.ID)
	}
	return nil
}

// waitStartInFlight waits, up to d, for a start of the container that is
// under way without the state saying so yet: an up killed inside
// StartDetached leaves a supervisor that goes on starting the container
// after the up's lock on the container died with it. Stopping the
// container meanwhile would find it "created", do nothing, and the
// removal after would pull its directory from under the supervisor, which
// then runs the container with nobody to stop it. Once the state says it
// runs (or the supervisor gave up), the stop sees it.
func waitStartInFlight(ctx context.Context, root, id string, d time.Duration) {
	dir := containerDir(root, id)
	if st, err := container.ReadState(dir); err == nil && st.Status.Active() {
		return
	}
	pid := supervisorProcess(root, id)
	if pid == 0 {
		return
	}
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil && container.Alive(pid, 0) {
		if st, err := container.ReadState(dir); err == nil && (st.Status.Active() || st.Status == container.Exited) {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// supervisorProcess finds a live supervisor of container id under root by
// its command line (stack __stack_shim ROOT ID); 0 when there is none.
func supervisorProcess(root, id string) int {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
		if len(args) == 4 && args[1] == ShimEntrypoint && args[2] == root && args[3] == id {
			pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f)))
			if err == nil && container.Alive(pid, 0) {
				return pid
			}
		}
	}
	return 0
}

// waitSupervisorGone waits, up to d, until the supervisor of a container
// that no longer runs has exited. A supervisor records the container's end
// (which is all a stop waits for), then writes the state once more as it
// leaves; a removal that does not wait for that last write races it, and
// the write recreates the container's directory after it was removed.
func waitSupervisorGone(root, id string, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		st, err := container.ReadState(containerDir(root, id))
		if err != nil || st.Status.Active() || st.Supervisor == 0 || !container.Alive(st.Supervisor, st.SupervisorStart) {
			return // gone, or running (RemoveContainer stops it and waits)
		}
		time.Sleep(2 * time.Millisecond)
	}
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
