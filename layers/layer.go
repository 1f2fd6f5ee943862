package layers

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const markerName = ".complete"

// layerMarker is the content of <root>/layers/<chainid>/.complete, written
// after the layer's files: a layer dir without it is never used.
type layerMarker struct {
	ChainID string `json:"chainID"`
	DiffID  string `json:"diffID"`
	Parent  string `json:"parent,omitempty"`
	Size    int64  `json:"size"`
	TarSize int64  `json:"tarSize,omitempty"` // bytes of the uncompressed tar (for save)
}

func (s *Store) layerMarker(chainID string) (*layerMarker, error) {
	b, err := os.ReadFile(filepath.Join(s.layerDir(chainID), markerName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("layer %s: %w", chainID, ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	var m layerMarker
	if err := json.Unmarshal(b, &m); err != nil || m.ChainID != chainID {
		return nil, fmt.Errorf("layer %s: bad completion marker", chainID)
	}
	return &m, nil
}

// HasLayer reports whether the layer with this chain ID is unpacked and complete.
func (s *Store) HasLayer(chainID string) bool {
	_, err := s.layerMarker(chainID)
	return err == nil
}

// LayerDir is the overlay lowerdir of an unpacked layer.
func (s *Store) LayerDir(chainID string) string { return filepath.Join(s.layerDir(chainID), "diff") }

// unpackLayer unpacks r (any compression) as the layer chainID (whose
// uncompressed digest must be diffID) unless it is already complete. The
// files go to a temp dir, which is renamed into place; the marker is
// written last. The caller holds the ingest lock.
func (s *Store) unpackLayer(chainID, parent, diffID string, r io.Reader) error {
	if s.HasLayer(chainID) {
		_, err := io.Copy(io.Discard, r)
		return err
	}
	tmp, err := os.MkdirTemp(filepath.Join(s.root, "tmp"), "layer-")
	if err != nil {
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	defer os.RemoveAll(tmp)
	diff := filepath.Join(tmp, "diff")
	if err := os.Mkdir(diff, 0o755); err != nil {
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	start := time.Now()
	res, err := Unpack(r, diff, UnpackOptions{DiffID: diffID})
	if err != nil {
		return fmt.Errorf("unpacking layer %s: %w", diffID, err)
	}
	s.log.Debug("layer unpacked", "diffID", diffID, "bytes", res.Size, "took", time.Since(start))
	return s.publishLayer(tmp, layerMarker{ChainID: chainID, DiffID: res.DiffID, Parent: parent, Size: res.Size, TarSize: res.TarSize})
}

// publishLayer moves a finished layer dir (with diff/ inside) into place and
// writes its marker.
func (s *Store) publishLayer(tmp string, mk layerMarker) error {
	if s.Sync {
		if err := syncfs(tmp); err != nil {
			return fmt.Errorf("syncing layer %s: %w", mk.DiffID, err)
		}
	}
	// Publishers of one chain ID (two pulls of one image) take turns, so
	// nobody removes a layer another has just renamed into place.
	unlock, err := lockPath(filepath.Join(s.root, "tmp", "chain-"+trimSHA(mk.ChainID)+".lock"), lockEX)
	if err != nil {
		return err
	}
	defer unlock()
	if s.HasLayer(mk.ChainID) {
		return nil // someone else finished it first
	}
	dst := s.layerDir(mk.ChainID)
	if _, err := os.Lstat(dst); err == nil {
		// A leftover without marker (a killed unpack) is untrusted: replace it.
		if err := removeAll(dst); err != nil {
			return fmt.Errorf("replacing partial layer %s: %w", mk.ChainID, err)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("publishing layer %s: %w", mk.ChainID, err)
	}
	b, _ := json.Marshal(mk)
	if err := writeFileAtomicSync(filepath.Join(dst, markerName), b, 0o600, s.Sync); err != nil {
		return fmt.Errorf("publishing layer %s: %w", mk.ChainID, err)
	}
	return nil
}

func trimSHA(d string) string { return strings.TrimPrefix(d, "sha256:") }

// LayerSize is the unpacked size of a layer, 0 if unknown.
func (s *Store) LayerSize(chainID string) int64 {
	mk, err := s.layerMarker(chainID)
	if err != nil {
		return 0
	}
	return mk.Size
}
