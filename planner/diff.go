package planner

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/stack-dev/stack/spec"
)

// Diff compares the desired stack with what is observed and returns the
// plan that converges the host. It is pure: no I/O, no clock, no
// randomness; equal inputs give equal plans.
//
// The rules, in short (docs/plan.md has them in full):
//   - Resources are created in dependency order: networks, volumes,
//     images (a commit after its `from` image), services in depends_on,
//     network_mode service:X and volumes_from order; ties by name.
//   - A service's containers are replaced when its config hash changed
//     (a hash of an older algorithm version is recomputed from the
//     recorded snapshot, never compared as is), when a network it is on
//     is replaced, when its image is made again, when the service it
//     shares a network namespace with is recreated, or when the container
//     is missing or dead. A changed snapshot with an equal hash is an
//     in-place update.
//   - Containers, images and networks no longer in the file are removed
//     (not with a service selection); volumes never are.
func Diff(desired *spec.Stack, observed *Observed, opts Options) (*Plan, error) {
	if desired == nil {
		return nil, fmt.Errorf("planning: no stack")
	}
	if observed == nil {
		observed = &Observed{}
	}
	if opts.ForceRecreate && opts.NoRecreate {
		return nil, fmt.Errorf("planning: --force-recreate and --no-recreate: %w", ErrOptions)
	}
	d := &differ{
		desired:  desired,
		observed: observed,
		opts:     opts,
		nodes:    map[string]*node{},
		steps:    map[string][]*Step{},
		byService: func() map[string][]*ObservedContainer {
			m := map[string][]*ObservedContainer{}
			for _, c := range observed.Containers {
				m[c.Service] = append(m[c.Service], c)
			}
			for _, cs := range m {
				sort.SliceStable(cs, func(i, j int) bool {
					if cs[i].Number != cs[j].Number {
						return cs[i].Number < cs[j].Number
					}
					return cs[i].Name < cs[j].Name
				})
			}
			return m
		}(),
	}
	if err := d.selectServices(); err != nil {
		return nil, err
	}
	d.buildGraph()
	order, err := topoSort(d.nodes)
	if err != nil {
		return nil, fmt.Errorf("planning project %s: %w", desired.Name, err)
	}
	plan := &Plan{Project: desired.Name}
	for _, n := range order {
		steps, err := d.decide(n)
		if err != nil {
			return nil, fmt.Errorf("planning %s: %w", n.id(), err)
		}
		for _, st := range steps {
			st.ID = len(plan.Steps) + 1
			st.DependsOn = d.stepDeps(n)
			d.steps[n.id()] = append(d.steps[n.id()], st)
			plan.Steps = append(plan.Steps, *st)
		}
	}
	return plan, nil
}

type differ struct {
	desired   *spec.Stack
	observed  *Observed
	opts      Options
	selected  map[string]bool // services in the plan
	all       bool            // no selection: orphans are removed
	nodes     map[string]*node
	steps     map[string][]*Step // by resource id, as decided
	byService map[string][]*ObservedContainer
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// serviceDeps are the services s needs first: depends_on, network_mode
// service:X, volumes_from X. Only services of the stack are returned.
func (d *differ) serviceDeps(s *spec.Service) []string {
	var out []string
	add := func(name string) {
		if _, ok := d.desired.Services[name]; ok && name != "" {
			out = append(out, name)
		}
	}
	for _, name := range sortedKeys(s.DependsOn) {
		add(name)
	}
	if x := d.namespaceOwner(s); x != "" {
		add(x)
	}
	for _, vf := range s.VolumesFrom {
		if strings.HasPrefix(vf, "container:") {
			continue
		}
		name, _, _ := strings.Cut(vf, ":")
		add(name)
	}
	return out
}

func (d *differ) selectServices() error {
	d.selected = map[string]bool{}
	if len(d.opts.Services) == 0 {
		d.all = true
		for name := range d.desired.Services {
			d.selected[name] = true
		}
		return nil
	}
	var queue []string
	for _, name := range d.opts.Services {
		if _, ok := d.desired.Services[name]; !ok {
			return fmt.Errorf("selecting service %q: %w", name, ErrUnknownService)
		}
		if !d.selected[name] {
			d.selected[name] = true
			queue = append(queue, name)
		}
	}
	if d.opts.NoDeps {
		return nil
	}
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		for _, dep := range d.serviceDeps(d.desired.Services[name]) {
			if !d.selected[dep] {
				d.selected[dep] = true
				queue = append(queue, dep)
			}
		}
	}
	return nil
}

