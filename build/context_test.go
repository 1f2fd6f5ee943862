package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// writeTree creates files (content by relative path; a value ending in
// "/" makes a directory, one starting with "->" a symlink) under a new
// temporary directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasSuffix(content, "/"):
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case strings.HasPrefix(content, "->"):
			if err := os.Symlink(strings.TrimPrefix(content, "->"), p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func TestContextMatch(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".dockerignore":       "*.log\nsecret/\nbuild/*\n!build/keep.txt\n",
		"Dockerfile":          "FROM busybox\n",
		"main.go":             "package main",
		"util.go":             "package main",
		"app.log":             "noise",
		"src/a.go":            "a",
		"src/b.txt":           "b",
		"src/deep/c.go":       "c",
		"secret/key":          "k",
		"build/out.bin":       "x",
		"build/keep.txt":      "kept",
		"link":                "->src/a.go",
		"dir with space/f.go": "f",
	})
	c, err := OpenContext(dir, filepath.Join(dir, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		sources []string
		want    []string
		err     string
	}{
		{sources: []string{"main.go"}, want: []string{"main.go"}},
		{sources: []string{"/main.go", "./util.go"}, want: []string{"main.go", "util.go"}},
		{sources: []string{"*.go"}, want: []string{"main.go", "util.go"}},
		{sources: []string{"src/*.go"}, want: []string{"src/a.go"}},
		{sources: []string{"src/*", "src/a.go"}, want: []string{"src/a.go", "src/b.txt", "src/deep"}},
		{sources: []string{"."}, want: []string{"."}},
		{sources: []string{"../../etc/passwd"}, err: "etc/passwd: not found in the build context"},
		{sources: []string{"src"}, want: []string{"src"}},
		{sources: []string{"link"}, want: []string{"link"}},
		{sources: []string{"dir with space/f.go"}, want: []string{"dir with space/f.go"}},
		{sources: []string{"build/*"}, want: []string{"build/keep.txt"}},
		{sources: []string{"app.log"}, err: "app.log: excluded by .dockerignore"},
		{sources: []string{"secret/key"}, err: "secret/key: excluded by .dockerignore"},
		{sources: []string{"missing"}, err: "missing: not found in the build context"},
		{sources: []string{"*.nope"}, err: "*.nope: no file in the build context matches"},
		{sources: []string{"[a"}, err: "[a: bad pattern"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.sources, ","), func(t *testing.T) {
			got, err := c.Match(tt.sources)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match (-want +got):\n%s", diff)
			}
		})
	}
}

func TestContextDigest(t *testing.T) {
	files := map[string]string{
		".dockerignore": "**/*.log\n", // "*.log" would match at the root only, as in docker
		"a.txt":         "alpha",
		"b.txt":         "beta",
		"d/x":           "x",
		"d/y.log":       "ignored",
		"d/sub/z":       "z",
	}
	dir := writeTree(t, files)
	c, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	digest := func(paths ...string) string {
		t.Helper()
		d, err := c.Digest(paths)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	file, dirD, multi := digest("a.txt"), digest("d"), digest("a.txt", "b.txt")
	for _, tc := range []struct{ got, prefix string }{{file, "file:"}, {dirD, "dir:"}, {multi, "multi:"}} {
		if !strings.HasPrefix(tc.got, tc.prefix) || len(tc.got) != len(tc.prefix)+64 {
			t.Errorf("digest %q does not have the form %s<hex>", tc.got, tc.prefix)
		}
	}
	all, err := c.DigestAll()
	if err != nil {
		t.Fatal(err)
	}

	// Touching files changes nothing.
	future := time.Now().Add(time.Hour)
	for _, n := range []string{"a.txt", "d/x"} {
		if err := os.Chtimes(filepath.Join(dir, n), future, future); err != nil {
			t.Fatal(err)
		}
	}
	if digest("a.txt") != file || digest("d") != dirD {
		t.Error("touching files changed their digest")
	}
	// An ignored file changes nothing.
	if err := os.WriteFile(filepath.Join(dir, "d/y.log"), []byte("more noise"), 0o644); err != nil {
		t.Fatal(err)
	}
	if digest("d") != dirD {
		t.Error("an ignored file changed the digest")
	}
	if got, _ := c.DigestAll(); got != all {
		t.Error("an ignored file changed DigestAll")
	}
	// Content, mode and names do.
	if err := os.WriteFile(filepath.Join(dir, "d/sub/z"), []byte("Z"), 0o644); err != nil {
		t.Fatal(err)
	}
	if digest("d") == dirD {
		t.Error("a changed file did not change the directory digest")
	}
	if got, _ := c.DigestAll(); got == all {
		t.Error("a changed file did not change DigestAll")
	}
	if err := os.Chmod(filepath.Join(dir, "a.txt"), 0o755); err != nil {
		t.Fatal(err)
	}
	if digest("a.txt") == file {
		t.Error("a mode change did not change the digest")
	}
	if err := os.Rename(filepath.Join(dir, "b.txt"), filepath.Join(dir, "c.txt")); err != nil {
		t.Fatal(err)
	}
	if d, _ := c.Digest([]string{"a.txt", "c.txt"}); d == multi {
		t.Error("a renamed file did not change the digest")
	}
}

func TestContextDockerfileIgnore(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".dockerignore":               "a.txt\n",
		"app.Dockerfile":              "FROM busybox\n",
		"app.Dockerfile.dockerignore": "b.txt\n",
		"a.txt":                       "a",
		"b.txt":                       "b",
	})
	c, err := OpenContext(dir, filepath.Join(dir, "app.Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Match([]string{"a.txt"}); err != nil {
		t.Errorf("a.txt excluded although app.Dockerfile.dockerignore replaces .dockerignore: %v", err)
	}
	if _, err := c.Match([]string{"b.txt"}); err == nil {
		t.Error("b.txt not excluded by app.Dockerfile.dockerignore")
	}
	if _, err := OpenContext(filepath.Join(dir, "nope"), ""); err == nil {
		t.Error("a missing context opened")
	}
}
