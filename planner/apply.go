package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"sort"
	"strings"

	"github.com/stack-dev/stack/spec"
)

// Apply returns the state the host would be in after every step of plan
// succeeded, as the executor would record it. It is pure and does not
// change observed. Ids it makes up (image and container ids) are derived
// from names and hashes, so the result is deterministic.
//
// Apply is the model of the executor's contract: planning again from its
// result, with the same options, gives an empty plan (a property the tests
// check over every golden case).
func Apply(observed *Observed, plan *Plan, desired *spec.Stack) *Observed {
	out := cloneObserved(observed)
	if out.Project == "" {
		out.Project = desired.Name
	}
	d := &differ{desired: desired, observed: out}
	for _, st := range plan.Steps {
		kind, name, _ := strings.Cut(st.Resource, "/")
		switch kind {
		case kindNetwork:
			applyNetwork(out, st, desired.Networks[name], name)
		case kindVolume:
			if st.Action == Remove {
				delete(out.Volumes, name)
				continue
			}
			v := desired.Volumes[name]
			out.Volumes[name] = &ObservedVolume{HostName: v.HostName}
		case kindImage:
			if st.Action == Remove {
				delete(out.Images, name)
				continue
			}
			ref := d.imageOf(name)
			out.Images[name] = &ObservedImage{ID: fakeID("image", name, st.InputHash), InputHash: st.InputHash, Snapshot: ref.definition(desired.WorkingDir)}
		case kindService:
			applyService(d, out, st, desired.Services[name])
		}
	}
	return out
}

func applyNetwork(out *Observed, st Step, n *spec.Network, name string) {
	switch st.Operation {
	case OpRemove:
		delete(out.Networks, name)
	case OpRepairRules:
		out.Networks[name].RulesMissing = false
	default:
		snap, _ := json.Marshal(n)
		on := &ObservedNetwork{HostName: n.HostName, Bridge: "stk-" + fakeID("bridge", name)[:8], Snapshot: snap}
		if len(n.IPAM) > 0 {
			on.Subnet, on.Gateway = n.IPAM[0].Subnet, n.IPAM[0].Gateway
		}
		out.Networks[name] = on
	}
}

func applyService(d *differ, out *Observed, st Step, s *spec.Service) {
	names := map[string]bool{}
	for _, n := range st.Instances {
		names[n] = true
	}
	switch st.Operation {
	case OpRemove, OpReplace:
		// A replaced container is found by its number: its recorded name
		// may be an old one (container_name changed).
		numbers := map[int]bool{}
		if s != nil && st.Operation == OpReplace {
			for i := 1; i <= Scale(s); i++ {
				numbers[i] = names[ContainerName(d.desired.Name, s, i)]
			}
		}
		service := strings.TrimPrefix(st.Resource, kindService+"/")
		kept := out.Containers[:0]
		for _, c := range out.Containers {
			if names[c.Name] || (c.Service == service && numbers[c.Number]) {
				continue
			}
			kept = append(kept, c)
		}
		out.Containers = kept
	}
	switch st.Operation {
	case OpRemove:
		return
	case OpCreate, OpReplace:
		snap, _ := s.Snapshot()
		var imageID string
		if img := out.Images[d.serviceImage(s).key]; img != nil {
			imageID = img.ID
		}
		for i := 1; i <= Scale(s); i++ {
			name := ContainerName(d.desired.Name, s, i)
			if !names[name] {
				continue
			}
			out.Containers = append(out.Containers, &ObservedContainer{
				Service: s.Name, Number: i, Name: name, ID: fakeID("container", name),
				ConfigHash: s.ConfigHash(), Snapshot: snap,
				ImageID: imageID, Networks: d.attachedNetworks(s), Status: StatusRunning,
			})
		}
		sort.SliceStable(out.Containers, func(i, j int) bool {
			a, b := out.Containers[i], out.Containers[j]
			if a.Service != b.Service {
				return a.Service < b.Service
			}
			return a.Number < b.Number
		})
	default: // update, start, restart
		snap, _ := s.Snapshot()
		for _, c := range out.Containers {
			if !names[c.Name] {
				continue
			}
			if st.Operation == OpUpdate {
				c.ConfigHash, c.Snapshot = s.ConfigHash(), snap
			}
			c.Status, c.ExitCode = StatusRunning, 0
		}
	}
}

func fakeID(parts ...string) string {
	sum := sha256.Sum256([]byte(strings.Join(parts, "\x00")))
	return hex.EncodeToString(sum[:])
}

func cloneObserved(o *Observed) *Observed {
	out := &Observed{
		Networks: map[string]*ObservedNetwork{},
		Volumes:  map[string]*ObservedVolume{},
		Images:   map[string]*ObservedImage{},
	}
	if o == nil {
		return out
	}
	out.Project = o.Project
	for k, v := range o.Networks {
		c := *v
		out.Networks[k] = &c
	}
	for k, v := range o.Volumes {
		c := *v
		out.Volumes[k] = &c
	}
	for k, v := range o.Images {
		c := *v
		out.Images[k] = &c
	}
	for _, v := range o.Containers {
		c := *v
		c.Networks = append([]string(nil), v.Networks...)
		out.Containers = append(out.Containers, &c)
	}
	return out
}
