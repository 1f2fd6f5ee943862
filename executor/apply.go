package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// driver does the host work of one kind of step. The executor decides
// nothing: it walks the plan and calls the driver; the driver talks to the
// subsystems (netplan, layers, build, the runtime). Tests use a fake that
// records calls.
type driver interface {
	createNetwork(ctx context.Context, project string, n *spec.Network) (*NetworkRecord, error)
	removeNetwork(ctx context.Context, project, key string, rec *NetworkRecord) error
	repairNetwork(ctx context.Context, project, key string, rec *NetworkRecord) error
	createVolume(ctx context.Context, project string, v *spec.Volume) (*VolumeRecord, error)
	// makeImage pulls, builds or commits the image named in the step and
	// returns its id.
	makeImage(ctx context.Context, op planner.Operation, name string, desired *spec.Stack) (string, error)
	// imageID resolves an image reference in the local store.
	imageID(ctx context.Context, ref string) (string, error)
	createContainer(ctx context.Context, c *containerSpec) (*ContainerRecord, error)
	startContainer(ctx context.Context, rec *ContainerRecord) error
	stopContainer(ctx context.Context, rec *ContainerRecord, timeout time.Duration) error
	removeContainer(ctx context.Context, rec *ContainerRecord) error
	// waitFor blocks until the container meets a depends_on condition
	// (service_started, service_healthy, service_completed_successfully).
	waitFor(ctx context.Context, rec *ContainerRecord, condition string) error
}

// containerSpec is everything the driver needs to create one container.
type containerSpec struct {
	Project  string
	Stack    *spec.Stack
	Service  *spec.Service
	Number   int
	Name     string
	ImageRef string
	ImageID  string
	Networks map[string]*NetworkRecord // by key in the stack file
	// NetnsOf names the container whose network namespace this one joins
	// (network_mode service:X / container:NAME), resolved to its record.
	NetnsOf *ContainerRecord
}

// StepEvent is reported as each step starts and ends, for progress output.
type StepEvent struct {
	Step    *planner.Step
	Phase   string // "teardown" or "apply"
	Done    bool   // false when starting
	Err     error
	Elapsed time.Duration
}

// ApplyOptions tune Apply.
type ApplyOptions struct {
	Parallel    int             // steps at a time in each phase; default 4
	StopTimeout time.Duration   // grace period when stopping containers (0: kill at once); negative: the service's stop_grace_period, else 10s
	Progress    func(StepEvent) // called serialized, as each step starts and ends; may be nil
	WaitTimeout time.Duration   // for depends_on conditions; 0: no limit but ctx
}

// ApplyError says what an apply did, what failed and what it did not try.
type ApplyError struct {
	Done         []string // resources, in the order they completed
	Failed       []StepFailure
	NotAttempted []string
}

// StepFailure is one failed step: the resource, the operation and the cause.
type StepFailure struct {
	Resource  string
	Operation string
	Err       error
}

func (e *ApplyError) Error() string {
	var b strings.Builder
	for i, f := range e.Failed {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s: %v", f.Resource, f.Operation, f.Err)
	}
	return b.String()
}

func (e *ApplyError) Unwrap() []error {
	errs := make([]error, len(e.Failed))
	for i, f := range e.Failed {
		errs[i] = f.Err
	}
	return errs
}

// applier carries one Apply.
type applier struct {
	root    string
	desired *spec.Stack
	plan    *planner.Plan
	drv     driver
	opts    ApplyOptions

	mu      sync.Mutex // guards rec, the record file and started
	rec     *ProjectRecord
	started map[string]time.Time // task id → start, for progress

	progressMu sync.Mutex // serializes Progress calls
}

// timed wraps a task's run to note its start and report it.
func (a *applier) timed(st *planner.Step, phase string, run func(context.Context) error) func(context.Context) error {
	id := taskID(st)
	return func(ctx context.Context) error {
		a.mu.Lock()
		a.started[id] = time.Now()
		a.mu.Unlock()
		if a.opts.Progress != nil {
			a.progressMu.Lock()
			a.opts.Progress(StepEvent{Step: st, Phase: phase})
			a.progressMu.Unlock()
		}
		return run(ctx)
	}
}

