// Package testenv holds the helpers every privileged test calls, so that all
// of them agree on when they run: only as root with STACK_TEST_PRIVILEGED=1.
// With the variable set and no root they fail (CI must not skip silently);
// without it they skip, naming the make target that runs them.
package testenv

import (
	"os"
	"testing"
)

// RequirePrivileged skips or fails t unless privileged tests are enabled.
func RequirePrivileged(t testing.TB) {
	t.Helper()
	if os.Getenv("STACK_TEST_PRIVILEGED") != "1" {
		t.Skip("privileged test: run as root with STACK_TEST_PRIVILEGED=1 (make test under sudo, or .ci/run)")
	}
	if os.Geteuid() != 0 {
		t.Fatal("STACK_TEST_PRIVILEGED=1 but not running as root")
	}
}

// Privileged reports whether privileged tests are enabled and possible.
func Privileged() bool {
	return os.Getenv("STACK_TEST_PRIVILEGED") == "1" && os.Geteuid() == 0
}
