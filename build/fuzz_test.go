package build

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParse: no input makes Parse or Convert panic, and every error names
// the file.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*/Dockerfile")
	for _, s := range seeds {
		if b, err := os.ReadFile(s); err == nil {
			f.Add(string(b))
		}
	}
	for _, s := range []string{
		"FROM busybox\nRUN echo hi\n",
		"ARG A=${B:-x}\nFROM $A AS s\nCOPY --from=s / /\n",
		"FROM scratch\nCOPY <<EOF /x\n$A\nEOF\n",
		"# escape=`\nFROM a\nENV x=`\n y\n",
		"FROM a\nONBUILD ONBUILD RUN x\n",
		"FROM a\nHEALTHCHECK --retries=-1 CMD x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		p, err := Parse("Fuzzfile", []byte(src), ParseOptions{Target: ""})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "Fuzzfile") {
				t.Fatalf("error without the file name: %v", err)
			}
			return
		}
		if _, err := convertPlan(p, emptyBase()); err != nil && !strings.HasPrefix(err.Error(), "Fuzzfile") {
			t.Fatalf("convert error without the file name: %v", err)
		}
	})
}

func BenchmarkParseConvert(b *testing.B) {
	src, err := os.ReadFile("testdata/multistage/Dockerfile")
	if err != nil {
		b.Fatal(err)
	}
	opts := ParseOptions{Target: "final"}
	b.ReportAllocs()
	for b.Loop() {
		p, err := Parse("Dockerfile", src, opts)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := convertPlan(p, emptyBase()); err != nil {
			b.Fatal(err)
		}
	}
}