// apply runs a plan with a driver: teardown first (the old half of every ±
// and every -, in reverse dependency order), then creation (every +, ~ and
// the new half of every ±, in dependency order), each phase in parallel up
// to opts.Parallel. The record is rewritten after every completed step, so
// an interruption at any moment leaves a record the next plan can trust.
func apply(ctx context.Context, root string, desired *spec.Stack, plan *planner.Plan, drv driver, opts ApplyOptions) error {
	if opts.Parallel < 1 {
		opts.Parallel = 4
	}
	rec, err := ReadProjectRecord(root, plan.Project)
	if err != nil {
		if !isNotExist(err) {
			return err
		}
		rec = &ProjectRecord{Version: RecordVersion, Project: plan.Project}
	}
	a := &applier{root: root, desired: desired, plan: plan, drv: drv, opts: opts, rec: rec, started: map[string]time.Time{}}

	var (
		done   []string
		failed []StepFailure
		notTry []string
	)
	byID := map[int]*planner.Step{}
	for i := range plan.Steps {
		byID[plan.Steps[i].ID] = &plan.Steps[i]
	}
	collect := func(phase string, res dagResult) {
		done = append(done, res.done...)
		for _, id := range res.notAttempted {
			notTry = append(notTry, id)
		}
		ids := sortedKeys(res.failed)
		for _, id := range ids {
			st := stepOf(byID, id)
			op := string(st.Operation)
			if phase == "teardown" && st.Action == planner.Replace {
				op += " (removing the old)"
			}
			failed = append(failed, StepFailure{Resource: st.Resource, Operation: op, Err: res.failed[id]})
		}
	}

	// Phase 1: teardown, in reverse: a step is torn down after every step
	// that depends on it.
	var down []task
	dependents := map[int][]string{}
	for i := range plan.Steps {
		st := &plan.Steps[i]
		for _, d := range st.DependsOn {
			dependents[d] = append(dependents[d], taskID(st))
		}
	}
	for i := len(plan.Steps) - 1; i >= 0; i-- {
		st := &plan.Steps[i]
		if st.Action != planner.Remove && st.Action != planner.Replace {
			continue
		}
		down = append(down, task{id: taskID(st), deps: dependents[st.ID], run: a.timed(st, "teardown", func(ctx context.Context) error {
			return a.teardown(ctx, st)
		})})
	}
	res := runDAG(ctx, down, opts.Parallel, a.progress("teardown", byID))
	collect("teardown", res)
	if len(res.failed) > 0 || ctx.Err() != nil {
		for _, st := range plan.Steps {
			if st.Action != planner.Remove {
				notTry = append(notTry, taskID(&st))
			}
		}
		return a.result(ctx, byID, done, failed, notTry)
	}

	// Phase 2: creation in dependency order.
	var up []task
	for i := range plan.Steps {
		st := &plan.Steps[i]
		if st.Action == planner.Remove {
			continue
		}
		deps := make([]string, 0, len(st.DependsOn))
		for _, d := range st.DependsOn {
			if dst := byID[d]; dst != nil && dst.Action != planner.Remove {
				deps = append(deps, taskID(dst))
			}
		}
		up = append(up, task{id: taskID(st), deps: deps, run: a.timed(st, "apply", func(ctx context.Context) error {
			return a.build(ctx, st)
		})})
	}
	res = runDAG(ctx, up, opts.Parallel, a.progress("apply", byID))
	collect("apply", res)
	return a.result(ctx, byID, done, failed, notTry)
}

func (a *applier) result(ctx context.Context, byID map[int]*planner.Step, done []string, failed []StepFailure, notTry []string) error {
	if len(failed) == 0 && len(notTry) == 0 && ctx.Err() == nil {
		return nil
	}
	e := &ApplyError{Failed: failed}
	seen := map[string]bool{}
	for _, id := range done {
		if r := stepOf(byID, id).Resource; !seen["d"+r] {
			seen["d"+r] = true
			e.Done = append(e.Done, r)
		}
	}
	for _, id := range notTry {
		if r := stepOf(byID, id).Resource; !seen["n"+r] {
			seen["n"+r] = true
			e.NotAttempted = append(e.NotAttempted, r)
		}
	}
	if len(failed) == 0 && ctx.Err() != nil {
		e.Failed = []StepFailure{{Resource: "apply", Operation: "interrupted", Err: ctx.Err()}}
	}
	return e
}

