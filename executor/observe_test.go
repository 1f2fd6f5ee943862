package executor

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

func TestObserveNoRecord(t *testing.T) {
	obs, err := Observe(t.TempDir(), "demo")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&planner.Observed{Project: "demo"}, obs); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestObserveRecord(t *testing.T) {
	root := t.TempDir()
	snap := json.RawMessage(`{"image":"busybox:latest","command":["sleep","1"]}`)
	rec := &ProjectRecord{
		Project:  "demo",
		Networks: map[string]*NetworkRecord{"front": {HostName: "demo_front", Bridge: "stk-0123abcd", Subnet: "172.26.0.0/16", Gateway: "172.26.0.1"}},
		Volumes:  map[string]*VolumeRecord{"data": {HostName: "demo_data"}},
		Images:   map[string]*ImageRecord{"busybox:latest": {ID: "sha256:aa"}, "box": {ID: "sha256:bb", InputHash: "h"}},
		Containers: []*ContainerRecord{
			{ID: "c1", Name: "demo-web-1", Service: "web", Number: 1, ConfigHash: "v1:x", Snapshot: snap, ImageID: "sha256:aa", Networks: []string{"front"}, State: StateRunning},
			{ID: "c2", Name: "demo-job-1", Service: "job", Number: 1, State: StateExited, ExitCode: 3},
			{ID: "c3", Name: "demo-half-1", Service: "half", Number: 1, State: StateCreated},
		},
	}
	if err := WriteProjectRecord(root, rec); err != nil {
		t.Fatal(err)
	}
	obs, err := Observe(root, "demo")
	if err != nil {
		t.Fatal(err)
	}
	want := &planner.Observed{
		Project:  "demo",
		Networks: map[string]*planner.ObservedNetwork{"front": {HostName: "demo_front", Bridge: "stk-0123abcd", Subnet: "172.26.0.0/16", Gateway: "172.26.0.1"}},
		Volumes:  map[string]*planner.ObservedVolume{"data": {HostName: "demo_data"}},
		Images:   map[string]*planner.ObservedImage{"busybox:latest": {ID: "sha256:aa"}, "box": {ID: "sha256:bb", InputHash: "h"}},
		Containers: []*planner.ObservedContainer{
			{Service: "web", Number: 1, Name: "demo-web-1", ID: "c1", ConfigHash: "v1:x", Snapshot: planner.Snapshot(`{"image":"busybox:latest","command":["sleep","1"]}`), ImageID: "sha256:aa", Networks: []string{"front"}, Status: planner.StatusRunning},
			{Service: "job", Number: 1, Name: "demo-job-1", ID: "c2", Status: planner.StatusExited, ExitCode: 3},
			{Service: "half", Number: 1, Name: "demo-half-1", ID: "c3", Status: planner.StatusDead},
		},
	}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("observed (-want +got):\n%s", diff)
	}
}

func TestProjectRecordErrors(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "projects")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(project, content string) {
		if err := os.WriteFile(filepath.Join(dir, project+".json"), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("broken", "{")
	write("future", `{"version": 99, "project": "future"}`)
	write("other", `{"version": 1, "project": "someone-else"}`)
	for _, tc := range []struct{ project, want string }{
		{"broken", "broken.json: unexpected end of JSON input"},
		{"future", "format version 99 is newer than this stack's (1)"},
		{"other", `it is the record of project "someone-else"`},
		{"../x", `project name "../x": not usable as a file name`},
	} {
		t.Run(tc.project, func(t *testing.T) {
			_, err := Observe(root, tc.project)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
	if _, err := ReadProjectRecord(root, "absent"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("absent record: err = %v, want fs.ErrNotExist", err)
	}
}

func TestWriteJSONAtomicReplacesAndLeavesNoTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.json")
	for i := 0; i < 3; i++ {
		if err := writeJSONAtomic(path, map[string]int{"n": i}); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(data); got != "{\n  \"n\": 2\n}\n" {
		t.Errorf("content = %q", got)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only x.json", len(entries))
	}
	if err := writeJSONAtomic(path, func() {}); err == nil {
		t.Error("unencodable value written")
	}
	if err := writeJSONAtomic(filepath.Join(dir, "missing", "y.json"), 1); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}

// A converged state made by the planner's Apply, written as a record and
// observed again, plans to nothing: the record keeps all the planner needs.
func TestRecordRoundTripPlansNothing(t *testing.T) {
	st := &spec.Stack{
		Name:     "demo",
		Networks: map[string]*spec.Network{"default": {Name: "default", HostName: "demo_default", Implicit: true}},
		Volumes:  map[string]*spec.Volume{"data": {Name: "data", HostName: "demo_data"}},
		Images:   map[string]*spec.Image{"box": {Name: "box", Commit: &spec.Commit{From: "busybox:latest", Run: []string{"true"}}}},
		Services: map[string]*spec.Service{
			"web": {Name: "web", Image: "box", Command: []string{"httpd", "-f"}, Scale: 2,
				Volumes: []spec.Mount{{Type: "volume", Source: "data", Target: "/data"}}},
			"job": {Name: "job", Image: "busybox:latest", NetworkMode: "service:web"},
		},
	}
	p, err := planner.Diff(st, nil, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	if err := WriteProjectRecord(root, RecordFromObserved(planner.Apply(nil, p, st))); err != nil {
		t.Fatal(err)
	}
	obs, err := Observe(root, "demo")
	if err != nil {
		t.Fatal(err)
	}
	again, err := planner.Diff(st, obs, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !again.Empty() {
		t.Errorf("plan after writing and observing the applied state:\n%s", again)
	}
}
