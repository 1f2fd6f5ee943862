package cgroups

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// v1Controllers are the hierarchies a container gets a directory in.
var v1Controllers = []string{"memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "devices", "freezer"}

// v2Controllers are the controllers enabled for containers on v2.
var v2Controllers = []string{"cpu", "cpuset", "io", "memory", "pids"}

// Detect finds how cgroups are mounted (statfs of /sys/fs/cgroup: the
// cgroup2 magic means pure v2) and the caller's own cgroups.
func Detect() (*Host, error) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", os.NewSyscallError("statfs /sys/fs/cgroup", err))
	}
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}
	h := &Host{Mounts: map[string]string{}, Self: parseProcCgroup(string(self))}
	if st.Type == unix.CGROUP2_SUPER_MAGIC {
		h.Mode = Unified
		h.Mounts[""] = "/sys/fs/cgroup"
		return h, nil
	}
	mi, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("detecting cgroups: %w", err)
	}
	defer mi.Close()
	h.Mode = Legacy
	sc := bufio.NewScanner(mi)
	for sc.Scan() {
		mountPoint, fstype, opts, ok := parseMountinfo(sc.Text())
		if !ok {
			continue
		}
		switch fstype {
		case "cgroup2":
			if _, seen := h.Mounts[""]; !seen {
				h.Mounts[""] = mountPoint
				h.Mode = Hybrid
			}
		case "cgroup":
			for _, o := range strings.Split(opts, ",") {
				for _, c := range v1Controllers {
					if o == c {
						if _, seen := h.Mounts[c]; !seen {
							h.Mounts[c] = mountPoint
						}
					}
				}
			}
		}
	}
	if len(h.Mounts) == 0 || (h.Mode == Hybrid && len(h.Mounts) == 1) {
		return nil, errors.New("detecting cgroups: no cgroup hierarchy is mounted")
	}
	return h, nil
}

// parseMountinfo returns the mount point, fs type and super options of a
// /proc/self/mountinfo line.
func parseMountinfo(line string) (mountPoint, fstype, superOpts string, ok bool) {
	pre, post, found := strings.Cut(line, " - ")
	if !found {
		return "", "", "", false
	}
	f := strings.Fields(pre)
	g := strings.Fields(post)
	if len(f) < 5 || len(g) < 3 {
		return "", "", "", false
	}
	return f[4], g[0], g[2], true
}

// Warm starts, in the background, a no-op cgroup migration of the caller
// into its own cgroup. On cgroup v1 every migration takes a global
// percpu rwsem whose writer waits for an RCU grace period when none was
// taken recently (milliseconds); writers that arrive during that grace
// period wait for the same one. Warming at the start of a container start
// lets the grace period run while the init process is spawned, and the
// Enter that follows returns sooner.
func (h *Host) Warm() {
	for _, ctrl := range []string{"pids", "memory", "freezer", ""} {
		if mnt, ok := h.Mounts[ctrl]; ok {
			dir := filepath.Join(mnt, h.Self[ctrl])
			go writeFile(dir, "cgroup.procs", strconv.Itoa(os.Getpid()))
			return
		}
	}
}

// Create makes the cgroup name (e.g. "stack/<id>") below the caller's own
// cgroup in every hierarchy and applies r.
func (h *Host) Create(name string, r *Resources) (Cgroup, error) {
	if r == nil {
		r = &Resources{}
	}
	if h.Mode == Unified {
		parent := filepath.Join(h.Mounts[""], h.Self[""])
		dir := filepath.Join(parent, name)
		c := &unified{path: dir}
		if err := c.create(parent, r); err != nil {
			c.Delete()
			return nil, err
		}
		return c, nil
	}
	c := &legacy{paths: map[string]string{}}
	seenMount := map[string]bool{}
	for _, ctrl := range v1Controllers {
		mnt, ok := h.Mounts[ctrl]
		if !ok || seenMount[mnt] {
			continue
		}
		if ctrl == "cpuset" && r.CpusetCpus == "" && r.CpusetMems == "" {
			// Creating a v1 cpuset cgroup (copying cpus and mems) costs
			// more than all the other hierarchies together: only when asked.
			continue
		}
		seenMount[mnt] = true
		base := filepath.Join(mnt, h.Self[ctrl])
		c.paths[ctrl] = filepath.Join(base, name)
		if err := mkdirLevels(base, name, ctrl == "cpuset"); err != nil {
			c.Delete()
			return nil, fmt.Errorf("creating cgroup %s: %w", c.paths[ctrl], err)
		}
	}
	if err := c.set(r); err != nil {
		c.Delete()
		return nil, err
	}
	return c, nil
}

