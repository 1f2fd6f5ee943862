package stack_test

// This test enforces STYLE.md §2: imports point one way. It runs `go list
// -deps` for each package and fails with the import chain when a package
// reaches something it must not, transitive imports included.

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/stack-dev/stack"

type listedPkg struct {
	ImportPath string
	Imports    []string
}

// rules: package (and its subpackages unless listed on their own) → forbidden import prefixes.
var rules = []struct {
	pkg    string
	banned []string
}{
	{"spec", []string{module + "/", "golang.org/x/sys", "github.com/vishvananda", "github.com/google/go-containerregistry", "github.com/moby/buildkit", "github.com/google/nftables", "github.com/spf13/cobra"}},
	{"planner", []string{module + "/executor", module + "/build", module + "/netplan", module + "/layers", module + "/cmd", "golang.org/x/sys", "github.com/vishvananda", "github.com/google/go-containerregistry", "github.com/moby/buildkit", "github.com/google/nftables", "github.com/spf13/cobra"}},
	{"build", []string{module + "/planner", module + "/executor", module + "/spec", module + "/netplan", module + "/cmd"}},
	{"netplan", []string{module + "/spec", module + "/planner", module + "/build", module + "/executor", module + "/layers", module + "/cmd", "github.com/moby/buildkit"}},
	{"layers", []string{module + "/spec", module + "/planner", module + "/build", module + "/executor", module + "/netplan", module + "/cmd", "github.com/moby/buildkit"}},
	{"executor/container", []string{module + "/spec", module + "/planner", module + "/build", module + "/netplan", module + "/layers", module + "/cmd", "github.com/moby/buildkit"}},
	{"executor/cgroups", []string{module + "/spec", module + "/planner", module + "/build", module + "/netplan", module + "/layers", module + "/cmd", "github.com/moby/buildkit"}},
	{"executor/nsenter", []string{module + "/spec", module + "/planner", module + "/build", module + "/netplan", module + "/layers", module + "/cmd"}},
	{"executor", []string{module + "/cmd"}},
}

// Only build may import buildkit itself (it drags protobuf): others reach it
// through build, never directly.
func TestBuildkitOnlyInBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p listedPkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		if p.ImportPath == module+"/build" || strings.HasPrefix(p.ImportPath, module+"/build/") {
			continue
		}
		for _, imp := range p.Imports {
			if strings.HasPrefix(imp, "github.com/moby/buildkit") {
				t.Errorf("%s imports %s directly: only build may", p.ImportPath, imp)
			}
		}
	}
}

func TestDependencyDirection(t *testing.T) {
	for _, r := range rules {
		t.Run(r.pkg, func(t *testing.T) {
			path := module + "/" + r.pkg
			out, err := exec.Command("go", "list", "-deps", "-json", "./"+r.pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", r.pkg, err)
			}
			pkgs := map[string]listedPkg{}
			dec := json.NewDecoder(strings.NewReader(string(out)))
			for dec.More() {
				var p listedPkg
				if err := dec.Decode(&p); err != nil {
					t.Fatal(err)
				}
				pkgs[p.ImportPath] = p
			}
			// Breadth-first from the package, remembering how each import was reached.
			parent := map[string]string{path: ""}
			queue := []string{path}
			for len(queue) > 0 {
				cur := queue[0]
				queue = queue[1:]
				for _, imp := range pkgs[cur].Imports {
					if _, seen := parent[imp]; seen {
						continue
					}
					parent[imp] = cur
					queue = append(queue, imp)
					for _, b := range r.banned {
						if strings.HasPrefix(imp, b) || imp == strings.TrimSuffix(b, "/") {
							t.Errorf("%s must not import %s; chain: %s", r.pkg, b, chain(parent, imp))
						}
					}
				}
			}
		})
	}
}

func chain(parent map[string]string, p string) string {
	var parts []string
	for ; p != ""; p = parent[p] {
		parts = append([]string{strings.TrimPrefix(p, module+"/")}, parts...)
	}
	return strings.Join(parts, " → ")
}
