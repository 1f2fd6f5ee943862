package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"
)

// DefaultFileNames are the stack file names looked for in the project
// directory, in order; the first one found is loaded.
var DefaultFileNames = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml", "stack.yaml"}

// Load discovers, reads, merges, interpolates, validates and normalizes the
// stack file(s) named by opts into a Stack.
//
// Problems with the files' content are returned as one *Error (which wraps
// ErrInvalid) listing every diagnostic, sorted by position; warnings are in
// Stack.Warnings (and in the *Error, when loading fails). ErrNoFile is
// returned when no file is given and none is found.
func Load(opts LoadOptions) (*Stack, error) {
	l, err := newLoader(opts)
	if err != nil {
		return nil, err
	}
	return l.load()
}

type loader struct {
	opts       LoadOptions
	env        map[string]string // process environment
	dotenv     map[string]string // project env files
	projectDir string            // absolute
	diags      []Diagnostic
	warnedVars map[string]bool
	// files loaded through extends.file, by absolute path.
	extFiles map[string]*node
	// disabled are the services removed by profiles, with their positions.
	disabled map[string]Pos
	// files are the stack files loaded; peekedName caches peekProjectName.
	files      []string
	peekedName string
}

func newLoader(opts LoadOptions) (*loader, error) {
	l := &loader{opts: opts, warnedVars: map[string]bool{}}
	l.env = opts.Env
	if l.env == nil {
		l.env = map[string]string{}
		for _, kv := range os.Environ() {
			if k, v, ok := strings.Cut(kv, "="); ok {
				l.env[k] = v
			}
		}
	}
	dir := opts.ProjectDir
	if dir == "" {
		dir = "."
		if len(opts.Files) > 0 {
			dir = filepath.Dir(opts.Files[0])
		}
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving project directory %q: %w", dir, err)
	}
	l.projectDir = abs
	return l, nil
}

// lookup finds a variable in the process environment, then the env files.
// COMPOSE_PROJECT_NAME, when set in neither, is the project name.
func (l *loader) lookup(name string) (string, bool) {
	if v, ok := l.env[name]; ok {
		return v, true
	}
	if v, ok := l.dotenv[name]; ok {
		return v, true
	}
	if name == "COMPOSE_PROJECT_NAME" {
		return l.peekProjectName(), true
	}
	return "", false
}

// peekProjectName finds the project name before the files are
// interpolated (for ${COMPOSE_PROJECT_NAME}): -p, else the last name: key
// of the files, else the directory name.
func (l *loader) peekProjectName() string {
	if l.peekedName != "" {
		return l.peekedName
	}
	name := l.opts.ProjectName
	for i := len(l.files) - 1; i >= 0 && name == ""; i-- {
		data, err := os.ReadFile(l.files[i])
		if err != nil {
			continue
		}
		var top struct {
			Name string `yaml:"name"`
		}
		if yaml.Unmarshal(data, &top) != nil || top.Name == "" {
			continue
		}
		name = top.Name
		if strings.Contains(name, "$") {
			name, _, _ = Interpolate(name, func(v string) (string, bool) {
				if v == "COMPOSE_PROJECT_NAME" {
					return "", false
				}
				return l.lookup(v)
			})
		}
	}
	if name == "" {
		name = NormalizeProjectName(filepath.Base(l.projectDir))
	}
	l.peekedName = name
	return name
}

func (l *loader) errAt(pos Pos, path, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...)})
}

func (l *loader) warnAt(pos Pos, path, format string, args ...any) {
	l.diags = append(l.diags, Diagnostic{Pos: pos, Path: path, Message: fmt.Sprintf(format, args...), Severity: SevWarning})
}

