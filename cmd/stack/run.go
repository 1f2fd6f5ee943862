package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
	"golang.org/x/term"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
)

type runOptions struct {
	executor.RunOptions
	entrypoint string
	pidsLimit  int64
	detach     bool
	logOpts    []string
	health     healthFlags
}

// healthFlags are docker's --health-* flags.
type healthFlags struct {
	cmd                                           string
	interval, timeout, startPeriod, startInterval time.Duration
	retries                                       int
	none                                          bool
}

func init() { registerCommand(newRunCommand) }

func newRunCommand() *cobra.Command {
	var opts runOptions
	cmd := &cobra.Command{
		Use:   "run [OPTIONS] IMAGE|SERVICE [COMMAND] [ARG...]",
		Short: "Create and run a new container from an image, or a one-off container of a project's service",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.complete(cmd, args); err != nil {
				return &exitError{code: 125, err: err}
			}
			if err := opts.oneOff(cmd, args); err != nil {
				return &exitError{code: 125, err: err}
			}
			return runRun(cmd, &opts)
		},
	}
	f := cmd.Flags()
	f.Bool("help", false, "help for run") // -h is --hostname, as in docker
	f.BoolVar(&opts.Remove, "rm", false, "remove the container when it exits")
	f.BoolVarP(&opts.detach, "detach", "d", false, "run the container in the background and print its ID")
	addContainerFlags(cmd, &opts)
	return cmd
}

