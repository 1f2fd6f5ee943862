package layers

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// memRegistry starts ggcr's in-memory registry on 127.0.0.1, optionally
// behind wrap, and returns its host:port.
func memRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	h := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func writeConfig(t *testing.T, s *Store, c string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(s.Root(), "config.json"), []byte(c), 0o644); err != nil {
		t.Fatal(err)
	}
}

func insecureStore(t *testing.T, hosts ...string) *Store {
	s := openTestStore(t)
	writeConfig(t, s, `{"insecure-registries":["`+strings.Join(hosts, `","`)+`"]}`)
	return s
}

// events collects progress statuses.
type events struct {
	mu sync.Mutex
	by map[string]int
}

func (e *events) fn(ev ProgressEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.by == nil {
		e.by = map[string]int{}
	}
	e.by[ev.Status]++
}

func (e *events) count(s string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.by[s]
}

func threeLayerImage(t *testing.T, s *Store, tag string) *Image {
	t.Helper()
	importTar(t, s, tag+"-base", mkTar(t, tent{name: "a", body: strings.Repeat("a", 100000)}))
	img, err := s.Commit(CommitOptions{Base: tag + "-base", Layer: bytes.NewReader(mkTar(t, tent{name: "b", body: "b"}))})
	if err != nil {
		t.Fatal(err)
	}
	img, err = s.Commit(CommitOptions{Base: img.ID, Layer: bytes.NewReader(mkTar(t, tent{name: "c", body: "c"})), Tags: []string{tag}})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPushPullInMemory(t *testing.T) {
	host := memRegistry(t, nil)
	ctx := context.Background()
	src := insecureStore(t, host)
	ref := host + "/test/img:1"
	img := threeLayerImage(t, src, ref)
	digest, err := src.Push(ctx, ref, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if digest != img.Digest {
		t.Fatalf("pushed digest %s, stored %s", digest, img.Digest)
	}
	dst := insecureStore(t, host)
	var ev events
	got, err := dst.Pull(ctx, ref, RegistryOptions{Progress: ev.fn, Lazy: true})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || got.Digest != img.Digest || len(got.DiffIDs) != 3 {
		t.Fatalf("pulled %s/%s, pushed %s/%s", got.ID, got.Digest, img.ID, img.Digest)
	}
	if ev.count("Pull complete") != 3 || ev.count("Already exists") != 0 {
		t.Fatalf("events %v", ev.by)
	}
	if len(got.RepoDigests) != 1 || got.RepoDigests[0] != host+"/test/img@"+img.Digest {
		t.Fatalf("repo digests %v", got.RepoDigests)
	}
	// Pulled lazily, not unpacked: the first rootfs unpacks.
	if dst.HasLayer(got.ChainIDs[0]) {
		t.Fatal("layer unpacked by a lazy pull")
	}
	if _, err := dst.PrepareRootfs(ref, "c1"); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dst.LayerDir(got.ChainIDs[2]), "c")); string(b) != "c" {
		t.Fatal("layer not unpacked")
	}
	// By default the pull unpacks as it streams.
	eager := insecureStore(t, host)
	if _, err := eager.Pull(ctx, ref, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, ch := range got.ChainIDs {
		if !eager.HasLayer(ch) {
			t.Fatalf("layer %s not unpacked by an unpacking pull", ch)
		}
	}
	// Again: nothing is fetched.
	var ev2 events
	if _, err := dst.Pull(ctx, ref, RegistryOptions{Progress: ev2.fn, Lazy: true}); err != nil {
		t.Fatal(err)
	}
	if ev2.count("Already exists") != 3 || ev2.count("Pull complete") != 0 {
		t.Fatalf("second pull events %v", ev2.by)
	}
	// By digest.
	if _, err := dst.Pull(ctx, host+"/test/img@"+img.Digest, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestPullRefusesPlainHTTP(t *testing.T) {
	host := memRegistry(t, nil)
	s := openTestStore(t)
	_, err := s.Pull(context.Background(), host+"/x/y:1", RegistryOptions{})
	if err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("want plain HTTP refused, got %v", err)
	}
}

func TestPullMultiArch(t *testing.T) {
	host := memRegistry(t, nil)
	var idx v1.ImageIndex = empty.Index
	want := map[string]v1.Hash{}
	for _, arch := range []string{"arm64", "amd64", "s390x"} {
		img := randomImage(t, 1)
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Architecture, cf.OS = arch, "linux"
		img, err := mutate.ConfigFile(img, cf)
		if err != nil {
			t.Fatal(err)
		}
		d, _ := img.Digest()
		want[arch] = d
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	tag, _ := name.NewTag(host+"/multi/img:1", name.Insecure)
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	s := insecureStore(t, host)
	img, err := s.Pull(context.Background(), host+"/multi/img:1", RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != want[runtime.GOARCH].String() {
		t.Fatalf("pulled %s, want the %s manifest %s", img.Digest, runtime.GOARCH, want[runtime.GOARCH])
	}
	idxDigest, _ := idx.Digest()
	if img.RepoDigests[0] != host+"/multi/img@"+idxDigest.String() {
		t.Fatalf("repo digest %v", img.RepoDigests)
	}
	other, err := s.Pull(context.Background(), host+"/multi/img:1", RegistryOptions{Platform: &v1.Platform{OS: "linux", Architecture: "s390x"}})
	if err != nil {
		t.Fatal(err)
	}
	if other.Digest != want["s390x"].String() || other.Config.Architecture != "s390x" {
		t.Fatalf("platform s390x: got %s", other.Digest)
	}
	if _, err := s.Pull(context.Background(), host+"/multi/img:1", RegistryOptions{Platform: &v1.Platform{OS: "windows", Architecture: "amd64"}}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing platform: %v", err)
	}
}

func TestPullThroughMirror(t *testing.T) {
	host := memRegistry(t, nil)
	src := insecureStore(t, host)
	img := threeLayerImage(t, src, host+"/library/busybox:latest")
	if _, err := src.Push(context.Background(), host+"/library/busybox:latest", RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	s := openTestStore(t)
	// The first mirror is down; the second has the image; docker.io is never reached.
	writeConfig(t, s, `{"registry-mirrors":["http://127.0.0.1:1","http://`+host+`"]}`)
	got, err := s.Pull(context.Background(), "busybox", RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != img.ID || got.RepoTags[0] != "busybox:latest" {
		t.Fatalf("pulled %s %v", got.ID, got.RepoTags)
	}
}

// TestPullBadRegistry: a registry that fails halfway or serves wrong bytes
// leaves no image, no tag and nothing GC would keep.
func TestPullBadRegistry(t *testing.T) {
	fail500 := func(w http.ResponseWriter, r *http.Request, h http.Handler) {
		http.Error(w, "boom", http.StatusInternalServerError)
	}
	corrupt := func(w http.ResponseWriter, r *http.Request, h http.Handler) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		b := rec.Body.Bytes()
		if len(b) > 0 {
			b[len(b)/2] ^= 0xff
		}
		w.WriteHeader(rec.Code)
		w.Write(b)
	}
	for _, tc := range []struct {
		name   string
		bad    func(w http.ResponseWriter, r *http.Request, h http.Handler)
		target func(img *Image) string // path suffix the bad handler serves
		ref    func(host string, img *Image) string
	}{
		{"500 halfway", fail500, secondLayer, byTag},
		{"corrupt layer", corrupt, secondLayer, byTag},
		{"unknown digest", nil, secondLayer, func(host string, _ *Image) string {
			return host + "/bad/img@sha256:" + strings.Repeat("0", 64)
		}},
		{"manifest digest mismatch", corrupt, func(img *Image) string { return "manifests/" + img.Digest }, func(host string, img *Image) string {
			return host + "/bad/img@" + img.Digest
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var armed atomic.Bool
			var layer atomic.Value
			layer.Store("none")
			host := memRegistry(t, func(h http.Handler) http.Handler {
				return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					if armed.Load() && tc.bad != nil && r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, layer.Load().(string)) {
						tc.bad(w, r, h)
						return
					}
					h.ServeHTTP(w, r)
				})
			})
			src := insecureStore(t, host)
			img := threeLayerImage(t, src, host+"/bad/img:1")
			layer.Store(tc.target(img))
			if _, err := src.Push(context.Background(), host+"/bad/img:1", RegistryOptions{}); err != nil {
				t.Fatal(err)
			}
			armed.Store(true)
			ref := tc.ref(host, img)
			s := insecureStore(t, host)
			_, err := s.Pull(context.Background(), ref, RegistryOptions{})
			if err == nil {
				t.Fatal("bad pull succeeded")
			}
			if !strings.Contains(err.Error(), "bad/img") {
				t.Errorf("error does not name the image: %v", err)
			}
			t.Log(err)
			if imgs, _ := s.Images(); len(imgs) != 0 {
				t.Fatalf("%d images after a failed pull", len(imgs))
			}
			if _, err := s.GC(); err != nil {
				t.Fatal(err)
			}
			if n := countDir(t, filepath.Join(s.Root(), "blobs/sha256")); n != 0 {
				t.Errorf("%d blobs kept", n)
			}
			if n := countDir(t, filepath.Join(s.Root(), "layers")); n != 1 {
				t.Errorf("%d layer dirs kept", n)
			}
		})
	}
}

func secondLayer(img *Image) string        { return img.Manifest.Layers[1].Digest.String() }
func byTag(host string, img *Image) string { return host + "/bad/img:1" }

// TestCorruptBlobAfterPull: a blob damaged on disk after a lazy pull is
// caught when the layer is unpacked; nothing is trusted.
func TestCorruptBlobAfterPull(t *testing.T) {
	host := memRegistry(t, nil)
	src := insecureStore(t, host)
	ref := host + "/test/img:1"
	img := threeLayerImage(t, src, ref)
	if _, err := src.Push(context.Background(), ref, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	s := insecureStore(t, host)
	if _, err := s.Pull(context.Background(), ref, RegistryOptions{Lazy: true}); err != nil {
		t.Fatal(err)
	}
	p := s.blobPath(img.Manifest.Layers[0].Digest.String())
	b, _ := os.ReadFile(p)
	b[len(b)-20] ^= 0xff
	os.WriteFile(p, b, 0o644)
	_, err := s.PrepareRootfs(ref, "c1")
	if err == nil || !strings.Contains(err.Error(), img.Manifest.Layers[0].Digest.String()) {
		t.Fatalf("want an error naming the layer, got %v", err)
	}
	if s.HasLayer(img.ChainIDs[0]) {
		t.Fatal("corrupt layer trusted")
	}
}
