package build

import (
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestCacheKey(t *testing.T) {
	k := CacheKey("sha256:parent", `{"Cmd":"RUN"}`, "")
	if !strings.HasPrefix(k, "sha256:") || len(k) != len("sha256:")+64 {
		t.Fatalf("key %q is not a sha256 digest", k)
	}
	if k != CacheKey("sha256:parent", `{"Cmd":"RUN"}`, "") {
		t.Error("key is not deterministic")
	}
	distinct := map[string][3]string{}
	for _, in := range [][3]string{
		{"sha256:parent", "text", ""},
		{"sha256:other", "text", ""},
		{"sha256:parent", "text2", ""},
		{"sha256:parent", "text", "sha256:content"},
		{"sha256:parent", "text", "sha256:content2"},
		{"", "text", ""},
		// Moving bytes between parts changes the key (length prefixes).
		{"sha256:paren", "ttext", ""},
		{"sha256:parent", "tex", "t"},
	} {
		k := CacheKey(in[0], in[1], in[2])
		if prev, dup := distinct[k]; dup {
			t.Errorf("CacheKey%q == CacheKey%q", in, prev)
		}
		distinct[k] = in
	}
}

// The cache text of a step changes with everything that changes its
// effect, and only with that.
func TestStepCacheText(t *testing.T) {
	text := func(src string, args map[string]string) []string {
		t.Helper()
		_, r := build(t, src, ParseOptions{BuildArgs: args}, busybox())
		var out []string
		for _, s := range r.Steps {
			if s.Layer() {
				out = append(out, s.CacheText)
			}
		}
		return out
	}
	base := text("FROM busybox\nENV A=1\nRUN echo $A\nCOPY f /f\n", nil)
	same := text("FROM busybox\nENV A=1\nLABEL x=y\nRUN echo $A\nCOPY f /f\n", nil)
	if base[0] != same[0] || base[1] != same[1] {
		t.Errorf("a LABEL changed the cache text of later steps:\n%q\n%q", base, same)
	}
	for name, src := range map[string]string{
		"ENV value":    "FROM busybox\nENV A=2\nRUN echo $A\nCOPY f /f\n",
		"USER":         "FROM busybox\nENV A=1\nUSER nobody\nRUN echo $A\nCOPY f /f\n",
		"command":      "FROM busybox\nENV A=1\nRUN echo  $A\nCOPY f /f\n",
		"COPY --chmod": "FROM busybox\nENV A=1\nRUN echo $A\nCOPY --chmod=600 f /f\n",
	} {
		got := text(src, nil)
		if got[0] == base[0] && got[1] == base[1] {
			t.Errorf("%s: cache text unchanged: %q", name, got)
		}
	}
	withArg := text("FROM busybox\nARG V=1\nRUN echo hi\n", nil)
	withOtherArg := text("FROM busybox\nARG V=1\nRUN echo hi\n", map[string]string{"V": "2"})
	if withArg[0] == withOtherArg[0] {
		t.Errorf("a build arg value does not change the RUN cache text")
	}
}

func TestSetContentDigest(t *testing.T) {
	_, r := build(t, "FROM busybox\nWORKDIR /app\nADD f.txt .\n", ParseOptions{}, busybox())
	s := r.Steps[1]
	s.SetContentDigest("file:0123")
	if want := "/bin/sh -c #(nop) ADD file:0123 in . "; s.History.CreatedBy != want {
		t.Errorf("CreatedBy = %q, want %q", s.History.CreatedBy, want)
	}
	if s.Copy.Dest != "/app/" {
		t.Errorf("Dest = %q, want /app/", s.Copy.Dest)
	}
	if h := r.Image().History; h[len(h)-1].CreatedBy != s.History.CreatedBy {
		t.Errorf("Image() does not carry the digest: %v", h)
	}
	var cfg v1.ConfigFile = *r.Config
	if len(cfg.History) != 1 {
		t.Errorf("Result.Config.History should hold the base history only: %v", cfg.History)
	}
}
