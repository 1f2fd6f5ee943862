package container

import (
	"errors"
	"os"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// ProcessStartTime returns the start time of pid (clock ticks since boot,
// field 22 of /proc/<pid>/stat): with the PID it identifies a process
// across PID reuse.
func ProcessStartTime(pid int) (uint64, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces and parentheses: fields
	// are counted after its last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return 0, errors.New("malformed /proc/<pid>/stat")
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// Alive reports whether the process pid that started at start (as
// ProcessStartTime returned it; 0 skips the check) still exists and is not
// a zombie.
func Alive(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return false
	}
	if start != 0 {
		st, err := strconv.ParseUint(f[19], 10, 64)
		if err != nil || st != start {
			return false
		}
	}
	return unix.Kill(pid, 0) == nil || !errors.Is(unix.Kill(pid, 0), unix.ESRCH)
}