// discover returns the files to load: opts.Files, or the first default
// name found in the project directory plus its override file.
func (l *loader) discover() ([]string, error) {
	if len(l.opts.Files) > 0 {
		return l.opts.Files, nil
	}
	base := l.opts.ProjectDir
	var found []string
	for _, name := range DefaultFileNames {
		p := filepath.Join(base, name)
		if _, err := os.Stat(p); err == nil {
			found = append(found, p)
		}
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("looking for %s in %s: %w", strings.Join(DefaultFileNames, ", "), l.projectDir, ErrNoFile)
	}
	first := found[0]
	if len(found) > 1 {
		l.warnAt(Pos{File: first}, "", "found several stack files (%s): using %s", strings.Join(relNames(found), ", "), filepath.Base(first))
	}
	files := []string{first}
	ext := filepath.Ext(first)
	override := strings.TrimSuffix(first, ext) + ".override" + ext
	if _, err := os.Stat(override); err == nil {
		files = append(files, override)
	}
	return files, nil
}

func relNames(paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = filepath.Base(p)
	}
	return out
}

func (l *loader) loadEnvFiles() error {
	files := l.opts.EnvFiles
	explicit := len(files) > 0
	if !explicit {
		files = []string{filepath.Join(l.projectDir, ".env")}
	}
	l.dotenv = map[string]string{}
	for _, f := range files {
		if !filepath.IsAbs(f) && !explicit {
			f = filepath.Join(l.projectDir, f)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			if !explicit && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return fmt.Errorf("reading env file: %w", err)
		}
		lines, err := parseDotenv(string(data), false, l.lookup)
		if err != nil {
			l.errAt(Pos{File: f, Line: errLine(err), Col: 1}, "", "%s", errText(err))
			continue
		}
		for _, e := range lines {
			if e.set {
				l.dotenv[e.key] = e.value
			}
		}
	}
	return nil
}

// errLine and errText split a parseDotenv error "line N: msg".
func errLine(err error) int {
	var n int
	if _, e := fmt.Sscanf(err.Error(), "line %d:", &n); e == nil {
		return n
	}
	return 1
}

func errText(err error) string {
	s := err.Error()
	if strings.HasPrefix(s, "line ") {
		if i := strings.Index(s, ": "); i >= 0 {
			return s[i+2:]
		}
	}
	return s
}

func (l *loader) load() (*Stack, error) {
	files, err := l.discover()
	if err != nil {
		return nil, err
	}
	l.files = files
	if err := l.loadEnvFiles(); err != nil {
		return nil, err
	}
	var root *node
	for _, f := range files {
		n, err := l.loadFile(f, l.projectDir, l.lookup, nil)
		if err != nil {
			return nil, err
		}
		if n == nil {
			continue
		}
		if root == nil {
			root = n
		} else {
			root = mergeTop(root, n)
		}
	}
	st := &Stack{WorkingDir: l.projectDir}
	if root != nil {
		stripResets(root)
		l.resolveAllExtends(root, absOf(files[0]))
		if err := l.projectName(root, st); err != nil {
			return nil, err
		}
		if err := l.applyProfiles(root); err != nil {
			return nil, err
		}
		d := &decoder{l: l, st: st}
		d.decodeTop(root)
		d.validate()
	}
	return l.finish(st)
}

func (l *loader) hasErrors() bool {
	for _, d := range l.diags {
		if d.Severity == SevError {
			return true
		}
	}
	return false
}

func (l *loader) finish(st *Stack) (*Stack, error) {
	SortDiagnostics(l.diags)
	// The same problem reached twice (e.g. through an anchor) is shown once.
	l.diags = slices.CompactFunc(l.diags, func(a, b Diagnostic) bool { return a == b })
	if l.hasErrors() {
		return nil, &Error{Diagnostics: l.diags}
	}
	st.Warnings = l.diags
	return st, nil
}

// loadFile reads one file, interpolates it and resolves its includes.
// display is the name used in positions; dir is where its relative paths
// point. chain holds the absolute paths of the including files.
func (l *loader) loadFile(display, dir string, lookup func(string) (string, bool), chain []string) (*node, error) {
	data, err := os.ReadFile(display)
	if err != nil {
		return nil, fmt.Errorf("reading stack file: %w", err)
	}
	n := parseYAML(data, display, dir, &l.diags)
	if n == nil {
		return nil, nil
	}
	if n.kind != mapNode {
		if n.kind == nullNode {
			l.errAt(Pos{File: display, Line: 1, Col: 1}, "", "the file is empty: a stack file needs at least a services: mapping")
		} else {
			l.errAt(n.pos, "", "a stack file must be a mapping (name, services, networks, ...), got %s", n.kind)
		}
		return nil, nil
	}
	l.interpolate(n, lookup)
	if _, inc := n.getKey("include"); inc != nil {
		abs, _ := filepath.Abs(display)
		l.processIncludes(n, inc, append(chain, abs))
		n.del("include")
	}
	return n, nil
}

