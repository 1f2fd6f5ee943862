package e2e

import (
	"context"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// webCommand is web's command in examples/web-db, and the variant the
// kill test switches to, so that half of the killed runs replace web.
const (
	webLoopA = "sleep 1; done"
	webLoopB = "sleep 1 ; done"
)

// TestKilledUpConverges: `stack up -d` of web-db SIGKILLed after a random
// delay, 30 times, each followed by an up that must converge and a plan
// that must be empty; then down leaves nothing. The killed runs start from
// nothing (even runs, after a down) or from a change of web's command (odd
// runs), so the kill lands in creation and in replacement.
// STACK_E2E_SEED replays a run.
func TestKilledUpConverges(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	seed := time.Now().UnixNano()
	if s := os.Getenv("STACK_E2E_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("STACK_E2E_SEED: %v", err)
		}
	}
	t.Logf("seed %d (STACK_E2E_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	loop := webLoopA

	for i := 0; i < 30; i++ {
		if i%2 == 0 {
			p.must("down", "-t", "0")
		} else {
			next := webLoopB
			if loop == webLoopB {
				next = webLoopA
			}
			p.edit(t, loop, next)
			loop = next
		}
		delay := time.Duration(rng.Int63n(int64(1500 * time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		cmd := p.command(ctx, "up", "-d", "-t", "0")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		e.noteContainers()

		r := p.stack("up", "-d", "-t", "0")
		if r.code != 0 {
			t.Fatalf("run %d (killed after %s): the next up failed:\n%s\n--- the killed up said:\n%s", i, delay, r, out.String())
		}
		if code, plan := p.planExit(); code != 0 {
			t.Fatalf("run %d (killed after %s): plan after up: exit %d:\n%s\n--- up:\n%s\n--- the killed up said:\n%s", i, delay, code, plan, r, out.String())
		}
		p.containerIDs(t, "db", "web")
	}
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
	p.must("down", "-t", "0")
	e.assertClean(t)
}

// TestKilledEarlyUpThenDown: `stack up -d` of web-db SIGKILLed in its
// first 150 ms (while it makes the network and the first containers), then
// `stack down -t 0` straight away, 20 times: down must work from whatever
// the kill left, and leave nothing of the project each time.
func TestKilledEarlyUpThenDown(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 20; i++ {
		delay := time.Duration(rng.Int63n(int64(150 * time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		cmd := p.command(ctx, "up", "-d", "-t", "0")
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
		e.noteContainers()
		if r := p.stack("down", "-t", "0"); r.code != 0 {
			t.Fatalf("run %d (killed after %s): %s\n--- the killed up said:\n%s", i, delay, r, out.String())
		}
		e.mu.Lock()
		ids := keys(e.seen)
		e.mu.Unlock()
		if l := settledLeaks(e.root, ids); len(l) > 0 {
			t.Fatalf("run %d (killed after %s): after down: %s\n--- the killed up said:\n%s", i, delay, strings.Join(l, "\n"), out.String())
		}
	}
}

// TestKilledDownThenUp: `stack down -t 0` of web-db SIGKILLed in its first
// 150 ms, 15 times, each followed by an up that must converge; the last
// down leaves nothing.
func TestKilledDownThenUp(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	seed := time.Now().UnixNano()
	t.Logf("seed %d", seed)
	rng := rand.New(rand.NewSource(seed))
	for i := 0; i < 15; i++ {
		if r := p.stack("up", "-d", "-t", "0"); r.code != 0 {
			t.Fatalf("run %d: %s", i, r)
		}
		p.assertNoChanges(t)
		delay := time.Duration(rng.Int63n(int64(150 * time.Millisecond)))
		ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
		cmd := p.command(ctx, "down", "-t", "0")
		if err := cmd.Start(); err != nil {
			cancel()
			t.Fatal(err)
		}
		time.Sleep(delay)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		cancel()
	}
	p.must("up", "-d", "-t", "0")
	p.containerIDs(t, "db", "web")
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
	p.must("down", "-t", "0")
	e.assertClean(t)
}

// TestConcurrentUpsSerialize: two `stack up -d` of one project at once
// both succeed, one after the other, and make one container per service.
func TestConcurrentUpsSerialize(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	var wg sync.WaitGroup
	results := make([]result, 2)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = p.stack("up", "-d")
		}()
	}
	wg.Wait()
	for _, r := range results {
		if r.code != 0 {
			t.Fatalf("%s", r)
		}
	}
	// One of them made everything; the other found nothing to do.
	noop := 0
	for _, r := range results {
		if strings.Contains(r.stderr, "No changes.") {
			noop++
		}
	}
	if noop != 1 {
		t.Errorf("want exactly one up with no changes, got %d:\n%s\n%s", noop, results[0], results[1])
	}
	p.containerIDs(t, "db", "web")
	if entries, err := os.ReadDir(filepath.Join(e.root, "containers")); err != nil || len(entries) != 2 {
		t.Errorf("want 2 containers on the host, got %d (%v)", len(entries), err)
	}
	p.assertNoChanges(t)
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
}

// TestTwoProjectsSideBySide: hello and committed in one root, brought up
// at the same time; taking one down leaves the other serving.
func TestTwoProjectsSideBySide(t *testing.T) {
	requirePortsFree(t, "8080", "8083")
	e := newEnv(t)
	hello, committed := e.project("hello"), e.project("committed")
	var wg sync.WaitGroup
	var rh, rc result
	wg.Add(2)
	go func() { defer wg.Done(); rh = hello.stack("up", "-d") }()
	go func() { defer wg.Done(); rc = committed.stack("up", "-d") }()
	wg.Wait()
	if rh.code != 0 || rc.code != 0 {
		t.Fatalf("%s\n%s", rh, rc)
	}
	httpGet(t, "http://127.0.0.1:8080/", "Hello from stack.", 10*time.Second)
	httpGet(t, "http://127.0.0.1:8083/", "Busybox Server.", 10*time.Second)
	hello.assertNoChanges(t)
	committed.assertNoChanges(t)
	cid := committed.containerIDs(t, "web")["web"]

	hello.must("down", "-t", "0")
	if hello.record(t) != nil {
		t.Errorf("hello's record is left after its down")
	}
	deadline := time.Now().Add(5 * time.Second)
	for !portClosed("8080") {
		if time.Now().After(deadline) {
			t.Fatalf("127.0.0.1:8080 still answers after hello's down")
		}
		time.Sleep(100 * time.Millisecond)
	}
	httpGet(t, "http://127.0.0.1:8083/", "Busybox Server.", 5*time.Second)
	committed.assertNoChanges(t)
	if got := committed.containerIDs(t, "web")["web"]; got != cid {
		t.Errorf("committed's web changed with hello's down: %s → %s", cid, got)
	}
	ps := committed.must("ps").stdout
	if strings.Contains(ps, "hello-web-1") || !strings.Contains(ps, "committed-web-1") {
		t.Errorf("ps after hello's down:\n%s", ps)
	}
}

// TestFailedUpReportsAndRecovers: an up that fails part-way says what it
// did, what failed (resource, operation, cause) and what it did not try,
// exits non-zero, and plan, up (after the fix) and down work afterwards.
func TestFailedUpReportsAndRecovers(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	broken := `
  broken:
    image: busybox:latest
    command: ["/no/such/command"]
    depends_on: [db]
    networks: [back]
  after:
    image: busybox:latest
    command: ["sleep", "3600"]
    depends_on: [broken]
    networks: [back]
networks:`
	p.edit(t, "\nnetworks:", broken)
	r := p.stack("up", "-d")
	if r.code == 0 {
		t.Fatalf("up with a command that does not exist succeeded:\n%s", r)
	}
	for _, want := range []string{
		"✔ network/back done",
		"✔ service/db done",
		"✘ service/broken: create failed",
		"/no/such/command",
		"- service/after not attempted",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up's report lacks %q:\n%s", want, r)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	// The plan still works and says what is left to do.
	code, out := p.planExit()
	if code != 2 || !strings.Contains(out, "service/broken") || !strings.Contains(out, "+ service/after") {
		t.Fatalf("plan after the failed up: exit %d:\n%s", code, out)
	}
	p.edit(t, `["/no/such/command"]`, `["sleep", "3600"]`)
	p.must("up", "-d", "-t", "0")
	p.assertNoChanges(t)
	p.containerIDs(t, "after", "broken", "db", "web")
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
	p.must("down", "-t", "0")
	e.assertClean(t)
}

// TestFailedUpMissingImage: an up that cannot get an image (not in the
// store, and --pull never) fails on that image, names it and the cause,
// and leaves a state from which plan, up after the fix, and down work.
func TestFailedUpMissingImage(t *testing.T) {
	e := newEnv(t)
	p := e.project("joined")
	p.edit(t, "  sidecar:\n    image: busybox:latest", "  sidecar:\n    image: no-such-image:1")
	r := p.stack("up", "-d", "--pull", "never")
	if r.code == 0 {
		t.Fatalf("up with a missing image succeeded:\n%s", r)
	}
	for _, want := range []string{
		"✘ image/no-such-image:1: pull failed",
		"--pull never",
		"- service/sidecar not attempted",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("up's report lacks %q:\n%s", want, r)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	if code, out := p.planExit(); code != 2 || !strings.Contains(out, "+ image/no-such-image:1") {
		t.Fatalf("plan after the failed up: exit %d:\n%s", code, out)
	}
	p.edit(t, "image: no-such-image:1", "image: busybox:latest")
	p.must("up", "-d", "--pull", "never")
	p.assertNoChanges(t)
	p.containerIDs(t, "sidecar", "web")
	p.waitLog(t, "joined-sidecar-1", "joined", 10*time.Second)
	p.must("down", "-t", "0")
	e.assertClean(t)
}
