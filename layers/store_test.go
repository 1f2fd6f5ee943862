package layers

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

func importTar(t *testing.T, s *Store, ref string, tarball []byte) *Image {
	t.Helper()
	img, err := s.Import(bytes.NewReader(tarball), ref, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func countDir(t *testing.T, dir string) int {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestImportAndLookup(t *testing.T) {
	s := openTestStore(t)
	tb := mkTar(t, tent{name: "bin/", typ: '5'}, tent{name: "bin/hello", body: "hi\n", mode: 0o755})
	img, err := s.Import(bytes.NewReader(tb), "hello:1", ImportOptions{Config: &v1.Config{Cmd: []string{"/bin/hello"}, Env: []string{"A=b"}}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"hello:1"}, img.RepoTags); diff != "" {
		t.Error(diff)
	}
	if diff := cmp.Diff([]string{"/bin/hello"}, img.Config.Config.Cmd); diff != "" {
		t.Error(diff)
	}
	if len(img.DiffIDs) != 1 || img.Size != 3 || img.ID != digestOf(img.RawConfig) {
		t.Errorf("image: %+v", img)
	}
	for _, ref := range []string{"hello:1", "docker.io/library/hello:1", img.ID, img.ID[7:19], "hello@" + img.Digest} {
		got, err := s.Image(ref)
		if err != nil {
			t.Fatalf("Image(%q): %v", ref, err)
		}
		if got.ID != img.ID {
			t.Errorf("Image(%q) = %s, want %s", ref, got.ID, img.ID)
		}
	}
	for _, ref := range []string{"hello", "hello:2", "sha256:" + img.ID[8:], "other"} {
		if _, err := s.Image(ref); !errors.Is(err, ErrNotFound) {
			t.Errorf("Image(%q) = %v, want ErrNotFound", ref, err)
		}
	}
	// The layer file is there, with its content.
	b, err := os.ReadFile(filepath.Join(s.LayerDir(img.ChainIDs[0]), "bin/hello"))
	if err != nil || string(b) != "hi\n" {
		t.Fatalf("layer content: %q %v", b, err)
	}
}

func TestTagRemoveAndRefcounts(t *testing.T) {
	s := openTestStore(t)
	base := mkTar(t, tent{name: "a", body: "shared"})
	img1 := importTar(t, s, "one", base)
	time.Sleep(2 * time.Millisecond) // a different created time: a different config, same layer
	img2 := importTar(t, s, "two", base)
	if img1.ID == img2.ID || img1.ChainIDs[0] != img2.ChainIDs[0] {
		t.Fatalf("want two images sharing a layer: %s %s", img1.ID, img2.ID)
	}
	if err := s.Tag("one", "alias:x"); err != nil {
		t.Fatal(err)
	}
	imgs, err := s.Images()
	if err != nil || len(imgs) != 2 {
		t.Fatalf("Images: %d %v", len(imgs), err)
	}
	// Removing one of two tags keeps the image.
	res, err := s.Remove("one", false)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(RemoveResult{Untagged: []string{"one:latest"}}, res); diff != "" {
		t.Error(diff)
	}
	if got, err := s.Image("alias:x"); err != nil || got.ID != img1.ID {
		t.Fatalf("alias: %v", err)
	}
	// Removing by ID an image with several tags needs force.
	if err := s.Tag("alias:x", "alias:y"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove(img1.ID, false); !errors.Is(err, ErrInUse) {
		t.Fatalf("remove multi-tagged by id: %v", err)
	}
	res, err = s.Remove(img1.ID, true)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(RemoveResult{Untagged: []string{"alias:x", "alias:y"}, Deleted: []string{img1.ID}}, res); diff != "" {
		t.Error(diff)
	}
	// The shared layer and its blob stay for image two; img1's config goes.
	if !s.HasLayer(img2.ChainIDs[0]) || !s.HasBlob(img2.Manifest.Layers[0].Digest.String()) {
		t.Fatal("shared layer removed while image two uses it")
	}
	if s.HasBlob(img1.ID) || s.HasBlob(img1.Digest) {
		t.Fatal("image one's config or manifest kept")
	}
	if _, err := s.Remove("two", false); err != nil {
		t.Fatal(err)
	}
	if s.HasLayer(img2.ChainIDs[0]) || countDir(t, filepath.Join(s.Root(), "blobs/sha256")) != 0 {
		t.Fatal("content kept after the last image went")
	}
	if got := countDir(t, filepath.Join(s.Root(), "layers")); got != 1 { // "empty"
		t.Fatalf("layers left: %d", got)
	}
}

func TestContainerKeepsImage(t *testing.T) {
	s := openTestStore(t)
	img := importTar(t, s, "app", mkTar(t, tent{name: "f", body: "x"}))
	cdir := filepath.Join(s.Root(), "containers", "c1")
	if err := os.MkdirAll(cdir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(cdir, "config.json"), []byte(`{"image_id":"`+img.ID+`"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Remove("app", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("remove used image: %v", err)
	}
	res, err := s.Remove("app", true)
	if err != nil || len(res.Deleted) != 0 {
		t.Fatalf("force remove: %+v %v", res, err)
	}
	// Dangling but kept, and prune keeps it too.
	got, err := s.Image(img.ID)
	if err != nil || len(got.RepoTags) != 0 {
		t.Fatalf("image after untag: %v", err)
	}
	if removed, _, err := s.Prune(false); err != nil || len(removed) != 0 {
		t.Fatalf("prune: %v %v", removed, err)
	}
	os.Remove(filepath.Join(cdir, "config.json"))
	removed, freed, err := s.Prune(false)
	if err != nil || len(removed) != 1 || freed == 0 {
		t.Fatalf("prune after container: %v %d %v", removed, freed, err)
	}
}

func TestPrepareRootfsData(t *testing.T) {
	s := openTestStore(t)
	img := importTar(t, s, "app", mkTar(t, tent{name: "f", body: "x"}))
	r, err := s.PrepareRootfs("app", "c1")
	if err != nil {
		t.Fatal(err)
	}
	want := Rootfs{
		Lower: []string{s.LayerDir(img.ChainIDs[0])},
		Upper: filepath.Join(s.Root(), "containers/c1/upper"),
		Work:  filepath.Join(s.Root(), "containers/c1/work"),
	}
	if diff := cmp.Diff(want, r); diff != "" {
		t.Error(diff)
	}
	// The rootfs keeps its layers even when the image is force-removed.
	if _, err := s.Remove("app", false); !errors.Is(err, ErrInUse) {
		t.Fatalf("remove: %v", err)
	}
	if err := s.RemoveRootfs("c1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r.Upper); !os.IsNotExist(err) {
		t.Fatal("upper kept")
	}
	if _, err := s.Remove("app", false); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PrepareRootfs("app", "c2"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("prepare missing: %v", err)
	}
	if _, err := s.PrepareRootfs("app", "../x"); err == nil {
		t.Fatal("bad container id accepted")
	}
}

func TestImagesSorted(t *testing.T) {
	s := openTestStore(t)
	for _, n := range []string{"a", "b", "c"} {
		if _, err := s.Import(bytes.NewReader(mkTar(t, tent{name: n, body: n})), n, ImportOptions{Created: testTime.Add(time.Duration(len(n)) * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	imgs, err := s.Images()
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, i := range imgs {
		tags = append(tags, i.RepoTags...)
	}
	sort.Strings(tags)
	if diff := cmp.Diff([]string{"a:latest", "b:latest", "c:latest"}, tags); diff != "" {
		t.Error(diff)
	}
}

// TestPartialLayerNotTrusted: a layer dir without its marker (a killed
// unpack) is never used, and the next unpack replaces it; a failed unpack
// leaves nothing in the store.
func TestPartialLayerNotTrusted(t *testing.T) {
	s := openTestStore(t)
	tb := mkTar(t, tent{name: "f", body: "good"})
	chain := digestOf(tb)
	partial := filepath.Join(s.layerDir(chain), "diff")
	if err := os.MkdirAll(partial, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(partial, "f"), []byte("half"), 0o644)
	if s.HasLayer(chain) {
		t.Fatal("layer without marker trusted")
	}
	unlock, _ := s.ingest()
	// A stream that breaks halfway fails and publishes nothing.
	bad := gz(t, tb)
	if err := s.unpackLayer(chain, "", chain, bytes.NewReader(bad[:len(bad)/2])); err == nil {
		t.Fatal("truncated layer accepted")
	}
	if s.HasLayer(chain) || countDir(t, filepath.Join(s.Root(), "tmp")) != 0 {
		t.Fatal("failed unpack left a trusted layer or temp files")
	}
	if err := s.unpackLayer(chain, "", chain, bytes.NewReader(bad)); err != nil {
		t.Fatal(err)
	}
	unlock()
	if b, _ := os.ReadFile(filepath.Join(s.LayerDir(chain), "f")); string(b) != "good" {
		t.Fatalf("f = %q", b)
	}
}

func TestHexLookingTag(t *testing.T) {
	s := openTestStore(t)
	importTar(t, s, "beef", mkTar(t, tent{name: "f", body: "x"}))
	if err := s.Tag("beef", "beef:2"); err != nil {
		t.Fatal(err)
	}
	res, err := s.Remove("beef", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Deleted) != 0 || len(res.Untagged) != 1 {
		t.Fatalf("%+v", res)
	}
}

// TestRootIsOCILayout: the state root reads as an OCI image layout.
func TestRootIsOCILayout(t *testing.T) {
	s := openTestStore(t)
	img := importTar(t, s, "app:1", mkTar(t, tent{name: "f", body: "x"}))
	if err := s.Tag("app:1", "quay.io/x/app:2"); err != nil {
		t.Fatal(err)
	}
	p, err := layout.FromPath(s.Root())
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range im.Manifests {
		names = append(names, d.Annotations["org.opencontainers.image.ref.name"])
		li, err := p.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if cn, _ := li.ConfigName(); cn.String() != img.ID {
			t.Fatalf("layout image config %s, want %s", cn, img.ID)
		}
		if err := validate.Image(li); err != nil {
			t.Fatal(err)
		}
	}
	if diff := cmp.Diff([]string{"docker.io/library/app:1", "quay.io/x/app:2"}, names); diff != "" {
		t.Error(diff)
	}
}

// TestConcurrentPublish: many goroutines unpacking the same layer at once
// end with one complete, correct layer and no error.
func TestConcurrentPublish(t *testing.T) {
	s := openTestStore(t)
	tb := mkTar(t, tent{name: "d/", typ: '5'}, tent{name: "d/f", body: "same"})
	chain := digestOf(tb)
	unlock, _ := s.ingest()
	defer unlock()
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func() { errs <- s.unpackLayer(chain, "", chain, bytes.NewReader(tb)) }()
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(s.LayerDir(chain), "d/f")); string(b) != "same" || !s.HasLayer(chain) {
		t.Fatalf("layer: %q", b)
	}
}