// interpolate expands variables in every scalar value (never in keys) of
// n. x- extensions other than x-stack-* are left alone: they are ignored.
func (l *loader) interpolate(n *node, lookup func(string) (string, bool)) {
	segs := make([]pathSeg, 0, 16)
	l.interpolateNode(n, &segs, lookup)
}

func (l *loader) interpolateNode(n *node, segs *[]pathSeg, lookup func(string) (string, bool)) {
	switch n.kind {
	case scalarNode:
		if !strings.Contains(n.value, "$") {
			return
		}
		out, unset, err := Interpolate(n.value, lookup)
		if err != nil {
			l.errAt(n.pos, renderPath(*segs), "%v", err)
			n.invalid = true
			return
		}
		for _, v := range unset {
			if !l.warnedVars[v] {
				l.warnedVars[v] = true
				l.warnAt(n.pos, renderPath(*segs), "variable %s is not set: using an empty string", v)
			}
		}
		n.value = out
	case mapNode:
		for i, k := range n.keys {
			if strings.HasPrefix(k.value, "x-") && !strings.HasPrefix(k.value, "x-stack-") {
				continue
			}
			*segs = append(*segs, pathSeg{k.value, -1})
			l.interpolateNode(n.vals[i], segs, lookup)
			*segs = (*segs)[:len(*segs)-1]
		}
	case seqNode:
		for i, v := range n.vals {
			*segs = append(*segs, pathSeg{"", i})
			l.interpolateNode(v, segs, lookup)
			*segs = (*segs)[:len(*segs)-1]
		}
	}
}

// resolvePath makes p absolute against dir, expanding a leading ~.
func (l *loader) resolvePath(p, dir string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, _ := l.lookup("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		p = filepath.Join(home, p[1:])
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	return filepath.Clean(p)
}

// displayPath is how a file referenced from display's directory is named in positions.
func displayPath(fromFile, p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(fromFile), p)
}

