package executor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/internal/testenv"
)

// shimsOf lists the PIDs of supervisors (and inits) still running for root.
func shimsOf(root string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err != nil {
			continue
		}
		if bytes.Contains(b, []byte(ShimEntrypoint+"\x00"+root+"\x00")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// detachedRoot is a busybox root whose containers and supervisors are all
// removed at the end of the test, and checked to be gone.
func detachedRoot(t *testing.T) string {
	t.Helper()
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	t.Cleanup(func() {
		list, _ := ListContainers(root)
		var paths []map[string]string
		for _, ci := range list {
			paths = append(paths, ci.State.Cgroups)
			if err := RemoveContainer(root, ci.Container.ID, true, true); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
		// A supervisor that has recorded its container's end may take a
		// moment to exit: give it a bounded time.
		for deadline := time.Now().Add(3 * time.Second); len(shimsOf(root)) > 0 && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		if pids := shimsOf(root); len(pids) > 0 {
			for _, p := range pids {
				unix.Kill(p, unix.SIGKILL)
			}
			t.Errorf("supervisors left running: %v", pids)
		}
		assertClean(t, root, paths)
	})
	return root
}

// detached creates and starts a container under a supervisor.
func detached(t *testing.T, root string, opts RunOptions) *Container {
	t.Helper()
	if opts.Image == "" {
		opts.Image = "busybox"
	}
	if opts.Network == "" {
		opts.Network = "none"
	}
	c, err := CreateContainer(root, &opts, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if err := StartDetached(root, c, nil); err != nil {
		t.Fatalf("start: %v", err)
	}
	return c
}

// logLines returns the container's log lines.
func logLines(t *testing.T, root, id string, opts LogOptions) []string {
	t.Helper()
	var lines []string
	err := ReadLogs(context.Background(), root, id, opts, func(e LogEntry) error {
		lines = append(lines, strings.TrimSuffix(e.Log, "\n"))
		return nil
	})
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	return lines
}

// eventually polls cond every 20 ms for up to d.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func status(t *testing.T, root, id string) *container.State {
	t.Helper()
	st, err := ContainerStatus(root, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func TestDetachedOutlivesKilledCLI(t *testing.T) {
	root := detachedRoot(t)
	cli := exec.Command("/proc/self/exe", "__stack_test_detach", root, "ticker", "sh", "-c", "while :; do echo tick; sleep 0.2; done")
	out, err := cli.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cli.Stderr = os.Stderr
	if err := cli.Start(); err != nil {
		t.Fatal(err)
	}
	id, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cli.Process.Kill()
		cli.Wait()
		t.Fatalf("the CLI did not start the container: %v", err)
	}
	id = strings.TrimSpace(id)
	cli.Process.Kill() // SIGKILL
	cli.Wait()
	n := len(logLines(t, root, id, LogOptions{Tail: -1}))
	eventually(t, 3*time.Second, "more log lines after the CLI died", func() bool {
		return len(logLines(t, root, id, LogOptions{Tail: -1})) >= n+3
	})
	if st := status(t, root, id); st.Status != container.Running {
		t.Fatalf("status %s after the CLI was killed, want running", st.Status)
	}
	tail := logLines(t, root, id, LogOptions{Tail: 3})
	if len(tail) != 3 || tail[0] != "tick" || tail[2] != "tick" {
		t.Fatalf("logs --tail 3 = %q", tail)
	}
	// Follow gives new lines, and ends with the container.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got := 0
	go func() {
		time.Sleep(700 * time.Millisecond)
		StopContainer(context.Background(), root, id, 0)
	}()
	err = ReadLogs(ctx, root, id, LogOptions{Follow: true, Tail: 0}, func(e LogEntry) error {
		got++
		return nil
	})
	if err != nil || ctx.Err() != nil || got < 2 {
		t.Fatalf("follow: %d lines, err %v, ctx %v", got, err, ctx.Err())
	}
}

func TestDetachedStopTimeout(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Command: []string{"sh", "-c", "trap '' TERM; while :; do sleep 0.1; done"}})
	time.Sleep(200 * time.Millisecond) // the trap is set
	t0 := time.Now()
	if err := StopContainer(context.Background(), root, c.ID, time.Second); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	st := status(t, root, c.ID)
	if st.Status != container.Exited || st.ExitCode != 137 {
		t.Fatalf("after stop: %s %d, want exited 137", st.Status, st.ExitCode)
	}
	if took < time.Second || took > 4*time.Second {
		t.Fatalf("stop -t 1 took %v", took)
	}
	// Idempotent.
	if err := StopContainer(context.Background(), root, c.ID, time.Second); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	code, err := WaitContainer(context.Background(), root, c.ID)
	if err != nil || code != 137 {
		t.Fatalf("wait = %d, %v", code, err)
	}
}

func TestDetachedRestartPolicies(t *testing.T) {
	root := detachedRoot(t)
	t.Run("on-failure:2", func(t *testing.T) {
		c := detached(t, root, RunOptions{Restart: "on-failure:2", Command: []string{"sh", "-c", "echo run; exit 3"}})
		eventually(t, 5*time.Second, "the supervisor to give up", func() bool {
			st := status(t, root, c.ID)
			return st.Status == container.Exited && st.Supervisor == 0
		})
		time.Sleep(500 * time.Millisecond) // no further restart
		st := status(t, root, c.ID)
		if st.RestartCount != 2 || st.ExitCode != 3 || st.Status != container.Exited {
			t.Fatalf("state %+v, want exited 3 after 2 restarts", st)
		}
		if lines := logLines(t, root, c.ID, LogOptions{Tail: -1}); len(lines) != 3 {
			t.Fatalf("%d runs logged, want 3: %q", len(lines), lines)
		}
	})
	t.Run("always", func(t *testing.T) {
		c := detached(t, root, RunOptions{Restart: "always", Command: []string{"sleep", "1000"}})
		st := status(t, root, c.ID)
		unix.Kill(st.Pid, unix.SIGKILL)
		eventually(t, 5*time.Second, "a restart", func() bool {
			s := status(t, root, c.ID)
			return s.Status == container.Running && s.RestartCount == 1 && s.Pid != st.Pid
		})
		// A stop is not undone by the policy.
		if err := StopContainer(context.Background(), root, c.ID, 0); err != nil {
			t.Fatal(err)
		}
		time.Sleep(300 * time.Millisecond)
		if s := status(t, root, c.ID); s.Status != container.Exited {
			t.Fatalf("after stop: %s", s.Status)
		}
	})
}

func TestDetachedWaitExitCode(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Command: []string{"sh", "-c", "sleep 0.3; echo out; echo err >&2; exit 7"}})
	code, err := WaitContainer(context.Background(), root, c.ID)
	if err != nil || code != 7 {
		t.Fatalf("wait = %d, %v; want 7", code, err)
	}
	var streams []string
	ReadLogs(context.Background(), root, c.ID, LogOptions{Tail: -1}, func(e LogEntry) error {
		streams = append(streams, e.Stream+":"+e.Log)
		return nil
	})
	// Two pipes: their relative order is not kept (as in docker).
	sort.Strings(streams)
	if strings.Join(streams, "") != "stderr:err\nstdout:out\n" {
		t.Fatalf("logs %q", streams)
	}
}

