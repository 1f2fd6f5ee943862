package planner

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/stack-dev/stack/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files (golden/plan/*/plan.golden, observed.yaml from applied files)")

const goldenDir = "../golden/plan"

// projectDirVar stands for the case's directory in observed.yaml, so that
// the files do not depend on where the checkout is.
const projectDirVar = "$PROJECT_DIR"

// goldenCase is golden/plan/<case>/case.yaml; every field is optional.
type goldenCase struct {
	// Files are the stack files, in -f order (default: stack.yaml).
	Files []string `yaml:"files"`
	// Env is the whole environment the loader sees (never the test's own).
	Env      map[string]string `yaml:"env"`
	Profiles []string          `yaml:"profiles"`
	// Plan options.
	Services      []string `yaml:"services"`
	NoDeps        bool     `yaml:"no_deps"`
	ForceRecreate bool     `yaml:"force_recreate"`
	NoRecreate    bool     `yaml:"no_recreate"`
	// Applied are the stack files as they were at the last `up`: the
	// observed state (observed.yaml) is what applying them to an empty host
	// records, then Drift. Without Applied, observed.yaml is written by hand
	// (or absent: nothing exists).
	Applied []string `yaml:"applied"`
	Drift   drift    `yaml:"drift"`
	// JSON also compares the JSON rendering with plan.json.golden.
	JSON bool `yaml:"json"`
}

// drift is what happened on the host after the last `up`.
type drift struct {
	Status        map[string]ContainerStatus `yaml:"status"`    // container name → status
	ExitCode      map[string]int             `yaml:"exit_code"` // container name → exit code
	BridgeMissing []string                   `yaml:"bridge_missing"`
	RulesMissing  []string                   `yaml:"rules_missing"`
	RemoveImages  []string                   `yaml:"remove_images"`
	// OldHash marks every container's hash as made by an older algorithm
	// version ("v0:..."), with a value the current one never makes.
	OldHash bool `yaml:"old_hash"`
}

func readCase(t *testing.T, dir string) goldenCase {
	t.Helper()
	var c goldenCase
	data, err := os.ReadFile(filepath.Join(dir, "case.yaml"))
	if os.IsNotExist(err) {
		return c
	}
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("case.yaml: %v", err)
	}
	return c
}

func loadCase(dir string, c goldenCase, files []string) (*spec.Stack, error) {
	var paths []string
	for _, f := range files {
		paths = append(paths, filepath.Join(dir, f))
	}
	env := c.Env
	if env == nil {
		env = map[string]string{}
	}
	return spec.Load(spec.LoadOptions{
		Files:      paths,
		ProjectDir: dir,
		Profiles:   c.Profiles,
		Services:   c.Services,
		Env:        env,
	})
}

// observedFromApplied is the state after `up` of the applied files, with drift.
func observedFromApplied(t *testing.T, dir string, c goldenCase) []byte {
	t.Helper()
	ac := c
	ac.Services = nil
	st, err := loadCase(dir, ac, c.Applied)
	if err != nil {
		t.Fatalf("loading applied files: %v", err)
	}
	p, err := Diff(st, nil, Options{})
	if err != nil {
		t.Fatalf("planning applied files: %v", err)
	}
	obs := Apply(nil, p, st)
	for _, ctr := range obs.Containers {
		// The hash covers absolute paths (bind mounts): recorded without
		// it, it is recomputed from the snapshot, wherever the checkout is.
		ctr.ConfigHash = ""
		if s, ok := c.Drift.Status[ctr.Name]; ok {
			ctr.Status = s
		}
		if code, ok := c.Drift.ExitCode[ctr.Name]; ok {
			ctr.ExitCode = code
		}
		if c.Drift.OldHash {
			ctr.ConfigHash = "v0:" + strings.Repeat("0", 16)
		}
	}
	for _, k := range c.Drift.BridgeMissing {
		obs.Networks[k].BridgeMissing = true
	}
	for _, k := range c.Drift.RulesMissing {
		obs.Networks[k].RulesMissing = true
	}
	for _, k := range c.Drift.RemoveImages {
		delete(obs.Images, k)
	}
	var buf bytes.Buffer
	buf.WriteString("# Generated from case.yaml (applied + drift) by `go test ./planner -run Golden -update`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(obs); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(buf.Bytes(), []byte(dir), []byte(projectDirVar))
}

func TestGolden(t *testing.T) {
	entries, err := os.ReadDir(goldenDir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	if len(names) < 25 {
		t.Errorf("%d golden plan cases, want at least 25", len(names))
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			// Absolute paths, so that positions are made relative to the
			// project directory as for any user; the directory itself is
			// cut from load messages.
			dir, err := filepath.Abs(filepath.Join(goldenDir, name))
			if err != nil {
				t.Fatal(err)
			}
			c := readCase(t, dir)
			files := c.Files
			if len(files) == 0 {
				files = []string{"stack.yaml"}
			}
			obsPath := filepath.Join(dir, "observed.yaml")
			if len(c.Applied) > 0 {
				checkGolden(t, obsPath, observedFromApplied(t, dir, c))
			}
			obs := &Observed{}
			if data, err := os.ReadFile(obsPath); err == nil {
				data = bytes.ReplaceAll(data, []byte(projectDirVar), []byte(dir))
				if obs, err = ParseObserved(data); err != nil {
					t.Fatal(err)
				}
			} else if !os.IsNotExist(err) {
				t.Fatal(err)
			}
			opts := Options{ForceRecreate: c.ForceRecreate, NoRecreate: c.NoRecreate, Services: c.Services, NoDeps: c.NoDeps}
			var got bytes.Buffer
			st, err := loadCase(dir, c, files)
			var plan *Plan
			if err == nil {
				for _, w := range st.Warnings {
					got.WriteString("warning: " + w.String() + "\n")
				}
				plan, err = Diff(st, obs, opts)
			}
			if err != nil {
				got.WriteString("error: " + err.Error() + "\n")
			} else {
				got.WriteString(plan.String())
			}
			text := bytes.ReplaceAll(got.Bytes(), []byte(dir+string(filepath.Separator)), nil)
			checkGolden(t, filepath.Join(dir, "plan.golden"), text)
			if plan == nil {
				return
			}
			if c.JSON {
				var js bytes.Buffer
				if err := plan.WriteJSON(&js); err != nil {
					t.Fatal(err)
				}
				checkGolden(t, filepath.Join(dir, "plan.json.golden"), js.Bytes())
			}
			// The property: applying the plan, then planning again, changes nothing.
			after := Apply(obs, plan, st)
			opts.ForceRecreate = false // forcing recreates every time
			again, err := Diff(st, after, opts)
			if err != nil {
				t.Fatalf("planning after apply: %v", err)
			}
			if !again.Empty() {
				t.Errorf("planning after applying the plan is not empty:\n%s", again)
			}
		})
	}
}

// checkGolden compares got with the file, or rewrites it under -update.
func checkGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./planner -run Golden -update)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs (-want +got; rewrite with -update):\n%s", path, unifiedDiff(string(want), string(got)))
	}
}
