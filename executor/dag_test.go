package executor

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestRunDAGOrderAndParallelism(t *testing.T) {
	var mu sync.Mutex
	var order []string
	var running, peak atomic.Int32
	mk := func(id string, deps ...string) task {
		return task{id: id, deps: deps, run: func(context.Context) error {
			n := running.Add(1)
			for {
				p := peak.Load()
				if n <= p || peak.CompareAndSwap(p, n) {
					break
				}
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			mu.Lock()
			order = append(order, id)
			mu.Unlock()
			return nil
		}}
	}
	tasks := []task{mk("net"), mk("a", "net"), mk("b", "net"), mk("c", "net"), mk("d", "a", "b", "c")}
	res := runDAG(context.Background(), tasks, 2, nil)
	if len(res.failed) != 0 || len(res.notAttempted) != 0 {
		t.Fatalf("unexpected result %+v", res)
	}
	if order[0] != "net" || order[len(order)-1] != "d" {
		t.Errorf("order %v: net must be first and d last", order)
	}
	if p := peak.Load(); p > 2 {
		t.Errorf("peak parallelism %d > 2", p)
	}
}

func TestRunDAGStopsAfterFailure(t *testing.T) {
	boom := errors.New("boom")
	ok := func(context.Context) error { return nil }
	tasks := []task{
		{id: "net", run: ok},
		{id: "a", deps: []string{"net"}, run: func(context.Context) error { return boom }},
		{id: "b", deps: []string{"a"}, run: ok},
		{id: "c", deps: []string{"b"}, run: ok},
	}
	var seen []string
	res := runDAG(context.Background(), tasks, 1, func(id string, err error) { seen = append(seen, id) })
	if diff := cmp.Diff([]string{"net"}, res.done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	if !errors.Is(res.failed["a"], boom) {
		t.Errorf("failed = %v", res.failed)
	}
	if diff := cmp.Diff([]string{"b", "c"}, res.notAttempted); diff != "" {
		t.Errorf("not attempted (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"net", "a"}, seen); diff != "" {
		t.Errorf("onDone calls (-want +got):\n%s", diff)
	}
}
