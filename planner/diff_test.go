package planner

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stack-dev/stack/spec"
)

// testStack is a small stack written as a literal: a network, a volume, a
// committed image from a pulled one, and three services (web depends on db,
// sidecar shares web's network namespace).
func testStack() *spec.Stack {
	pos := func(line int) spec.Pos { return spec.Pos{File: "/proj/stack.yaml", Line: line, Col: 3} }
	st := &spec.Stack{
		Name:       "demo",
		WorkingDir: "/proj",
		Networks: map[string]*spec.Network{
			"front": {Name: "front", Pos: pos(30), HostName: "demo_front", Driver: "bridge",
				IPAM: []spec.IPAMConfig{{Subnet: "172.26.0.0/16", Gateway: "172.26.0.1"}}},
		},
		Volumes: map[string]*spec.Volume{
			"data": {Name: "data", Pos: pos(35), HostName: "demo_data"},
		},
		Images: map[string]*spec.Image{
			"httpd-box": {Name: "httpd-box", Pos: pos(2), Commit: &spec.Commit{
				From: "busybox:latest", Run: []string{"mkdir -p /www"},
				Changes: spec.ImageChanges{Cmd: []string{"httpd", "-f"}}}},
		},
		Services: map[string]*spec.Service{
			"db": {Name: "db", Pos: pos(10), Image: "busybox:latest", Command: []string{"sleep", "3600"},
				Networks: map[string]*spec.ServiceNetwork{"front": {}},
				Volumes:  []spec.Mount{{Type: "volume", Source: "data", Target: "/data"}}},
			"web": {Name: "web", Pos: pos(15), Image: "httpd-box",
				Networks:  map[string]*spec.ServiceNetwork{"front": {IPv4Address: "172.26.0.10"}},
				DependsOn: map[string]spec.Dependency{"db": {Condition: "service_healthy", Required: true}}},
			"sidecar": {Name: "sidecar", Pos: pos(22), Image: "busybox:latest", NetworkMode: "service:web",
				Command: []string{"sleep", "1"}},
		},
	}
	return st
}

