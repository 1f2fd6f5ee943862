package executor

// The supervisor of a detached container: `stack __stack_shim ROOT ID`,
// one process per container, in a session of its own, started by
// StartDetached and outliving it. It is the parent of the container's
// init, so it alone can wait for it and learn its exit status:
//
//	StartDetached (CLI, stack up)          __stack_shim ROOT ID (setsid)
//	─────────────────────────────          ──────────────────────────────
//	pipe "ready"; start the shim ────────▶ log file, stdio pipes
//	                                       StartContainer (state: running,
//	                                       supervisor = the shim)
//	read the report ◀──────────────────── {"pid":N} or {"error":...}, close
//	return (nil, or the start's error)     wait; drain logs; record the end
//	                                       restart policy: backoff, start again
//	                                       healthchecks (exec) meanwhile
//
// The init gets no parent-death signal: killing the CLI, or the shim,
// never kills the container. A killed shim leaves a state that says
// running with a dead supervisor: ContainerStatus reports it as dead.
// SIGUSR1 tells the shim to look at the state again (a stop or rm set
// ManualStop while it waited to restart).

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
)

const (
	envShimReady = "_STACK_SHIM_READY" // fd of the shim's report pipe
	envShimGo    = "_STACK_SHIM_GO"    // fd of the pipe a spawned-early shim waits on
)

// ShimLogFile receives a supervisor's own stderr, in the container's
// directory.
const ShimLogFile = "shim.log"

// shimReport is the shim's one message to whoever started it.
type shimReport struct {
	Pid   int                  `json:"pid,omitempty"`
	Init  *container.InitError `json:"init_error,omitempty"`
	Error string               `json:"error,omitempty"`
}

// ShimExecutable is the binary started as the supervisor (it must
// dispatch ShimEntrypoint to ShimMain); tests point it elsewhere.
var ShimExecutable = "/proc/self/exe"

// StartDetached starts c under a supervisor of its own and returns once the
// container runs (its state says running), or with the start's error: an
// *container.InitError (e.g. the command was not found) is returned as
// such. A container that already runs under a live supervisor is left as
// it is. The supervisor holds the container's op lock from before it reads
// the record until the container runs: a stop or rm that comes meanwhile
// (even after the caller was killed) waits for the start, then sees it.
func StartDetached(root string, c *Container, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dir := containerDir(root, c.ID)
	if st, err := container.ReadState(dir); err == nil && st.Status.Active() &&
		st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart) {
		return nil
	}
	p, err := spawnShim(root, c.ID, false)
	if err != nil {
		return err
	}
	return p.report(log)
}

// PendingShim is a supervisor started before its container's record is
// complete (SpawnShim): the process start overlaps with CreateContainer.
type PendingShim struct {
	root, id string
	t0       time.Time
	cmd      *exec.Cmd
	reports  *os.File   // read end of the report pipe
	goW      *os.File   // write end of the go pipe (nil: not waiting)
	waited   chan error // the shim's end, once reaped
}

// SpawnShim starts the supervisor of the container that is about to be
// created with opts (it sets opts.ID when empty); the supervisor waits.
// Pass the created container to Start, or call Abort.
func SpawnShim(root string, opts *RunOptions) (*PendingShim, error) {
	if opts.ID == "" {
		opts.ID = newID()
	}
	return spawnShim(root, opts.ID, true)
}

func spawnShim(root, id string, wait bool) (*PendingShim, error) {
	p := &PendingShim{root: root, id: id, t0: time.Now(), waited: make(chan error, 1)}
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("starting supervisor of %s: %w", id, err)
	}
	p.reports = pr
	env := []string{envShimReady + "=3", "GOMAXPROCS=1"}
	files := []*os.File{pw}
	var goR *os.File
	if wait {
		if goR, p.goW, err = os.Pipe(); err != nil {
			pr.Close()
			pw.Close()
			return nil, fmt.Errorf("starting supervisor of %s: %w", id, err)
		}
		files = append(files, goR)
		env = append(env, envShimGo+"=4")
	}
	p.cmd = &exec.Cmd{
		Path:        ShimExecutable,
		Args:        []string{"stack", ShimEntrypoint, root, id},
		Dir:         "/",
		Env:         env,
		ExtraFiles:  files,
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	err = p.cmd.Start()
	pw.Close()
	if goR != nil {
		goR.Close()
	}
	if err != nil {
		pr.Close()
		if p.goW != nil {
			p.goW.Close()
		}
		return nil, fmt.Errorf("starting supervisor of %s: %w", id, err)
	}
	// Reap the shim whenever it ends, if this process lives that long.
	go func() { p.waited <- p.cmd.Wait() }()
	return p, nil
}

