package spec

import (
	"fmt"
	"strings"
)

// envLine is one assignment of an env file.
type envLine struct {
	key, value string
	line       int
	set        bool // false for a bare KEY (pass-through from the environment)
}

// parseDotenv parses the env file format compose accepts: KEY=VALUE lines,
// `#` comments, blank lines, an optional `export ` prefix, values in single
// quotes (literal), double quotes (escapes \n \t \" \\ and $ interpolation,
// may span lines) or unquoted (trimmed, ` #` starts a comment,
// interpolated). raw turns all of that off: everything after the first `=`
// is the value. lookup, when not nil, turns on interpolation of values:
// a variable is looked up in the assignments made earlier in the file,
// then with lookup.
func parseDotenv(data string, raw bool, lookup func(string) (string, bool)) ([]envLine, error) {
	var out []envLine
	seen := map[string]string{}
	interp := func(s string) (string, error) {
		if lookup == nil {
			return s, nil
		}
		v, _, err := Interpolate(s, func(name string) (string, bool) {
			if v, ok := seen[name]; ok {
				return v, true
			}
			return lookup(name)
		})
		return v, err
	}
	add := func(e envLine) {
		out = append(out, e)
		if e.set {
			seen[e.key] = e.value
		}
	}
	lines := strings.Split(strings.ReplaceAll(data, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		lineNo := i + 1
		l := lines[i]
		if raw {
			if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			k, v, ok := strings.Cut(l, "=")
			add(envLine{key: strings.TrimSpace(k), value: v, line: lineNo, set: ok})
			continue
		}
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		k, v, ok := strings.Cut(t, "=")
		k = strings.TrimSpace(k)
		if !validEnvName(k) {
			return nil, fmt.Errorf("line %d: %q is not a valid variable name", lineNo, k)
		}
		if !ok {
			add(envLine{key: k, line: lineNo})
			continue
		}
		v = strings.TrimLeft(v, " \t")
		var err error
		switch {
		case strings.HasPrefix(v, "'"):
			end := strings.IndexByte(v[1:], '\'')
			for end < 0 && i+1 < len(lines) {
				i++
				v += "\n" + lines[i]
				end = strings.IndexByte(v[1:], '\'')
			}
			if end < 0 {
				return nil, fmt.Errorf("line %d: unterminated single-quoted value", lineNo)
			}
			v = v[1 : end+1]
		case strings.HasPrefix(v, `"`):
			val, ok := unquoteDouble(v[1:])
			for !ok && i+1 < len(lines) {
				i++
				v += "\n" + lines[i]
				val, ok = unquoteDouble(v[1:])
			}
			if !ok {
				return nil, fmt.Errorf("line %d: unterminated double-quoted value", lineNo)
			}
			if v, err = interp(val); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
		default:
			if j := strings.Index(v, " #"); j >= 0 {
				v = v[:j]
			}
			if v, err = interp(strings.TrimSpace(v)); err != nil {
				return nil, fmt.Errorf("line %d: %w", lineNo, err)
			}
		}
		add(envLine{key: k, value: v, line: lineNo, set: true})
	}
	return out, nil
}

// unquoteDouble reads a double-quoted value up to its closing quote.
func unquoteDouble(s string) (val string, ok bool) {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"':
			return b.String(), true
		case c == '\\' && i+1 < len(s):
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '"', '\\':
				b.WriteByte(s[i])
			case '$':
				b.WriteString("$$")
			default:
				b.WriteByte('\\')
				b.WriteByte(s[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", false
}

func validEnvName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-') {
			continue
		}
		return false
	}
	return true
}
