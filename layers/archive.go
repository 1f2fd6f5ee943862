package layers

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// dockerManifestEntry is one element of a docker save archive's manifest.json.
type dockerManifestEntry struct {
	Config   string   `json:"Config"`
	RepoTags []string `json:"RepoTags"`
	Layers   []string `json:"Layers"`
}

// Save writes the images refs name as a `docker save` archive: manifest.json,
// repositories, configs and uncompressed layers, laid out as docker 25 does
// (blobs/sha256/<hex>, with index.json and oci-layout), so both `docker load`
// and OCI tools read it. A ref that names a tag saves that tag; an ID saves
// the image without tags.
func (s *Store) Save(w io.Writer, refs []string) error {
	type item struct {
		img  *Image
		tags []string
	}
	var items []*item
	byID := map[string]*item{}
	for _, ref := range refs {
		img, err := s.Image(ref)
		if err != nil {
			return fmt.Errorf("saving: %w", err)
		}
		it := byID[img.ID]
		if it == nil {
			it = &item{img: img}
			byID[img.ID] = it
			items = append(items, it)
		}
		if !strings.HasPrefix(ref, "sha256:") && !hexPrefix.MatchString(ref) {
			if r, err := ParseReference(ref); err == nil && r.Digest == "" && !contains(it.tags, r.Familiar()) {
				it.tags = append(it.tags, r.Familiar())
			}
		}
	}
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	writeFile := func(name string, b []byte) error {
		if written[name] {
			return nil
		}
		written[name] = true
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err := tw.Write(b)
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Mode: 0o755, Typeflag: tar.TypeDir}); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	var manifest []dockerManifestEntry
	repos := map[string]map[string]string{}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, it := range items {
		img := it.img
		entry := dockerManifestEntry{Config: "blobs/sha256/" + trimSHA(img.ID), RepoTags: it.tags}
		if entry.RepoTags == nil {
			entry.RepoTags = []string{}
		}
		if err := writeFile(entry.Config, img.RawConfig); err != nil {
			return fmt.Errorf("saving %s: %w", img.ID, err)
		}
		om := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
			Config: v1.Descriptor{MediaType: types.OCIConfigJSON, Digest: mustHash(img.ID), Size: int64(len(img.RawConfig))}, Layers: []v1.Descriptor{}}
		for i, diffID := range img.DiffIDs {
			name := "blobs/sha256/" + trimSHA(diffID)
			entry.Layers = append(entry.Layers, name)
			size, err := s.saveLayer(tw, name, written, img.Manifest.Layers[i].Digest.String(), img.ChainIDs[i])
			if err != nil {
				return fmt.Errorf("saving %s: layer %s: %w", img.ID, diffID, err)
			}
			om.Layers = append(om.Layers, v1.Descriptor{MediaType: types.OCIUncompressedLayer, Digest: mustHash(diffID), Size: size})
		}
		omRaw, _ := json.Marshal(om)
		omDigest := digestOf(omRaw)
		if err := writeFile("blobs/sha256/"+trimSHA(omDigest), omRaw); err != nil {
			return fmt.Errorf("saving %s: %w", img.ID, err)
		}
		desc := v1.Descriptor{MediaType: types.OCIManifestSchema1, Digest: mustHash(omDigest), Size: int64(len(omRaw))}
		if len(it.tags) == 0 {
			index.Manifests = append(index.Manifests, desc)
		}
		for _, t := range it.tags {
			r, _ := ParseReference(t)
			d := desc
			d.Annotations = map[string]string{"io.containerd.image.name": r.String(), "org.opencontainers.image.ref.name": r.Tag}
			index.Manifests = append(index.Manifests, d)
			if repos[r.FamiliarRepository()] == nil {
				repos[r.FamiliarRepository()] = map[string]string{}
			}
			if n := len(img.DiffIDs); n > 0 {
				repos[r.FamiliarRepository()][r.Tag] = trimSHA(img.DiffIDs[n-1])
			}
		}
		manifest = append(manifest, entry)
	}
	mj, _ := json.Marshal(manifest)
	rj, _ := json.Marshal(repos)
	ij, _ := json.Marshal(index)
	for _, f := range []struct {
		name string
		b    []byte
	}{{"manifest.json", mj}, {"repositories", rj}, {"index.json", ij}, {"oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)}} {
		if err := writeFile(f.name, f.b); err != nil {
			return fmt.Errorf("saving: %w", err)
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("saving: %w", err)
	}
	return nil
}

func mustHash(d string) v1.Hash {
	h, _ := v1.NewHash(d)
	return h
}

// saveLayer writes the uncompressed layer (decompressed from its blob) as name.
func (s *Store) saveLayer(tw *tar.Writer, name string, written map[string]bool, blobDigest, chainID string) (int64, error) {
	size := int64(0)
	if mk, err := s.layerMarker(chainID); err == nil {
		size = mk.TarSize
	}
	if size == 0 { // unknown: count once
		f, err := s.OpenBlob(blobDigest)
		if err != nil {
			return 0, err
		}
		rc, _, err := Decompress(f)
		if err == nil {
			size, err = io.Copy(io.Discard, rc)
			rc.Close()
		}
		f.Close()
		if err != nil {
			return 0, err
		}
	}
	if written[name] {
		return size, nil
	}
	written[name] = true
	f, err := s.OpenBlob(blobDigest)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	rc, _, err := Decompress(f)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return 0, err
	}
	n, err := io.Copy(tw, rc)
	if err != nil {
		return 0, err
	}
	if n != size {
		return 0, fmt.Errorf("layer is %d bytes, recorded %d", n, size)
	}
	return size, nil
}

