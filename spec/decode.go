package spec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file holds the strict schema walker's helpers: typed getters that
// report a diagnostic (with the value's position and YAML path) instead of
// failing, and the object walker that rejects unknown keys and reports the
// compose fields stack does not implement.

// schema is the set of keys one kind of mapping accepts.
type schema struct {
	names       []string          // supported keys, sorted (for messages)
	known       map[string]bool   // supported keys
	unsupported map[string]string // compose keys stack rejects → why ("" = no reason given)
	// extensions are the x- keys this mapping consumes itself.
	extensions map[string]bool
}

func newSchema(known []string, unsupported map[string]string, extensions ...string) *schema {
	s := &schema{known: map[string]bool{}, unsupported: unsupported, extensions: map[string]bool{}}
	for _, k := range known {
		s.known[k] = true
	}
	s.names = append([]string(nil), known...)
	s.names = append(s.names, extensions...)
	sort.Strings(s.names)
	for _, e := range extensions {
		s.extensions[e] = true
	}
	return s
}

type decoder struct {
	l  *loader
	st *Stack
	// per-service facts the validation needs (positions of keys).
	svc map[string]*svcInfo
	// top-level sections' nodes, for positions.
	top map[string]*node
}

func (d *decoder) errf(n *node, path, format string, args ...any) {
	d.l.errAt(n.pos, path, format, args...)
}

func (d *decoder) warnf(n *node, path, format string, args ...any) {
	d.l.warnAt(n.pos, path, format, args...)
}

// unsupported reports a compose field stack does not implement: an error,
// or under Loose a warning (and the field is ignored).
func (d *decoder) unsupported(k *node, path, why string) {
	msg := "not supported by stack"
	if why != "" {
		msg += " (" + why + ")"
	}
	if d.l.opts.Loose {
		d.warnf(k, path, "%s: ignored (--loose)", msg)
		return
	}
	d.errf(k, path, "%s", msg)
}

// unsupportedValue is unsupported for a value (e.g. a driver) rather than a key.
func (d *decoder) unsupportedValue(v *node, path, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if d.l.opts.Loose {
		d.warnf(v, path, "%s: ignored (--loose)", msg)
		return
	}
	d.errf(v, path, "%s", msg)
}

// object walks a mapping with schema sc, calling fn for each supported key.
// A null node is an empty mapping.
func (d *decoder) object(n *node, path string, sc *schema, fn func(key string, k, v *node, path string)) bool {
	if n.isNull() {
		return true
	}
	if n.kind != mapNode {
		d.errf(n, path, "must be a mapping, got %s", describe(n))
		return false
	}
	for i, k := range n.keys {
		key := k.value
		p := joinPath(path, key)
		if strings.HasPrefix(key, "x-") {
			if sc.extensions[key] {
				fn(key, k, n.vals[i], p)
			} else if strings.HasPrefix(key, "x-stack-") {
				d.errf(k, p, "unknown stack extension%s", validList(key, sc.extensionNames()))
			}
			continue
		}
		if why, ok := sc.unsupported[key]; ok {
			d.unsupported(k, p, why)
			continue
		}
		if !sc.known[key] {
			d.errf(k, p, "unknown key%s", validList(key, sc.names))
			continue
		}
		if n.vals[i].invalid {
			continue
		}
		fn(key, k, n.vals[i], p)
	}
	return true
}

func (sc *schema) extensionNames() []string {
	out := make([]string, 0, len(sc.extensions))
	for e := range sc.extensions {
		out = append(out, e)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return []string{"(none here)"}
	}
	return out
}

// validList says what would be valid instead of key: a suggestion when one
// name is close, else the list of names when it is short.
func validList(key string, names []string) string {
	if s := suggest(key, names); s != "" {
		return s
	}
	if len(names) <= 16 {
		return " (valid: " + strings.Join(names, ", ") + ")"
	}
	return " (docs/stack-file.md lists the valid keys)"
}

