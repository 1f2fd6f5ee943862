package spec

import "strings"

// This file merges stack files the way compose does (compose-spec
// 13-merge.md): mappings are merged key by key, sequences are appended
// (identical scalars once), command, entrypoint, profiles and
// healthcheck.test are replaced, ports/volumes/secrets/configs are keyed by
// what makes them unique (a later entry with the same key replaces the
// earlier one), and the tags !reset (remove the value) and !override
// (replace instead of merging) apply. Key/value lists (environment, labels,
// ...) are turned into mappings first so that the list and mapping forms
// merge with each other.

// mergeTop merges the top level of over onto base: the sections of named
// entries entry by entry, everything else generically.
func mergeTop(base, over *node) *node {
	if base == nil {
		return over
	}
	return mergeMaps(base, over, func(key string, b, o *node) *node {
		switch key {
		case "services":
			return mergeEntries(b, o, mergeService)
		case "networks", "volumes", "configs", "secrets", "x-stack-images":
			return mergeEntries(b, o, mergeGeneric)
		}
		return mergeGeneric(b, o)
	})
}

func (n *node) keyNode(key string) *node {
	k, _ := n.getKey(key)
	return k
}

// shallowMap copies a mapping's key and value slices (not the nodes).
func shallowMap(n *node) *node {
	c := *n
	c.keys = append([]*node(nil), n.keys...)
	c.vals = append([]*node(nil), n.vals...)
	return &c
}

// mergeEntries merges two mappings of named entries (services, networks...).
func mergeEntries(base, over *node, merge func(b, o *node) *node) *node {
	return mergeMaps(base, over, func(_ string, b, o *node) *node { return merge(b, o) })
}

// mergeMaps merges two mappings key by key: !reset removes a key, a key
// only in over is taken, a key in both is merged by merge. A non-mapping
// or an !override over replaces base.
func mergeMaps(base, over *node, merge func(key string, b, o *node) *node) *node {
	if base.kind != mapNode || over.kind != mapNode || over.override {
		return over
	}
	out := shallowMap(base)
	for i, k := range over.keys {
		v := over.vals[i]
		if v.reset {
			out.del(k.value)
			continue
		}
		bv := out.get(k.value)
		if bv == nil {
			out.set(k, v)
			continue
		}
		out.set(out.keyNode(k.value), merge(k.value, bv, v))
	}
	return out
}

// mergeGeneric merges mappings key by key and appends sequences.
func mergeGeneric(base, over *node) *node {
	switch {
	case over.override, base == nil, base.reset:
		return over
	case base.kind == mapNode && over.kind == mapNode:
		return mergeEntries(base, over, mergeGeneric)
	case base.kind == seqNode && over.kind == seqNode:
		return appendUnique(base, over)
	}
	return over
}

// appendUnique appends over's items to base's, skipping scalars already there.
func appendUnique(base, over *node) *node {
	out := *base
	out.vals = append([]*node(nil), base.vals...)
	for _, v := range over.vals {
		dup := false
		if v.kind == scalarNode {
			for _, b := range out.vals {
				if b.kind == scalarNode && b.value == v.value {
					dup = true
					break
				}
			}
		}
		if !dup {
			out.vals = append(out.vals, v)
		}
	}
	return &out
}

// mergeService merges two definitions of one service.
func mergeService(base, over *node) *node {
	return mergeMaps(base, over, mergeServiceKey)
}

func mergeServiceKey(key string, b, o *node) *node {
	if o.override {
		return o
	}
	switch key {
	case "command", "entrypoint", "profiles":
		return o
	case "environment", "labels", "annotations", "sysctls":
		return mergeGeneric(listToMap(b, "="), listToMap(o, "="))
	case "depends_on", "networks":
		return mergeGeneric(listToMap(b, ""), listToMap(o, ""))
	case "ports":
		return mergeKeyed(b, o, portKey)
	case "volumes":
		return mergeKeyed(b, o, volumeKey)
	case "secrets", "configs":
		return mergeKeyed(b, o, fileRefKey)
	case "build":
		return mergeBuild(buildToMap(b), buildToMap(o))
	case "healthcheck":
		if b.kind == mapNode && o.kind == mapNode {
			t := o.get("test")
			m := mergeGeneric(b, o)
			if t != nil && !t.reset {
				m.set(m.keyNode("test"), t)
			}
			return m
		}
	}
	return mergeGeneric(b, o)
}

