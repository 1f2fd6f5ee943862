package executor

import (
	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// ContextDigests hashes the inputs of every image the stack builds — the
// Dockerfile, its args, target and labels, and every file of the context
// not excluded by .dockerignore (contents, not times) — by the image name
// the planner uses (planner.Options.ContextDigests). So a changed file in a
// build context rebuilds the image and replaces its users. A context that
// cannot be read is left out: the build step reports it.
func ContextDigests(desired *spec.Stack) map[string]string {
	out := map[string]string{}
	add := func(name string, b *spec.Build) {
		d, err := build.InputDigest(build.Options{
			ContextDir: b.Context, Dockerfile: b.Dockerfile, DockerfileInline: b.DockerfileInline,
			Args: b.Args, Target: b.Target, Labels: b.Labels,
		})
		if err == nil {
			out[name] = d
		}
	}
	for _, name := range sortedKeys(desired.Images) {
		if img := desired.Images[name]; img.Build != nil {
			add(name, img.Build)
		}
	}
	for _, name := range sortedKeys(desired.Services) {
		s := desired.Services[name]
		if s.Build == nil {
			continue
		}
		add(planner.ImageName(desired, s), s.Build)
	}
	return out
}
