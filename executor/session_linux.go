package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/layers"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// Session is one `stack up` or `stack down` of a project: it holds the
// project's lock from Begin to Close, so two of them never interleave,
// while other projects go on side by side.
type Session struct {
	root    string
	project string
	log     *slog.Logger
	lock    *projectLock
	drv     *hostDriver
}

// Begin takes the project's lock (waiting for another up/down of the same
// project to finish) and opens the subsystems.
func Begin(root, project string, log *slog.Logger) (*Session, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := lockProject(root, project)
	if err != nil {
		return nil, err
	}
	drv, err := newHostDriver(root, log)
	if err != nil {
		l.unlock()
		return nil, err
	}
	return &Session{root: root, project: project, log: log, lock: l, drv: drv}, nil
}

// Close releases the lock.
func (s *Session) Close() {
	s.drv.close()
	s.lock.unlock()
}

// Observe is ObserveHost under the session's lock.
func (s *Session) Observe(ctx context.Context, desired *spec.Stack) (*planner.Observed, error) {
	return ObserveHost(ctx, s.root, desired)
}

// UpOptions tune Apply beyond ApplyOptions.
type UpOptions struct {
	ApplyOptions
	Pull   string    // image steps: "always", "missing" (default), "never"
	Output io.Writer // output of builds and commits (nil: discarded)
}

// Apply converges the host to desired by running plan (see apply).
func (s *Session) Apply(ctx context.Context, desired *spec.Stack, plan *planner.Plan, opts UpOptions) error {
	if opts.Pull != "" {
		s.drv.pull = opts.Pull
	}
	s.drv.out = opts.Output
	if err := clearInterruptedCreates(ctx, s.root, s.project); err != nil {
		return err
	}
	if err := adoptStrays(s.root, s.project, false); err != nil {
		return err
	}
	return apply(ctx, s.root, desired, plan, s.drv, opts.ApplyOptions)
}

// DownOptions tune Down.
type DownOptions struct {
	Timeout      time.Duration // stop grace period; 0: each container's own, else 10s
	Volumes      bool          // -v: remove the project's named volumes
	RemoveImages string        // --rmi: "" , "local" (images the stack made) or "all"
	Progress     func(resource string, err error, elapsed time.Duration)
}