// Start lets the supervisor start c (created with the options given to
// SpawnShim) and returns as StartDetached does.
func (p *PendingShim) Start(c *Container, log *slog.Logger) error {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if c.ID != p.id {
		p.Abort()
		return fmt.Errorf("starting container %s: the supervisor was spawned for container %s", c.ID, p.id)
	}
	if _, err := p.goW.Write([]byte{1}); err != nil {
		p.Abort()
		return fmt.Errorf("starting supervisor of %s: %w", c.ID, err)
	}
	p.goW.Close()
	p.goW = nil
	return p.report(log)
}

// Abort ends a supervisor that has not been told to start.
func (p *PendingShim) Abort() {
	if p.goW != nil {
		p.goW.Close() // EOF: the shim leaves without touching anything
		p.goW = nil
	}
	p.reports.Close()
	<-p.waited
}

// report reads the supervisor's report on its start.
func (p *PendingShim) report(log *slog.Logger) error {
	defer p.reports.Close()
	b, _ := io.ReadAll(p.reports)
	log.Debug("supervisor reported", "container", p.id, "took", time.Since(p.t0))
	var rep shimReport
	if len(bytes.TrimSpace(b)) == 0 || json.Unmarshal(b, &rep) != nil {
		err := <-p.waited
		return fmt.Errorf("starting container %s: its supervisor ended before it started the container: %v", p.id, err)
	}
	if rep.Init != nil {
		return rep.Init
	}
	if rep.Error != "" {
		return fmt.Errorf("starting container %s: %s", p.id, rep.Error)
	}
	return nil
}

