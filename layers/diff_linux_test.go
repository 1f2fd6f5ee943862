package layers

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// snapshot describes every file under root: type, mode, owner, size,
// content hash, link target, device, xattrs, mtime (ns) and which other
// path it is hard-linked to.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	inodes := map[uint64]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		desc := fmt.Sprintf("mode=%o uid=%d gid=%d mtime=%d.%09d", st.Mode, st.Uid, st.Gid, st.Mtim.Sec, st.Mtim.Nsec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			desc += fmt.Sprintf(" size=%d sha=%s", len(b), hex.EncodeToString(sum[:8]))
			if st.Nlink > 1 {
				if first, ok := inodes[st.Ino]; ok {
					desc += " hardlink=" + first
				} else {
					inodes[st.Ino] = rel
				}
			}
		case unix.S_IFLNK:
			l, _ := os.Readlink(p)
			desc += " link=" + l
		case unix.S_IFCHR, unix.S_IFBLK:
			desc += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		names, err := listXattrs(p)
		if err != nil {
			return err
		}
		sort.Strings(names)
		for _, n := range names {
			if strings.Contains(n, "overlay.") {
				continue
			}
			v, _ := getXattr(p, n)
			desc += fmt.Sprintf(" xattr[%s]=%q", n, v)
		}
		out[rel] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestDiffRoundTrip(t *testing.T) {
	testenv.RequirePrivileged(t)
	s := openTestStore(t)
	base := importTar(t, s, "base", mkTar(t,
		tent{name: "./", typ: tar.TypeDir},
		tent{name: "etc/", typ: tar.TypeDir},
		tent{name: "etc/keep", body: "keep"},
		tent{name: "etc/modify", body: "old"},
		tent{name: "etc/remove", body: "bye"},
		tent{name: "etc/chmod", body: "c", mode: 0o600},
		tent{name: "gone/", typ: tar.TypeDir},
		tent{name: "gone/a", body: "a"},
		tent{name: "opq/", typ: tar.TypeDir},
		tent{name: "opq/old1", body: "1"},
		tent{name: "opq/sub/", typ: tar.TypeDir},
		tent{name: "opq/sub/old2", body: "2"},
		tent{name: "bin/", typ: tar.TypeDir},
		tent{name: "bin/tool", body: "elf", mode: 0o755},
		tent{name: "bin/alias", typ: tar.TypeSymlink, link: "tool"},
		tent{name: "replaced", body: "file"},
	))
	// A second layer, so the diff goes over two lowers.
	second, err := s.Commit(CommitOptions{Base: "base", Layer: bytes.NewReader(mkTar(t,
		tent{name: "etc/", typ: tar.TypeDir}, tent{name: "etc/second", body: "2nd"}, tent{name: "etc/.wh.keep-not", body: ""},
	)), CreatedBy: "COPY second", Tags: []string{"second"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(second.DiffIDs) != 2 || second.ID == base.ID {
		t.Fatalf("second: %+v", second.DiffIDs)
	}
	r, err := s.PrepareRootfs("second", "c1")
	if err != nil {
		t.Fatal(err)
	}
	m := mountpoint(t)
	if err := MountOverlay(r, m); err != nil {
		t.Fatal(err)
	}
	j := func(p string) string { return filepath.Join(m, p) }
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(j("etc/new"), []byte("new file"), 0o640))
	must(os.WriteFile(j("etc/modify"), []byte("new content, longer"), 0o644))
	must(os.Remove(j("etc/remove")))
	must(os.Chmod(j("etc/chmod"), 0o4711))
	must(os.Lchown(j("etc/keep"), 123, 456))
	must(unix.Lsetxattr(j("etc/keep"), "user.mark", []byte("v"), 0))
	must(os.RemoveAll(j("gone")))
	must(os.RemoveAll(j("opq")))
	must(os.MkdirAll(j("opq/sub"), 0o711))
	must(os.WriteFile(j("opq/new"), []byte("n"), 0o644))
	must(os.Remove(j("replaced")))
	must(os.Mkdir(j("replaced"), 0o755))
	must(os.WriteFile(j("replaced/inside"), []byte("i"), 0o644))
	must(os.WriteFile(j("hl1"), []byte("linked"), 0o644))
	must(os.Link(j("hl1"), j("hl2")))
	must(os.Link(j("bin/tool"), j("bin/tool-link")))
	must(os.Symlink("/etc/new", j("abs-link")))
	must(unix.Mkfifo(j("fifo"), 0o620))
	must(unix.Mknod(j("null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	must(os.Rename(j("etc/second"), j("etc/second-renamed")))
	ts := time.Date(2020, 1, 2, 3, 4, 5, 123456789, time.UTC)
	must(os.Chtimes(j("etc/new"), ts, ts))
	want := snapshot(t, m)
	must(unix.Unmount(m, 0))

	img, err := s.Commit(CommitOptions{Base: "second", UpperDir: r.Upper, Author: "me", Comment: "round trip",
		CreatedBy: "/bin/sh -c changes", Config: &v1.Config{Cmd: []string{"/bin/tool"}}, Tags: []string{"committed:1"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.DiffIDs) != 3 || img.Config.Author != "me" || len(img.Config.History) != 3 || img.Config.Config.Cmd[0] != "/bin/tool" {
		t.Fatalf("committed image: layers %d author %q history %d", len(img.DiffIDs), img.Config.Author, len(img.Config.History))
	}
	r2, err := s.PrepareRootfs("committed:1", "c2")
	if err != nil {
		t.Fatal(err)
	}
	if err := MountOverlay(Rootfs{Lower: r2.Lower}, m); err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, m)
	must(unix.Unmount(m, 0))
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("merged tree after commit differs (-before +after):\n%s", diff)
	}
	// The blob is what the manifest says, and unpacks to the same diffID.
	f, err := s.OpenBlob(img.Manifest.Layers[2].Digest.String())
	must(err)
	res, err := Unpack(f, t.TempDir(), UnpackOptions{DiffID: img.DiffIDs[2]})
	f.Close()
	must(err)
	if res.DiffID != img.DiffIDs[2] {
		t.Fatal("diffID changed")
	}
	// The layer carries OCI whiteouts, not overlay's.
	f, err = s.OpenBlob(img.Manifest.Layers[2].Digest.String())
	must(err)
	defer f.Close()
	rc, _, err := Decompress(f)
	must(err)
	names := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	for _, n := range []string{"./", "etc/.wh.remove", ".wh.gone", "opq/.wh..wh..opq", "etc/.wh.second", "hl2", "etc/new"} {
		if !names[n] {
			t.Errorf("layer lacks %q; has %v", n, names)
		}
	}
	if !strings.Contains(want["hl2"], "hardlink=hl1") || !strings.Contains(want["opq/new"], "size=1") {
		t.Errorf("snapshot misses hard links or files: %q %q", want["hl2"], want["opq/new"])
	}
	must(s.RemoveRootfs("c1"))
	must(s.RemoveRootfs("c2"))
}

func TestCommitEmptyLayer(t *testing.T) {
	s := openTestStore(t)
	importTar(t, s, "base", mkTar(t, tent{name: "f", body: "x"}))
	img, err := s.Commit(CommitOptions{Base: "base", Config: &v1.Config{Env: []string{"A=1"}}, CreatedBy: "ENV A=1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(img.DiffIDs) != 1 || !img.Config.History[len(img.Config.History)-1].EmptyLayer || len(img.RepoTags) != 0 {
		t.Fatalf("%+v", img.Config.History)
	}
	if img.Config.Config.Env[0] != "A=1" {
		t.Fatal(img.Config.Config.Env)
	}
}
