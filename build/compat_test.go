package build

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"go.yaml.in/yaml/v3"
)

// compatDir is the copy of the shared corpus kept in the repository (testdata/README.md).
const compatDir = "../testdata/compat"

// dump renders a parse tree in the format of buildkit's testfiles/*/result:
// one s-expression per instruction, flags as a quoted list.
func dump(n *parser.Node) string {
	var b strings.Builder
	b.WriteString(strings.ToLower(n.Value))
	if len(n.Flags) > 0 {
		b.WriteString(" [")
		for i, f := range n.Flags {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.Quote(f))
		}
		b.WriteByte(']')
	}
	for _, c := range n.Children {
		b.WriteString("(" + dump(c) + ")\n")
	}
	for next := n.Next; next != nil; next = next.Next {
		b.WriteByte(' ')
		if len(next.Children) > 0 {
			b.WriteString(dump(next))
		} else {
			b.WriteString(strconv.Quote(next.Value))
		}
	}
	return strings.TrimSpace(b.String())
}

func readCompat(t *testing.T, sub string) map[string][]byte {
	t.Helper()
	dir := filepath.Join(compatDir, sub)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("reading the compatibility corpus: %v", err)
	}
	files := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		files[e.Name()] = b
	}
	return files
}

func isDockerfileName(name string) bool {
	base := name[strings.LastIndex(name, "__")+2:]
	return strings.Contains(base, "Dockerfile") || strings.Contains(base, "Containerfile") || strings.HasPrefix(base, "Dockerfile")
}

// TestCompatParseTrees checks the parser wiring against buildkit's
// expected parse trees (the __result files).
func TestCompatParseTrees(t *testing.T) {
	files := readCompat(t, "dockerfile")
	n := 0
	for name, want := range files {
		if !strings.HasSuffix(name, "__result") {
			continue
		}
		df := strings.TrimSuffix(name, "result") + "Dockerfile"
		src, ok := files[df]
		if !ok {
			t.Errorf("%s has no Dockerfile beside it", name)
			continue
		}
		n++
		t.Run(df, func(t *testing.T) {
			res, err := parseAST(src)
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			got := dump(res.AST)
			if got != strings.TrimSpace(string(want)) {
				t.Errorf("parse tree differs from %s\n got:\n%s\nwant:\n%s", name, got, want)
			}
			// The plan's instructions are the tree's, line for line.
			p, err := Parse(df, src, ParseOptions{})
			if err != nil {
				t.Logf("plan: %v", err)
				return
			}
			var lines []int
			for _, st := range p.Stages {
				for _, in := range st.Instructions {
					lines = append(lines, in.Pos.Line)
				}
			}
			var astLines []int
			for _, c := range res.AST.Children {
				if strings.EqualFold(c.Value, "arg") && c.StartLine < p.Stages[0].Pos.Line {
					continue
				}
				astLines = append(astLines, c.StartLine)
			}
			if strings.Join(strings.Fields(strconvInts(lines)), ",") != strings.Join(strings.Fields(strconvInts(astLines)), ",") {
				t.Errorf("plan instruction lines %v, parse tree lines %v", lines, astLines)
			}
		})
	}
	if n == 0 {
		t.Fatal("no __result files found")
	}
	t.Logf("parse trees compared: %d", n)
}

func strconvInts(v []int) string {
	var s []string
	for _, i := range v {
		s = append(s, strconv.Itoa(i))
	}
	return strings.Join(s, " ")
}

// negativeDockerfiles are invalid on purpose (INDEX.md marks them NEGATIVE).
var negativeDockerfiles = map[string]string{
	"buildkit__frontend__dockerfile__parser__testfiles-negative__shykes-nested-json__Dockerfile": "",
	"buildah__tests__bud__unrecognized__Dockerfile":                                              "unknown instruction",
}

// compatBuildArgs are the --build-arg values the corpus' own tests pass.
var compatBuildArgs = map[string]map[string]string{
	"buildah__tests__bud__with-arg__Dockerfilefromarg": {"app_type": "alpine", "another_app_type": "alpine"},
}

