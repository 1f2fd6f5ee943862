package build

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/layers"
)

// Options are the inputs of one build: `stack build` flags, or a compose
// service's `build:` section.
type Options struct {
	// ContextDir is the build context directory.
	ContextDir string
	// Dockerfile is the Dockerfile's path; a relative path is relative to
	// ContextDir; "" means ContextDir/Dockerfile. DockerfileInline, when
	// set, is the Dockerfile's content instead (compose dockerfile_inline).
	Dockerfile       string
	DockerfileInline string
	Args             map[string]string // --build-arg
	Target           string            // --target
	Labels           map[string]string // --label: set on the final image
	Tags             []string          // -t, repeatable; none: a dangling image
	Network          string            // RUN's network: "default" (or ""), "none" or "host"
	NoCache          bool              // --no-cache: run every step
	Pull             bool              // --pull: pull base images before building
	// Progress receives the build's events (nil: none). Independent
	// stages build in parallel, so the events of several stages may
	// interleave; Progress is never called by two goroutines at once.
	Progress func(Event)
}

// EventKind is what an Event reports.
type EventKind int

// The kinds of build events.
const (
	StepStarted  EventKind = iota // a step begins (FROM lines too)
	StepOutput                    // output of a RUN command
	StepDone                      // a step ended: Cached, Elapsed
	BuildWarning                  // Text is a warning (unused build args)
)

// Event is one piece of build progress.
type Event struct {
	Kind    EventKind
	N       int    // 1-based step number in the whole build
	Total   int    // number of steps of the build (FROM lines included)
	Stage   string // the stage's name or index
	Text    string // the step as written ("RUN apk add curl"), or a warning
	Cached  bool   // StepDone: the step's result came from the cache
	Elapsed time.Duration
	Output  []byte // StepOutput
}

// Result of a build.
type BuildResult struct {
	ImageID string // the final image's ID ("sha256:...")
	Image   *layers.Image
	Steps   int // steps that ran or came from the cache (FROM excluded)
	Cached  int // steps taken from the cache
}

// Builder runs Dockerfile builds: each RUN in a container through its
// Runner, each layer through the image store, each step's result in the
// build cache under <root>/build-cache.
type Builder struct {
	store  *layers.Store
	runner Runner
	cache  *Cache
	log    *slog.Logger
}

// NewBuilder returns a Builder over the image store; runner runs RUN
// steps (it may be nil for Dockerfiles without RUN). log may be nil.
func NewBuilder(store *layers.Store, runner Runner, log *slog.Logger) *Builder {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Builder{store: store, runner: runner, cache: OpenCache(store.Root()), log: log}
}

// BuildImage builds an image from opts and returns its ID: what the
// executor calls for a compose `build:` section.
func BuildImage(ctx context.Context, store *layers.Store, runner Runner, opts Options) (string, error) {
	res, err := NewBuilder(store, runner, nil).Build(ctx, opts)
	if err != nil {
		return "", err
	}
	return res.ImageID, nil
}

// readDockerfile returns the Dockerfile's name (for errors), its content
// and its path ("" when inline).
func readDockerfile(opts *Options) (name string, data []byte, path string, err error) {
	if opts.DockerfileInline != "" {
		return "Dockerfile", []byte(opts.DockerfileInline), "", nil
	}
	path = opts.Dockerfile
	if path == "" {
		path = "Dockerfile"
	}
	if !filepath.IsAbs(path) {
		path = filepath.Join(opts.ContextDir, path)
	}
	data, err = os.ReadFile(path)
	if err != nil {
		return "", nil, "", fmt.Errorf("reading Dockerfile: %w", err)
	}
	name = opts.Dockerfile
	if name == "" {
		name = "Dockerfile"
	} else if rel, err := filepath.Rel(opts.ContextDir, path); err == nil && filepath.IsLocal(rel) {
		name = rel // errors read "sub/Dockerfile:3: ...", not an absolute path
	}
	return name, data, path, nil
}

// stageState is a stage being built: its current image. A cache hit
// only records the image's ID (lazyID); the image is loaded when a later
// step needs it (a miss) or the stage ends, so a fully cached build
// reads the image store once per stage.
type stageState struct {
	img     *layers.Image // nil: scratch with no layer yet, or not loaded (lazyID)
	lazyID  string        // an image taken from the cache, not loaded yet
	fromKey string        // the cache entry lazyID came from
}

