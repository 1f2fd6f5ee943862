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

// unified is a cgroup on v2: one directory.
type unified struct {
	path string
}

var _ Cgroup = (*unified)(nil)

func (c *unified) Paths() map[string]string { return map[string]string{"": c.path} }

// create enables the controllers from parent down to the cgroup's parent,
// makes the directory and writes the limits.
func (c *unified) create(parent string, r *Resources) error {
	rel, err := filepath.Rel(parent, c.path)
	if err != nil {
		return err
	}
	cur := parent
	for _, part := range strings.Split(rel, "/") {
		if err := enableControllers(cur); err != nil {
			return err
		}
		cur = filepath.Join(cur, part)
		if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("creating cgroup %s: %w", cur, err)
		}
	}
	return c.set(r)
}

// enableControllers writes "+ctrl" to dir's cgroup.subtree_control for each
// wanted controller that dir offers and has not enabled yet.
func enableControllers(dir string) error {
	avail, err := readFile(dir, "cgroup.controllers")
	if err != nil {
		return fmt.Errorf("reading controllers of %s: %w", dir, err)
	}
	enabled, _ := readFile(dir, "cgroup.subtree_control")
	has := func(list, c string) bool {
		for _, x := range strings.Fields(list) {
			if x == c {
				return true
			}
		}
		return false
	}
	var add []string
	for _, c := range v2Controllers {
		if has(avail, c) && !has(enabled, c) {
			add = append(add, "+"+c)
		}
	}
	if len(add) == 0 {
		return nil
	}
	if err := writeFile(dir, "cgroup.subtree_control", strings.Join(add, " ")); err != nil {
		return fmt.Errorf("enabling controllers: %w", err)
	}
	if createFiles { // a fake tree: record what the kernel would show
		return writeFile(dir, "cgroup.subtree_control", strings.TrimSpace(enabled+" "+strings.Join(trimPlus(add), " ")))
	}
	return nil
}

func trimPlus(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = strings.TrimPrefix(x, "+")
	}
	return out
}