func TestDetachedPause(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Command: []string{"sh", "-c", "while :; do echo n; sleep 0.05; done"}})
	time.Sleep(300 * time.Millisecond)
	if err := PauseContainer(root, c.ID); err != nil {
		t.Fatal(err)
	}
	if st := status(t, root, c.ID); st.Status != container.Paused {
		t.Fatalf("status %s", st.Status)
	}
	time.Sleep(300 * time.Millisecond) // the supervisor drains what was written before

	n := len(logLines(t, root, c.ID, LogOptions{Tail: -1}))
	time.Sleep(400 * time.Millisecond)
	if m := len(logLines(t, root, c.ID, LogOptions{Tail: -1})); m != n {
		t.Fatalf("%d lines while paused, had %d", m, n)
	}
	if err := UnpauseContainer(root, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "output after unpause", func() bool {
		return len(logLines(t, root, c.ID, LogOptions{Tail: -1})) > n+2
	})
}

func TestDetachedRemoveForce(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Command: []string{"sleep", "1000"}})
	st := status(t, root, c.ID)
	if err := RemoveContainer(root, c.ID, false, false); err == nil {
		t.Fatal("rm without force of a running container succeeded")
	}
	if err := RemoveContainer(root, c.ID, true, true); err != nil {
		t.Fatal(err)
	}
	if container.Alive(st.Pid, st.PidStart) || container.Alive(st.Supervisor, st.SupervisorStart) {
		t.Fatal("the container or its supervisor still runs")
	}
	if _, err := os.Stat(containerDir(root, c.ID)); !os.IsNotExist(err) {
		t.Fatalf("the container's directory remains: %v", err)
	}
	for _, p := range st.Cgroups {
		if _, err := os.Stat(p); err == nil {
			t.Fatalf("cgroup %s remains", p)
		}
	}
}

