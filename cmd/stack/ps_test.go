package main

import (
	"testing"
	"time"

	"github.com/stack-dev/stack/executor/container"
)

func TestStatusString(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		st   container.State
		want string
	}{
		{"up", container.State{Status: container.Running, StartedAt: now.Add(-3 * time.Minute)}, "Up 3 minutes"},
		{"up now", container.State{Status: container.Running, StartedAt: now}, "Up Less than a second"},
		{"healthy", container.State{Status: container.Running, StartedAt: now.Add(-2 * time.Minute), Health: &container.Health{Status: "healthy"}}, "Up 2 minutes (healthy)"},
		{"starting", container.State{Status: container.Running, StartedAt: now.Add(-5 * time.Second), Health: &container.Health{Status: "starting"}}, "Up 5 seconds (health: starting)"},
		{"paused", container.State{Status: container.Paused, StartedAt: now.Add(-time.Hour)}, "Up About an hour (Paused)"},
		{"exited", container.State{Status: container.Exited, ExitCode: 137, FinishedAt: now.Add(-5 * time.Second)}, "Exited (137) 5 seconds ago"},
		{"restarting", container.State{Status: container.Restarting, ExitCode: 1, FinishedAt: now.Add(-time.Second)}, "Restarting (1) 1 second ago"},
		{"created", container.State{Status: container.Created}, "Created"},
		{"dead", container.State{Status: container.Dead, Error: "its supervisor (pid 9) is gone"}, "Dead: its supervisor (pid 9) is gone"},
		{"days", container.State{Status: container.Running, StartedAt: now.Add(-72 * time.Hour)}, "Up 3 days"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := statusString(&tc.st, now); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestParseTimeArg(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"10m", now.Add(-10 * time.Minute)},
		{"1767225600", time.Unix(1767225600, 0)},
		{"1767225600.5", time.Unix(1767225600, 500000000)},
		{"2026-01-01T10:00:00Z", time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)},
	} {
		got, err := parseTimeArg(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("%s: got %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	if _, err := parseTimeArg("yesterday", now); err == nil {
		t.Error("yesterday accepted")
	}
}

func TestParseDetachKeys(t *testing.T) {
	got, err := parseDetachKeys("ctrl-p,ctrl-q")
	if err != nil || string(got) != "\x10\x11" {
		t.Fatalf("%q %v", got, err)
	}
	if got, _ := parseDetachKeys("ctrl-a,x"); string(got) != "\x01x" {
		t.Fatalf("%q", got)
	}
	if _, err := parseDetachKeys("alt-x"); err == nil {
		t.Fatal("alt-x accepted")
	}
}
