package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Image is an image in the store.
type Image struct {
	ID          string        // config digest, "sha256:..." (docker's image ID)
	Digest      string        // manifest digest
	RepoTags    []string      // familiar name:tag, sorted ("busybox:latest")
	RepoDigests []string      // familiar name@sha256:... as pulled or pushed
	Manifest    v1.Manifest   // OCI or docker schema 2 manifest
	Config      v1.ConfigFile // the image config
	RawConfig   []byte        // config bytes exactly as stored (hash to ID)
	RawManifest []byte        // manifest bytes exactly as stored (hash to Digest)
	DiffIDs     []string      // uncompressed layer digests, bottom first
	ChainIDs    []string      // chain IDs, bottom first; they name <root>/layers/<hex>
	Size        int64         // bytes of file content of the layers; a layer not unpacked yet counts its compressed size
	Added       time.Time     // when the image entered this store
}

// ChainIDs computes the chain ID of every prefix of diffIDs (OCI image spec).
func ChainIDs(diffIDs []string) []string {
	out := make([]string, len(diffIDs))
	for i, d := range diffIDs {
		if i == 0 {
			out[i] = d
			continue
		}
		sum := sha256.Sum256([]byte(out[i-1] + " " + d))
		out[i] = "sha256:" + hex.EncodeToString(sum[:])
	}
	return out
}

var (
	manifestTypes = map[types.MediaType]bool{types.OCIManifestSchema1: true, types.DockerManifestSchema2: true}
	configTypes   = map[types.MediaType]bool{types.OCIConfigJSON: true, types.DockerConfigJSON: true}
	layerTypes    = map[types.MediaType]bool{
		types.OCILayer: true, types.OCIUncompressedLayer: true, types.OCILayerZStd: true,
		types.DockerLayer: true, types.DockerUncompressedLayer: true,
		types.OCIRestrictedLayer: true, types.OCIUncompressedRestrictedLayer: true, types.DockerForeignLayer: true,
	}
)

// parseManifest decodes and checks an image manifest and its config.
func parseManifest(raw []byte, configRaw []byte) (*v1.Manifest, *v1.ConfigFile, error) {
	var m v1.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, nil, fmt.Errorf("decoding manifest: %w", err)
	}
	if m.MediaType == "" {
		m.MediaType = types.OCIManifestSchema1
	}
	if !manifestTypes[m.MediaType] {
		return nil, nil, fmt.Errorf("manifest media type %q: %w", m.MediaType, ErrUnsupportedMediaType)
	}
	if !configTypes[m.Config.MediaType] {
		return nil, nil, fmt.Errorf("config media type %q: %w", m.Config.MediaType, ErrUnsupportedMediaType)
	}
	for _, l := range m.Layers {
		if !layerTypes[l.MediaType] {
			return nil, nil, fmt.Errorf("layer %s media type %q: %w", l.Digest, l.MediaType, ErrUnsupportedMediaType)
		}
	}
	if configRaw == nil {
		return &m, nil, nil
	}
	if got := digestOf(configRaw); got != m.Config.Digest.String() {
		return nil, nil, fmt.Errorf("config %s: content hashes to %s: %w", m.Config.Digest, got, ErrDigestMismatch)
	}
	var c v1.ConfigFile
	if err := json.Unmarshal(configRaw, &c); err != nil {
		return nil, nil, fmt.Errorf("decoding config %s: %w", m.Config.Digest, err)
	}
	if len(c.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("config %s lists %d layers, manifest %d", m.Config.Digest, len(c.RootFS.DiffIDs), len(m.Layers))
	}
	return &m, &c, nil
}

// loadImage builds an Image from a manifest digest and its record.
func (s *Store) loadImage(mdigest string, rec *imageRecord, d *db) (*Image, error) {
	raw, err := s.readBlob(mdigest)
	if err != nil {
		return nil, fmt.Errorf("image %s: manifest: %w", rec.ID, err)
	}
	m, _, err := parseManifest(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.ID, err)
	}
	craw, err := s.readBlob(m.Config.Digest.String())
	if err != nil {
		return nil, fmt.Errorf("image %s: config: %w", rec.ID, err)
	}
	_, c, err := parseManifest(raw, craw)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", rec.ID, err)
	}
	img := &Image{ID: m.Config.Digest.String(), Digest: mdigest, Manifest: *m, Config: *c,
		RawConfig: craw, RawManifest: raw, Added: rec.Added}
	for _, h := range c.RootFS.DiffIDs {
		img.DiffIDs = append(img.DiffIDs, h.String())
	}
	img.ChainIDs = ChainIDs(img.DiffIDs)
	for i, ch := range img.ChainIDs {
		if mk, err := s.layerMarker(ch); err == nil {
			img.Size += mk.Size
		} else if i < len(m.Layers) {
			img.Size += m.Layers[i].Size
		}
	}
	for t, md := range d.Tags {
		if md == mdigest {
			img.RepoTags = append(img.RepoTags, familiar(t))
		}
	}
	sort.Strings(img.RepoTags)
	for _, rd := range rec.RepoDigests {
		img.RepoDigests = append(img.RepoDigests, familiar(rd))
	}
	return img, nil
}

