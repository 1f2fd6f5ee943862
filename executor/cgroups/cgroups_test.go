package cgroups

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseProcCgroup(t *testing.T) {
	got := parseProcCgroup("9:name=systemd:/\n4:memory:/process_api/abc\n1:cpu,cpuacct:/x\n0::/\n")
	want := map[string]string{"name=systemd": "/", "memory": "/process_api/abc", "cpu": "/x", "cpuacct": "/x", "": "/"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestConversions(t *testing.T) {
	for _, tc := range []struct{ shares, weight uint64 }{{0, 0}, {2, 1}, {1024, 39}, {262144, 10000}} {
		if got := sharesToWeight(tc.shares); got != tc.weight {
			t.Errorf("sharesToWeight(%d) = %d, want %d", tc.shares, got, tc.weight)
		}
	}
	for _, tc := range []struct {
		w    uint16
		want uint64
	}{{0, 0}, {10, 1}, {500, 4950}, {1000, 10000}} {
		if got := blkioToIOWeight(tc.w); got != tc.want {
			t.Errorf("blkioToIOWeight(%d) = %d, want %d", tc.w, got, tc.want)
		}
	}
}
