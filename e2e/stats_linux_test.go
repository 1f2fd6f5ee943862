package e2e

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
)

// TestExampleLimitsStats: the limits example's memory limit and its pids
// are visible in `stack stats --no-stream`.
func TestExampleLimitsStats(t *testing.T) {
	e := newEnv(t)
	p := e.project("limits")
	p.must("up", "-d")
	out := p.must("stats", "--no-stream", "--format", "json").stdout
	var row map[string]string
	for _, line := range strings.Split(out, "\n") {
		var r map[string]string
		if json.Unmarshal([]byte(line), &r) == nil && r["Name"] == "limits-busy-1" {
			row = r
		}
	}
	if row == nil {
		t.Fatalf("stats --no-stream has no limits-busy-1:\n%s", out)
	}
	if !strings.HasSuffix(row["MemUsage"], " / 64MiB") {
		t.Errorf("MemUsage %q, want the 64MiB limit", row["MemUsage"])
	}
	if n, err := strconv.Atoi(row["PIDs"]); err != nil || n < 1 || n > 32 {
		t.Errorf("PIDs %q, want 1..32 (pids_limit 32)", row["PIDs"])
	}
	table := p.must("stats", "--no-stream").stdout
	if !strings.Contains(table, "limits-busy-1") || !strings.Contains(table, "/ 64MiB") {
		t.Errorf("stats --no-stream table:\n%s", table)
	}
}
