package executor

import (
	"bytes"
	"github.com/stack-dev/stack/internal/testenv"
	"os"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/layers"
)

// TestMain dispatches the runtime's hidden entrypoints: this test binary is
// also the containers' init (STYLE.md §7).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "__stack_init":
			os.Exit(container.Init())
		case "__stack_exec":
			os.Exit(container.ExecInit())
		case ShimEntrypoint:
			os.Exit(ShimMain(os.Args[2:]))
		case "__stack_test_detach": // root, name, command...: a CLI that starts a detached container, then waits to be killed
			c, err := CreateContainer(os.Args[2], &RunOptions{Image: "busybox", Name: os.Args[3], Network: "none", Command: os.Args[4:]}, nil)
			if err == nil {
				err = StartDetached(os.Args[2], c, nil)
			}
			if err != nil {
				os.Stderr.WriteString(err.Error() + "\n")
				os.Exit(1)
			}
			os.Stdout.WriteString(c.ID + "\n")
			select {}
		case "__stack_test_run": // root, command...: a foreground run to kill
			c, err := CreateContainer(os.Args[2], &RunOptions{Image: "busybox", Command: os.Args[3:]}, nil)
			if err == nil {
				var r *Running
				if r, err = StartContainer(os.Args[2], c, AttachOptions{Foreground: true, Stdout: os.Stdout}); err == nil {
					_, err = r.Wait()
				}
			}
			if err != nil {
				os.Stderr.WriteString(err.Error() + "\n")
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// busyboxRoot returns a fresh state root holding the image busybox:latest,
// made from the host's static busybox (as scripts/busybox-image.sh does).
func busyboxRoot(t testing.TB) string {
	t.Helper()
	tarball := testenv.BusyboxTar(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "state")
	store, err := layers.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(bytes.NewReader(tarball), "busybox:latest", layers.ImportOptions{Config: &v1.Config{Cmd: []string{"sh"}}}); err != nil {
		t.Fatal(err)
	}
	return root
}
