package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-dev/stack/internal/testenv"
)

// TestMain dispatches the hidden entrypoints: the test binary is also the
// containers' init and their supervisor.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		if fn, ok := hidden[os.Args[1]]; ok {
			os.Exit(fn(os.Args[2:]))
		}
	}
	os.Exit(m.Run())
}

// cli runs `stack --root ROOT ARGS...` in-process.
func cli(t *testing.T, root string, stdin io.Reader, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := newRootCommand()
	cmd.SetArgs(append([]string{"--root", root}, args...))
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	if stdin != nil {
		cmd.SetIn(stdin)
	}
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func mustCLI(t *testing.T, root string, args ...string) string {
	t.Helper()
	out, err := cli(t, root, nil, args...)
	if err != nil {
		t.Fatalf("stack %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func exitCodeOf(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestLifecycleCommands(t *testing.T) {
	testenv.RequirePrivileged(t)
	tarball := testenv.BusyboxTar(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "state")
	if out, err := cli(t, root, bytes.NewReader(tarball), "import", "-", "busybox:latest"); err != nil {
		t.Fatalf("import: %v %s", err, out)
	}
	t.Cleanup(func() {
		ids := strings.Fields(mustCLI(t, root, "ps", "-aq", "--no-trunc"))
		if len(ids) > 0 {
			mustCLI(t, root, append([]string{"rm", "-f"}, ids...)...)
		}
		if left := strings.TrimSpace(mustCLI(t, root, "ps", "-aq")); left != "" {
			t.Errorf("containers left: %s", left)
		}
		// No supervisor of this root may be left running.
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte("__stack_shim\x00"+root+"\x00")) {
				t.Errorf("supervisor left running: %s", p)
			}
		}
	})

	mustCLI(t, root, "create", "--name", "web", "--network", "none", "-m", "64m", "busybox", "sh", "-c", "echo hi; echo oops >&2; while :; do sleep 0.1; done")
	if out := mustCLI(t, root, "start", "web"); strings.TrimSpace(out) != "web" {
		t.Fatalf("start printed %q", out)
	}
	if out := mustCLI(t, root, "ps"); !strings.Contains(out, "web") || !strings.Contains(out, "Up ") {
		t.Fatalf("ps:\n%s", out)
	}
	// The command may not have written both lines yet when start returns.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		out := mustCLI(t, root, "logs", "web")
		if strings.Contains(out, "hi\n") && strings.Contains(out, "oops\n") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("logs: %q", out)
		}
	}
	var insp []struct {
		Name  string
		State struct {
			Status  string
			Running bool
			Pid     int
		}
	}
	if err := json.Unmarshal([]byte(mustCLI(t, root, "inspect", "web")), &insp); err != nil || len(insp) != 1 || !insp[0].State.Running || insp[0].Name != "/web" || insp[0].State.Pid == 0 {
		t.Fatalf("inspect: %+v %v", insp, err)
	}
	if out := mustCLI(t, root, "top", "web"); !strings.Contains(out, "PID") || !strings.Contains(out, "sleep") && !strings.Contains(out, "sh -c") {
		t.Fatalf("top:\n%s", out)
	}
	var st statsRow
	if err := json.Unmarshal([]byte(mustCLI(t, root, "stats", "--no-stream", "--format", "json", "web")), &st); err != nil ||
		!strings.HasSuffix(st.MemUsage, " / 64MiB") || st.Name != "web" || st.MemPerc == "0.00%" && !strings.HasPrefix(st.MemUsage, "0") {
		t.Fatalf("stats: %+v %v", st, err)
	}
	mustCLI(t, root, "pause", "web")
	if out := mustCLI(t, root, "ps"); !strings.Contains(out, "(Paused)") {
		t.Fatalf("ps after pause:\n%s", out)
	}
	mustCLI(t, root, "unpause", "web")
	mustCLI(t, root, "stop", "-t", "0", "web")
	if out := mustCLI(t, root, "ps", "-a", "--filter", "name=web"); !strings.Contains(out, "Exited (137)") {
		t.Fatalf("ps -a after stop:\n%s", out)
	}
	if out := mustCLI(t, root, "wait", "web"); strings.TrimSpace(out) != "137" {
		t.Fatalf("wait: %q", out)
	}
	var row map[string]string
	if err := json.Unmarshal([]byte(mustCLI(t, root, "ps", "-a", "--format", "json", "--filter", "name=web")), &row); err != nil || row["State"] != "exited" || row["Names"] != "web" {
		t.Fatalf("ps --format json: %v %v", row, err)
	}

	// start -a: the output, then the container's exit code.
	mustCLI(t, root, "create", "--name", "once", "--network", "none", "busybox", "sh", "-c", "echo once; exit 3")
	out, err := cli(t, root, nil, "start", "-a", "once")
	if exitCodeOf(err) != 3 || !strings.Contains(out, "once") {
		t.Fatalf("start -a: %v, %q", err, out)
	}
	// A command that is not there: docker's 127, the container stays created.
	mustCLI(t, root, "create", "--name", "missing", "--network", "none", "busybox", "nosuch")
	if _, err := cli(t, root, nil, "start", "missing"); exitCodeOf(err) != 127 {
		t.Fatalf("start of a missing command: %v", err)
	}
	if out := mustCLI(t, root, "ps", "-a", "--filter", "name=missing"); !strings.Contains(out, "Created") {
		t.Fatalf("ps -a:\n%s", out)
	}
	if out := mustCLI(t, root, "events", "--since", "1h", "--until", "0s", "--filter", "container=web"); !strings.Contains(out, "container start") || !strings.Contains(out, "container die") || !strings.Contains(out, "container stop") {
		t.Fatalf("events:\n%s", out)
	}
	if _, err := cli(t, root, nil, "kill", "web"); err == nil {
		t.Fatal("kill of a stopped container succeeded")
	}
}
