package container

import (
	"fmt"
	"sort"
	"strings"
)

// capNames lists the capabilities by number (linux/capability.h).
var capNames = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK",
	"CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
	"CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
}

// AllCapabilities returns every capability name this package knows.
func AllCapabilities() []string { return append([]string(nil), capNames...) }

// capNumber returns the number of a capability name ("CAP_CHOWN" or "chown").
func capNumber(name string) (int, bool) {
	n := strings.ToUpper(name)
	if !strings.HasPrefix(n, "CAP_") {
		n = "CAP_" + n
	}
	for i, c := range capNames {
		if c == n {
			return i, true
		}
	}
	return 0, false
}

// CapabilityMask returns the bit mask of a set of capability names, as
// CapEff in /proc/<pid>/status shows it.
func CapabilityMask(names []string) (uint64, error) {
	var m uint64
	for _, c := range names {
		n, ok := capNumber(c)
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", c)
		}
		m |= 1 << uint(n)
	}
	return m, nil
}

// AdjustCapabilities applies docker's --cap-add and --cap-drop to base:
// names with or without the CAP_ prefix, any case, and "ALL". Drops apply
// first, then adds, as docker does.
func AdjustCapabilities(base, add, drop []string) ([]string, error) {
	set := map[string]bool{}
	for _, c := range base {
		set[c] = true
	}
	norm := func(c string) (string, error) {
		if strings.EqualFold(c, "ALL") {
			return "ALL", nil
		}
		n, ok := capNumber(c)
		if !ok {
			return "", fmt.Errorf("unknown capability: %q", c)
		}
		return capNames[n], nil
	}
	for _, c := range drop {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			set = map[string]bool{}
			continue
		}
		delete(set, n)
	}
	for _, c := range add {
		n, err := norm(c)
		if err != nil {
			return nil, err
		}
		if n == "ALL" {
			for _, a := range capNames {
				set[a] = true
			}
			continue
		}
		set[n] = true
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	sort.Strings(out)
	return out, nil
}