// Open returns the cgroup at paths (as Paths returned them).
func Open(paths map[string]string) Cgroup {
	if p, ok := paths[""]; ok && len(paths) == 1 {
		return &unified{path: p}
	}
	c := &legacy{paths: map[string]string{}}
	for k, v := range paths {
		c.paths[k] = v
	}
	return c
}

// mkdirLevels creates base/name level by level. On v1 cpuset a new cgroup
// starts with empty cpus and mems (clone_children=0), and adding a task to
// it fails with ENOSPC: copy them from the parent into each new level.
func mkdirLevels(base, name string, cpuset bool) error {
	// Delete removes an emptied parent level ("stack"): a concurrent
	// Create may see it vanish between its levels, and starts again.
	var err error
	for try := 0; try < 5; try++ {
		if err = mkdirLevelsOnce(base, name, cpuset); !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return err
}

func mkdirLevelsOnce(base, name string, cpuset bool) error {
	cur := base
	for _, part := range strings.Split(name, "/") {
		parent := cur
		cur = filepath.Join(cur, part)
		err := os.Mkdir(cur, 0o755)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		if cpuset {
			for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
				v, err := readFile(cur, f)
				if err != nil {
					return err
				}
				if v != "" {
					continue
				}
				pv, err := readFile(parent, f)
				if err != nil {
					return err
				}
				if err := writeFile(cur, f, pv); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// createFiles is set by tests that run against fake cgroupfs trees, where
// the interface files do not appear by themselves.
var createFiles = false

func writeFile(dir, file, data string) error {
	flags := os.O_WRONLY | os.O_TRUNC
	if createFiles {
		flags |= os.O_CREATE
	}
	f, err := os.OpenFile(filepath.Join(dir, file), flags, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", data, filepath.Join(dir, file), err)
	}
	return nil
}

func readFile(dir, file string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, file))
	return strings.TrimSpace(string(b)), err
}

func readPids(dir string) ([]int, error) {
	data, err := readFile(dir, "cgroup.procs")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, l := range strings.Fields(data) {
		if n, err := strconv.Atoi(l); err == nil {
			pids = append(pids, n)
		}
	}
	return pids, nil
}

// rmdirParent removes the parent level of a container's cgroup ("stack")
// once it is empty, so that nothing is left below the caller's cgroup; it
// fails harmlessly (EBUSY) while other containers are there.
func rmdirParent(dir string) {
	unix.Rmdir(filepath.Dir(dir))
}

// rmdir removes a cgroup directory, retrying briefly while the kernel
// finishes releasing exited tasks (EBUSY).
func rmdir(dir string) error {
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i >= 5000 {
			return fmt.Errorf("removing cgroup %s: %w", dir, err)
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// killPids sends SIGKILL to every pid listed in dir until it is empty.
func killUntilEmpty(dir string, freeze func(bool) error) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := readPids(dir)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("listing processes of cgroup %s: %w", dir, err)
		}
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("killing processes of cgroup %s: %d still running", dir, len(pids))
		}
		// Frozen, nothing can fork between the listing and the kill.
		if freeze != nil {
			freeze(true)
		}
		for _, p := range pids {
			unix.Kill(p, unix.SIGKILL)
		}
		if freeze != nil {
			freeze(false)
		}
		time.Sleep(time.Millisecond)
	}
}
