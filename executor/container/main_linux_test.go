package container

import (
	"github.com/stack-dev/stack/internal/testenv"
	"os"
	"testing"
)

// TestMain dispatches the hidden entrypoints: the test binary is also the
// container's init, as the stack binary is (STYLE.md §7).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__stack_init":
			os.Exit(Init())
		case "__stack_exec":
			os.Exit(ExecInit())
		}
	}
	os.Exit(m.Run())
}

// busyboxRootfs is the busybox root filesystem every runtime test starts from.
func busyboxRootfs(t testing.TB) string {
	t.Helper()
	return testenv.BusyboxRootfs(t)
}
