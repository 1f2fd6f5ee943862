package executor

import (
	"encoding/json"
	"sort"
	"strings"
)

// StopWaves orders a project's containers for stopping as compose does:
// the containers of a service stop only after those of every service that
// depends on it (depends_on, network_mode service:X), so a database
// outlives the web server that uses it. Each wave may stop in parallel.
// Dependencies come from the recorded snapshots; a dependency cycle (which
// the planner refuses, so only a damaged record has one) ends the ordering
// with one last wave of everything left.
func StopWaves(cs []*ContainerRecord) [][]*ContainerRecord {
	deps := map[string][]string{} // service → the services it depends on
	for _, c := range cs {
		if _, seen := deps[c.Service]; seen {
			continue
		}
		deps[c.Service] = snapshotDeps(c.Snapshot)
	}
	// dependents[s] counts the services still running that depend on s.
	dependents := map[string]int{}
	for s, ds := range deps {
		for _, d := range ds {
			if _, ok := deps[d]; ok && d != s {
				dependents[d]++
			}
		}
	}
	left := map[string]bool{}
	for s := range deps {
		left[s] = true
	}
	var waves [][]*ContainerRecord
	for len(left) > 0 {
		var ready []string
		for s := range left {
			if dependents[s] == 0 {
				ready = append(ready, s)
			}
		}
		if len(ready) == 0 { // a cycle: stop the rest together
			for s := range left {
				ready = append(ready, s)
			}
		}
		sort.Strings(ready)
		var wave []*ContainerRecord
		for _, s := range ready {
			delete(left, s)
			for _, d := range deps[s] {
				if d != s {
					dependents[d]--
				}
			}
			for _, c := range cs {
				if c.Service == s {
					wave = append(wave, c)
				}
			}
		}
		waves = append(waves, wave)
	}
	return waves
}

// snapshotDeps reads the services a recorded service depends on.
func snapshotDeps(snapshot []byte) []string {
	var s struct {
		DependsOn   map[string]json.RawMessage `json:"depends_on"`
		NetworkMode string                     `json:"network_mode"`
	}
	if len(snapshot) == 0 || json.Unmarshal(snapshot, &s) != nil {
		return nil
	}
	out := make([]string, 0, len(s.DependsOn)+1)
	for d := range s.DependsOn {
		out = append(out, d)
	}
	if d, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}