// extracted is an archive unpacked to a temp dir: regular files on disk,
// links kept as a name map (never created on disk).
type extracted struct {
	dir   string
	files map[string]bool
	links map[string]string // name → target name (cleaned, archive-relative)
}

func (e *extracted) open(name string) (*os.File, error) {
	n, err := safeName(name)
	if err != nil {
		return nil, err
	}
	for i := 0; i < 16 && !e.files[n]; i++ {
		t, ok := e.links[n]
		if !ok {
			break
		}
		n = t
	}
	if !e.files[n] {
		return nil, fmt.Errorf("%s: %w", name, ErrNotFound)
	}
	return os.Open(filepath.Join(e.dir, filepath.FromSlash(n)))
}

func (e *extracted) read(name string) ([]byte, error) {
	f, err := e.open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, 64<<20))
}

func extractArchive(r io.Reader, dir string) (*extracted, error) {
	rc, _, err := Decompress(r)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	e := &extracted{dir: dir, files: map[string]bool{}, links: map[string]string{}}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		name, err := safeName(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("reading archive: entry %w", err)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			p := filepath.Join(dir, filepath.FromSlash(name))
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return nil, err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
			if err != nil {
				return nil, err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return nil, fmt.Errorf("reading archive: %s: %w", hdr.Name, err)
			}
			e.files[name] = true
		case tar.TypeSymlink:
			t := hdr.Linkname
			if !path.IsAbs(t) {
				t = path.Join(path.Dir(name), t)
			}
			if tn, err := safeName(t); err == nil {
				e.links[name] = tn
			}
		case tar.TypeLink:
			if tn, err := safeName(hdr.Linkname); err == nil {
				e.links[name] = tn
			}
		}
	}
	return e, nil
}

// Load reads a `docker save` archive or an OCI image layout archive (plain,
// gzip or zstd) and adds its images and tags. All of an image's content is
// stored and checked before its tags are set; on error no tag of the
// failing image is set, and its partial content is left to GC.
func (s *Store) Load(r io.Reader) ([]*Image, error) {
	unlock, err := s.ingest()
	if err != nil {
		return nil, err
	}
	defer unlock()
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "load-")
	if err != nil {
		return nil, fmt.Errorf("loading: %w", err)
	}
	defer os.RemoveAll(tmp)
	e, err := extractArchive(r, tmp)
	if err != nil {
		return nil, err
	}
	switch {
	case e.files["manifest.json"]:
		return s.loadDocker(e)
	case e.files["index.json"]:
		return s.loadOCI(e)
	}
	return nil, fmt.Errorf("loading: neither manifest.json (docker save) nor index.json (OCI layout) in the archive")
}

