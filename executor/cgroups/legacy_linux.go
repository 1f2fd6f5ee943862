package cgroups

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// legacy is a cgroup on v1: one directory per hierarchy.
type legacy struct {
	paths map[string]string
}

var _ Cgroup = (*legacy)(nil)

func (c *legacy) Paths() map[string]string {
	out := make(map[string]string, len(c.paths))
	for k, v := range c.paths {
		out[k] = v
	}
	return out
}

func (c *legacy) set(r *Resources) error {
	if d, ok := c.paths["memory"]; ok && r.Memory != 0 {
		if err := writeFile(d, "memory.limit_in_bytes", formatInt(r.Memory)); err != nil {
			return err
		}
		// memsw must not be below the memory limit: set it after.
		if r.MemorySwap != 0 {
			err := writeFile(d, "memory.memsw.limit_in_bytes", formatInt(r.MemorySwap))
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if d, ok := c.paths["cpu"]; ok {
		if r.CPUShares != 0 {
			if err := writeFile(d, "cpu.shares", strconv.FormatUint(r.CPUShares, 10)); err != nil {
				return err
			}
		}
		if r.CPUPeriod != 0 {
			if err := writeFile(d, "cpu.cfs_period_us", strconv.FormatUint(r.CPUPeriod, 10)); err != nil {
				return err
			}
		}
		if r.CPUQuota != 0 {
			if err := writeFile(d, "cpu.cfs_quota_us", strconv.FormatInt(r.CPUQuota, 10)); err != nil {
				return err
			}
		}
	}
	if d, ok := c.paths["cpuset"]; ok {
		if r.CpusetCpus != "" {
			if err := writeFile(d, "cpuset.cpus", r.CpusetCpus); err != nil {
				return err
			}
		}
		if r.CpusetMems != "" {
			if err := writeFile(d, "cpuset.mems", r.CpusetMems); err != nil {
				return err
			}
		}
	}
	if d, ok := c.paths["pids"]; ok && r.PidsLimit != 0 {
		if err := writeFile(d, "pids.max", formatInt(r.PidsLimit)); err != nil {
			return err
		}
	}
	if d, ok := c.paths["blkio"]; ok {
		if r.BlkioWeight != 0 {
			w := strconv.Itoa(int(r.BlkioWeight))
			err := writeFile(d, "blkio.weight", w)
			if errors.Is(err, fs.ErrNotExist) {
				err = writeFile(d, "blkio.bfq.weight", w)
			}
			if err != nil {
				return err
			}
		}
		for _, t := range r.ReadBps {
			if err := writeFile(d, "blkio.throttle.read_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)); err != nil {
				return err
			}
		}
		for _, t := range r.WriteBps {
			if err := writeFile(d, "blkio.throttle.write_bps_device", fmt.Sprintf("%d:%d %d", t.Major, t.Minor, t.Rate)); err != nil {
				return err
			}
		}
	}
	if d, ok := c.paths["devices"]; ok && !r.AllowAllDevices {
		rules := r.Devices
		if rules == nil {
			rules = DefaultDeviceRules
		}
		if err := writeFile(d, "devices.deny", "a"); err != nil {
			return err
		}
		for _, rule := range rules {
			if err := writeFile(d, "devices.allow", rule); err != nil {
				return err
			}
		}
	}
	return nil
}

func (c *legacy) Enter(pid int) error {
	p := strconv.Itoa(pid)
	for _, ctrl := range v1Controllers {
		if d, ok := c.paths[ctrl]; ok {
			if err := writeFile(d, "cgroup.procs", p); err != nil {
				return fmt.Errorf("entering cgroup: %w", err)
			}
		}
	}
	return nil
}

// anyPath is a hierarchy to list processes from.
func (c *legacy) anyPath() string {
	for _, ctrl := range []string{"pids", "freezer", "memory", "devices", "cpu"} {
		if d, ok := c.paths[ctrl]; ok {
			return d
		}
	}
	for _, d := range c.paths {
		return d
	}
	return ""
}

func (c *legacy) Pids() ([]int, error) {
	d := c.anyPath()
	if d == "" {
		return nil, nil
	}
	return readPids(d)
}

func (c *legacy) Freeze(frozen bool) error {
	d, ok := c.paths["freezer"]
	if !ok {
		return fmt.Errorf("freezing: %w", ErrNotSupported)
	}
	want := "THAWED"
	if frozen {
		want = "FROZEN"
	}
	for i := 0; i < 1000; i++ {
		if err := writeFile(d, "freezer.state", want); err != nil {
			return err
		}
		st, err := readFile(d, "freezer.state")
		if err != nil {
			return err
		}
		if st == want {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("freezing %s: still not %s", d, want)
}

func (c *legacy) Kill() error {
	d := c.anyPath()
	if d == "" {
		return nil
	}
	var freeze func(bool) error
	if fz, ok := c.paths["freezer"]; ok {
		if _, err := os.Stat(fz); err == nil {
			freeze = c.Freeze
		}
	}
	return killUntilEmpty(d, freeze)
}

func (c *legacy) Delete() error {
	err := c.Kill()
	for _, d := range c.paths {
		if e := rmdir(d); e != nil && err == nil {
			err = e
		}
		rmdirParent(d)
	}
	return err
}

func (c *legacy) OOMKills() (int, error) {
	d, ok := c.paths["memory"]
	if !ok {
		return 0, nil
	}
	data, err := readFile(d, "memory.oom_control")
	if err != nil {
		return 0, err
	}
	n, err := parseKeyed(data, "oom_kill")
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", filepath.Join(d, "memory.oom_control"), err)
	}
	return n, nil
}

func (c *legacy) Stats() (*Stats, error) {
	st := &Stats{}
	u := func(ctrl, file string) uint64 {
		d, ok := c.paths[ctrl]
		if !ok {
			return 0
		}
		v, err := readFile(d, file)
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		return n
	}
	if _, ok := c.paths["memory"]; ok {
		if _, err := os.Stat(c.paths["memory"]); err != nil {
			return nil, fmt.Errorf("reading cgroup stats: %w", err)
		}
	}
	st.MemoryUsage = u("memory", "memory.usage_in_bytes")
	if l := u("memory", "memory.limit_in_bytes"); l < unlimitedV1 {
		st.MemoryLimit = l
	}
	st.CPUUsage = u("cpuacct", "cpuacct.usage")
	st.Pids = u("pids", "pids.current")
	if d, ok := c.paths["blkio"]; ok {
		if data, err := readFile(d, "blkio.throttle.io_service_bytes"); err == nil {
			st.ReadBytes, st.WriteBytes = sumIOServiceBytes(data)
		}
	}
	return st, nil
}

// sumIOServiceBytes adds the Read and Write lines of a v1
// blkio.throttle.io_service_bytes file ("8:0 Read 4096").
func sumIOServiceBytes(data string) (read, write uint64) {
	for _, line := range strings.Split(data, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		n, _ := strconv.ParseUint(f[2], 10, 64)
		switch f[1] {
		case "Read":
			read += n
		case "Write":
			write += n
		}
	}
	return read, write
}
