package spec

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func testLookup(env map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
}

func TestInterpolate(t *testing.T) {
	env := map[string]string{
		"FOO":   "first",
		"EMPTY": "",
		"B":     "bee",
		"lower": "low",
		"_x1":   "under",
	}
	tests := []struct {
		in    string
		want  string
		unset []string
	}{
		{in: "", want: ""},
		{in: "plain text", want: "plain text"},
		{in: "$FOO", want: "first"},
		{in: "${FOO}", want: "first"},
		{in: "a${FOO}b", want: "afirstb"},
		{in: "$FOO-bar", want: "first-bar"},
		{in: "$FOO.bar", want: "first.bar"},
		{in: "$lower $_x1", want: "low under"},
		{in: "$FOObar", want: "", unset: []string{"FOObar"}},
		{in: "${MISSING}", want: "", unset: []string{"MISSING"}},
		{in: "$MISSING and ${MISSING} and $OTHER", want: " and  and ", unset: []string{"MISSING", "OTHER"}},
		{in: "${EMPTY}", want: ""},
		// defaults
		{in: "${MISSING:-def}", want: "def"},
		{in: "${MISSING-def}", want: "def"},
		{in: "${EMPTY:-def}", want: "def"},
		{in: "${EMPTY-def}", want: ""},
		{in: "${FOO:-def}", want: "first"},
		{in: "${FOO-def}", want: "first"},
		{in: "${MISSING:-}", want: ""},
		{in: "${EMPTY:-/non:-alphanumeric}", want: "/non:-alphanumeric"},
		{in: "${MISSING-a b c}", want: "a b c"},
		{in: "${MISSING-myerror?msg}", want: "myerror?msg"},
		// replacements
		{in: "${FOO:+rep}", want: "rep"},
		{in: "${FOO+rep}", want: "rep"},
		{in: "${EMPTY:+rep}", want: ""},
		{in: "${EMPTY+rep}", want: "rep"},
		{in: "${MISSING:+rep}", want: ""},
		{in: "${MISSING+rep}", want: ""},
		// required, satisfied
		{in: "${FOO:?err}", want: "first"},
		{in: "${FOO?err}", want: "first"},
		{in: "${EMPTY?err}", want: ""},
		{in: "${FOO?bar-baz}", want: "first"},
		// nesting
		{in: "${A:-${B:-x}}", want: "bee"},
		{in: "${A:-${C:-x}}", want: "x"},
		{in: "${A:-${C:-${D:-deep}}}", want: "deep"},
		{in: "ok ${UNSET-$FOO}", want: "ok first"},
		{in: "ok ${UNSET-${FOO} ${FOO}}", want: "ok first first"},
		{in: "ok ${EMPTY+$FOO ${FOO:+second}}", want: "ok first second"},
		{in: "+ok ${UNSET:-${EMPTY-defaultValue}}", want: "+ok "},
		{in: "${A:-${MISSING}}", want: "", unset: []string{"MISSING"}},
		{in: "${FOO:-${NOT_LOOKED_UP}}", want: "first"},
		{in: "${FOO:-${NOT:?not evaluated}}", want: "first"},
		{in: "${A:-a}b}", want: "ab}"},
		{in: "${A:-$${x}}", want: "${x}"},
		{in: "${A:-{x}}", want: "{x}"},
		// escapes and literal dollars
		{in: "$$", want: "$"},
		{in: "$${FOO}", want: "${FOO}"},
		{in: "$$FOO", want: "$FOO"},
		{in: "$$$FOO", want: "$first"},
		{in: "$$$$", want: "$$"},
		{in: "$", want: "$"},
		{in: "a $ string", want: "a $ string"},
		{in: "^REGEX$", want: "^REGEX$"},
		{in: "$}", want: "$}"},
		{in: "$1 $-", want: "$1 $-"},
		{in: "}", want: "}"},
		{in: "price: 5$", want: "price: 5$"},
		{in: "ünï${FOO}cødé", want: "ünïfirstcødé"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, unset, err := Interpolate(tt.in, testLookup(env))
			if err != nil {
				t.Fatalf("Interpolate(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("Interpolate(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if diff := cmp.Diff(tt.unset, unset); diff != "" {
				t.Errorf("unset (-want +got):\n%s", diff)
			}
		})
	}
}

func TestInterpolateErrors(t *testing.T) {
	env := map[string]string{"FOO": "first", "EMPTY": ""}
	tests := []struct {
		in   string
		want string
	}{
		{"${", `offset 0: "${" is not closed`},
		{"abc${", `offset 3: "${" is not closed`},
		{"${FOO", `offset 0: "${" is not closed`},
		{"${FOO:", `offset 0: "${" is not closed`},
		{"${FOO:-abc", `offset 0: "${" is not closed`},
		{"x ${A:-${B:-c}", `offset 2: "${" is not closed`},
		{"x ${A:-${B:-c", `offset 7: "${" is not closed`},
		{"${}", `offset 0: "${" must be followed by a variable name`},
		{"${ }", `offset 0: "${" must be followed by a variable name`},
		{"${ foo}", `offset 0: "${" must be followed by a variable name`},
		{"${1}", `offset 0: "${" must be followed by a variable name`},
		{"ab${foo }", `offset 2: unexpected " " after "${foo"`},
		{"${foo!}", `offset 0: unexpected "!" after "${foo"`},
		{"${foo:}", `offset 0: unexpected ":}" after "${foo"`},
		{"${foo:x}", `offset 0: unexpected ":x" after "${foo"`},
		{"${FOO:-${}}", `offset 7: "${" must be followed`},
		{"${MISSING:?Mandatory Variable Unset}", "required variable MISSING is missing a value: Mandatory Variable Unset"},
		{"${EMPTY:?Mandatory Variable Empty}", "required variable EMPTY is missing a value: Mandatory Variable Empty"},
		{"${MISSING:?}", "required variable MISSING is missing a value"},
		{"${MISSING?}", "required variable MISSING is missing a value"},
		{"${MISSING?bar-baz}", "required variable MISSING is missing a value: bar-baz"},
		{"${MISSING?Mandatory ${FOO}}", "required variable MISSING is missing a value: Mandatory first"},
		{"${MISSING:-${OTHER:?inner}}", "required variable OTHER is missing a value: inner"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, _, err := Interpolate(tt.in, testLookup(env))
			if err == nil {
				t.Fatalf("Interpolate(%q) = %q, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Interpolate(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestInterpolateNoDollarNoAlloc(t *testing.T) {
	lookup := testLookup(nil)
	s := "a long value without any dollar sign at all"
	allocs := testing.AllocsPerRun(100, func() {
		if out, _, _ := Interpolate(s, lookup); out != s {
			t.Fatal("not identity")
		}
	})
	if allocs != 0 {
		t.Errorf("Interpolate without $ allocates %v times, want 0", allocs)
	}
}

func BenchmarkInterpolate(b *testing.B) {
	lookup := testLookup(map[string]string{"TAG": "1.25", "PORT": "8080"})
	s := "registry.example.com/app:${TAG:-latest} on ${HOST:-0.0.0.0}:${PORT} $$HOME"
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := Interpolate(s, lookup); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{
		"", "plain", "$FOO", "${FOO}", "${A:-${B:-x}}", "${X:?err}", "$$", "$", "${",
		"${FOO:+r}", "${FOO-d}", "a$}b", "${A-${B-${C-}}}", "$${A}", "${A:-a}b}",
	} {
		f.Add(s)
	}
	env := map[string]string{"FOO": "first", "EMPTY": "", "A": "a"}
	lookup := testLookup(env)
	f.Fuzz(func(t *testing.T, s string) {
		out, unset, err := Interpolate(s, lookup)
		if !strings.Contains(s, "$") {
			if err != nil || out != s || unset != nil {
				t.Fatalf("Interpolate(%q) without $ = %q, %v, %v; want identity", s, out, unset, err)
			}
			return
		}
		if err != nil {
			if out != "" {
				t.Fatalf("Interpolate(%q) returned %q with error %v", s, out, err)
			}
			return
		}
		seen := map[string]bool{}
		for _, n := range unset {
			if seen[n] || n == "" || !isNameStart(n[0]) {
				t.Fatalf("Interpolate(%q): bad unset list %q", s, unset)
			}
			if _, ok := env[n]; ok {
				t.Fatalf("Interpolate(%q): set variable %q reported unset", s, n)
			}
			seen[n] = true
		}
		// Escaping every $ of the output and interpolating again gives it back.
		esc := strings.ReplaceAll(out, "$", "$$")
		back, _, err := Interpolate(esc, lookup)
		if err != nil || back != out {
			t.Fatalf("Interpolate(escaped %q) = %q, %v; want %q", esc, back, err, out)
		}
	})
}
