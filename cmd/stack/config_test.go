package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "stack.yaml")
	content := `version: "3"
name: cfg
services:
  web:
    image: nginx
    cap_add: [NET_ADMIN, CHOWN]
  debug:
    image: busybox
    profiles: [dev]
`
	if err := os.WriteFile(file, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}

	out, errOut, code := runStack(t, "-f", file, "config")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.HasPrefix(out, "name: cfg\nservices:\n  web:\n") || !strings.Contains(out, "    cap_add:\n      - CAP_CHOWN\n      - CAP_NET_ADMIN\n") || strings.Contains(out, "debug") {
		t.Errorf("yaml:\n%s", out)
	}
	if !strings.Contains(errOut, "stack.yaml:1:1: warning: version: the version key is obsolete and ignored") {
		t.Errorf("stderr: %q", errOut)
	}
	again, _, _ := runStack(t, "-f", file, "config")
	if again != out {
		t.Error("two runs print different output")
	}

	out, _, code = runStack(t, "-f", file, "config", "--format", "json")
	var doc map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &doc) != nil || doc["name"] != "cfg" {
		t.Errorf("json (exit %d):\n%s", code, out)
	}

	out, _, _ = runStack(t, "-f", file, "--profile", "dev", "config", "--services")
	if out != "debug\nweb\n" {
		t.Errorf("--services = %q", out)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("services:\n  web:\n    image: nginx\n    restart: maybe\n    links: [db]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = runStack(t, "-f", bad, "config")
	if code != 1 || out != "" {
		t.Errorf("invalid file: exit %d, stdout %q", code, out)
	}
	for _, want := range []string{
		bad + `:4:14: services.web.restart: "maybe" is not a valid restart policy`,
		bad + ":5:5: services.web.links: not supported by stack",
		"the stack file has 2 error(s)",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
	_, errOut, code = runStack(t, "-f", bad, "--loose", "config")
	if code != 1 || !strings.Contains(errOut, "warning: services.web.links") {
		t.Errorf("--loose: exit %d:\n%s", code, errOut)
	}
}