func buildToMap(n *node) *node {
	if n.kind != scalarNode {
		return n
	}
	m := &node{kind: mapNode, pos: n.pos, dir: n.dir}
	m.set(scalar("context", n.pos, n.dir), n)
	return m
}

func mergeBuild(b, o *node) *node {
	if b.kind != mapNode || o.kind != mapNode {
		return mergeGeneric(b, o)
	}
	out := shallowMap(b)
	for i, k := range o.keys {
		v := o.vals[i]
		if v.reset {
			out.del(k.value)
			continue
		}
		bv := out.get(k.value)
		switch {
		case bv == nil:
			out.set(k, v)
		case k.value == "args" || k.value == "labels":
			out.set(out.keyNode(k.value), mergeGeneric(listToMap(bv, "="), listToMap(v, "=")))
		default:
			out.set(out.keyNode(k.value), mergeGeneric(bv, v))
		}
	}
	return out
}

// listToMap turns a list of "KEY=VALUE" (sep "=") or of names (sep "")
// into a mapping; a list item without the separator maps to null. Items
// that are not scalars are left for the decoder to report.
func listToMap(n *node, sep string) *node {
	if n.kind != seqNode {
		return n
	}
	m := &node{kind: mapNode, pos: n.pos, dir: n.dir, keys: make([]*node, 0, len(n.vals)), vals: make([]*node, 0, len(n.vals))}
	for _, it := range n.vals {
		if it.kind != scalarNode {
			return n
		}
		k, v, found := it.value, "", false
		if sep != "" {
			k, v, found = strings.Cut(it.value, sep)
		}
		val := &node{kind: nullNode, pos: it.pos, dir: it.dir}
		if found {
			val = scalar(v, it.pos, it.dir)
		}
		m.set(scalar(k, it.pos, it.dir), val)
	}
	return m
}

// mergeKeyed appends over's items to base's; an item whose key equals a
// base item's replaces it in place.
func mergeKeyed(base, over *node, key func(*node) string) *node {
	if base.kind != seqNode || over.kind != seqNode {
		return over
	}
	out := *base
	out.vals = append([]*node(nil), base.vals...)
	for _, v := range over.vals {
		kv := key(v)
		replaced := false
		if kv != "" {
			for i, b := range out.vals {
				if key(b) == kv {
					out.vals[i] = v
					replaced = true
					break
				}
			}
		}
		if !replaced {
			out.vals = append(out.vals, v)
		}
	}
	return &out
}

func portKey(n *node) string {
	switch n.kind {
	case scalarNode:
		return n.value
	case mapNode:
		var b strings.Builder
		for _, k := range []string{"host_ip", "published", "target", "protocol"} {
			if v := n.get(k); v != nil && v.kind == scalarNode {
				b.WriteString(v.value)
			}
			b.WriteByte('|')
		}
		return b.String()
	}
	return ""
}

func volumeKey(n *node) string {
	switch n.kind {
	case scalarNode:
		parts := strings.Split(n.value, ":")
		if len(parts) == 1 {
			return parts[0]
		}
		return parts[1]
	case mapNode:
		if v := n.get("target"); v != nil && v.kind == scalarNode {
			return v.value
		}
	}
	return ""
}

func fileRefKey(n *node) string {
	switch n.kind {
	case scalarNode:
		return n.value
	case mapNode:
		if v := n.get("target"); v != nil && v.kind == scalarNode {
			return v.value
		}
		if v := n.get("source"); v != nil && v.kind == scalarNode {
			return v.value
		}
	}
	return ""
}

// stripResets removes the keys whose values carry !reset (left in a file
// that was not merged onto another) and clears the merge tags.
func stripResets(n *node) {
	if n == nil {
		return
	}
	n.override = false
	switch n.kind {
	case mapNode:
		for i := 0; i < len(n.keys); i++ {
			if n.vals[i].reset {
				n.keys = append(n.keys[:i], n.keys[i+1:]...)
				n.vals = append(n.vals[:i], n.vals[i+1:]...)
				i--
				continue
			}
			stripResets(n.vals[i])
		}
	case seqNode:
		for i := 0; i < len(n.vals); i++ {
			if n.vals[i].reset {
				n.vals = append(n.vals[:i], n.vals[i+1:]...)
				i--
				continue
			}
			stripResets(n.vals[i])
		}
	}
}