// compatRejected are the corpus files that do not convert, with why: docker
// rejects them too (invalid on purpose, or only a parser test), or they use
// a feature stack does not support. Any other file must convert.
var compatRejected = map[string]string{
	"buildah__tests__bud__unrecognized__Dockerfile":                                              `:2: unknown instruction "BOGUS"`,
	"buildkit__frontend__dockerfile__parser__testfiles-negative__shykes-nested-json__Dockerfile": ":1: when using JSON array syntax, arrays must be comprised of strings only",
	"buildah__tests__bud__healthcheck__Dockerfile":                                               ":2: HEALTHCHECK --start-interval (the OCI image config stack writes has no field for it): not supported by stack",
	// Parser-only tests of buildkit that no builder accepts as a whole:
	"buildkit__frontend__dockerfile__parser__testfiles__env__Dockerfile":    `:12: ENV name: cannot expand "'a\\'b'": unexpected end of statement while looking for matching single-quote`,
	"buildkit__frontend__dockerfile__parser__testfiles__flags__Dockerfile":  ":3: COPY: unknown flag: --user",
	"buildkit__frontend__dockerfile__parser__testfiles__health__Dockerfile": ":4: HEALTHCHECK: HEALTHCHECK requires at least one argument",
	"buildkit__frontend__dockerfile__parser__testfiles__json__Dockerfile":   ":1: CMD before the first FROM; only ARG may come before FROM",
}

// TestCompatDockerfiles parses and converts every Dockerfile of the
// corpus: each converts, or fails with an error naming its file and line.
func TestCompatDockerfiles(t *testing.T) {
	tally := map[string][]string{}
	for _, sub := range []string{"dockerfile", "compose"} {
		for name, src := range readCompat(t, sub) {
			if !isDockerfileName(name) {
				continue
			}
			t.Run(name, func(t *testing.T) {
				outcome, err := convertAll(name, src, compatBuildArgs[name])
				if want, ok := compatRejected[name]; ok {
					if err == nil || !strings.Contains(err.Error(), name+want) {
						t.Errorf("err = %v, want %q", err, name+want)
					}
				} else if err != nil {
					t.Errorf("does not convert: %v", err)
				}
				if _, neg := negativeDockerfiles[name]; neg {
					if err == nil {
						t.Fatalf("negative file converted")
					}
					outcome = "rejected (negative): " + err.Error()
				}
				if err != nil {
					if !strings.HasPrefix(err.Error(), name+":") {
						t.Errorf("error does not start with %q: %v", name+":", err)
					}
					var located *Error
					if !errors.As(err, &located) || located.Pos.Line == 0 && !strings.Contains(err.Error(), "no FROM") {
						t.Errorf("error has no line: %v", err)
					}
					if outcome == "" {
						outcome = "rejected: " + err.Error()
					}
				}
				tally[outcome] = append(tally[outcome], name)
			})
		}
	}
	var keys []string
	for k := range tally {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	converted := len(tally["converted"])
	total := 0
	for _, k := range keys {
		total += len(tally[k])
	}
	t.Logf("Dockerfiles: %d total, %d converted, %d rejected", total, converted, total-converted)
	for _, k := range keys {
		if k == "converted" {
			continue
		}
		t.Logf("  %s", k)
	}
}

// convertAll parses a Dockerfile and converts every stage of the plan in
// order, each over its base stage's result (images: an empty config).
func convertAll(name string, src []byte, args map[string]string) (string, error) {
	p, err := Parse(name, src, ParseOptions{BuildArgs: args})
	if err != nil {
		return "", err
	}
	results := map[*Stage]*Result{}
	for _, st := range p.Build {
		var base = results[st.BaseStage]
		var cfgBase = emptyBase()
		if st.BaseStage != nil {
			cfgBase = base.Image()
		} else if st.Scratch() {
			cfgBase = nil
		}
		r, err := p.Convert(st, cfgBase)
		if err != nil {
			return "", err
		}
		results[st] = r
	}
	return "converted", nil
}

// TestCompatInlineDockerfiles parses and converts the dockerfile_inline
// builds of the corpus' compose files, after compose's "$$" unescaping.
func TestCompatInlineDockerfiles(t *testing.T) {
	n := 0
	for name, src := range readCompat(t, "compose") {
		if !strings.HasSuffix(name, ".yaml") {
			continue
		}
		var doc struct {
			Services map[string]struct {
				Build any `yaml:"build"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(src, &doc); err != nil {
			continue // the compose loader's tests report broken files
		}
		for svc, s := range doc.Services {
			b, ok := s.Build.(map[string]any)
			if !ok {
				continue
			}
			inline, ok := b["dockerfile_inline"].(string)
			if !ok {
				continue
			}
			args := map[string]string{}
			if m, ok := b["args"].(map[string]any); ok {
				for k, v := range m {
					args[k] = fmt.Sprint(v)
				}
			}
			n++
			file := name + ":services." + svc + ".build.dockerfile_inline"
			t.Run(file, func(t *testing.T) {
				if _, err := convertAll(file, []byte(strings.ReplaceAll(inline, "$$", "$")), args); err != nil {
					t.Errorf("does not convert: %v", err)
				}
			})
		}
	}
	if n == 0 {
		t.Fatal("no dockerfile_inline found in the corpus")
	}
	t.Logf("inline Dockerfiles converted: %d", n)
}