// chainID is the chain ID of the stage's layers so far ("" for none);
// the image must be loaded.
func (s *stageState) chainID() string {
	if s.img == nil || len(s.img.ChainIDs) == 0 {
		return ""
	}
	return s.img.ChainIDs[len(s.img.ChainIDs)-1]
}

func (s *stageState) id() string {
	if s.img == nil {
		return s.lazyID
	}
	return s.img.ID
}

// errStaleCache: an image the cache named is gone (`stack image prune`
// removed it); its entry is deleted and the stage is built again.
var errStaleCache = errors.New("a cached image is gone")

// load loads an image taken from the cache.
func (ex *execution) load(s *stageState) error {
	if s.img != nil || s.lazyID == "" {
		return nil
	}
	img, err := ex.b.store.Image(s.lazyID)
	if err != nil {
		ex.b.cache.Delete(s.fromKey)
		return fmt.Errorf("%w: %s: %v", errStaleCache, s.lazyID, err)
	}
	s.img, s.lazyID = img, ""
	return nil
}

// lowers are the stage's layer directories, topmost first.
func (b *Builder) lowers(img *layers.Image) []string {
	if img == nil {
		return nil
	}
	out := make([]string, 0, len(img.ChainIDs))
	for i := len(img.ChainIDs) - 1; i >= 0; i-- {
		out = append(out, b.store.LayerDir(img.ChainIDs[i]))
	}
	return out
}

