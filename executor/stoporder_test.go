package executor

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStopWaves(t *testing.T) {
	rec := func(service, name, snap string) *ContainerRecord {
		return &ContainerRecord{Service: service, Name: name, Snapshot: []byte(snap)}
	}
	cs := []*ContainerRecord{
		rec("db", "db-1", `{}`),
		rec("web", "web-1", `{"depends_on":{"db":{"condition":"service_healthy"}}}`),
		rec("web", "web-2", `{"depends_on":{"db":{"condition":"service_healthy"}}}`),
		rec("sidecar", "sidecar-1", `{"network_mode":"service:web"}`),
		rec("cache", "cache-1", `{}`),
	}
	var got [][]string
	for _, w := range StopWaves(cs) {
		var names []string
		for _, c := range w {
			names = append(names, c.Name)
		}
		got = append(got, names)
	}
	want := [][]string{{"cache-1", "sidecar-1"}, {"web-1", "web-2"}, {"db-1"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("waves (-want +got):\n%s", diff)
	}

	// A cycle in a damaged record still stops everything.
	cyc := []*ContainerRecord{rec("a", "a-1", `{"depends_on":{"b":{}}}`), rec("b", "b-1", `{"depends_on":{"a":{}}}`)}
	if w := StopWaves(cyc); len(w) != 1 || len(w[0]) != 2 {
		t.Errorf("cycle: %v", w)
	}
}
