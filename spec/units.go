package spec

import (
	"errors"
	"time"
)

// ParseBytes parses a byte size as compose and docker accept it: a plain
// integer (bytes) or a number with a unit b, k/kb, m/mb, g/gb (binary
// multiples, case-insensitive; "1.5G" allowed).
//
// SCAFFOLD: replaced by the real parser.
func ParseBytes(s string) (int64, error) { return 0, errors.ErrUnsupported }

// ParseDuration parses a compose duration: Go syntax ("1m30s", "2.5s",
// "30m") and the compose extension "1h30m"; a bare integer is rejected.
//
// SCAFFOLD: replaced by the real parser.
func ParseDuration(s string) (time.Duration, error) { return 0, errors.ErrUnsupported }

// ParseCpuset checks a cpuset list ("0-2,4") and returns it normalized.
//
// SCAFFOLD: replaced by the real parser.
func ParseCpuset(s string) (string, error) { return "", errors.ErrUnsupported }