// ShimMain is the body of the hidden __stack_shim entrypoint (args: root,
// container ID). It returns the process's exit code.
func ShimMain(args []string) int {
	runtime.GOMAXPROCS(1)
	var ready *os.File
	if fd, err := strconv.Atoi(os.Getenv(envShimReady)); err == nil {
		ready = os.NewFile(uintptr(fd), "ready")
	}
	os.Unsetenv(envShimReady)
	report := func(r shimReport) {
		if ready == nil {
			return
		}
		b, _ := json.Marshal(&r)
		ready.Write(b)
		ready.Close()
		ready = nil
	}
	if len(args) != 2 {
		report(shimReport{Error: "usage: __stack_shim ROOT ID"})
		return 2
	}
	if fd, err := strconv.Atoi(os.Getenv(envShimGo)); err == nil {
		// Spawned early: wait until the record exists (EOF: aborted).
		goR := os.NewFile(uintptr(fd), "go")
		var b [1]byte
		n, _ := goR.Read(b[:])
		goR.Close()
		if n != 1 {
			return 0
		}
	}
	os.Unsetenv(envShimGo)
	dir := containerDir(args[0], args[1])
	// Commands on the container wait until it runs (or failed to start).
	unlock, err := container.Lock(dir, container.OpLock)
	if err != nil {
		report(shimReport{Error: err.Error()})
		return 1
	}
	// The shim's own stderr (a Go panic, say) goes to a file beside the
	// container's log.
	if f, err := os.OpenFile(filepath.Join(dir, ShimLogFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600); err == nil {
		unix.Dup3(int(f.Fd()), 2, 0)
		f.Close()
	}
	// Another supervisor may have started it while this one waited.
	if st, err := container.ReadState(dir); err == nil && st.Status.Active() &&
		st.Supervisor != 0 && container.Alive(st.Supervisor, st.SupervisorStart) {
		unlock()
		report(shimReport{Pid: st.Pid})
		return 0
	}
	s, err := newShim(args[0], args[1])
	if err != nil {
		unlock()
		report(shimReport{Error: err.Error()})
		return 1
	}
	return s.run(func(r shimReport) {
		unlock()
		report(r)
	})
}

type shim struct {
	root   string
	dir    string
	c      *Container
	policy RestartPolicy
	logs   *logWriter
	hub    *attachHub
	wake   chan os.Signal
}

func newShim(root, id string) (*shim, error) {
	// The record without its seccomp program: the first start compiles
	// (or loads) it while the init process starts (see start).
	c, _, err := loadRecord(root, id)
	if err != nil {
		return nil, err
	}
	policy, err := ParseRestartPolicy(c.Restart)
	if err != nil {
		return nil, err
	}
	lc, err := parseLogOpts(c.LogOpts)
	if err != nil {
		return nil, err
	}
	dir := containerDir(root, c.ID)
	lw, err := openLogWriter(dir, lc)
	if err != nil {
		return nil, err
	}
	hub := newAttachHub() // it listens once the container runs
	lw.tee = hub.broadcast
	s := &shim{root: root, dir: dir, c: c, policy: policy, logs: lw, hub: hub, wake: make(chan os.Signal, 1)}
	signal.Notify(s.wake, unix.SIGUSR1)
	signal.Ignore(unix.SIGHUP, unix.SIGPIPE, unix.SIGINT)
	return s, nil
}

// run starts the container, reports, then supervises it to its end.
func (s *shim) run(report func(shimReport)) int {
	defer s.logs.close()
	defer s.hub.close()
	restarts := 0
	var backoff time.Duration
	for first := true; ; first = false {
		r, err := s.start(restarts)
		if err != nil {
			if first {
				s.recordFailedStart(err)
				var ie *container.InitError
				if errors.As(err, &ie) {
					report(shimReport{Init: ie})
				} else {
					report(shimReport{Error: err.Error()})
				}
				return 1
			}
			if errors.Is(err, errStopped) {
				s.release()
				return 0
			}
			s.recordFailedStart(err)
			return 1
		}
		if first {
			report(shimReport{Pid: r.Task.Pid})
			if err := s.hub.listen(s.dir); err != nil {
				fmt.Fprintln(os.Stderr, "stack shim:", err) // to shim.log; attach is unavailable
			}
			// From now on the supervisor mostly sleeps: a small heap,
			// collected often (not earlier: the start would pay for it).
			debug.SetGCPercent(20)
			debug.SetMemoryLimit(4 << 20)
			debug.FreeOSMemory()
		}
		started := time.Now()
		stopHealth := s.startHealth(r, started)
		es, _ := r.Task.Wait()
		stopHealth()
		uptime := time.Since(started)
		r.restart = func(st *container.State) bool {
			return s.policy.shouldRestart(st.ExitCode, st.ManualStop, restarts)
		}
		err = r.finish(es)
		s.hub.exit(es.Code)
		if err != nil || s.c.AutoRemove {
			return 0
		}
		if r.State.Status != container.Restarting {
			return 0
		}
		backoff = nextBackoff(backoff, uptime)
		if !s.sleep(backoff) {
			s.release()
			return 0
		}
		restarts++
	}
}

var errStopped = errors.New("stopped")

// sleep waits d, or less when woken (SIGUSR1) by a stop; it reports
// whether the container is still to be restarted.
func (s *shim) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			st, err := container.ReadState(s.dir)
			return err == nil && !st.ManualStop
		case <-s.wake:
			st, err := container.ReadState(s.dir)
			if err != nil || st.ManualStop {
				return false
			}
		}
	}
}

// release records that no supervisor is left and the container is exited.
func (s *shim) release() {
	container.UpdateState(s.dir, nil, true, func(st *container.State) error {
		if st.Status == container.Restarting || st.Status == container.Running && !container.Alive(st.Pid, st.PidStart) {
			st.Status = container.Exited
		}
		st.Supervisor, st.SupervisorStart = 0, 0
		return nil
	})
}