func TestDetachedDeadSupervisor(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Command: []string{"sleep", "1000"}})
	st := status(t, root, c.ID)
	unix.Kill(st.Supervisor, unix.SIGKILL)
	eventually(t, 2*time.Second, "the supervisor to die", func() bool { return !container.Alive(st.Supervisor, st.SupervisorStart) })
	got := status(t, root, c.ID)
	if got.Status != container.Dead || !strings.Contains(got.Error, "supervisor") {
		t.Fatalf("status %s (%s), want dead with the reason", got.Status, got.Error)
	}
	if !container.Alive(st.Pid, st.PidStart) {
		t.Fatal("the container died with its supervisor")
	}
	list, _ := ListContainers(root)
	if len(list) != 1 || list[0].State.Status != container.Dead {
		t.Fatalf("list: %+v", list)
	}
}

func TestDetachedTopAndStats(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Memory: "64m", Command: []string{"sh", "-c", "sleep 1000 & sleep 1000"}})
	st := status(t, root, c.ID)
	cg, err := ContainerCgroup(st)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "two processes", func() bool {
		pids, _ := cg.Pids()
		return len(pids) >= 2
	})
	pids, _ := cg.Pids()
	found := false
	for _, p := range pids {
		found = found || p == st.Pid
	}
	if !found {
		t.Fatalf("pids %v lack the init %d", pids, st.Pid)
	}
	s, err := cg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if s.MemoryLimit != 64<<20 || s.MemoryUsage == 0 || s.MemoryUsage >= s.MemoryLimit {
		t.Fatalf("memory %d / %d", s.MemoryUsage, s.MemoryLimit)
	}
}

func TestDetachedHealthcheck(t *testing.T) {
	root := detachedRoot(t)
	hc := func(cmd string) *HealthConfig {
		return &HealthConfig{Test: []string{"CMD-SHELL", cmd}, Interval: 200 * time.Millisecond, Timeout: time.Second, Retries: 2}
	}
	good := detached(t, root, RunOptions{Healthcheck: hc("test -e /tmp/ready"), Command: []string{"sh", "-c", "sleep 0.3; touch /tmp/ready; sleep 1000"}})
	bad := detached(t, root, RunOptions{Healthcheck: hc("echo failing; exit 1"), Command: []string{"sleep", "1000"}})
	if st := status(t, root, good.ID); st.Health == nil || st.Health.Status != container.HealthStarting {
		t.Fatalf("health at start: %+v", st.Health)
	}
	eventually(t, 5*time.Second, "healthy", func() bool {
		h := status(t, root, good.ID).Health
		return h != nil && h.Status == container.HealthHealthy
	})
	eventually(t, 5*time.Second, "unhealthy", func() bool {
		h := status(t, root, bad.ID).Health
		return h != nil && h.Status == container.HealthUnhealthy
	})
	h := status(t, root, bad.ID).Health
	if h.FailingStreak < 2 || len(h.Log) == 0 || h.Log[len(h.Log)-1].Output != "failing\n" || h.Log[len(h.Log)-1].ExitCode != 1 {
		t.Fatalf("health %+v", h)
	}
	// The supervisor writes the state, then the event: wait (bounded) for
	// the events too.
	want := []string{good.Name + " health_status: healthy", bad.Name + " health_status: unhealthy"}
	var actions []string
	eventually(t, 5*time.Second, "health events", func() bool {
		actions = nil
		ReadEvents(context.Background(), root, EventOptions{Filter: EventFilter{"event": {EventHealthStatus}}}, func(e Event) error {
			actions = append(actions, e.Actor.Attributes["name"]+" "+e.Action)
			return nil
		})
		for _, w := range want {
			if !strings.Contains(strings.Join(actions, "\n"), w) {
				return false
			}
		}
		return true
	})
}

