package layers

import (
	"archive/tar"
	"bytes"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
)

func TestUnpackSpecialFiles(t *testing.T) {
	testenv.RequirePrivileged(t)
	dir := t.TempDir()
	tb := mkTar(t,
		tent{name: "etc/", typ: tar.TypeDir, mode: 0o750, uid: 12, gid: 34},
		tent{name: "etc/.wh.gone", body: ""},
		tent{name: "opaque/", typ: tar.TypeDir},
		tent{name: "opaque/.wh..wh..opq", body: ""},
		tent{name: "opaque/kept", body: "k"},
		tent{name: "bin/su", body: "elf", mode: 0o4755, uid: 0, gid: 0},
		tent{name: "owned", body: "o", mode: 0o600, uid: 1000, gid: 2000},
		tent{name: "dev/null", typ: tar.TypeChar, mode: 0o666, major: 1, minor: 3},
		tent{name: "dev/sda", typ: tar.TypeBlock, mode: 0o660, major: 8, minor: 0},
		tent{name: "fifo", typ: tar.TypeFifo, mode: 0o644},
		tent{name: "x", body: "x", xattrs: map[string]string{"user.note": "hi", "trusted.t": "v", "trusted.overlay.redirect": "/evil"}},
		tent{name: "link", typ: tar.TypeSymlink, link: "owned", uid: 5, gid: 6},
		tent{name: "hard", typ: tar.TypeLink, link: "owned"},
	)
	if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	st := func(p string) unix.Stat_t {
		t.Helper()
		var s unix.Stat_t
		if err := unix.Lstat(filepath.Join(dir, p), &s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := st("etc/gone"); s.Mode&unix.S_IFMT != unix.S_IFCHR || s.Rdev != 0 {
		t.Errorf("whiteout: mode %o rdev %d", s.Mode, s.Rdev)
	}
	if s := st("etc"); s.Mode&0o7777 != 0o750 || s.Uid != 12 || s.Gid != 34 {
		t.Errorf("etc: mode %o owner %d:%d", s.Mode&0o7777, s.Uid, s.Gid)
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "opaque"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("opaque xattr: %q %v", buf[:n], err)
	}
	if s := st("bin/su"); s.Mode&0o7777 != 0o4755 {
		t.Errorf("setuid lost: %o", s.Mode&0o7777)
	}
	if s := st("owned"); s.Uid != 1000 || s.Gid != 2000 || s.Mode&0o777 != 0o600 {
		t.Errorf("owned: %d:%d %o", s.Uid, s.Gid, s.Mode)
	}
	if s := st("dev/null"); s.Mode&unix.S_IFMT != unix.S_IFCHR || unix.Major(s.Rdev) != 1 || unix.Minor(s.Rdev) != 3 {
		t.Errorf("dev/null: %o %d", s.Mode, s.Rdev)
	}
	if s := st("dev/sda"); s.Mode&unix.S_IFMT != unix.S_IFBLK || unix.Major(s.Rdev) != 8 {
		t.Errorf("dev/sda: %o %d", s.Mode, s.Rdev)
	}
	if s := st("fifo"); s.Mode&unix.S_IFMT != unix.S_IFIFO {
		t.Errorf("fifo: %o", s.Mode)
	}
	if n, err := unix.Lgetxattr(filepath.Join(dir, "x"), "user.note", buf); err != nil || string(buf[:n]) != "hi" {
		t.Errorf("user xattr: %v", err)
	}
	if n, err := unix.Lgetxattr(filepath.Join(dir, "x"), "trusted.t", buf); err != nil || string(buf[:n]) != "v" {
		t.Errorf("trusted xattr: %v", err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(dir, "x"), "trusted.overlay.redirect", buf); err == nil {
		t.Error("a layer set an overlay xattr")
	}
	if s := st("link"); s.Uid != 5 || s.Gid != 6 || s.Mtim.Sec != testTime.Unix() {
		t.Errorf("symlink owner/time: %d:%d %d", s.Uid, s.Gid, s.Mtim.Sec)
	}
	if a, b := st("hard"), st("owned"); a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hard link: ino %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if s := st("owned"); s.Mtim.Sec != testTime.Unix() {
		t.Errorf("mtime %d", s.Mtim.Sec)
	}
}

func TestUnpackUserXattrOpaque(t *testing.T) {
	testenv.RequirePrivileged(t)
	dir := t.TempDir()
	tb := mkTar(t, tent{name: "d/", typ: tar.TypeDir}, tent{name: "d/.wh..wh..opq", body: ""})
	if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{UserXattr: true}); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "d"), "user.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Fatalf("user opaque: %v", err)
	}
}
