package layers

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
)

func mountpoint(t *testing.T) string {
	t.Helper()
	m := t.TempDir()
	t.Cleanup(func() {
		for i := 0; i < 4 && unix.Unmount(m, unix.MNT_DETACH) == nil; i++ {
		}
	})
	return m
}

func mustRead(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestMountOneLayer(t *testing.T) {
	testenv.RequirePrivileged(t)
	s := openTestStore(t)
	importTar(t, s, "one", mkTar(t, tent{name: "etc/", typ: '5'}, tent{name: "etc/motd", body: "hello"}))
	r, err := s.PrepareRootfs("one", "c1")
	if err != nil {
		t.Fatal(err)
	}
	m := mountpoint(t)
	if err := MountOverlay(r, m); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(m, "etc/motd")); got != "hello" {
		t.Fatalf("motd = %q", got)
	}
	if err := os.WriteFile(filepath.Join(m, "etc/new"), []byte("n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(m, "etc/motd")); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(m, 0); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(r.Upper, "etc/new")); got != "n" {
		t.Fatalf("upper new = %q", got)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(r.Upper, "etc/motd"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Fatalf("want a whiteout in upper: %v %o", err, st.Mode)
	}
	// Read-only, one layer: a bind mount.
	ro := Rootfs{Lower: r.Lower}
	if err := MountOverlay(ro, m); err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, filepath.Join(m, "etc/motd")); got != "hello" {
		t.Fatalf("ro motd = %q", got)
	}
	if err := os.WriteFile(filepath.Join(m, "x"), nil, 0o644); err == nil {
		t.Fatal("read-only rootfs is writable")
	}
	if err := unix.Unmount(m, 0); err != nil {
		t.Fatal(err)
	}
	if err := s.RemoveRootfs("c1"); err != nil {
		t.Fatal(err)
	}
}

// TestMount500Layers builds an image with the kernel's maximum of 500
// layers under a long root, whose absolute lowerdir string is far past the
// 4095-byte mount(2) limit, and mounts it with the new API and with the
// short-name fallback.
func TestMount500Layers(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := filepath.Join(t.TempDir(), strings.Repeat("long-directory-name-", 4))
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	unlock, err := s.ingest()
	if err != nil {
		t.Fatal(err)
	}
	var descs []v1.Descriptor
	var diffIDs []v1.Hash
	parent := ""
	for i := 0; i < 500; i++ {
		info, err := s.addLayer(bytes.NewReader(mkTar(t, tent{name: fmt.Sprintf("f%03d", i), body: fmt.Sprint(i)}, tent{name: "top", body: fmt.Sprint(i)})), parent)
		if err != nil {
			t.Fatal(err)
		}
		parent = info.ChainID
		descs = append(descs, info.Descriptor())
		h, _ := v1.NewHash(info.DiffID)
		diffIDs = append(diffIDs, h)
	}
	cfg := &v1.ConfigFile{OS: "linux", Architecture: "amd64", RootFS: v1.RootFS{Type: "layers", DiffIDs: diffIDs}}
	md, err := s.writeImage(cfg, descs)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.registerImage(md, []string{"many"}, ""); err != nil {
		t.Fatal(err)
	}
	unlock()
	r, err := s.PrepareRootfs("many", "c500")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(r.MountOptions()); n <= maxMountData {
		t.Fatalf("options only %d bytes: the test needs a longer root", n)
	}
	check := func(m string) {
		t.Helper()
		if got := mustRead(t, filepath.Join(m, "top")); got != "499" {
			t.Fatalf("top = %q, want the last layer's", got)
		}
		if got := mustRead(t, filepath.Join(m, "f000")); got != "0" {
			t.Fatalf("f000 = %q", got)
		}
		if err := unix.Unmount(m, 0); err != nil {
			t.Fatal(err)
		}
	}
	m := mountpoint(t)
	if err := MountOverlay(r, m); err != nil {
		t.Fatal(err)
	}
	check(m)
	wd, _ := os.Getwd()
	if err := mountClassic(r, m); err != nil {
		t.Fatal(err)
	}
	if wd2, _ := os.Getwd(); wd2 != wd {
		t.Fatalf("process cwd changed to %s", wd2)
	}
	check(m)
	// Read-only: no upper, 500 lowers.
	if err := MountOverlay(Rootfs{Lower: r.Lower}, m); err != nil {
		t.Fatal(err)
	}
	check(m)
	if err := s.RemoveRootfs("c500"); err != nil {
		t.Fatal(err)
	}
}
