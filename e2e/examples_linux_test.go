package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// Each example comes up with `stack up -d`, does its job, and plans no
// changes afterwards; the env's cleanup takes it down and checks for leaks.

func TestExampleHello(t *testing.T) {
	requirePortsFree(t, "8080")
	e := newEnv(t)
	p := e.project("hello")
	p.must("up", "-d")
	httpGet(t, "http://127.0.0.1:8080/", "Hello from stack.", 10*time.Second)
	p.assertNoChanges(t)
}

func TestExampleWebDB(t *testing.T) {
	requirePortsFree(t, "8081")
	e := newEnv(t)
	p := e.project("web-db")
	p.must("up", "-d")
	// up -d returns after web started, which waited for db to be healthy.
	ps := p.must("ps", "--format", "json").stdout
	if !regexp.MustCompile(`"Names":"web-db-db-1"`).MatchString(ps) || !strings.Contains(psRow(t, ps, "web-db-db-1")["Status"], "(healthy)") {
		t.Fatalf("db is not healthy after up -d:\n%s", ps)
	}
	// web serves what it fetched from db, by name, on the custom subnet.
	httpGet(t, "http://127.0.0.1:8081/", "db-ready", 10*time.Second)
	addr := p.must("exec", "web-db-db-1", "ip", "-4", "-o", "addr", "show").stdout
	if !strings.Contains(addr, "inet 172.28.0.10/16") {
		t.Fatalf("db's addresses lack 172.28.0.10/16:\n%s", addr)
	}
	webAddr := p.must("exec", "web-db-web-1", "ip", "-4", "-o", "addr", "show").stdout
	if !strings.Contains(webAddr, "inet 172.28.") {
		t.Fatalf("web is not on 172.28.0.0/16:\n%s", webAddr)
	}
	// By name from web, and the name is db's fixed address.
	if got := p.must("exec", "web-db-web-1", "wget", "-q", "-O", "-", "http://db:5432/").stdout; strings.TrimSpace(got) != "db-ready" {
		t.Fatalf("web fetching http://db:5432/ got %q", got)
	}
	hosts := p.must("exec", "web-db-web-1", "cat", "/etc/hosts").stdout
	if !regexp.MustCompile(`(?m)^172\.28\.0\.10\s.*\bdb\b`).MatchString(hosts) {
		t.Fatalf("web's /etc/hosts does not name db 172.28.0.10:\n%s", hosts)
	}
	p.assertNoChanges(t)
}

// psRow finds one container in `ps --format json` output.
func psRow(t *testing.T, out, name string) map[string]string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var row map[string]string
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatalf("ps --format json: %v: %s", err, line)
		}
		if row["Names"] == name {
			return row
		}
	}
	t.Fatalf("ps has no %s:\n%s", name, out)
	return nil
}

func TestExampleJoined(t *testing.T) {
	e := newEnv(t)
	p := e.project("joined")
	p.must("up", "-d")
	// The sidecar fetches web's page from 127.0.0.1: they share a
	// network namespace.
	p.waitLog(t, "joined-sidecar-1", "joined", 10*time.Second)
	p.assertNoChanges(t)
}

func TestExampleClosed(t *testing.T) {
	e := newEnv(t)
	p := e.project("closed")
	p.must("up", "-d")
	out := p.waitLog(t, "closed-job-1", "lo", 10*time.Second)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if strings.TrimSpace(lines[0]) != "sealed" {
		t.Fatalf("hostname is %q, want sealed; log:\n%s", lines[0], out)
	}
	// `ip link` lists interfaces as "N: name: ..."; only lo may be there.
	ifaces := regexp.MustCompile(`(?m)^\d+: ([^:@]+)[:@]`).FindAllStringSubmatch(out, -1)
	if len(ifaces) != 1 || ifaces[0][1] != "lo" {
		t.Fatalf("interfaces %v, want only lo; log:\n%s", ifaces, out)
	}
	p.assertNoChanges(t)
}

// TestExampleLimits reads the limits where the kernel applies them: the
// container's cgroup files (its state names them).
func TestExampleLimits(t *testing.T) {
	e := newEnv(t)
	p := e.project("limits")
	p.must("up", "-d")
	id := p.containerIDs(t, "busy")["busy"]
	b, err := os.ReadFile(filepath.Join(e.root, "containers", id, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Cgroups map[string]string `json:"cgroups"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	read := func(controller, file string) string {
		t.Helper()
		dir := st.Cgroups[controller]
		if dir == "" {
			// cgroup v2: one directory for every controller.
			dir = st.Cgroups[""]
		}
		if dir == "" {
			t.Fatalf("state names no %s cgroup: %v", controller, st.Cgroups)
		}
		b, err := os.ReadFile(filepath.Join(dir, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	if v := read("memory", "memory.limit_in_bytes"); v != "67108864" {
		t.Errorf("memory.limit_in_bytes = %s, want 67108864 (64 MiB)", v)
	}
	if v := read("pids", "pids.max"); v != "32" {
		t.Errorf("pids.max = %s, want 32", v)
	}
	quota, period := read("cpu", "cpu.cfs_quota_us"), read("cpu", "cpu.cfs_period_us")
	if quota != "50000" || period != "100000" {
		t.Errorf("cpu quota/period = %s/%s, want 50000/100000 (0.5 CPU)", quota, period)
	}
	p.assertNoChanges(t)
}

func TestExampleBuilt(t *testing.T) {
	requirePortsFree(t, "8082")
	e := newEnv(t)
	p := e.project("built")
	p.must("up", "-d")
	httpGet(t, "http://127.0.0.1:8082/", "hello from a build", 10*time.Second)
	httpGet(t, "http://127.0.0.1:8082/page.txt", "a page copied into the image", 5*time.Second)
	p.assertNoChanges(t)
}

func TestExampleCommitted(t *testing.T) {
	requirePortsFree(t, "8083")
	e := newEnv(t)
	p := e.project("committed")
	p.must("up", "-d")
	httpGet(t, "http://127.0.0.1:8083/", "Busybox Server.", 10*time.Second)
	p.assertNoChanges(t)
}
