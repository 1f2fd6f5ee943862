package planner

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"go.yaml.in/yaml/v3"
)

// Observed is what exists on the host for one project, as plain data: what
// the executor recorded when it last applied a plan, cross-checked with the
// kernel where it can. The planner only reads it. Tests build it from
// literals or from YAML/JSON fixtures (golden/plan/<case>/observed.yaml).
//
// Networks, Volumes and Images are keyed by their name in the stack file
// (the key under `networks:`, `volumes:`, `x-stack-images:`, or the image
// reference a service names). A nil Observed, or one with nothing in it,
// means nothing exists yet: everything is to be created.
type Observed struct {
	Project    string                      `json:"project,omitempty" yaml:"project,omitempty"`
	Networks   map[string]*ObservedNetwork `json:"networks,omitempty" yaml:"networks,omitempty"`
	Volumes    map[string]*ObservedVolume  `json:"volumes,omitempty" yaml:"volumes,omitempty"`
	Images     map[string]*ObservedImage   `json:"images,omitempty" yaml:"images,omitempty"`
	Containers []*ObservedContainer        `json:"containers,omitempty" yaml:"containers,omitempty"`
}

// ObservedNetwork is a network the project created.
type ObservedNetwork struct {
	HostName string `json:"host_name,omitempty" yaml:"host_name,omitempty"`
	Subnet   string `json:"subnet,omitempty" yaml:"subnet,omitempty"`
	Gateway  string `json:"gateway,omitempty" yaml:"gateway,omitempty"`
	Bridge   string `json:"bridge,omitempty" yaml:"bridge,omitempty"` // host interface, e.g. stk-1a2b3c4d
	// Snapshot is the canonical JSON of the spec.Network last applied. When
	// it is empty, only Subnet and Gateway are compared with the file.
	Snapshot Snapshot `json:"snapshot,omitempty" yaml:"snapshot,omitempty"`
	// Drift found by the executor: recorded, but not (all) there.
	BridgeMissing bool `json:"bridge_missing,omitempty" yaml:"bridge_missing,omitempty"`
	RulesMissing  bool `json:"rules_missing,omitempty" yaml:"rules_missing,omitempty"`
}

// ObservedVolume is a named volume that exists.
type ObservedVolume struct {
	HostName string `json:"host_name,omitempty" yaml:"host_name,omitempty"`
}

// ObservedImage is an image present in the local store.
type ObservedImage struct {
	ID string `json:"id" yaml:"id"`
	// InputHash is, for an image the stack makes itself (x-stack-images, or
	// a service's build:), the Step.InputHash of the step that made it.
	// Empty for pulled images.
	InputHash string `json:"input_hash,omitempty" yaml:"input_hash,omitempty"`
	// Snapshot is the canonical JSON of the definition it was made from
	// (the spec.Image or the service's spec.Build); it supplies the field
	// changes when the image is made again.
	Snapshot Snapshot `json:"snapshot,omitempty" yaml:"snapshot,omitempty"`
}

// ContainerStatus is what the executor found of a recorded container.
type ContainerStatus string

const (
	StatusRunning ContainerStatus = "running"
	StatusExited  ContainerStatus = "exited"  // its process ended; ExitCode says how
	StatusMissing ContainerStatus = "missing" // recorded, but gone from the host
	StatusDead    ContainerStatus = "dead"    // half there (no process and broken state)
)

// ObservedContainer is one container of the project.
type ObservedContainer struct {
	Service string `json:"service" yaml:"service"`
	Number  int    `json:"number" yaml:"number"` // 1-based, the n in <project>-<service>-<n>
	Name    string `json:"name" yaml:"name"`
	ID      string `json:"id,omitempty" yaml:"id,omitempty"`
	// ConfigHash is spec's config hash of the service when the container
	// was created ("v1:<hex>": the prefix is the algorithm version). An
	// empty hash, or one of another version, is recomputed from Snapshot.
	ConfigHash string `json:"config_hash,omitempty" yaml:"config_hash,omitempty"`
	// Snapshot is the canonical JSON of the spec.Service last applied.
	Snapshot Snapshot `json:"snapshot,omitempty" yaml:"snapshot,omitempty"`
	// ImageID is the id of the image the container was created from.
	ImageID string `json:"image_id,omitempty" yaml:"image_id,omitempty"`
	// Networks are the keys of the project networks it is attached to.
	Networks []string        `json:"networks,omitempty" yaml:"networks,omitempty"`
	Status   ContainerStatus `json:"status" yaml:"status"`
	ExitCode int             `json:"exit_code,omitempty" yaml:"exit_code,omitempty"`
}

// Snapshot is canonical JSON. In YAML fixtures it may be written either as
// a string holding JSON or as a plain YAML mapping, which is converted.
type Snapshot []byte

// MarshalJSON writes the snapshot as embedded JSON (null when empty).
func (s Snapshot) MarshalJSON() ([]byte, error) {
	if len(s) == 0 {
		return []byte("null"), nil
	}
	return []byte(s), nil
}

// UnmarshalJSON keeps the raw JSON (compacted); null means empty.
func (s *Snapshot) UnmarshalJSON(b []byte) error {
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		*s = nil
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	*s = Snapshot(buf.Bytes())
	return nil
}

// MarshalYAML writes the snapshot as a YAML value.
func (s Snapshot) MarshalYAML() (any, error) {
	if len(s) == 0 {
		return nil, nil
	}
	var v any
	if err := json.Unmarshal(s, &v); err != nil {
		return nil, err
	}
	return v, nil
}

// UnmarshalYAML accepts a JSON string or any YAML value.
func (s *Snapshot) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		return s.UnmarshalJSON([]byte(n.Value))
	}
	var v any
	if err := n.Decode(&v); err != nil {
		return err
	}
	b, err := json.Marshal(jsonable(v))
	if err != nil {
		return fmt.Errorf("snapshot at line %d: %w", n.Line, err)
	}
	*s = Snapshot(b)
	return nil
}

// jsonable turns YAML-decoded values (map[any]any in nested places) into
// values encoding/json accepts.
func jsonable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = jsonable(e)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range t {
			t[i] = jsonable(e)
		}
		return t
	}
	return v
}

// ParseObserved reads an Observed from YAML or JSON (JSON is YAML).
func ParseObserved(data []byte) (*Observed, error) {
	var o Observed
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&o); err != nil {
		if errors.Is(err, io.EOF) {
			return &Observed{}, nil
		}
		return nil, fmt.Errorf("parsing observed state: %w", err)
	}
	return &o, nil
}
