package planner

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stack-dev/stack/spec"
)

// genStack makes a random, valid stack: services on random networks,
// depending on earlier services (so there is no cycle), some sharing an
// earlier service's network namespace, some running a committed image.
func genStack(r *rand.Rand) *spec.Stack {
	st := &spec.Stack{
		Name:     "gen",
		Services: map[string]*spec.Service{},
		Networks: map[string]*spec.Network{},
		Volumes:  map[string]*spec.Volume{},
		Images:   map[string]*spec.Image{},
	}
	nets := r.IntN(4)
	for i := 0; i < nets; i++ {
		k := fmt.Sprintf("n%d", i)
		st.Networks[k] = &spec.Network{Name: k, HostName: "gen_" + k, Driver: "bridge",
			IPAM: []spec.IPAMConfig{{Subnet: fmt.Sprintf("10.%d.0.0/16", r.IntN(3))}}}
	}
	if r.IntN(2) == 0 {
		st.Volumes["data"] = &spec.Volume{Name: "data", HostName: "gen_data"}
	}
	if r.IntN(2) == 0 {
		st.Images["base"] = &spec.Image{Name: "base", Commit: &spec.Commit{From: "busybox:latest", Run: []string{fmt.Sprint("echo ", r.IntN(2))}}}
		if r.IntN(2) == 0 {
			st.Images["app"] = &spec.Image{Name: "app", Commit: &spec.Commit{From: "base", Run: []string{"true"}}}
		}
	}
	n := 1 + r.IntN(7)
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("s%d", i)
		s := &spec.Service{Name: name, Image: "busybox:latest", Command: []string{"sleep", fmt.Sprint(r.IntN(3))}, Scale: r.IntN(3)}
		if _, ok := st.Images["base"]; ok && r.IntN(3) == 0 {
			s.Image = "base"
		}
		if _, ok := st.Images["app"]; ok && r.IntN(3) == 0 {
			s.Image = "app"
		}
		if len(names) > 0 && r.IntN(4) == 0 {
			s.NetworkMode = "service:" + names[r.IntN(len(names))]
		} else if nets > 0 {
			s.Networks = map[string]*spec.ServiceNetwork{}
			for k := range st.Networks {
				if r.IntN(2) == 0 {
					s.Networks[k] = &spec.ServiceNetwork{}
				}
			}
		}
		if _, ok := st.Volumes["data"]; ok && r.IntN(2) == 0 {
			s.Volumes = []spec.Mount{{Type: "volume", Source: "data", Target: "/data"}}
		}
		for _, dep := range names {
			if r.IntN(3) == 0 {
				if s.DependsOn == nil {
					s.DependsOn = map[string]spec.Dependency{}
				}
				s.DependsOn[dep] = spec.Dependency{Condition: "service_started", Required: true, Restart: r.IntN(2) == 0}
			}
		}
		if r.IntN(3) == 0 {
			s.Restart = "always"
		}
		st.Services[name] = s
		names = append(names, name)
	}
	return st
}

// genObserved is what an earlier version of the stack left, plus drift.
func genObserved(r *rand.Rand) *Observed {
	if r.IntN(5) == 0 {
		return nil
	}
	old := genStack(r)
	p, err := Diff(old, nil, Options{})
	if err != nil {
		panic(err)
	}
	obs := Apply(nil, p, old)
	statuses := []ContainerStatus{StatusRunning, StatusRunning, StatusExited, StatusMissing, StatusDead}
	for _, c := range obs.Containers {
		c.Status = statuses[r.IntN(len(statuses))]
		if c.Status == StatusExited {
			c.ExitCode = r.IntN(2)
		}
		if r.IntN(6) == 0 {
			c.ConfigHash = "v0:old"
		}
	}
	for _, n := range obs.Networks {
		n.BridgeMissing = r.IntN(6) == 0
		n.RulesMissing = r.IntN(6) == 0
	}
	for k := range obs.Images {
		if r.IntN(5) == 0 {
			delete(obs.Images, k)
		}
	}
	return obs
}

func genOptions(r *rand.Rand, st *spec.Stack) Options {
	var o Options
	o.NoRecreate = r.IntN(3) == 0
	if r.IntN(3) == 0 {
		for _, name := range sortedKeys(st.Services) {
			if r.IntN(2) == 0 {
				o.Services = append(o.Services, name)
			}
		}
		o.NoDeps = r.IntN(2) == 0
	}
	return o
}

// TestPropertyApplyThenPlanIsEmpty: for random stacks, observed states and
// options, applying the plan and planning again gives no changes, and the
// plan is the same every time it is computed.
func TestPropertyApplyThenPlanIsEmpty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		st := genStack(r)
		obs := genObserved(r)
		opts := genOptions(r, st)
		// Forcing recreates every time; TestPropertyForceRecreate covers it.
		opts.ForceRecreate = false
		p, err := Diff(st, obs, opts)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if again, _ := Diff(st, obs, opts); again.String() != p.String() {
			t.Fatalf("case %d: plan not deterministic:\n%s\n---\n%s", i, p, again)
		}
		after := Apply(obs, p, st)
		next, err := Diff(st, after, opts)
		if err != nil {
			t.Fatalf("case %d: after apply: %v", i, err)
		}
		if !next.Empty() {
			t.Fatalf("case %d: plan after apply is not empty.\nfirst plan:\n%s\nsecond plan:\n%s", i, p, next)
		}
	}
}

// TestPropertyForceRecreate: a forced plan, applied, leaves a state the
// plain plan finds converged.
func TestPropertyForceRecreate(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 200; i++ {
		st := genStack(r)
		obs := genObserved(r)
		p, err := Diff(st, obs, Options{ForceRecreate: true})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		next, err := Diff(st, Apply(obs, p, st), Options{})
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if !next.Empty() {
			t.Fatalf("case %d: plan after a forced apply is not empty:\n%s\n---\n%s", i, p, next)
		}
	}
}
