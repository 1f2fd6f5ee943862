package container

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stack-dev/stack/internal/testenv"
)

// run starts cfg and returns its output and exit status.
func run(t *testing.T, cfg *Config) (string, ExitStatus) {
	t.Helper()
	var out bytes.Buffer
	task, err := Start(cfg, StartOptions{Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	st, err := task.Wait()
	if err != nil {
		t.Fatalf("Wait: %v", err)
	}
	return out.String(), st
}

func testConfig(t *testing.T, args ...string) *Config {
	return &Config{
		ID:            "test",
		Hostname:      "box",
		Rootfs:        Rootfs{Dir: busyboxRootfs(t)},
		MaskedPaths:   DefaultMaskedPaths,
		ReadonlyPaths: DefaultReadonlyPaths,
		Process: Process{
			Args:            args,
			Env:             []string{"PATH=" + DefaultPath},
			Capabilities:    DefaultCapabilities,
			NoNewPrivileges: true,
		},
	}
}

func TestStartDirRootfs(t *testing.T) {
	testenv.RequirePrivileged(t)
	out, st := run(t, testConfig(t, "sh", "-c", "echo $$ $(hostname); exit 3"))
	if got := strings.TrimSpace(out); got != "1 box" || st.Code != 3 {
		t.Fatalf("got %q, exit %d; want \"1 box\", exit 3", got, st.Code)
	}
}

func TestStartErrors(t *testing.T) {
	testenv.RequirePrivileged(t)
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
		msg  string
		code int
	}{
		{"not found", func(c *Config) { c.Process.Args = []string{"nosuch"} }, `exec: "nosuch": executable file not found in $PATH`, 127},
		{"not executable", func(c *Config) { c.Process.Args = []string{"/etc/passwd"} }, `exec: "/etc/passwd": permission denied`, 126},
		{"bad mount", func(c *Config) {
			c.Mounts = []Mount{{Type: "bind", Source: "/nonexistent/src", Destination: "/data"}}
		}, "mounting /nonexistent/src on /data: no such file or directory", 125},
		{"unknown user", func(c *Config) { c.Process.User = "nosuchuser" }, "unable to find user nosuchuser: no matching entries in passwd file", 125},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig(t, "true")
			tc.cfg(cfg)
			_, err := Start(cfg, StartOptions{})
			ie, ok := err.(*InitError)
			if !ok {
				t.Fatalf("Start: got %v (%T), want *InitError", err, err)
			}
			if ie.Msg != tc.msg || ie.Code != tc.code {
				t.Fatalf("got %q (%d), want %q (%d)", ie.Msg, ie.Code, tc.msg, tc.code)
			}
		})
	}
}
