package spec

import (
	"fmt"
	"strings"
)

// Interpolate expands variables in one value as the compose specification
// (and compose-go) does:
//
//	$VAR, ${VAR}       the value; "" when unset (and VAR is reported unset)
//	${VAR:-default}    default when VAR is unset or empty
//	${VAR-default}     default when VAR is unset
//	${VAR:?message}    error when VAR is unset or empty
//	${VAR?message}     error when VAR is unset
//	${VAR:+replace}    replace when VAR is set and not empty, else ""
//	${VAR+replace}     replace when VAR is set, else ""
//	$$                 a literal $
//
// Names are [A-Za-z_][A-Za-z0-9_]*. Defaults, replacements and messages are
// themselves interpolated, to any depth ("${A:-${B:-x}}"), but only when they
// are used: an unused branch is checked for syntax, never looked up. A "$"
// followed by neither a name, "{" nor "$" (at the end, before a space, "}",
// a digit, ...) is kept literally, as compose does. Everything else after
// "${" that is not one of the forms above is an error naming its byte offset
// in s, and so is a "${" without its closing "}".
//
// lookup reports whether a variable is set. Interpolate returns the names of
// variables that were expanded with no value and no default ($VAR or ${VAR}
// while unset), each once in order of first use, for the caller to warn
// about; and an error for a syntax error or a ${VAR?e} / ${VAR:?e} whose
// condition fails. A string without "$" is returned as is, without
// allocating. The scan is a single pass over s, recursing into nested
// braces.
func Interpolate(s string, lookup func(name string) (string, bool)) (out string, unset []string, err error) {
	if strings.IndexByte(s, '$') < 0 {
		return s, nil, nil
	}
	in := interpolator{s: s, lookup: lookup}
	var b strings.Builder
	b.Grow(len(s))
	if _, _, err := in.scan(0, false, &b); err != nil {
		return "", in.unset, err
	}
	return b.String(), in.unset, nil
}

type interpolator struct {
	s      string
	lookup func(string) (string, bool)
	unset  []string
}

// scan expands s from i into out (nil: check syntax only, look nothing up).
// When nested, it stops at the "}" that closes the enclosing "${" and
// returns its index with closed = true; otherwise it runs to the end.
func (in *interpolator) scan(i int, nested bool, out *strings.Builder) (end int, closed bool, err error) {
	s := in.s
	stops := "$"
	if nested {
		stops = "$}"
	}
	for i < len(s) {
		j := strings.IndexAny(s[i:], stops)
		if j < 0 {
			if out != nil {
				out.WriteString(s[i:])
			}
			return len(s), false, nil
		}
		j += i
		if out != nil {
			out.WriteString(s[i:j])
		}
		if s[j] == '}' {
			return j, true, nil
		}
		// s[j] == '$'
		if j+1 >= len(s) {
			if out != nil {
				out.WriteByte('$')
			}
			return len(s), false, nil
		}
		switch c := s[j+1]; {
		case c == '$':
			if out != nil {
				out.WriteByte('$')
			}
			i = j + 2
		case isNameStart(c):
			k := j + 2
			for k < len(s) && isNameChar(s[k]) {
				k++
			}
			if out != nil {
				in.plain(s[j+1:k], out)
			}
			i = k
		case c == '{':
			if i, err = in.braced(j, out); err != nil {
				return 0, false, err
			}
		default:
			// A lone "$": kept literally, as compose does.
			if out != nil {
				out.WriteByte('$')
			}
			i = j + 1
		}
	}
	return len(s), false, nil
}

// plain writes the value of a variable with no modifier.
func (in *interpolator) plain(name string, out *strings.Builder) {
	v, ok := in.lookup(name)
	if !ok {
		in.noteUnset(name)
	}
	out.WriteString(v)
}

func (in *interpolator) noteUnset(name string) {
	for _, n := range in.unset {
		if n == name {
			return
		}
	}
	in.unset = append(in.unset, name)
}

// braced expands the "${...}" starting at s[at] and returns the index just
// after its closing brace.
func (in *interpolator) braced(at int, out *strings.Builder) (int, error) {
	s := in.s
	k := at + 2
	if k >= len(s) {
		return 0, in.unclosed(at)
	}
	if !isNameStart(s[k]) {
		return 0, fmt.Errorf("invalid interpolation at offset %d: \"${\" must be followed by a variable name (a letter or _, then letters, digits or _), as in \"${NAME}\"; write \"$${\" for a literal \"${\"", at)
	}
	for k < len(s) && isNameChar(s[k]) {
		k++
	}
	name := s[at+2 : k]
	if k >= len(s) {
		return 0, in.unclosed(at)
	}
	if s[k] == '}' {
		if out != nil {
			in.plain(name, out)
		}
		return k + 1, nil
	}
	colon := s[k] == ':'
	op := k
	if colon {
		op++
	}
	if op >= len(s) {
		return 0, in.unclosed(at)
	}
	switch s[op] {
	case '-', '+', '?':
	default:
		return 0, fmt.Errorf("invalid interpolation at offset %d: unexpected %q after \"${%s\"; valid forms are ${%[3]s}, ${%[3]s:-default}, ${%[3]s-default}, ${%[3]s:?error}, ${%[3]s?error}, ${%[3]s:+replacement}, ${%[3]s+replacement}", at, s[k:op+1], name)
	}

	var v string
	var set bool
	if out != nil {
		v, set = in.lookup(name)
	}
	nonEmpty := set && v != ""
	// useWord: the text after the operator replaces the value.
	var useWord, fail bool
	switch {
	case s[op] == '-' && colon:
		useWord = !nonEmpty
	case s[op] == '-':
		useWord = !set
	case s[op] == '+' && colon:
		useWord = nonEmpty
	case s[op] == '+':
		useWord = set
	case s[op] == '?' && colon:
		fail = !nonEmpty
	case s[op] == '?':
		fail = !set
	}
	if out == nil {
		useWord, fail = false, false
	}

	var word *strings.Builder
	if useWord || fail {
		word = &strings.Builder{}
	}
	end, closed, err := in.scan(op+1, true, word)
	if err != nil {
		return 0, err
	}
	if !closed {
		return 0, in.unclosed(at)
	}
	switch {
	case fail:
		msg := fmt.Sprintf("required variable %s is missing a value", name)
		if word.Len() > 0 {
			msg += ": " + word.String()
		}
		return 0, fmt.Errorf("%s", msg)
	case useWord:
		out.WriteString(word.String())
	case out != nil && (s[op] == '-' || s[op] == '?'):
		out.WriteString(v)
	}
	return end + 1, nil
}

func (in *interpolator) unclosed(at int) error {
	return fmt.Errorf("invalid interpolation at offset %d: \"${\" is not closed by \"}\"; write \"$${\" for a literal \"${\"", at)
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isNameChar(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9'
}