// recordFailedStart records a start that did not get the command running:
// docker leaves such a container "created" with the error and its code.
func (s *shim) recordFailedStart(err error) {
	code := 125
	var ie *container.InitError
	if errors.As(err, &ie) {
		code = ie.Code
	}
	container.UpdateState(s.dir, nil, true, func(st *container.State) error {
		if st.RestartCount == 0 && st.StartedAt.IsZero() {
			st.Status = container.Created
		} else {
			st.Status = container.Exited
		}
		st.ExitCode = code
		st.Error = err.Error()
		st.Pid, st.PidStart, st.Supervisor, st.SupervisorStart = 0, 0, 0, 0
		st.FinishedAt = time.Now().UTC()
		if st.CreatedAt.IsZero() {
			st.CreatedAt = s.c.Created
		}
		return nil
	})
	emitEvent(s.root, s.c, EventDie, map[string]string{"exitCode": strconv.Itoa(code)})
}

// start starts the container once, with fresh stdio pipes whose other
// ends feed the log, holding the state lock so that a stop cannot slip
// between its check of the state and the new record.
func (s *shim) start(restarts int) (*Running, error) {
	unlock, err := container.Lock(s.dir, container.StateLock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if st, err := container.ReadState(s.dir); err == nil && st.ManualStop && restarts > 0 {
		return nil, errStopped
	}
	var pumps sync.WaitGroup
	var closers []*os.File
	o := AttachOptions{RestartCount: restarts}
	if !s.c.Tty {
		outR, outW, err := os.Pipe()
		if err != nil {
			return nil, fmt.Errorf("starting container %s: %w", s.c.ID, err)
		}
		errR, errW, err := os.Pipe()
		if err != nil {
			outR.Close()
			outW.Close()
			return nil, fmt.Errorf("starting container %s: %w", s.c.ID, err)
		}
		o.Stdout, o.Stderr = outW, errW
		closers = append(closers, outW, errW)
		pumps.Add(2)
		go func() { defer pumps.Done(); s.logs.pump(outR, "stdout"); outR.Close() }()
		go func() { defer pumps.Done(); s.logs.pump(errR, "stderr"); errR.Close() }()
		if s.c.OpenStdin {
			// -i: stdin stays open (the shim holds its other end), as
			// docker keeps it for an attach.
			inR, inW, err := os.Pipe()
			if err == nil {
				o.Stdin = inR
				closers = append(closers, inR, inW)
				s.hub.setIO(inW, nil)
			}
		}
	}
	closeAll := func() {
		for _, f := range closers {
			f.Close()
		}
		closers = nil
	}
	// The init process and the cgroup first: the Go runtime of the init
	// and the cgroup v1 migration's RCU grace period overlap with the
	// rest of the preparation.
	seccompDone := make(chan error, 1)
	go func() {
		if s.c.SeccompProfile == "" && s.c.Runtime.Process.Seccomp == nil {
			seccompDone <- compileSeccomp(s.root, s.c)
			return
		}
		seccompDone <- nil
	}()
	early, err := spawnEarly(s.c, o)
	if serr := <-seccompDone; err != nil || serr != nil {
		if early != nil {
			early.Abort()
		}
		closeAll()
		pumps.Wait()
		return nil, errors.Join(err, serr)
	}
	o.Early = early
	r, err := StartContainer(s.root, s.c, o)
	if err != nil {
		closeAll()
		pumps.Wait()
		return nil, err
	}
	if r.Task.Console != nil {
		console := r.Task.Console
		pumps.Add(1)
		go func() { defer pumps.Done(); s.logs.pump(console, "stdout") }()
		closers = append(closers, console)
		var in io.WriteCloser
		if s.c.OpenStdin {
			in = consoleInput{console}
		}
		s.hub.setIO(in, func(rows, cols uint16) {
			unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: rows, Col: cols})
		})
	}
	// The container has its own copies of the write ends now.
	for i := 0; i < len(closers); i++ {
		if f := closers[i]; f == o.Stdout || f == o.Stderr {
			f.Close()
			closers = append(closers[:i], closers[i+1:]...)
			i--
		}
	}
	r.beforeRecord = func() {
		// Every process of the container is gone: the pipes are at EOF
		// once read to the end.
		s.hub.setIO(nil, nil)
		closeAll()
		pumps.Wait()
	}
	return r, nil
}

