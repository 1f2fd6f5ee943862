package build

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
)

// fakeLayers makes two layer dirs as the image store unpacks them: a
// bottom one with a usr-merged /bin, and a top one with a whiteout and an
// opaque directory (both need root: mknod, trusted xattrs).
func fakeLayers(t *testing.T) []string {
	testenv.RequirePrivileged(t)
	bottom, top := t.TempDir(), t.TempDir()
	for _, d := range []string{"usr/bin", "etc", "data/old", "keep"} {
		os.MkdirAll(filepath.Join(bottom, d), 0o755)
	}
	os.WriteFile(filepath.Join(bottom, "usr/bin/sh"), []byte("sh"), 0o755)
	os.Symlink("usr/bin", filepath.Join(bottom, "bin"))
	os.Symlink("/usr/bin/sh", filepath.Join(bottom, "shell"))
	os.WriteFile(filepath.Join(bottom, "etc/passwd"), []byte("root:x:0:0::/root:/bin/sh\napp:x:1000:1001::/:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(bottom, "data/old/file"), nil, 0o644)
	os.WriteFile(filepath.Join(bottom, "keep/x"), nil, 0o644)
	os.MkdirAll(filepath.Join(top, "data"), 0o755)
	os.WriteFile(filepath.Join(top, "data/new"), nil, 0o644)
	if err := unix.Setxattr(filepath.Join(top, "data"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(top, "keep"), 0o755)
	if err := unix.Mknod(filepath.Join(top, "keep/x"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	return []string{top, bottom}
}

func TestLookupAndResolveInLayers(t *testing.T) {
	lowers := fakeLayers(t)
	for rel, want := range map[string]bool{
		"usr/bin/sh": true, "bin": true, "data/new": true, "data/old/file": false, "data/old": false,
		"keep": true, "keep/x": false, "nosuch": false,
	} {
		if _, _, ok := lookupLayers(lowers, rel); ok != want {
			t.Errorf("lookupLayers(%s) = %v, want %v", rel, ok, want)
		}
	}
	for rel, want := range map[string]string{
		"bin/foo": "usr/bin/foo", "bin": "usr/bin", "bin/../etc/x": "usr/etc/x", // bin is usr/bin: .. is usr, as the kernel resolves it "shell": "shell",
		"new/dir/x": "new/dir/x", "usr/bin/sh": "usr/bin/sh",
	} {
		if got, err := resolveInLayers(lowers, rel); err != nil || got != want {
			t.Errorf("resolveInLayers(%s) = %q, %v; want %q", rel, got, err, want)
		}
	}
	uid, gid, err := resolveOwner(lowers, "app")
	if err != nil || uid != 1000 || gid != 1001 {
		t.Errorf("resolveOwner(app) = %d, %d, %v", uid, gid, err)
	}
}

func TestCopyAndWorkdirThroughImageSymlinks(t *testing.T) {
	lowers := fakeLayers(t)
	names := func(b []byte) []string {
		var out []string
		tr := tar.NewReader(bytes.NewReader(b))
		for {
			h, err := tr.Next()
			if err != nil {
				return out
			}
			out = append(out, h.Name)
		}
	}
	layer, err := mkdirLayer(lowers, "/bin/tools/x")
	if err != nil {
		t.Fatal(err)
	}
	if got := names(layer); len(got) != 2 || got[0] != "usr/bin/tools/" || got[1] != "usr/bin/tools/x/" {
		t.Errorf("WORKDIR /bin/tools/x wrote %v", got)
	}
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	c, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := copyTar(t.Context(), &buf, lowers, &CopyStep{Dest: "/bin/"}, contextTree{c}, []string{"f"}, nil); err != nil {
		t.Fatal(err)
	}
	if got := names(buf.Bytes()); len(got) != 1 || got[0] != "usr/bin/f" {
		t.Errorf("COPY f /bin/ wrote %v", got)
	}
}
