package executor

// The supervisor of a detached container (`stack __stack_shim`): the pure
// parts — restart policies and their backoff. The process itself is in
// shim_linux.go.

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ShimEntrypoint is the hidden entrypoint of the supervisor; the binary
// that calls StartDetached must dispatch it to ShimMain.
const ShimEntrypoint = "__stack_shim"

// RestartPolicy is docker's --restart: Name is "no", "always",
// "on-failure" or "unless-stopped"; MaxRetries bounds on-failure (0: no
// bound).
type RestartPolicy struct {
	Name       string
	MaxRetries int
}

// ParseRestartPolicy parses no, always, unless-stopped, on-failure[:N].
func ParseRestartPolicy(s string) (RestartPolicy, error) {
	name, n, hasN := strings.Cut(s, ":")
	p := RestartPolicy{Name: name}
	switch name {
	case "", "no":
		p.Name = "no"
	case "always", "unless-stopped":
	case "on-failure":
		if hasN {
			v, err := strconv.Atoi(n)
			if err != nil || v < 0 {
				return p, fmt.Errorf("invalid restart policy %q: the maximum retry count must be a non-negative integer", s)
			}
			p.MaxRetries = v
		}
		return p, nil
	default:
		return p, fmt.Errorf("invalid restart policy %q: want no, always, unless-stopped or on-failure[:max-retries]", s)
	}
	if hasN {
		return p, fmt.Errorf("invalid restart policy %q: maximum retry count cannot be used with restart policy '%s'", s, name)
	}
	return p, nil
}

// String is the policy as docker prints it.
func (p RestartPolicy) String() string {
	if p.Name == "on-failure" && p.MaxRetries > 0 {
		return fmt.Sprintf("on-failure:%d", p.MaxRetries)
	}
	return p.Name
}

// shouldRestart decides whether a container that ended with exitCode is
// started again: never after a stop (manual), else by policy; restarts is
// how many restarts were made so far.
func (p RestartPolicy) shouldRestart(exitCode int, manual bool, restarts int) bool {
	if manual {
		return false
	}
	switch p.Name {
	case "always", "unless-stopped":
		return true
	case "on-failure":
		return exitCode != 0 && (p.MaxRetries == 0 || restarts < p.MaxRetries)
	}
	return false
}

// Backoff of restarts, as docker's: 100 ms doubling up to a minute, back to
// the start once a run lasted 10 s.
const (
	backoffFirst = 100 * time.Millisecond
	backoffMax   = time.Minute
	backoffReset = 10 * time.Second
)

// nextBackoff returns the wait before the next restart, given the previous
// wait and how long the last run lasted.
func nextBackoff(prev, uptime time.Duration) time.Duration {
	if prev == 0 || uptime >= backoffReset {
		return backoffFirst
	}
	next := 2 * prev
	if next > backoffMax {
		next = backoffMax
	}
	return next
}
