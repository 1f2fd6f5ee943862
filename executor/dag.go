package executor

import (
	"context"
	"sort"
	"sync"
)

// task is one unit of work of an apply: a plan step turned into a function.
type task struct {
	id   string
	deps []string // ids of tasks that must succeed first
	run  func(ctx context.Context) error
}

// dagResult says, for every task, whether it was done, failed, or not
// attempted (because a dependency failed or the context ended first).
type dagResult struct {
	done         []string
	failed       map[string]error
	notAttempted []string
}

// runDAG runs tasks respecting their dependencies, at most parallel at a
// time. After the first failure, or once ctx ends, no new task starts
// (tasks already running finish); everything not started is reported as
// not attempted. onDone is
// called once per finished task, serialized, so it may record state.
// The order of the result lists follows the order of tasks.
func runDAG(ctx context.Context, tasks []task, parallel int, onDone func(id string, err error)) dagResult {
	if parallel < 1 {
		parallel = 1
	}
	index := make(map[string]int, len(tasks))
	for i, t := range tasks {
		index[t.id] = i
	}
	waiting := make([]int, len(tasks)) // unfinished deps per task
	dependents := make([][]int, len(tasks))
	for i, t := range tasks {
		for _, d := range t.deps {
			j, ok := index[d]
			if !ok {
				continue // a dependency outside this run is already satisfied
			}
			waiting[i]++
			dependents[j] = append(dependents[j], i)
		}
	}

	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		state   = make([]int, len(tasks)) // 0 pending, 1 running, 2 done, 3 failed
		failed  = map[string]error{}
		stopped bool
		sem     = make(chan struct{}, parallel)
	)
	var start func(i int)
	// launchReady starts every pending task with no unfinished deps; mu held.
	launchReady := func() {
		if stopped || ctx.Err() != nil {
			return
		}
		for i := range tasks {
			if state[i] == 0 && waiting[i] == 0 {
				state[i] = 1
				wg.Add(1)
				go start(i)
			}
		}
	}
	start = func(i int) {
		defer wg.Done()
		sem <- struct{}{}
		mu.Lock()
		skip := stopped || ctx.Err() != nil
		mu.Unlock()
		if skip {
			// After a failure or an interruption nothing new starts: the
			// task is reported as not attempted.
			<-sem
			mu.Lock()
			state[i] = 0
			mu.Unlock()
			return
		}
		err := tasks[i].run(ctx)
		<-sem
		mu.Lock()
		defer mu.Unlock()
		if onDone != nil {
			onDone(tasks[i].id, err)
		}
		if err != nil {
			state[i] = 3
			failed[tasks[i].id] = err
			stopped = true
			return
		}
		state[i] = 2
		for _, j := range dependents[i] {
			waiting[j]--
		}
		launchReady()
	}
	mu.Lock()
	launchReady()
	mu.Unlock()
	wg.Wait()

	res := dagResult{failed: failed}
	for i, t := range tasks {
		switch state[i] {
		case 2:
			res.done = append(res.done, t.id)
		case 0:
			res.notAttempted = append(res.notAttempted, t.id)
		}
	}
	return res
}

// sortedKeys returns the keys of m in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
