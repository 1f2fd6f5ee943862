package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/stack-dev/stack/internal/testenv"
	"github.com/stack-dev/stack/netplan"
)

// cmdTimeout bounds every stack command a test runs.
const cmdTimeout = 90 * time.Second

// env is one state root with the busybox:latest base image, and the
// projects a test brings up in it.
type env struct {
	t    *testing.T
	root string

	mu       sync.Mutex
	seen     map[string]bool // container ids ever seen under root
	projects []*proj
}

// proj is a copy of one example directory, run against an env's root.
type proj struct {
	e    *env
	dir  string
	name string // the project name (the file's name:)
}

// result is what one stack command did.
type result struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r result) String() string {
	return "stack " + strings.Join(r.args, " ") + " → exit " + strconv.Itoa(r.code) +
		"\n--- stdout\n" + r.stdout + "--- stderr\n" + r.stderr
}

// newEnv makes a fresh state root with the base image. At the end of the
// test every project is taken down (`down -t 0`) and the root is checked
// for leaks.
func newEnv(t *testing.T) *env {
	t.Helper()
	testenv.RequirePrivileged(t)
	e := &env{t: t, root: t.TempDir(), seen: map[string]bool{}}
	script := filepath.Join(repoDir, "scripts", "busybox-image.sh")
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, script, stackBin)
	cmd.Env = append(os.Environ(), "STACK_ROOT="+e.root)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("making busybox:latest: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		for _, p := range e.projects {
			if r := p.stack("down", "-t", "0"); r.code != 0 {
				t.Errorf("cleanup: %s", r)
			}
		}
		// The build network is the root's, not a project's: builds on the
		// default network make it and it stays (docker's default bridge
		// does too). The test owns the root, so it removes it.
		if len(e.projects) > 0 {
			p := e.projects[0]
			if ls := p.stack("network", "ls"); strings.Contains(ls.stdout, "stack-build") {
				if r := p.stack("network", "rm", "stack-build"); r.code != 0 {
					t.Errorf("cleanup: %s", r)
				}
			}
		}
		e.assertClean(t)
	})
	return e
}

// project copies examples/<example> into a temporary directory and takes
// the project down once (nothing is up in a fresh root: this is the
// "clean before" step, and it must work on a project that never ran).
func (e *env) project(example string) *proj {
	t := e.t
	t.Helper()
	dir := filepath.Join(t.TempDir(), example)
	if err := copyDir(filepath.Join(repoDir, "examples", example), dir); err != nil {
		t.Fatalf("copying example %s: %v", example, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^name:\s*(\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("examples/%s/compose.yaml has no name:", example)
	}
	p := &proj{e: e, dir: dir, name: string(m[1])}
	e.mu.Lock()
	e.projects = append(e.projects, p)
	e.mu.Unlock()
	p.must("down", "-t", "0")
	return p
}

// stack runs the binary in the project directory.
func (p *proj) stack(args ...string) result {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := p.command(ctx, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{args: args, stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		r.code = -1
		r.stderr += "\n(running it: " + err.Error() + ")"
	}
	if ctx.Err() != nil {
		r.stderr += "\n(timed out after " + cmdTimeout.String() + ")"
	}
	p.e.noteContainers()
	return r
}

// command is a stack command of the project, not started.
func (p *proj) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, stackBin, args...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), "STACK_ROOT="+p.e.root, "NO_COLOR=1")
	return cmd
}

// must runs a command that has to exit 0.
func (p *proj) must(args ...string) result {
	p.e.t.Helper()
	r := p.stack(args...)
	if r.code != 0 {
		p.e.t.Fatalf("%s", r)
	}
	return r
}

// planExit runs `plan --detailed-exitcode` and returns its exit code (0 no
// changes, 2 changes) and output.
func (p *proj) planExit() (int, string) {
	r := p.stack("plan", "--detailed-exitcode")
	return r.code, r.stdout + r.stderr
}

// assertNoChanges checks that the plan is empty.
func (p *proj) assertNoChanges(t *testing.T) {
	t.Helper()
	code, out := p.planExit()
	if code != 0 || !strings.Contains(out, "No changes.") {
		t.Fatalf("plan --detailed-exitcode: exit %d, want 0 and \"No changes.\":\n%s", code, out)
	}
}

// edit rewrites the project's compose.yaml, replacing old by new (which
// must occur).
func (p *proj) edit(t *testing.T, old, new string) {
	t.Helper()
	path := filepath.Join(p.dir, "compose.yaml")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(old)) {
		t.Fatalf("compose.yaml of %s has no %q", p.name, old)
	}
	b = bytes.Replace(b, []byte(old), []byte(new), 1)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeFile replaces the project's compose.yaml.
