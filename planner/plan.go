package planner

import (
	"encoding/json"

	"github.com/stack-dev/stack/spec"
)

// Action is what a step does to its resource. Its symbol is what the human
// rendering shows.
type Action string

const (
	Create  Action = "create"  // +  the resource does not exist yet
	Update  Action = "update"  // ~  changed in place: the resource is kept
	Replace Action = "replace" // ±  destroyed, then created again
	Remove  Action = "remove"  // -  no longer in the stack file
)

// Symbol is the one-character mark of the action.
func (a Action) Symbol() string {
	switch a {
	case Create:
		return "+"
	case Update:
		return "~"
	case Replace:
		return "±"
	case Remove:
		return "-"
	}
	return "?"
}

// Operation names exactly what the executor does for a step, so that it
// makes no decision of its own.
type Operation string

const (
	OpCreate      Operation = "create"       // network, volume, container(s)
	OpRemove      Operation = "remove"       // network, container(s)
	OpReplace     Operation = "replace"      // remove, then create
	OpPull        Operation = "pull"         // image: fetch the reference
	OpBuild       Operation = "build"        // image: Dockerfile build
	OpCommit      Operation = "commit"       // image: x-stack-images commit
	OpStart       Operation = "start"        // containers: start the exited container(s)
	OpRestart     Operation = "restart"      // containers: stop and start (depends_on restart: true)
	OpUpdate      Operation = "update"       // containers: apply the changed fields live, rewrite the record
	OpRepairRules Operation = "repair-rules" // network: reinstall its NAT/forwarding rules
)

// Step is one action on one resource.
type Step struct {
	// ID is 1-based; steps are listed in ID order, which is a dependency
	// order: every step comes after the steps in DependsOn.
	ID        int
	Action    Action
	Operation Operation
	// Resource is "kind/name": service/web, network/front, volume/data,
	// image/httpd-box, image/busybox:latest.
	Resource string
	// Instances are the container names a service step acts on, sorted by
	// container number.
	Instances []string
	// Reason says why, in words: "not present", "config changed",
	// "container missing (removed outside stack)", "network front replaced".
	Reason string
	// Changes is the field-level diff between the last-applied snapshot
	// and the stack file (empty when there is no snapshot to compare).
	Changes []Change
	// DependsOn are the IDs of the steps this one comes after when
	// creating. Teardown (of - and ± steps) runs in the reverse order.
	DependsOn []int
	// Waits are the depends_on conditions to wait for before starting the
	// service's containers (whether or not the dependency has a step).
	Waits []Wait
	// InputHash is, for an image the stack makes (build, commit), the hash
	// of its inputs: the executor records it with the image, together with
	// ImageSnapshot, so that the next plan knows whether to make it again.
	InputHash string
	// Pos is where the resource is defined (file relative to the project
	// directory); zero for resources no longer in the file.
	Pos spec.Pos
}

// Change is one changed field. Path is a dotted path into the canonical
// form ("command", "resources.mem_limit", "environment.FOO",
// "ipam[0].subnet"). Before and After are compact JSON; nil means absent.
type Change struct {
	Path   string
	Before json.RawMessage
	After  json.RawMessage
}

// Wait is one depends_on condition of a service.
type Wait struct {
	Resource  string // service/db
	Condition string // service_started, service_healthy, service_completed_successfully
	Required  bool
	Restart   bool
}

// Plan is the ordered list of steps that takes the host from the observed
// state to the stack file.
type Plan struct {
	Project string
	Steps   []Step
}

// Summary counts the steps by action.
type Summary struct {
	Create  int `json:"create"`
	Update  int `json:"update"`
	Replace int `json:"replace"`
	Remove  int `json:"remove"`
}

// Summary counts the plan's steps by action.
func (p *Plan) Summary() Summary {
	var s Summary
	for _, st := range p.Steps {
		switch st.Action {
		case Create:
			s.Create++
		case Update:
			s.Update++
		case Replace:
			s.Replace++
		case Remove:
			s.Remove++
		}
	}
	return s
}

// Empty reports whether the plan changes nothing.
func (p *Plan) Empty() bool { return len(p.Steps) == 0 }

// Options change what Diff decides.
type Options struct {
	// ForceRecreate replaces every selected service's existing containers.
	ForceRecreate bool
	// NoRecreate keeps existing containers even when their configuration,
	// image or network changed. Missing or dead containers are still
	// recreated, and exited ones started.
	NoRecreate bool
	// Services restricts the plan to these services and, unless NoDeps,
	// the services they depend on (transitively). Orphans are not removed
	// when a selection is given.
	Services []string
	// NoDeps leaves out the dependencies of the selected services.
	NoDeps bool
	// ContextDigests are optional digests of build contexts, by image name;
	// when given they are part of the image's input hash (Step.InputHash),
	// so a changed context rebuilds the image.
	ContextDigests map[string]string
}
