package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-dev/stack/layers"
)

// TestBuildCommand builds from scratch with COPY only (no container):
// output, cache lines, -q, --label, builder prune.
func TestBuildCommand(t *testing.T) {
	root := t.TempDir()
	dir := t.TempDir()
	for name, data := range map[string]string{
		"Dockerfile": "FROM scratch\nCOPY a /a\nCOPY --chmod=600 b /b\nLABEL x=y\n",
		"a":          "a\n",
		"b":          "b\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out, errOut, code := runStack(t, "--root", root, "build", "-t", "img:1", "--label", "k=v", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("stdout %q, want the image ID", out)
	}
	for _, want := range []string{"[1/5] FROM scratch\n", "[2/5] COPY a /a ", "[5/5] LABEL k=\"v\" ", "(4 steps, 0 cached)", "tagged img:1\n"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	store, err := layers.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Image("img:1")
	if err != nil || img.ID != id {
		t.Fatalf("img:1: %v", err)
	}
	if l := img.Config.Config.Labels; l["x"] != "y" || l["k"] != "v" {
		t.Errorf("labels %v", l)
	}

	out, errOut, code = runStack(t, "--root", root, "build", "-t", "img:1", "--label", "k=v", dir)
	if code != 0 || strings.TrimSpace(out) != id {
		t.Fatalf("second build: exit %d, %q: %s", code, out, errOut)
	}
	for _, want := range []string{"[2/5] COPY a /a CACHED\n", "[3/5] COPY --chmod=600 b /b CACHED\n", "(4 steps, 4 cached)"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("cached build: stderr lacks %q:\n%s", want, errOut)
		}
	}
	out, errOut, code = runStack(t, "--root", root, "build", "-q", "--no-cache", "-t", "img:2", dir)
	if code != 0 || errOut != "" || !strings.HasPrefix(out, "sha256:") || strings.Count(out, "\n") != 1 {
		t.Errorf("-q: exit %d, stdout %q, stderr %q", code, out, errOut)
	}

	out, errOut, code = runStack(t, "--root", root, "builder", "prune")
	if code != 0 || !strings.Contains(out, "removed ") || !strings.Contains(out, " intermediate images") {
		t.Errorf("builder prune: exit %d, %q, %q", code, out, errOut)
	}
	if _, err := store.Image("img:1"); err != nil {
		t.Errorf("prune removed a tagged image: %v", err)
	}

	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY nosuch /x\n"), 0o644)
	_, errOut, code = runStack(t, "--root", root, "build", dir)
	if code != 1 || !strings.Contains(errOut, "Dockerfile:2: COPY nosuch: not found in the build context") {
		t.Errorf("missing source: exit %d: %s", code, errOut)
	}
}
