package spec

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// node is the loader's own YAML tree: aliases and `<<` merge keys resolved,
// every node carrying its file position and the directory its relative paths
// are resolved against. Nodes form a tree (no sharing), so the loader may
// rewrite them in place.
type node struct {
	kind  nodeKind
	value string // scalars, as written (the decoder converts by field)
	// Mappings: keys[i] (scalars) map to vals[i]. Sequences: vals.
	keys []*node
	vals []*node
	pos  Pos
	// dir is the directory relative paths in this node are resolved against.
	dir string
	// reset and override are the compose merge tags !reset and !override.
	reset    bool
	override bool
	// invalid marks a value already reported (bad tag, failed
	// interpolation): the decoder skips it.
	invalid bool
}

type nodeKind uint8

const (
	nullNode nodeKind = iota
	scalarNode
	mapNode
	seqNode
)

func (k nodeKind) String() string {
	switch k {
	case scalarNode:
		return "a scalar"
	case mapNode:
		return "a mapping"
	case seqNode:
		return "a list"
	}
	return "null"
}

// get returns the value of key in a mapping, or nil.
func (n *node) get(key string) *node {
	if n == nil || n.kind != mapNode {
		return nil
	}
	for i, k := range n.keys {
		if k.value == key {
			return n.vals[i]
		}
	}
	return nil
}

// getKey returns the key node and value of key in a mapping.
func (n *node) getKey(key string) (*node, *node) {
	if n == nil || n.kind != mapNode {
		return nil, nil
	}
	for i, k := range n.keys {
		if k.value == key {
			return k, n.vals[i]
		}
	}
	return nil, nil
}

// set replaces or appends key in a mapping.
func (n *node) set(key *node, val *node) {
	for i, k := range n.keys {
		if k.value == key.value {
			n.vals[i] = val
			return
		}
	}
	n.keys = append(n.keys, key)
	n.vals = append(n.vals, val)
}

// del removes key from a mapping.
func (n *node) del(key string) {
	for i, k := range n.keys {
		if k.value == key {
			n.keys = append(n.keys[:i:i], n.keys[i+1:]...)
			n.vals = append(n.vals[:i:i], n.vals[i+1:]...)
			return
		}
	}
}

// isNull reports whether n is absent or a YAML null.
func (n *node) isNull() bool { return n == nil || n.kind == nullNode }

// copy returns a deep copy of n.
func (n *node) copy() *node {
	if n == nil {
		return nil
	}
	c := *n
	if n.keys != nil {
		c.keys = make([]*node, len(n.keys))
		for i, k := range n.keys {
			c.keys[i] = k.copy()
		}
	}
	if n.vals != nil {
		c.vals = make([]*node, len(n.vals))
		for i, v := range n.vals {
			c.vals[i] = v.copy()
		}
	}
	return &c
}

func scalar(value string, pos Pos, dir string) *node {
	return &node{kind: scalarNode, value: value, pos: pos, dir: dir}
}

// maxNodes bounds alias expansion ("billion laughs").
const maxNodes = 1 << 17

// parser converts one file's yaml.Node tree into nodes.
type parser struct {
	file  string
	dir   string
	count int
	diags *[]Diagnostic
	// expanding guards against an alias that refers to its own ancestor.
	expanding map[*yaml.Node]bool
	segs      []pathSeg
	slab      []node // nodes are allocated in blocks
}

// newNode returns a zeroed node from the current block.
func (p *parser) newNode() *node {
	if len(p.slab) == 0 {
		p.slab = make([]node, 256)
	}
	n := &p.slab[0]
	p.slab = p.slab[1:]
	return n
}

func (p *parser) errf(line, col int, path, format string, args ...any) {
	*p.diags = append(*p.diags, Diagnostic{Pos: Pos{File: p.file, Line: line, Col: col}, Path: path, Message: fmt.Sprintf(format, args...)})
}

// parseYAML parses data (the content of file) into a node tree. A YAML
// syntax error becomes one diagnostic with the position the parser gives.
func parseYAML(data []byte, file, dir string, diags *[]Diagnostic) *node {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		*diags = append(*diags, yamlErrorDiag(err, file, data))
		return nil
	}
	p := &parser{file: file, dir: dir, diags: diags, expanding: map[*yaml.Node]bool{}, segs: make([]pathSeg, 0, 16)}
	if doc.Kind == 0 {
		return &node{kind: nullNode, pos: Pos{File: file, Line: 1, Col: 1}, dir: dir}
	}
	return p.convert(&doc)
}

// yamlErrorDiag turns a yaml.v3 error ("yaml: line 3: ...") into a diagnostic.
func yamlErrorDiag(err error, file string, data []byte) Diagnostic {
	msg := err.Error()
	msg = strings.TrimPrefix(msg, "yaml: ")
	line := 0
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if i := strings.IndexByte(rest, ':'); i > 0 {
			if n, err := strconv.Atoi(rest[:i]); err == nil {
				line = n
				msg = strings.TrimSpace(rest[i+1:])
			}
		}
	}
	if line == 0 {
		// Errors without a line (e.g. unmarshal errors) are reported at the
		// last line, which is where the parser gave up.
		line = bytes.Count(data, []byte("\n")) + 1
		if len(data) > 0 && data[len(data)-1] == '\n' {
			line--
		}
		if line < 1 {
			line = 1
		}
	}
	return Diagnostic{Pos: Pos{File: file, Line: line, Col: 1}, Message: "invalid YAML: " + msg}
}

func (p *parser) pos(y *yaml.Node) Pos { return Pos{File: p.file, Line: y.Line, Col: y.Column} }

