package spec

import "errors"

// Interpolate expands variables in one value: $VAR, ${VAR}, ${VAR:-d},
// ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+r}, ${VAR+r}, nested defaults, and
// $$ for a literal $. lookup reports whether a variable is set. It returns
// the names of variables that were used but unset (each once, in order of
// first use; the caller warns about them) and an error for a syntax error or
// a ${VAR?e} whose variable is unset.
//
// SCAFFOLD: replaced by the real interpolator.
func Interpolate(s string, lookup func(name string) (string, bool)) (out string, unset []string, err error) {
	return "", nil, errors.ErrUnsupported
}
