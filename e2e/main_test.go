// Package e2e runs the real `stack` binary against the examples: each test
// has its own state root (t.TempDir(), passed as STACK_ROOT), works on a
// copy of an example directory, and checks after `stack down` that nothing
// of the project is left on the host (links, nft table, mounts, cgroups,
// supervisor processes, records).
//
// The tests are privileged (internal/testenv): run them as root with
// STACK_TEST_PRIVILEGED=1, e.g. `STACK_TEST_PRIVILEGED=1 go test ./e2e`.
// The examples publish fixed ports 127.0.0.1:8080–8083, so the tests run
// one at a time (none calls t.Parallel).
package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stack-dev/stack/internal/testenv"
)

// stackBin is the binary under test, built once by TestMain.
var stackBin string

// repoDir is the repository's top directory (examples/, scripts/).
var repoDir string

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	wd, err := os.Getwd()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	repoDir = filepath.Dir(wd)
	if !testenv.Privileged() {
		return m.Run() // every test skips (or fails) in RequirePrivileged
	}
	dir, err := os.MkdirTemp("", "stack-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	stackBin = filepath.Join(dir, "stack")
	if bin := os.Getenv("STACK_E2E_BIN"); bin != "" {
		// A binary built elsewhere (make build): used as it is.
		if stackBin, err = filepath.Abs(bin); err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
	} else {
		cmd := exec.Command("go", "build", "-o", stackBin, "./cmd/stack")
		cmd.Dir = repoDir
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "e2e: building stack:", err)
			return 1
		}
	}
	return m.Run()
}
