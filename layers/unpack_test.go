package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

func gz(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(t testing.TB, b []byte) []byte {
	var buf bytes.Buffer
	w, err := zstd.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestUnpackCompressions(t *testing.T) {
	tb := mkTar(t, tent{name: "d/", typ: tar.TypeDir}, tent{name: "d/f", body: "content"}, tent{name: "l", typ: tar.TypeSymlink, link: "d/f"})
	want := digestOf(tb)
	for name, in := range map[string][]byte{"plain": tb, "gzip": gz(t, tb), "zstd": zst(t, tb)} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			res, err := Unpack(bytes.NewReader(in), dir, UnpackOptions{DiffID: want})
			if err != nil {
				t.Fatal(err)
			}
			if res.DiffID != want || res.Size != 7 {
				t.Fatalf("result %+v, want diffID %s", res, want)
			}
			if b, err := os.ReadFile(filepath.Join(dir, "l")); err != nil || string(b) != "content" {
				t.Fatalf("through symlink: %q %v", b, err)
			}
			fi, _ := os.Stat(filepath.Join(dir, "d/f"))
			if !fi.ModTime().Equal(testTime) {
				t.Errorf("mtime %v", fi.ModTime())
			}
			di, _ := os.Stat(filepath.Join(dir, "d"))
			if !di.ModTime().Equal(testTime) {
				t.Errorf("dir mtime %v", di.ModTime())
			}
		})
	}
}

func TestUnpackDiffIDMismatch(t *testing.T) {
	tb := mkTar(t, tent{name: "f", body: "x"})
	_, err := Unpack(bytes.NewReader(tb), t.TempDir(), UnpackOptions{DiffID: digestOf([]byte("other"))})
	if !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("want ErrDigestMismatch, got %v", err)
	}
}

// TestUnpackUnsafe feeds entries that try to reach outside the layer dir.
// Each must fail with ErrUnsafePath and leave nothing outside.
func TestUnpackUnsafe(t *testing.T) {
	tests := []struct {
		name string
		ents []tent
	}{
		{"dotdot", []tent{{name: "../../etc/passwd", body: "pwned"}}},
		{"dotdot in the middle", []tent{{name: "a/../../outside", body: "pwned"}}},
		{"absolute symlink then write", []tent{{name: "etc", typ: tar.TypeSymlink, link: "/etc"}, {name: "etc/passwd", body: "pwned"}}},
		{"relative symlink escape then write", []tent{{name: "a/", typ: tar.TypeDir}, {name: "a/up", typ: tar.TypeSymlink, link: "../../.."}, {name: "a/up/outside", body: "pwned"}}},
		{"symlink escape then dir", []tent{{name: "up", typ: tar.TypeSymlink, link: ".."}, {name: "up/newdir/", typ: tar.TypeDir}}},
		{"hardlink outside", []tent{{name: "h", typ: tar.TypeLink, link: "../../etc/passwd"}}},
		{"hardlink through escaping symlink", []tent{{name: "up", typ: tar.TypeSymlink, link: "../"}, {name: "h", typ: tar.TypeLink, link: "up/secret"}}},
		{"whiteout through symlink", []tent{{name: "up", typ: tar.TypeSymlink, link: "/"}, {name: "up/.wh.secret", body: ""}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "a", "b", "layer")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			secret := filepath.Join(base, "a", "b", "secret")
			os.WriteFile(secret, []byte("keep"), 0o600)
			_, err := Unpack(bytes.NewReader(mkTar(t, tc.ents...)), dir, UnpackOptions{})
			if !errors.Is(err, ErrUnsafePath) {
				t.Fatalf("want ErrUnsafePath, got %v", err)
			}
			if !strings.Contains(err.Error(), "unpacking") {
				t.Errorf("error does not name the entry: %v", err)
			}
			// Nothing but the layer dir and the secret exists outside.
			var outside []string
			filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
				if strings.HasPrefix(p, dir) {
					return nil
				}
				outside = append(outside, strings.TrimPrefix(p, base))
				return nil
			})
			if strings.Join(outside, " ") != " /a /a/b /a/b/secret" {
				t.Errorf("outside the layer: %q", outside)
			}
			if b, _ := os.ReadFile(secret); string(b) != "keep" {
				t.Errorf("secret changed: %q", b)
			}
		})
	}
}

func TestUnpackInsideSymlinkFollowed(t *testing.T) {
	dir := t.TempDir()
	tb := mkTar(t, tent{name: "usr/lib/", typ: tar.TypeDir}, tent{name: "lib", typ: tar.TypeSymlink, link: "usr/lib"},
		tent{name: "lib/x.so", body: "so"}, tent{name: "hard", typ: tar.TypeLink, link: "usr/lib/x.so"})
	if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "usr/lib/x.so")); err != nil || string(b) != "so" {
		t.Fatalf("%q %v", b, err)
	}
	a, _ := os.Stat(filepath.Join(dir, "usr/lib/x.so"))
	b, _ := os.Stat(filepath.Join(dir, "hard"))
	if !os.SameFile(a, b) {
		t.Fatal("hard link is not the same file")
	}
}

