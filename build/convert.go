package build

import (
	"encoding/json"
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// DefaultShell is the shell of the shell forms of RUN, CMD and ENTRYPOINT
// until SHELL changes it.
var DefaultShell = []string{"/bin/sh", "-c"}

// DefaultPath is added to the environment of an image that has no PATH,
// as BuildKit does (FROM scratch, or a base image without one).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Step is one instruction of a stage after ARG/ENV expansion: what to run
// or copy, and the history entry it adds. Steps with Run, Copy or Mkdir
// set make a layer; the others only change the config.
type Step struct {
	Pos    Pos
	Cmd    string // "RUN", "COPY", "ENV", ...
	Source string // the instruction as written
	// Trigger marks an ONBUILD trigger of the base image, run before the
	// stage's own instructions.
	Trigger bool
	// CacheText is the instruction after ARG/ENV expansion plus everything
	// else that decides its effect (for RUN: argv, environment, working
	// directory, user): the text input of CacheKey.
	CacheText string

	Run   *RunStep  // RUN
	Copy  *CopyStep // COPY and ADD
	Mkdir string    // WORKDIR: the absolute directory to create if missing

	// History is the step's image history entry, in docker's classic
	// builder format (see docs/build.md). Created is left zero for the
	// caller. For COPY and ADD, CreatedBy is completed by SetContentDigest.
	History v1.History

	// Config is the image's runtime config after this step, and Author
	// the image's author (MAINTAINER): what the image committed for the
	// step carries.
	Config v1.Config
	Author string
}

// String is the step as progress shows it: the instruction as written,
// on one line ("RUN apk add curl"); an inherited trigger is marked.
func (s *Step) String() string {
	line, _, _ := strings.Cut(s.Source, "\n")
	if s.Trigger {
		return "ONBUILD " + line
	}
	return line
}

// Layer reports whether the step writes a layer (RUN, COPY, ADD, WORKDIR).
func (s *Step) Layer() bool { return s.Run != nil || s.Copy != nil || s.Mkdir != "" }

// RunStep is what a RUN executes, in a container from the stage's rootfs.
type RunStep struct {
	Args []string // argv: the shell and the command (shell form), or the exec form
	Env  []string // the image's Env plus the build args in scope, KEY=VALUE (ENV wins over ARG)
	Dir  string   // working directory, absolute
	User string   // "" means root
	// Stdin is fed to the command: the script of a heredoc that starts
	// with "#!" (Args is then the interpreter of its first line).
	Stdin string
	// BuildArgs are the build args in the environment, for the history
	// ("|1 A=b /bin/sh -c ..."), sorted.
	BuildArgs []string

	proxyArgs bool // undeclared proxy build args are in Env
}

// CopyStep is what a COPY or ADD copies.
type CopyStep struct {
	Add bool
	// Sources are context paths (globs allowed), or http(s) URLs for ADD,
	// after expansion.
	Sources []string
	// Inline are heredoc sources ("COPY <<EOF /dest"), written as files
	// named Name.
	Inline []InlineFile
	// Dest is absolute; a trailing "/" means a directory.
	Dest string
	// Chown is "user[:group]" (names or ids) to resolve in the stage's
	// rootfs; "" keeps the owner as docker does (root).
	Chown string
	// Chmod is the mode of the copied files when HasChmod.
	Chmod    uint32
	HasChmod bool
	// Checksum is ADD --checksum: the digest the downloaded URL must have.
	Checksum string
	// FromStage is the earlier stage COPY --from names; FromImage an
	// image reference it names instead. Both empty: the build context.
	FromStage *Stage
	FromImage string

	nopShell []string // for the history line
	rawDest  string   // the destination as written, for the history line
}

// InlineFile is a heredoc given as a file.
type InlineFile struct {
	Name string
	Data string
}

// SetContentDigest completes a COPY or ADD step's history with the digest
// of the copied content, in docker's form: "file:<hex>" for one file,
// "dir:<hex>" for one directory, "multi:<hex>" for several sources.
func (s *Step) SetContentDigest(digest string) {
	if s.Copy == nil {
		return
	}
	s.History.CreatedBy = strings.Join(s.Copy.nopShell, " ") + " #(nop) " + fmt.Sprintf("%s %s in %s ", s.Cmd, digest, s.Copy.rawDest)
}

// Result is a converted stage: its steps and the image config they make.
type Result struct {
	Stage *Stage
	Steps []*Step
	// Config is the image config after the last step. Its History is the
	// base image's; Image appends the steps' entries.
	Config *v1.ConfigFile
}

// AddLabels appends a step that sets labels (`stack build --label`), as
// a LABEL at the end of the stage would, keys in sorted order.
func (r *Result) AddLabels(labels map[string]string) {
	if len(labels) == 0 {
		return
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	conf := &r.Config.Config
	if conf.Labels == nil {
		conf.Labels = map[string]string{}
	}
	var parts []string
	for _, k := range keys {
		conf.Labels[k] = labels[k]
		parts = append(parts, k+"="+strconv.Quote(labels[k]))
	}
	shell := DefaultShell
	if len(conf.Shell) > 0 {
		shell = conf.Shell
	}
	text := "LABEL " + strings.Join(parts, " ")
	r.Steps = append(r.Steps, &Step{
		Pos: r.Stage.Pos, Cmd: "LABEL", Source: text, CacheText: text,
		History: v1.History{CreatedBy: strings.Join(shell, " ") + " #(nop)  " + text, EmptyLayer: true},
		Config:  cloneConfig(*conf), Author: r.Config.Author,
	})
}

// Image returns the final config with the history of every step appended.
func (r *Result) Image() *v1.ConfigFile {
	cfg := cloneConfigFile(r.Config)
	for _, s := range r.Steps {
		cfg.History = append(cfg.History, s.History)
	}
	return cfg
}

// Convert expands the instructions of stage st over the config of its base
// (the base image's config, the base stage's Result.Image(), or nil for
// scratch) and applies every config change as docker does. ONBUILD
// triggers of the base run first and are cleared. Convert is pure; it is
// safe to call for several stages at once.
func (p *Plan) Convert(st *Stage, base *v1.ConfigFile) (*Result, error) {
	c := &converter{p: p, st: st, args: newArgEnv(nil)}
	if base == nil {
		c.cfg = &v1.ConfigFile{
			OS: p.platform.OS, Architecture: p.platform.Arch, Variant: p.platform.Variant,
			RootFS: v1.RootFS{Type: "layers"},
		}
	} else {
		c.cfg = cloneConfigFile(base)
	}
	if _, ok := lookupEnv(c.cfg.Config.Env, "PATH"); !ok {
		c.cfg.Config.Env = setEnv(c.cfg.Config.Env, "PATH", DefaultPath)
	}
	res := &Result{Stage: st}

	triggers := c.cfg.Config.OnBuild
	c.cfg.Config.OnBuild = nil
	for _, t := range triggers {
		in, err := p.parseTrigger(st, t)
		if err != nil {
			return nil, err
		}
		s, err := c.step(in)
		if err != nil {
			return nil, err
		}
		s.Trigger = true
		s.Config, s.Author = cloneConfig(c.cfg.Config), c.cfg.Author
		res.Steps = append(res.Steps, s)
	}
	for _, in := range st.Instructions[1:] {
		s, err := c.step(in)
		if err != nil {
			return nil, err
		}
		s.Config, s.Author = cloneConfig(c.cfg.Config), c.cfg.Author
		res.Steps = append(res.Steps, s)
	}
	res.Config = c.cfg
	return res, nil
}

// parseTrigger parses one ONBUILD trigger of a base image.
func (p *Plan) parseTrigger(st *Stage, trigger string) (*Instruction, error) {
	pos := st.Pos
	r, err := parser.Parse(strings.NewReader(trigger))
	if err != nil || len(r.AST.Children) != 1 {
		return nil, errorfAt(pos, "ONBUILD trigger %q of the base image does not parse", trigger)
	}
	cmd, err := instructions.ParseCommand(r.AST.Children[0])
	if err != nil {
		return nil, errorfAt(pos, "ONBUILD trigger %q of the base image: %s", trigger, cleanErr(err))
	}
	in := &Instruction{Pos: pos, Cmd: strings.ToUpper(cmd.Name()), Source: trigger, cmd: cmd}
	if c, ok := cmd.(*instructions.CopyCommand); ok && c.From != "" {
		from, err := p.stageRef(st, c.From)
		if err != nil {
			return nil, errorAt(pos, err)
		}
		in.CopyFrom = from
	}
	if err := checkSupported(in); err != nil {
		return nil, err
	}
	return in, nil
}

type converter struct {
	p      *Plan
	st     *Stage
	cfg    *v1.ConfigFile
	args   *argEnv
	cmdSet bool // CMD was set in this stage (ENTRYPOINT then keeps it)
}

func (c *converter) env() stageEnv { return stageEnv{env: c.cfg.Config.Env, args: c.args} }

func (c *converter) shell() []string {
	if len(c.cfg.Config.Shell) > 0 {
		return c.cfg.Config.Shell
	}
	return DefaultShell
}

// nop is the classic builder's history line of a config-only step:
// `/bin/sh -c #(nop)  CMD ["sh"]` (two spaces, as docker writes it).
func (c *converter) nop(comment string) string {
	return strings.Join(c.shell(), " ") + " #(nop)  " + comment
}

func (c *converter) expand(in *Instruction, what, word string) (string, error) {
	v, err := c.p.expand(word, c.env())
	if err != nil {
		return "", errorfAt(in.Pos, "%s %s: %s", in.Cmd, what, cleanErr(err))
	}
	return v, nil
}

func (c *converter) step(in *Instruction) (*Step, error) {
	s := &Step{Pos: in.Pos, Cmd: in.Cmd, Source: in.Source}
	conf := &c.cfg.Config
	configOnly := func(comment string) {
		s.History = v1.History{CreatedBy: c.nop(comment), EmptyLayer: true}
		s.CacheText = comment
	}
	switch cmd := in.cmd.(type) {
	case *instructions.ArgCommand:
		var parts []string
		for _, kv := range cmd.Args {
			a := Arg{Name: kv.Key}
			if v, ok := c.p.buildArgs[kv.Key]; ok {
				a.Value, a.Set = v, true
			} else if kv.Value != nil {
				v, err := c.expand(in, kv.Key, *kv.Value)
				if err != nil {
					return nil, err
				}
				a.Value, a.Set = v, true
			} else if v, ok := c.p.metaEnv().get(kv.Key); ok {
				a.Value, a.Set = v, true
			}
			c.args.set(a)
			part := kv.Key
			if kv.Value != nil {
				v, err := c.expand(in, kv.Key, *kv.Value)
				if err != nil {
					return nil, err
				}
				part += "=" + v
			}
			parts = append(parts, part)
		}
		configOnly("ARG " + strings.Join(parts, " "))

	case *instructions.EnvCommand:
		var parts []string
		// All pairs of one ENV are expanded with the environment before it.
		env := c.env()
		for _, kv := range cmd.Env {
			k, err := c.p.expand(kv.Key, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "ENV %s: %s", kv.Key, cleanErr(err))
			}
			v, err := c.p.expand(kv.Value, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "ENV %s: %s", kv.Key, cleanErr(err))
			}
			conf.Env = setEnv(conf.Env, k, v)
			parts = append(parts, k+"="+v)
		}
		configOnly("ENV " + strings.Join(parts, " "))

	case *instructions.LabelCommand:
		var parts []string
		env := c.env()
		for _, kv := range cmd.Labels {
			k, err := c.p.expand(kv.Key, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "LABEL %s: %s", kv.Key, cleanErr(err))
			}
			v, err := c.p.expand(kv.Value, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "LABEL %s: %s", kv.Key, cleanErr(err))
			}
			if conf.Labels == nil {
				conf.Labels = map[string]string{}
			}
			conf.Labels[k] = v
			parts = append(parts, k+"="+v)
		}
		configOnly("LABEL " + strings.Join(parts, " "))

	case *instructions.MaintainerCommand:
		c.cfg.Author = cmd.Maintainer
		configOnly("MAINTAINER " + cmd.Maintainer)

	case *instructions.WorkdirCommand:
		p, err := c.expand(in, "", cmd.Path)
		if err != nil {
			return nil, err
		}
		if p == "" {
			return nil, errorfAt(in.Pos, "WORKDIR is empty after expansion")
		}
		if !path.IsAbs(p) {
			cur := conf.WorkingDir
			if cur == "" {
				cur = "/"
			}
			p = path.Join(cur, p)
		}
		p = path.Clean(p)
		conf.WorkingDir = p
		s.Mkdir = p
		s.CacheText = "WORKDIR " + p
		s.History = v1.History{CreatedBy: strings.Join(c.shell(), " ") + " #(nop) WORKDIR " + p}

	case *instructions.UserCommand:
		u, err := c.expand(in, "", cmd.User)
		if err != nil {
			return nil, err
		}
		conf.User = u
		configOnly("USER " + u)

	case *instructions.ExposeCommand:
		var ports []string
		env := c.env()
		for _, w := range cmd.Ports {
			ws, err := c.p.expandWords(w, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "EXPOSE %s: %s", w, cleanErr(err))
			}
			ports = append(ports, ws...)
		}
		if conf.ExposedPorts == nil {
			conf.ExposedPorts = map[string]struct{}{}
		}
		for _, pt := range ports {
			keys, err := exposedPorts(pt)
			if err != nil {
				return nil, errorAt(in.Pos, err)
			}
			for _, k := range keys {
				conf.ExposedPorts[k] = struct{}{}
			}
		}
		configOnly("EXPOSE " + strings.Join(ports, " "))

	case *instructions.VolumeCommand:
		var vols []string
		for _, v := range cmd.Volumes {
			e, err := c.expand(in, "", v)
			if err != nil {
				return nil, err
			}
			if e == "" {
				return nil, errorfAt(in.Pos, "VOLUME %s is empty after expansion", v)
			}
			vols = append(vols, e)
			if conf.Volumes == nil {
				conf.Volumes = map[string]struct{}{}
			}
			conf.Volumes[e] = struct{}{}
		}
		configOnly(fmt.Sprintf("VOLUME %v", vols))

	case *instructions.StopSignalCommand:
		sig, err := c.expand(in, "", cmd.Signal)
		if err != nil {
			return nil, err
		}
		if !validSignal(sig) {
			return nil, errorfAt(in.Pos, "STOPSIGNAL %q is not a signal; use a name like SIGTERM or SIGQUIT, or a number from 1 to 64", sig)
		}
		conf.StopSignal = sig
		configOnly("STOPSIGNAL " + sig)

	case *instructions.HealthCheckCommand:
		h := cmd.Health
		conf.Healthcheck = &v1.HealthConfig{
			Test:        append([]string(nil), h.Test...),
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
		configOnly("HEALTHCHECK " + healthHistory(h.Test, h.Interval, h.Timeout, h.StartPeriod, h.StartInterval, h.Retries))

	case *instructions.ShellCommand:
		conf.Shell = append([]string(nil), cmd.Shell...)
		configOnly(fmt.Sprintf("SHELL %v", cmd.Shell))

	case *instructions.CmdCommand:
		conf.Cmd = c.commandLine(cmd.ShellDependantCmdLine)
		if len(cmd.CmdLine) > 0 { // as docker: "CMD []" does not count as set
			c.cmdSet = true
		}
		configOnly(fmt.Sprintf("CMD %q", conf.Cmd))

	case *instructions.EntrypointCommand:
		conf.Entrypoint = c.commandLine(cmd.ShellDependantCmdLine)
		if !c.cmdSet {
			conf.Cmd = nil
		}
		configOnly(fmt.Sprintf("ENTRYPOINT %q", conf.Entrypoint))

	case *instructions.OnbuildCommand:
		conf.OnBuild = append(conf.OnBuild, cmd.Expression)
		configOnly("ONBUILD " + cmd.Expression)

	case *instructions.RunCommand:
		run := c.run(cmd.ShellDependantCmdLine)
		s.Run = run
		createdBy := run.Args
		if run.Stdin != "" {
			createdBy = append(append([]string(nil), c.shell()...), run.Stdin)
		}
		if len(run.BuildArgs) > 0 || run.proxyArgs {
			// docker writes "|0 ..." when only undeclared proxy args are set
			createdBy = append(append([]string{"|" + strconv.Itoa(len(run.BuildArgs))}, run.BuildArgs...), createdBy...)
		}
		s.History = v1.History{CreatedBy: strings.Join(createdBy, " ")}
		s.CacheText = cacheText(struct {
			Cmd                   string
			Args, Env             []string
			Dir, User, Stdin, Src string
		}{"RUN", run.Args, run.Env, run.Dir, run.User, run.Stdin, ""})

	case *instructions.CopyCommand:
		cp, err := c.copyStep(in, false, cmd.SourcesAndDest, cmd.Chown, cmd.Chmod, "")
		if err != nil {
			return nil, err
		}
		if cmd.From != "" {
			if in.CopyFrom != nil {
				cp.FromStage = in.CopyFrom
			} else {
				cp.FromImage = cmd.From
			}
		}
		c.finishCopy(s, cp)

	case *instructions.AddCommand:
		checksum, err := c.expand(in, "--checksum", cmd.Checksum)
		if err != nil {
			return nil, err
		}
		cp, err := c.copyStep(in, true, cmd.SourcesAndDest, cmd.Chown, cmd.Chmod, checksum)
		if err != nil {
			return nil, err
		}
		c.finishCopy(s, cp)

	default:
		return nil, errorfAt(in.Pos, "%s: %w", in.Cmd, ErrNotSupported)
	}
	return s, nil
}

