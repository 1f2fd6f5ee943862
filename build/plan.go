package build

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// ParseOptions are the inputs of a build that shape the plan.
type ParseOptions struct {
	// BuildArgs are the --build-arg values. They override the defaults of
	// the ARG instructions that declare them; the predefined proxy args
	// (HTTP_PROXY, ...) reach RUN steps without being declared.
	BuildArgs map[string]string
	// Target is the stage to build (--target); "" means the last one.
	Target string
	// Platform sets the predefined TARGET* and BUILD* args. Stack builds
	// for the host only; the zero value means linux and the host's
	// architecture.
	Platform Platform
}

// Platform is an OS, architecture and variant, as in "linux/arm64/v8".
type Platform struct {
	OS, Arch, Variant string
}

func (p Platform) String() string {
	s := p.OS + "/" + p.Arch
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// Plan is a parsed Dockerfile: its stages, the ones the target needs, and
// the global ARGs (those before the first FROM).
type Plan struct {
	File   string // the name errors use, e.g. "Dockerfile"
	Syntax string // the "# syntax=" directive, recorded only: stack's own frontend builds the file
	Escape rune   // the escape character ('\\' or '`')

	Args   []Arg    // global ARGs, resolved with the build args
	Stages []*Stage // every stage, in file order
	Target *Stage   // the stage to build
	// Build lists the stages the target needs (through FROM and
	// COPY --from), dependencies first, the target last. Other stages are
	// skipped: not checked for unsupported features, never built.
	Build []*Stage
	// UnusedBuildArgs are the build args that no ARG declares (docker
	// warns about them), sorted.
	UnusedBuildArgs []string

	buildArgs map[string]string
	platform  Platform
}

// Arg is a declared build argument. Set is false for an ARG without a
// value and without a build arg.
type Arg struct {
	Name  string
	Value string
	Set   bool
}

// Stage is one FROM and its instructions.
type Stage struct {
	Index int    // 0-based position in the file (COPY --from=0)
	Name  string // the AS name, lowercased; "" if none
	// Base is the FROM argument after global ARG expansion: an image
	// reference, "scratch", or the name of an earlier stage.
	Base string
	// BaseStage is the earlier stage Base names, nil for an image.
	BaseStage *Stage
	Pos       Pos

	Instructions []*Instruction

	err error // a problem that matters only if the stage is built
}

// Scratch reports whether the stage starts from the empty image.
func (s *Stage) Scratch() bool { return s.BaseStage == nil && strings.EqualFold(s.Base, "scratch") }

// DisplayName is the stage's name, or its index when it has none.
func (s *Stage) DisplayName() string {
	if s.Name != "" {
		return s.Name
	}
	return strconv.Itoa(s.Index)
}

// Deps are the earlier stages this one needs: its base stage and the
// stages its COPY --from instructions name, each once, in file order.
// Stages with no dependency between them may be built at the same time.
func (s *Stage) Deps() []*Stage {
	var deps []*Stage
	add := func(d *Stage) {
		for _, x := range deps {
			if x == d {
				return
			}
		}
		deps = append(deps, d)
	}
	if s.BaseStage != nil {
		add(s.BaseStage)
	}
	for _, in := range s.Instructions {
		if in.CopyFrom != nil {
			add(in.CopyFrom)
		}
	}
	sort.Slice(deps, func(i, j int) bool { return deps[i].Index < deps[j].Index })
	return deps
}

// Instruction is one parsed instruction of a stage, before expansion.
type Instruction struct {
	Pos    Pos
	Cmd    string // upper case: "RUN", "COPY", ...
	Source string // the instruction as written (continuations joined)

	// CopyFrom is the stage a COPY --from names, when it names one.
	CopyFrom *Stage

	cmd instructions.Command
}

// predefinedArgs may be given with --build-arg without an ARG declaring them.
var proxyArgs = []string{
	"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
	"FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
}

func isProxyArg(name string) bool { return slices.Contains(proxyArgs, name) }

// Parse parses a Dockerfile named name (used in errors: "name:line: ...")
// into a Plan for opts.Target. Errors name the file and line; features
// stack does not implement wrap ErrNotSupported.
func Parse(name string, dockerfile []byte, opts ParseOptions) (*Plan, error) {
	if name == "" {
		name = "Dockerfile"
	}
	at := func(line int) Pos { return Pos{File: name, Line: line, EndLine: line} }

	p := &Plan{File: name, buildArgs: opts.BuildArgs, platform: opts.Platform}
	if p.platform.OS == "" {
		p.platform = Platform{OS: "linux", Arch: runtime.GOARCH}
	}
	if syntax, _, _, ok := parser.DetectSyntax(dockerfile); ok {
		p.Syntax = syntax
	}

	res, err := parseAST(dockerfile)
	if err != nil {
		return nil, errorfAt(at(errLine(err)), "%s", cleanErr(err))
	}
	p.Escape = res.EscapeToken

	var metaArgs []*instructions.ArgCommand
	for _, node := range res.AST.Children {
		pos := Pos{File: name, Line: node.StartLine, EndLine: node.EndLine}
		v, err := instructions.ParseInstruction(node)
		if err != nil {
			var unknown *instructions.UnknownInstructionError
			if errors.As(err, &unknown) {
				return nil, errorfAt(pos, "unknown instruction %q; valid instructions are %s", strings.ToUpper(unknown.Instruction), validInstructions)
			}
			return nil, errorfAt(pos, "%s: %s", strings.ToUpper(node.Value), cleanErr(err))
		}
		switch c := v.(type) {
		case *instructions.Stage:
			st := &Stage{Index: len(p.Stages), Name: c.Name, Pos: pos}
			p.Stages = append(p.Stages, st)
			st.Instructions = append(st.Instructions, &Instruction{Pos: pos, Cmd: "FROM", Source: c.SourceCode, cmd: fromCommand{c}})
		case *instructions.ArgCommand:
			if len(p.Stages) == 0 {
				metaArgs = append(metaArgs, c)
				continue
			}
			p.addInstruction(pos, c)
		case instructions.Command:
			if len(p.Stages) == 0 {
				return nil, errorfAt(pos, "%s before the first FROM; only ARG may come before FROM", strings.ToUpper(c.Name()))
			}
			p.addInstruction(pos, c)
		}
	}
	if len(p.Stages) == 0 {
		return nil, errorfAt(at(0), "no FROM instruction; a Dockerfile starts with FROM (ARG may precede it)")
	}

	if err := p.resolveMetaArgs(metaArgs); err != nil {
		return nil, err
	}
	if err := p.resolveStages(); err != nil {
		return nil, err
	}
	if err := p.selectTarget(opts.Target); err != nil {
		return nil, err
	}
	for _, st := range p.Build {
		if st.err != nil {
			return nil, st.err
		}
		for _, in := range st.Instructions {
			if err := checkSupported(in); err != nil {
				return nil, err
			}
		}
	}
	p.UnusedBuildArgs = p.unusedBuildArgs()
	return p, nil
}

// parseAST runs buildkit's parser: directives, continuations, heredocs.
func parseAST(dockerfile []byte) (*parser.Result, error) {
	return parser.Parse(bytes.NewReader(dockerfile))
}

const validInstructions = "ADD, ARG, CMD, COPY, ENTRYPOINT, ENV, EXPOSE, FROM, HEALTHCHECK, LABEL, MAINTAINER, ONBUILD, RUN, SHELL, STOPSIGNAL, USER, VOLUME, WORKDIR"

// fromCommand wraps the FROM of a stage so that it is an instruction too.
type fromCommand struct{ *instructions.Stage }

func (f fromCommand) Name() string             { return "from" }
func (f fromCommand) Location() []parser.Range { return f.Stage.Location }
func (f fromCommand) Comments() []string       { return f.Stage.Comments }

func (p *Plan) addInstruction(pos Pos, c instructions.Command) {
	st := p.Stages[len(p.Stages)-1]
	st.Instructions = append(st.Instructions, &Instruction{
		Pos:    pos,
		Cmd:    strings.ToUpper(c.Name()),
		Source: sourceOf(c),
		cmd:    c,
	})
}

func sourceOf(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return strings.ToUpper(c.Name())
}

// platformArgs are the predefined platform args, in the global scope.
func (p *Plan) platformArgs() []Arg {
	pl := p.platform
	return []Arg{
		{Name: "TARGETPLATFORM", Value: pl.String(), Set: true},
		{Name: "TARGETOS", Value: pl.OS, Set: true},
		{Name: "TARGETARCH", Value: pl.Arch, Set: true},
		{Name: "TARGETVARIANT", Value: pl.Variant, Set: true},
		{Name: "BUILDPLATFORM", Value: pl.String(), Set: true},
		{Name: "BUILDOS", Value: pl.OS, Set: true},
		{Name: "BUILDARCH", Value: pl.Arch, Set: true},
		{Name: "BUILDVARIANT", Value: pl.Variant, Set: true},
	}
}

func isPlatformArg(name string) bool {
	switch name {
	case "TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT",
		"BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT":
		return true
	}
	return false
}

// resolveMetaArgs gives each global ARG its value: the build arg, else its
// default expanded with the args before it.
func (p *Plan) resolveMetaArgs(metaArgs []*instructions.ArgCommand) error {
	scope := newArgEnv(p.platformArgs())
	for _, c := range metaArgs {
		pos := posOf(p.File, c.Location())
		for _, kv := range c.Args {
			a := Arg{Name: kv.Key}
			if v, ok := p.buildArgs[kv.Key]; ok {
				a.Value, a.Set = v, true
			} else if kv.Value != nil {
				v, err := p.expand(*kv.Value, scope)
				if err != nil {
					return errorfAt(pos, "ARG %s: %s", kv.Key, cleanErr(err))
				}
				a.Value, a.Set = v, true
			} else if pa, ok := scope.get(kv.Key); ok && isPlatformArg(kv.Key) {
				a.Value, a.Set = pa, true
			}
			scope.set(a)
			p.Args = append(p.Args, a)
		}
	}
	return nil
}

// metaEnv is the scope FROM and COPY --from are expanded in.
func (p *Plan) metaEnv() *argEnv {
	env := newArgEnv(p.platformArgs())
	for _, a := range p.Args {
		env.set(a)
	}
	return env
}

func (p *Plan) resolveStages() error {
	env := p.metaEnv()
	for _, st := range p.Stages {
		from := st.Instructions[0].cmd.(fromCommand).Stage
		base, err := p.expand(from.BaseName, env)
		if err != nil {
			return errorfAt(st.Pos, "FROM %s: %s", from.BaseName, cleanErr(err))
		}
		if base == "" {
			// An error only if the target needs this stage.
			st.err = errorfAt(st.Pos, "FROM %s: the base name is empty after expanding ARGs; give the ARG a default or pass --build-arg", from.BaseName)
		}
		st.Base = base
		if from.Platform != "" {
			pl, err := p.expand(from.Platform, env)
			if err != nil {
				return errorfAt(st.Pos, "FROM --platform: %s", cleanErr(err))
			}
			if pl != p.platform.String() && pl != p.platform.OS+"/"+p.platform.Arch {
				return notSupportedAt(st.Pos, "FROM --platform=%s (stack builds for %s only)", pl, p.platform)
			}
		}
		for _, prev := range p.Stages[:st.Index] {
			if prev.Name != "" && base != "" && strings.EqualFold(prev.Name, base) {
				st.BaseStage = prev
			}
		}
		if st.BaseStage == nil {
			if strings.EqualFold(base, st.Name) && st.Name != "" {
				return errorfAt(st.Pos, "FROM %s AS %s: a stage cannot be its own base", base, st.Name)
			}
		}
		for _, in := range st.Instructions[1:] {
			c, ok := in.cmd.(*instructions.CopyCommand)
			if !ok || c.From == "" {
				continue
			}
			ref, err := p.expand(c.From, env)
			if err != nil {
				return errorfAt(in.Pos, "COPY --from=%s: %s", c.From, cleanErr(err))
			}
			if ref == "" {
				return errorfAt(in.Pos, "COPY --from=%s is empty after expanding ARGs", c.From)
			}
			from, err := p.stageRef(st, ref)
			if err != nil {
				return errorAt(in.Pos, err)
			}
			in.CopyFrom = from
			c.From = ref
		}
	}
	return nil
}

// stageRef finds the stage a COPY --from names: an earlier stage's name or
// index. It returns nil for an image reference.
func (p *Plan) stageRef(cur *Stage, ref string) (*Stage, error) {
	if n, err := strconv.Atoi(ref); err == nil {
		if n < 0 || n >= cur.Index {
			return nil, fmt.Errorf("COPY --from=%d: stage index %d is not an earlier stage (this is stage %d)", n, n, cur.Index)
		}
		return p.Stages[n], nil
	}
	for _, s := range p.Stages {
		if s.Name != "" && strings.EqualFold(s.Name, ref) {
			if s.Index >= cur.Index {
				return nil, fmt.Errorf("COPY --from=%s: stage %q is not defined before this one", ref, s.Name)
			}
			return s, nil
		}
	}
	return nil, nil
}

func (p *Plan) selectTarget(target string) error {
	if target == "" {
		p.Target = p.Stages[len(p.Stages)-1]
	} else {
		for _, s := range p.Stages {
			if s.Name != "" && strings.EqualFold(s.Name, target) {
				p.Target = s
			}
		}
		if p.Target == nil {
			var names []string
			for _, s := range p.Stages {
				if s.Name != "" {
					names = append(names, s.Name)
				}
			}
			if len(names) == 0 {
				return errorfAt(Pos{File: p.File}, "target stage %q not found: no stage has a name (FROM image AS name)", target)
			}
			return errorfAt(Pos{File: p.File}, "target stage %q not found; stages are %s", target, strings.Join(names, ", "))
		}
	}
	need := map[*Stage]bool{}
	var visit func(s *Stage)
	visit = func(s *Stage) {
		if need[s] {
			return
		}
		need[s] = true
		if s.BaseStage != nil {
			visit(s.BaseStage)
		}
		for _, in := range s.Instructions {
			if in.CopyFrom != nil {
				visit(in.CopyFrom)
			}
		}
	}
	visit(p.Target)
	for _, s := range p.Stages {
		if need[s] {
			p.Build = append(p.Build, s)
		}
	}
	return nil
}

func (p *Plan) unusedBuildArgs() []string {
	declared := map[string]bool{}
	for _, a := range p.Args {
		declared[a.Name] = true
	}
	for _, s := range p.Stages {
		for _, in := range s.Instructions {
			if c, ok := in.cmd.(*instructions.ArgCommand); ok {
				for _, kv := range c.Args {
					declared[kv.Key] = true
				}
			}
		}
	}
	var unused []string
	for k := range p.buildArgs {
		if !declared[k] && !isProxyArg(k) && !isPlatformArg(k) {
			unused = append(unused, k)
		}
	}
	sort.Strings(unused)
	return unused
}

// checkSupported rejects BuildKit-only features stack does not implement.
func checkSupported(in *Instruction) error {
	switch c := in.cmd.(type) {
	case *instructions.RunCommand:
		for _, f := range c.FlagsUsed {
			return notSupportedAt(in.Pos, "RUN --%s", f)
		}
	case *instructions.CopyCommand:
		switch {
		case c.Link:
			return notSupportedAt(in.Pos, "COPY --link")
		case c.Parents:
			return notSupportedAt(in.Pos, "COPY --parents")
		case len(c.ExcludePatterns) > 0:
			return notSupportedAt(in.Pos, "COPY --exclude")
		}
	case *instructions.AddCommand:
		switch {
		case c.Link:
			return notSupportedAt(in.Pos, "ADD --link")
		case c.KeepGitDir != nil:
			return notSupportedAt(in.Pos, "ADD --keep-git-dir")
		case c.Unpack != nil:
			return notSupportedAt(in.Pos, "ADD --unpack")
		case len(c.ExcludePatterns) > 0:
			return notSupportedAt(in.Pos, "ADD --exclude")
		}
		for _, src := range c.SourcePaths {
			if isGitSource(src) {
				return notSupportedAt(in.Pos, "ADD of a git repository (%s)", src)
			}
		}
	case *instructions.HealthCheckCommand:
		if c.Health != nil && c.Health.StartInterval != 0 {
			return notSupportedAt(in.Pos, "HEALTHCHECK --start-interval (the OCI image config stack writes has no field for it)")
		}
	}
	return nil
}

func isGitSource(s string) bool {
	return strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") ||
		(strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://")) && (strings.HasSuffix(s, ".git") || strings.Contains(s, ".git#"))
}

func posOf(file string, loc []parser.Range) Pos {
	if len(loc) == 0 {
		return Pos{File: file}
	}
	return Pos{File: file, Line: loc[0].Start.Line, EndLine: loc[len(loc)-1].End.Line}
}

// errLine is the first line a buildkit parser error points at.
func errLine(err error) int {
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		return le.Locations[0][0].Start.Line
	}
	return 0
}

// cleanErr strips the "dockerfile parse error on line N:" prefix buildkit
// adds, since stack's errors carry the position themselves.
func cleanErr(err error) string {
	s := strings.ReplaceAll(err.Error(), "failed to process", "cannot expand")
	if i := strings.Index(s, "dockerfile parse error on line "); i >= 0 {
		if j := strings.Index(s[i:], ": "); j >= 0 {
			s = s[:i] + s[i+j+2:]
		}
	}
	return s
}
