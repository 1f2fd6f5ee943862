package executor

import (
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/executor/container"
)

func TestMergeHealth(t *testing.T) {
	img := &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: time.Minute, Retries: 7}
	h, err := mergeHealth(nil, img)
	if err != nil || h == nil || h.Test[1] != "true" || h.Interval != time.Minute || h.Retries != 7 || h.Timeout != 30*time.Second || h.StartInterval != 5*time.Second {
		t.Fatalf("inherited: %+v %v", h, err)
	}
	h, _ = mergeHealth(&HealthConfig{Test: []string{"CMD-SHELL", "exit 0"}, Interval: time.Second}, img)
	if h.Test[0] != "CMD-SHELL" || h.Interval != time.Second || h.Retries != 7 {
		t.Fatalf("override: %+v", h)
	}
	if got := h.args(); len(got) != 3 || got[0] != "/bin/sh" || got[2] != "exit 0" {
		t.Fatalf("args %q", got)
	}
	if h, _ := mergeHealth(&HealthConfig{Test: []string{"NONE"}}, img); h != nil {
		t.Fatalf("NONE kept %+v", h)
	}
	if h, _ := mergeHealth(nil, nil); h != nil {
		t.Fatal("no check made one")
	}
	for _, bad := range [][]string{{"CMD"}, {"CMD-SHELL", "a", "b"}, {"RUN", "x"}} {
		if _, err := mergeHealth(&HealthConfig{Test: bad}, nil); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRecordHealth(t *testing.T) {
	h := &HealthConfig{Test: []string{"CMD", "x"}, Retries: 2, StartPeriod: time.Minute}
	start := time.Now()
	hs := &container.Health{Status: container.HealthStarting}
	res := func(code int, at time.Duration) container.HealthResult {
		return container.HealthResult{Start: start.Add(at), ExitCode: code}
	}
	// Failures in the start period do not count.
	if recordHealth(hs, h, start, res(1, time.Second)) || hs.FailingStreak != 0 {
		t.Fatalf("start period: %+v", hs)
	}
	if !recordHealth(hs, h, start, res(0, 2*time.Second)) || hs.Status != container.HealthHealthy {
		t.Fatalf("success: %+v", hs)
	}
	recordHealth(hs, h, start, res(1, 3*time.Second))
	if hs.Status != container.HealthHealthy || hs.FailingStreak != 1 {
		t.Fatalf("one failure: %+v", hs)
	}
	if !recordHealth(hs, h, start, res(1, 4*time.Second)) || hs.Status != container.HealthUnhealthy {
		t.Fatalf("retries reached: %+v", hs)
	}
	for i := 0; i < 10; i++ {
		recordHealth(hs, h, start, res(1, 5*time.Second))
	}
	if len(hs.Log) != 5 {
		t.Fatalf("log keeps %d results", len(hs.Log))
	}
	if d := nextHealthDelay(&HealthConfig{Interval: time.Minute, StartInterval: time.Second, StartPeriod: time.Hour}, &container.Health{Status: container.HealthStarting}, start, start); d != time.Second {
		t.Fatalf("start interval: %v", d)
	}
}