// Down stops and removes everything the project owns: its containers
// (recorded, and any left unrecorded by an interrupted up), its networks
// and their rules, with Volumes its named volumes and with RemoveImages
// its images; then the project record. It works from any half-made state
// and is idempotent.
func (s *Session) Down(ctx context.Context, opts DownOptions) error {
	if err := clearInterruptedCreates(ctx, s.root, s.project); err != nil {
		return err
	}
	if err := adoptStrays(s.root, s.project, true); err != nil {
		return err
	}
	rec, err := ReadProjectRecord(s.root, s.project)
	if errors.Is(err, fs.ErrNotExist) {
		rec = &ProjectRecord{Version: RecordVersion, Project: s.project}
	} else if err != nil {
		return err
	}
	report := func(res string, err error, t0 time.Time) {
		if opts.Progress != nil {
			opts.Progress(res, err, time.Since(t0))
		}
	}
	var errs []error
	var mu sync.Mutex
	save := func() {
		if err := WriteProjectRecord(s.root, rec); err != nil {
			errs = append(errs, err)
		}
	}

	// Containers: all at once (bounded), each stopped then removed. The
	// record says "removing" first: a down killed half-way through a
	// removal (network released, directory still there) leaves containers
	// the next plan sees as dead and replaces, never ones it would start.
	if len(rec.Containers) > 0 {
		for _, c := range rec.Containers {
			c.State = StateRemoving
		}
		if err := WriteProjectRecord(s.root, rec); err != nil {
			return err
		}
	}
	timeout := opts.Timeout
	if timeout < 0 {
		timeout = 10 * time.Second
	}
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	var removed []string
	// With no grace period nothing needs the network while the containers
	// go: the kernel's slow bridge deletion overlaps their removal, and
	// RemoveNetwork below finds the link gone. (With a grace period the
	// containers keep talking to each other while they stop.)
	if timeout == 0 {
		for _, n := range rec.Networks {
			if n.External {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				s.drv.net.DropBridge(ctx, n.HostName) // errors: RemoveNetwork retries
			}()
		}
	}
	// With a grace period, dependents stop before what they depend on
	// (StopWaves), as compose does; the removals below then find them
	// stopped. With none, everything goes at once.
	if timeout > 0 {
		for _, wave := range StopWaves(rec.Containers) {
			var ww sync.WaitGroup
			for _, c := range wave {
				ww.Add(1)
				go func() {
					defer ww.Done()
					s.drv.stopContainer(ctx, c, timeout) // a failure shows in the removal below
				}()
			}
			ww.Wait()
		}
	}
	for _, c := range rec.Containers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			t0 := time.Now()
			err := s.drv.stopContainer(ctx, c, timeout)
			if err == nil {
				err = s.drv.removeContainer(ctx, c)
			}
			report("container/"+c.Name, err, t0)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("container %s: %w", c.Name, err))
				return
			}
			removed = append(removed, c.ID)
		}()
	}
	wg.Wait()
	gone := map[string]bool{}
	for _, id := range removed {
		gone[id] = true
	}
	kept := rec.Containers[:0]
	for _, c := range rec.Containers {
		if !gone[c.ID] {
			kept = append(kept, c)
		}
	}
	rec.Containers = kept
	save()
	if len(errs) > 0 {
		return errors.Join(errs...)
	}

	// Networks: recorded ones, and any carrying the project's label (an
	// up killed between creating a network and recording it).
	nets := map[string]bool{}
	for _, n := range rec.Networks {
		if !n.External {
			nets[n.HostName] = true
		}
	}
	if all, err := s.drv.net.ListNetworks(ctx); err == nil {
		for _, n := range all {
			if n.Labels[LabelProject] == s.project {
				nets[n.Name] = true
			}
		}
	}
	for _, name := range sortedKeys(nets) {
		t0 := time.Now()
		err := s.drv.net.RemoveNetwork(ctx, name)
		report("network/"+name, err, t0)
		if err != nil {
			errs = append(errs, fmt.Errorf("network %s: %w", name, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	rec.Networks = nil
	save()

	if opts.Volumes {
		for _, key := range sortedKeys(rec.Volumes) {
			v := rec.Volumes[key]
			if v.External {
				continue
			}
			t0 := time.Now()
			err := os.RemoveAll(filepath.Join(s.root, "volumes", v.HostName))
			report("volume/"+v.HostName, err, t0)
			if err != nil {
				errs = append(errs, fmt.Errorf("volume %s: %w", v.HostName, err))
				continue // kept in the record: the next down -v tries again
			}
			delete(rec.Volumes, key)
		}
	}
	if opts.RemoveImages == "local" || opts.RemoveImages == "all" {
		for _, name := range sortedKeys(rec.Images) {
			img := rec.Images[name]
			if opts.RemoveImages == "local" && img.InputHash == "" {
				continue // pulled, not made by the stack
			}
			t0 := time.Now()
			_, err := s.drv.store.Remove(name, false)
			report("image/"+name, err, t0)
			if err != nil {
				errs = append(errs, fmt.Errorf("image %s: %w", name, err))
			}
		}
	}
	if len(errs) > 0 {
		save()
		return errors.Join(errs...)
	}
	path, err := projectRecordPath(s.root, s.project)
	if err != nil {
		return err
	}
	if opts.Volumes || len(rec.Volumes) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing project record: %w", err)
		}
	} else {
		save() // the volumes stay, and so does their record
	}
	return nil
}

// adoptStrays puts into the project's record every container of the
// project that exists on the host without being recorded: an up killed
// between creating a container and recording it leaves one. Adopted
// containers are recorded as "removing", which the planner sees as dead
// (to be replaced) and down removes.
func adoptStrays(root, project string, oneoffs bool) error {
	rec, err := ReadProjectRecord(root, project)
	if errors.Is(err, fs.ErrNotExist) {
		rec = &ProjectRecord{Version: RecordVersion, Project: project}
	} else if err != nil {
		return err
	}
	strays, err := findStrays(root, project, rec, oneoffs)
	if err != nil || len(strays) == 0 {
		return err
	}
	rec.Containers = append(rec.Containers, strays...)
	return WriteProjectRecord(root, rec)
}

// Rebuild builds every image the stack builds (`up --build`): the build
// cache makes an unchanged one cheap, and a changed one gets a new id, so
// the plan that follows replaces exactly the containers whose image moved.
// Each image is recorded as a plan step would record it.
func (s *Session) Rebuild(ctx context.Context, desired *spec.Stack, digests map[string]string, out io.Writer) error {
	s.drv.out = out
	for _, name := range sortedKeys(digests) {
		if b, _ := buildOf(desired, name); b == nil {
			continue
		}
		id, err := s.drv.makeImage(ctx, planner.OpBuild, name, desired)
		if err != nil {
			return fmt.Errorf("image %s: build: %w", name, err)
		}
		rec, err := ReadProjectRecord(s.root, s.project)
		if errors.Is(err, fs.ErrNotExist) {
			rec = &ProjectRecord{Version: RecordVersion, Project: s.project}
		} else if err != nil {
			return err
		}
		if rec.Images == nil {
			rec.Images = map[string]*ImageRecord{}
		}
		rec.Images[name] = &ImageRecord{ID: id, InputHash: planner.ImageInputHash(desired, name, digests[name]), Snapshot: planner.ImageSnapshot(desired, name)}
		if err := WriteProjectRecord(s.root, rec); err != nil {
			return err
		}
	}
	return nil
}

// creating reports whether a CreateContainer is filling dir now: it holds
// an exclusive flock on the directory until it returns.
func creating(dir string) bool {
	d, err := os.Open(dir)
	if err != nil {
		return false
	}
	defer d.Close()
	if err := unix.Flock(int(d.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return true
	}
	unix.Flock(int(d.Fd()), unix.LOCK_UN)
	return false
}

// clearInterruptedCreates removes what an up killed inside CreateContainer
// left of the project's containers: the runtime fills a container's
// directory under containers/.new-<id> and renames it into place last, so
// a kill before the rename leaves that directory, the reserved name, and
// (on bridge networks) the network namespace file and its attachments,
// which keep the project's networks from being removed. A pending
// directory is the project's when its reserved name is one of the
// project's (<project>-...) or it is attached to one of the project's
// networks. Called under the project's lock, so no up of the project is
// creating one at the same time.
func clearInterruptedCreates(ctx context.Context, root, project string) error {
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("listing containers: %w", err)
	}
	pending := map[string]bool{}
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), ".new-"); ok && len(id) == 64 {
			pending[id] = true
		}
	}
	if len(pending) == 0 {
		return nil
	}
	names := map[string]string{} // id → reserved name
	links, _ := os.ReadDir(filepath.Join(root, "names"))
	for _, l := range links {
		if target, err := os.Readlink(filepath.Join(root, "names", l.Name())); err == nil && pending[target] {
			names[target] = l.Name()
		}
	}
	attached := map[string]bool{}
	if _, err := os.Stat(filepath.Join(root, "networks")); err == nil {
		m, err := OpenNetworks(root)
		if err != nil {
			return err
		}
		nets, err := m.ListNetworks(ctx)
		m.Close()
		if err != nil {
			return err
		}
		for _, n := range nets {
			if n.Labels[LabelProject] != project {
				continue
			}
			for id := range n.Endpoints {
				attached[id] = true
			}
		}
	}
	for _, id := range sortedKeys(pending) {
		if !attached[id] && !strings.HasPrefix(names[id], project+"-") {
			continue
		}
		if _, err := os.Stat(containerDir(root, id)); err == nil {
			continue // renamed into place: a stray adoptStrays takes
		}
		if creating(filepath.Join(root, "containers", ".new-"+id)) {
			continue // a create still under way (another project's, or a stack run)
		}
		if err := releaseNetwork(root, id); err != nil {
			return fmt.Errorf("releasing the network of interrupted container %s: %w", id, err)
		}
		if err := os.RemoveAll(filepath.Join(root, "containers", ".new-"+id)); err != nil {
			return fmt.Errorf("removing interrupted container %s: %w", id, err)
		}
		if names[id] != "" {
			releaseName(root, names[id], id)
		}
	}
	return nil
}