// pathSeg is one step of the YAML path of the node being converted; paths
// are only rendered for diagnostics.
type pathSeg struct {
	key string
	idx int // -1 for a mapping key
}

func renderPath(segs []pathSeg) string {
	var b strings.Builder
	for _, s := range segs {
		if s.idx >= 0 {
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(s.key)
	}
	return b.String()
}

func (p *parser) path() string { return renderPath(p.segs) }

func (p *parser) push(key string, idx int) { p.segs = append(p.segs, pathSeg{key, idx}) }
func (p *parser) pop()                     { p.segs = p.segs[:len(p.segs)-1] }

func (p *parser) convert(y *yaml.Node) *node {
	p.count++
	if p.count > maxNodes {
		if p.count == maxNodes+1 {
			p.errf(y.Line, y.Column, p.path(), "document too large after alias expansion (more than %d nodes)", maxNodes)
		}
		return &node{kind: nullNode, pos: p.pos(y), dir: p.dir}
	}
	switch y.Kind {
	case yaml.DocumentNode:
		if len(y.Content) == 0 {
			return &node{kind: nullNode, pos: p.pos(y), dir: p.dir}
		}
		return p.convert(y.Content[0])
	case yaml.AliasNode:
		if y.Alias == nil {
			p.errf(y.Line, y.Column, p.path(), "unknown alias %q", y.Value)
			return &node{kind: nullNode, pos: p.pos(y), dir: p.dir}
		}
		if p.expanding[y.Alias] {
			p.errf(y.Line, y.Column, p.path(), "alias %q refers to its own ancestor", y.Value)
			return &node{kind: nullNode, pos: p.pos(y), dir: p.dir}
		}
		return p.convert(y.Alias)
	}
	n := p.newNode()
	n.pos, n.dir = p.pos(y), p.dir
	switch y.Tag {
	case "!reset":
		n.reset = true
	case "!override":
		n.override = true
	}
	switch y.Kind {
	case yaml.ScalarNode:
		var tag string
		if n.reset || n.override {
			tag = (&yaml.Node{Kind: yaml.ScalarNode, Value: y.Value, Style: y.Style}).ShortTag()
		} else {
			tag = y.ShortTag()
		}
		switch tag {
		case "!!null":
			n.kind = nullNode
		case "!!str", "!!int", "!!bool", "!!float", "!!timestamp":
			n.kind = scalarNode
			n.value = y.Value
		case "!!binary":
			p.errf(y.Line, y.Column, p.path(), "binary values are not supported")
			n.kind = nullNode
			n.invalid = true
		default:
			p.errf(y.Line, y.Column, p.path(), "unknown tag %q (valid: !reset, !override)", y.Tag)
			n.kind = nullNode
			n.invalid = true
		}
		if n.reset {
			n.kind = nullNode
		}
	case yaml.SequenceNode:
		p.expanding[y] = true
		n.kind = seqNode
		n.vals = make([]*node, 0, len(y.Content))
		for i, c := range y.Content {
			p.push("", i)
			n.vals = append(n.vals, p.convert(c))
			p.pop()
		}
		delete(p.expanding, y)
	case yaml.MappingNode:
		p.expanding[y] = true
		n.kind = mapNode
		p.convertMap(n, y)
		delete(p.expanding, y)
	}
	return n
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func (p *parser) convertMap(n *node, y *yaml.Node) {
	n.keys = make([]*node, 0, len(y.Content)/2)
	n.vals = make([]*node, 0, len(y.Content)/2)
	var merges []*node
	for i := 0; i+1 < len(y.Content); i += 2 {
		yk, yv := y.Content[i], y.Content[i+1]
		if yk.Kind == yaml.ScalarNode && yk.Value == "<<" && (yk.Tag == "" || yk.Tag == "!!merge" || yk.Tag == "tag:yaml.org,2002:merge") && yk.Style == 0 {
			p.push("<<", -1)
			m := p.convert(yv)
			switch m.kind {
			case mapNode:
				merges = append(merges, m)
			case seqNode:
				for _, e := range m.vals {
					if e.kind != mapNode {
						p.errf(e.pos.Line, e.pos.Col, p.path(), "merge key needs a mapping or a list of mappings, got %s", e.kind)
						continue
					}
					merges = append(merges, e)
				}
			default:
				p.errf(yv.Line, yv.Column, p.path(), "merge key needs a mapping or a list of mappings, got %s", m.kind)
			}
			p.pop()
			continue
		}
		if yk.Kind == yaml.AliasNode && yk.Alias != nil {
			yk = yk.Alias
		}
		if yk.Kind != yaml.ScalarNode {
			p.errf(yk.Line, yk.Column, p.path(), "mapping keys must be scalars")
			continue
		}
		k := p.newNode()
		k.kind, k.value, k.pos, k.dir = scalarNode, yk.Value, p.pos(yk), p.dir
		p.push(yk.Value, -1)
		if n.hasKey(yk.Value) {
			p.errf(yk.Line, yk.Column, p.path(), "duplicate key %q", yk.Value)
			p.pop()
			continue
		}
		n.keys = append(n.keys, k)
		n.vals = append(n.vals, p.convert(yv))
		p.pop()
	}
	// Explicit keys win over merged ones; earlier merge sources win over later.
	for _, m := range merges {
		for i, k := range m.keys {
			if n.hasKey(k.value) {
				continue
			}
			n.keys = append(n.keys, k.copy())
			n.vals = append(n.vals, m.vals[i].copy())
		}
	}
}

func (n *node) hasKey(key string) bool {
	for _, k := range n.keys {
		if k.value == key {
			return true
		}
	}
	return false
}
