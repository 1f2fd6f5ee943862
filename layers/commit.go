package layers

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// CommitOptions describe a new image made on top of Base: the base of
// `stack commit` and of every build step.
type CommitOptions struct {
	// Base is the parent image (name, name@digest or ID); empty for scratch.
	Base string
	// UpperDir is a container's overlay upper dir, diffed into the new
	// layer (see Diff). The overlay should be unmounted or the container
	// paused, so the tree is stable.
	UpperDir string
	// Layer is an uncompressed (or gzip/zstd) tar to add as the new layer,
	// for build steps that do not run a container (COPY, ADD). At most one
	// of UpperDir and Layer; with neither, the image gets no new layer and
	// its history entry is an empty layer (ENV, CMD, LABEL ... steps).
	Layer io.Reader
	// Config, when not nil, replaces the base's runtime config (commit
	// changes are applied by the caller: build.ApplyChanges).
	Config *v1.Config
	// History: author (also the image's author when set), comment and the
	// command that made the layer ("/bin/sh -c echo hi").
	Author, Comment, CreatedBy string
	// Created defaults to now.
	Created time.Time
	// Tags to point at the new image (none: the image is dangling, as
	// build's intermediate images are).
	Tags []string
}

// Commit adds a layer (from opts.UpperDir or opts.Layer, or none) and a new
// config with a history entry on top of opts.Base, and returns the new
// image. The layer is stored as a gzip blob and unpacked under its chain ID,
// so the image can run at once and be pushed or saved.
func (s *Store) Commit(opts CommitOptions) (*Image, error) {
	if opts.UpperDir != "" && opts.Layer != nil {
		return nil, fmt.Errorf("committing: give UpperDir or Layer, not both")
	}
	unlock, err := s.ingest()
	if err != nil {
		return nil, err
	}
	defer unlock()
	cfg := &v1.ConfigFile{OS: "linux", Architecture: runtime.GOARCH, RootFS: v1.RootFS{Type: "layers"}}
	var descs []v1.Descriptor
	mediaType := types.OCIManifestSchema1
	parentChain := ""
	if opts.Base != "" {
		base, err := s.Image(opts.Base)
		if err != nil {
			return nil, fmt.Errorf("committing on %s: %w", opts.Base, err)
		}
		// A deep copy through JSON: the base stays untouched.
		if err := json.Unmarshal(base.RawConfig, cfg); err != nil {
			return nil, fmt.Errorf("committing on %s: %w", opts.Base, err)
		}
		descs = append(descs, base.Manifest.Layers...)
		mediaType = base.Manifest.MediaType
		if n := len(base.ChainIDs); n > 0 {
			parentChain = base.ChainIDs[n-1]
		}
	}
	if opts.Config != nil {
		cfg.Config = *opts.Config
	}
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	var layer io.Reader
	switch {
	case opts.UpperDir != "":
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(Diff(opts.UpperDir, pw)) }()
		defer pr.Close()
		layer = pr
	case opts.Layer != nil:
		layer = opts.Layer
	}
	h := v1.History{Created: v1.Time{Time: created}, CreatedBy: opts.CreatedBy, Author: opts.Author, Comment: opts.Comment}
	if layer != nil {
		info, err := s.addLayer(layer, parentChain)
		if err != nil {
			return nil, fmt.Errorf("committing on %s: %w", opts.Base, err)
		}
		d := info.Descriptor()
		if mediaType == types.DockerManifestSchema2 {
			d.MediaType = types.DockerLayer
		}
		descs = append(descs, d)
		dh, _ := v1.NewHash(info.DiffID)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, dh)
	} else {
		h.EmptyLayer = true
	}
	cfg.History = append(cfg.History, h)
	cfg.Created = v1.Time{Time: created}
	if opts.Author != "" {
		cfg.Author = opts.Author
	}
	cfg.Container = ""
	md, err := s.writeImageAs(cfg, descs, mediaType)
	if err != nil {
		return nil, fmt.Errorf("committing on %s: %w", opts.Base, err)
	}
	img, err := s.registerImage(md, opts.Tags, "")
	if err != nil {
		return nil, fmt.Errorf("committing on %s: %w", opts.Base, err)
	}
	return img, nil
}