// Repull pulls again every image the stack's services run from a registry
// (not the ones it builds or commits) when force is set or the service
// says `pull_policy: always`, and records the ids: the plan that follows
// replaces exactly the containers whose image moved (`up --pull always`).
func (s *Session) Repull(ctx context.Context, desired *spec.Stack, force bool) error {
	refs := map[string]bool{}
	for _, svc := range desired.Services {
		if svc.Image == "" || svc.Build != nil || desired.Images[svc.Image] != nil {
			continue
		}
		if force || svc.PullPolicy == "always" {
			refs[svc.Image] = true
		}
	}
	for _, ref := range sortedKeys(refs) {
		img, err := s.drv.store.Pull(ctx, ref, layers.RegistryOptions{})
		if err != nil {
			return fmt.Errorf("image %s: pull: %w", ref, err)
		}
		rec, err := ReadProjectRecord(s.root, s.project)
		if errors.Is(err, fs.ErrNotExist) {
			rec = &ProjectRecord{Version: RecordVersion, Project: s.project}
		} else if err != nil {
			return err
		}
		if rec.Images == nil {
			rec.Images = map[string]*ImageRecord{}
		}
		rec.Images[ref] = &ImageRecord{ID: img.ID}
		if err := WriteProjectRecord(s.root, rec); err != nil {
			return err
		}
	}
	return nil
}
