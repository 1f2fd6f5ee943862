package executor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// fakeDriver records calls and can fail one of them.
type fakeDriver struct {
	mu     sync.Mutex
	calls  []string
	failOn string // a call name like "create web-1" fails
	n      int
}

var _ driver = (*fakeDriver)(nil)

func (f *fakeDriver) call(s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
	if f.failOn != "" && s == f.failOn {
		return errors.New("injected failure")
	}
	return nil
}

func (f *fakeDriver) createNetwork(_ context.Context, project string, n *spec.Network) (*NetworkRecord, error) {
	if err := f.call("network+ " + n.Name); err != nil {
		return nil, err
	}
	subnet := ""
	if len(n.IPAM) > 0 {
		subnet = n.IPAM[0].Subnet
	}
	return &NetworkRecord{HostName: n.HostName, Bridge: "stk-00000000", Subnet: subnet}, nil
}
func (f *fakeDriver) removeNetwork(_ context.Context, _, key string, _ *NetworkRecord) error {
	return f.call("network- " + key)
}
func (f *fakeDriver) repairNetwork(_ context.Context, _, key string, _ *NetworkRecord) error {
	return f.call("network~ " + key)
}
func (f *fakeDriver) createVolume(_ context.Context, _ string, v *spec.Volume) (*VolumeRecord, error) {
	return &VolumeRecord{HostName: v.HostName}, f.call("volume+ " + v.Name)
}
func (f *fakeDriver) makeImage(_ context.Context, op planner.Operation, name string, _ *spec.Stack) (string, error) {
	return "sha256:" + name, f.call(string(op) + " " + name)
}
func (f *fakeDriver) imageID(_ context.Context, ref string) (string, error) {
	return "sha256:" + ref, nil
}
func (f *fakeDriver) createContainer(_ context.Context, c *containerSpec) (*ContainerRecord, error) {
	if err := f.call("create " + c.Name); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.n++
	id := fmt.Sprintf("%064d", f.n)
	f.mu.Unlock()
	return &ContainerRecord{ID: id}, nil
}
func (f *fakeDriver) startContainer(_ context.Context, c *ContainerRecord) error {
	return f.call("start " + c.Name)
}
func (f *fakeDriver) stopContainer(_ context.Context, c *ContainerRecord, _ time.Duration) error {
	return f.call("stop " + c.Name)
}
func (f *fakeDriver) removeContainer(_ context.Context, c *ContainerRecord) error {
	return f.call("rm " + c.Name)
}
func (f *fakeDriver) waitFor(_ context.Context, c *ContainerRecord, cond string) error {
	return f.call("wait " + c.Name + " " + cond)
}

func loadStack(t *testing.T, dir, yaml string) *spec.Stack {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := spec.Load(spec.LoadOptions{ProjectDir: dir, Env: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func planFor(t *testing.T, root string, st *spec.Stack) *planner.Plan {
	t.Helper()
	obs, err := Observe(root, st.Name)
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Diff(st, obs, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const twoServices = `
name: demo
services:
  db:
    image: busybox:latest
    networks: [back]
  web:
    image: busybox:latest
    command: ["httpd", "-f"]
    depends_on:
      db: {condition: service_healthy}
    networks: [back]
networks:
  back: {}
`

func TestApplyConvergesAndRecords(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	st := loadStack(t, dir, twoServices)
	drv := &fakeDriver{}
	if err := apply(context.Background(), root, st, planFor(t, root, st), drv, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	// The pull and the network are independent: either may come first.
	sort.Strings(drv.calls[:2])
	want := []string{"network+ back", "pull busybox:latest", "create demo-db-1", "start demo-db-1", "create demo-web-1", "wait demo-db-1 service_healthy", "start demo-web-1"}
	if diff := cmp.Diff(want, drv.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if p := planFor(t, root, st); !p.Empty() {
		t.Errorf("plan after apply is not empty:\n%s", p)
	}

	// Change web's command: only web is replaced.
	st2 := loadStack(t, dir, strings.Replace(twoServices, `["httpd", "-f"]`, `["httpd", "-f", "-v"]`, 1))
	drv2 := &fakeDriver{}
	if err := apply(context.Background(), root, st2, planFor(t, root, st2), drv2, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	want2 := []string{"stop demo-web-1", "rm demo-web-1", "create demo-web-1", "wait demo-db-1 service_healthy", "start demo-web-1"}
	if diff := cmp.Diff(want2, drv2.calls); diff != "" {
		t.Errorf("calls (-want +got):\n%s", diff)
	}
	if p := planFor(t, root, st2); !p.Empty() {
		t.Errorf("plan after change is not empty:\n%s", p)
	}
}

func TestApplyFailureLeavesPlannableState(t *testing.T) {
	root, dir := t.TempDir(), t.TempDir()
	st := loadStack(t, dir, twoServices)
	drv := &fakeDriver{failOn: "create demo-web-1"}
	err := apply(context.Background(), root, st, planFor(t, root, st), drv, ApplyOptions{})
	var ae *ApplyError
	if !errors.As(err, &ae) {
		t.Fatalf("want an ApplyError, got %v", err)
	}
	if diff := cmp.Diff([]string{"network/back", "image/busybox:latest", "service/db"}, ae.Done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}
	if len(ae.Failed) != 1 || ae.Failed[0].Resource != "service/web" || !strings.Contains(ae.Failed[0].Err.Error(), "creating demo-web-1: injected failure") {
		t.Errorf("failed = %+v", ae.Failed)
	}
	// The next plan creates only what is missing, and applying it converges.
	p := planFor(t, root, st)
	if len(p.Steps) != 1 || p.Steps[0].Resource != "service/web" {
		t.Fatalf("plan after failure:\n%s", p)
	}
	if err := apply(context.Background(), root, st, p, &fakeDriver{}, ApplyOptions{}); err != nil {
		t.Fatal(err)
	}
	if p := planFor(t, root, st); !p.Empty() {
		t.Errorf("plan after recovery is not empty:\n%s", p)
	}
}