// suggest returns ` (did you mean "x"?)` for the closest name, if close.
func suggest(key string, names []string) string {
	best, bestD := "", 1<<30
	for _, n := range names {
		dist := levenshtein(strings.ToLower(key), strings.ToLower(n))
		if dist < bestD {
			best, bestD = n, dist
		}
	}
	limit := 2
	if len(key) <= 4 {
		limit = 1
	}
	if best != "" && (bestD <= limit || strings.EqualFold(strings.ReplaceAll(key, "-", "_"), best)) {
		return fmt.Sprintf(" (did you mean %q?)", best)
	}
	return ""
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// describe names a node's kind for messages.
func describe(n *node) string {
	if n == nil || n.kind == nullNode {
		return "null"
	}
	if n.kind == scalarNode {
		return strconv.Quote(n.value)
	}
	return n.kind.String()
}

// str reads a string; numbers and booleans are taken as written.
func (d *decoder) str(v *node, path string) (string, bool) {
	switch v.kind {
	case scalarNode:
		return v.value, true
	case nullNode:
		return "", true
	}
	d.errf(v, path, "must be a string, got %s", describe(v))
	return "", false
}

func (d *decoder) boolean(v *node, path string) bool {
	if v.kind == scalarNode {
		switch strings.ToLower(v.value) {
		case "true", "yes", "on":
			return true
		case "false", "no", "off":
			return false
		}
	}
	if v.kind == nullNode {
		return false
	}
	d.errf(v, path, "must be true or false, got %s", describe(v))
	return false
}

func (d *decoder) integer(v *node, path string) (int64, bool) {
	if v.kind == scalarNode {
		s := strings.ReplaceAll(v.value, "_", "")
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i, true
		}
		if f, err := strconv.ParseFloat(s, 64); err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<62 {
			return int64(f), true
		}
	}
	d.errf(v, path, "must be an integer, got %s", describe(v))
	return 0, false
}

// intIn reads an integer in [lo, hi].
func (d *decoder) intIn(v *node, path string, lo, hi int64) (int64, bool) {
	i, ok := d.integer(v, path)
	if !ok {
		return 0, false
	}
	if i < lo || i > hi {
		d.errf(v, path, "%d is out of range: must be between %d and %d", i, lo, hi)
		return 0, false
	}
	return i, true
}

func (d *decoder) float(v *node, path string) (float64, bool) {
	if v.kind == scalarNode {
		if f, err := strconv.ParseFloat(v.value, 64); err == nil && !math.IsNaN(f) && !math.IsInf(f, 0) {
			return f, true
		}
	}
	d.errf(v, path, "must be a number, got %s", describe(v))
	return 0, false
}

func (d *decoder) duration(v *node, path string) (time.Duration, bool) {
	s, ok := d.str(v, path)
	if !ok {
		return 0, false
	}
	if s == "" {
		return 0, true
	}
	dur, err := ParseDuration(s)
	if err != nil {
		d.errf(v, path, "%v", err)
		return 0, false
	}
	return dur, true
}

// size reads a byte size: an integer (bytes) or a number with a unit.
func (d *decoder) size(v *node, path string) (int64, bool) {
	s, ok := d.str(v, path)
	if !ok {
		return 0, false
	}
	if s == "" {
		return 0, true
	}
	b, err := ParseBytes(s)
	if err != nil {
		d.errf(v, path, "%v", err)
		return 0, false
	}
	return b, true
}

// strList reads a list of strings; a single scalar is a one-item list when
// scalarOK. A null is an empty (nil) list.
func (d *decoder) strList(v *node, path string, scalarOK bool) []string {
	switch v.kind {
	case nullNode:
		return nil
	case scalarNode:
		if scalarOK {
			return []string{v.value}
		}
	case seqNode:
		out := make([]string, 0, len(v.vals))
		for i, it := range v.vals {
			if it.kind != scalarNode {
				d.errf(it, fmt.Sprintf("%s[%d]", path, i), "must be a string, got %s", describe(it))
				continue
			}
			out = append(out, it.value)
		}
		return out
	}
	if scalarOK {
		d.errf(v, path, "must be a string or a list of strings, got %s", describe(v))
	} else {
		d.errf(v, path, "must be a list of strings, got %s", describe(v))
	}
	return nil
}