func TestDetachedLogRotation(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{LogOpts: map[string]string{"max-size": "1k", "max-file": "2"},
		Command: []string{"sh", "-c", "i=0; while [ $i -lt 200 ]; do echo line$i; i=$((i+1)); done"}})
	if code, err := WaitContainer(context.Background(), root, c.ID); err != nil || code != 0 {
		t.Fatalf("wait: %d %v", code, err)
	}
	dir := containerDir(root, c.ID)
	if _, err := os.Stat(filepath.Join(dir, LogFile+".1")); err != nil {
		t.Fatalf("no rotated file: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, LogFile+".2")); err == nil {
		t.Fatal("more files than max-file")
	}
	lines := logLines(t, root, c.ID, LogOptions{Tail: -1})
	if len(lines) == 0 || lines[len(lines)-1] != "line199" || len(lines) > 60 {
		t.Fatalf("%d lines, last %q", len(lines), lines[len(lines)-1])
	}
}

func TestDetachedAttachTTY(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{TTY: true, Interactive: true, Command: []string{"sh"}})
	attach := func(rows uint16, inputs ...string) (string, int, error) {
		pr, pw := io.Pipe()
		var out bytes.Buffer
		var mu sync.Mutex
		w := writerFunc(func(b []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(b) })
		done := make(chan struct{})
		var code int
		var err error
		go func() {
			defer close(done)
			code, err = Attach(context.Background(), root, c.ID, AttachStreams{Stdin: pr, Stdout: w, Rows: rows, Cols: 100})
		}()
		for _, in := range inputs {
			time.Sleep(300 * time.Millisecond)
			pw.Write([]byte(in))
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("attach did not end")
		}
		mu.Lock()
		defer mu.Unlock()
		return out.String(), code, err
	}
	out, _, err := attach(33, "stty size; echo a-$((1+1))\n", "\x10\x11")
	if !errors.Is(err, ErrDetached) || !strings.Contains(out, "a-2") || !strings.Contains(out, "33 100") {
		t.Fatalf("first attach: %v, output %q", err, out)
	}
	if st := status(t, root, c.ID); st.Status != container.Running {
		t.Fatalf("after detach: %s", st.Status)
	}
	out, code, err := attach(0, "echo b-$((2+2)); exit 4\n")
	if err != nil || code != 4 || !strings.Contains(out, "b-4") {
		t.Fatalf("second attach: code %d, %v, output %q", code, err, out)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(b []byte) (int, error) { return f(b) }

// A removal that comes while a supervisor is still starting the container
// waits for the start (the supervisor holds the op lock), then removes it
// all: no container runs on without its directory.
func TestDetachedRemoveDuringStart(t *testing.T) {
	root := detachedRoot(t)
	for i := 0; i < 5; i++ {
		opts := RunOptions{Image: "busybox", Network: "none", Command: []string{"sleep", "1000"}}
		shim, err := SpawnShim(root, &opts)
		if err != nil {
			t.Fatal(err)
		}
		c, err := CreateContainer(root, &opts, nil)
		if err != nil {
			shim.Abort()
			t.Fatal(err)
		}
		started := make(chan error, 1)
		go func() { started <- shim.Start(c, nil) }()
		time.Sleep(time.Duration(i) * 3 * time.Millisecond)
		if err := RemoveContainer(root, c.ID, true, true); err != nil && !errors.Is(err, ErrContainerNotFound) {
			t.Fatalf("rm: %v", err)
		}
		<-started // a start that lost the race fails; either is fine
		eventually(t, 5*time.Second, "no supervisor left", func() bool { return len(shimsOf(root)) == 0 })
		if _, err := os.Stat(containerDir(root, c.ID)); !os.IsNotExist(err) {
			t.Fatalf("round %d: the directory remains (%v)", i, err)
		}
	}
}

// A stop while the supervisor waits to restart ends the loop at once.
func TestDetachedStopDuringBackoff(t *testing.T) {
	root := detachedRoot(t)
	c := detached(t, root, RunOptions{Restart: "always", Command: []string{"sh", "-c", "exit 1"}})
	eventually(t, 5*time.Second, "a few restarts", func() bool { return status(t, root, c.ID).RestartCount >= 3 })
	t0 := time.Now()
	if err := StopContainer(context.Background(), root, c.ID, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "the supervisor to leave", func() bool { return len(shimsOf(root)) == 0 })
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("stop took %v", d)
	}
	st := status(t, root, c.ID)
	if st.Status != container.Exited {
		t.Fatalf("after stop: %+v", st)
	}
	n := st.RestartCount
	time.Sleep(500 * time.Millisecond)
	if st := status(t, root, c.ID); st.RestartCount != n || st.Status != container.Exited {
		t.Fatalf("restarted after the stop: %+v", st)
	}
}
