package spec

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// compatDir is the shared corpus of real compose files, relative to spec/.
// compatDir is the copy of the shared corpus kept in the repository (testdata/README.md).
const compatDir = "../testdata/compat/compose"

// negativeCompat reads INDEX.md and returns the compose files it says are
// invalid on purpose (NEGATIVE, "must be a validation error", and the
// "Invalid on purpose" list).
func negativeCompat(t *testing.T) map[string]bool {
	data, err := os.ReadFile(filepath.Join(compatDir, "..", "INDEX.md"))
	if err != nil {
		t.Fatalf("reading the corpus index: %v", err)
	}
	names := regexp.MustCompile("`([^`]+\\.yaml)`")
	out := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.HasPrefix(line, "|") && (strings.Contains(line, "NEGATIVE") || strings.Contains(line, "must be a validation error")):
			if m := names.FindStringSubmatch(line); m != nil {
				out[m[1]] = true
			}
		case strings.HasPrefix(line, "* Invalid on purpose"):
			for _, m := range names.FindAllStringSubmatch(line, -1) {
				out[m[1]] = true
			}
		}
	}
	return out
}

// TestCompatCorpus loads every compose file of the shared corpus: each
// either loads, or fails with diagnostics that all name the file, a line and
// a YAML path; never a panic. The files the index marks as invalid must fail.
func TestCompatCorpus(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(compatDir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no compose files in %s (the corpus copy is missing: see testdata/README.md)", compatDir)
	}
	negative := negativeCompat(t)
	var loaded, rejected []string
	reasons := map[string]int{}
	for _, f := range files {
		base := filepath.Base(f)
		st, err := loadNoPanic(t, f)
		if err == nil {
			if negative[base] {
				t.Errorf("%s: loads, but the corpus index marks it invalid", base)
			}
			if len(st.Services) == 0 {
				t.Errorf("%s: loads with no services", base)
			}
			loaded = append(loaded, base)
			continue
		}
		var serr *Error
		if !errors.As(err, &serr) {
			t.Errorf("%s: error without positions: %v", base, err)
			continue
		}
		n := 0
		for _, d := range serr.Diagnostics {
			if d.Severity != SevError {
				continue
			}
			n++
			if d.Pos.File == "" || d.Pos.Line == 0 || d.Pos.Col == 0 {
				t.Errorf("%s: diagnostic without a position: %s", base, d)
			}
			if !strings.HasPrefix(d.Pos.File, filepath.Dir(f)) {
				t.Errorf("%s: diagnostic names another file: %s", base, d)
			}
			if d.Path == "" && !strings.HasPrefix(d.Message, "invalid YAML") {
				t.Errorf("%s: diagnostic without a YAML path: %s", base, d)
			}
			reasons[reason(d)]++
		}
		if n == 0 {
			t.Errorf("%s: *Error without an error diagnostic", base)
		}
		rejected = append(rejected, fmt.Sprintf("%s (%d)", base, n))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "compat corpus: %d files, %d loaded, %d rejected\n", len(files), len(loaded), len(rejected))
	fmt.Fprintf(&b, "loaded:\n  %s\n", strings.Join(loaded, "\n  "))
	fmt.Fprintf(&b, "rejected (errors):\n  %s\n", strings.Join(rejected, "\n  "))
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if reasons[keys[i]] != reasons[keys[j]] {
			return reasons[keys[i]] > reasons[keys[j]]
		}
		return keys[i] < keys[j]
	})
	b.WriteString("reasons:\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "  %3d  %s\n", reasons[k], k)
	}
	t.Log(b.String())
}

// reason groups a diagnostic for the tally: the field for "not supported"
// (service names replaced by *), else the message without quoted values.
func reason(d Diagnostic) string {
	parts := strings.Split(d.Path, ".")
	if len(parts) > 1 && (parts[0] == "services" || parts[0] == "networks" || parts[0] == "volumes" || parts[0] == "configs" || parts[0] == "secrets") {
		parts[1] = "*"
	}
	p := regexp.MustCompile(`\[\d+\]`).ReplaceAllString(strings.Join(parts, "."), "[]")
	msg := regexp.MustCompile(`"[^"]*"`).ReplaceAllString(d.Message, "…")
	if strings.HasPrefix(msg, "not supported") {
		return p + ": not supported"
	}
	return p + ": " + msg
}

func loadNoPanic(t *testing.T, f string) (st *Stack, err error) {
	defer func() {
		if r := recover(); r != nil {
			t.Errorf("%s: panic: %v", filepath.Base(f), r)
			err = fmt.Errorf("panic")
		}
	}()
	return Load(LoadOptions{Files: []string{f}, Env: map[string]string{"HOME": "/home/user"}})
}