// processIncludes loads the files of a top-level include and adds their
// resources to n; a resource defined in both is an error.
func (l *loader) processIncludes(n, inc *node, chain []string) {
	if inc.kind != seqNode {
		l.errAt(inc.pos, "include", "must be a list of paths or of {path, project_directory, env_file}, got %s", inc.kind)
		return
	}
	for i, e := range inc.vals {
		path := fmt.Sprintf("include[%d]", i)
		var paths []*node
		var projDir, envFiles *node
		switch e.kind {
		case scalarNode:
			paths = []*node{e}
		case mapNode:
			for j, k := range e.keys {
				v := e.vals[j]
				switch k.value {
				case "path":
					switch v.kind {
					case scalarNode:
						paths = []*node{v}
					case seqNode:
						paths = v.vals
					default:
						l.errAt(v.pos, path+".path", "must be a path or a list of paths, got %s", v.kind)
					}
				case "project_directory":
					projDir = v
				case "env_file":
					envFiles = v
				default:
					if !strings.HasPrefix(k.value, "x-") {
						l.errAt(k.pos, path+"."+k.value, "unknown key%s", validList(k.value, []string{"env_file", "path", "project_directory"}))
					}
				}
			}
			if len(paths) == 0 {
				l.errAt(e.pos, path, "path is required")
			}
		default:
			l.errAt(e.pos, path, "must be a path or a mapping, got %s", e.kind)
			continue
		}
		var loaded *node
		var incDir string
		for pi, pn := range paths {
			if pn.kind != scalarNode || pn.value == "" {
				l.errAt(pn.pos, path, "path must be a non-empty string")
				continue
			}
			display := displayPath(pn.pos.File, pn.value)
			abs := l.resolvePath(pn.value, filepath.Dir(absOf(pn.pos.File)))
			if slices.Contains(chain, abs) {
				l.errAt(pn.pos, path, "include cycle: %s", strings.Join(append(relChain(chain), pn.value), " -> "))
				continue
			}
			if pi == 0 {
				incDir = filepath.Dir(abs)
				if projDir != nil && projDir.kind == scalarNode {
					incDir = l.resolvePath(projDir.value, filepath.Dir(absOf(pn.pos.File)))
				}
			}
			lookup := l.lookup
			if envFiles != nil {
				lookup = l.includeEnv(envFiles, filepath.Dir(absOf(pn.pos.File)), path)
			} else if _, err := os.Stat(filepath.Join(incDir, ".env")); err == nil && incDir != l.projectDir {
				lookup = l.envFileLookup([]string{filepath.Join(incDir, ".env")}, pn.pos, path)
			}
			if _, err := os.Stat(display); err != nil {
				l.errAt(pn.pos, path, "included file %s: %v", pn.value, errors.Unwrap(err))
				continue
			}
			f, err := l.loadFile(display, incDir, lookup, chain)
			if err != nil {
				l.errAt(pn.pos, path, "%v", err)
				continue
			}
			if f == nil {
				continue
			}
			if loaded == nil {
				loaded = f
			} else {
				loaded = mergeTop(loaded, f)
			}
		}
		if loaded == nil {
			continue
		}
		stripResets(loaded)
		for _, section := range []string{"services", "networks", "volumes", "configs", "secrets", "x-stack-images"} {
			iv := loaded.get(section)
			if iv == nil || iv.kind != mapNode {
				continue
			}
			nk, nv := n.getKey(section)
			if nv == nil || nv.kind != mapNode {
				if nv == nil {
					nk = scalar(section, iv.pos, iv.dir)
				}
				nv = &node{kind: mapNode, pos: nk.pos, dir: n.dir}
				n.set(nk, nv)
			}
			for j, k := range iv.keys {
				if ek, _ := nv.getKey(k.value); ek != nil {
					l.errAt(ek.pos, section+"."+k.value, "conflicts with the %s %q included from %s:%d", strings.TrimSuffix(section, "s"), k.value, k.pos.File, k.pos.Line)
					continue
				}
				nv.keys = append(nv.keys, k)
				nv.vals = append(nv.vals, iv.vals[j])
			}
		}
	}
}

func absOf(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return a
}

func relChain(chain []string) []string {
	out := make([]string, len(chain))
	for i, c := range chain {
		out[i] = filepath.Base(c)
	}
	return out
}

// includeEnv builds the variable lookup of an included file from its env_file.
func (l *loader) includeEnv(n *node, dir, path string) func(string) (string, bool) {
	var files []string
	switch n.kind {
	case scalarNode:
		files = []string{l.resolvePath(n.value, dir)}
	case seqNode:
		for _, v := range n.vals {
			if v.kind == scalarNode {
				files = append(files, l.resolvePath(v.value, dir))
			}
		}
	default:
		l.errAt(n.pos, path+".env_file", "must be a path or a list of paths, got %s", n.kind)
	}
	return l.envFileLookup(files, n.pos, path+".env_file")
}

func (l *loader) envFileLookup(files []string, pos Pos, path string) func(string) (string, bool) {
	vars := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			l.errAt(pos, path, "env file %s: %v", relTo(l.projectDir, f), unwrapPathErr(err))
			continue
		}
		lines, err := parseDotenv(string(data), false, nil)
		if err != nil {
			l.errAt(pos, path, "env file %s: %v", relTo(l.projectDir, f), err)
			continue
		}
		for _, e := range lines {
			if e.set {
				vars[e.key] = e.value
			}
		}
	}
	return func(name string) (string, bool) {
		if v, ok := l.env[name]; ok {
			return v, true
		}
		v, ok := vars[name]
		return v, ok
	}
}