var hexPrefix = regexp.MustCompile(`^[0-9a-f]{4,64}$`)

// resolve finds the manifest digest that ref names: a tag, name@digest, a
// full or short image ID ("sha256:..." or hex prefix), or a manifest digest.
func (s *Store) resolve(d *db, ref string) (string, error) {
	if id, ok := strings.CutPrefix(ref, "sha256:"); ok || hexPrefix.MatchString(ref) {
		var found []string
		for md, rec := range d.Images {
			if strings.HasPrefix(strings.TrimPrefix(rec.ID, "sha256:"), id) || (ok && md == ref) {
				found = append(found, md)
			}
		}
		if len(found) == 1 {
			return found[0], nil
		}
		if len(found) > 1 {
			// Several manifests of one config are one image; take the newest.
			sameID := true
			for _, md := range found {
				sameID = sameID && d.Images[md].ID == d.Images[found[0]].ID
			}
			if !sameID {
				return "", fmt.Errorf("image %s: %w", ref, ErrAmbiguous)
			}
			sort.Slice(found, func(i, j int) bool { return d.Images[found[i]].Added.After(d.Images[found[j]].Added) })
			return found[0], nil
		}
		if ok {
			return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
		}
	}
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	if r.Digest != "" {
		if _, ok := d.Images[r.Digest]; ok {
			return r.Digest, nil
		}
		want := r.Repository() + "@" + r.Digest
		for md, rec := range d.Images {
			for _, rd := range rec.RepoDigests {
				if rd == want {
					return md, nil
				}
			}
		}
		return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
	}
	if md, ok := d.Tags[r.String()]; ok {
		return md, nil
	}
	return "", fmt.Errorf("image %s: %w", ref, ErrNotFound)
}

// Image returns the image that ref names: name[:tag], name@sha256:...,
// an image ID (sha256:... or a unique hex prefix). Not found wraps ErrNotFound.
func (s *Store) Image(ref string) (*Image, error) {
	d, err := s.readDB()
	if err != nil {
		return nil, err
	}
	md, err := s.resolve(d, ref)
	if err != nil {
		return nil, err
	}
	return s.loadImage(md, d.Images[md], d)
}

// Images lists every image, newest first; an image without tags is dangling.
func (s *Store) Images() ([]*Image, error) {
	d, err := s.readDB()
	if err != nil {
		return nil, err
	}
	var out []*Image
	for md, rec := range d.Images {
		img, err := s.loadImage(md, rec, d)
		if err != nil {
			return nil, err
		}
		out = append(out, img)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, cj := out[i].Config.Created.Time, out[j].Config.Created.Time
		if !ci.Equal(cj) {
			return ci.After(cj)
		}
		return out[i].Digest < out[j].Digest
	})
	return out, nil
}

// Tag points the tag target (name[:tag]) at the image src names.
func (s *Store) Tag(src, target string) error {
	r, err := ParseReference(target)
	if err != nil {
		return err
	}
	if r.Digest != "" {
		return fmt.Errorf("tagging %s: target %s has a digest; give a tag", src, target)
	}
	return s.updateDB(func(d *db) error {
		md, err := s.resolve(d, src)
		if err != nil {
			return err
		}
		d.Tags[r.String()] = md
		return nil
	})
}

