package executor

import (
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stack-dev/stack/internal/testenv"
)

// BenchmarkRunPhases runs `run --rm busybox true` in-process and reports
// the time of each phase (create, start, wait, teardown).
func BenchmarkRunPhases(b *testing.B) {
	testenv.RequirePrivileged(b)
	root := busyboxRoot(b)
	var create, start, run, teardown time.Duration
	var err error
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		opts := &RunOptions{Image: "busybox", Command: []string{"true"}, Remove: true}
		att := AttachOptions{Foreground: true, Logger: benchLog}
		// As `stack run` does: the init first, then the record.
		if att.Early, err = SpawnInit(root, opts, att); err != nil {
			b.Fatal(err)
		}
		c, err := CreateContainer(root, opts, benchLog)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		r, err := StartContainer(root, c, att)
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		es, err := r.Task.Wait()
		if err != nil {
			b.Fatal(err)
		}
		t3 := time.Now()
		if err := r.finish(es); err != nil {
			b.Fatal(err)
		}
		t4 := time.Now()
		create += t1.Sub(t0)
		start += t2.Sub(t1)
		run += t3.Sub(t2)
		teardown += t4.Sub(t3)
	}
	n := time.Duration(b.N)
	b.ReportMetric(float64((create / n).Microseconds()), "create-µs")
	b.ReportMetric(float64((start / n).Microseconds()), "start-µs")
	b.ReportMetric(float64((run / n).Microseconds()), "run-µs")
	b.ReportMetric(float64((teardown / n).Microseconds()), "teardown-µs")
}

var benchLog = func() *slog.Logger {
	if os.Getenv("STACK_BENCH_DEBUG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return nil
}()