func TestUnpackReplaces(t *testing.T) {
	dir := t.TempDir()
	// A later entry replaces an earlier one of another type, symlinks are not followed.
	tb := mkTar(t, tent{name: "x/", typ: tar.TypeDir}, tent{name: "x/y", body: "1"},
		tent{name: "x", body: "now a file"}, tent{name: "s", typ: tar.TypeSymlink, link: "target"}, tent{name: "s", body: "file"})
	if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "x")); string(b) != "now a file" {
		t.Fatalf("x = %q", b)
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); !os.IsNotExist(err) {
		t.Fatal("write followed the old symlink")
	}
}

func TestUnpackTruncated(t *testing.T) {
	tb := mkTar(t, tent{name: "f", body: strings.Repeat("x", 10000)})
	for name, in := range map[string][]byte{"plain": tb[:3000], "gzip": gz(t, tb)[:40]} {
		t.Run(name, func(t *testing.T) {
			if _, err := Unpack(bytes.NewReader(in), t.TempDir(), UnpackOptions{}); err == nil {
				t.Fatal("truncated layer accepted")
			}
		})
	}
}

// TestUnpackOrdering: small files are written by workers; entries that touch
// their paths later must still see the tar's order.
func TestUnpackOrdering(t *testing.T) {
	var ents []tent
	for i := 0; i < 300; i++ { // more than the workers' queue
		ents = append(ents, tent{name: fmt.Sprintf("many/f%03d", i), body: fmt.Sprint(i)})
	}
	ents = append(ents,
		tent{name: "twice", body: "first"},
		tent{name: "twice", body: "second"},
		tent{name: "linked", body: "target"},
		tent{name: "hard", typ: tar.TypeLink, link: "linked"},
		tent{name: "tosym", body: "file"},
		tent{name: "tosym", typ: tar.TypeSymlink, link: "linked"},
		tent{name: "todir", body: "file"},
		tent{name: "todir/", typ: tar.TypeDir},
		tent{name: "todir/in", body: "in"},
		tent{name: "d/", typ: tar.TypeDir},
		tent{name: "l", typ: tar.TypeSymlink, link: "d"},
		tent{name: "l/sub/", typ: tar.TypeDir},
		tent{name: "d/sub", body: "dir replaced by a file"},
		tent{name: "gone", body: "x"},
		tent{name: "gone2/", typ: tar.TypeDir},
		tent{name: "gone2/f", body: "x"},
		tent{name: "gone2", body: "dir with a pending file replaced"},
	)
	dir := t.TempDir()
	res, err := Unpack(bytes.NewReader(mkTar(t, ents...)), dir, UnpackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return string(b)
	}
	for i := 0; i < 300; i++ {
		if got := read(fmt.Sprintf("many/f%03d", i)); got != fmt.Sprint(i) {
			t.Fatalf("many/f%03d = %q", i, got)
		}
	}
	want := map[string]string{"twice": "second", "hard": "target", "tosym": "target", "todir/in": "in",
		"d/sub": "dir replaced by a file", "gone2": "dir with a pending file replaced"}
	for p, w := range want {
		if got := read(p); got != w {
			t.Errorf("%s = %q, want %q", p, got, w)
		}
	}
	a, _ := os.Stat(filepath.Join(dir, "hard"))
	b, _ := os.Stat(filepath.Join(dir, "linked"))
	if !os.SameFile(a, b) {
		t.Error("hard link to a worker-written file is not the same file")
	}
	if fi, _ := os.Lstat(filepath.Join(dir, "tosym")); fi.Mode()&os.ModeSymlink == 0 {
		t.Error("tosym is not a symlink")
	}
	if res.DiffID != digestOf(mkTar(t, ents...)) {
		t.Error("diffID")
	}
	// A file under a path a pending file holds is an error, as in order.
	_, err = Unpack(bytes.NewReader(mkTar(t, tent{name: "f", body: "x"}, tent{name: "f/g", body: "y"})), t.TempDir(), UnpackOptions{})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("file under a file: %v", err)
	}
}

// TestUnpackDirTimesNoEscape: directory times (and modes) are applied at
// the end; a directory whose parent was replaced by a symlink since must
// not be reached through that symlink.
func TestUnpackDirTimesNoEscape(t *testing.T) {
	base := t.TempDir()
	victim := filepath.Join(base, "victim")
	os.MkdirAll(filepath.Join(victim, "bin"), 0o755)
	before, _ := os.Stat(filepath.Join(victim, "bin"))
	dir := filepath.Join(base, "layer")
	os.Mkdir(dir, 0o755)
	tb := mkTar(t,
		tent{name: "a/", typ: tar.TypeDir},
		tent{name: "a/bin/", typ: tar.TypeDir, mode: 0o700},
		tent{name: "a", typ: tar.TypeSymlink, link: victim},
	)
	if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.Stat(filepath.Join(victim, "bin"))
	if !after.ModTime().Equal(before.ModTime()) || after.Mode() != before.Mode() {
		t.Fatalf("outside dir changed: %v %v -> %v %v", before.ModTime(), before.Mode(), after.ModTime(), after.Mode())
	}
}
