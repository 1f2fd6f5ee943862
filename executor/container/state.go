package container

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// Status is a container's lifecycle status, in docker's words.
type Status string

const (
	Created    Status = "created"
	Running    Status = "running"
	Paused     Status = "paused"
	Restarting Status = "restarting"
	Exited     Status = "exited"
	// Dead: the record says running but the process (or its supervisor)
	// is gone without recording an exit; Error says why.
	Dead Status = "dead"
)

// Active reports whether a container in this status has (or is about to
// have again) a running process.
func (s Status) Active() bool { return s == Running || s == Paused || s == Restarting }

// StateFile is the name of the state record in a container's directory.
const StateFile = "state.json"

// State is the runtime state of a container, stored as state.json in its
// directory and replaced atomically on every change. Pid and PidStart
// together identify the init process across PID reuse.
type State struct {
	Status   Status `json:"status"`
	Pid      int    `json:"pid,omitempty"`
	PidStart uint64 `json:"pid_start,omitempty"` // /proc/<pid>/stat starttime (clock ticks since boot)
	// Supervisor is the PID of the process that waits for the container
	// (the foreground `stack run`, or a shim), with its start time.
	Supervisor      int    `json:"supervisor,omitempty"`
	SupervisorStart uint64 `json:"supervisor_start,omitempty"`

	ExitCode   int       `json:"exit_code"`
	OOMKilled  bool      `json:"oom_killed,omitempty"`
	Error      string    `json:"error,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	// RestartCount is kept by supervisors that apply restart policies.
	RestartCount int `json:"restart_count,omitempty"`
	// ManualStop is set by stop (and kill with the stop signal or SIGKILL):
	// the supervisor applies no restart policy to this end of the process.
	// A start clears it.
	ManualStop bool `json:"manual_stop,omitempty"`
	// Health is the state of the container's healthcheck, nil without one.
	Health *Health `json:"health,omitempty"`
	// Cgroups are the container's cgroup directories by controller
	// ("" for the cgroup v2 unified hierarchy), as cgroups.Open takes them.
	Cgroups map[string]string `json:"cgroups,omitempty"`
}

// Lock files in a container's directory. Commands that act on a container
// (start, stop, kill, rm, pause, ...) hold OpLock for the whole operation,
// so two of them on one container take turns. Every read-modify-write of
// state.json (UpdateState) holds StateLock, briefly: the supervisor only
// ever takes this one, so a command waiting for the supervisor to record an
// exit never deadlocks with it. The kernel drops a lock when its holder
// dies: a SIGKILLed command leaves no stale lock.
const (
	OpLock    = ".op.lock"
	StateLock = ".state.lock"
)

// Health statuses, in docker's words.
const (
	HealthStarting  = "starting"
	HealthHealthy   = "healthy"
	HealthUnhealthy = "unhealthy"
)

// Health is a container's healthcheck state, kept by its supervisor.
type Health struct {
	Status        string         `json:"status"`
	FailingStreak int            `json:"failing_streak"`
	Log           []HealthResult `json:"log,omitempty"` // the last 5 results, oldest first
}

// HealthResult is one run of a healthcheck.
type HealthResult struct {
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	ExitCode int       `json:"exit_code"`
	Output   string    `json:"output"`
}

// ReadState reads dir/state.json.
func ReadState(dir string) (*State, error) {
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		return nil, err
	}
	var st State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(dir, StateFile), err)
	}
	return &st, nil
}

// WriteState replaces dir/state.json atomically. sync makes it durable
// (fsync of the file and the directory); ephemeral containers (--rm) skip it.
func WriteState(dir string, st *State, sync bool) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(filepath.Join(dir, StateFile), append(b, '\n'), 0o644, sync)
}

// WriteFileAtomic writes data to a temporary file beside path and renames it
// over path, so readers see the old or the new content, never a mix. With
// sync the file is fsynced before the rename and the directory after it.
func WriteFileAtomic(path string, data []byte, perm os.FileMode, sync bool) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if sync {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return nil
}