// Build runs the build opts describe and tags its image.
func (b *Builder) Build(ctx context.Context, opts Options) (*BuildResult, error) {
	if opts.ContextDir == "" {
		opts.ContextDir = "."
	}
	if abs, err := filepath.Abs(opts.ContextDir); err == nil {
		opts.ContextDir = abs
	}
	switch opts.Network {
	case "", NetworkDefault, NetworkNone, NetworkHost:
	default:
		return nil, fmt.Errorf("network %q: want default, none or host", opts.Network)
	}
	for _, t := range opts.Tags {
		if _, err := layers.ParseReference(t); err != nil {
			return nil, fmt.Errorf("tag %s: %w", t, err)
		}
	}
	name, data, dfPath, err := readDockerfile(&opts)
	if err != nil {
		return nil, err
	}
	plan, err := Parse(name, data, ParseOptions{BuildArgs: opts.Args, Target: opts.Target})
	if err != nil {
		return nil, err
	}
	emit := opts.Progress
	if emit == nil {
		emit = func(Event) {}
	}
	for _, a := range plan.UnusedBuildArgs {
		emit(Event{Kind: BuildWarning, Text: fmt.Sprintf("build arg %s was given but no ARG declares it", a)})
	}
	bctx, err := OpenContext(opts.ContextDir, dfPath)
	if err != nil {
		return nil, err
	}

	// Resolve the base images and convert every stage first (Convert is
	// pure): the step count is then known for the progress lines.
	bases := map[*Stage]*layers.Image{}
	results := map[*Stage]*Result{}
	first := map[*Stage]int{} // the number of the stage's FROM line
	total := 0
	for _, st := range plan.Build {
		var baseCfg *v1.ConfigFile
		switch {
		case st.BaseStage != nil:
			baseCfg = results[st.BaseStage].Image()
		case st.Scratch():
		default:
			img, err := b.baseImage(ctx, st, opts.Pull)
			if err != nil {
				return nil, err
			}
			bases[st] = img
			baseCfg = &img.Config
		}
		r, err := plan.Convert(st, baseCfg)
		if err != nil {
			return nil, err
		}
		if st == plan.Target {
			r.AddLabels(opts.Labels)
		}
		results[st] = r
		first[st] = total + 1
		total += 1 + len(r.Steps)
	}

	// Stages run in parallel, each once the stages it needs (its base
	// stage, its COPY --from sources) are built.
	var mu sync.Mutex
	ex := &execution{b: b, opts: &opts, plan: plan, ctx: bctx, total: total, runs: map[*Stage]*stageRun{},
		emit: func(e Event) { mu.Lock(); defer mu.Unlock(); emit(e) }}
	for _, st := range plan.Build {
		ex.runs[st] = &stageRun{done: make(chan struct{})}
	}
	bctxRun, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	for _, st := range plan.Build {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := ex.runs[st]
			defer close(r.done)
			for _, d := range stageDeps(st, results[st]) {
				dr := ex.runs[d]
				if dr == nil {
					r.err = errorfAt(st.Pos, "stage %s needs stage %s, which the target does not build", st.DisplayName(), d.DisplayName())
					cancel()
					return
				}
				<-dr.done
				if dr.err != nil {
					r.err = errDependency
					return
				}
			}
			// Each retry deletes the stale entry it met: at most one per step.
			for attempt := 0; ; attempt++ {
				r.img, r.steps, r.cached, r.err = ex.stage(bctxRun, st, bases[st], results[st], first[st])
				if errors.Is(r.err, errStaleCache) && attempt <= len(results[st].Steps) {
					ex.emit(Event{Kind: BuildWarning, Text: fmt.Sprintf("stage %s: %v; building the stage again", st.DisplayName(), r.err)})
					continue
				}
				break
			}
			if r.err != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	// The first real error in file order (not a stage stopped for it).
	var firstErr error
	steps, cached := 0, 0
	for _, st := range plan.Build {
		r := ex.runs[st]
		steps += r.steps
		cached += r.cached
		if r.err == nil || errors.Is(r.err, errDependency) {
			continue
		}
		// A stage stopped because another failed ends with "canceled":
		// the other's error is the one to report.
		if firstErr == nil || errors.Is(firstErr, context.Canceled) && ctx.Err() == nil && !errors.Is(r.err, context.Canceled) {
			firstErr = r.err
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	final := ex.runs[plan.Target].img
	if final == nil {
		// FROM scratch and nothing else: an empty image.
		img, err := b.store.Commit(layers.CommitOptions{Config: &results[plan.Target].Config.Config, CreatedBy: "FROM scratch"})
		if err != nil {
			return nil, fmt.Errorf("building: %w", err)
		}
		final = img
	}
	retagged := false
	for _, t := range opts.Tags {
		if r, err := layers.ParseReference(t); err == nil && slices.Contains(final.RepoTags, r.Familiar()) {
			continue // already there: a cached rebuild writes nothing
		}
		if err := b.store.Tag(final.ID, t); err != nil {
			return nil, fmt.Errorf("tagging %s: %w", t, err)
		}
		retagged = true
	}
	if retagged {
		if img, err := b.store.Image(final.ID); err == nil {
			final = img
		}
	}
	b.cache.markResult(final.ID)
	return &BuildResult{ImageID: final.ID, Image: final, Steps: steps, Cached: cached}, nil
}

// baseImage finds a stage's base image in the store, pulling it first
// with pull (or when a pull is the only way: never, without pull).
func (b *Builder) baseImage(ctx context.Context, st *Stage, pull bool) (*layers.Image, error) {
	if pull {
		img, err := b.store.Pull(ctx, st.Base, layers.RegistryOptions{})
		if err != nil {
			return nil, errorfAt(st.Pos, "FROM %s: pulling: %v", st.Base, err)
		}
		return img, nil
	}
	img, err := b.store.Image(st.Base)
	if errors.Is(err, layers.ErrNotFound) {
		return nil, errorfAt(st.Pos, "FROM %s: the image is not in the image store; pull it first (stack pull %s) or build with --pull", st.Base, st.Base)
	}
	if err != nil {
		return nil, errorfAt(st.Pos, "FROM %s: %v", st.Base, err)
	}
	return img, nil
}

// execution is one running build.
type execution struct {
	b     *Builder
	opts  *Options
	plan  *Plan
	ctx   *Context
	emit  func(Event) // serialised: stages emit from their goroutines
	total int
	runs  map[*Stage]*stageRun
}

// stageRun is one stage's build; done is closed when it ended.
type stageRun struct {
	done          chan struct{}
	img           *layers.Image
	err           error
	steps, cached int
}

// errDependency stops a stage whose dependency failed (the build reports
// the dependency's error).
var errDependency = errors.New("a stage this one needs failed")

// stageDeps are the stages st needs built first: its base stage and the
// sources of its COPY --from steps (ONBUILD triggers included).
func stageDeps(st *Stage, res *Result) []*Stage {
	var deps []*Stage
	seen := map[*Stage]bool{}
	add := func(d *Stage) {
		if d != nil && !seen[d] {
			seen[d] = true
			deps = append(deps, d)
		}
	}
	add(st.BaseStage)
	for _, s := range res.Steps {
		if s.Copy != nil {
			add(s.Copy.FromStage)
		}
	}
	return deps
}

// result is the image of a stage this one depends on (built already).
func (ex *execution) result(st *Stage) *layers.Image { return ex.runs[st].img }

// stage builds one stage and returns its image (nil for an empty scratch
// stage) and how many steps it ran and took from the cache. Its steps are
// numbered from first (its FROM line).
func (ex *execution) stage(ctx context.Context, st *Stage, base *layers.Image, res *Result, first int) (img *layers.Image, steps, cached int, err error) {
	b := ex.b
	state := &stageState{img: base}
	if st.BaseStage != nil {
		state.img = ex.result(st.BaseStage)
	}
	from := st.Instructions[0].Source
	ex.emit(Event{Kind: StepStarted, N: first, Total: ex.total, Stage: st.DisplayName(), Text: from})
	ex.emit(Event{Kind: StepDone, N: first, Total: ex.total, Stage: st.DisplayName(), Text: from, Cached: true})

	for i, step := range res.Steps {
		if err := ctx.Err(); err != nil {
			return nil, steps, cached, err
		}
		t0 := time.Now()
		ev := Event{N: first + 1 + i, Total: ex.total, Stage: st.DisplayName(), Text: step.String()}
		ev.Kind = StepStarted
		ex.emit(ev)

		parent := state.id()
		digest, prepared, err := ex.contentDigest(ctx, step)
		if err != nil {
			return nil, steps, cached, errorAt(step.Pos, err)
		}
		// Two keys: the image key (parent image, step) finds the very
		// image an earlier build made, so nothing is written; the layer
		// key (parent's chain ID, step) finds the layer of a step whose
		// parent image differs only in its config (a LABEL or EXPOSE
		// above it changed): the layer is reused, the command not run.
		key := CacheKey(parent, step.CacheText, digest)
		hit := func() {
			steps++
			cached++
			prepared.cleanup()
			ev.Kind, ev.Cached, ev.Elapsed = StepDone, true, time.Since(t0)
			ex.emit(ev)
		}
		if !ex.opts.NoCache {
			if id, ok := b.cache.Get(key); ok {
				state.img, state.lazyID, state.fromKey = nil, id, key
				hit()
				continue
			}
		}
		if err := ex.load(state); err != nil {
			prepared.cleanup()
			return nil, steps, cached, err
		}
		layerKey := ""
		if step.Layer() {
			layerKey = CacheKey("layer:"+state.chainID(), step.CacheText, digest)
		}
		if !ex.opts.NoCache && layerKey != "" {
			img, err := ex.fromLayerCache(state, step, key, layerKey)
			if err != nil {
				prepared.cleanup()
				return nil, steps, cached, err
			}
			if img != nil {
				state.img = img
				hit()
				continue
			}
		}
		img, err := ex.run(ctx, st, state, step, digest, prepared, &ev)
		prepared.cleanup()
		if err != nil {
			return nil, steps, cached, err
		}
		b.cache.markImage(img.ID)
		if err := b.cache.Put(key, img.ID); err != nil {
			b.log.Warn("writing build cache entry", "err", err)
		}
		if layerKey != "" {
			if err := b.cache.PutLayer(layerKey, layerOf(state.img, img, digest)); err != nil {
				b.log.Warn("writing build cache entry", "err", err)
			}
		}
		state.img = img
		steps++
		ev.Kind, ev.Cached, ev.Elapsed = StepDone, false, time.Since(t0)
		ex.emit(ev)
	}
	if err := ex.load(state); err != nil {
		return nil, steps, cached, err
	}
	return state.img, steps, cached, nil
}

// fromLayerCache commits the layer the layer key names over the stage's
// image, or returns nil when there is none.
func (ex *execution) fromLayerCache(state *stageState, step *Step, key, layerKey string) (*layers.Image, error) {
	b := ex.b
	l, ok := b.cache.GetLayer(layerKey)
	if !ok {
		return nil, nil
	}
	commit := layers.CommitOptions{Base: state.id(), Config: &step.Config, CreatedBy: step.History.CreatedBy}
	if step.Copy != nil {
		s := *step
		s.SetContentDigest(l.ContentDigest)
		commit.CreatedBy = s.History.CreatedBy
	}
	if !l.Empty {
		chain := layers.ChainIDs(append(ex.diffIDs(state.img), l.DiffID))
		if !b.store.HasBlob(l.Blob) || !b.store.HasLayer(chain[len(chain)-1]) {
			b.cache.Delete(layerKey)
			return nil, nil
		}
		f, err := b.store.OpenBlob(l.Blob)
		if err != nil {
			return nil, nil
		}
		defer f.Close()
		commit.Layer = f
	}
	img, err := b.store.Commit(commit)
	if err != nil {
		return nil, errorfAt(step.Pos, "%s: reusing a cached layer: %v", step.String(), err)
	}
	if !l.Empty && img.DiffIDs[len(img.DiffIDs)-1] != l.DiffID {
		return nil, errorfAt(step.Pos, "%s: the cached layer %s changed", step.String(), l.DiffID)
	}
	b.cache.markImage(img.ID)
	if err := b.cache.Put(key, img.ID); err != nil {
		b.log.Warn("writing build cache entry", "err", err)
	}
	return img, nil
}

func (ex *execution) diffIDs(img *layers.Image) []string {
	if img == nil {
		return nil
	}
	return img.DiffIDs
}

// layerOf is the layer a step added over parent to make img (Empty when
// it added none).
func layerOf(parent, img *layers.Image, contentDigest string) CachedLayer {
	n := 0
	if parent != nil {
		n = len(parent.DiffIDs)
	}
	if len(img.DiffIDs) <= n {
		return CachedLayer{Empty: true, ContentDigest: contentDigest}
	}
	l := CachedLayer{DiffID: img.DiffIDs[len(img.DiffIDs)-1], ContentDigest: contentDigest}
	if m := img.Manifest.Layers; len(m) > 0 {
		l.Blob = m[len(m)-1].Digest.String()
	}
	return l
}

// run executes one step that missed the cache and commits its image.
func (ex *execution) run(ctx context.Context, st *Stage, state *stageState, step *Step, digest string, prep *prepared, ev *Event) (*layers.Image, error) {
	b := ex.b
	commit := layers.CommitOptions{
		Base:      state.id(),
		Config:    &step.Config,
		CreatedBy: step.History.CreatedBy,
		Comment:   step.History.Comment,
	}
	if step.Cmd == "MAINTAINER" {
		commit.Author = step.Author
	}
	switch {
	case step.Run != nil:
		if b.runner == nil {
			return nil, errorfAt(step.Pos, "RUN: no container runner")
		}
		work, err := b.cache.tempDir("run-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(work)
		upper, wdir := filepath.Join(work, "upper"), filepath.Join(work, "work")
		for _, d := range []string{upper, wdir} {
			if err := os.Mkdir(d, 0o755); err != nil {
				return nil, fmt.Errorf("preparing RUN: %w", err)
			}
		}
		tail := &tailWriter{max: 20}
		out := io.Writer(tail)
		if ex.opts.Progress != nil {
			out = io.MultiWriter(tail, &eventWriter{emit: ex.emit, ev: *ev})
		}
		out = &lockedWriter{w: out}
		spec := RunSpec{
			Lower: b.lowers(state.img), Upper: upper, Work: wdir,
			Args: step.Run.Args, Env: step.Run.Env, Dir: step.Run.Dir, User: step.Run.User,
			Network: ex.opts.Network, Stdout: out, Stderr: out,
		}
		if spec.Network == "" {
			spec.Network = NetworkDefault
		}
		if step.Run.Stdin != "" {
			spec.Stdin = strings.NewReader(step.Run.Stdin)
		}
		t0 := time.Now()
		code, err := b.runner.Run(ctx, spec)
		b.log.Debug("RUN finished", "step", ev.N, "code", code, "took", time.Since(t0))
		if err != nil {
			return nil, errorfAt(step.Pos, "%s: running the command: %w", step.String(), err)
		}
		if code != 0 {
			return nil, &RunError{Pos: step.Pos, N: ev.N, Total: ev.Total, Stage: st.DisplayName(), Step: step.String(),
				Args: step.Run.Args, ExitCode: code, Output: tail.lines()}
		}
		empty, err := dirEmpty(upper)
		if err != nil {
			return nil, err
		}
		if !empty {
			commit.UpperDir = upper
		}
		t0 = time.Now()
		img, err := b.store.Commit(commit)
		b.log.Debug("RUN committed", "step", ev.N, "took", time.Since(t0))
		if err != nil {
			return nil, errorfAt(step.Pos, "%s: committing the layer: %v", step.String(), err)
		}
		return img, nil

	case step.Copy != nil:
		step.SetContentDigest(digest)
		commit.CreatedBy = step.History.CreatedBy
		pr, pw := io.Pipe()
		errc := make(chan error, 1)
		go func() {
			err := ex.writeCopy(ctx, pw, state, step, prep)
			pw.CloseWithError(err)
			errc <- err
		}()
		commit.Layer = pr
		img, err := b.store.Commit(commit)
		pr.CloseWithError(errors.New("commit ended"))
		if cerr := <-errc; cerr != nil {
			return nil, errorAt(step.Pos, fmt.Errorf("%s: %w", step.String(), cerr))
		}
		if err != nil {
			return nil, errorfAt(step.Pos, "%s: committing the layer: %v", step.String(), err)
		}
		return img, nil

	case step.Mkdir != "":
		layer, err := mkdirLayer(b.lowers(state.img), step.Mkdir)
		if err != nil {
			return nil, errorAt(step.Pos, err)
		}
		if layer != nil {
			commit.Layer = bytes.NewReader(layer)
		}
		img, err := b.store.Commit(commit)
		if err != nil {
			return nil, errorfAt(step.Pos, "%s: %v", step.String(), err)
		}
		return img, nil
	}
	img, err := b.store.Commit(commit)
	if err != nil {
		return nil, errorfAt(step.Pos, "%s: %v", step.String(), err)
	}
	return img, nil
}

// RunError is a RUN step whose command failed.
type RunError struct {
	Pos      Pos
	N, Total int
	Stage    string
	Step     string   // the instruction as written
	Args     []string // what ran
	ExitCode int
	Output   []string // the last lines of its output
}

func (e *RunError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: [%d/%d] %s: the command %q returned exit code %d", e.Pos, e.N, e.Total, e.Step, strings.Join(e.Args, " "), e.ExitCode)
	if len(e.Output) > 0 {
		b.WriteString("; its last output:")
		for _, l := range e.Output {
			b.WriteString("\n    ")
			b.WriteString(l)
		}
	}
	return b.String()
}

func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err == io.EOF {
		return true, nil
	}
	return len(names) == 0, err
}

// tailWriter keeps the last max lines written to it.
type tailWriter struct {
	max  int
	buf  []string
	part []byte
}

func (t *tailWriter) Write(p []byte) (int, error) {
	data := append(t.part, p...)
	for {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			break
		}
		t.buf = append(t.buf, string(data[:i]))
		if len(t.buf) > t.max {
			t.buf = t.buf[len(t.buf)-t.max:]
		}
		data = data[i+1:]
	}
	t.part = append([]byte(nil), data...)
	if len(t.part) > 4096 {
		t.part = t.part[len(t.part)-4096:]
	}
	return len(p), nil
}

func (t *tailWriter) lines() []string {
	out := append([]string(nil), t.buf...)
	if len(t.part) > 0 {
		out = append(out, string(t.part))
		if len(out) > t.max {
			out = out[len(out)-t.max:]
		}
	}
	return out
}

// lockedWriter serialises the writes of a command's stdout and stderr.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// eventWriter turns a RUN's output into StepOutput events.
type eventWriter struct {
	emit func(Event)
	ev   Event
}

func (w *eventWriter) Write(p []byte) (int, error) {
	ev := w.ev
	ev.Kind = StepOutput
	ev.Output = append([]byte(nil), p...)
	w.emit(ev)
	return len(p), nil
}

// InputDigest is the digest of everything a build's result depends on
// that is not in the image store: the Dockerfile, the build args, the
// target, the labels and the content of the context minus what
// .dockerignore excludes (times left out). The executor records it with
// the image of a compose `build:` section and rebuilds when it changes.
func InputDigest(opts Options) (string, error) {
	if opts.ContextDir == "" {
		opts.ContextDir = "."
	}
	_, data, dfPath, err := readDockerfile(&opts)
	if err != nil {
		return "", err
	}
	c, err := OpenContext(opts.ContextDir, dfPath)
	if err != nil {
		return "", err
	}
	ctxDigest, err := c.DigestAll()
	if err != nil {
		return "", err
	}
	parts := []string{"dockerfile", string(data), "target", opts.Target, "context", ctxDigest}
	for _, k := range sortedKeys(opts.Args) {
		parts = append(parts, "arg", k, opts.Args[k])
	}
	for _, k := range sortedKeys(opts.Labels) {
		parts = append(parts, "label", k, opts.Labels[k])
	}
	return "sha256:" + hashHex(parts...), nil
}
