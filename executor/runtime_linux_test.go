package executor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/internal/testenv"
)

// runBusybox runs a container to its end and returns its combined output,
// exit code and (for containers without --rm) final state.
func runBusybox(t *testing.T, root string, opts RunOptions) (string, int, *container.State) {
	t.Helper()
	if opts.Image == "" {
		opts.Image = "busybox"
	}
	c, err := CreateContainer(root, &opts, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	var out bytes.Buffer
	r, err := StartContainer(root, c, AttachOptions{Foreground: true, Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	es, err := r.Wait()
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	var st *container.State
	if !opts.Remove {
		_, st, err = LoadContainer(root, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := RemoveContainer(root, c.ID, true, true); err != nil {
			t.Fatal(err)
		}
	}
	return out.String(), es.Code, st
}

// startBusybox starts a long-running container whose output is read line by
// line; it is killed and removed at the end of the test.
func startBusybox(t *testing.T, root string, opts RunOptions) (*Running, *bufio.Reader) {
	t.Helper()
	if opts.Image == "" {
		opts.Image = "busybox"
	}
	c, err := CreateContainer(root, &opts, nil)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	pr, pw := io.Pipe()
	r, err := StartContainer(root, c, AttachOptions{Foreground: true, Stdout: pw, Stderr: pw})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	done := make(chan struct{})
	go func() {
		r.Wait()
		pw.Close()
		close(done)
	}()
	t.Cleanup(func() {
		r.Task.Signal(syscall.SIGKILL)
		<-done
		RemoveContainer(root, c.ID, true, true)
	})
	return r, bufio.NewReader(pr)
}

func expectLine(t *testing.T, br *bufio.Reader, want string) {
	t.Helper()
	line, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != want {
		t.Fatalf("read %q (%v), want %q", line, err, want)
	}
}

// assertClean fails if anything of root is left on the host.
func assertClean(t *testing.T, root string, cgroupPaths []map[string]string) {
	t.Helper()
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if bytes.Contains(mi, []byte(root)) {
		t.Errorf("mounts under %s remain:\n%s", root, mi)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	if len(entries) > 0 {
		t.Errorf("container directories remain: %v", entries)
	}
	for _, paths := range cgroupPaths {
		for _, p := range paths {
			if _, err := os.Stat(p); err == nil {
				t.Errorf("cgroup %s remains", p)
			}
		}
	}
}

func TestRunBasics(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	for _, tc := range []struct {
		name string
		opts RunOptions
		want string
		code int
	}{
		{"pid 1 is the command", RunOptions{Command: []string{"sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"}}, "1\nsh -c echo $$; cat /proc/1/cmdline | tr '\\0' ' ' ", 0},
		{"hostname", RunOptions{Hostname: "box1", Domainname: "example.org", Command: []string{"sh", "-c", "hostname; cat /etc/hostname; cat /proc/sys/kernel/domainname"}}, "box1\nbox1\nexample.org", 0},
		{"cgroup namespace", RunOptions{Command: []string{"sh", "-c", "grep -E ':memory:' /proc/1/cgroup | cut -d: -f3"}}, "/", 0},
		{"exit code", RunOptions{Command: []string{"sh", "-c", "exit 3"}}, "", 3},
		{"user nobody", RunOptions{User: "nobody", Command: []string{"id"}}, "uid=65534(nobody) gid=65534(nogroup)", 0},
		{"group-add", RunOptions{User: "nobody", GroupAdd: []string{"root", "4242"}, Command: []string{"id"}}, "uid=65534(nobody) gid=65534(nogroup) groups=0(root),4242", 0},
		{"uid:gid", RunOptions{User: "1000:1000", Command: []string{"id", "-u"}}, "1000", 0},
		{"cap eff of pid 1", RunOptions{Command: []string{"sh", "-c", "grep -E 'Cap(Eff|Bnd|Prm)' /proc/1/status"}}, "CapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb", 0},
		{"cap eff as nobody", RunOptions{User: "nobody", Command: []string{"sh", "-c", "grep -E 'Cap(Eff|Bnd)' /proc/1/status"}}, "CapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb", 0},
		{"cap-drop all, cap-add chown", RunOptions{CapDrop: []string{"ALL"}, CapAdd: []string{"chown"}, Command: []string{"sh", "-c", "grep CapEff /proc/1/status"}}, "CapEff:\t0000000000000001", 0},
		{"no_new_privs and seccomp", RunOptions{Command: []string{"sh", "-c", "grep -E '^(NoNewPrivs|Seccomp):' /proc/1/status"}}, "NoNewPrivs:\t1\nSeccomp:\t2", 0},
		{"seccomp blocks unshare", RunOptions{Command: []string{"unshare", "-U", "true"}}, "unshare: unshare(0x10000000): Operation not permitted", 1},
		{"seccomp unconfined", RunOptions{SecurityOpt: []string{"seccomp=unconfined"}, Command: []string{"sh", "-c", "unshare -U true && grep '^Seccomp:' /proc/1/status"}}, "Seccomp:\t0", 0},
		// This kernel has no /proc/kcore or /proc/sysrq-trigger: the
		// masked and read-only paths it has are checked.
		{"masked paths", RunOptions{Command: []string{"sh", "-c", "wc -c < /proc/keys; wc -c < /proc/timer_list; wc -c < /proc/interrupts; ls /sys/firmware | wc -l; echo x > /proc/sys/kernel/domainname"}}, "0\n0\n0\n0\nsh: can't create /proc/sys/kernel/domainname: Read-only file system", 1},
		{"privileged", RunOptions{Privileged: true, Command: []string{"sh", "-c", "grep -E '^(Seccomp|NoNewPrivs):' /proc/1/status; mount -o remount,rw /sys && echo sys rw"}}, "NoNewPrivs:\t0\nSeccomp:\t0\nsys rw", 0},
		{"network none", RunOptions{Network: "none", Command: []string{"sh", "-c", "ls /sys/class/net; ping -c1 -W1 127.0.0.1 >/dev/null && echo lo up"}}, "lo\nlo up", 0},
		{"read-only root", RunOptions{ReadOnly: true, Command: []string{"touch", "/x"}}, "touch: /x: Read-only file system", 1},
		{"env, workdir, entrypoint", RunOptions{Env: []string{"A=1", "B=two"}, Workdir: "/tmp/w", Entrypoint: ptr("sh"), Command: []string{"-c", "echo $A $B $(pwd) $HOME"}}, "1 two /tmp/w /root", 0},
		{"tmpfs and shm size", RunOptions{Tmpfs: []string{"/scratch:size=1m"}, ShmSize: "2m", Command: []string{"sh", "-c", "df -k /scratch /dev/shm | tail -2 | awk '{print $2}'"}}, "1024\n2048", 0},
		{"ulimit", RunOptions{Ulimits: []string{"nofile=100:200"}, Command: []string{"sh", "-c", "ulimit -n; ulimit -Hn"}}, "100\n200", 0},
		{"not found", RunOptions{Command: []string{"nosuch"}}, "", -127},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.code < 0 {
				c, err := CreateContainer(root, &RunOptions{Image: "busybox", Command: tc.opts.Command, Remove: true}, nil)
				if err != nil {
					t.Fatal(err)
				}
				_, err = StartContainer(root, c, AttachOptions{Foreground: true})
				var ie *container.InitError
				if !errors.As(err, &ie) || ie.Code != -tc.code || ie.Msg != `exec: "nosuch": executable file not found in $PATH` {
					t.Fatalf("got %v, want exit %d with docker's message", err, -tc.code)
				}
				RemoveContainer(root, c.ID, true, true)
				return
			}
			opts := tc.opts
			opts.Remove = true
			out, code, _ := runBusybox(t, root, opts)
			if got := strings.TrimRight(out, "\n"); got != tc.want || code != tc.code {
				t.Fatalf("got %q exit %d, want %q exit %d", got, code, tc.want, tc.code)
			}
		})
	}
	assertClean(t, root, nil)
}

func TestRunVolumes(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "in"), []byte("from host\n"), 0o644)
	out, code, _ := runBusybox(t, root, RunOptions{Remove: true,
		Volumes: []string{host + ":/data", host + ":/ro:ro", "vol1:/v", "/anon"},
		Command: []string{"sh", "-c", "cat /data/in; echo out > /data/out; echo v > /v/f; touch /ro/x"}})
	if out != "from host\ntouch: /ro/x: Read-only file system\n" || code != 1 {
		t.Fatalf("got %q exit %d", out, code)
	}
	if b, _ := os.ReadFile(filepath.Join(host, "out")); string(b) != "out\n" {
		t.Fatalf("bind mount did not write through: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "volumes/vol1/f")); string(b) != "v\n" {
		t.Fatalf("named volume: %q", b)
	}
	vols, _ := os.ReadDir(filepath.Join(root, "volumes"))
	if len(vols) != 1 {
		t.Fatalf("volumes after --rm: %v (want only vol1: the anonymous one goes)", vols)
	}
}

func TestRunIsolation(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	// IPC: a message queue made in one container is invisible in another.
	_, br := startBusybox(t, root, RunOptions{Command: []string{"sh", "-c", "touch /dev/mqueue/q1 && ls /dev/mqueue && sleep 60"}})
	expectLine(t, br, "q1")
	if out, _, _ := runBusybox(t, root, RunOptions{Remove: true, Command: []string{"ls", "/dev/mqueue"}}); out != "" {
		t.Fatalf("second container sees %q in /dev/mqueue", out)
	}
	// Mounts: a mount made inside is invisible on the host.
	_, br = startBusybox(t, root, RunOptions{CapAdd: []string{"SYS_ADMIN"}, SecurityOpt: []string{"seccomp=unconfined"},
		Command: []string{"sh", "-c", "mkdir -p /mnt/inner && mount -t tmpfs inner-tmpfs /mnt/inner && echo mounted && sleep 60"}})
	expectLine(t, br, "mounted")
	// The host may hold the container's network namespace file (an nsfs
	// bind mount under the root, by design); nothing else of the root, and
	// not the mount made inside, may be visible.
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	for _, line := range bytes.Split(mi, []byte("\n")) {
		if bytes.Contains(line, []byte("inner-tmpfs")) || bytes.Contains(line, []byte(root)) && !bytes.Contains(line, []byte(" - nsfs ")) {
			t.Fatalf("the container's mounts are visible on the host: %s", line)
		}
	}
}

func TestRunExec(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	r, br := startBusybox(t, root, RunOptions{Name: "ex", Hostname: "exbox", Env: []string{"FROMRUN=1"},
		Command: []string{"sh", "-c", "echo hello > /tmp/f && echo ready && sleep 60"}})
	expectLine(t, br, "ready")
	var out bytes.Buffer
	task, err := ExecContainer(root, "ex", ExecOptions{Args: []string{"sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /tmp/f; hostname; echo $FROMRUN $X; id -u; pwd; grep -E ':(memory|pids):' /proc/self/cgroup | cut -d: -f3; exit 7"},
		Env: []string{"X=2"}, User: "nobody", Workdir: "/tmp", Stdout: &out, Stderr: &out})
	if err != nil {
		t.Fatal(err)
	}
	es, err := task.Wait()
	if err != nil {
		t.Fatal(err)
	}
	// busybox sh execs the last command of -c: PID 1 is now sleep.
	want := "sleep 60 \nhello\nexbox\n1 2\n65534\n/tmp\n/\n/\n"
	if out.String() != want || es.Code != 7 {
		t.Fatalf("exec: got %q exit %d, want %q exit 7", out.String(), es.Code, want)
	}
	// The exec'd process was in the container's cgroups ("/" in its
	// cgroup namespace), and only the init is left in them.
	pids, err := r.cg.Pids()
	if err != nil || len(pids) != 1 || pids[0] != r.Task.Pid {
		t.Fatalf("cgroup processes after exec: %v, %v (want only %d)", pids, err, r.Task.Pid)
	}
	// The exec'd process has the container's seccomp program and
	// capabilities (the record keeps the program in the cache only).
	out.Reset()
	task, err = ExecContainer(root, "ex", ExecOptions{Args: []string{"sh", "-c", "grep -E '^(Seccomp|NoNewPrivs|CapEff):' /proc/self/status"}, Stdout: &out})
	if err != nil {
		t.Fatal(err)
	}
	task.Wait()
	if want := "CapEff:\t00000000a80425fb\nNoNewPrivs:\t1\nSeccomp:\t2\n"; out.String() != want {
		t.Fatalf("exec security: got %q, want %q", out.String(), want)
	}
	_, err = ExecContainer(root, "ex", ExecOptions{Args: []string{"nosuch"}})
	var ie *container.InitError
	if !errors.As(err, &ie) || ie.Code != 127 {
		t.Fatalf("exec nosuch: %v", err)
	}
}

func TestRunLimits(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	t.Run("oom", func(t *testing.T) {
		out, code, st := runBusybox(t, root, RunOptions{Memory: "32m", Command: []string{"dd", "if=/dev/zero", "of=/dev/null", "bs=64M", "count=1"}})
		if code != 137 || !st.OOMKilled {
			t.Fatalf("exit %d, OOMKilled %v, output %q; want 137 and OOMKilled", code, st.OOMKilled, out)
		}
	})
	t.Run("pids", func(t *testing.T) {
		out, _, _ := runBusybox(t, root, RunOptions{Remove: true, PidsLimit: 10, PidsLimitSet: true,
			Command: []string{"sh", "-c", "i=0; while [ $i -lt 20 ]; do sleep 30 & i=$((i+1)); done; echo started $i"}})
		if !strings.Contains(out, "can't fork") {
			t.Fatalf("20 processes under --pids-limit 10: %q", out)
		}
	})
	t.Run("cpus", func(t *testing.T) {
		r, _ := startBusybox(t, root, RunOptions{CPUs: "0.5", Command: []string{"sh", "-c", "while :; do :; done"}})
		// A loaded test machine must not starve the loop: it gets the
		// highest priority, so the quota alone limits it.
		unix.Setpriority(unix.PRIO_PROCESS, r.Task.Pid, -20)
		cpu := func() time.Duration {
			b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", r.Task.Pid))
			if err != nil {
				t.Fatal(err)
			}
			f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
			u, _ := strconv.Atoi(f[11])
			s, _ := strconv.Atoi(f[12])
			return time.Duration(u+s) * time.Second / 100 // USER_HZ
		}
		time.Sleep(300 * time.Millisecond)
		c0, t0 := cpu(), time.Now()
		time.Sleep(3 * time.Second)
		share := float64(cpu()-c0) / float64(time.Since(t0))
		t.Logf("busy loop under --cpus 0.5: %.0f%% of a CPU", share*100)
		if share < 0.40 || share > 0.60 {
			t.Fatalf("busy loop got %.0f%% of a CPU, want 40%%–60%%", share*100)
		}
	})
	assertClean(t, root, nil)
}

// TestRunRemoveAfterKill: the process that ran a container is SIGKILLed;
// the container dies with it (parent death signal) and `rm` cleans up what
// is left: the record, cgroups, and no mount or process remains.
func TestRunRemoveAfterKill(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	cmd := exec.Command(os.Args[0], "__stack_test_run", root, "sh", "-c", "echo up; sleep 60")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(out)
	expectLine(t, br, "up")
	entries, _ := os.ReadDir(filepath.Join(root, "containers"))
	if len(entries) != 1 {
		t.Fatalf("containers: %v", entries)
	}
	id := entries[0].Name()
	var st *container.State
	var err error
	for i := 0; i < 500; i++ { // the state is written just after the exec
		if _, st, err = LoadContainer(root, id); err == nil && st.Status == container.Running {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	if err != nil || st.Status != container.Running {
		t.Fatalf("state %+v, %v", st, err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	if err := RemoveContainer(root, id, false, true); err != nil {
		t.Fatalf("rm after the run was killed: %v", err)
	}
	waitGone(st.Pid, st.PidStart, 5*time.Second)
	if container.Alive(st.Pid, st.PidStart) {
		t.Fatalf("container init %d still runs", st.Pid)
	}
	assertClean(t, root, []map[string]string{st.Cgroups})
}

func TestRunRemoveLeavesNothing(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	var paths []map[string]string
	for i := 0; i < 5; i++ {
		c, err := CreateContainer(root, &RunOptions{Image: "busybox", Command: []string{"true"}, Remove: true, Memory: "64m", PidsLimit: 50, PidsLimitSet: true}, nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := StartContainer(root, c, AttachOptions{Foreground: true})
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, r.State.Cgroups)
		if _, err := r.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	assertClean(t, root, paths)
	if names, _ := os.ReadDir(filepath.Join(root, "names")); len(names) != 0 {
		t.Fatalf("names remain: %v", names)
	}
}
