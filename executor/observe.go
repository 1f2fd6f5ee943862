package executor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"

	"github.com/stack-dev/stack/planner"
)

// Observe builds what the planner needs to know about the project from its
// state record under root. A project with no record has nothing: the plan
// creates everything.
//
// Only the record is read for now. Cross-checks with the kernel (is the
// process alive, does the bridge exist, are the rules installed) are added
// as further passes over the result, each turning a recorded fact into
// drift (StatusMissing, BridgeMissing, ...).
func Observe(root, project string) (*planner.Observed, error) {
	rec, err := ReadProjectRecord(root, project)
	if errors.Is(err, fs.ErrNotExist) {
		return &planner.Observed{Project: project}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("observing project %s: %w", project, err)
	}
	return observedFromRecord(rec), nil
}

// observedFromRecord is the record as the planner sees it.
func observedFromRecord(rec *ProjectRecord) *planner.Observed {
	obs := &planner.Observed{
		Project:  rec.Project,
		Networks: make(map[string]*planner.ObservedNetwork, len(rec.Networks)),
		Volumes:  make(map[string]*planner.ObservedVolume, len(rec.Volumes)),
		Images:   make(map[string]*planner.ObservedImage, len(rec.Images)),
	}
	for k, n := range rec.Networks {
		obs.Networks[k] = &planner.ObservedNetwork{
			HostName: n.HostName, Subnet: n.Subnet, Gateway: n.Gateway, Bridge: n.Bridge,
			Snapshot: compact(n.Snapshot),
		}
	}
	for k, v := range rec.Volumes {
		obs.Volumes[k] = &planner.ObservedVolume{HostName: v.HostName}
	}
	for k, img := range rec.Images {
		obs.Images[k] = &planner.ObservedImage{ID: img.ID, InputHash: img.InputHash, Snapshot: compact(img.Snapshot)}
	}
	for _, c := range rec.Containers {
		obs.Containers = append(obs.Containers, &planner.ObservedContainer{
			Service: c.Service, Number: c.Number, Name: c.Name, ID: c.ID,
			ConfigHash: c.ConfigHash,
			Snapshot:   compact(c.Snapshot), ImageID: c.ImageID,
			Networks: append([]string(nil), c.Networks...),
			Status:   containerStatus(c.State), ExitCode: c.ExitCode,
		})
	}
	return obs
}

// compact undoes the indentation the record file adds to snapshots; an
// invalid snapshot is passed on as it is (the planner ignores it).
func compact(raw json.RawMessage) planner.Snapshot {
	if len(raw) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return planner.Snapshot(raw)
	}
	return planner.Snapshot(b.Bytes())
}

// containerStatus maps a recorded state to what the planner decides on. A
// container recorded as created but never started, or whose removal began,
// was left by an interrupted run: it is dead, and the plan recreates it.
func containerStatus(state string) planner.ContainerStatus {
	switch state {
	case StateRunning:
		return planner.StatusRunning
	case StateExited:
		return planner.StatusExited
	}
	return planner.StatusDead
}
