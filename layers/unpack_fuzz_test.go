package layers

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// FuzzUnpack builds tars from fuzzed entry lists (type, name, link target)
// and checks that unpacking never creates or changes anything outside the
// layer directory.
func FuzzUnpack(f *testing.F) {
	f.Add("0:a/b:\n2:l:../..\n0:l/x:")
	f.Add("2:etc:/etc\n0:etc/passwd:")
	f.Add("5:d/:\n2:d/up:../../..\n0:d/up/out:\n1:h:../../x")
	f.Add("0:../../evil:\n0:.wh..wh..opq:\n0:a/.wh.b:")
	f.Add("5:x/:\n5:x/b/:\n2:x:../..") // a dir's parent replaced by an escaping symlink
	f.Fuzz(func(t *testing.T, spec string) {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, line := range strings.Split(spec, "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 || len(parts[0]) != 1 || parts[1] == "" || strings.HasPrefix(parts[1], ".wh.") || strings.Contains(parts[1], "/.wh.") {
				continue // whiteouts need mknod: covered by the privileged tests
			}
			h := &tar.Header{Name: parts[1], Linkname: parts[2], Mode: 0o755, Typeflag: parts[0][0]}
			switch h.Typeflag {
			case tar.TypeReg:
				h.Size = 1
			case tar.TypeDir, tar.TypeSymlink, tar.TypeLink:
			default:
				continue
			}
			if tw.WriteHeader(h) != nil {
				return
			}
			if h.Size == 1 {
				tw.Write([]byte("x"))
			}
		}
		tw.Close()
		base := t.TempDir()
		dir := filepath.Join(base, "a", "b", "layer")
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(base, "a", "sentinel"), []byte("s"), 0o600)
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		for _, p := range []string{"a/sentinel", "a/b", "a"} {
			os.Chtimes(filepath.Join(base, p), old, old)
		}
		Unpack(bytes.NewReader(buf.Bytes()), dir, UnpackOptions{})
		for _, p := range []string{"a/sentinel", "a/b", "a"} {
			fi, err := os.Lstat(filepath.Join(base, p))
			if err != nil || !fi.ModTime().Equal(old) || (fi.IsDir() && fi.Mode().Perm() != 0o755) {
				t.Fatalf("%s outside the layer dir changed: %v", p, fi)
			}
		}
		var outside []string
		filepath.Walk(base, func(p string, fi os.FileInfo, err error) error {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				return nil
			}
			outside = append(outside, strings.TrimPrefix(p, base))
			return nil
		})
		if strings.Join(outside, " ") != " /a /a/b /a/sentinel" {
			t.Fatalf("outside the layer dir: %q", outside)
		}
		if b, _ := os.ReadFile(filepath.Join(base, "a", "sentinel")); string(b) != "s" {
			t.Fatal("sentinel changed")
		}
	})
}
