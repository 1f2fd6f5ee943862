package executor

// Healthchecks: the config (docker's HEALTHCHECK and compose's healthcheck
// key, merged with the image's), and the pure bookkeeping of results. The
// container's supervisor runs the checks (shim_linux.go).

import (
	"errors"
	"fmt"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/executor/container"
)

// HealthConfig is a container's healthcheck, as docker has it. Test is
// ["CMD", arg...], ["CMD-SHELL", "command"] or ["NONE"] (disabled); an
// empty Test inherits the image's. Zero durations and Retries inherit the
// image's, then docker's defaults (30 s interval, 30 s timeout, 0 start
// period, 5 s start interval, 3 retries).
type HealthConfig struct {
	Test          []string      `json:"test,omitempty"`
	Interval      time.Duration `json:"interval,omitempty"`
	Timeout       time.Duration `json:"timeout,omitempty"`
	StartPeriod   time.Duration `json:"start_period,omitempty"`
	StartInterval time.Duration `json:"start_interval,omitempty"`
	Retries       int           `json:"retries,omitempty"`
}

// Docker's healthcheck defaults.
const (
	defaultHealthInterval      = 30 * time.Second
	defaultHealthTimeout       = 30 * time.Second
	defaultHealthStartInterval = 5 * time.Second
	defaultHealthRetries       = 3
	healthLogEntries           = 5
	healthOutputMax            = 4096
)

// mergeHealth returns the healthcheck a container gets from the run
// request and the image: nil when there is none or it is disabled.
func mergeHealth(req *HealthConfig, img *v1.HealthConfig) (*HealthConfig, error) {
	h := &HealthConfig{}
	if img != nil {
		h.Test = img.Test
		h.Interval, h.Timeout, h.StartPeriod, h.Retries = img.Interval, img.Timeout, img.StartPeriod, img.Retries
	}
	if req != nil {
		if len(req.Test) > 0 {
			h.Test = req.Test
		}
		if req.Interval != 0 {
			h.Interval = req.Interval
		}
		if req.Timeout != 0 {
			h.Timeout = req.Timeout
		}
		if req.StartPeriod != 0 {
			h.StartPeriod = req.StartPeriod
		}
		if req.StartInterval != 0 {
			h.StartInterval = req.StartInterval
		}
		if req.Retries != 0 {
			h.Retries = req.Retries
		}
	}
	if len(h.Test) == 0 || h.Test[0] == "NONE" {
		return nil, nil
	}
	switch h.Test[0] {
	case "CMD":
		if len(h.Test) < 2 {
			return nil, errors.New("healthcheck: CMD needs a command")
		}
	case "CMD-SHELL":
		if len(h.Test) != 2 {
			return nil, errors.New("healthcheck: CMD-SHELL takes one command string")
		}
	default:
		return nil, fmt.Errorf("healthcheck: unknown test type %q (want CMD, CMD-SHELL or NONE)", h.Test[0])
	}
	for _, d := range []time.Duration{h.Interval, h.Timeout, h.StartPeriod, h.StartInterval} {
		if d < 0 {
			return nil, errors.New("healthcheck: durations must not be negative")
		}
	}
	if h.Retries < 0 {
		return nil, errors.New("healthcheck: retries must not be negative")
	}
	if h.Interval == 0 {
		h.Interval = defaultHealthInterval
	}
	if h.Timeout == 0 {
		h.Timeout = defaultHealthTimeout
	}
	if h.StartInterval == 0 {
		h.StartInterval = defaultHealthStartInterval
	}
	if h.Retries == 0 {
		h.Retries = defaultHealthRetries
	}
	return h, nil
}

// args is the command the check runs in the container.
func (h *HealthConfig) args() []string {
	if h.Test[0] == "CMD-SHELL" {
		return []string{"/bin/sh", "-c", h.Test[1]}
	}
	return h.Test[1:]
}

// recordHealth adds one result to hs as docker does and reports whether
// the status changed. Failures during the start period do not count
// (unless the check already succeeded once); Retries consecutive failures
// make the container unhealthy, one success healthy.
func recordHealth(hs *container.Health, h *HealthConfig, started time.Time, r container.HealthResult) bool {
	before := hs.Status
	if len(r.Output) > healthOutputMax {
		r.Output = r.Output[:healthOutputMax]
	}
	hs.Log = append(hs.Log, r)
	if len(hs.Log) > healthLogEntries {
		hs.Log = append([]container.HealthResult(nil), hs.Log[len(hs.Log)-healthLogEntries:]...)
	}
	if r.ExitCode == 0 {
		hs.Status = container.HealthHealthy
		hs.FailingStreak = 0
		return hs.Status != before
	}
	inStart := hs.Status == container.HealthStarting && r.Start.Sub(started) < h.StartPeriod
	if inStart {
		return false
	}
	hs.FailingStreak++
	if hs.FailingStreak >= h.Retries {
		hs.Status = container.HealthUnhealthy
	}
	return hs.Status != before
}

// nextHealthDelay is the wait before the next check: StartInterval while
// the container is still starting within its start period, else Interval.
func nextHealthDelay(h *HealthConfig, hs *container.Health, started, now time.Time) time.Duration {
	if hs.Status == container.HealthStarting && now.Sub(started) < h.StartPeriod {
		return h.StartInterval
	}
	return h.Interval
}

// healthOutput trims a check's output as docker shows it.
func healthOutput(b []byte) string { return strings.ToValidUTF8(string(b), "\uFFFD") }