func (s *Store) loadDocker(e *extracted) ([]*Image, error) {
	b, err := e.read("manifest.json")
	if err != nil {
		return nil, err
	}
	var entries []dockerManifestEntry
	if err := json.Unmarshal(b, &entries); err != nil {
		return nil, fmt.Errorf("loading: manifest.json: %w", err)
	}
	var out []*Image
	for _, ent := range entries {
		craw, err := e.read(ent.Config)
		if err != nil {
			return out, fmt.Errorf("loading image %s: config: %w", ent.Config, err)
		}
		var cfg v1.ConfigFile
		if err := json.Unmarshal(craw, &cfg); err != nil {
			return out, fmt.Errorf("loading image %s: config: %w", ent.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(ent.Layers) {
			return out, fmt.Errorf("loading image %s: config lists %d layers, manifest.json %d", ent.Config, len(cfg.RootFS.DiffIDs), len(ent.Layers))
		}
		// A config named by its digest must match it.
		if base := path.Base(ent.Config); len(base) >= 64 {
			if want := "sha256:" + strings.TrimSuffix(base, ".json"); validDigest(want) == nil && digestOf(craw) != want {
				return out, fmt.Errorf("loading image %s: config: %w", ent.Config, ErrDigestMismatch)
			}
		}
		var descs []v1.Descriptor
		parent := ""
		for i, lp := range ent.Layers {
			f, err := e.open(lp)
			if err != nil {
				return out, fmt.Errorf("loading image %s: layer %s: %w", ent.Config, lp, err)
			}
			info, err := s.addLayer(f, parent)
			f.Close()
			if err != nil {
				return out, fmt.Errorf("loading image %s: layer %s: %w", ent.Config, lp, err)
			}
			if want := cfg.RootFS.DiffIDs[i].String(); info.DiffID != want {
				return out, fmt.Errorf("loading image %s: layer %s hashes to %s, config says %s: %w", ent.Config, lp, info.DiffID, want, ErrDigestMismatch)
			}
			parent = info.ChainID
			descs = append(descs, info.Descriptor())
		}
		md, err := s.writeImageRaw(craw, descs, types.OCIManifestSchema1)
		if err != nil {
			return out, err
		}
		img, err := s.registerImage(md, ent.RepoTags, "")
		if err != nil {
			return out, fmt.Errorf("loading image %s: %w", ent.Config, err)
		}
		out = append(out, img)
	}
	return out, nil
}

func (s *Store) loadOCI(e *extracted) ([]*Image, error) {
	b, err := e.read("index.json")
	if err != nil {
		return nil, err
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("loading: index.json: %w", err)
	}
	readBlob := func(d v1.Hash) ([]byte, error) {
		b, err := e.read("blobs/" + d.Algorithm + "/" + d.Hex)
		if err != nil {
			return nil, err
		}
		if got := digestOf(b); got != d.String() {
			return nil, fmt.Errorf("blob %s: content hashes to %s: %w", d, got, ErrDigestMismatch)
		}
		return b, nil
	}
	var out []*Image
	for _, desc := range idx.Manifests {
		name := desc.Annotations["io.containerd.image.name"]
		if name == "" {
			if rn := desc.Annotations["org.opencontainers.image.ref.name"]; strings.ContainsAny(rn, "/:") {
				name = rn
			}
		}
		raw, err := readBlob(desc.Digest)
		if err != nil {
			return out, fmt.Errorf("loading %s: manifest: %w", desc.Digest, err)
		}
		md := desc.Digest.String()
		if desc.MediaType == types.OCIImageIndex || desc.MediaType == types.DockerManifestList {
			child, err := pickPlatform(raw)
			if err != nil {
				return out, fmt.Errorf("loading %s: %w", desc.Digest, err)
			}
			if raw, err = readBlob(child.Digest); err != nil {
				return out, fmt.Errorf("loading %s: manifest: %w", child.Digest, err)
			}
			md = child.Digest.String()
		}
		m, _, err := parseManifest(raw, nil)
		if err != nil {
			return out, fmt.Errorf("loading %s: %w", md, err)
		}
		craw, err := readBlob(m.Config.Digest)
		if err != nil {
			return out, fmt.Errorf("loading %s: config: %w", md, err)
		}
		_, cfg, err := parseManifest(raw, craw)
		if err != nil {
			return out, fmt.Errorf("loading %s: %w", md, err)
		}
		var diffIDs []string
		for _, h := range cfg.RootFS.DiffIDs {
			diffIDs = append(diffIDs, h.String())
		}
		chains := ChainIDs(diffIDs)
		for i, l := range m.Layers {
			f, err := e.open("blobs/" + l.Digest.Algorithm + "/" + l.Digest.Hex)
			if err != nil {
				return out, fmt.Errorf("loading %s: layer %s: %w", md, l.Digest, err)
			}
			parent := ""
			if i > 0 {
				parent = chains[i-1]
			}
			err = s.storeLayer(f, l.Digest.String(), diffIDs[i], chains[i], parent, true)
			f.Close()
			if err != nil {
				return out, fmt.Errorf("loading %s: layer %s: %w", md, l.Digest, err)
			}
		}
		if _, err := s.writeBlobBytes(craw); err != nil {
			return out, err
		}
		if _, err := s.writeBlobBytes(raw); err != nil {
			return out, err
		}
		var tags []string
		if name != "" {
			tags = []string{name}
		}
		img, err := s.registerImage(md, tags, "")
		if err != nil {
			return out, fmt.Errorf("loading %s: %w", md, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// pickPlatform chooses the host's manifest from an index.
func pickPlatform(raw []byte) (v1.Descriptor, error) {
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return v1.Descriptor{}, fmt.Errorf("decoding index: %w", err)
	}
	want := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if runtime.GOARCH == "arm" {
		want.Variant = "v7"
	}
	var cands []v1.Descriptor
	for _, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.OS == want.OS && d.Platform.Architecture == want.Architecture &&
			(want.Variant == "" || d.Platform.Variant == "" || d.Platform.Variant == want.Variant) {
			cands = append(cands, d)
		}
	}
	if len(cands) == 0 {
		var have []string
		for _, d := range idx.Manifests {
			if d.Platform != nil {
				have = append(have, d.Platform.String())
			}
		}
		sort.Strings(have)
		return v1.Descriptor{}, fmt.Errorf("no manifest for %s/%s (index has %s): %w", want.OS, want.Architecture, strings.Join(have, ", "), ErrNotFound)
	}
	return cands[0], nil
}