func (c *unified) set(r *Resources) error {
	d := c.path
	if r.Memory != 0 {
		if err := writeFile(d, "memory.max", formatInt(r.Memory)); err != nil {
			return err
		}
		// v2 limits swap alone; docker's --memory-swap is memory+swap.
		if r.MemorySwap != 0 {
			swap := int64(-1)
			if r.MemorySwap > 0 {
				swap = r.MemorySwap - r.Memory
			}
			if err := writeFile(d, "memory.swap.max", formatInt(swap)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
	}
	if r.CPUQuota != 0 || r.CPUPeriod != 0 {
		period := r.CPUPeriod
		if period == 0 {
			period = 100000
		}
		quota := "max"
		if r.CPUQuota > 0 {
			quota = strconv.FormatInt(r.CPUQuota, 10)
		}
		if err := writeFile(d, "cpu.max", quota+" "+strconv.FormatUint(period, 10)); err != nil {
			return err
		}
	}
	if w := sharesToWeight(r.CPUShares); w != 0 {
		if err := writeFile(d, "cpu.weight", strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
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
	if r.PidsLimit != 0 {
		if err := writeFile(d, "pids.max", formatInt(r.PidsLimit)); err != nil {
			return err
		}
	}
	if w := blkioToIOWeight(r.BlkioWeight); w != 0 {
		if err := writeFile(d, "io.weight", "default "+strconv.FormatUint(w, 10)); err != nil {
			return err
		}
	}
	for _, line := range ioMaxLines(r.ReadBps, r.WriteBps) {
		if err := writeFile(d, "io.max", line); err != nil {
			return err
		}
	}
	return nil
}

// ioMaxLines merges read and write throttles into io.max lines, one per
// device, in the order the devices first appear.
func ioMaxLines(read, write []Throttle) []string {
	type dev struct{ maj, min int64 }
	var order []dev
	vals := map[dev][]string{}
	add := func(ts []Throttle, key string) {
		for _, t := range ts {
			k := dev{t.Major, t.Minor}
			if _, ok := vals[k]; !ok {
				order = append(order, k)
			}
			vals[k] = append(vals[k], key+"="+strconv.FormatUint(t.Rate, 10))
		}
	}
	add(read, "rbps")
	add(write, "wbps")
	var out []string
	for _, k := range order {
		out = append(out, fmt.Sprintf("%d:%d %s", k.maj, k.min, strings.Join(vals[k], " ")))
	}
	return out
}

func (c *unified) Enter(pid int) error {
	if err := writeFile(c.path, "cgroup.procs", strconv.Itoa(pid)); err != nil {
		return fmt.Errorf("entering cgroup: %w", err)
	}
	return nil
}

func (c *unified) Pids() ([]int, error) { return readPids(c.path) }

func (c *unified) Freeze(frozen bool) error {
	v := "0"
	if frozen {
		v = "1"
	}
	if err := writeFile(c.path, "cgroup.freeze", v); err != nil {
		return err
	}
	if createFiles {
		return nil
	}
	for i := 0; i < 1000; i++ {
		ev, err := readFile(c.path, "cgroup.events")
		if err != nil {
			return err
		}
		if n, err := parseKeyed(ev, "frozen"); err == nil && strconv.Itoa(n) == v {
			return nil
		}
		time.Sleep(time.Millisecond)
	}
	return fmt.Errorf("freezing %s: cgroup.events never said frozen %s", c.path, v)
}

func (c *unified) Kill() error {
	if _, err := os.Stat(c.path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	// cgroup.kill (Linux 5.14) kills everything atomically, forks included.
	if err := writeFile(c.path, "cgroup.kill", "1"); err == nil && !createFiles {
		return killUntilEmpty(c.path, nil)
	}
	return killUntilEmpty(c.path, c.Freeze)
}

func (c *unified) Delete() error {
	err := c.Kill()
	if createFiles { // a fake tree holds plain files
		if e := os.RemoveAll(c.path); e != nil && err == nil {
			err = e
		}
		return err
	}
	if e := rmdir(c.path); e != nil && err == nil {
		err = e
	}
	rmdirParent(c.path)
	return err
}

func (c *unified) OOMKills() (int, error) {
	data, err := readFile(c.path, "memory.events")
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	n, err := parseKeyed(data, "oom_kill")
	if err != nil {
		return 0, fmt.Errorf("reading %s: %w", filepath.Join(c.path, "memory.events"), err)
	}
	return n, nil
}

func (c *unified) Stats() (*Stats, error) {
	if _, err := os.Stat(c.path); err != nil {
		return nil, fmt.Errorf("reading cgroup stats: %w", err)
	}
	st := &Stats{}
	u := func(file string) uint64 {
		v, err := readFile(c.path, file)
		if err != nil {
			return 0
		}
		n, _ := strconv.ParseUint(v, 10, 64)
		return n
	}
	st.MemoryUsage = u("memory.current")
	st.MemoryLimit = u("memory.max") // "max" parses as 0: unlimited
	st.Pids = u("pids.current")
	if data, err := readFile(c.path, "cpu.stat"); err == nil {
		if n, err := parseKeyed(data, "usage_usec"); err == nil {
			st.CPUUsage = uint64(n) * 1000
		}
	}
	if data, err := readFile(c.path, "io.stat"); err == nil {
		st.ReadBytes, st.WriteBytes = sumIOStat(data)
	}
	return st, nil
}

// sumIOStat adds rbytes and wbytes over the devices of a v2 io.stat file
// ("8:0 rbytes=4096 wbytes=0 rios=1 ...").
func sumIOStat(data string) (read, write uint64) {
	for _, line := range strings.Split(data, "\n") {
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			n, _ := strconv.ParseUint(v, 10, 64)
			switch k {
			case "rbytes":
				read += n
			case "wbytes":
				write += n
			}
		}
	}
	return read, write
}