func (c *converter) finishCopy(s *Step, cp *CopyStep) {
	cp.nopShell = append([]string(nil), c.shell()...)
	s.Copy = cp
	from := ""
	switch {
	case cp.FromStage != nil:
		from = "stage:" + strconv.Itoa(cp.FromStage.Index)
	case cp.FromImage != "":
		from = "image:" + cp.FromImage
	}
	s.CacheText = cacheText(struct {
		Cmd      string
		Sources  []string
		Inline   []InlineFile
		Dest     string
		Chown    string
		Chmod    string
		Checksum string
		From     string
	}{s.Cmd, cp.Sources, cp.Inline, cp.Dest, cp.Chown, modeText(cp), cp.Checksum, from})
	s.SetContentDigest("")
}

func modeText(cp *CopyStep) string {
	if !cp.HasChmod {
		return ""
	}
	return strconv.FormatUint(uint64(cp.Chmod), 8)
}

func (c *converter) copyStep(in *Instruction, add bool, sd instructions.SourcesAndDest, chown, chmod, checksum string) (*CopyStep, error) {
	cp := &CopyStep{Add: add, Checksum: checksum}
	env := c.env()
	for _, src := range sd.SourcePaths {
		v, err := c.p.expand(src, env)
		if err != nil {
			return nil, errorfAt(in.Pos, "%s %s: %s", in.Cmd, src, cleanErr(err))
		}
		if isURL(v) && !add {
			return nil, errorfAt(in.Pos, "COPY %s: COPY takes no URLs; use ADD to download a file", v)
		}
		cp.Sources = append(cp.Sources, v)
	}
	for _, sc := range sd.SourceContents {
		data := sc.Data
		if sc.Expand {
			v, err := c.p.expandRaw(data, env)
			if err != nil {
				return nil, errorfAt(in.Pos, "%s <<%s: %s", in.Cmd, sc.Path, cleanErr(err))
			}
			data = v
		}
		cp.Inline = append(cp.Inline, InlineFile{Name: sc.Path, Data: data})
	}
	dest, err := c.p.expand(sd.DestPath, env)
	if err != nil {
		return nil, errorfAt(in.Pos, "%s destination %s: %s", in.Cmd, sd.DestPath, cleanErr(err))
	}
	cp.Dest = c.absDest(dest)
	cp.rawDest = dest
	if cp.Chown, err = c.p.expand(chown, env); err != nil {
		return nil, errorfAt(in.Pos, "%s --chown: %s", in.Cmd, cleanErr(err))
	}
	mode, err := c.p.expand(chmod, env)
	if err != nil {
		return nil, errorfAt(in.Pos, "%s --chmod: %s", in.Cmd, cleanErr(err))
	}
	if mode != "" {
		m, err := strconv.ParseUint(mode, 8, 32)
		if err != nil || m > 0o7777 {
			return nil, errorfAt(in.Pos, "%s --chmod=%s: an octal mode such as 755 or 0644 is required (symbolic modes are not supported by stack)", in.Cmd, mode)
		}
		cp.Chmod, cp.HasChmod = uint32(m), true
	}
	return cp, nil
}

