package cgroups

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Cgroup is one container's cgroup: a directory in each v1 hierarchy, or
// one directory in the v2 unified hierarchy. Its lifecycle: Create (made
// with its limits) → Enter (each process, before it runs container code) →
// Freeze/Kill as needed → Delete. Paths are stored in the container's
// state so that a later command (rm, exec, stop) reopens the same cgroup
// with Open, whatever its own cgroup is.
type Cgroup interface {
	// Enter moves the process pid (all its threads) into the cgroup.
	Enter(pid int) error
	// Pids lists the processes in the cgroup (host PIDs).
	Pids() ([]int, error)
	// Freeze stops (true) or resumes (false) every process in the cgroup.
	Freeze(frozen bool) error
	// Kill sends SIGKILL to every process and waits until none is left.
	Kill() error
	// Delete kills what is left and removes the directories. Removing a
	// cgroup that does not exist is not an error.
	Delete() error
	// OOMKills returns how many processes the kernel's OOM killer killed
	// in the cgroup.
	OOMKills() (int, error)
	// Paths returns the directories by controller ("" for v2).
	Paths() map[string]string
	// Stats reads the cgroup's counters.
	Stats() (*Stats, error)
}

// Stats are a cgroup's counters, as `stack stats` shows them. A counter the
// host does not have stays zero.
type Stats struct {
	MemoryUsage uint64 // bytes in use (page cache included)
	MemoryLimit uint64 // bytes; 0 when unlimited
	CPUUsage    uint64 // nanoseconds of CPU time, all CPUs
	Pids        uint64 // tasks in the cgroup
	ReadBytes   uint64 // block I/O read, all devices
	WriteBytes  uint64 // block I/O written, all devices
}

// unlimited is how v1 says "no memory limit" (a page-rounded max int64).
const unlimitedV1 = 1 << 62

// ErrNotSupported is returned for a resource the host's cgroup version
// cannot limit (device rules on v2).
var ErrNotSupported = errors.New("not supported by this cgroup version")

// Resources are a container's limits, in docker's units. Zero values mean
// "not set".
type Resources struct {
	Memory      int64 // bytes (-m)
	MemorySwap  int64 // memory+swap in bytes (--memory-swap); -1 unlimited
	CPUShares   uint64
	CPUQuota    int64  // µs per period (--cpu-quota, or --cpus × period)
	CPUPeriod   uint64 // µs (default 100000 when a quota is set)
	CpusetCpus  string
	CpusetMems  string
	PidsLimit   int64 // -1 unlimited
	BlkioWeight uint16
	ReadBps     []Throttle
	WriteBps    []Throttle
	// Devices are v1 device-cgroup rules ("c 1:3 rwm") allowed after
	// denying all; nil with AllowAllDevices unset means DefaultDeviceRules.
	Devices         []string
	AllowAllDevices bool
}

// Throttle is a bytes-per-second limit on one block device.
type Throttle struct {
	Major, Minor int64
	Rate         uint64
}

// DefaultDeviceRules are the devices a container may use (docker's list):
// mknod of anything, and read/write of the nodes its /dev holds.
var DefaultDeviceRules = []string{
	"c *:* m", "b *:* m",
	"c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm", // null zero full random urandom
	"c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm", // tty console ptmx pts
	"c 10:200 rwm", // tun
}

// Host is how this host mounts cgroups, and where the calling process is.
type Host struct {
	Mode Mode
	// Mounts maps each v1 controller to its hierarchy's mount point, and ""
	// to the v2 mount point (which has no controllers in Hybrid mode).
	Mounts map[string]string
	// Self maps each controller (and "" for v2) to the caller's own cgroup,
	// from /proc/self/cgroup: containers go below it, never below "/".
	Self map[string]string
}

// Mode is how the host mounts cgroups.
type Mode int

const (
	Legacy  Mode = iota + 1 // v1 hierarchies only
	Hybrid                  // v1 hierarchies and an (empty) v2 at unified/
	Unified                 // pure v2
)

func (m Mode) String() string {
	switch m {
	case Legacy:
		return "legacy"
	case Hybrid:
		return "hybrid"
	case Unified:
		return "unified"
	}
	return "unknown"
}

// parseProcCgroup parses /proc/<pid>/cgroup into controller → path; the v2
// entry ("0::/path") has the key "".
func parseProcCgroup(data string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(data, "\n") {
		f := strings.SplitN(line, ":", 3)
		if len(f) != 3 {
			continue
		}
		if f[1] == "" {
			out[""] = f[2]
			continue
		}
		for _, c := range strings.Split(f[1], ",") {
			out[c] = f[2]
		}
	}
	return out
}

// sharesToWeight converts cgroup v1 cpu.shares (2..262144) to v2 cpu.weight
// (1..10000), as runc and crun do.
func sharesToWeight(shares uint64) uint64 {
	if shares == 0 {
		return 0
	}
	if shares < 2 {
		shares = 2
	}
	if shares > 262144 {
		shares = 262144
	}
	return 1 + ((shares-2)*9999)/262142
}

// blkioToIOWeight converts blkio.weight (10..1000) to io.weight (1..10000).
func blkioToIOWeight(w uint16) uint64 {
	if w == 0 {
		return 0
	}
	return 1 + (uint64(w)-10)*9999/990
}

func formatInt(n int64) string {
	if n < 0 {
		return "max"
	}
	return strconv.FormatInt(n, 10)
}

func parseKeyed(data, key string) (int, error) {
	for _, line := range strings.Split(data, "\n") {
		k, v, ok := strings.Cut(line, " ")
		if ok && k == key {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no %q entry", key)
}
