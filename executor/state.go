package executor

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/stack-dev/stack/planner"
)

// RecordVersion is the format version of a project record. A record of a
// newer version is refused (an older stack must not rewrite what it does
// not understand); older versions are read as they are.
const RecordVersion = 1

// ProjectRecord is what the executor has applied for one project, kept in
// <root>/projects/<project>.json and rewritten atomically after each
// completed step. It is the recorded half of planner.Observed (Observe
// turns it into one; the kernel cross-checks are added on top).
type ProjectRecord struct {
	Version  int                       `json:"version"`
	Project  string                    `json:"project"`
	Networks map[string]*NetworkRecord `json:"networks,omitempty"` // by key in the stack file
	Volumes  map[string]*VolumeRecord  `json:"volumes,omitempty"`  // by key in the stack file
	// Images are the images the project's services run or the stack made
	// (x-stack-images, build:), by the name the stack file uses.
	Images map[string]*ImageRecord `json:"images,omitempty"`
	// Containers carry the applied canonical service (snapshot, hash and
	// hash version) each was created from.
	Containers []*ContainerRecord `json:"containers,omitempty"`
}

// NetworkRecord is a network the project created.
type NetworkRecord struct {
	HostName string          `json:"host_name"`
	External bool            `json:"external,omitempty"` // not created by the project: never removed
	Bridge   string          `json:"bridge,omitempty"`
	Subnet   string          `json:"subnet,omitempty"`
	Gateway  string          `json:"gateway,omitempty"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"` // canonical spec.Network applied
}

// VolumeRecord is a named volume the project created.
type VolumeRecord struct {
	HostName string `json:"host_name"`
	External bool   `json:"external,omitempty"` // not created by the project: never removed
}

// ImageRecord is an image the project uses or made.
type ImageRecord struct {
	ID        string          `json:"id"`
	InputHash string          `json:"input_hash,omitempty"` // planner.ImageInputHash when the stack made it
	Snapshot  json.RawMessage `json:"snapshot,omitempty"`   // the definition it was made from
}

// Container states as recorded by the executor.
const (
	StateCreated  = "created" // made, not started yet (an interrupted up leaves this)
	StateRunning  = "running"
	StateExited   = "exited"
	StateRemoving = "removing" // teardown began
)

// ContainerRecord is one container of the project.
type ContainerRecord struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Service string `json:"service"`
	Number  int    `json:"number"`
	// ConfigHash is spec's config hash of the service ("v1:<hex>", the
	// prefix names the algorithm); Snapshot is the canonical service JSON.
	ConfigHash string          `json:"config_hash"`
	Snapshot   json.RawMessage `json:"snapshot,omitempty"`
	ImageID    string          `json:"image_id,omitempty"`
	Networks   []string        `json:"networks,omitempty"` // keys of the project networks it is on
	State      string          `json:"state"`
	ExitCode   int             `json:"exit_code,omitempty"`
}

// projectRecordPath is <root>/projects/<project>.json.
func projectRecordPath(root, project string) (string, error) {
	if project == "" || project == "." || project == ".." || strings.ContainsAny(project, `/\`) {
		return "", fmt.Errorf("project name %q: not usable as a file name", project)
	}
	return filepath.Join(root, "projects", project+".json"), nil
}

// ReadProjectRecord reads the project's record. A project with no record
// gives an error that errors.Is(err, fs.ErrNotExist).
func ReadProjectRecord(root, project string) (*ProjectRecord, error) {
	path, err := projectRecordPath(root, project)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading project record: %w", err)
	}
	var rec ProjectRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, fmt.Errorf("reading project record %s: %w", path, err)
	}
	if rec.Version > RecordVersion {
		return nil, fmt.Errorf("reading project record %s: format version %d is newer than this stack's (%d)", path, rec.Version, RecordVersion)
	}
	if rec.Project != project {
		return nil, fmt.Errorf("reading project record %s: it is the record of project %q", path, rec.Project)
	}
	return &rec, nil
}

// WriteProjectRecord replaces the project's record atomically.
func WriteProjectRecord(root string, rec *ProjectRecord) error {
	path, err := projectRecordPath(root, rec.Project)
	if err != nil {
		return err
	}
	if rec.Version == 0 {
		rec.Version = RecordVersion
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing project record: %w", err)
	}
	if err := writeJSONAtomic(path, rec); err != nil {
		return fmt.Errorf("writing project record: %w", err)
	}
	return nil
}

// writeJSONAtomic writes v as indented JSON to path so that a reader, or a
// crash at any moment, sees either the old file or the new one: a temporary
// file in the same directory is written and fsynced, renamed over path,
// and the directory is fsynced so that the rename itself is durable.
func writeJSONAtomic(path string, v any) (err error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", path, err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("syncing directory %s: %w", dir, err)
	}
	return nil
}

// RecordFromObserved is the record that Observe reads back as obs (the
// inverse of Observe's conversion; drift flags are not recorded). Tests and
// benchmarks use it to write a converged state made by planner.Apply.
func RecordFromObserved(obs *planner.Observed) *ProjectRecord {
	rec := &ProjectRecord{
		Version:  RecordVersion,
		Project:  obs.Project,
		Networks: make(map[string]*NetworkRecord, len(obs.Networks)),
		Volumes:  make(map[string]*VolumeRecord, len(obs.Volumes)),
		Images:   make(map[string]*ImageRecord, len(obs.Images)),
	}
	for k, n := range obs.Networks {
		rec.Networks[k] = &NetworkRecord{HostName: n.HostName, Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway, Snapshot: json.RawMessage(n.Snapshot)}
	}
	for k, v := range obs.Volumes {
		rec.Volumes[k] = &VolumeRecord{HostName: v.HostName}
	}
	for k, img := range obs.Images {
		rec.Images[k] = &ImageRecord{ID: img.ID, InputHash: img.InputHash, Snapshot: json.RawMessage(img.Snapshot)}
	}
	for _, c := range obs.Containers {
		state := StateRunning
		switch c.Status {
		case planner.StatusExited:
			state = StateExited
		case planner.StatusDead, planner.StatusMissing:
			state = StateCreated
		}
		rec.Containers = append(rec.Containers, &ContainerRecord{
			ID: c.ID, Name: c.Name, Service: c.Service, Number: c.Number,
			ConfigHash: c.ConfigHash, Snapshot: json.RawMessage(c.Snapshot), ImageID: c.ImageID,
			Networks: append([]string(nil), c.Networks...), State: state, ExitCode: c.ExitCode,
		})
	}
	return rec
}