// absDest resolves a destination against the working directory, keeping
// a trailing slash (which makes it a directory).
func (c *converter) absDest(dest string) string {
	dir := strings.HasSuffix(dest, "/") || dest == "." || dest == "" || strings.HasSuffix(dest, "/.")
	if !path.IsAbs(dest) {
		wd := c.cfg.Config.WorkingDir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	dest = path.Clean(dest)
	if dir && dest != "/" {
		dest += "/"
	}
	return dest
}

// commandLine is the argv of CMD or ENTRYPOINT: the shell form wrapped in
// the current shell, the exec form as is.
func (c *converter) commandLine(cl instructions.ShellDependantCmdLine) []string {
	if cl.PrependShell {
		return append(append([]string(nil), c.shell()...), cl.CmdLine...)
	}
	if cl.CmdLine == nil {
		return nil
	}
	return append([]string{}, cl.CmdLine...)
}

// run builds a RunStep: argv (heredocs folded into the shell script), the
// environment with the build args, the working directory and the user.
func (c *converter) run(cl instructions.ShellDependantCmdLine) *RunStep {
	conf := c.cfg.Config
	r := &RunStep{Dir: conf.WorkingDir, User: conf.User}
	if r.Dir == "" {
		r.Dir = "/"
	}
	switch {
	case !cl.PrependShell:
		r.Args = append([]string{}, cl.CmdLine...)
	case len(cl.Files) == 1 && isOnlyHeredoc(cl.CmdLine, cl.Files[0].Name):
		f := cl.Files[0]
		data := f.Data
		if f.Chomp {
			data = parser.ChompHeredocContent(data)
		}
		if interp := shebang(data); interp != nil {
			r.Args = interp
			r.Stdin = data
		} else {
			r.Args = append(append([]string(nil), c.shell()...), data)
		}
	case len(cl.Files) > 0:
		var b strings.Builder
		b.WriteString(strings.Join(cl.CmdLine, " "))
		for _, f := range cl.Files {
			b.WriteByte('\n')
			b.WriteString(f.Data)
			if !strings.HasSuffix(f.Data, "\n") && f.Data != "" {
				b.WriteByte('\n')
			}
			b.WriteString(f.Name)
		}
		r.Args = append(append([]string(nil), c.shell()...), b.String())
	default:
		r.Args = append(append([]string(nil), c.shell()...), cl.CmdLine...)
	}

	r.Env = append([]string(nil), conf.Env...)
	for _, name := range c.args.Keys() {
		if _, inEnv := lookupEnv(conf.Env, name); inEnv {
			continue
		}
		v, _ := c.args.get(name)
		r.Env = append(r.Env, name+"="+v)
		r.BuildArgs = append(r.BuildArgs, name+"="+v)
	}
	// Proxy args reach RUN without a declaration, and stay out of history.
	for _, name := range proxyArgs {
		if v, ok := c.p.buildArgs[name]; ok {
			if _, declared := c.args.args[name]; declared {
				continue
			}
			if _, inEnv := lookupEnv(conf.Env, name); !inEnv {
				r.Env = append(r.Env, name+"="+v)
				r.proxyArgs = true
			}
		}
	}
	sort.Strings(r.BuildArgs)
	return r
}

// isOnlyHeredoc reports whether a RUN's command is nothing but the heredoc
// marker ("RUN <<EOF", "RUN <<-'EOF'").
func isOnlyHeredoc(cmdline []string, name string) bool {
	if len(cmdline) != 1 {
		return false
	}
	h, err := parser.ParseHeredoc(strings.TrimSpace(cmdline[0]))
	return err == nil && h != nil && h.Name == name
}

// shebang returns the interpreter argv of a script starting with "#!".
func shebang(script string) []string {
	if !strings.HasPrefix(script, "#!") {
		return nil
	}
	line, _, _ := strings.Cut(script[2:], "\n")
	f := strings.Fields(line)
	if len(f) == 0 {
		return nil
	}
	return f
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// healthHistory prints a healthcheck as docker's classic builder does in
// history (fmt's %q of its HealthConfig struct, field by field):
// &{["CMD-SHELL" "curl -f http://localhost/"] "5s" "3s" "0s" "0s" '\x03'}
func healthHistory(test []string, interval, timeout, startPeriod, startInterval time.Duration, retries int) string {
	return fmt.Sprintf("&{%q %q %q %q %q %q}", test, interval.String(), timeout.String(),
		startPeriod.String(), startInterval.String(), rune(retries))
}

// exposedPorts turns one EXPOSE argument into ExposedPorts keys.
func exposedPorts(s string) ([]string, error) {
	body, proto, hasProto := strings.Cut(s, "/")
	proto = strings.ToLower(proto)
	if !hasProto {
		proto = "tcp"
	}
	switch proto {
	case "tcp", "udp", "sctp":
	default:
		return nil, fmt.Errorf("EXPOSE %s: unknown protocol %q; valid protocols are tcp, udp and sctp", s, proto)
	}
	if strings.Contains(body, ":") {
		return nil, fmt.Errorf("EXPOSE %s: EXPOSE takes container ports only (\"80\", \"8000-8010/udp\"); publish ports when running", s)
	}
	lo, hi, isRange := strings.Cut(body, "-")
	start, err := strconv.ParseUint(lo, 10, 16)
	if err != nil || start == 0 {
		return nil, fmt.Errorf("EXPOSE %s: %q is not a port (1 to 65535)", s, lo)
	}
	end := start
	if isRange {
		if end, err = strconv.ParseUint(hi, 10, 16); err != nil || end < start {
			return nil, fmt.Errorf("EXPOSE %s: %q is not a valid port range (low-high, 1 to 65535)", s, body)
		}
	}
	var keys []string
	for p := start; p <= end; p++ {
		keys = append(keys, strconv.FormatUint(p, 10)+"/"+proto)
	}
	return keys, nil
}

var signalNames = map[string]bool{
	"ABRT": true, "ALRM": true, "BUS": true, "CHLD": true, "CLD": true, "CONT": true, "FPE": true,
	"HUP": true, "ILL": true, "INT": true, "IO": true, "IOT": true, "KILL": true, "PIPE": true,
	"POLL": true, "PROF": true, "PWR": true, "QUIT": true, "SEGV": true, "STKFLT": true,
	"STOP": true, "SYS": true, "TERM": true, "TRAP": true, "TSTP": true, "TTIN": true,
	"TTOU": true, "URG": true, "USR1": true, "USR2": true, "VTALRM": true, "WINCH": true,
	"XCPU": true, "XFSZ": true, "UNUSED": true,
}

// validSignal accepts what docker's signal.ParseSignal accepts on Linux:
// a number 1..64, a name with or without "SIG", RTMIN+n and RTMAX-n.
func validSignal(s string) bool {
	if n, err := strconv.Atoi(s); err == nil {
		return n >= 1 && n <= 64
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if signalNames[name] || name == "RTMIN" || name == "RTMAX" {
		return true
	}
	for _, pre := range []string{"RTMIN+", "RTMAX-"} {
		if rest, ok := strings.CutPrefix(name, pre); ok {
			n, err := strconv.Atoi(rest)
			return err == nil && n >= 1 && n <= 15
		}
	}
	return false
}

func cacheText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only strings and slices: cannot fail
	}
	return string(b)
}

// cloneConfigFile deep-copies the parts of a config that steps change.
func cloneConfigFile(in *v1.ConfigFile) *v1.ConfigFile {
	out := *in
	out.History = append([]v1.History(nil), in.History...)
	out.RootFS.DiffIDs = append([]v1.Hash(nil), in.RootFS.DiffIDs...)
	out.OSFeatures = append([]string(nil), in.OSFeatures...)
	out.Config = cloneConfig(in.Config)
	return &out
}

func cloneConfig(in v1.Config) v1.Config {
	out := in
	out.Cmd = cloneStrings(in.Cmd)
	out.Entrypoint = cloneStrings(in.Entrypoint)
	out.Env = cloneStrings(in.Env)
	out.OnBuild = cloneStrings(in.OnBuild)
	out.Shell = cloneStrings(in.Shell)
	if in.Healthcheck != nil {
		h := *in.Healthcheck
		h.Test = cloneStrings(h.Test)
		out.Healthcheck = &h
	}
	out.Labels = cloneMap(in.Labels)
	out.Volumes = cloneMap(in.Volumes)
	out.ExposedPorts = cloneMap(in.ExposedPorts)
	return out
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append([]string{}, s...)
}

func cloneMap[V any](m map[string]V) map[string]V {
	if m == nil {
		return nil
	}
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
