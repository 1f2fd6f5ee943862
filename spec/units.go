package spec

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ParseBytes parses a byte size as compose and docker (go-units RAMInBytes)
// accept it: a plain number of bytes, or a number with a unit b, k/kb, m/mb,
// g/gb, t/tb, p/pb (binary multiples: 1k = 1024; case-insensitive; an "i"
// as in "MiB" is allowed; one space may separate number and unit). Decimals
// are allowed ("1.5G"); the result is truncated to whole bytes. Negative
// numbers, other units and sizes above 2^63-1 bytes are errors.
func ParseBytes(s string) (int64, error) {
	i := 0
	for i < len(s) && (s[i] >= '0' && s[i] <= '9' || s[i] == '.') {
		i++
	}
	num, unit := s[:i], s[i:]
	if num == "" || num[0] == '.' || num[len(num)-1] == '.' || strings.Count(num, ".") > 1 {
		return 0, fmt.Errorf("size %q is not a number with an optional unit; valid sizes are like \"512\", \"64m\", \"1.5g\", \"2GiB\" (units b, k, m, g, t, p)", s)
	}
	unit = strings.TrimPrefix(unit, " ")
	mult, ok := byteUnit(unit)
	if !ok {
		return 0, fmt.Errorf("size %q has unknown unit %q; valid units are b, k, kb, m, mb, g, gb, t, tb, p, pb (binary multiples, any case)", s, unit)
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseUint(num, 10, 63)
		if err != nil || (mult > 1 && n > math.MaxInt64/mult) {
			return 0, fmt.Errorf("size %q is too large; the maximum is %d bytes", s, int64(math.MaxInt64))
		}
		return int64(n * mult), nil
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil {
		return 0, fmt.Errorf("size %q is not a valid number", s)
	}
	f *= float64(mult)
	if f >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q is too large; the maximum is %d bytes", s, int64(math.MaxInt64))
	}
	return int64(f), nil
}

// byteUnit returns the multiplier of a unit: "", b, then k/m/g/t/p
// optionally followed by i and/or b, in any case.
func byteUnit(u string) (uint64, bool) {
	if u == "" {
		return 1, true
	}
	u = strings.ToLower(u)
	if u == "b" {
		return 1, true
	}
	var mult uint64
	switch u[0] {
	case 'k':
		mult = 1 << 10
	case 'm':
		mult = 1 << 20
	case 'g':
		mult = 1 << 30
	case 't':
		mult = 1 << 40
	case 'p':
		mult = 1 << 50
	default:
		return 0, false
	}
	switch u[1:] {
	case "", "b", "i", "ib":
		return mult, true
	}
	return 0, false
}

// ParseDuration parses a compose duration in Go syntax: a sequence of
// numbers with units ns, us (µs), ms, s, m, h, such as "10ms", "2.5s",
// "1m30s", "30m", "1h30m". "0" is zero. A bare number other than 0 is an
// error (compose requires a unit), and so is a negative duration.
func ParseDuration(s string) (time.Duration, error) {
	if s == "" {
		return 0, fmt.Errorf("empty duration; valid durations are like \"10s\", \"1m30s\", \"500ms\", \"1h\"")
	}
	if s != "0" && strings.Trim(s, "0123456789.") == "" {
		return 0, fmt.Errorf("duration %q has no unit; write it with one, as in \"%ss\" (units ns, us, ms, s, m, h)", s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("duration %q is not valid; valid durations are like \"10s\", \"1m30s\", \"500ms\", \"1h\" (units ns, us, ms, s, m, h)", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative; a duration is 0 or more", s)
	}
	return d, nil
}

// maxCPU bounds the CPU numbers accepted in a cpuset: the kernel's largest
// NR_CPUS is 8192.
const maxCPU = 8191

// ParseCpuset checks a cpuset list ("0-2,4": CPU numbers and inclusive
// ranges, comma-separated, no spaces) and returns it normalized: sorted,
// with overlapping and adjacent entries merged ("4,0,1-2" → "0-2,4").
func ParseCpuset(s string) (string, error) {
	if s == "" {
		return "", fmt.Errorf("empty cpuset; valid cpusets are like \"0\", \"0-3\", \"0,2-4\"")
	}
	var rs [][2]int
	for part := range strings.SplitSeq(s, ",") {
		if part == "" {
			return "", fmt.Errorf("cpuset %q has an empty entry; entries are CPU numbers or ranges separated by single commas, as in \"0,2-4\"", s)
		}
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := parseCPU(s, lo)
		if err != nil {
			return "", err
		}
		b := a
		if isRange {
			if b, err = parseCPU(s, hi); err != nil {
				return "", err
			}
			if b < a {
				return "", fmt.Errorf("cpuset %q has reversed range %q; write the lower CPU first, as in \"%d-%d\"", s, part, b, a)
			}
		}
		rs = append(rs, [2]int{a, b})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i][0] < rs[j][0] })
	merged := rs[:1]
	for _, r := range rs[1:] {
		last := &merged[len(merged)-1]
		if r[0] <= last[1]+1 {
			last[1] = max(last[1], r[1])
			continue
		}
		merged = append(merged, r)
	}
	var b strings.Builder
	for i, r := range merged {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(r[0]))
		if r[1] != r[0] {
			b.WriteByte('-')
			b.WriteString(strconv.Itoa(r[1]))
		}
	}
	return b.String(), nil
}

func parseCPU(set, s string) (int, error) {
	if s == "" {
		return 0, fmt.Errorf("cpuset %q has a range with an empty bound; a range is written \"0-3\"", set)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("cpuset %q: %q is not a CPU number; valid cpusets are like \"0\", \"0-3\", \"0,2-4\"", set, s)
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > maxCPU {
		return 0, fmt.Errorf("cpuset %q: CPU %s is out of range; CPU numbers go from 0 to %d", set, s, maxCPU)
	}
	return n, nil
}