// registerImage records a manifest (already stored with its config, layer
// blobs and unpacked layers) and points tags at it. The caller holds the
// ingest lock. It checks that all content is present first, so a tag never
// points to missing content.
func (s *Store) registerImage(mdigest string, tags []string, repoDigest string) (*Image, error) {
	raw, err := s.readBlob(mdigest)
	if err != nil {
		return nil, err
	}
	m, _, err := parseManifest(raw, nil)
	if err != nil {
		return nil, err
	}
	craw, err := s.readBlob(m.Config.Digest.String())
	if err != nil {
		return nil, err
	}
	if _, _, err := parseManifest(raw, craw); err != nil {
		return nil, err
	}
	for _, l := range m.Layers {
		if !s.HasBlob(l.Digest.String()) {
			return nil, fmt.Errorf("layer %s: %w", l.Digest, ErrNotFound)
		}
	}
	// Layers not unpacked yet are unpacked from their blobs on first use
	// (UnpackImage, PrepareRootfs): the blobs are the content.
	var canon []string
	for _, t := range tags {
		r, err := ParseReference(t)
		if err != nil {
			return nil, err
		}
		if r.Digest != "" && r.Tag == "" {
			continue
		}
		r.Digest = ""
		canon = append(canon, r.String())
	}
	err = s.updateDB(func(d *db) error {
		rec := d.Images[mdigest]
		if rec == nil {
			rec = &imageRecord{ID: m.Config.Digest.String(), Added: time.Now().UTC()}
			d.Images[mdigest] = rec
		}
		if repoDigest != "" && !contains(rec.RepoDigests, repoDigest) {
			rec.RepoDigests = append(rec.RepoDigests, repoDigest)
		}
		for _, t := range canon {
			d.Tags[t] = mdigest
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	d, err := s.readDB()
	if err != nil {
		return nil, err
	}
	return s.loadImage(mdigest, d.Images[mdigest], d)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// containerImages returns the image IDs that containers use, read from
// <root>/containers/*/config.json (field "image_id", written by the runtime)
// and <root>/containers/*/rootfs.json (written by PrepareRootfs).
func (s *Store) containerImages() (map[string][]string, error) {
	out := map[string][]string{}
	dirs, err := os.ReadDir(filepath.Join(s.root, "containers"))
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	for _, e := range dirs {
		if !e.IsDir() {
			continue
		}
		seen := ""
		for _, f := range []string{"config.json", "rootfs.json"} {
			b, err := os.ReadFile(filepath.Join(s.root, "containers", e.Name(), f))
			if err != nil {
				continue
			}
			var v struct {
				ImageID string `json:"image_id"`
			}
			if json.Unmarshal(b, &v) == nil && v.ImageID != "" && v.ImageID != seen {
				out[v.ImageID] = append(out[v.ImageID], e.Name())
				seen = v.ImageID
			}
		}
	}
	return out, nil
}

// RemoveResult says what a removal did, in docker's words.
type RemoveResult struct {
	Untagged []string // familiar refs
	Deleted  []string // image IDs
}

// Remove removes what ref names, as `docker rmi` does. A tag is untagged;
// the image goes when no tag is left. An image ID removes the image; if it
// has several tags, force is needed. An image that a container uses
// (ErrInUse) keeps its content: with force its tags go and it stays dangling
// until the container is removed. Unused blobs and layers are then freed.
func (s *Store) Remove(ref string, force bool) (RemoveResult, error) {
	var res RemoveResult
	users, err := s.containerImages()
	if err != nil {
		return res, err
	}
	err = s.updateDB(func(d *db) error {
		md, err := s.resolve(d, ref)
		if err != nil {
			return err
		}
		rec := d.Images[md]
		var tags []string
		for t, m := range d.Tags {
			if d.Images[m] != nil && d.Images[m].ID == rec.ID {
				tags = append(tags, t)
			}
		}
		sort.Strings(tags)
		byTag := false
		if r, err := ParseReference(ref); err == nil && r.Digest == "" && d.Tags[r.String()] == md && !isIDRef(d, ref) {
			byTag = true
			if len(tags) > 1 {
				delete(d.Tags, r.String())
				res.Untagged = append(res.Untagged, r.Familiar())
				return nil
			}
		}
		if !byTag && len(tags) > 1 && !force {
			return fmt.Errorf("removing image %s: it is referenced by %d tags (%s); use -f: %w", ref, len(tags), strings.Join(tags, ", "), ErrInUse)
		}
		if cs := users[rec.ID]; len(cs) > 0 {
			if !force {
				return fmt.Errorf("removing image %s: container %s uses it; use -f to untag it: %w", ref, short(cs[0]), ErrInUse)
			}
			for _, t := range tags {
				delete(d.Tags, t)
				res.Untagged = append(res.Untagged, familiar(t))
			}
			return nil
		}
		for _, t := range tags {
			delete(d.Tags, t)
			res.Untagged = append(res.Untagged, familiar(t))
		}
		for m, r := range d.Images {
			if r.ID == rec.ID {
				delete(d.Images, m)
			}
		}
		res.Deleted = append(res.Deleted, rec.ID)
		return nil
	})
	if err != nil {
		return res, err
	}
	_, err = s.GC()
	return res, err
}

// isIDRef reports whether ref names an image by (a prefix of) its ID.
func isIDRef(d *db, ref string) bool {
	if strings.HasPrefix(ref, "sha256:") {
		return true
	}
	if !hexPrefix.MatchString(ref) {
		return false
	}
	for _, rec := range d.Images {
		if strings.HasPrefix(strings.TrimPrefix(rec.ID, "sha256:"), ref) {
			return true
		}
	}
	return false
}

func short(id string) string {
	id = strings.TrimPrefix(id, "sha256:")
	if len(id) > 12 {
		return id[:12]
	}
	return id
}

// Prune removes dangling images (all unused images with all) that no
// container uses, then frees unused content. It returns the removed IDs and
// the bytes reclaimed.
func (s *Store) Prune(all bool) ([]string, int64, error) {
	users, err := s.containerImages()
	if err != nil {
		return nil, 0, err
	}
	var removed []string
	err = s.updateDB(func(d *db) error {
		tagged := map[string]bool{}
		for _, md := range d.Tags {
			tagged[md] = true
		}
		for md, rec := range d.Images {
			if (tagged[md] && !all) || len(users[rec.ID]) > 0 {
				continue
			}
			for t, m := range d.Tags {
				if m == md {
					delete(d.Tags, t)
				}
			}
			delete(d.Images, md)
			removed = append(removed, rec.ID)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	sort.Strings(removed)
	freed, err := s.GC()
	return removed, freed, err
}

// GC deletes blobs, unpacked layers and temp files that no image references.
// It holds the GC lock exclusively, so it waits for pulls, loads and commits
// in progress. It returns the bytes freed.
func (s *Store) GC() (int64, error) {
	unlock, err := s.lock("gc.lock", lockEX)
	if err != nil {
		return 0, err
	}
	defer unlock()
	d, err := s.readDB()
	if err != nil {
		return 0, err
	}
	blobs := map[string]bool{}
	chains := map[string]bool{"empty": true}
	for md := range d.Images {
		blobs[strings.TrimPrefix(md, "sha256:")] = true
		raw, err := s.readBlob(md)
		if err != nil {
			continue
		}
		m, _, err := parseManifest(raw, nil)
		if err != nil {
			continue
		}
		blobs[m.Config.Digest.Hex] = true
		for _, l := range m.Layers {
			blobs[l.Digest.Hex] = true
		}
		craw, err := s.readBlob(m.Config.Digest.String())
		if err != nil {
			continue
		}
		_, c, err := parseManifest(raw, craw)
		if err != nil {
			continue
		}
		var diffIDs []string
		for _, h := range c.RootFS.DiffIDs {
			diffIDs = append(diffIDs, h.String())
		}
		for _, ch := range ChainIDs(diffIDs) {
			chains[strings.TrimPrefix(ch, "sha256:")] = true
		}
	}
	// Layers of containers' rootfs stay, whatever happened to their image.
	cdirs, _ := os.ReadDir(filepath.Join(s.root, "containers"))
	for _, e := range cdirs {
		if b, err := os.ReadFile(filepath.Join(s.root, "containers", e.Name(), "rootfs.json")); err == nil {
			var rf rootfsRecord
			if json.Unmarshal(b, &rf) == nil {
				for _, ch := range rf.ChainIDs {
					chains[strings.TrimPrefix(ch, "sha256:")] = true
				}
			}
		}
	}
	var freed int64
	entries, _ := os.ReadDir(filepath.Join(s.root, "blobs", "sha256"))
	for _, e := range entries {
		if !blobs[e.Name()] {
			p := filepath.Join(s.root, "blobs", "sha256", e.Name())
			if fi, err := os.Stat(p); err == nil {
				freed += fi.Size()
			}
			if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return freed, fmt.Errorf("removing blob %s: %w", e.Name(), err)
			}
		}
	}
	entries, _ = os.ReadDir(filepath.Join(s.root, "layers"))
	for _, e := range entries {
		if chains[e.Name()] {
			continue
		}
		p := filepath.Join(s.root, "layers", e.Name())
		if mk, err := s.layerMarker("sha256:" + e.Name()); err == nil {
			freed += mk.Size
		}
		if err := removeAll(p); err != nil {
			return freed, fmt.Errorf("removing layer %s: %w", e.Name(), err)
		}
	}
	s.log.Debug("image store GC", "images", len(d.Images), "blobs kept", len(blobs), "layers kept", len(chains), "freed", freed)
	entries, _ = os.ReadDir(filepath.Join(s.root, "tmp"))
	for _, e := range entries {
		if err := removeAll(filepath.Join(s.root, "tmp", e.Name())); err != nil {
			return freed, fmt.Errorf("removing temp file %s: %w", e.Name(), err)
		}
	}
	return freed, nil
}

// removeAll removes a tree after marking the marker gone first, so a
// partly removed layer is never trusted.
func removeAll(p string) error {
	_ = os.Remove(filepath.Join(p, markerName))
	return os.RemoveAll(p)
}
