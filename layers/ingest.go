package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
)

// LayerInfo describes a layer added to the store.
type LayerInfo struct {
	DiffID         string // digest of the uncompressed tar
	Digest         string // digest of the stored gzip blob
	Size           int64  // bytes of file content
	CompressedSize int64  // bytes of the gzip blob
	ChainID        string // chain ID on its parent
}

// Descriptor is the manifest entry of the layer.
func (l LayerInfo) Descriptor() v1.Descriptor {
	h, _ := v1.NewHash(l.Digest)
	return v1.Descriptor{MediaType: types.OCILayer, Digest: h, Size: l.CompressedSize}
}

// countingHashWriter hashes and counts what is written to w.
type countingHashWriter struct {
	w io.Writer
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	n int64
}

func (c *countingHashWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.h.Write(b[:n])
	c.n += int64(n)
	return n, err
}

// addLayer stores a tar stream (any compression) as a new layer on top of
// the chain parentChain ("" for a base layer): a gzip blob plus the unpacked
// directory. The caller holds the ingest lock.
func (s *Store) addLayer(r io.Reader, parentChain string) (LayerInfo, error) {
	rc, _, err := Decompress(r)
	if err != nil {
		return LayerInfo{}, err
	}
	defer rc.Close()
	blob, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "blob-")
	if err != nil {
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	defer os.Remove(blob.Name())
	defer blob.Close()
	cw := &countingHashWriter{w: blob, h: sha256.New()}
	zw, _ := gzip.NewWriterLevel(cw, gzip.DefaultCompression)

	// Compress in a second goroutine while the tar is unpacked.
	pr, pw := io.Pipe()
	zdone := make(chan error, 1)
	go func() {
		_, err := io.CopyBuffer(zw, pr, make([]byte, 256<<10))
		if err == nil {
			err = zw.Close()
		}
		pr.CloseWithError(err)
		zdone <- err
	}()

	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		pw.Close()
		<-zdone
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Mkdir(filepath.Join(tmp, "diff"), 0o755); err != nil {
		pw.Close()
		<-zdone
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	res, err := Unpack(io.TeeReader(rc, pw), filepath.Join(tmp, "diff"), UnpackOptions{})
	pw.CloseWithError(err)
	zerr := <-zdone
	if err != nil {
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	if zerr != nil {
		return LayerInfo{}, fmt.Errorf("compressing layer: %w", zerr)
	}
	info := LayerInfo{DiffID: res.DiffID, Size: res.Size, CompressedSize: cw.n,
		Digest: "sha256:" + hex.EncodeToString(cw.h.Sum(nil))}
	info.ChainID = info.DiffID
	if parentChain != "" {
		info.ChainID = ChainIDs([]string{parentChain, info.DiffID})[1]
	}
	if err := s.syncFile(blob); err != nil {
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	if err := os.Rename(blob.Name(), s.blobPath(info.Digest)); err != nil {
		return LayerInfo{}, fmt.Errorf("adding layer: %w", err)
	}
	if s.HasLayer(info.ChainID) {
		return info, nil
	}
	if err := s.publishLayer(tmp, layerMarker{ChainID: info.ChainID, DiffID: info.DiffID, Parent: parentChain, Size: info.Size, TarSize: res.TarSize}); err != nil {
		return LayerInfo{}, err
	}
	return info, nil
}

// writeImage stores config and an OCI manifest for layers and returns the
// manifest digest. The caller holds the ingest lock.
func (s *Store) writeImage(cfg *v1.ConfigFile, layers []v1.Descriptor) (string, error) {
	return s.writeImageAs(cfg, layers, types.OCIManifestSchema1)
}

// writeImageAs writes an OCI or docker schema 2 manifest.
func (s *Store) writeImageAs(cfg *v1.ConfigFile, layers []v1.Descriptor, mediaType types.MediaType) (string, error) {
	craw, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("encoding image config: %w", err)
	}
	return s.writeImageRaw(craw, layers, mediaType)
}

// writeImageRaw stores config bytes as they are (so the image ID stays)
// and a manifest for them.
func (s *Store) writeImageRaw(craw []byte, layers []v1.Descriptor, mediaType types.MediaType) (string, error) {
	cd, err := s.writeBlobBytes(craw)
	if err != nil {
		return "", err
	}
	ch, _ := v1.NewHash(cd)
	configType := types.OCIConfigJSON
	if mediaType == types.DockerManifestSchema2 {
		configType = types.DockerConfigJSON
	}
	m := v1.Manifest{
		SchemaVersion: 2,
		MediaType:     mediaType,
		Config:        v1.Descriptor{MediaType: configType, Digest: ch, Size: int64(len(craw))},
		Layers:        layers,
	}
	if m.Layers == nil {
		m.Layers = []v1.Descriptor{}
	}
	mraw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encoding image manifest: %w", err)
	}
	return s.writeBlobBytes(mraw)
}

// ImportOptions tune Import.
type ImportOptions struct {
	// Config is the image's runtime config (`docker import --change`
	// applied by the caller: build.ApplyChanges); nil: empty.
	Config  *v1.Config
	Message string    // history comment
	Created time.Time // defaults to now
}

// Import makes a one-layer image from a root filesystem tar (gzip, zstd or
// plain), like `docker import`, and tags it ref (if not empty).
func (s *Store) Import(r io.Reader, ref string, opts ImportOptions) (*Image, error) {
	var cfg v1.ConfigFile
	if opts.Config != nil {
		cfg.Config = *opts.Config
	}
	if ref != "" {
		if _, err := ParseReference(ref); err != nil {
			return nil, err
		}
	}
	unlock, err := s.ingest()
	if err != nil {
		return nil, err
	}
	defer unlock()
	info, err := s.addLayer(r, "")
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", ref, err)
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	cfg.Architecture = runtime.GOARCH
	cfg.OS = "linux"
	cfg.Created = v1.Time{Time: created}
	dh, _ := v1.NewHash(info.DiffID)
	cfg.RootFS = v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{dh}}
	cfg.History = []v1.History{{Created: cfg.Created, CreatedBy: "stack import", Comment: opts.Message}}
	md, err := s.writeImage(&cfg, []v1.Descriptor{info.Descriptor()})
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", ref, err)
	}
	var tags []string
	if ref != "" {
		tags = []string{ref}
	}
	img, err := s.registerImage(md, tags, "")
	if err != nil {
		return nil, fmt.Errorf("importing %s: %w", ref, err)
	}
	return img, nil
}

