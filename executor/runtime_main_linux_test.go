package executor

import (
	"bytes"
	"os"
	"os/exec"
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
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox not installed: apt-get install busybox-static")
	}
	tmp := t.TempDir()
	rootfs := filepath.Join(tmp, "rootfs")
	for _, d := range []string{"bin", "etc", "tmp", "root", "home", "proc", "sys", "dev"} {
		if err := os.MkdirAll(filepath.Join(rootfs, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(rootfs, "tmp"), 0o1777)
	b, err := os.ReadFile(bb)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "bin/busybox"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chroot", rootfs, "/bin/busybox", "--install", "-s", "/bin").CombinedOutput(); err != nil {
		t.Fatalf("busybox --install: %v: %s", err, out)
	}
	os.WriteFile(filepath.Join(rootfs, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"), 0o644)
	os.WriteFile(filepath.Join(rootfs, "etc/group"), []byte("root:x:0:\nnogroup:x:65534:\n"), 0o644)
	tarball, err := exec.Command("tar", "-C", rootfs, "-c", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
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
