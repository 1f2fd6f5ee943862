package build

import (
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// argEnv is an ordered set of build args in scope, usable by buildkit's
// shell lexer. An arg declared without a value is in the scope but unset.
type argEnv struct {
	names []string
	args  map[string]Arg
}

func newArgEnv(args []Arg) *argEnv {
	e := &argEnv{args: map[string]Arg{}}
	for _, a := range args {
		e.set(a)
	}
	return e
}

func (e *argEnv) set(a Arg) {
	if _, ok := e.args[a.Name]; !ok {
		e.names = append(e.names, a.Name)
	}
	e.args[a.Name] = a
}

func (e *argEnv) get(name string) (string, bool) {
	a, ok := e.args[name]
	if !ok || !a.Set {
		return "", false
	}
	return a.Value, true
}

func (e *argEnv) clone() *argEnv {
	c := &argEnv{names: append([]string(nil), e.names...), args: make(map[string]Arg, len(e.args))}
	for k, v := range e.args {
		c.args[k] = v
	}
	return c
}

// Get and Keys make argEnv a shell.EnvGetter.
func (e *argEnv) Get(name string) (string, bool) { return e.get(name) }

func (e *argEnv) Keys() []string {
	var keys []string
	for _, n := range e.names {
		if e.args[n].Set {
			keys = append(keys, n)
		}
	}
	return keys
}

// stageEnv is what instruction arguments are expanded with: the image
// config's environment, then the build args in scope (ENV wins over ARG,
// as in docker).
type stageEnv struct {
	env  []string // KEY=VALUE, the image config's Env
	args *argEnv
}

func (s stageEnv) Get(name string) (string, bool) {
	if v, ok := lookupEnv(s.env, name); ok {
		return v, true
	}
	return s.args.get(name)
}

func (s stageEnv) Keys() []string {
	var keys []string
	seen := map[string]bool{}
	for _, kv := range s.env {
		k, _, _ := strings.Cut(kv, "=")
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	for _, k := range s.args.Keys() {
		if !seen[k] {
			seen[k] = true
			keys = append(keys, k)
		}
	}
	return keys
}

var _ shell.EnvGetter = (*argEnv)(nil)
var _ shell.EnvGetter = stageEnv{}

func lookupEnv(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		k, v, _ := strings.Cut(env[i], "=")
		if k == name {
			return v, true
		}
	}
	return "", false
}

// setEnv sets name in a KEY=VALUE list, in place of an existing entry or
// appended, as docker does.
func setEnv(env []string, name, value string) []string {
	for i, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == name {
			out := append([]string(nil), env...)
			out[i] = name + "=" + value
			return out
		}
	}
	return append(append([]string(nil), env...), name+"="+value)
}

// expand expands one word with buildkit's shell lexer (quotes removed,
// $VAR and ${VAR...} forms expanded, the Dockerfile's escape character).
func (p *Plan) expand(word string, env shell.EnvGetter) (string, error) {
	lex := shell.NewLex(p.escape())
	out, _, err := lex.ProcessWord(word, env)
	return out, err
}

// expandWords expands and splits one word into several, as EXPOSE does.
func (p *Plan) expandWords(word string, env shell.EnvGetter) ([]string, error) {
	lex := shell.NewLex(p.escape())
	return lex.ProcessWords(word, env)
}

// expandRaw expands variables in heredoc contents, keeping quotes.
func (p *Plan) expandRaw(word string, env shell.EnvGetter) (string, error) {
	lex := shell.NewLex('\\')
	lex.SkipProcessQuotes = true
	out, _, err := lex.ProcessWord(word, env)
	return out, err
}

func (p *Plan) escape() rune {
	if p.Escape == 0 {
		return '\\'
	}
	return p.Escape
}
