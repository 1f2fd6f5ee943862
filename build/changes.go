package build

import (
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// commitInstructions are the instructions `docker commit -c` accepts.
var commitInstructions = map[string]bool{
	"CMD": true, "ENTRYPOINT": true, "ENV": true, "EXPOSE": true, "HEALTHCHECK": true,
	"LABEL": true, "ONBUILD": true, "STOPSIGNAL": true, "USER": true, "VOLUME": true, "WORKDIR": true,
}

// ApplyChanges applies `docker commit -c` changes to cfg, in order, as
// docker does: each change is one Dockerfile instruction among CMD,
// ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER,
// VOLUME and WORKDIR, with $VAR expanded from cfg's environment; an
// ENTRYPOINT change clears the inherited CMD unless a CMD change precedes
// it. On error cfg is unchanged.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	p := &Plan{File: "change", Escape: '\\', buildArgs: map[string]string{}}
	c := &converter{p: p, cfg: &v1.ConfigFile{Config: cloneConfig(*cfg)}, args: newArgEnv(nil)}
	for i, change := range changes {
		pos := Pos{File: "change " + strconv.Itoa(i+1) + " (" + change + ")"}
		if strings.TrimSpace(change) == "" {
			return errorfAt(pos, "empty change; valid instructions are CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR")
		}
		res, err := parser.Parse(strings.NewReader(change))
		if err != nil {
			return errorfAt(pos, "%s", cleanErr(err))
		}
		if len(res.AST.Children) != 1 {
			return errorfAt(pos, "a change is exactly one instruction")
		}
		node := res.AST.Children[0]
		name := strings.ToUpper(node.Value)
		if !commitInstructions[name] {
			return errorfAt(pos, "%s cannot be applied by a commit; valid instructions are CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR", name)
		}
		cmd, err := instructions.ParseCommand(node)
		if err != nil {
			return errorfAt(pos, "%s: %s", name, cleanErr(err))
		}
		in := &Instruction{Pos: pos, Cmd: name, Source: change, cmd: cmd}
		if err := checkSupported(in); err != nil {
			return err
		}
		if _, err := c.step(in); err != nil {
			return err
		}
	}
	*cfg = c.cfg.Config
	return nil
}