// converged is the observed state right after a successful `up`.
func converged(t *testing.T, st *spec.Stack) *Observed {
	t.Helper()
	p, err := Diff(st, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return Apply(nil, p, st)
}

type stepSummary struct {
	Action    Action
	Resource  string
	Reason    string
	Instances []string
	DependsOn []int
}

func summarize(p *Plan) []stepSummary {
	var out []stepSummary
	for _, st := range p.Steps {
		out = append(out, stepSummary{st.Action, st.Resource, st.Reason, st.Instances, st.DependsOn})
	}
	return out
}

func TestDiffCreateEverything(t *testing.T) {
	p, err := Diff(testStack(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Create, "network/front", "not present", nil, nil},
		{Create, "volume/data", "not present", nil, nil},
		{Create, "image/busybox:latest", "not present locally", nil, nil},
		{Create, "image/httpd-box", "not present", nil, []int{3}},
		{Create, "service/db", "not present", []string{"demo-db-1"}, []int{1, 2, 3}},
		{Create, "service/web", "not present", []string{"demo-web-1"}, []int{1, 4, 5}},
		{Create, "service/sidecar", "not present", []string{"demo-sidecar-1"}, []int{3, 6}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if got := p.Steps[5].Pos; got != (spec.Pos{File: "stack.yaml", Line: 15, Col: 3}) {
		t.Errorf("position of service/web = %v, want stack.yaml:15:3 (relative)", got)
	}
	if got := p.Steps[5].Waits; len(got) != 1 || got[0] != (Wait{Resource: "service/db", Condition: "service_healthy", Required: true}) {
		t.Errorf("waits of service/web = %+v", got)
	}
	if got := p.Steps[3].Operation; got != OpCommit {
		t.Errorf("operation of image/httpd-box = %s, want commit", got)
	}
}

func TestDiffNoChangesAfterApply(t *testing.T) {
	st := testStack()
	p, err := Diff(st, converged(t, st), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("plan after apply is not empty:\n%s", p)
	}
	if got, want := p.String(), "No changes. Project demo matches the stack file.\n"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

func TestDiffDeterministic(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st2 := testStack()
	st2.Services["db"].Command = []string{"sleep", "1"}
	st2.Networks["front"].IPAM[0].Subnet = "172.27.0.0/16"
	first, err := Diff(st2, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20; i++ {
		again, err := Diff(st2, obs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if first.String() != again.String() {
			t.Fatalf("plans differ between runs:\n%s\n---\n%s", first, again)
		}
	}
}

func TestDiffOneFieldChanged(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st.Services["db"].Command = []string{"sleep", "10"}
	st.Services["db"].Resources.MemLimit = 64 << 20
	st.Services["db"].Environment = map[string]string{"A.B": "1"}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "service/db", "config changed", []string{"demo-db-1"}, nil},
		// web depends on db but is not on its network namespace: unchanged.
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	var lines []string
	for _, c := range p.Steps[0].Changes {
		lines = append(lines, changeLine(c, func(_, s string) string { return s }))
	}
	wantLines := []string{
		`~ command: ["sleep","3600"] → ["sleep","10"]`,
		`+ environment["A.B"]: "1"`,
		`+ resources.mem_limit: 67108864`,
	}
	if diff := cmp.Diff(wantLines, lines); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
}

func TestDiffNetworkChangeCascades(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st.Networks["front"].IPAM[0] = spec.IPAMConfig{Subnet: "172.27.0.0/16", Gateway: "172.27.0.1"}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "network/front", "config changed", nil, nil},
		{Replace, "service/db", "network front replaced", []string{"demo-db-1"}, []int{1}},
		{Replace, "service/web", "network front replaced", []string{"demo-web-1"}, []int{1, 2}},
		{Replace, "service/sidecar", "service web replaced", []string{"demo-sidecar-1"}, []int{3}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	got := p.Steps[0].Changes
	if len(got) != 2 || got[0].Path != "ipam[0].gateway" || got[1].Path != "ipam[0].subnet" {
		t.Errorf("network changes = %+v", got)
	}
}

func TestDiffImageRebuiltReplacesUsers(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st.Images["httpd-box"].Commit.Run = []string{"mkdir -p /srv"}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "image/httpd-box", "definition changed", nil, nil},
		{Replace, "service/web", "image httpd-box rebuilt", []string{"demo-web-1"}, []int{1}},
		{Replace, "service/sidecar", "service web replaced", []string{"demo-sidecar-1"}, []int{2}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

func TestDiffOrphans(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	obs.Networks["old"] = &ObservedNetwork{HostName: "demo_old", Bridge: "stk-00000000"}
	obs.Containers = append(obs.Containers,
		&ObservedContainer{Service: "worker", Number: 2, Name: "demo-worker-2", Networks: []string{"old"}, Status: StatusRunning},
		&ObservedContainer{Service: "worker", Number: 1, Name: "demo-worker-1", Networks: []string{"old", "front"}, Status: StatusExited})
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Remove, "network/old", "not in the stack file", nil, nil},
		{Remove, "service/worker", "not in the stack file", []string{"demo-worker-1", "demo-worker-2"}, []int{1}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	// With a selection, orphans are left alone.
	p, err = Diff(st, obs, Options{Services: []string{"db"}})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("selection removed orphans:\n%s", p)
	}
}

func TestDiffCycle(t *testing.T) {
	st := testStack()
	st.Services["db"].DependsOn = map[string]spec.Dependency{"sidecar": {Condition: "service_started", Required: true}}
	_, err := Diff(st, nil, Options{})
	if !errors.Is(err, ErrCycle) {
		t.Fatalf("err = %v, want a cycle", err)
	}
	want := "planning project demo: dependency cycle: service/db → service/sidecar → service/web → service/db"
	if err.Error() != want {
		t.Errorf("err = %q\nwant  %q", err, want)
	}
}

func TestDiffCommitCycle(t *testing.T) {
	st := testStack()
	st.Images["a"] = &spec.Image{Name: "a", Commit: &spec.Commit{From: "b"}}
	st.Images["b"] = &spec.Image{Name: "b", Commit: &spec.Commit{From: "a"}}
	_, err := Diff(st, nil, Options{})
	var ce *CycleError
	if !errors.As(err, &ce) || strings.Join(ce.Cycle, " ") != "image/a image/b image/a" {
		t.Fatalf("err = %v, want the cycle image/a → image/b → image/a", err)
	}
}

func TestDiffDrift(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	for _, c := range obs.Containers {
		switch c.Service {
		case "db":
			c.Status = StatusMissing
		case "web":
			c.Status, c.ExitCode = StatusExited, 137
		}
	}
	obs.Networks["front"].RulesMissing = true
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Update, "network/front", "rules missing (removed outside stack)", nil, nil},
		{Replace, "service/db", "container missing (removed outside stack)", []string{"demo-db-1"}, []int{1}},
		{Update, "service/web", "container exited (code 137)", []string{"demo-web-1"}, []int{1, 2}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	// A one-shot service that completed is left alone.
	for _, c := range obs.Containers {
		if c.Service == "web" {
			c.ExitCode = 0
		}
	}
	p, _ = Diff(st, obs, Options{})
	for _, s := range p.Steps {
		if s.Resource == "service/web" {
			t.Errorf("completed service web restarted: %+v", s)
		}
	}
}

func TestDiffOlderHashVersionIsNotAChange(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	for _, c := range obs.Containers {
		c.ConfigHash = "v0:old-algorithm-hash"
	}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !p.Empty() {
		t.Errorf("an older hash version recreated containers:\n%s", p)
	}
	// A hash of the current version that differs is a change.
	for _, c := range obs.Containers {
		c.ConfigHash = spec.HashVersion + ":foreign"
	}
	p, _ = Diff(st, obs, Options{})
	if got := p.Summary().Replace; got != 3 {
		t.Errorf("replacements with a foreign current-version hash = %d, want 3:\n%s", got, p)
	}
}

func TestDiffOptions(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	if _, err := Diff(st, obs, Options{ForceRecreate: true, NoRecreate: true}); !errors.Is(err, ErrOptions) {
		t.Errorf("force+no-recreate: err = %v", err)
	}
	if _, err := Diff(st, obs, Options{Services: []string{"nope"}}); !errors.Is(err, ErrUnknownService) {
		t.Errorf("unknown service: err = %v", err)
	}
	p, err := Diff(st, obs, Options{ForceRecreate: true, Services: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "service/db", "forced (--force-recreate)", []string{"demo-db-1"}, nil},
		{Replace, "service/web", "forced (--force-recreate)", []string{"demo-web-1"}, []int{1}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("force-recreate web (-want +got):\n%s", diff)
	}
	p, _ = Diff(st, obs, Options{ForceRecreate: true, Services: []string{"web"}, NoDeps: true})
	if len(p.Steps) != 1 || p.Steps[0].Resource != "service/web" {
		t.Errorf("--no-deps plan:\n%s", p)
	}
	st.Services["db"].Command = []string{"other"}
	p, _ = Diff(st, obs, Options{NoRecreate: true})
	if !p.Empty() {
		t.Errorf("--no-recreate replaced a changed service:\n%s", p)
	}
}

func TestDiffScale(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st.Services["db"].Scale = 3
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{{Create, "service/db", "scale 1 → 3", []string{"demo-db-2", "demo-db-3"}, nil}}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("scale up (-want +got):\n%s", diff)
	}
	obs = Apply(obs, p, st)
	st.Services["db"].Scale = 1
	p, _ = Diff(st, obs, Options{})
	want = []stepSummary{{Remove, "service/db", "scale 3 → 1", []string{"demo-db-2", "demo-db-3"}, nil}}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("scale down (-want +got):\n%s", diff)
	}
}

func TestRenderJSON(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	st.Services["db"].Command = []string{"sleep", "10"}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"format_version":"1","project":"demo","steps":[{"id":1,"action":"replace","symbol":"±","operation":"replace","resource":"service/db","instances":["demo-db-1"],"reason":"config changed","changes":[{"path":"command","before":["sleep","3600"],"after":["sleep","10"]}],"depends_on":[],"position":{"file":"stack.yaml","line":10,"col":3}}],"summary":{"create":0,"update":0,"replace":1,"remove":0}}`
	if string(b) != want {
		t.Errorf("JSON:\n got %s\nwant %s", b, want)
	}
}

func TestRenderTextColors(t *testing.T) {
	p, err := Diff(testStack(), nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(p.String(), "\x1b[") {
		t.Error("String() has colors")
	}
	var b strings.Builder
	if err := p.WriteText(&b, TextOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), ansiGreen+"+"+ansiReset) {
		t.Error("WriteText with Color has no green +")
	}
}

func TestParseObserved(t *testing.T) {
	o, err := ParseObserved([]byte(`
project: demo
networks:
  front: {host_name: demo_front, subnet: 172.26.0.0/16, bridge_missing: true}
images:
  busybox:latest: {id: "sha256:1"}
containers:
  - service: web
    number: 1
    name: demo-web-1
    status: exited
    exit_code: 3
    snapshot: {image: busybox:latest, command: [sleep, "1"]}
  - service: db
    number: 1
    name: demo-db-1
    status: running
    snapshot: '{"image": "x"}'
`))
	if err != nil {
		t.Fatal(err)
	}
	if !o.Networks["front"].BridgeMissing || o.Images["busybox:latest"].ID != "sha256:1" {
		t.Errorf("parsed %+v", o)
	}
	if got := string(o.Containers[0].Snapshot); got != `{"command":["sleep","1"],"image":"busybox:latest"}` {
		t.Errorf("YAML snapshot = %s", got)
	}
	if got := string(o.Containers[1].Snapshot); got != `{"image":"x"}` {
		t.Errorf("string snapshot = %s", got)
	}
	if _, err := ParseObserved([]byte("netwrks: {}")); err == nil {
		t.Error("unknown field accepted")
	}
	if o, err := ParseObserved(nil); err != nil || o == nil {
		t.Errorf("empty document: %v", err)
	}
}

func TestDiffJSON(t *testing.T) {
	for _, tc := range []struct {
		name, before, after string
		want                []string
	}{
		{"equal", `{"a":1,"b":[1,2]}`, `{"b":[1,2],"a":1}`, nil},
		{"null is absent", `{"a":null}`, `{}`, nil},
		{"scalar", `{"a":1}`, `{"a":2}`, []string{"~ a: 1 → 2"}},
		{"list whole", `{"c":["a"]}`, `{"c":["b"]}`, []string{`~ c: ["a"] → ["b"]`}},
		{"nested", `{"r":{"m":1,"n":2}}`, `{"r":{"m":1}}`, []string{"- r.n: 2"}},
		{"object added key by key", `{}`, `{"r":{"m":1,"n":{"x":"<y>"}}}`, []string{"+ r.m: 1", `+ r.n.x: "<y>"`}},
		{"empty object is a value", `{"networks":{"a":{}}}`, `{}`, []string{"- networks.a: {}"}},
		{"list of objects by index", `{"p":[{"a":1},{"a":2}]}`, `{"p":[{"a":1},{"a":3}]}`, []string{"~ p[1].a: 2 → 3"}},
		{"list of objects resized", `{"p":[{"a":1}]}`, `{"p":[{"a":1},{"a":3}]}`, []string{`~ p: [{"a":1}] → [{"a":1},{"a":3}]`}},
		{"odd key", `{"env":{"a.b":"1"}}`, `{"env":{"a.b":"2"}}`, []string{`~ env["a.b"]: "1" → "2"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			changes, err := diffJSON([]byte(tc.before), []byte(tc.after))
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range changes {
				got = append(got, changeLine(c, func(_, s string) string { return s }))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func TestDiffContainerNetworkMode(t *testing.T) {
	st := testStack()
	st.Services["sidecar"].NetworkMode = "container:demo-web-1"
	obs := converged(t, st)
	st.Services["web"].Command = []string{"new"}
	p, err := Diff(st, obs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "service/web", "config changed", []string{"demo-web-1"}, nil},
		{Replace, "service/sidecar", "service web replaced", []string{"demo-sidecar-1"}, []int{1}},
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}

// Under --no-recreate, a network recreated to repair drift still takes its
// containers along, and so does a recreated namespace owner.
func TestDiffNoRecreateStillRepairsWiring(t *testing.T) {
	st := testStack()
	obs := converged(t, st)
	obs.Networks["front"].BridgeMissing = true
	st.Services["db"].Command = []string{"changed"} // kept: --no-recreate
	p, err := Diff(st, obs, Options{NoRecreate: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []stepSummary{
		{Replace, "network/front", obs.Networks["front"].Bridge + " missing (removed outside stack)", nil, nil},
		// db changed too: being replaced anyway, it gets the new config.
		{Replace, "service/db", "network front replaced", []string{"demo-db-1"}, []int{1}},
		{Replace, "service/web", "network front replaced", []string{"demo-web-1"}, []int{1, 2}},
		{Replace, "service/sidecar", "service web replaced", []string{"demo-sidecar-1"}, []int{3}},
	}
	want[0].Reason = "bridge " + want[0].Reason
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
}