// attachedNetworks are the keys of the stack networks s is on.
func (d *differ) attachedNetworks(s *spec.Service) []string {
	if s.NetworkMode != "" {
		return nil
	}
	var out []string
	if len(s.Networks) == 0 {
		if _, ok := d.desired.Networks["default"]; ok {
			out = append(out, "default")
		}
		return out
	}
	for _, k := range sortedKeys(s.Networks) {
		if _, ok := d.desired.Networks[k]; ok {
			out = append(out, k)
		}
	}
	return out
}

// imageRef describes the image a service runs.
type imageRef struct {
	key   string      // key in Observed.Images and in the resource id
	stack *spec.Image // an x-stack-images entry
	build *spec.Build // the service's own build: section
	pull  bool        // a reference to pull when missing
}

// definition is the canonical JSON of how the image is made, paths
// relative to the project directory (nil for pulls).
func (r imageRef) definition(projectDir string) Snapshot {
	rel := func(b *spec.Build) *spec.Build {
		if b == nil {
			return nil
		}
		c := *b
		c.Context = relativeTo(projectDir, c.Context)
		c.Dockerfile = relativeTo(projectDir, c.Dockerfile)
		return &c
	}
	var v any
	switch {
	case r.stack != nil:
		img := *r.stack
		img.Build = rel(img.Build)
		v = &img
	case r.build != nil:
		v = rel(r.build)
	default:
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

func (d *differ) serviceImage(s *spec.Service) imageRef {
	if s.Build != nil {
		return imageRef{key: ImageName(d.desired, s), build: s.Build}
	}
	if img, ok := d.desired.Images[s.Image]; ok {
		return imageRef{key: s.Image, stack: img}
	}
	if s.Image == "" {
		return imageRef{}
	}
	return imageRef{key: s.Image, pull: s.PullPolicy != "never" && s.PullPolicy != "build"}
}

func (d *differ) addNode(kind, name string, deps ...string) *node {
	id := kind + "/" + name
	if n, ok := d.nodes[id]; ok {
		n.deps = append(n.deps, deps...)
		return n
	}
	n := &node{kind: kind, name: name, deps: deps}
	d.nodes[id] = n
	return n
}

// buildGraph adds a node for every resource the plan may touch.
func (d *differ) buildGraph() {
	st := d.desired
	usedNet, usedVol, usedImg := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, name := range sortedKeys(st.Services) {
		if !d.selected[name] {
			continue
		}
		s := st.Services[name]
		var deps []string
		for _, k := range d.attachedNetworks(s) {
			if !st.Networks[k].External {
				usedNet[k] = true
				deps = append(deps, kindNetwork+"/"+k)
			}
		}
		for _, m := range s.Volumes {
			if v, ok := st.Volumes[m.Source]; ok && m.Type == "volume" && !v.External {
				usedVol[m.Source] = true
				deps = append(deps, kindVolume+"/"+m.Source)
			}
		}
		if ref := d.serviceImage(s); ref.key != "" && (ref.stack != nil || ref.build != nil || ref.pull) {
			usedImg[ref.key] = true
			d.addImageNode(ref)
			deps = append(deps, kindImage+"/"+ref.key)
		}
		for _, dep := range d.serviceDeps(s) {
			if d.selected[dep] {
				deps = append(deps, kindService+"/"+dep)
			}
		}
		d.addNode(kindService, name, deps...)
	}
	for _, k := range sortedKeys(st.Networks) {
		if n := st.Networks[k]; !n.External && (d.all || usedNet[k]) {
			d.addNode(kindNetwork, k)
		}
	}
	for _, k := range sortedKeys(st.Volumes) {
		if v := st.Volumes[k]; !v.External && (d.all || usedVol[k]) {
			d.addNode(kindVolume, k)
		}
	}
	if d.all {
		for _, k := range sortedKeys(st.Images) {
			d.addImageNode(imageRef{key: k, stack: st.Images[k]})
		}
	}
	if !d.all {
		return
	}
	// Orphans: what the project has on the host and the file no longer names.
	for _, name := range sortedKeys(d.byService) {
		if _, ok := st.Services[name]; ok {
			continue
		}
		var deps []string
		for _, c := range d.byService[name] {
			for _, k := range c.Networks {
				deps = append(deps, kindNetwork+"/"+k)
			}
		}
		d.addNode(kindService, name, deps...)
	}
	// A network that became external is left alone: it is no longer the
	// project's to remove.
	for _, k := range sortedKeys(d.observed.Networks) {
		if _, ok := st.Networks[k]; !ok {
			d.addNode(kindNetwork, k)
		}
	}
}

// addImageNode adds an image and, for a commit, the image it starts from.
func (d *differ) addImageNode(ref imageRef) {
	if _, ok := d.nodes[kindImage+"/"+ref.key]; ok {
		return
	}
	n := d.addNode(kindImage, ref.key)
	if ref.stack != nil && ref.stack.Commit != nil {
		from := ref.stack.Commit.From
		if img, ok := d.desired.Images[from]; ok {
			n.deps = append(n.deps, kindImage+"/"+from)
			d.addImageNode(imageRef{key: from, stack: img})
		} else if from != "" {
			n.deps = append(n.deps, kindImage+"/"+from)
			d.addImageNode(imageRef{key: from, pull: true})
		}
	}
}

// stepDeps are the IDs of the nearest steps n depends on: dependencies
// without a step of their own are looked through.
func (d *differ) stepDeps(n *node) []int {
	seen := map[string]bool{}
	var ids []int
	var walk func(n *node)
	walk = func(n *node) {
		for _, dep := range n.deps {
			if seen[dep] {
				continue
			}
			seen[dep] = true
			dn, ok := d.nodes[dep]
			if !ok {
				continue
			}
			if steps := d.steps[dep]; len(steps) > 0 {
				for _, st := range steps {
					ids = append(ids, st.ID)
				}
				continue
			}
			walk(dn)
		}
	}
	walk(n)
	sort.Ints(ids)
	return ids
}

// recreated reports how a resource's steps recreate it: "replaced",
// "created" or "" (kept).
func (d *differ) recreated(id string) string {
	how := ""
	for _, st := range d.steps[id] {
		switch st.Action {
		case Replace:
			return "replaced"
		case Create:
			how = "created"
		}
	}
	return how
}

func (d *differ) decide(n *node) ([]*Step, error) {
	switch n.kind {
	case kindNetwork:
		return d.decideNetwork(n)
	case kindVolume:
		return d.decideVolume(n), nil
	case kindImage:
		return d.decideImage(n), nil
	}
	if s, ok := d.desired.Services[n.name]; ok {
		return d.decideService(n, s)
	}
	return d.removeOrphanService(n), nil
}

func (d *differ) pos(p spec.Pos) spec.Pos {
	if p.File != "" && filepath.IsAbs(p.File) {
		if d.desired.WorkingDir != "" {
			if rel, err := filepath.Rel(d.desired.WorkingDir, p.File); err == nil && !strings.HasPrefix(rel, "..") {
				p.File = filepath.ToSlash(rel)
				return p
			}
		}
		p.File = filepath.Base(p.File)
	}
	return p
}

func (d *differ) decideNetwork(n *node) ([]*Step, error) {
	want, ok := d.desired.Networks[n.name]
	have := d.observed.Networks[n.name]
	id := n.id()
	if !ok {
		return []*Step{{Action: Remove, Operation: OpRemove, Resource: id, Reason: "not in the stack file"}}, nil
	}
	pos := d.pos(want.Pos)
	if have == nil {
		return []*Step{{Action: Create, Operation: OpCreate, Resource: id, Reason: "not present", Pos: pos}}, nil
	}
	changes, err := networkChanges(want, have)
	if err != nil {
		return nil, err
	}
	bridge := have.Bridge
	if bridge == "" {
		bridge = "bridge"
	} else {
		bridge = "bridge " + bridge
	}
	switch {
	case have.BridgeMissing:
		return []*Step{{Action: Replace, Operation: OpReplace, Resource: id, Reason: bridge + " missing (removed outside stack)", Changes: changes, Pos: pos}}, nil
	case len(changes) > 0 && !d.opts.NoRecreate:
		return []*Step{{Action: Replace, Operation: OpReplace, Resource: id, Reason: "config changed", Changes: changes, Pos: pos}}, nil
	case have.RulesMissing:
		return []*Step{{Action: Update, Operation: OpRepairRules, Resource: id, Reason: "rules missing (removed outside stack)", Pos: pos}}, nil
	}
	return nil, nil
}

// networkChanges compares the file's network with the recorded one: the
// whole canonical form when a snapshot was recorded, else subnet and
// gateway (when the file sets them).
func networkChanges(want *spec.Network, have *ObservedNetwork) ([]Change, error) {
	wantJSON, err := json.Marshal(want)
	if err != nil {
		return nil, fmt.Errorf("encoding network: %w", err)
	}
	if len(have.Snapshot) > 0 {
		var rec spec.Network
		if err := json.Unmarshal(have.Snapshot, &rec); err != nil {
			// An unreadable record is not a reason to replace a network.
			return nil, nil
		}
		recJSON, err := json.Marshal(&rec)
		if err != nil {
			return nil, fmt.Errorf("encoding recorded network: %w", err)
		}
		return diffJSON(recJSON, wantJSON)
	}
	var out []Change
	if len(want.IPAM) > 0 {
		if w := want.IPAM[0].Subnet; w != "" && w != have.Subnet {
			out = append(out, Change{Path: "ipam[0].subnet", Before: encodeValue(nilIfEmpty(have.Subnet)), After: encodeValue(w)})
		}
		if w := want.IPAM[0].Gateway; w != "" && w != have.Gateway {
			out = append(out, Change{Path: "ipam[0].gateway", Before: encodeValue(nilIfEmpty(have.Gateway)), After: encodeValue(w)})
		}
	}
	return out, nil
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (d *differ) decideVolume(n *node) []*Step {
	if _, ok := d.observed.Volumes[n.name]; ok {
		return nil
	}
	return []*Step{{Action: Create, Operation: OpCreate, Resource: n.id(), Reason: "not present", Pos: d.pos(d.desired.Volumes[n.name].Pos)}}
}

// imageOf finds how the image with this key is made.
func (d *differ) imageOf(key string) imageRef {
	if img, ok := d.desired.Images[key]; ok {
		return imageRef{key: key, stack: img}
	}
	for _, name := range sortedKeys(d.desired.Services) {
		if ref := d.serviceImage(d.desired.Services[name]); ref.key == key && ref.build != nil {
			return ref
		}
	}
	return imageRef{key: key, pull: true}
}

// wantInputHash is the input hash the image should have ("" for pulls).
func (d *differ) wantInputHash(ref imageRef) string {
	if ref.stack == nil && ref.build == nil {
		return ""
	}
	return inputHash(ref.definition(d.desired.WorkingDir), d.opts.ContextDigests[ref.key])
}

func (d *differ) decideImage(n *node) []*Step {
	ref := d.imageOf(n.name)
	have := d.observed.Images[n.name]
	op := OpPull
	var pos spec.Pos
	switch {
	case ref.stack != nil && ref.stack.Commit != nil:
		op, pos = OpCommit, d.pos(ref.stack.Pos)
	case ref.stack != nil:
		op, pos = OpBuild, d.pos(ref.stack.Pos)
	case ref.build != nil:
		op = OpBuild
		if s, ok := d.desired.Services[d.serviceOfBuild(n.name)]; ok {
			pos = d.pos(s.Pos)
		}
	}
	id := n.id()
	want := d.wantInputHash(ref)
	if have == nil {
		reason := "not present"
		if op == OpPull {
			reason = "not present locally"
		}
		return []*Step{{Action: Create, Operation: op, Resource: id, Reason: reason, InputHash: want, Pos: pos}}
	}
	if op == OpPull {
		return nil
	}
	if have.InputHash != want {
		var changes []Change
		if len(have.Snapshot) > 0 {
			changes, _ = diffJSON(have.Snapshot, ref.definition(d.desired.WorkingDir))
		}
		reason := "definition changed"
		if len(changes) == 0 && len(have.Snapshot) > 0 {
			reason = "build context changed"
		}
		return []*Step{{Action: Replace, Operation: op, Resource: id, Reason: reason, Changes: changes, InputHash: want, Pos: pos}}
	}
	for _, dep := range n.deps {
		if how := d.recreated(dep); how != "" {
			return []*Step{{Action: Replace, Operation: op, Resource: id, Reason: "image " + strings.TrimPrefix(dep, kindImage+"/") + " " + imageVerb(d, dep), InputHash: want, Pos: pos}}
		}
	}
	return nil
}

// imageVerb says what happens to an image in the plan: pulled or rebuilt.
func imageVerb(d *differ, id string) string {
	for _, st := range d.steps[id] {
		if st.Operation == OpPull {
			return "pulled"
		}
	}
	return "rebuilt"
}

func (d *differ) serviceOfBuild(key string) string {
	for _, name := range sortedKeys(d.desired.Services) {
		if ref := d.serviceImage(d.desired.Services[name]); ref.key == key && ref.build != nil {
			return name
		}
	}
	return ""
}

// ContainerName is the name of a service's n-th container.
func ContainerName(project string, s *spec.Service, n int) string {
	if s.ContainerName != "" && n == 1 {
		return s.ContainerName
	}
	return project + "-" + s.Name + "-" + strconv.Itoa(n)
}

// Scale is the number of containers a service runs (0 and 1 mean one).
func Scale(s *spec.Service) int {
	if s.Scale < 1 {
		return 1
	}
	return s.Scale
}

// instanceDecision is what happens to one container of a service.
type instanceDecision struct {
	number  int
	name    string
	action  Action
	op      Operation
	reason  string
	changes []Change
}

func (d *differ) decideService(n *node, s *spec.Service) ([]*Step, error) {
	scale := Scale(s)
	have := d.byService[s.Name]
	// The canonical form and hash are needed only to compare with
	// existing containers.
	var want []byte
	var wantHash string
	if len(have) > 0 {
		var err error
		if want, err = s.Snapshot(); err != nil {
			return nil, fmt.Errorf("encoding service %s: %w", s.Name, err)
		}
		wantHash = s.ConfigHash()
	}
	var decisions []instanceDecision
	byNum := map[int]*ObservedContainer{}
	var extra []*ObservedContainer
	for _, c := range have {
		if c.Number < 1 || c.Number > scale || byNum[c.Number] != nil {
			extra = append(extra, c)
			continue
		}
		byNum[c.Number] = c
	}
	wiring, imageCascade := d.cascadeReasons(s)
	imgKey := d.serviceImage(s).key
	for i := 1; i <= scale; i++ {
		c := byNum[i]
		dec := instanceDecision{number: i, name: ContainerName(d.desired.Name, s, i)}
		if c == nil {
			dec.action, dec.op, dec.reason = Create, OpCreate, "not present"
			if len(have) > 0 {
				dec.reason = fmt.Sprintf("scale %d → %d", len(have), scale)
			}
			decisions = append(decisions, dec)
			continue
		}
		changes, hashChanged, err := compareService(c, s, want, wantHash)
		if err != nil {
			return nil, fmt.Errorf("container %s: %w", dec.name, err)
		}
		dec.changes = changes
		replace := func(reason string) { dec.action, dec.op, dec.reason = Replace, OpReplace, reason }
		switch {
		case c.Status == StatusMissing:
			replace("container missing (removed outside stack)")
		case c.Status == StatusDead:
			replace("container dead")
		case d.opts.NoRecreate && wiring != "":
			// Under --no-recreate a network or a shared namespace is
			// recreated only to repair drift; its members must follow.
			replace(wiring)
		case d.opts.NoRecreate:
		case d.opts.ForceRecreate:
			replace("forced (--force-recreate)")
		case hashChanged:
			replace("config changed")
			if len(changes) == 0 {
				dec.reason = "config hash changed"
			}
		case wiring != "":
			replace(wiring)
		case imageCascade != "":
			replace(imageCascade)
		case d.imageChanged(c, imgKey):
			replace("image " + imgKey + " changed")
		}
		if dec.action == "" && !hashChanged && len(changes) > 0 {
			dec.action, dec.op, dec.reason = Update, OpUpdate, "config changed (updated in place)"
		}
		if dec.action == "" && c.Status == StatusExited && shouldRun(s, c) {
			dec.action, dec.op, dec.reason = Update, OpStart, fmt.Sprintf("container exited (code %d)", c.ExitCode)
		}
		if dec.action == "" && c.Status != StatusExited {
			if r := d.restartReason(s); r != "" {
				dec.action, dec.op, dec.reason = Update, OpRestart, r
			}
		}
		if dec.action == "" {
			continue
		}
		if dec.action != Replace && dec.op != OpUpdate {
			dec.changes = nil
		}
		decisions = append(decisions, dec)
	}
	for _, c := range extra {
		reason := fmt.Sprintf("scale %d → %d", len(have), scale)
		if c.Number >= 1 && c.Number <= scale {
			reason = "duplicate container"
		}
		decisions = append(decisions, instanceDecision{number: c.Number, name: c.Name, action: Remove, op: OpRemove, reason: reason})
	}
	steps := groupDecisions(n.id(), decisions)
	waits := d.waits(s)
	for _, st := range steps {
		st.Pos = d.pos(s.Pos)
		switch st.Operation {
		case OpCreate, OpReplace, OpStart, OpRestart:
			st.Waits = waits
		}
	}
	return steps, nil
}

// groupDecisions makes one step per distinct (action, operation, reason,
// changes), in the order of their first container.
func groupDecisions(id string, decs []instanceDecision) []*Step {
	var steps []*Step
	index := map[string]*Step{}
	for _, dec := range decs {
		key := string(dec.action) + "\x00" + string(dec.op) + "\x00" + dec.reason + "\x00" + changesKey(dec.changes)
		if st, ok := index[key]; ok {
			st.Instances = append(st.Instances, dec.name)
			continue
		}
		st := &Step{Action: dec.action, Operation: dec.op, Resource: id, Instances: []string{dec.name}, Reason: dec.reason, Changes: dec.changes}
		index[key] = st
		steps = append(steps, st)
	}
	return steps
}

func changesKey(cs []Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString(c.Path)
		b.WriteByte(0)
		b.Write(c.Before)
		b.WriteByte(0)
		b.Write(c.After)
		b.WriteByte(0)
	}
	return b.String()
}

// cascadeReasons say why a service must be replaced because of what
// happens to its dependencies. wiring: a network it is on is recreated, or
// the service whose network namespace it shares is; a container left
// running would be cut off, so --no-recreate does not prevent it. image:
// its image is made again or pulled.
func (d *differ) cascadeReasons(s *spec.Service) (wiring, image string) {
	for _, k := range d.attachedNetworks(s) {
		if how := d.recreated(kindNetwork + "/" + k); how != "" {
			wiring = "network " + k + " " + how
			break
		}
	}
	if x := d.namespaceOwner(s); x != "" && wiring == "" {
		if how := d.recreated(kindService + "/" + x); how != "" {
			wiring = "service " + x + " " + how
		}
	}
	if ref := d.serviceImage(s); ref.key != "" {
		id := kindImage + "/" + ref.key
		if how := d.recreated(id); how != "" {
			image = "image " + ref.key + " " + imageVerb(d, id)
		}
	}
	return wiring, image
}

// namespaceOwner is the service whose network namespace s joins:
// network_mode service:X, or container:NAME when NAME is a container of
// this stack. "" otherwise.
func (d *differ) namespaceOwner(s *spec.Service) string {
	if x, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		return x
	}
	name, ok := strings.CutPrefix(s.NetworkMode, "container:")
	if !ok {
		return ""
	}
	for _, k := range sortedKeys(d.desired.Services) {
		o := d.desired.Services[k]
		for i := 1; i <= Scale(o); i++ {
			if ContainerName(d.desired.Name, o, i) == name {
				return k
			}
		}
	}
	return ""
}

// restartReason is set when a depends_on entry with restart: true is
// recreated: compose restarts the dependent then.
func (d *differ) restartReason(s *spec.Service) string {
	for _, name := range sortedKeys(s.DependsOn) {
		if !s.DependsOn[name].Restart || !d.selected[name] {
			continue
		}
		if how := d.recreated(kindService + "/" + name); how != "" {
			return "dependency " + name + " " + how + " (restart: true)"
		}
	}
	return ""
}

func (d *differ) imageChanged(c *ObservedContainer, key string) bool {
	if c.ImageID == "" || key == "" {
		return false
	}
	img := d.observed.Images[key]
	return img != nil && img.ID != "" && img.ID != c.ImageID
}

// shouldRun reports whether an exited container is started again: unless
// it completed successfully and its restart policy would not restart it.
func shouldRun(s *spec.Service, c *ObservedContainer) bool {
	if c.ExitCode != 0 {
		return true
	}
	return s.Restart == "always" || s.Restart == "unless-stopped"
}

func (d *differ) waits(s *spec.Service) []Wait {
	var out []Wait
	for _, name := range sortedKeys(s.DependsOn) {
		if !d.selected[name] {
			continue
		}
		dep := s.DependsOn[name]
		cond := dep.Condition
		if cond == "" {
			cond = "service_started"
		}
		out = append(out, Wait{Resource: kindService + "/" + name, Condition: cond, Required: dep.Required, Restart: dep.Restart})
	}
	return out
}

func (d *differ) removeOrphanService(n *node) []*Step {
	var names []string
	for _, c := range d.byService[n.name] {
		names = append(names, c.Name)
	}
	return []*Step{{Action: Remove, Operation: OpRemove, Resource: n.id(), Instances: names, Reason: "not in the stack file"}}
}

// notCompared are the service fields whose change is no step of its own:
// the scale is carried out by creating or removing containers, and the
// profiles only decide whether a service is in the stack at all.
var notCompared = map[string]bool{"scale": true, "profiles": true}

// compareService compares a container's record with the service: the
// field changes (from the snapshot) and whether the config hash differs.
//
// The recorded hash is used as is only when it was made by the current
// algorithm version (spec.HashVersion). Otherwise (an older stack made it, or the record has
// no hash) the recorded snapshot is decoded as a spec.Service and hashed
// again: a stack upgrade alone never recreates a container. A record with
// neither a usable hash nor a readable snapshot is taken as unchanged.
func compareService(c *ObservedContainer, s *spec.Service, want []byte, wantHash string) ([]Change, bool, error) {
	// The common case, a converged container: the snapshot is byte for
	// byte the canonical form.
	if bytes.Equal(c.Snapshot, want) && (c.ConfigHash == "" || !currentHash(c.ConfigHash) || c.ConfigHash == wantHash) {
		return nil, false, nil
	}
	var rec *spec.Service
	if len(c.Snapshot) > 0 {
		var r spec.Service
		if err := json.Unmarshal(c.Snapshot, &r); err == nil {
			r.Name = s.Name
			rec = &r
		}
	}
	var changes []Change
	if rec != nil {
		recJSON, err := json.Marshal(rec)
		if err != nil {
			return nil, false, fmt.Errorf("encoding recorded service: %w", err)
		}
		changes, err = diffJSON(recJSON, want)
		if err != nil {
			return nil, false, err
		}
		changes = slices.DeleteFunc(changes, func(c Change) bool { return notCompared[c.Path] })
	}
	switch {
	case currentHash(c.ConfigHash):
		return changes, c.ConfigHash != wantHash, nil
	case rec != nil:
		return changes, rec.ConfigHash() != wantHash, nil
	}
	return nil, false, nil
}

// ImageName is the image a service runs: its image: name, or for a build
// without one the project's default name, <project>-<service> (as
// compose names it).
func ImageName(desired *spec.Stack, s *spec.Service) string {
	if s.Image != "" {
		return s.Image
	}
	return desired.Name + "-" + s.Name
}