// startHealth runs the container's healthcheck until the returned stop is
// called.
func (s *shim) startHealth(r *Running, started time.Time) (stop func()) {
	h := s.c.Healthcheck
	if h == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		hs := container.Health{Status: container.HealthStarting}
		for {
			select {
			case <-done:
				return
			case <-time.After(nextHealthDelay(h, &hs, started, time.Now())):
			}
			res := s.check(h, done)
			if res == nil {
				return
			}
			changed := recordHealth(&hs, h, started, *res)
			cp := hs
			cp.Log = append([]container.HealthResult(nil), hs.Log...)
			_, err := container.UpdateState(s.dir, nil, true, func(st *container.State) error {
				if st.Status != container.Running && st.Status != container.Paused || st.Pid != r.State.Pid {
					return errStopped
				}
				st.Health = &cp
				return nil
			})
			if err == nil && changed {
				emitEvent(s.root, s.c, EventHealthStatus+": "+hs.Status, nil)
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// check runs the healthcheck once in the container (an exec), within its
// timeout; nil when the container ended meanwhile.
func (s *shim) check(h *HealthConfig, done <-chan struct{}) *container.HealthResult {
	var out bytes.Buffer
	res := &container.HealthResult{Start: time.Now().UTC()}
	task, err := ExecContainer(s.root, s.c.ID, ExecOptions{Args: h.args(), Stdout: &out, Stderr: &out})
	if err != nil {
		if errors.Is(err, container.ErrNotRunning) {
			return nil
		}
		res.End, res.ExitCode, res.Output = time.Now().UTC(), -1, err.Error()
		return res
	}
	exited := make(chan container.ExitStatus, 1)
	go func() {
		es, _ := task.Wait()
		exited <- es
	}()
	select {
	case es := <-exited:
		res.ExitCode = es.Code
		res.Output = healthOutput(out.Bytes())
	case <-time.After(h.Timeout):
		task.Signal(unix.SIGKILL)
		<-exited
		res.ExitCode = -1
		res.Output = fmt.Sprintf("Health check exceeded timeout (%v)", h.Timeout)
	case <-done:
		task.Signal(unix.SIGKILL)
		<-exited
		return nil
	}
	res.End = time.Now().UTC()
	return res
}

// consoleInput writes a client's input to the pty; the end of the client's
// input is not the end of the terminal (another client may attach).
type consoleInput struct{ f *os.File }

func (c consoleInput) Write(b []byte) (int, error) { return c.f.Write(b) }
func (c consoleInput) Close() error                { return nil }

// spawnEarly begins the start of a created container (SpawnInit's work,
// from the record): its cgroup in the background, its init waiting for
// its config.
func spawnEarly(c *Container, o AttachOptions) (*Early, error) {
	host, err := cgroups.Detect()
	if err != nil {
		return nil, err
	}
	host.Warm()
	res := c.Resources
	var cg cgroups.Cgroup
	created := make(chan error, 1)
	go func() {
		var err error
		cg, err = host.Create("stack/"+c.ID, &res)
		created <- err
	}()
	p, err := spawnInit(c.Runtime.Namespaces, c.Tty, o)
	if cerr := <-created; err != nil || cerr != nil {
		if p != nil {
			p.Abort()
		}
		if cg != nil {
			cg.Delete()
		}
		return nil, errors.Join(err, cerr)
	}
	e := &Early{pending: p, id: c.ID, host: host, cg: cg, done: make(chan struct{})}
	go func() {
		defer close(e.done)
		e.err = e.cg.Enter(p.Pid())
	}()
	return e, nil
}
