package spec

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden/errors/*/errors.golden")

// goldenEnv is the environment every golden case is loaded with.
var goldenEnv = map[string]string{"HOME": "/home/user", "TAG": "1.0"}

// TestGoldenErrors loads golden/errors/<case>/stack.yaml (with the other
// files of the case dir available for include, extends, env_file) and
// compares every diagnostic with errors.golden. File names in the output
// are relative to the case dir.
func TestGoldenErrors(t *testing.T) {
	dirs, err := filepath.Glob("../golden/errors/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 30 {
		t.Errorf("golden/errors has %d cases, want at least 30", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			got := goldenErrors(t, dir)
			path := filepath.Join(dir, "errors.golden")
			if *update {
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test ./spec -run Golden -update)", err)
			}
			if got != string(want) {
				t.Errorf("%s mismatch (-want +got):\n%s", path, lineDiff(string(want), got))
			}
		})
	}
}

func goldenErrors(t *testing.T, dir string) string {
	t.Helper()
	opts := LoadOptions{Files: []string{filepath.Join(dir, "stack.yaml")}, Env: goldenEnv}
	if data, err := os.ReadFile(filepath.Join(dir, "options")); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			k, v, _ := strings.Cut(l, "=")
			switch k {
			case "loose":
				opts.Loose = true
			case "profile":
				opts.Profiles = append(opts.Profiles, v)
			case "service":
				opts.Services = append(opts.Services, v)
			}
		}
	}
	st, err := Load(opts)
	var out string
	var serr *Error
	switch {
	case errors.As(err, &serr):
		out = serr.Error() + "\n"
	case err != nil:
		t.Fatalf("want a *spec.Error, got %v", err)
	default:
		if !opts.Loose {
			t.Fatalf("the case loads without error")
		}
		var b strings.Builder
		for _, w := range st.Warnings {
			b.WriteString(w.String())
			b.WriteByte('\n')
		}
		out = b.String()
	}
	for _, d := range append(serr.diagnostics(), warningsOf(st)...) {
		if d.Pos.Line == 0 || d.Pos.File == "" || d.Path == "" && !strings.HasPrefix(d.Message, "invalid YAML") && !strings.HasPrefix(d.Message, "the file is empty") && !strings.HasPrefix(d.Message, "a stack file") {
			t.Errorf("diagnostic without a position or path: %s", d)
		}
	}
	return strings.ReplaceAll(out, dir+string(filepath.Separator), "")
}

func (e *Error) diagnostics() []Diagnostic {
	if e == nil {
		return nil
	}
	return e.Diagnostics
}

func warningsOf(st *Stack) []Diagnostic {
	if st == nil {
		return nil
	}
	return st.Warnings
}

// lineDiff is a small line-based diff (longest common subsequence) for
// golden mismatches: "-" lines are wanted, "+" lines are got.
func lineDiff(want, got string) string {
	a := strings.Split(want, "\n")
	b := strings.Split(got, "\n")
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	var out strings.Builder
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case i < len(a) && j < len(b) && a[i] == b[j]:
			out.WriteString("  " + a[i] + "\n")
			i++
			j++
		case j < len(b) && (i == len(a) || lcs[i][j+1] >= lcs[i+1][j]):
			out.WriteString("+ " + b[j] + "\n")
			j++
		default:
			out.WriteString("- " + a[i] + "\n")
			i++
		}
	}
	return out.String()
}
