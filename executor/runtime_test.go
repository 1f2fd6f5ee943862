package executor

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
)

func TestBuildContainerCommand(t *testing.T) {
	img := &v1.ConfigFile{Config: v1.Config{
		Entrypoint: []string{"/entry"}, Cmd: []string{"default"}, Env: []string{"PATH=/bin", "A=image"},
		WorkingDir: "/app", User: "daemon", StopSignal: "SIGQUIT",
	}}
	for _, tc := range []struct {
		name string
		opts RunOptions
		args []string
	}{
		{"image defaults", RunOptions{}, []string{"/entry", "default"}},
		{"command replaces cmd", RunOptions{Command: []string{"x", "y"}}, []string{"/entry", "x", "y"}},
		{"entrypoint drops cmd", RunOptions{Entrypoint: ptr("/other")}, []string{"/other"}},
		{"entrypoint and command", RunOptions{Entrypoint: ptr("/other"), Command: []string{"z"}}, []string{"/other", "z"}},
		{"empty entrypoint", RunOptions{Entrypoint: ptr(""), Command: []string{"sh"}}, []string{"sh"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := buildContainer("/r", strings.Repeat("a", 64), &tc.opts, img, "sha256:x")
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.args, c.Runtime.Process.Args); d != "" {
				t.Fatal(d)
			}
			p := c.Runtime.Process
			if p.Cwd != "/app" || p.User != "daemon" || c.StopSignal != "SIGQUIT" {
				t.Fatalf("image config not applied: cwd %q user %q stop %q", p.Cwd, p.User, c.StopSignal)
			}
		})
	}
	if _, err := buildContainer("/r", strings.Repeat("a", 64), &RunOptions{Entrypoint: ptr("")}, img, ""); err == nil {
		t.Fatal("no command: want an error")
	}
}

func TestMergeEnv(t *testing.T) {
	t.Setenv("FROM_HOST", "h")
	got, err := mergeEnv([]string{"A=image", "B=image"}, &RunOptions{TTY: true, Env: []string{"B=flag", "FROM_HOST", "UNSET_ONE", "C=3"}}, "box")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"A=image", "B=flag", "PATH=" + container.DefaultPath, "HOSTNAME=box", "TERM=xterm", "FROM_HOST=h", "C=3"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
}

func TestParseVolume(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want container.Mount
		name string
		anon bool
		err  bool
	}{
		{in: "/h:/c", want: container.Mount{Type: "bind", Source: "/h", Destination: "/c", Options: []string{"rbind"}}},
		{in: "/h:/c:ro", want: container.Mount{Type: "bind", Source: "/h", Destination: "/c", Options: []string{"rbind", "ro"}}},
		{in: "data:/c:rw,z", want: container.Mount{Type: "bind", Source: "/r/volumes/data", Destination: "/c", Options: []string{"rbind", "rw"}}, name: "data"},
		{in: "/c", anon: true},
		{in: "rel/x:/c", err: true},
		{in: "/h:c", err: true},
		{in: "/h:/c:bogus", err: true},
		{in: "/h:/", err: true},
	} {
		t.Run(tc.in, func(t *testing.T) {
			m, name, anon, err := parseVolume("/r", tc.in)
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if err != nil {
				return
			}
			if tc.anon {
				if !anon || !strings.HasPrefix(m.Source, "/r/volumes/") || m.Destination != "/c" {
					t.Fatalf("anonymous volume: %+v %q %v", m, name, anon)
				}
				return
			}
			if d := cmp.Diff(tc.want, m); d != "" || name != tc.name {
				t.Fatalf("%s name %q", d, name)
			}
		})
	}
}

func TestParseUlimitAndSignal(t *testing.T) {
	rl, err := parseUlimit("nofile=1024:2048")
	if err != nil || rl != (container.Rlimit{Type: "RLIMIT_NOFILE", Soft: 1024, Hard: 2048}) {
		t.Fatalf("%+v %v", rl, err)
	}
	for _, bad := range []string{"nofile", "bogus=1", "nofile=3:2", "nproc=x"} {
		if _, err := parseUlimit(bad); err == nil {
			t.Errorf("parseUlimit(%q): want error", bad)
		}
	}
	for in, want := range map[string]int{"SIGTERM": 15, "term": 15, "9": 9, "SIGRTMIN+3": 37, "KILL": 9} {
		if got, err := ParseSignal(in); err != nil || got != want {
			t.Errorf("ParseSignal(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	if _, err := ParseSignal("SIGBOGUS"); err == nil {
		t.Error("ParseSignal(SIGBOGUS): want error")
	}
}

func TestBuildResources(t *testing.T) {
	r, err := buildResources(&RunOptions{Memory: "32m", CPUs: "0.5", PidsLimit: 10, PidsLimitSet: true, CpusetCpus: "0", BlkioWeight: 300})
	if err != nil {
		t.Fatal(err)
	}
	want := &cgroups.Resources{Memory: 32 << 20, MemorySwap: 64 << 20, CPUQuota: 50000, CPUPeriod: 100000,
		PidsLimit: 10, CpusetCpus: "0", BlkioWeight: 300}
	if d := cmp.Diff(want, r); d != "" {
		t.Fatal(d)
	}
	for _, bad := range []RunOptions{
		{MemorySwap: "64m"}, {Memory: "64m", MemorySwap: "32m"}, {Memory: "1m"},
		{CPUs: "1", CPUQuota: 50000}, {CPUQuota: 10}, {BlkioWeight: 5}, {CpusetCpus: "x"},
	} {
		if _, err := buildResources(&bad); err == nil {
			t.Errorf("%+v: want error", bad)
		}
	}
	r, _ = buildResources(&RunOptions{PidsLimit: -1, PidsLimitSet: true, Memory: "64m", MemorySwap: "-1"})
	if r.PidsLimit != -1 || r.MemorySwap != -1 {
		t.Fatalf("unlimited: %+v", r)
	}
}

func TestParseSecurityOpts(t *testing.T) {
	s, err := parseSecurityOpts([]string{"no-new-privileges:false", "seccomp=unconfined", "systempaths=unconfined", "apparmor=unconfined"})
	if err != nil || s.noNewPrivs == nil || *s.noNewPrivs || s.seccomp != "unconfined" || !s.systemPathsUnconfined {
		t.Fatalf("%+v %v", s, err)
	}
	for _, bad := range []string{"bogus", "apparmor=docker-default", "seccomp=", "no-new-privileges=maybe"} {
		if _, err := parseSecurityOpts([]string{bad}); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}
func ptr[T any](v T) *T { return &v }