// projectName sets st.Name: -p, COMPOSE_PROJECT_NAME, the name: key, or
// the project directory's name normalized.
func (l *loader) projectName(root *node, st *Stack) error {
	if l.opts.ProjectName != "" {
		if msg := checkProjectName(l.opts.ProjectName); msg != "" {
			return fmt.Errorf("project name %q: %s: %w", l.opts.ProjectName, msg, ErrInvalidName)
		}
		st.Name = l.opts.ProjectName
		return nil
	}
	v, ok := l.env["COMPOSE_PROJECT_NAME"]
	if !ok {
		v, ok = l.dotenv["COMPOSE_PROJECT_NAME"]
	}
	if ok && v != "" {
		if msg := checkProjectName(v); msg != "" {
			return fmt.Errorf("COMPOSE_PROJECT_NAME %q: %s: %w", v, msg, ErrInvalidName)
		}
		st.Name = v
		return nil
	}
	if k, v := root.getKey("name"); v != nil {
		if v.kind != scalarNode {
			l.errAt(v.pos, "name", "must be a string, got %s", v.kind)
			return nil
		}
		if msg := checkProjectName(v.value); msg != "" {
			l.errAt(v.pos, "name", "%q: %s", v.value, msg)
		}
		_ = k
		st.Name = v.value
		return nil
	}
	st.Name = NormalizeProjectName(filepath.Base(l.projectDir))
	if st.Name == "" {
		return fmt.Errorf("project name from directory %q is empty: use -p or name: %w", filepath.Base(l.projectDir), ErrInvalidName)
	}
	return nil
}

// NormalizeProjectName makes a valid project name from s as compose does:
// lowercase, only [a-z0-9_-] kept, starting with a letter or digit.
func NormalizeProjectName(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b.WriteRune(c)
		}
	}
	return strings.TrimLeft(b.String(), "_-")
}

func checkProjectName(s string) string {
	if s == "" {
		return "must not be empty"
	}
	if NormalizeProjectName(s) != s {
		return "must contain only lowercase letters, digits, '-' and '_', and start with a letter or digit"
	}
	return ""
}

// applyProfiles removes the services whose profiles are all disabled.
func (l *loader) applyProfiles(root *node) error {
	services := root.get("services")
	if services == nil || services.kind != mapNode {
		if len(l.opts.Services) > 0 {
			return fmt.Errorf("no such service: %s: %w", strings.Join(l.opts.Services, ", "), ErrNoService)
		}
		return nil
	}
	enabled := map[string]bool{}
	profiles := l.opts.Profiles
	if len(profiles) == 0 {
		if v, _ := l.lookup("COMPOSE_PROFILES"); v != "" {
			profiles = strings.Split(v, ",")
		}
	}
	for _, p := range profiles {
		if p = strings.TrimSpace(p); p != "" {
			enabled[p] = true
		}
	}
	named := map[string]bool{}
	for _, s := range l.opts.Services {
		named[s] = true
		svc := services.get(s)
		if svc == nil {
			continue
		}
		for _, p := range scalarList(svc.get("profiles")) {
			enabled[p] = true
		}
	}
	disabled := map[string]Pos{}
	for i := 0; i < len(services.keys); i++ {
		name := services.keys[i].value
		svc := services.vals[i]
		ps := scalarList(svc.get("profiles"))
		if len(ps) == 0 || named[name] || enabled["*"] {
			continue
		}
		on := false
		for _, p := range ps {
			if enabled[p] {
				on = true
			}
		}
		if !on {
			// Disabled services are still decoded (their problems are
			// reported), then left out of the Stack.
			disabled[name] = services.keys[i].pos
		}
	}
	var unknown []string
	for _, s := range l.opts.Services {
		if services.get(s) == nil {
			unknown = append(unknown, s)
		}
	}
	l.disabled = disabled
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return fmt.Errorf("no such service: %s: %w", strings.Join(unknown, ", "), ErrNoService)
	}
	return nil
}

func scalarList(n *node) []string {
	if n == nil {
		return nil
	}
	switch n.kind {
	case scalarNode:
		return []string{n.value}
	case seqNode:
		out := make([]string, 0, len(n.vals))
		for _, v := range n.vals {
			if v.kind == scalarNode {
				out = append(out, v.value)
			}
		}
		return out
	}
	return nil
}

// relTo names path relative to dir when it is inside it (for messages).
func relTo(dir, path string) string {
	if r, err := filepath.Rel(dir, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
