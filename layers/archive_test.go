package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

func TestSaveLoadRoundTrip(t *testing.T) {
	src := openTestStore(t)
	a := importTar(t, src, "a:1", mkTar(t, tent{name: "f", body: "a"}))
	b, err := src.Commit(CommitOptions{Base: "a:1", Layer: bytes.NewReader(mkTar(t, tent{name: "g", body: "b"})), Tags: []string{"b:2", "quay.io/x/b:3"}})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := src.Save(&buf, []string{"a:1", "b:2", "quay.io/x/b:3"}); err != nil {
		t.Fatal(err)
	}
	// An independent reader (ggcr's tarball) sees the same image.
	opener := func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }
	gi, err := tarball.Image(opener, ptrTag(t, "b:2"))
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := gi.ConfigName(); id.String() != b.ID {
		t.Fatalf("ggcr reads config %s, want %s", id, b.ID)
	}
	gl, _ := gi.Layers()
	if d, _ := gl[1].DiffID(); len(gl) != 2 || d.String() != b.DiffIDs[1] {
		t.Fatalf("ggcr layers: %d", len(gl))
	}

	dst := openTestStore(t)
	imgs, err := dst.Load(bytes.NewReader(gz(t, buf.Bytes())))
	if err != nil {
		t.Fatal(err)
	}
	if len(imgs) != 2 {
		t.Fatalf("loaded %d images", len(imgs))
	}
	for ref, want := range map[string]*Image{"a:1": a, "b:2": b, "quay.io/x/b:3": b} {
		got, err := dst.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID || !cmp.Equal(got.DiffIDs, want.DiffIDs) {
			t.Errorf("%s: id %s diffIDs %v, want %s %v", ref, got.ID, got.DiffIDs, want.ID, want.DiffIDs)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(dst.LayerDir(b.ChainIDs[1]), "g")); string(b) != "b" {
		t.Fatalf("layer content %q", b)
	}
}

func ptrTag(t *testing.T, s string) *name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return &tag
}

// randomImage is a ggcr image with n layers of small random tars.
func randomImage(t *testing.T, n int) v1.Image {
	t.Helper()
	img, err := random.Image(512, int64(n))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestLoadGGCRDockerArchive(t *testing.T) {
	img := randomImage(t, 3)
	var buf bytes.Buffer
	if err := tarball.MultiRefWrite(map[name.Reference]v1.Image{mustTag(t, "r/one:1"): img, mustTag(t, "r/two:2"): img}, &buf); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	if _, err := s.Load(&buf); err != nil {
		t.Fatal(err)
	}
	want, _ := img.ConfigName()
	for _, ref := range []string{"r/one:1", "r/two:2"} {
		got, err := s.Image(ref)
		if err != nil {
			t.Fatal(err)
		}
		if got.ID != want.String() || len(got.DiffIDs) != 3 {
			t.Errorf("%s: %s", ref, got.ID)
		}
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

// ociArchive writes img as an OCI layout, tars it and returns the bytes.
func ociArchive(t *testing.T, img v1.Image, ref string, mutateFn func(dir string)) []byte {
	t.Helper()
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"io.containerd.image.name": ref, "org.opencontainers.image.ref.name": "x"})); err != nil {
		t.Fatal(err)
	}
	if mutateFn != nil {
		mutateFn(dir)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		rel, _ := filepath.Rel(dir, p)
		if rel == "." || fi.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(p)
		tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		return nil
	})
	tw.Close()
	return buf.Bytes()
}

func TestLoadOCIArchive(t *testing.T) {
	img := randomImage(t, 2)
	s := openTestStore(t)
	imgs, err := s.Load(bytes.NewReader(gz(t, ociArchive(t, img, "example.com/oci/img:v1", nil))))
	if err != nil {
		t.Fatal(err)
	}
	md, _ := img.Digest()
	if len(imgs) != 1 || imgs[0].Digest != md.String() {
		t.Fatalf("loaded %v", imgs)
	}
	if got, err := s.Image("example.com/oci/img:v1"); err != nil || got.Digest != md.String() {
		t.Fatalf("tag: %v", err)
	}
}

// TestLoadBadInput: every broken archive fails with an error naming what is
// wrong, and no tag points at anything.
func TestLoadBadInput(t *testing.T) {
	good := func() []byte {
		src := openTestStore(t)
		importTar(t, src, "good", mkTar(t, tent{name: "f", body: strings.Repeat("x", 5000)}))
		var buf bytes.Buffer
		if err := src.Save(&buf, []string{"good"}); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}()
	rewrite := func(in []byte, fn func(name string, b []byte) (string, []byte, bool)) []byte {
		var out bytes.Buffer
		tw := tar.NewWriter(&out)
		tr := tar.NewReader(bytes.NewReader(in))
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			b, _ := io.ReadAll(tr)
			n, nb, keep := fn(h.Name, b)
			if !keep {
				continue
			}
			h.Name, h.Size = n, int64(len(nb))
			tw.WriteHeader(h)
			tw.Write(nb)
		}
		tw.Close()
		return out.Bytes()
	}
	isLayer := func(n string, b []byte) bool { return strings.HasPrefix(n, "blobs/") && len(b) > 4000 }
	img := randomImage(t, 1)
	badType := mutate.ConfigMediaType(img, types.MediaType("application/x-unknown"))
	tests := []struct {
		name    string
		archive []byte
		want    error
		msg     string
	}{
		{"truncated", good[:len(good)/2], nil, "reading archive"},
		{"corrupt layer", rewrite(good, func(n string, b []byte) (string, []byte, bool) {
			if isLayer(n, b) {
				b = bytes.Replace(b, []byte("xxxx"), []byte("yyyy"), 1)
			}
			return n, b, true
		}), ErrDigestMismatch, "layer blobs/sha256/"},
		{"missing layer", rewrite(good, func(n string, b []byte) (string, []byte, bool) { return n, b, !isLayer(n, b) }), ErrNotFound, "layer blobs/sha256/"},
		{"not an archive", []byte("hello"), nil, "archive"},
		{"unknown media type", ociArchive(t, badType, "bad/type:1", nil), ErrUnsupportedMediaType, "application/x-unknown"},
		{"manifest digest mismatch", ociArchive(t, img, "bad/digest:1", func(dir string) {
			md, _ := img.Digest()
			p := filepath.Join(dir, "blobs/sha256", md.Hex)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, append(b, ' '), 0o644)
		}), ErrDigestMismatch, "manifest"},
		{"corrupt blob", ociArchive(t, img, "bad/blob:1", func(dir string) {
			ls, _ := img.Layers()
			d, _ := ls[0].Digest()
			p := filepath.Join(dir, "blobs/sha256", d.Hex)
			b, _ := os.ReadFile(p)
			b[len(b)/2] ^= 0xff
			os.WriteFile(p, b, 0o644)
		}), nil, "layer sha256:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := openTestStore(t)
			_, err := s.Load(bytes.NewReader(tc.archive))
			if err == nil {
				t.Fatal("bad archive loaded")
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q does not mention %q", err, tc.msg)
			}
			imgs, _ := s.Images()
			if len(imgs) != 0 {
				t.Errorf("images after a failed load: %d", len(imgs))
			}
			if _, err := s.GC(); err != nil {
				t.Fatal(err)
			}
			if n := countDir(t, filepath.Join(s.Root(), "blobs/sha256")); n != 0 {
				t.Errorf("%d blobs left after GC", n)
			}
		})
	}
}
