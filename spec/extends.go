package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// extendsRef identifies one service definition: a file (absolute) and a name.
type extendsRef struct{ file, service string }

// resolveAllExtends replaces every service that has `extends` with the
// merge of its base (resolved recursively) and its own keys.
func (l *loader) resolveAllExtends(root *node, mainFile string) {
	services := root.get("services")
	if services == nil || services.kind != mapNode {
		return
	}
	done := map[extendsRef]*node{}
	for i, k := range services.keys {
		if services.vals[i].kind != mapNode {
			continue
		}
		services.vals[i] = l.resolveExtends(services, k.value, mainFile, done, nil)
	}
}

// resolveExtends returns service name of the services mapping (in file,
// "" for the main files) with its extends applied.
func (l *loader) resolveExtends(services *node, name, file string, done map[extendsRef]*node, chain []extendsRef) *node {
	ref := extendsRef{file, name}
	if n, ok := done[ref]; ok {
		return n
	}
	svc := services.get(name)
	ek, ev := svc.getKey("extends")
	if ev == nil {
		done[ref] = svc
		return svc
	}
	path := "services." + name + ".extends"
	for _, c := range chain {
		if c == ref {
			names := make([]string, 0, len(chain)+1)
			for _, c := range chain {
				names = append(names, c.service)
			}
			names = append(names, name)
			l.errAt(ek.pos, path, "extends cycle: %s", strings.Join(names, " -> "))
			done[ref] = svc
			return svc
		}
	}
	chain = append(chain, ref)
	var baseName, baseFile *node
	switch ev.kind {
	case scalarNode:
		baseName = ev
	case mapNode:
		for i, k := range ev.keys {
			switch k.value {
			case "service":
				baseName = ev.vals[i]
			case "file":
				baseFile = ev.vals[i]
			default:
				if !strings.HasPrefix(k.value, "x-") {
					l.errAt(k.pos, path+"."+k.value, "unknown key%s", validList(k.value, []string{"file", "service"}))
				}
			}
		}
	default:
		l.errAt(ev.pos, path, "must be a service name or a mapping {service, file}, got %s", ev.kind)
	}
	own := withoutKey(svc, "extends")
	if baseName == nil || baseName.kind != scalarNode || baseName.value == "" {
		if ev.kind == mapNode {
			l.errAt(ev.pos, path+".service", "is required: the name of the service to extend")
		}
		done[ref] = svc
		return svc
	}
	baseServices, baseFileKey := services, file
	if baseFile != nil {
		if baseFile.kind != scalarNode || baseFile.value == "" {
			l.errAt(baseFile.pos, path+".file", "must be a path")
			done[ref] = svc
			return svc
		}
		abs := l.resolvePath(baseFile.value, filepath.Dir(absOf(baseFile.pos.File)))
		f, err := l.extendsFile(abs, displayPath(baseFile.pos.File, baseFile.value))
		if err != nil {
			l.errAt(baseFile.pos, path+".file", "%v", err)
			done[ref] = svc
			return svc
		}
		baseServices = f.get("services")
		baseFileKey = abs
		if baseServices == nil || baseServices.kind != mapNode {
			l.errAt(baseName.pos, path+".service", "%s has no services", baseFile.value)
			done[ref] = svc
			return svc
		}
	}
	if b := baseServices.get(baseName.value); b == nil || b.kind != mapNode {
		where := ""
		if baseFile != nil {
			where = " in " + baseFile.value
		}
		l.errAt(baseName.pos, path+".service", "no service %q%s to extend", baseName.value, where)
		done[ref] = svc
		return svc
	}
	base := l.resolveExtends(baseServices, baseName.value, baseFileKey, done, chain)
	merged := mergeService(base.copy(), own)
	done[ref] = merged
	return merged
}

// extendsFile loads (once) a file named by extends.file.
func (l *loader) extendsFile(abs, display string) (*node, error) {
	if l.extFiles == nil {
		l.extFiles = map[string]*node{}
	}
	if n, ok := l.extFiles[abs]; ok {
		return n, nil
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("reading %s: %w", display, unwrapPathErr(err))
	}
	n, err := l.loadFile(display, filepath.Dir(abs), l.lookup, nil)
	if err != nil {
		return nil, err
	}
	if n == nil {
		n = &node{kind: mapNode}
	}
	stripResets(n)
	l.extFiles[abs] = n
	return n, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func withoutKey(n *node, key string) *node {
	c := shallowMap(n)
	c.del(key)
	return c
}
