package build

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// goldenImage is what a golden file records of a build: each stage's
// steps, and the target's final image config with its history.
type goldenImage struct {
	Build  []string          `json:"build"`
	Steps  []goldenStep      `json:"steps"`
	Image  json.RawMessage   `json:"image"`
	Unused []string          `json:"unused_build_args,omitempty"`
	Args   map[string]string `json:"-"`
}

type goldenStep struct {
	Stage string    `json:"stage"`
	Line  int       `json:"line"`
	Cmd   string    `json:"cmd"`
	Run   *RunStep  `json:"run,omitempty"`
	Copy  *goldCopy `json:"copy,omitempty"`
	Mkdir string    `json:"mkdir,omitempty"`
}

type goldCopy struct {
	Add       bool         `json:"add,omitempty"`
	Sources   []string     `json:"sources,omitempty"`
	Inline    []InlineFile `json:"inline,omitempty"`
	Dest      string       `json:"dest"`
	Chown     string       `json:"chown,omitempty"`
	Chmod     string       `json:"chmod,omitempty"`
	FromStage string       `json:"from_stage,omitempty"`
	FromImage string       `json:"from_image,omitempty"`
}

// TestGolden builds every testdata/<case>/Dockerfile (build args in
// build-args, one K=V a line; target in target) over a busybox-like base
// and compares the steps and the final image with testdata/<case>/image.json.
// `go test ./build -run Golden -update` rewrites them.
func TestGolden(t *testing.T) {
	dirs, err := filepath.Glob("testdata/*/Dockerfile")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, df := range dirs {
		dir := filepath.Dir(df)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			src, err := os.ReadFile(df)
			if err != nil {
				t.Fatal(err)
			}
			opts := ParseOptions{Platform: Platform{OS: "linux", Arch: "amd64"}, BuildArgs: map[string]string{}}
			if b, err := os.ReadFile(filepath.Join(dir, "build-args")); err == nil {
				for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
					k, v, _ := strings.Cut(line, "=")
					opts.BuildArgs[k] = v
				}
			}
			if b, err := os.ReadFile(filepath.Join(dir, "target")); err == nil {
				opts.Target = strings.TrimSpace(string(b))
			}
			got, err := goldenBuild(src, opts)
			if err != nil {
				got = []byte("error: " + err.Error() + "\n")
			}
			path := filepath.Join(dir, "image.json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), string(got)); diff != "" {
				t.Errorf("%s (-want +got):\n%s", path, diff)
			}
		})
	}
}

func goldenBuild(src []byte, opts ParseOptions) ([]byte, error) {
	p, err := Parse("Dockerfile", src, opts)
	if err != nil {
		return nil, err
	}
	g := goldenImage{Unused: p.UnusedBuildArgs}
	results := map[*Stage]*Result{}
	for _, st := range p.Build {
		g.Build = append(g.Build, st.DisplayName()+" FROM "+st.Base)
		base := emptyBase()
		switch {
		case st.BaseStage != nil:
			base = results[st.BaseStage].Image()
		case st.Scratch():
			base = nil
		}
		r, err := p.Convert(st, base)
		if err != nil {
			return nil, err
		}
		results[st] = r
		for _, s := range r.Steps {
			if !s.Layer() {
				continue
			}
			gs := goldenStep{Stage: st.DisplayName(), Line: s.Pos.Line, Cmd: s.Cmd, Run: s.Run, Mkdir: s.Mkdir}
			if c := s.Copy; c != nil {
				s.SetContentDigest("file:" + strings.Repeat("0", 64))
				gc := &goldCopy{Add: c.Add, Sources: c.Sources, Inline: c.Inline, Dest: c.Dest, Chown: c.Chown, Chmod: modeText(c), FromImage: c.FromImage}
				if c.FromStage != nil {
					gc.FromStage = c.FromStage.DisplayName()
				}
				gs.Copy = gc
			}
			g.Steps = append(g.Steps, gs)
		}
	}
	img, err := json.MarshalIndent(results[p.Target].Image(), "  ", "  ")
	if err != nil {
		return nil, err
	}
	g.Image = img
	out, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		return nil, errors.Join(err)
	}
	return append(out, '\n'), nil
}
