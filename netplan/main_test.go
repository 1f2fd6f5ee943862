package netplan

import (
	"os"
	"testing"
)

// TestMain dispatches the proxy entrypoint, as cmd/stack's main does, so
// that tests can start proxies from the test binary itself.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == ProxyEntrypoint {
		os.Exit(ProxyMain(os.Args[2:]))
	}
	os.Exit(m.Run())
}
