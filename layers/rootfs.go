package layers

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Rootfs is a container's overlay mount as data: the runtime mounts it
// (MountOverlay on Linux) wherever it wants.
type Rootfs struct {
	Lower []string // lowerdirs, top layer first; never empty
	Upper string   // upperdir; empty for a read-only mount
	Work  string   // workdir, on the same filesystem as Upper
}

// MountOptions is the classic mount(2) data string with absolute paths. It
// can exceed the kernel's 4095-byte limit for images with many layers;
// MountOverlay does not depend on it.
func (r Rootfs) MountOptions() string {
	o := "lowerdir=" + strings.Join(r.Lower, ":")
	if r.Upper != "" {
		o += ",upperdir=" + r.Upper + ",workdir=" + r.Work
	}
	return o
}

// rootfsRecord is <root>/containers/<id>/rootfs.json: the image and layers
// a container's rootfs uses, so GC keeps them.
type rootfsRecord struct {
	ImageID  string   `json:"image_id"`
	ChainIDs []string `json:"chain_ids"`
}

func validContainerID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\\") || id == "." || id == ".." || len(id) > 128 {
		return fmt.Errorf("container id %q: want a plain name", id)
	}
	return nil
}

// PrepareRootfs makes the writable layer of container containerID on top of
// the image imageRef names and returns the overlay to mount: Lower (top
// first) are the image's unpacked layers, Upper and Work are
// <root>/containers/<id>/upper and work. It records the image in
// <root>/containers/<id>/rootfs.json, so the image's layers stay while the
// container exists. Calling it again for the same container keeps its upper.
func (s *Store) PrepareRootfs(imageRef, containerID string) (Rootfs, error) {
	if err := validContainerID(containerID); err != nil {
		return Rootfs{}, err
	}
	unlock, err := s.ingest()
	if err != nil {
		return Rootfs{}, err
	}
	defer unlock()
	img, err := s.Image(imageRef)
	if err != nil {
		return Rootfs{}, fmt.Errorf("preparing rootfs of %s: %w", containerID, err)
	}
	if err := s.unpackImage(img); err != nil {
		return Rootfs{}, fmt.Errorf("preparing rootfs of %s: %w", containerID, err)
	}
	var r Rootfs
	for i := len(img.ChainIDs) - 1; i >= 0; i-- {
		if !s.HasLayer(img.ChainIDs[i]) {
			return Rootfs{}, fmt.Errorf("preparing rootfs of %s: image %s: layer %s: %w", containerID, imageRef, img.ChainIDs[i], ErrNotFound)
		}
		r.Lower = append(r.Lower, s.LayerDir(img.ChainIDs[i]))
	}
	if len(r.Lower) == 0 {
		r.Lower = []string{filepath.Join(s.root, "layers", "empty")}
	}
	cdir := filepath.Join(s.root, "containers", containerID)
	r.Upper = filepath.Join(cdir, "upper")
	r.Work = filepath.Join(cdir, "work")
	for _, d := range []string{r.Upper, r.Work} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return Rootfs{}, fmt.Errorf("preparing rootfs of %s: %w", containerID, err)
		}
	}
	b, _ := json.Marshal(rootfsRecord{ImageID: img.ID, ChainIDs: img.ChainIDs})
	if err := writeFileAtomic(filepath.Join(cdir, "rootfs.json"), b, 0o600); err != nil {
		return Rootfs{}, fmt.Errorf("preparing rootfs of %s: %w", containerID, err)
	}
	return r, nil
}

// UnpackImage unpacks every layer of the image ref names that is not
// unpacked yet (after a pull with RegistryOptions.Lazy), checking
// each diffID. PrepareRootfs does it too.
func (s *Store) UnpackImage(ref string) error {
	unlock, err := s.ingest()
	if err != nil {
		return err
	}
	defer unlock()
	img, err := s.Image(ref)
	if err != nil {
		return err
	}
	return s.unpackImage(img)
}

// unpackImage unpacks the missing layers of img from their blobs, two at a
// time (each goes to its own directory). The caller holds the ingest lock.
func (s *Store) unpackImage(img *Image) error {
	g := new(errgroup.Group)
	g.SetLimit(2)
	for i, ch := range img.ChainIDs {
		if s.HasLayer(ch) {
			continue
		}
		parent := ""
		if i > 0 {
			parent = img.ChainIDs[i-1]
		}
		blob := img.Manifest.Layers[i].Digest.String()
		g.Go(func() error {
			f, err := s.OpenBlob(blob)
			if err != nil {
				return fmt.Errorf("image %s: layer %s: %w", short(img.ID), blob, err)
			}
			defer f.Close()
			if err := s.unpackLayer(ch, parent, img.DiffIDs[i], f); err != nil {
				return fmt.Errorf("image %s: layer %s: %w", short(img.ID), blob, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// RemoveRootfs deletes the container's upper and work dirs and its
// rootfs.json (the rest of <root>/containers/<id> is the runtime's). The
// overlay must be unmounted first. Removing a missing rootfs is not an error.
func (s *Store) RemoveRootfs(containerID string) error {
	if err := validContainerID(containerID); err != nil {
		return err
	}
	cdir := filepath.Join(s.root, "containers", containerID)
	for _, d := range []string{"rootfs.json", "upper", "work"} {
		if err := os.RemoveAll(filepath.Join(cdir, d)); err != nil {
			return fmt.Errorf("removing rootfs of %s: %w", containerID, err)
		}
	}
	return nil
}
