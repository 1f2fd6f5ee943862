package cgroups

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-dev/stack/internal/testenv"
)

// TestLegacyReal runs on this host's v1 hierarchies: a throwaway cgroup
// below the test's own, limits written, a process entered and killed.
func TestLegacyReal(t *testing.T) {
	testenv.RequirePrivileged(t)
	h, err := Detect()
	if err != nil {
		t.Fatal(err)
	}
	if h.Mode == Unified {
		t.Skip("host runs cgroup v2 only; the v2 logic is tested on fake trees")
	}
	name := "stack-test/" + strings.ReplaceAll(t.Name(), "/", "_")
	cg, err := h.Create(name, &Resources{
		Memory: 32 << 20, CPUQuota: 50000, CPUPeriod: 100000, CPUShares: 512,
		PidsLimit: 10, CpusetCpus: "0", BlkioWeight: 500,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cg.Delete()
		for _, p := range cg.Paths() {
			os.Remove(filepath.Dir(p))
		}
	})
	paths := cg.Paths()
	self, _ := os.ReadFile("/proc/self/cgroup")
	mem := parseProcCgroup(string(self))["memory"]
	if want := filepath.Join(h.Mounts["memory"], mem, name); paths["memory"] != want {
		t.Fatalf("memory cgroup at %s, want %s (below our own)", paths["memory"], want)
	}
	for f, want := range map[string]string{
		"memory/memory.limit_in_bytes": "33554432", "cpu/cpu.cfs_quota_us": "50000",
		"cpu/cpu.shares": "512", "pids/pids.max": "10", "cpuset/cpuset.cpus": "0",
	} {
		ctrl, file, _ := strings.Cut(f, "/")
		got, err := readFile(paths[ctrl], file)
		if err != nil || got != want {
			t.Errorf("%s = %q (%v), want %q", f, got, err, want)
		}
	}
	cmd := exec.Command("sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waited := make(chan struct{})
	go func() { cmd.Wait(); close(waited) }() // reaped, so the cgroup empties
	defer func() { cmd.Process.Kill(); <-waited }()
	if err := cg.Enter(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	pids, err := cg.Pids()
	if err != nil || len(pids) != 1 || pids[0] != cmd.Process.Pid {
		t.Fatalf("Pids = %v, %v", pids, err)
	}
	if err := cg.Freeze(true); err != nil {
		t.Fatal(err)
	}
	if err := cg.Freeze(false); err != nil {
		t.Fatal(err)
	}
	if n, err := cg.OOMKills(); err != nil || n != 0 {
		t.Fatalf("OOMKills = %d, %v", n, err)
	}
	// (v1 memory charges stay where they were made: the usage of a process
	// moved in after its start may read 0.)
	if st, err := cg.Stats(); err != nil || st.Pids != 1 || st.MemoryLimit != 32<<20 {
		t.Fatalf("Stats = %+v, %v; want 1 pid and a 32 MiB limit", st, err)
	}
	if err := Open(paths).Delete(); err != nil {
		t.Fatal(err)
	}
	for _, p := range paths {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s still exists", p)
		}
	}
}