// command reads a command or entrypoint: a list, or a string split as a
// shell would (quotes honored). A null is nil (the image's default); an
// empty string or list is an empty non-nil list (cleared).
func (d *decoder) command(v *node, path string) []string {
	switch v.kind {
	case nullNode:
		return nil
	case scalarNode:
		args, err := splitShell(v.value)
		if err != nil {
			d.errf(v, path, "%v", err)
			return nil
		}
		return args
	case seqNode:
		out := d.strList(v, path, false)
		if out == nil {
			out = []string{}
		}
		return out
	}
	d.errf(v, path, "must be a string or a list of strings, got %s", describe(v))
	return nil
}

// splitShell splits a command line into words like a POSIX shell (quotes
// and backslashes; no expansions).
func splitShell(s string) ([]string, error) {
	out := []string{}
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unterminated single quote in %q", s)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			i++
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
				}
				cur.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, fmt.Errorf("unterminated double quote in %q", s)
			}
		case c == '\\' && i+1 < len(s):
			inWord = true
			i++
			cur.WriteByte(s[i])
		default:
			inWord = true
			cur.WriteByte(c)
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out, nil
}

// strMap reads a mapping of strings, or a list of "KEY<sep>VALUE" items. In
// the mapping form a null value is "" unless nullFn handles it; in the list
// form an item without sep calls nullFn (or is "").
func (d *decoder) strMap(v *node, path string, sep string, nullFn func(key string, at *node) (string, bool)) map[string]string {
	switch v.kind {
	case nullNode:
		return nil
	case mapNode:
		out := make(map[string]string, len(v.keys))
		for i, k := range v.keys {
			val := v.vals[i]
			switch val.kind {
			case scalarNode:
				out[k.value] = val.value
			case nullNode:
				if nullFn != nil {
					if s, ok := nullFn(k.value, k); ok {
						out[k.value] = s
					}
				} else {
					out[k.value] = ""
				}
			default:
				d.errf(val, joinPath(path, k.value), "must be a string, got %s", describe(val))
			}
		}
		return out
	case seqNode:
		out := make(map[string]string, len(v.vals))
		for i, it := range v.vals {
			if it.kind != scalarNode {
				d.errf(it, fmt.Sprintf("%s[%d]", path, i), "must be a string \"KEY%sVALUE\", got %s", sep, describe(it))
				continue
			}
			k, val, ok := strings.Cut(it.value, sep)
			if k == "" {
				d.errf(it, fmt.Sprintf("%s[%d]", path, i), "%q has an empty key: want \"KEY%sVALUE\"", it.value, sep)
				continue
			}
			if !ok {
				if nullFn != nil {
					if s, ok := nullFn(k, it); ok {
						out[k] = s
					}
					continue
				}
			}
			out[k] = val
		}
		return out
	}
	d.errf(v, path, "must be a mapping or a list of \"KEY%sVALUE\", got %s", sep, describe(v))
	return nil
}

// uniqueSorted sorts and removes duplicates.
func uniqueSorted(s []string) []string {
	if len(s) == 0 {
		return s
	}
	sort.Strings(s)
	out := s[:1]
	for _, x := range s[1:] {
		if x != out[len(out)-1] {
			out = append(out, x)
		}
	}
	return out
}

// uniqueInOrder removes later duplicates, keeping file order.
func uniqueInOrder(s []string) []string {
	if len(s) < 2 {
		return s
	}
	seen := make(map[string]bool, len(s))
	out := s[:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// mode reads a file mode: an integer, octal when written with a leading 0
// (YAML 1.1 style, as compose does) or 0o.
func (d *decoder) mode(v *node, path string) (uint32, bool) {
	if v.kind == scalarNode {
		s := v.value
		base := 10
		switch {
		case strings.HasPrefix(s, "0o"), strings.HasPrefix(s, "0O"):
			s, base = s[2:], 8
		case len(s) > 1 && s[0] == '0':
			s, base = s[1:], 8
		}
		if m, err := strconv.ParseUint(s, base, 32); err == nil && m <= 0o7777 {
			return uint32(m), true
		}
	}
	d.errf(v, path, "must be a file mode such as 0440, got %s", describe(v))
	return 0, false
}