func (a *applier) progress(phase string, byID map[int]*planner.Step) func(string, error) {
	return func(id string, err error) {
		if a.opts.Progress != nil {
			// Called by runDAG with no lock of ours held.
			a.mu.Lock()
			t0 := a.started[id]
			a.mu.Unlock()
			a.progressMu.Lock()
			a.opts.Progress(StepEvent{Step: stepOf(byID, id), Phase: phase, Done: true, Err: err, Elapsed: time.Since(t0)})
			a.progressMu.Unlock()
		}
	}
}

func taskID(st *planner.Step) string { return fmt.Sprintf("%06d", st.ID) }

func stepOf(byID map[int]*planner.Step, id string) *planner.Step {
	var n int
	fmt.Sscanf(id, "%d", &n)
	return byID[n]
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

// kindName splits "service/web" into its kind and name. Image references
// contain slashes of their own: only the first one separates.
func kindName(resource string) (kind, name string) {
	kind, name, _ = strings.Cut(resource, "/")
	return kind, name
}

// save rewrites the record; called with a.mu held.
func (a *applier) save() error {
	return WriteProjectRecord(a.root, a.rec)
}

// update changes the record under the lock and writes it.
func (a *applier) update(fn func(r *ProjectRecord)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	fn(a.rec)
	return a.save()
}

// containersOf returns the recorded containers of a service, by number.
func (a *applier) containersOf(service string) []*ContainerRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []*ContainerRecord
	for _, c := range a.rec.Containers {
		if c.Service == service {
			out = append(out, c)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out
}

func (a *applier) containerNamed(name string) *ContainerRecord {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.rec.Containers {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func (a *applier) dropContainer(id string) error {
	return a.update(func(r *ProjectRecord) {
		out := r.Containers[:0]
		for _, c := range r.Containers {
			if c.ID != id {
				out = append(out, c)
			}
		}
		r.Containers = out
	})
}

// teardown removes what a - step removes, or the old half of a ± step.
func (a *applier) teardown(ctx context.Context, st *planner.Step) error {
	kind, name := kindName(st.Resource)
	switch kind {
	case "service":
		for _, iname := range st.Instances {
			c := a.containerNamed(iname)
			if c == nil {
				continue // never made, or already gone
			}
			if err := a.removeContainer(ctx, c); err != nil {
				return err
			}
		}
		return nil
	case "network":
		a.mu.Lock()
		rec := a.rec.Networks[name]
		a.mu.Unlock()
		if rec == nil {
			return nil
		}
		if err := a.drv.removeNetwork(ctx, a.plan.Project, name, rec); err != nil {
			return err
		}
		return a.update(func(r *ProjectRecord) { delete(r.Networks, name) })
	case "volume", "image":
		return nil // plans never remove volumes or images (down -v / --rmi do)
	}
	return fmt.Errorf("unknown resource kind %q", kind)
}

// removeContainer stops and removes one container and drops it from the
// record. The record first says "removing", so an interruption is seen as
// a dead container the next plan replaces.
func (a *applier) removeContainer(ctx context.Context, c *ContainerRecord) error {
	if err := a.update(func(*ProjectRecord) { c.State = StateRemoving }); err != nil {
		return err
	}
	if err := a.drv.stopContainer(ctx, c, a.stopTimeout(c.Service)); err != nil {
		return fmt.Errorf("stopping %s: %w", c.Name, err)
	}
	if err := a.drv.removeContainer(ctx, c); err != nil {
		return fmt.Errorf("removing %s: %w", c.Name, err)
	}
	return a.dropContainer(c.ID)
}

func (a *applier) stopTimeout(service string) time.Duration {
	if a.opts.StopTimeout >= 0 {
		return a.opts.StopTimeout
	}
	if s := a.desired.Services[service]; s != nil && s.StopGracePeriod > 0 {
		return s.StopGracePeriod.Std()
	}
	return 10 * time.Second
}

// build does what a +, ~ or the new half of a ± step does.
func (a *applier) build(ctx context.Context, st *planner.Step) error {
	kind, name := kindName(st.Resource)
	switch kind {
	case "network":
		n := a.desired.Networks[name]
		if n == nil {
			return fmt.Errorf("network %s is not in the stack", name)
		}
		if st.Operation == planner.OpRepairRules {
			a.mu.Lock()
			rec := a.rec.Networks[name]
			a.mu.Unlock()
			return a.drv.repairNetwork(ctx, a.plan.Project, name, rec)
		}
		rec, err := a.drv.createNetwork(ctx, a.plan.Project, n)
		if err != nil {
			return err
		}
		if snap, err := json.Marshal(n); err == nil {
			rec.Snapshot = snap
		}
		return a.update(func(r *ProjectRecord) {
			if r.Networks == nil {
				r.Networks = map[string]*NetworkRecord{}
			}
			r.Networks[name] = rec
		})
	case "volume":
		v := a.desired.Volumes[name]
		if v == nil {
			return fmt.Errorf("volume %s is not in the stack", name)
		}
		rec, err := a.drv.createVolume(ctx, a.plan.Project, v)
		if err != nil {
			return err
		}
		return a.update(func(r *ProjectRecord) {
			if r.Volumes == nil {
				r.Volumes = map[string]*VolumeRecord{}
			}
			r.Volumes[name] = rec
		})
	case "image":
		id, err := a.drv.makeImage(ctx, st.Operation, name, a.desired)
		if err != nil {
			return err
		}
		return a.update(func(r *ProjectRecord) {
			if r.Images == nil {
				r.Images = map[string]*ImageRecord{}
			}
			r.Images[name] = &ImageRecord{ID: id, InputHash: st.InputHash, Snapshot: planner.ImageSnapshot(a.desired, name)}
		})
	case "service":
		return a.buildService(ctx, st, name)
	}
	return fmt.Errorf("unknown resource kind %q", kind)
}

func (a *applier) buildService(ctx context.Context, st *planner.Step, name string) error {
	s := a.desired.Services[name]
	if s == nil {
		return fmt.Errorf("service %s is not in the stack", name)
	}
	hash := s.ConfigHash()
	snap, err := s.Snapshot()
	if err != nil {
		return fmt.Errorf("service %s: %w", name, err)
	}
	switch st.Operation {
	case planner.OpUpdate:
		return a.update(func(r *ProjectRecord) {
			for _, c := range r.Containers {
				if c.Service == name && contains(st.Instances, c.Name) {
					c.ConfigHash, c.Snapshot = hash, snap
				}
			}
		})
	case planner.OpStart, planner.OpRestart:
		if err := a.waits(ctx, st); err != nil {
			return err
		}
		for _, iname := range st.Instances {
			c := a.containerNamed(iname)
			if c == nil {
				return fmt.Errorf("container %s is not recorded", iname)
			}
			if st.Operation == planner.OpRestart {
				if err := a.drv.stopContainer(ctx, c, a.stopTimeout(name)); err != nil {
					return fmt.Errorf("stopping %s: %w", iname, err)
				}
			}
			if err := a.drv.startContainer(ctx, c); err != nil {
				return fmt.Errorf("starting %s: %w", iname, err)
			}
			if err := a.update(func(*ProjectRecord) { c.State = StateRunning; c.ExitCode = 0 }); err != nil {
				return err
			}
		}
		return nil
	case planner.OpCreate, planner.OpReplace:
	default:
		return fmt.Errorf("service %s: operation %q is not one a service step has", name, st.Operation)
	}

	imageRef := a.imageRefOf(s)
	imageID, err := a.imageIDFor(ctx, imageRef)
	if err != nil {
		return err
	}
	nets := map[string]*NetworkRecord{}
	var netKeys []string
	a.mu.Lock()
	for key := range s.Networks {
		if r := a.rec.Networks[key]; r != nil {
			nets[key] = r
			netKeys = append(netKeys, key)
		} else if n := a.desired.Networks[key]; n != nil && n.External {
			nets[key] = &NetworkRecord{HostName: n.HostName}
			netKeys = append(netKeys, key)
		}
	}
	a.mu.Unlock()
	sort.Strings(netKeys)

	var netnsOf *ContainerRecord
	if target, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		if cs := a.containersOf(target); len(cs) > 0 {
			netnsOf = cs[0]
		} else {
			return fmt.Errorf("service %s: network_mode service:%s: it has no container", name, target)
		}
	} else if target, ok := strings.CutPrefix(s.NetworkMode, "container:"); ok {
		netnsOf = a.containerNamed(target)
		if netnsOf == nil {
			netnsOf = &ContainerRecord{Name: target} // a container outside the project; the driver resolves it
		}
	}

	// Create every instance, then wait for the conditions, then start.
	var made []*ContainerRecord
	for _, iname := range st.Instances {
		if c := a.containerNamed(iname); c != nil {
			// The old half of a ± was torn down; a leftover here is one a
			// previous step of this run made: keep it.
			made = append(made, c)
			continue
		}
		cs := &containerSpec{
			Project: a.plan.Project, Stack: a.desired, Service: s,
			Number: instanceNumber(a.plan.Project, s, iname), Name: iname,
			ImageRef: imageRef, ImageID: imageID, Networks: nets, NetnsOf: netnsOf,
		}
		c, err := a.drv.createContainer(ctx, cs)
		if err != nil {
			return fmt.Errorf("creating %s: %w", iname, err)
		}
		c.Service, c.Number, c.Name = name, cs.Number, iname
		c.ConfigHash, c.Snapshot, c.ImageID, c.Networks = hash, snap, imageID, netKeys
		c.State = StateCreated
		if err := a.update(func(r *ProjectRecord) { r.Containers = append(r.Containers, c) }); err != nil {
			return err
		}
		made = append(made, c)
	}
	if err := a.waits(ctx, st); err != nil {
		return err
	}
	for _, c := range made {
		if c.State == StateRunning {
			continue
		}
		if err := a.drv.startContainer(ctx, c); err != nil {
			return fmt.Errorf("starting %s: %w", c.Name, err)
		}
		if err := a.update(func(*ProjectRecord) { c.State = StateRunning }); err != nil {
			return err
		}
	}
	return nil
}

// waits blocks until the step's depends_on conditions hold.
func (a *applier) waits(ctx context.Context, st *planner.Step) error {
	if a.opts.WaitTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.opts.WaitTimeout)
		defer cancel()
	}
	for _, w := range st.Waits {
		_, dep := kindName(w.Resource)
		cs := a.containersOf(dep)
		if len(cs) == 0 {
			if !w.Required {
				continue
			}
			return fmt.Errorf("waiting for %s (%s): it has no container", w.Resource, w.Condition)
		}
		for _, c := range cs {
			if err := a.drv.waitFor(ctx, c, w.Condition); err != nil {
				if !w.Required {
					continue
				}
				return fmt.Errorf("waiting for %s to be %s: %w", c.Name, conditionWords(w.Condition), err)
			}
		}
	}
	return nil
}

func conditionWords(cond string) string {
	switch cond {
	case "service_healthy":
		return "healthy"
	case "service_completed_successfully":
		return "completed successfully"
	}
	return "started"
}

// imageRefOf is the image a service runs: its image: name, or the
// project's default name for a build without one.
func (a *applier) imageRefOf(s *spec.Service) string {
	return planner.ImageName(a.desired, s)
}

// imageIDFor takes the id of an image the project records (made or pulled
// by this or an earlier run), else asks the store.
func (a *applier) imageIDFor(ctx context.Context, ref string) (string, error) {
	// What the store holds is what the container runs (it is created from
	// the reference): record that, and keep the project's image record in
	// step with it, or the next plan would see the container's image as
	// changed for ever.
	id, err := a.drv.imageID(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", ref, err)
	}
	a.mu.Lock()
	img := a.rec.Images[ref]
	a.mu.Unlock()
	if img != nil && img.ID != id && img.InputHash == "" {
		if err := a.update(func(*ProjectRecord) { img.ID = id }); err != nil {
			return "", err
		}
	}
	return id, nil
}

// instanceNumber recovers n from <project>-<service>-<n> (a container_name
// is instance 1).
func instanceNumber(project string, s *spec.Service, name string) int {
	for n := 1; n <= planner.Scale(s)+64; n++ {
		if planner.ContainerName(project, s, n) == name {
			return n
		}
	}
	return 1
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