// storeLayer stores a compressed (or plain) layer blob read from r and,
// with unpack, unpacks it as chainID in the same pass. The blob must hash
// to digest and its uncompressed stream to diffID. What the store already
// has is not redone; r is not read at all when nothing is missing.
func (s *Store) storeLayer(r io.Reader, digest, diffID, chainID, parent string, unpack bool) error {
	haveBlob, haveLayer := s.HasBlob(digest), s.HasLayer(chainID)
	if !unpack {
		if haveBlob {
			return nil
		}
		_, _, err := s.writeBlob(r, digest)
		return err
	}
	switch {
	case haveBlob && haveLayer:
		return nil
	case haveBlob:
		f, err := s.OpenBlob(digest)
		if err != nil {
			return err
		}
		defer f.Close()
		return s.unpackLayer(chainID, parent, diffID, f)
	case haveLayer:
		_, _, err := s.writeBlob(r, digest)
		return err
	}
	if err := validDigest(digest); err != nil {
		return err
	}
	blob, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "blob-")
	if err != nil {
		return fmt.Errorf("storing layer %s: %w", digest, err)
	}
	defer os.Remove(blob.Name())
	defer blob.Close()
	cw := &countingHashWriter{w: blob, h: sha256.New()}
	tee := io.TeeReader(r, cw)
	if err := s.unpackLayer(chainID, parent, diffID, tee); err != nil {
		return err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("storing layer %s: %w", digest, err)
	}
	if got := "sha256:" + hex.EncodeToString(cw.h.Sum(nil)); got != digest {
		return fmt.Errorf("layer %s: content hashes to %s: %w", digest, got, ErrDigestMismatch)
	}
	if err := s.syncFile(blob); err != nil {
		return fmt.Errorf("storing layer %s: %w", digest, err)
	}
	if err := os.Rename(blob.Name(), s.blobPath(digest)); err != nil {
		return fmt.Errorf("storing layer %s: %w", digest, err)
	}
	return nil
}
