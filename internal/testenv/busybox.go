package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// BusyboxRootfs builds, in a temporary directory, the root filesystem that
// scripts/busybox-image.sh makes from the host's static busybox (Debian's
// busybox-static): /bin/busybox with its applet links, /etc/passwd and
// /etc/group with root, nobody (65534) and app (1000), /etc/hosts, /tmp.
// Every test that needs the busybox base image starts from it.
func BusyboxRootfs(t testing.TB) string {
	t.Helper()
	bb, err := exec.LookPath("busybox")
	if err != nil {
		t.Fatal("busybox not installed: apt-get install busybox-static (.ci/run does)")
	}
	rootfs := filepath.Join(t.TempDir(), "rootfs")
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
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\nnogroup:x:65534:\napp:x:1000:\n",
		"etc/hosts":  "127.0.0.1\tlocalhost\n",
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(rootfs, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

// BusyboxTar is BusyboxRootfs as a tar stream (numeric owners), ready for
// an import as busybox:latest.
func BusyboxTar(t testing.TB) []byte {
	t.Helper()
	tarball, err := exec.Command("tar", "-C", BusyboxRootfs(t), "--numeric-owner", "-c", ".").Output()
	if err != nil {
		t.Fatalf("tar of the busybox rootfs: %v", err)
	}
	return tarball
}
