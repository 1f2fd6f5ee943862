package build

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// build parses src and converts the stages the target needs, each over
// its base stage's image or over base for an image.
func build(t *testing.T, src string, opts ParseOptions, base *v1.ConfigFile) (*Plan, *Result) {
	t.Helper()
	p, err := Parse("Dockerfile", []byte(src), opts)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	r, err := convertPlan(p, base)
	if err != nil {
		t.Fatalf("Convert: %v", err)
	}
	return p, r
}

func convertPlan(p *Plan, base *v1.ConfigFile) (*Result, error) {
	results := map[*Stage]*Result{}
	for _, st := range p.Build {
		b := base
		switch {
		case st.BaseStage != nil:
			b = results[st.BaseStage].Image()
		case st.Scratch():
			b = nil
		}
		r, err := p.Convert(st, b)
		if err != nil {
			return nil, err
		}
		results[st] = r
	}
	return results[p.Target], nil
}

func busybox() *v1.ConfigFile { return emptyBase() }

func TestConvertConfig(t *testing.T) {
	sh := []string{"/bin/sh", "-c"}
	path := "PATH=" + DefaultPath
	tests := []struct {
		name string
		src  string
		opts ParseOptions
		want v1.Config
	}{
		{
			name: "inherits the base config",
			src:  "FROM busybox\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"sh"}},
		},
		{
			name: "CMD exec form",
			src:  "FROM busybox\nCMD [\"/bin/httpd\", \"-f\"]\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"/bin/httpd", "-f"}},
		},
		{
			name: "CMD shell form",
			src:  "FROM busybox\nCMD echo $HOME\n",
			want: v1.Config{Env: []string{path}, Cmd: append(sh, "echo $HOME")},
		},
		{
			name: "ENTRYPOINT resets the inherited CMD",
			src:  "FROM busybox\nENTRYPOINT [\"/entry\"]\n",
			want: v1.Config{Env: []string{path}, Entrypoint: []string{"/entry"}},
		},
		{
			name: "ENTRYPOINT keeps a CMD set before it in the stage",
			src:  "FROM busybox\nCMD [\"a\"]\nENTRYPOINT [\"/entry\"]\n",
			want: v1.Config{Env: []string{path}, Entrypoint: []string{"/entry"}, Cmd: []string{"a"}},
		},
		{
			name: "CMD after a shell-form ENTRYPOINT",
			src:  "FROM busybox\nENTRYPOINT /entry -x\nCMD [\"b\"]\n",
			want: v1.Config{Env: []string{path}, Entrypoint: append(sh, "/entry -x"), Cmd: []string{"b"}},
		},
		{
			name: "CMD [] does not count as set: ENTRYPOINT still clears CMD",
			src:  "FROM busybox\nCMD []\nENTRYPOINT [\"/e\"]\n",
			want: v1.Config{Env: []string{path}, Entrypoint: []string{"/e"}},
		},
		{
			name: "ENTRYPOINT [] clears it",
			src:  "FROM busybox\nENTRYPOINT [\"/e\"]\nCMD [\"c\"]\nENTRYPOINT []\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"c"}},
		},
		{
			name: "SHELL changes shell forms",
			src:  "FROM busybox\nSHELL [\"/bin/bash\", \"-eo\", \"pipefail\", \"-c\"]\nCMD run me\n",
			want: v1.Config{Env: []string{path}, Shell: []string{"/bin/bash", "-eo", "pipefail", "-c"}, Cmd: []string{"/bin/bash", "-eo", "pipefail", "-c", "run me"}},
		},
		{
			name: "ENV expansion, replacement and quoting",
			src: "FROM busybox\nENV A=1 B=\"two words\"\nENV C=${A}-$B D=${MISSING:-dflt}\nENV A=3\n" +
				"ENV PATH=/opt/bin:$PATH\nENV E=\"$A\" F='$A' G=\\$A\n",
			want: v1.Config{
				Env: []string{"PATH=/opt/bin:" + DefaultPath, "A=3", "B=two words", "C=1-two words", "D=dflt", "E=3", "F=$A", "G=$A"},
				Cmd: []string{"sh"},
			},
		},
		{
			name: "one ENV sees only the environment before it",
			src:  "FROM busybox\nENV X=1\nENV X=2 Y=$X\n",
			want: v1.Config{Env: []string{path, "X=2", "Y=1"}, Cmd: []string{"sh"}},
		},
		{
			name: "legacy ENV and LABEL forms",
			src:  "FROM busybox\nENV K some value\nLABEL version 1.0\nLABEL \"com.example.x\"=\"a b\" other=$K\n",
			want: v1.Config{
				Env:    []string{path, "K=some value"},
				Cmd:    []string{"sh"},
				Labels: map[string]string{"version": "1.0", "com.example.x": "a b", "other": "some value"},
			},
		},
		{
			name: "WORKDIR relative, absolute and with variables; USER",
			src:  "FROM busybox\nENV BASE=/srv\nWORKDIR $BASE/app\nWORKDIR sub/\nWORKDIR ../x\nUSER ${U:-nobody}:100\n",
			want: v1.Config{Env: []string{path, "BASE=/srv"}, Cmd: []string{"sh"}, WorkingDir: "/srv/app/x", User: "nobody:100"},
		},
		{
			name: "EXPOSE, VOLUME, STOPSIGNAL",
			src:  "FROM busybox\nARG P=8080\nEXPOSE 80 $P/udp 9000-9002\nVOLUME /data /more\nVOLUME [\"/c\"]\nSTOPSIGNAL SIGQUIT\n",
			want: v1.Config{
				Env:          []string{path},
				Cmd:          []string{"sh"},
				ExposedPorts: map[string]struct{}{"80/tcp": {}, "8080/udp": {}, "9000/tcp": {}, "9001/tcp": {}, "9002/tcp": {}},
				Volumes:      map[string]struct{}{"/data": {}, "/more": {}, "/c": {}},
				StopSignal:   "SIGQUIT",
			},
		},
		{
			name: "HEALTHCHECK CMD",
			src:  "FROM busybox\nHEALTHCHECK --interval=5s --timeout=3s --retries=3 CMD wget -q -O- localhost || exit 1\n",
			want: v1.Config{
				Env: []string{path}, Cmd: []string{"sh"},
				Healthcheck: &v1.HealthConfig{Test: []string{"CMD-SHELL", "wget -q -O- localhost || exit 1"}, Interval: 5 * time.Second, Timeout: 3 * time.Second, Retries: 3},
			},
		},
		{
			name: "HEALTHCHECK NONE",
			src:  "FROM busybox\nHEALTHCHECK CMD [\"true\"]\nHEALTHCHECK NONE\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"sh"}, Healthcheck: &v1.HealthConfig{Test: []string{"NONE"}}},
		},
		{
			name: "ONBUILD recorded",
			src:  "FROM busybox\nONBUILD RUN echo hi\nONBUILD COPY . /app\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"sh"}, OnBuild: []string{"RUN echo hi", "COPY . /app"}},
		},
		{
			name: "scratch gets a PATH",
			src:  "FROM scratch\nCOPY x /x\nCMD [\"/x\"]\n",
			want: v1.Config{Env: []string{path}, Cmd: []string{"/x"}},
		},
		{
			name: "build arg overrides the ARG default; ARG is not in the image env",
			src:  "FROM busybox\nARG V=1\nENV VERSION=$V\n",
			opts: ParseOptions{BuildArgs: map[string]string{"V": "2"}},
			want: v1.Config{Env: []string{path, "VERSION=2"}, Cmd: []string{"sh"}},
		},
		{
			name: "ENV wins over an ARG of the same name",
			src:  "FROM busybox\nARG X=arg\nENV X=env\nENV Y=$X\n",
			want: v1.Config{Env: []string{path, "X=env", "Y=env"}, Cmd: []string{"sh"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := build(t, tt.src, tt.opts, busybox())
			got := r.Image().Config
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("config (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConvertHistory(t *testing.T) {
	src := `FROM busybox
ARG V=1
ENV A=$V B=x
LABEL k=v
MAINTAINER me@example.com
WORKDIR /app
USER 1000
EXPOSE 80 53/udp
VOLUME /data
STOPSIGNAL SIGQUIT
HEALTHCHECK --interval=5s --retries=3 CMD true
ONBUILD RUN make
SHELL ["/bin/ash", "-c"]
RUN echo hi
RUN ["echo", "exec"]
CMD ["sh", "-c", "echo x"]
ENTRYPOINT ["/e"]
COPY a b /dst/
`
	_, r := build(t, src, ParseOptions{BuildArgs: map[string]string{"V": "2"}}, busybox())
	r.Steps[len(r.Steps)-1].SetContentDigest("multi:abc")
	want := []v1.History{
		{CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  ARG V=1`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  ENV A=2 B=x`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  LABEL k=v`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  MAINTAINER me@example.com`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop) WORKDIR /app`},
		{CreatedBy: `/bin/sh -c #(nop)  USER 1000`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  EXPOSE 53/udp 80`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  VOLUME [/data]`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  STOPSIGNAL SIGQUIT`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "true"] "5s" "0s" "0s" "0s" '\x03'}`, EmptyLayer: true},
		{CreatedBy: `/bin/sh -c #(nop)  ONBUILD RUN make`, EmptyLayer: true},
		{CreatedBy: `/bin/ash -c #(nop)  SHELL [/bin/ash -c]`, EmptyLayer: true}, // docker commits with the new shell
		{CreatedBy: `|1 V=2 /bin/ash -c echo hi`},
		{CreatedBy: `|1 V=2 echo exec`},
		{CreatedBy: `/bin/ash -c #(nop)  CMD ["sh" "-c" "echo x"]`, EmptyLayer: true},
		{CreatedBy: `/bin/ash -c #(nop)  ENTRYPOINT ["/e"]`, EmptyLayer: true},
		{CreatedBy: `/bin/ash -c #(nop) COPY multi:abc in /dst/ `},
	}
	if diff := cmp.Diff(want, r.Image().History); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if a := r.Image().Author; a != "me@example.com" {
		t.Errorf("Author = %q", a)
	}
	var layers []string
	for _, s := range r.Steps {
		if s.Layer() {
			layers = append(layers, s.Cmd)
		}
	}
	if !cmp.Equal(layers, []string{"WORKDIR", "RUN", "RUN", "COPY"}) {
		t.Errorf("steps with layers = %v", layers)
	}
}

func TestConvertRunAndCopySteps(t *testing.T) {
	src := `FROM busybox AS base
ARG HTTP_PROXY
ARG TAG=v1
ENV HOME=/root
WORKDIR /src
USER app
RUN echo $TAG
RUN <<EOF
echo one
echo two
EOF
RUN <<-EOF
	#!/bin/ash -e
	echo script
	EOF
RUN cat <<A >/a && cat <<'B' >/b
a $TAG
A
b $TAG
B
COPY --chown=app:app --chmod=640 src/*.go ./
ADD https://example.com/f.tgz /opt/
ADD --checksum=sha256:0123 https://example.com/g /g
COPY <<EOF /etc/motd
hello $TAG
EOF
FROM base
COPY --from=base /src /copy
COPY --from=0 /src /copy0
COPY --from=alpine:3 /etc/os-release /
`
	p, err := Parse("Dockerfile", []byte(src), ParseOptions{BuildArgs: map[string]string{"HTTP_PROXY": "http://proxy:3128", "no_proxy": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	r0, err := p.Convert(p.Stages[0], busybox())
	if err != nil {
		t.Fatal(err)
	}
	steps := r0.Steps
	wantRun := &RunStep{
		Args:      []string{"/bin/sh", "-c", "echo $TAG"},
		Env:       []string{"PATH=" + DefaultPath, "HOME=/root", "HTTP_PROXY=http://proxy:3128", "TAG=v1", "no_proxy=x"},
		Dir:       "/src",
		User:      "app",
		BuildArgs: []string{"HTTP_PROXY=http://proxy:3128", "TAG=v1"},
	}
	if diff := cmp.Diff(wantRun, steps[5].Run, cmpopts.IgnoreUnexported(RunStep{})); diff != "" {
		t.Errorf("RUN (-want +got):\n%s", diff)
	}
	if got := steps[6].Run.Args; !cmp.Equal(got, []string{"/bin/sh", "-c", "echo one\necho two\n"}) {
		t.Errorf("heredoc RUN args = %q", got)
	}
	if got := steps[7].Run; !cmp.Equal(got.Args, []string{"/bin/ash", "-e"}) || got.Stdin != "#!/bin/ash -e\necho script\n" {
		t.Errorf("shebang heredoc RUN = %q stdin %q", got.Args, got.Stdin)
	}
	if got := steps[8].Run.Args[2]; got != "cat <<A >/a && cat <<'B' >/b\na $TAG\nA\nb $TAG\nB" {
		t.Errorf("heredoc script = %q", got)
	}
	wantCopy := &CopyStep{Sources: []string{"src/*.go"}, Dest: "/src/", Chown: "app:app", Chmod: 0o640, HasChmod: true}
	if diff := cmp.Diff(wantCopy, steps[9].Copy, cmpopts.IgnoreUnexported(CopyStep{})); diff != "" {
		t.Errorf("COPY (-want +got):\n%s", diff)
	}
	if c := steps[10].Copy; !c.Add || c.Sources[0] != "https://example.com/f.tgz" || c.Dest != "/opt/" {
		t.Errorf("ADD URL = %+v", c)
	}
	if c := steps[11].Copy; c.Checksum != "sha256:0123" {
		t.Errorf("ADD --checksum = %+v", c)
	}
	if c := steps[12].Copy; !cmp.Equal(c.Inline, []InlineFile{{Name: "EOF", Data: "hello v1\n"}}) || c.Dest != "/etc/motd" {
		t.Errorf("COPY heredoc = %+v", c)
	}

	r1, err := p.Convert(p.Stages[1], r0.Image())
	if err != nil {
		t.Fatal(err)
	}
	if c := r1.Steps[0].Copy; c.FromStage != p.Stages[0] || c.Dest != "/copy" {
		t.Errorf("COPY --from=base = %+v", c)
	}
	if c := r1.Steps[1].Copy; c.FromStage != p.Stages[0] {
		t.Errorf("COPY --from=0 = %+v", c)
	}
	if c := r1.Steps[2].Copy; c.FromImage != "alpine:3" || c.FromStage != nil {
		t.Errorf("COPY --from=alpine:3 = %+v", c)
	}
	if d := p.Stages[1].Deps(); len(d) != 1 || d[0] != p.Stages[0] {
		t.Errorf("Deps = %v", d)
	}
	if got := steps[6].String(); got != "RUN <<EOF" {
		t.Errorf("String() = %q", got)
	}
	// The second stage inherits the first's config: user, workdir.
	if cfg := r1.Image().Config; cfg.User != "app" || cfg.WorkingDir != "/src" {
		t.Errorf("inherited config = %+v", cfg)
	}
}

func TestRunHistoryProxyArgs(t *testing.T) {
	args := map[string]string{"HTTP_PROXY": "http://p"}
	_, r := build(t, "FROM busybox\nRUN echo hi\n", ParseOptions{BuildArgs: args}, busybox())
	if got := r.Steps[0].History.CreatedBy; got != "|0 /bin/sh -c echo hi" {
		t.Errorf("CreatedBy = %q, want docker's \"|0 /bin/sh -c echo hi\"", got)
	}
	if env := r.Steps[0].Run.Env; env[len(env)-1] != "HTTP_PROXY=http://p" {
		t.Errorf("proxy arg not in the RUN env: %v", env)
	}
	_, r = build(t, "FROM busybox\nRUN echo hi\n", ParseOptions{}, busybox())
	if got := r.Steps[0].History.CreatedBy; got != "/bin/sh -c echo hi" {
		t.Errorf("CreatedBy = %q", got)
	}
}

func TestParseStages(t *testing.T) {
	src := `ARG BASE=busybox
ARG TAG
FROM ${BASE}:${TAG:-latest} AS deps
RUN echo deps
FROM deps AS build
ARG BASE
ARG TAG
RUN echo $BASE $TAG
FROM busybox AS unused
RUN --mount=type=cache,target=/root/.cache echo never
FROM scratch AS final
COPY --from=build /out /out
FROM final AS test
RUN --network=none echo test
`
	tests := []struct {
		name      string
		opts      ParseOptions
		target    string
		build     []string
		base      string
		errSubstr string
	}{
		{name: "default target is the last stage", errSubstr: "Dockerfile:14: RUN --network: not supported by stack"},
		{name: "--target final", opts: ParseOptions{Target: "final"}, target: "final", build: []string{"deps", "build", "final"}, base: "busybox:latest"},
		{name: "--target is case-insensitive", opts: ParseOptions{Target: "DEPS"}, target: "deps", build: []string{"deps"}, base: "busybox:latest"},
		{name: "build args reach FROM", opts: ParseOptions{Target: "deps", BuildArgs: map[string]string{"TAG": "1.36", "BASE": "alpine"}}, target: "deps", build: []string{"deps"}, base: "alpine:1.36"},
		{name: "unknown target", opts: ParseOptions{Target: "nope"}, errSubstr: `target stage "nope" not found; stages are deps, build, unused, final, test`},
		{name: "unreachable stage with --mount is skipped", opts: ParseOptions{Target: "build"}, target: "build", build: []string{"deps", "build"}, base: "busybox:latest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("Dockerfile", []byte(src), tt.opts)
			if tt.errSubstr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errSubstr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, s := range p.Build {
				names = append(names, s.DisplayName())
			}
			if p.Target.Name != tt.target || !cmp.Equal(names, tt.build) {
				t.Errorf("target %q build %v, want %q %v", p.Target.Name, names, tt.target, tt.build)
			}
			if p.Stages[0].Base != tt.base {
				t.Errorf("first base = %q, want %q", p.Stages[0].Base, tt.base)
			}
			if p.Stages[1].BaseStage != p.Stages[0] {
				t.Errorf("FROM deps does not name stage deps")
			}
		})
	}
}

func TestARGScoping(t *testing.T) {
	src := `ARG GLOBAL=g
ARG OVERRIDDEN=default
FROM busybox
ENV BEFORE="[$GLOBAL]"
ARG GLOBAL
ARG OVERRIDDEN
ARG LOCAL=l-$GLOBAL
ARG NOVALUE
ENV AFTER=$GLOBAL O=$OVERRIDDEN L=$LOCAL N="[$NOVALUE]" T=$TARGETARCH
ARG TARGETARCH
ENV T2=$TARGETARCH
FROM busybox
ENV SECOND="[$LOCAL][$GLOBAL]"
`
	p, err := Parse("Dockerfile", []byte(src), ParseOptions{
		BuildArgs: map[string]string{"OVERRIDDEN": "cli", "UNUSED": "x"},
		Platform:  Platform{OS: "linux", Arch: "arm64"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !cmp.Equal(p.UnusedBuildArgs, []string{"UNUSED"}) {
		t.Errorf("UnusedBuildArgs = %v", p.UnusedBuildArgs)
	}
	r, err := p.Convert(p.Stages[0], busybox())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"PATH=" + DefaultPath, "BEFORE=[]", "AFTER=g", "O=cli", "L=l-g", "N=[]", "T=", "T2=arm64"}
	if diff := cmp.Diff(want, r.Config.Config.Env); diff != "" {
		t.Errorf("env (-want +got):\n%s", diff)
	}
	r2, err := p.Convert(p.Stages[1], busybox())
	if err != nil {
		t.Fatal(err)
	}
	if got := r2.Config.Config.Env[1]; got != "SECOND=[][]" {
		t.Errorf("args leak into the next stage: %q", got)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      string
		notSupp   bool
	}{
		{"RUN --mount", "FROM busybox\nRUN --mount=type=cache,target=/c true\n", "Dockerfile:2: RUN --mount: not supported by stack", true},
		{"RUN --security", "FROM busybox\nRUN --security=insecure true\n", "Dockerfile:2: RUN --security: not supported by stack", true},
		{"COPY --link", "FROM busybox\nCOPY --link a /a\n", "Dockerfile:2: COPY --link: not supported by stack", true},
		{"COPY --parents", "FROM busybox\nCOPY --parents a/b /x/\n", "Dockerfile:2: COPY --parents: not supported by stack", true},
		{"COPY --exclude", "FROM busybox\nCOPY --exclude=*.md . /x/\n", "Dockerfile:2: COPY --exclude: not supported by stack", true},
		{"ADD --link", "FROM busybox\nADD --link a /a\n", "Dockerfile:2: ADD --link: not supported by stack", true},
		{"ADD git", "FROM busybox\nADD https://github.com/moby/buildkit.git#v0.10.1 /src\n", "Dockerfile:2: ADD of a git repository", true},
		{"HEALTHCHECK --start-interval", "FROM busybox\nHEALTHCHECK --start-interval=1s CMD true\n", "Dockerfile:2: HEALTHCHECK --start-interval", true},
		{"FROM --platform", "FROM --platform=linux/s390x busybox\n", "Dockerfile:1: FROM --platform=linux/s390x (stack builds for linux/amd64 only): not supported by stack", true},
		{"unknown instruction", "FROM busybox\nFOO bar\n", `Dockerfile:2: unknown instruction "FOO"`, false},
		{"unknown flag", "FROM busybox\nCOPY --nope a b\n", "Dockerfile:2: COPY: unknown flag: --nope", false},
		{"no FROM", "RUN true\n", "Dockerfile:1: RUN before the first FROM", false},
		{"empty file", "# nothing\n", "Dockerfile", false},
		{"empty base", "ARG B\nFROM $B\n", "Dockerfile:2: FROM $B: the base name is empty", false},
		{"empty base of a needed stage", "ARG B\nFROM $B AS b\nFROM busybox\nCOPY --from=b / /\n", "Dockerfile:2: FROM $B: the base name is empty", false},
		{"bad stage name", "FROM busybox AS 1bad\n", "Dockerfile:1: FROM: invalid name for build stage", false},
		{"COPY --from a later stage", "FROM busybox\nCOPY --from=later / /\nFROM busybox AS later\n", `Dockerfile:2: COPY --from=later: stage "later" is not defined before this one`, false},
		{"COPY --from a bad index", "FROM busybox\nCOPY --from=3 / /\n", "Dockerfile:2: COPY --from=3: stage index 3 is not an earlier stage", false},
		{"unterminated heredoc", "FROM busybox\nRUN <<EOF\necho\n", "Dockerfile:2: unterminated heredoc", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("Dockerfile", []byte(tt.src), ParseOptions{Platform: Platform{OS: "linux", Arch: "amd64"}})
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.HasPrefix(err.Error(), "Dockerfile") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %q, want it to contain %q", err, tt.want)
			}
			if got := errors.Is(err, ErrNotSupported); got != tt.notSupp {
				t.Errorf("errors.Is(err, ErrNotSupported) = %v, want %v", got, tt.notSupp)
			}
		})
	}
}

func TestConvertErrors(t *testing.T) {
	tests := []struct{ name, src, want string }{
		{"COPY of a URL", "FROM busybox\nCOPY https://x/y /y\n", "Dockerfile:2: COPY https://x/y: COPY takes no URLs"},
		{"symbolic chmod", "FROM busybox\nCOPY --chmod=u+x a /a\n", "Dockerfile:2: COPY --chmod=u+x: an octal mode"},
		{"bad signal", "FROM busybox\nSTOPSIGNAL SIGNOPE\n", `Dockerfile:2: STOPSIGNAL "SIGNOPE" is not a signal`},
		{"bad protocol", "FROM busybox\nEXPOSE 80/icmp\n", `Dockerfile:2: EXPOSE 80/icmp: unknown protocol "icmp"`},
		{"EXPOSE mapping", "FROM busybox\nEXPOSE 8080:80\n", "Dockerfile:2: EXPOSE 8080:80: EXPOSE takes container ports only"},
		{"bad quote", "FROM busybox\nENV A='x\n", "Dockerfile:2: ENV A: cannot expand"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("Dockerfile", []byte(tt.src), ParseOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = p.Convert(p.Target, busybox())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestOnbuildTriggers(t *testing.T) {
	parent := "FROM busybox\nONBUILD ENV FROM_TRIGGER=1\nONBUILD RUN echo triggered\n"
	_, pr := build(t, parent, ParseOptions{}, busybox())
	child := "FROM parent\nCMD [\"x\"]\n"
	_, r := build(t, child, ParseOptions{}, pr.Image())
	if got := r.Steps[1].String(); got != "ONBUILD RUN echo triggered" {
		t.Errorf("trigger String() = %q", got)
	}
	if len(r.Steps) != 3 || !r.Steps[0].Trigger || !r.Steps[1].Trigger || r.Steps[2].Trigger {
		t.Fatalf("steps = %+v", r.Steps)
	}
	if r.Steps[1].Run == nil || r.Steps[1].Run.Args[2] != "echo triggered" {
		t.Errorf("trigger RUN = %+v", r.Steps[1].Run)
	}
	cfg := r.Image().Config
	if len(cfg.OnBuild) != 0 {
		t.Errorf("OnBuild not cleared: %v", cfg.OnBuild)
	}
	if v, _ := lookupEnv(cfg.Env, "FROM_TRIGGER"); v != "1" {
		t.Errorf("trigger ENV not applied: %v", cfg.Env)
	}
}

func TestConvertDoesNotChangeBase(t *testing.T) {
	base := busybox()
	base.Config.Labels = map[string]string{"a": "b"}
	_, r := build(t, "FROM busybox\nLABEL c=d\nENV X=1\nCMD [\"y\"]\n", ParseOptions{}, base)
	if len(base.Config.Labels) != 1 || len(base.Config.Env) != 1 || base.Config.Cmd[0] != "sh" || len(base.History) != 1 {
		t.Errorf("base changed: %+v", base)
	}
	if r.Image().Config.Labels["a"] != "b" {
		t.Errorf("base label lost")
	}
}

func TestEscapeDirective(t *testing.T) {
	src := "# escape=`\nFROM busybox\nENV P=C:\\path `\n    Q=2\n"
	p, r := build(t, src, ParseOptions{}, busybox())
	if p.Escape != '`' {
		t.Errorf("escape = %q", p.Escape)
	}
	if v, _ := lookupEnv(r.Config.Config.Env, "P"); v != `C:\path` {
		t.Errorf("P = %q", v)
	}
	if v, _ := lookupEnv(r.Config.Config.Env, "Q"); v != "2" {
		t.Errorf("Q = %q", v)
	}
}

func TestEmptyBaseOfAnUnneededStage(t *testing.T) {
	if _, err := Parse("Dockerfile", []byte("ARG B\nFROM $B AS unused\nFROM busybox\n"), ParseOptions{}); err != nil {
		t.Errorf("an unneeded stage with an empty base failed the build: %v", err)
	}
}

func TestFromBuildPlatform(t *testing.T) {
	opts := ParseOptions{Platform: Platform{OS: "linux", Arch: "amd64"}}
	for _, src := range []string{
		"FROM --platform=$BUILDPLATFORM busybox\n",
		"FROM --platform=${TARGETPLATFORM} busybox\n",
		"FROM --platform=linux/amd64 busybox\n",
	} {
		if _, err := Parse("Dockerfile", []byte(src), opts); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
}

func TestSyntaxDirective(t *testing.T) {
	p, _ := build(t, "# syntax=docker/dockerfile:1.7\nFROM busybox\n", ParseOptions{}, busybox())
	if p.Syntax != "docker/dockerfile:1.7" {
		t.Errorf("Syntax = %q", p.Syntax)
	}
}