func (p *proj) writeFile(t *testing.T, text string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(p.dir, "compose.yaml"), []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// projectRecord is the part of <root>/projects/<name>.json the tests read.
type projectRecord struct {
	Project    string `json:"project"`
	Containers []struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		Service string `json:"service"`
		State   string `json:"state"`
	} `json:"containers"`
	Networks map[string]json.RawMessage `json:"networks"`
}

// record reads the project record; nil when there is none.
func (p *proj) record(t *testing.T) *projectRecord {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.e.root, "projects", p.name+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var r projectRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("project record of %s: %v", p.name, err)
	}
	return &r
}

// containerIDs maps each service to the ids of its recorded containers,
// and fails unless every service of want has exactly one.
func (p *proj) containerIDs(t *testing.T, want ...string) map[string]string {
	t.Helper()
	rec := p.record(t)
	if rec == nil {
		t.Fatalf("project %s has no record", p.name)
	}
	per := map[string][]string{}
	for _, c := range rec.Containers {
		per[c.Service] = append(per[c.Service], c.ID)
	}
	ids := map[string]string{}
	for _, s := range want {
		if len(per[s]) != 1 {
			t.Fatalf("service %s of %s has %d containers recorded, want 1: %v", s, p.name, len(per[s]), per[s])
		}
		ids[s] = per[s][0]
	}
	if len(per) != len(want) {
		t.Fatalf("project %s records containers of %v, want exactly %v", p.name, keys(per), want)
	}
	return ids
}

// logs returns a container's log.
func (p *proj) logs(name string) string {
	r := p.stack("logs", name)
	return r.stdout + r.stderr
}

// waitLog waits until the container's log contains want.
func (p *proj) waitLog(t *testing.T, name, want string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	var out string
	for {
		out = p.logs(name)
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("log of %s has no %q after %s:\n%s", name, want, within, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// noteContainers remembers the container ids under the root, for the leak
// checks (cgroups and processes are found by id).
func (e *env) noteContainers() {
	entries, _ := os.ReadDir(filepath.Join(e.root, "containers"))
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, d := range entries {
		if len(d.Name()) == 64 {
			e.seen[d.Name()] = true
		}
	}
}

// httpGet fetches url (only 127.0.0.1) until the body, trimmed, equals
// want, or fails after within.
func httpGet(t *testing.T, url, want string, within time.Duration) {
	t.Helper()
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("httpGet %s: only 127.0.0.1", url)
	}
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(within)
	var last string
	for {
		resp, err := client.Get(url)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			last = resp.Status + ": " + string(b)
			if resp.StatusCode == 200 && strings.TrimSpace(string(b)) == want {
				return
			}
		} else {
			last = err.Error()
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: want %q within %s, last: %s", url, want, within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requirePortsFree fails when something already listens on a port an
// example publishes (a leftover of another run would make the test lie).
func requirePortsFree(t *testing.T, ports ...string) {
	t.Helper()
	for _, port := range ports {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 300*time.Millisecond)
		if err == nil {
			c.Close()
			t.Fatalf("127.0.0.1:%s is already in use: the examples need it free", port)
		}
	}
}

// portClosed reports whether nothing answers on 127.0.0.1:port.
func portClosed(port string) bool {
	c, err := net.DialTimeout("tcp", "127.0.0.1:"+port, 300*time.Millisecond)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// assertClean checks that nothing of the root is left on the host: no
// stk* link with the root's alias, no nft table of the root, no mount
// under it, no cgroup named after one of its containers, no stack helper
// process naming it or one of its containers, no container or project
// records.
func (e *env) assertClean(t *testing.T) {
	t.Helper()
	e.noteContainers()
	e.mu.Lock()
	ids := keys(e.seen)
	e.mu.Unlock()
	found := settledLeaks(e.root, ids)
	for _, l := range found {
		t.Errorf("leak: %s", l)
	}
	if len(found) > 0 {
		purge(e.root, ids)
	}
}

// purge removes by force what a failed test left of root, so that the
// tests after it start on a clean host: processes, mounts, links, the nft
// table and the cgroups.
func purge(root string, ids []string) {
	table := netplan.TableName(root)
	alias := "stack:" + strings.TrimPrefix(table, netplan.TablePrefix)
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		cmdline := string(b)
		if !strings.Contains(cmdline, "__stack_") {
			continue
		}
		mine := strings.Contains(cmdline, root) || strings.Contains(cmdline, table)
		for _, id := range ids {
			mine = mine || strings.Contains(cmdline, id)
		}
		if pid, err := strconv.Atoi(filepath.Base(filepath.Dir(f))); err == nil && mine {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if b, err := os.ReadFile("/proc/self/mounts"); err == nil {
		lines := strings.Split(string(b), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			f := strings.Fields(lines[i])
			if len(f) > 1 && strings.HasPrefix(f[1], root+"/") {
				syscall.Unmount(f[1], syscall.MNT_DETACH)
			}
		}
	}
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			if a := l.Attrs(); strings.HasPrefix(a.Name, "stk") && a.Alias == alias {
				netlink.LinkDel(l)
			}
		}
	}
	exec.Command("nft", "delete", "table", "ip", table).Run()
	idSet := map[string]bool{}
	for _, id := range ids {
		idSet[id] = true
	}
	var dirs []string
	filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if strings.Count(strings.TrimPrefix(path, "/sys/fs/cgroup"), "/") > 6 {
			return filepath.SkipDir
		}
		if idSet[d.Name()] {
			dirs = append(dirs, path)
			return filepath.SkipDir
		}
		return nil
	})
	for _, d := range dirs {
		os.Remove(d)
	}
}

// settledLeaks is leaks, given a bounded moment to become empty: the
// kernel dismantles a network namespace whose last reference went
// asynchronously, and its veth ends go a moment later.
func settledLeaks(root string, ids []string) []string {
	found := leaks(root, ids)
	for deadline := time.Now().Add(3 * time.Second); len(found) > 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		found = leaks(root, ids)
	}
	return found
}

