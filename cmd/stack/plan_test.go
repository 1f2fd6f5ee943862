package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// runStack runs the CLI in-process and returns stdout, stderr and the exit code.
func runStack(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := newRootCommand()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.Execute()
	code := 0
	if err != nil {
		code = 1
		var ee *exitError
		if errors.As(err, &ee) {
			code = ee.code
		}
		if ee == nil || ee.err != nil {
			stderr.WriteString(err.Error() + "\n")
		}
	}
	return stdout.String(), stderr.String(), code
}

const planTestFile = `name: demo
services:
  web:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "${PORT}"]
    depends_on: [db]
  db:
    image: busybox:latest
`

func TestPlanCommand(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "state")
	file := filepath.Join(dir, "stack.yaml")
	if err := os.WriteFile(file, []byte(planTestFile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PORT", "")
	os.Unsetenv("PORT")
	base := []string{"--root", root, "-f", file}

	out, errOut, code := runStack(t, append(base, "plan", "--detailed-exitcode")...)
	if code != 2 {
		t.Fatalf("exit code %d, want 2 (changes); stderr: %s", code, errOut)
	}
	if !strings.Contains(out, "+ service/web") || !strings.HasSuffix(out, "Plan: 4 to create, 0 to update, 0 to replace, 0 to remove.\n") {
		t.Errorf("text plan:\n%s", out)
	}
	if strings.Contains(out, "\x1b[") {
		t.Error("colors on a non-terminal")
	}
	if !strings.Contains(errOut, "PORT") {
		t.Errorf("no warning about the unset variable on stderr: %q", errOut)
	}
	if strings.Contains(out, "PORT") {
		t.Errorf("warning on stdout:\n%s", out)
	}

	out, _, code = runStack(t, append(base, "plan", "--format", "json", "db")...)
	if code != 0 {
		t.Fatalf("json: exit code %d", code)
	}
	var doc struct {
		FormatVersion string `json:"format_version"`
		Steps         []struct {
			Resource string `json:"resource"`
		} `json:"steps"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("json output: %v\n%s", err, out)
	}
	if doc.FormatVersion != "1" || len(doc.Steps) != 3 || doc.Steps[2].Resource != "service/db" {
		t.Errorf("json plan of db: %+v", doc)
	}

	// A record whose containers and bridge are not on the host is drift:
	// plan says so and replaces them (the converged case, with real
	// containers, is covered by the end-to-end tests of examples/).
	st, err := spec.Load(spec.LoadOptions{Files: []string{file}, Env: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := planner.Diff(st, nil, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := executor.WriteProjectRecord(root, executor.RecordFromObserved(planner.Apply(nil, p, st))); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runStack(t, append(base, "plan", "--detailed-exitcode")...)
	if code != 2 || !strings.Contains(out, "± service/web\n    replace: container missing (removed outside stack)") || !strings.Contains(out, "missing (removed outside stack)") {
		t.Errorf("drift: exit %d, out %q, err %q", code, out, errOut)
	}
	out, _, code = runStack(t, append(base, "plan", "--detailed-exitcode", "--force-recreate", "web", "--no-deps")...)
	if code != 2 || !strings.Contains(out, "± service/web") || strings.Contains(out, "service/db") {
		t.Errorf("force-recreate web --no-deps: exit %d:\n%s", code, out)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--format", "yaml"}, `--format "yaml": want text or json`},
		{[]string{"plan", "--force-recreate", "--no-recreate"}, "--force-recreate and --no-recreate"},
	} {
		_, errOut, code := runStack(t, append(base, tc.args...)...)
		if code != 1 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 1 and %q", tc.args, code, errOut, tc.want)
		}
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("services:\n  web:\n    image: x\n    bogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runStack(t, "--root", root, "-f", bad, "plan", "--detailed-exitcode")
	if code != 1 || !strings.Contains(errOut, "bad.yaml:4:5") {
		t.Errorf("invalid file: exit %d, stderr %q", code, errOut)
	}
}
