package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/stack-dev/stack/layers"
)

// Cache is the build cache of a state root, <root>/build-cache:
//
//	entries/<key hex>   {"image": "sha256:..."}: the image a step made (see CacheKey)
//	images/<id hex>     an image a build step committed (removed by `builder prune`)
//	results/<id hex>    an image a build returned (kept by `builder prune`)
//	tmp/                RUN upper and work directories, COPY views
//
// Every step of a build commits an image (as docker's classic builder
// does); the cache maps the step's key to it, and those images keep the
// cached layers alive. An entry is written with a rename, so it is whole
// or absent; it is not synced: an entry lost in a crash is a cache miss.
type Cache struct {
	dir string
}

// OpenCache returns the build cache of the state root.
func OpenCache(root string) *Cache { return &Cache{dir: filepath.Join(root, "build-cache")} }

type cacheEntry struct {
	Image   string       `json:"image,omitempty"`
	Layer   *CachedLayer `json:"layer,omitempty"`
	Created time.Time    `json:"created"`
}

// CachedLayer is the layer a step made, for its layer key.
type CachedLayer struct {
	Empty         bool   `json:"empty,omitempty"` // the step changed no file
	DiffID        string `json:"diff_id,omitempty"`
	Blob          string `json:"blob,omitempty"`           // the compressed blob in the store
	ContentDigest string `json:"content_digest,omitempty"` // COPY/ADD: "file:<hex>" for the history
}

// GetLayer returns the layer recorded for a layer key.
func (c *Cache) GetLayer(key string) (CachedLayer, bool) {
	b, err := os.ReadFile(c.entryPath(key))
	if err != nil {
		return CachedLayer{}, false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Layer == nil {
		return CachedLayer{}, false
	}
	return *e.Layer, true
}

// PutLayer records the layer a step made under its layer key.
func (c *Cache) PutLayer(key string, l CachedLayer) error {
	b, _ := json.Marshal(cacheEntry{Layer: &l, Created: time.Now().UTC()})
	return writeFileRename(c.entryPath(key), b)
}

func keyHex(key string) string { return strings.TrimPrefix(key, "sha256:") }

func (c *Cache) entryPath(key string) string {
	return filepath.Join(c.dir, "entries", keyHex(key))
}

// Get returns the image the step with this key made.
func (c *Cache) Get(key string) (string, bool) {
	b, err := os.ReadFile(c.entryPath(key))
	if err != nil {
		return "", false
	}
	var e cacheEntry
	if json.Unmarshal(b, &e) != nil || e.Image == "" {
		return "", false
	}
	return e.Image, true
}

// Put records that the step with this key made image id.
func (c *Cache) Put(key, id string) error {
	b, _ := json.Marshal(cacheEntry{Image: id, Created: time.Now().UTC()})
	return writeFileRename(c.entryPath(key), b)
}

// Delete forgets a key.
func (c *Cache) Delete(key string) { os.Remove(c.entryPath(key)) }

// writeFileRename writes a file through a temp file and a rename: readers
// see it whole or not at all.
func writeFileRename(path string, b []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing build cache: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-")
	if err != nil {
		return fmt.Errorf("writing build cache: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return fmt.Errorf("writing build cache: %w", err)
	}
	return nil
}

// tempDir makes a directory under <root>/build-cache/tmp (not the image
// store's tmp/, which its GC empties at any time).
func (c *Cache) tempDir(prefix string) (string, error) {
	dir := filepath.Join(c.dir, "tmp")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("making build directory: %w", err)
	}
	d, err := os.MkdirTemp(dir, prefix)
	if err != nil {
		return "", fmt.Errorf("making build directory: %w", err)
	}
	return d, nil
}

// markImage records an image a step committed.
func (c *Cache) markImage(id string) {
	_ = writeFileRename(filepath.Join(c.dir, "images", keyHex(id)), nil)
}

// markResult records an image that a build returned: `builder prune`
// leaves it to `image prune`.
func (c *Cache) markResult(id string) {
	p := filepath.Join(c.dir, "results", keyHex(id))
	if _, err := os.Stat(p); err == nil {
		return
	}
	_ = writeFileRename(p, nil)
}

// IntermediateImages returns the IDs of the images build steps committed
// that no build returned: what `stack images` may hide, as docker hides
// its classic builder's intermediate images without -a.
func IntermediateImages(root string) map[string]bool {
	c := OpenCache(root)
	out := map[string]bool{}
	marked, _ := os.ReadDir(filepath.Join(c.dir, "images"))
	for _, m := range marked {
		if _, err := os.Stat(filepath.Join(c.dir, "results", m.Name())); err != nil {
			out["sha256:"+m.Name()] = true
		}
	}
	return out
}

// PruneReport says what Prune did.
type PruneReport struct {
	Entries int      // cache entries removed
	Images  []string // intermediate images removed
}

// PruneCache empties the build cache of the store's root and removes the
// intermediate images that only the cache kept: untagged, not the result
// of a build, used by no container. Their layers go with them unless an
// image still uses them.
func PruneCache(store *layers.Store) (PruneReport, error) {
	var rep PruneReport
	c := OpenCache(store.Root())
	entries, err := os.ReadDir(filepath.Join(c.dir, "entries"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("pruning build cache: %w", err)
	}
	ids := map[string]bool{}
	for _, e := range entries {
		p := filepath.Join(c.dir, "entries", e.Name())
		if b, err := os.ReadFile(p); err == nil {
			var ce cacheEntry
			if json.Unmarshal(b, &ce) == nil && ce.Image != "" {
				ids[ce.Image] = true
			}
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return rep, fmt.Errorf("pruning build cache: %w", err)
		}
		rep.Entries++
	}
	// Every image a step committed, also those whose entry a later build
	// replaced (--no-cache).
	marked, _ := os.ReadDir(filepath.Join(c.dir, "images"))
	for _, m := range marked {
		ids["sha256:"+m.Name()] = true
		os.Remove(filepath.Join(c.dir, "images", m.Name()))
	}
	// Results of builds whose image is gone need no marker any more.
	results, _ := os.ReadDir(filepath.Join(c.dir, "results"))
	kept := map[string]bool{}
	for _, r := range results {
		id := "sha256:" + r.Name()
		if _, err := store.Image(id); err != nil {
			os.Remove(filepath.Join(c.dir, "results", r.Name()))
			continue
		}
		kept[id] = true
	}
	// Stale temp dirs of builds that died (an hour old: no build running).
	tmps, _ := os.ReadDir(filepath.Join(c.dir, "tmp"))
	for _, t := range tmps {
		if fi, err := t.Info(); err == nil && time.Since(fi.ModTime()) > time.Hour {
			os.RemoveAll(filepath.Join(c.dir, "tmp", t.Name()))
		}
	}
	var sorted []string
	for id := range ids {
		sorted = append(sorted, id)
	}
	sort.Strings(sorted)
	// Newest first is not needed: each image is self-contained.
	for _, id := range sorted {
		if kept[id] {
			continue
		}
		img, err := store.Image(id)
		if err != nil || len(img.RepoTags) > 0 {
			continue
		}
		res, err := store.Remove(id, false)
		if errors.Is(err, layers.ErrInUse) {
			continue
		}
		if err != nil {
			return rep, fmt.Errorf("pruning build cache: %w", err)
		}
		rep.Images = append(rep.Images, res.Deleted...)
	}
	return rep, nil
}
