package cgroups

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeV2 builds a fake cgroup2 tree: the caller's own cgroup /user/me
// offering the usual controllers.
func fakeV2(t *testing.T) (*Host, string) {
	t.Helper()
	createFiles = true
	t.Cleanup(func() { createFiles = false })
	root := t.TempDir()
	for _, d := range []string{"", "user", "user/me"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
		os.WriteFile(filepath.Join(root, d, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids\n"), 0o644)
		os.WriteFile(filepath.Join(root, d, "cgroup.subtree_control"), []byte(""), 0o644)
	}
	return &Host{Mode: Unified, Mounts: map[string]string{"": root}, Self: map[string]string{"": "/user/me"}}, root
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

func TestUnifiedCreateFakeTree(t *testing.T) {
	h, root := fakeV2(t)
	// stack/ is a new level: the fake kernel gives it controllers too.
	os.MkdirAll(filepath.Join(root, "user/me/stack"), 0o755)
	os.WriteFile(filepath.Join(root, "user/me/stack/cgroup.controllers"), []byte("cpuset cpu io memory pids\n"), 0o644)
	cg, err := h.Create("stack/abc", &Resources{
		Memory: 32 << 20, MemorySwap: 64 << 20, CPUQuota: 50000, CPUShares: 1024,
		CpusetCpus: "0", CpusetMems: "0", PidsLimit: 10, BlkioWeight: 500,
		ReadBps: []Throttle{{254, 0, 1048576}}, WriteBps: []Throttle{{254, 0, 2097152}},
	})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "user/me/stack/abc")
	if d := cmp.Diff(map[string]string{"": dir}, cg.Paths()); d != "" {
		t.Fatal(d)
	}
	want := map[string]string{
		"memory.max": "33554432", "memory.swap.max": "33554432", "cpu.max": "50000 100000",
		"cpu.weight": "39", "cpuset.cpus": "0", "cpuset.mems": "0", "pids.max": "10",
		"io.weight": "default 4950", "io.max": "254:0 rbps=1048576 wbps=2097152",
	}
	for f, v := range want {
		if got := read(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
	for _, lvl := range []string{"user/me", "user/me/stack"} {
		if got := read(t, filepath.Join(root, lvl, "cgroup.subtree_control")); got != "cpu cpuset io memory pids" {
			t.Errorf("%s/cgroup.subtree_control = %q", lvl, got)
		}
	}
	if err := cg.Enter(42); err != nil {
		t.Fatal(err)
	}
	if got := read(t, filepath.Join(dir, "cgroup.procs")); got != "42" {
		t.Errorf("cgroup.procs = %q", got)
	}
	os.WriteFile(filepath.Join(dir, "memory.events"), []byte("low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n"), 0o644)
	if n, err := cg.OOMKills(); err != nil || n != 1 {
		t.Errorf("OOMKills = %d, %v; want 1", n, err)
	}
	for f, v := range map[string]string{"memory.current": "1048576", "pids.current": "3",
		"cpu.stat": "usage_usec 2500\nuser_usec 2000\n", "io.stat": "8:0 rbytes=100 wbytes=7 rios=1\n254:0 rbytes=20 wbytes=3\n"} {
		os.WriteFile(filepath.Join(dir, f), []byte(v), 0o644)
	}
	stats, err := cg.Stats()
	wantStats := &Stats{MemoryUsage: 1 << 20, MemoryLimit: 32 << 20, CPUUsage: 2500000, Pids: 3, ReadBytes: 120, WriteBytes: 10}
	if err != nil || *stats != *wantStats {
		t.Errorf("Stats = %+v, %v; want %+v", stats, err, wantStats)
	}
	if err := cg.Freeze(true); err != nil || read(t, filepath.Join(dir, "cgroup.freeze")) != "1" {
		t.Errorf("Freeze: %v", err)
	}
	// Reopened from its paths, as `stack rm` does.
	os.WriteFile(filepath.Join(dir, "cgroup.procs"), nil, 0o644)
	if err := Open(cg.Paths()).Delete(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("cgroup dir still there: %v", err)
	}
}

func TestUnifiedUnlimited(t *testing.T) {
	h, root := fakeV2(t)
	_, err := h.Create("c1", &Resources{Memory: 1 << 30, MemorySwap: -1, PidsLimit: -1, CPUPeriod: 50000})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "user/me/c1")
	for f, v := range map[string]string{"memory.swap.max": "max", "pids.max": "max", "cpu.max": "max 50000"} {
		if got := read(t, filepath.Join(dir, f)); got != v {
			t.Errorf("%s = %q, want %q", f, got, v)
		}
	}
}

func TestIOMaxLines(t *testing.T) {
	got := ioMaxLines([]Throttle{{8, 0, 100}, {254, 0, 5}}, []Throttle{{8, 0, 200}})
	if d := cmp.Diff([]string{"8:0 rbps=100 wbps=200", "254:0 rbps=5"}, got); d != "" {
		t.Fatal(d)
	}
}
