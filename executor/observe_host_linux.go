package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/layers"
	"github.com/stack-dev/stack/netplan"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// ObserveHost is Observe cross-checked with the host: a recorded container
// whose directory is gone is missing; one whose init is gone is exited
// (with the recorded exit code) or, when its supervisor vanished without
// recording an exit, dead; a recorded network whose bridge or rules are
// gone is drift; and an image the stack file names that the project has
// not recorded but the local store holds is present (it is not pulled).
// Nothing is changed: the plan repairs what is found.
func ObserveHost(ctx context.Context, root string, desired *spec.Stack) (*planner.Observed, error) {
	obs, err := Observe(root, desired.Name)
	if err != nil {
		return nil, err
	}
	if rec, err := ReadProjectRecord(root, desired.Name); err == nil || errors.Is(err, fs.ErrNotExist) {
		if rec == nil {
			rec = &ProjectRecord{Project: desired.Name}
		}
		strays, err := findStrays(root, desired.Name, rec, false)
		if err != nil {
			return nil, err
		}
		for _, c := range strays {
			obs.Containers = append(obs.Containers, &planner.ObservedContainer{
				Service: c.Service, Number: c.Number, Name: c.Name, ID: c.ID, Status: planner.StatusDead,
			})
		}
	}
	for _, c := range obs.Containers {
		c.Status, c.ExitCode = containerOnHost(root, c)
	}
	if len(obs.Networks) > 0 {
		if err := networksOnHost(ctx, root, obs); err != nil {
			return nil, err
		}
	}
	if err := imagesOnHost(root, desired, obs); err != nil {
		return nil, err
	}
	return obs, nil
}

// containerOnHost is the status of one recorded container as the host has it.
func containerOnHost(root string, c *planner.ObservedContainer) (planner.ContainerStatus, int) {
	if c.Status == planner.StatusDead || c.ID == "" {
		return c.Status, c.ExitCode
	}
	dir := containerDir(root, c.ID)
	st, err := container.ReadState(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			if _, serr := os.Stat(filepath.Join(dir, "config.json")); serr == nil {
				return planner.StatusDead, 0 // created, never started
			}
			return planner.StatusMissing, 0
		}
		return planner.StatusDead, 0
	}
	initAlive, supAlive := IsRunning(st)
	switch {
	case initAlive && (supAlive || st.Supervisor == 0):
		return planner.StatusRunning, 0
	case initAlive:
		// Running without its supervisor: nobody records its exit or
		// restarts it.
		return planner.StatusDead, 0
	case st.Status == container.Exited:
		return planner.StatusExited, st.ExitCode
	case st.Status == container.Restarting && supAlive:
		return planner.StatusRunning, 0
	case st.Status == container.Created:
		return planner.StatusDead, 0
	}
	return planner.StatusDead, st.ExitCode
}

// networksOnHost marks recorded networks whose bridge or rules are gone.
func networksOnHost(ctx context.Context, root string, obs *planner.Observed) error {
	if _, err := os.Stat(filepath.Join(root, "networks")); errors.Is(err, fs.ErrNotExist) {
		for _, n := range obs.Networks {
			n.BridgeMissing = true
		}
		return nil
	}
	nm, err := OpenNetworks(root)
	if err != nil {
		return fmt.Errorf("observing networks: %w", err)
	}
	defer nm.Close()
	stats, err := nm.Status(ctx)
	if err != nil {
		return fmt.Errorf("observing networks: %w", err)
	}
	byName := map[string]netplan.NetworkStatus{}
	for _, s := range stats {
		byName[s.Name] = s
	}
	for _, n := range obs.Networks {
		s, ok := byName[n.HostName]
		if !ok {
			n.BridgeMissing = true
			continue
		}
		n.BridgeMissing, n.RulesMissing = s.BridgeMissing, s.RulesMissing
	}
	return nil
}

// imagesOnHost fills in the images the stack names that the store holds
// but the project did not record, and drops recorded images of the store
// that are gone (so they are made or pulled again).
func imagesOnHost(root string, desired *spec.Stack, obs *planner.Observed) error {
	refs := map[string]bool{}
	for _, s := range desired.Services {
		if s.Image != "" && desired.Images[s.Image] == nil && s.Build == nil {
			refs[s.Image] = true
		}
	}
	for _, img := range desired.Images {
		if img.Commit != nil && desired.Images[img.Commit.From] == nil {
			refs[img.Commit.From] = true
		}
	}
	if len(refs) == 0 && len(obs.Images) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(root, "blobs")); errors.Is(err, fs.ErrNotExist) {
		obs.Images = nil // an empty store: every image is to be made or pulled
		return nil
	}
	store, err := layers.Open(root)
	if err != nil {
		return fmt.Errorf("observing images: %w", err)
	}
	for name, img := range obs.Images {
		cur, err := store.Image(name)
		if err != nil || (img.InputHash == "" && cur.ID != img.ID) {
			// Gone, or a pulled image whose tag moved: observe what is there.
			if err != nil {
				delete(obs.Images, name)
				continue
			}
			img.ID = cur.ID
		}
	}
	for _, ref := range sortedKeys(refs) {
		if obs.Images[ref] != nil {
			continue
		}
		if img, err := store.Image(ref); err == nil {
			if obs.Images == nil {
				obs.Images = map[string]*planner.ObservedImage{}
			}
			obs.Images[ref] = &planner.ObservedImage{ID: img.ID}
		}
	}
	return nil
}

// findStrays lists the project's containers on the host that rec lacks;
// one-off containers (`stack run SERVICE`) only with oneoffs.
func findStrays(root, project string, rec *ProjectRecord, oneoffs bool) ([]*ContainerRecord, error) {
	entries, err := os.ReadDir(filepath.Join(root, "containers"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	known := map[string]bool{}
	for _, c := range rec.Containers {
		known[c.ID] = true
	}
	var strays []*ContainerRecord
	for _, e := range entries {
		id := e.Name()
		if len(id) != 64 || known[id] {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "containers", id, "config.json"))
		if err != nil {
			continue
		}
		var c struct {
			Name   string            `json:"name"`
			Labels map[string]string `json:"labels"`
		}
		if json.Unmarshal(b, &c) != nil || c.Labels[LabelProject] != project {
			continue
		}
		if c.Labels[LabelOneOff] != "" && !oneoffs {
			continue
		}
		n, _ := strconv.Atoi(c.Labels[LabelNumber])
		strays = append(strays, &ContainerRecord{ID: id, Name: c.Name, Service: c.Labels[LabelService], Number: n, State: StateRemoving})
	}
	sort.Slice(strays, func(i, j int) bool { return strays[i].Name < strays[j].Name })
	return strays, nil
}