// leaks lists what of root (and of the containers ids) is still on the host.
func leaks(root string, ids []string) []string {
	var out []string
	table := netplan.TableName(root)
	alias := "stack:" + strings.TrimPrefix(table, netplan.TablePrefix)
	idSet := map[string]bool{}
	for _, id := range ids {
		idSet[id] = true
	}

	// Records.
	if entries, err := os.ReadDir(filepath.Join(root, "containers")); err == nil {
		for _, d := range entries {
			out = append(out, "container record "+filepath.Join(root, "containers", d.Name()))
		}
	}
	if entries, err := os.ReadDir(filepath.Join(root, "projects")); err == nil {
		for _, d := range entries {
			if strings.HasSuffix(d.Name(), ".json") {
				out = append(out, "project record "+filepath.Join(root, "projects", d.Name()))
			}
		}
	}

	// Links.
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			a := l.Attrs()
			if strings.HasPrefix(a.Name, "stk") && a.Alias == alias {
				out = append(out, "link "+a.Name+" ("+a.Alias+")")
			}
		}
	} else {
		out = append(out, "listing links: "+err.Error())
	}

	// nftables.
	if b, err := exec.Command("nft", "list", "tables").CombinedOutput(); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) == 3 && f[2] == table {
				out = append(out, "nft "+line)
			}
		}
	} else {
		out = append(out, "nft list tables: "+err.Error()+": "+string(b))
	}

	// Mounts.
	if b, err := os.ReadFile("/proc/self/mounts"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Fields(line)
			if len(f) > 1 && (f[1] == root || strings.HasPrefix(f[1], root+"/")) {
				out = append(out, "mount "+line)
			}
		}
	}

	// Cgroups named after a container of the root.
	if len(idSet) > 0 {
		filepath.WalkDir("/sys/fs/cgroup", func(path string, d fs.DirEntry, err error) error {
			if err != nil || !d.IsDir() {
				return nil
			}
			if strings.Count(strings.TrimPrefix(path, "/sys/fs/cgroup"), "/") > 6 {
				return filepath.SkipDir
			}
			if idSet[d.Name()] {
				out = append(out, "cgroup "+path)
				return filepath.SkipDir
			}
			return nil
		})
	}

	// Helper processes.
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, f := range procs {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		cmdline := strings.ReplaceAll(strings.TrimRight(string(b), "\x00"), "\x00", " ")
		if !strings.Contains(cmdline, "__stack_shim") && !strings.Contains(cmdline, "__stack_init") && !strings.Contains(cmdline, "__stack_proxy") {
			continue
		}
		mine := strings.Contains(cmdline, root) || strings.Contains(cmdline, table)
		for _, id := range ids {
			if strings.Contains(cmdline, id) {
				mine = true
			}
		}
		if mine {
			out = append(out, "process "+filepath.Base(filepath.Dir(f))+": "+cmdline)
		}
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// copyDir copies a directory tree of regular files and directories.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}