// oneOff makes the request a one-off container of a service when the
// first argument names a service of the project in this directory (as
// `docker compose run`): the service's configuration, with the flags given
// on the command line on top.
func (opts *runOptions) oneOff(cmd *cobra.Command, args []string) error {
	if currentProject() == "" {
		return nil
	}
	st, err := loadProject(cmd, nil)
	if err != nil || st.Services[args[0]] == nil {
		return nil // not a service: an image
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	base, err := executor.OneOff(root, st, args[0], args[1:])
	if err != nil {
		return err
	}
	fl := cmd.Flags()
	req := opts.RunOptions
	*base = mergeOneOff(*base, req, fl.Changed)
	opts.RunOptions = *base
	return nil
}

// mergeOneOff puts the flags the user set over a service's run request.
func mergeOneOff(base, req executor.RunOptions, changed func(string) bool) executor.RunOptions {
	base.Remove, base.Interactive, base.TTY = req.Remove, req.Interactive, req.TTY
	if changed("name") {
		base.Name = req.Name
	}
	if changed("entrypoint") {
		base.Entrypoint, base.EntrypointList = req.Entrypoint, nil
	}
	if changed("workdir") {
		base.Workdir = req.Workdir
	}
	if changed("user") {
		base.User = req.User
	}
	base.Env = append(base.Env, req.Env...)
	base.EnvFiles = append(base.EnvFiles, req.EnvFiles...)
	base.Volumes = append(base.Volumes, req.Volumes...)
	base.Labels = append(base.Labels, req.Labels...)
	base.Net.Publish = append(base.Net.Publish, req.Net.Publish...)
	return base
}

// complete fills the run request from the arguments and the flags that
// need more than a plain variable.
func (opts *runOptions) complete(cmd *cobra.Command, args []string) error {
	opts.Image = args[0]
	opts.Command = args[1:]
	if cmd.Flags().Changed("entrypoint") {
		opts.Entrypoint = &opts.entrypoint
	}
	if cmd.Flags().Changed("pids-limit") {
		opts.PidsLimit, opts.PidsLimitSet = opts.pidsLimit, true
	}
	for _, o := range opts.logOpts {
		k, v, ok := strings.Cut(o, "=")
		if !ok {
			return fmt.Errorf("invalid --log-opt %q: want KEY=VALUE", o)
		}
		if opts.LogOpts == nil {
			opts.LogOpts = map[string]string{}
		}
		opts.LogOpts[k] = v
	}
	h := opts.health
	set := h.cmd != "" || h.interval != 0 || h.timeout != 0 || h.startPeriod != 0 || h.startInterval != 0 || h.retries != 0
	if h.none {
		if set {
			return errors.New("--no-healthcheck conflicts with --health-* options")
		}
		opts.Healthcheck = &executor.HealthConfig{Test: []string{"NONE"}}
	} else if set {
		hc := &executor.HealthConfig{Interval: h.interval, Timeout: h.timeout, StartPeriod: h.startPeriod,
			StartInterval: h.startInterval, Retries: h.retries}
		if h.cmd != "" {
			hc.Test = []string{"CMD-SHELL", h.cmd}
		}
		opts.Healthcheck = hc
	}
	return nil
}

// addContainerFlags registers the flags `stack run` and `stack create` share.
func addContainerFlags(cmd *cobra.Command, opts *runOptions) {
	f := cmd.Flags()
	f.SetInterspersed(false) // flags after IMAGE belong to the command
	f.BoolVarP(&opts.Interactive, "interactive", "i", false, "keep STDIN open")
	f.BoolVarP(&opts.TTY, "tty", "t", false, "allocate a pseudo-TTY")
	f.StringVar(&opts.Restart, "restart", "no", "restart policy (no, always, unless-stopped, on-failure[:max-retries]) of a detached container")
	f.StringArrayVar(&opts.logOpts, "log-opt", nil, "log options: max-size=10m, max-file=3")
	f.StringVar(&opts.health.cmd, "health-cmd", "", "command to run to check health")
	f.DurationVar(&opts.health.interval, "health-interval", 0, "time between running the check (ms|s|m|h) (default 30s)")
	f.DurationVar(&opts.health.timeout, "health-timeout", 0, "maximum time to allow one check to run (ms|s|m|h) (default 30s)")
	f.DurationVar(&opts.health.startPeriod, "health-start-period", 0, "start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	f.DurationVar(&opts.health.startInterval, "health-start-interval", 0, "time between running the check during the start period (ms|s|m|h) (default 5s)")
	f.IntVar(&opts.health.retries, "health-retries", 0, "consecutive failures needed to report unhealthy (default 3)")
	f.BoolVar(&opts.health.none, "no-healthcheck", false, "disable any container-specified HEALTHCHECK")
	f.StringVar(&opts.Name, "name", "", "assign a name to the container")
	f.StringVarP(&opts.Hostname, "hostname", "h", "", "container host name")
	f.StringVar(&opts.Domainname, "domainname", "", "container NIS domain name")
	f.StringArrayVarP(&opts.Env, "env", "e", nil, "set environment variables")
	f.StringArrayVar(&opts.EnvFiles, "env-file", nil, "read in a file of environment variables")
	f.StringVarP(&opts.Workdir, "workdir", "w", "", "working directory inside the container")
	f.StringVarP(&opts.User, "user", "u", "", "username or UID (format: <name|uid>[:<group|gid>])")
	f.StringArrayVar(&opts.GroupAdd, "group-add", nil, "add additional groups to join")
	f.StringVar(&opts.entrypoint, "entrypoint", "", "overwrite the default ENTRYPOINT of the image")
	f.StringVar(&opts.Network, "network", "", "connect a container to a network: none or host")
	f.StringVar(&opts.Network, "net", "", "connect a container to a network: none or host")
	f.Lookup("net").Hidden = true
	f.StringArrayVarP(&opts.Volumes, "volume", "v", nil, "bind mount a volume (SRC:DST[:ro], NAME:DST, or DST)")
	f.StringArrayVar(&opts.Tmpfs, "tmpfs", nil, "mount a tmpfs directory (DST[:OPTIONS])")
	f.BoolVar(&opts.ReadOnly, "read-only", false, "mount the container's root filesystem as read only")
	f.StringArrayVar(&opts.CapAdd, "cap-add", nil, "add Linux capabilities")
	f.StringArrayVar(&opts.CapDrop, "cap-drop", nil, "drop Linux capabilities")
	f.BoolVar(&opts.Privileged, "privileged", false, "give extended privileges to this container")
	f.StringArrayVar(&opts.SecurityOpt, "security-opt", nil, "security options (seccomp=unconfined|FILE, no-new-privileges[=BOOL], systempaths=unconfined)")
	f.StringVar(&opts.ShmSize, "shm-size", "", "size of /dev/shm (default 64m)")
	f.StringArrayVar(&opts.Ulimits, "ulimit", nil, "ulimit options (NAME=SOFT[:HARD])")
	f.StringArrayVarP(&opts.Labels, "label", "l", nil, "set meta data on a container")
	f.StringVar(&opts.StopSignal, "stop-signal", "", "signal to stop the container")
	f.StringVarP(&opts.Memory, "memory", "m", "", "memory limit")
	f.StringVar(&opts.MemorySwap, "memory-swap", "", "swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	f.StringVar(&opts.CPUs, "cpus", "", "number of CPUs")
	f.Int64VarP(&opts.CPUShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	f.Int64Var(&opts.CPUQuota, "cpu-quota", 0, "limit CPU CFS (Completely Fair Scheduler) quota")
	f.Int64Var(&opts.CPUPeriod, "cpu-period", 0, "limit CPU CFS (Completely Fair Scheduler) period")
	f.StringVar(&opts.CpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	f.StringVar(&opts.CpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	f.Int64Var(&opts.pidsLimit, "pids-limit", 0, "tune container pids limit (set -1 for unlimited)")
	f.Uint16Var(&opts.BlkioWeight, "blkio-weight", 0, "block IO (relative weight), between 10 and 1000, or 0 to disable")
	f.StringArrayVar(&opts.DeviceReadBps, "device-read-bps", nil, "limit read rate (bytes per second) from a device (PATH:RATE)")
	f.StringArrayVar(&opts.DeviceWriteBps, "device-write-bps", nil, "limit write rate (bytes per second) to a device (PATH:RATE)")
	f.StringArrayVar(&opts.Devices, "device", nil, "add a host device to the container (HOST[:CONTAINER[:PERMS]])")
	addRunNetworkFlags(f, &opts.Net)
}

// runRun creates and starts the container in the foreground, forwards
// signals to it, and returns its exit code. Errors before the command runs
// exit with docker's codes: 125, or 126/127 when the command cannot be run.
func runRun(cmd *cobra.Command, opts *runOptions) error {
	root, err := stateRoot()
	if err != nil {
		return &exitError{code: 125, err: err}
	}
	if opts.detach || opts.Interactive && opts.TTY || opts.Restart != "" && opts.Restart != "no" {
		// -it runs under a supervisor too, so that the user can detach
		// (ctrl-p ctrl-q) and attach again; so does a container with a
		// restart policy (its supervisor restarts it).
		return runDetached(cmd, root, opts)
	}
	// One P is enough for a process that mostly waits on the kernel; more
	// only wake idle threads that spin for work (context switches, CPU).
	runtime.GOMAXPROCS(1)
	t0 := time.Now()
	attach := executor.AttachOptions{Foreground: true, Logger: logger,
		Stdout: cmd.OutOrStdout(), Stderr: cmd.ErrOrStderr()}
	// A kept container keeps its log, as docker's does (`stack logs`);
	// an --rm one goes with its log, so it writes none.
	var flog *executor.ForegroundLog
	if !opts.Remove && !opts.TTY {
		flog = executor.NewForegroundLog(root, opts.LogOpts, attach.Stdout, attach.Stderr)
		attach.Stdout, attach.Stderr = flog.Stdout, flog.Stderr
	}
	if opts.Interactive {
		attach.Stdin = cmd.InOrStdin()
	}
	// Catch signals before the container exists, so none is lost.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, forwardedSignals...)
	// The init process starts while the container is being created.
	if attach.Early, err = executor.SpawnInit(root, &opts.RunOptions, attach); err != nil {
		return startError(err)
	}
	if flog != nil {
		flog.SetID(opts.ID)
		defer flog.Close()
	}
	c, err := executor.CreateContainer(root, &opts.RunOptions, logger)
	if err != nil {
		attach.Early.Abort()
		return startError(err)
	}
	logger.Debug("container created", "id", c.ID, "took", time.Since(t0))
	r, err := executor.StartContainer(root, c, attach)
	if err != nil {
		if opts.Remove {
			executor.RemoveContainer(root, c.ID, true, true)
		}
		return startError(err)
	}
	logger.Debug("container started", "pid", r.Task.Pid, "took", time.Since(t0))
	var restore func()
	var copies sync.WaitGroup
	if r.Task.Console != nil {
		restore = attachTerminal(r.Task.Console, opts.Interactive, cmd.InOrStdin(), cmd.OutOrStdout(), &copies)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-sigs:
				sig, ok := s.(unix.Signal)
				if !ok || sig == unix.SIGCHLD || sig == unix.SIGURG || sig == unix.SIGPIPE {
					continue
				}
				if sig == unix.SIGWINCH {
					if r.Task.Console != nil {
						resizeConsole(r.Task.Console)
					}
					continue
				}
				r.Task.Signal(sig)
			case <-done:
				return
			}
		}
	}()
	es, err := r.Wait()
	close(done)
	logger.Debug("container ended", "exit", es.Code, "took", time.Since(t0))
	if r.Task.Console != nil {
		copies.Wait()
		r.Task.Console.Close()
	}
	if restore != nil {
		restore()
	}
	if err != nil {
		return &exitError{code: 125, err: err}
	}
	if es.Code != 0 {
		return &exitError{code: es.Code}
	}
	return nil
}

// forwardedSignals are the signals `stack run` and `stack exec` pass to the
// container's process (SIGWINCH resizes its terminal instead). Each signal
// enabled costs a round trip through the Go runtime's signal-mask thread,
// so this is a list, not "all"; job-control signals stay with the CLI.
var forwardedSignals = []os.Signal{
	unix.SIGHUP, unix.SIGINT, unix.SIGQUIT, unix.SIGTERM, unix.SIGUSR1, unix.SIGUSR2,
	unix.SIGALRM, unix.SIGWINCH, sigPWR,
}

// sigPWR is SIGPWR on Linux (x/sys/unix has no name for it elsewhere).
const sigPWR = syscall.Signal(30)

// startError maps an error from creating or starting a container to
// docker's exit codes.
func startError(err error) error {
	var ie *container.InitError
	if errors.As(err, &ie) {
		return &exitError{code: ie.Code, err: err}
	}
	return &exitError{code: 125, err: err}
}

// attachTerminal connects the user's terminal to the container's pty: raw
// mode on our side (restored by the returned func), stdin → pty when
// interactive, pty → stdout until the container closes it.
func attachTerminal(console *os.File, interactive bool, in io.Reader, out io.Writer, copies *sync.WaitGroup) func() {
	restore := func() {}
	if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		if st, err := term.MakeRaw(int(f.Fd())); err == nil {
			restore = func() { term.Restore(int(f.Fd()), st) }
		}
		resizeConsole(console)
	}
	if interactive {
		go io.Copy(console, in) // ends with the process (the pty closes)
	}
	copies.Add(1)
	go func() {
		defer copies.Done()
		io.Copy(out, console) // EIO once the container's side is closed
	}()
	return restore
}

// resizeConsole copies our terminal's size to the container's pty.
func resizeConsole(console *os.File) {
	ws, err := unix.IoctlGetWinsize(int(os.Stdin.Fd()), unix.TIOCGWINSZ)
	if err != nil {
		return
	}
	unix.IoctlSetWinsize(int(console.Fd()), unix.TIOCSWINSZ, ws)
}

// runDetached creates the container, starts it under its own supervisor
// and prints its ID, as `docker run -d` does.
func runDetached(cmd *cobra.Command, root string, opts *runOptions) error {
	runtime.GOMAXPROCS(1)
	// The supervisor process starts (a Go runtime of its own) while the
	// container is created; it waits for the record.
	shim, err := executor.SpawnShim(root, &opts.RunOptions)
	if err != nil {
		return startError(err)
	}
	c, err := executor.CreateContainer(root, &opts.RunOptions, logger)
	if err != nil {
		shim.Abort()
		return startError(err)
	}
	if err := shim.Start(c, logger); err != nil {
		return startError(err)
	}
	if !opts.detach {
		return attachTo(cmd, root, c, opts.Interactive, "", true)
	}
	fmt.Fprintln(cmd.OutOrStdout(), c.ID)
	return nil
}
