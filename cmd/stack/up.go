package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

type upOptions struct {
	detach        bool
	wait          bool
	waitTimeout   int
	build         bool
	noBuild       bool
	pull          string
	forceRecreate bool
	noRecreate    bool
	removeOrphans bool
	abortOnExit   bool
	exitCodeFrom  string
	noDeps        bool
	progress      string
	timeout       int
	parallel      int
}

func init() { registerCommand(newUpCommand) }

func newUpCommand() *cobra.Command {
	var opts upOptions
	cmd := &cobra.Command{
		Use:   "up [OPTIONS] [SERVICE...]",
		Short: "Show the plan, then converge the host to the stack file",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd, args, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.detach, "detach", "d", false, "run containers in the background and return")
	f.BoolVar(&opts.wait, "wait", false, "wait until every service is running or healthy (one-shot services: completed); implies -d")
	f.IntVar(&opts.waitTimeout, "wait-timeout", 0, "seconds to wait with --wait (0: no limit)")
	f.BoolVar(&opts.build, "build", false, "build images before starting containers")
	f.BoolVar(&opts.noBuild, "no-build", false, "don't build images, even when missing or changed")
	f.StringVar(&opts.pull, "pull", "missing", "pull images: always, missing or never")
	f.BoolVar(&opts.forceRecreate, "force-recreate", false, "recreate containers even if their configuration is unchanged")
	f.BoolVar(&opts.noRecreate, "no-recreate", false, "keep existing containers even if their configuration changed")
	f.BoolVar(&opts.removeOrphans, "remove-orphans", false, "remove containers of services no longer in the file (always done without a service selection)")
	f.BoolVar(&opts.abortOnExit, "abort-on-container-exit", false, "stop every container when one exits; exit with its code")
	f.StringVar(&opts.exitCodeFrom, "exit-code-from", "", "return the exit code of this service's container (implies --abort-on-container-exit)")
	f.BoolVar(&opts.noDeps, "no-deps", false, "don't start the services the named ones depend on")
	f.StringVar(&opts.progress, "progress", "auto", "progress output: auto, tty, plain or json")
	f.IntVarP(&opts.timeout, "timeout", "t", -1, "seconds to wait for containers to stop when replacing them or on Ctrl-C (default: the service's stop_grace_period, else 10)")
	f.IntVar(&opts.parallel, "parallel", 4, "steps run at the same time")
	projectFlags(cmd)
	return cmd
}

func runUp(cmd *cobra.Command, args []string, opts upOptions) error {
	if opts.exitCodeFrom != "" {
		opts.abortOnExit = true
	}
	if opts.wait {
		opts.detach = true
	}
	if opts.build && opts.noBuild {
		return errors.New("--build and --no-build cannot be used together")
	}
	if opts.detach && opts.abortOnExit {
		return errors.New("--abort-on-container-exit and --exit-code-from need the foreground (not -d or --wait)")
	}
	if err := validProgress(opts.progress); err != nil {
		return err
	}
	switch opts.pull {
	case "always", "missing", "never":
	default:
		return fmt.Errorf("--pull %q: want always, missing or never", opts.pull)
	}
	st, err := loadProject(cmd, args)
	if err != nil {
		return err
	}
	if opts.exitCodeFrom != "" && st.Services[opts.exitCodeFrom] == nil {
		return fmt.Errorf("--exit-code-from %s: no such service", opts.exitCodeFrom)
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	ctx := cmd.Context()
	sess, err := executor.Begin(root, st.Name, logger)
	if err != nil {
		return err
	}
	defer sess.Close()
	out, errOut := cmd.OutOrStdout(), cmd.ErrOrStderr()
	pr := newUpProgress(errOut, opts.progress)
	digests := executor.ContextDigests(st)
	if opts.build {
		if err := sess.Rebuild(ctx, st, digests, pr.output()); err != nil {
			return err
		}
	}
	if opts.pull != "never" {
		if err := sess.Repull(ctx, st, opts.pull == "always"); err != nil {
			return err
		}
	}
	obs, err := sess.Observe(ctx, st)
	if err != nil {
		return err
	}
	plan, err := planner.Diff(st, obs, planner.Options{
		ForceRecreate: opts.forceRecreate, NoRecreate: opts.noRecreate,
		Services: args, NoDeps: opts.noDeps,
		ContextDigests: digests,
	})
	if err != nil {
		return err
	}
	if opts.noBuild {
		for _, step := range plan.Steps {
			if step.Operation == planner.OpBuild {
				return fmt.Errorf("%s must be built (%s) and --no-build forbids it", step.Resource, step.Reason)
			}
		}
	}
	if plan.Empty() {
		pr.line("No changes. Project %s matches the stack file.", st.Name)
	} else if pr.mode != "json" { // json: only the events (stack plan --format json has the plan)
		if err := plan.WriteText(errOut, planner.TextOptions{Color: colorOutput(errOut)}); err != nil {
			return err
		}
	}
	t0 := time.Now()
	err = sess.Apply(ctx, st, plan, executor.UpOptions{
		ApplyOptions: executor.ApplyOptions{
			Parallel: opts.parallel, Progress: pr.step,
			StopTimeout: time.Duration(opts.timeout) * time.Second,
		},
		Pull: opts.pull, Output: pr.output(),
	})
	if err != nil {
		var ae *executor.ApplyError
		if errors.As(err, &ae) {
			reportApplyError(errOut, ae)
			if ctx.Err() != nil {
				return &exitError{code: 130} // interrupted
			}
			return &exitError{code: 1}
		}
		return err
	}
	if !plan.Empty() {
		pr.line("✔ project %s converged in %.2fs", st.Name, time.Since(t0).Seconds())
	}
	if opts.wait {
		return waitServices(ctx, cmd, root, st.Name, time.Duration(opts.waitTimeout)*time.Second)
	}
	if opts.detach {
		return nil
	}
	sess.Close() // foreground: let other commands (stop, exec) work meanwhile
	return attachProject(ctx, out, errOut, root, st, opts)
}

// reportApplyError says what was done, what failed and what was not tried.
func reportApplyError(w io.Writer, ae *executor.ApplyError) {
	for _, r := range ae.Done {
		fmt.Fprintf(w, "✔ %s done\n", r)
	}
	for _, f := range ae.Failed {
		fmt.Fprintf(w, "✘ %s: %s failed: %v\n", f.Resource, f.Operation, f.Err)
	}
	for _, r := range ae.NotAttempted {
		fmt.Fprintf(w, "- %s not attempted\n", r)
	}
	fmt.Fprintln(w, "The host is left in a state from which `stack plan`, `stack up` and `stack down` work.")
}

// projectContainers are the recorded containers of a project, by service
// then number.
func projectContainers(root, project string) ([]*executor.ContainerRecord, error) {
	rec, err := executor.ReadProjectRecord(root, project)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	cs := append([]*executor.ContainerRecord(nil), rec.Containers...)
	sort.Slice(cs, func(i, j int) bool {
		if cs[i].Service != cs[j].Service {
			return cs[i].Service < cs[j].Service
		}
		return cs[i].Number < cs[j].Number
	})
	return cs, nil
}

// waitServices waits until every container is running (and healthy when it
// has a healthcheck) or, for one-shot services, exited with code 0. On a
// failure or timeout it names the service, with its last health output and
// the tail of its log.
func waitServices(ctx context.Context, cmd *cobra.Command, root, project string, timeout time.Duration) error {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	cs, err := projectContainers(root, project)
	if err != nil {
		return err
	}
	errOut := cmd.ErrOrStderr()
	for _, c := range cs {
		for {
			st, err := executor.ContainerStatus(root, c.ID)
			if err != nil {
				return err
			}
			done, failure := waitState(st)
			if done {
				break
			}
			if failure != "" || ctx.Err() != nil {
				if failure == "" {
					failure = "not ready in time (" + string(st.Status) + ")"
				}
				fmt.Fprintf(errOut, "✘ service %s (%s): %s\n", c.Service, c.Name, failure)
				if st.Health != nil && len(st.Health.Log) > 0 {
					fmt.Fprintf(errOut, "  last health check: %s\n", strings.TrimSpace(st.Health.Log[len(st.Health.Log)-1].Output))
				}
				fmt.Fprintf(errOut, "  last log lines:\n")
				executor.ReadLogs(context.Background(), root, c.ID, executor.LogOptions{Tail: 10}, func(e executor.LogEntry) error {
					fmt.Fprintf(errOut, "    %s", e.Log)
					if !strings.HasSuffix(e.Log, "\n") {
						fmt.Fprintln(errOut)
					}
					return nil
				})
				return &exitError{code: 1, err: fmt.Errorf("service %s is not ready", c.Service)}
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Fprintf(errOut, "✔ service %s ready\n", c.Name)
	}
	return nil
}

// waitState says whether a container is ready for --wait, or why it never
// will be.
func waitState(st *container.State) (done bool, failure string) {
	switch st.Status {
	case container.Running:
		if st.Health == nil {
			return true, ""
		}
		switch st.Health.Status {
		case container.HealthHealthy:
			return true, ""
		case container.HealthUnhealthy:
			return false, "unhealthy"
		}
	case container.Exited:
		if st.ExitCode == 0 {
			return true, ""
		}
		return false, fmt.Sprintf("exited with code %d", st.ExitCode)
	case container.Dead:
		return false, "dead: " + st.Error
	}
	return false, ""
}

// serviceColors are the ANSI colors of the `service |` prefixes.
var serviceColors = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

// prefixWriter writes whole lines with a prefix, serialized across writers.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line == "" {
			continue
		}
		if !strings.HasSuffix(line, "\n") {
			line += "\n"
		}
		if _, err := io.WriteString(p.w, p.prefix+line); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

// attachProject follows every container's log with a `service |` prefix
// until the containers end or the user interrupts. Ctrl-C stops the stack
// (a second Ctrl-C kills it) and returns 130. With --abort-on-container-exit
// the first container to exit stops the others and its code is returned
// (with --exit-code-from, that service's code). The end is a summary, one
// line per container.
func attachProject(ctx context.Context, out, errOut io.Writer, root string, st *spec.Stack, opts upOptions) error {
	cs, err := projectContainers(root, st.Name)
	if err != nil {
		return err
	}
	width := 0
	for _, c := range cs {
		width = max(width, len(c.Name))
	}
	color := colorOutput(out)
	var mu sync.Mutex
	followCtx, stopFollow := context.WithCancel(context.Background())
	defer stopFollow()
	var wg sync.WaitGroup
	for i, c := range cs {
		if s := st.Services[c.Service]; s != nil && s.Attach != nil && !*s.Attach {
			continue
		}
		prefix := fmt.Sprintf("%-*s | ", width, c.Name)
		if color {
			prefix = "\x1b[" + serviceColors[i%len(serviceColors)] + "m" + prefix + "\x1b[0m"
		}
		pw := &prefixWriter{mu: &mu, w: out, prefix: prefix}
		wg.Add(1)
		go func() {
			defer wg.Done()
			executor.FollowLogs(followCtx, root, c.ID, executor.LogOptions{Follow: true, Tail: -1}, pw)
		}()
	}

	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	// Each container stops with -t when given, else its service's
	// stop_grace_period, else 10 s. Canceling ctx (a second Ctrl-C) makes
	// every stop still in its grace period kill at once.
	stopTimeout := func(service string) time.Duration {
		if opts.timeout >= 0 {
			return time.Duration(opts.timeout) * time.Second
		}
		if s := st.Services[service]; s != nil && s.StopGracePeriod > 0 {
			return s.StopGracePeriod.Std()
		}
		return 10 * time.Second
	}
	// Dependents stop first (executor.StopWaves), each wave in parallel.
	stopAll := func(ctx context.Context) {
		for _, wave := range executor.StopWaves(cs) {
			var swg sync.WaitGroup
			for _, c := range wave {
				swg.Add(1)
				go func() {
					defer swg.Done()
					executor.StopContainer(ctx, root, c.ID, stopTimeout(c.Service))
				}()
			}
			swg.Wait()
		}
	}
	code := 0
	interrupted := false
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
loop:
	for {
		select {
		case <-sigs:
			interrupted, code = true, 130
			fmt.Fprintln(errOut, "Gracefully stopping... (press Ctrl-C again to force)")
			stopCtx, force := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { stopAll(stopCtx); close(done) }()
			select {
			case <-done:
			case <-sigs:
				fmt.Fprintln(errOut, "Killing...")
				force()
				<-done
			}
			force()
			break loop
		case <-tick.C:
			running := 0
			for _, c := range cs {
				cst, err := executor.ContainerStatus(root, c.ID)
				if err != nil {
					continue
				}
				if cst.Status == container.Running || cst.Status == container.Restarting || cst.Status == container.Paused {
					running++
					continue
				}
				// Any container's exit aborts (as compose does); the code is
				// that container's, or with --exit-code-from that service's
				// (taken in the summary below).
				if opts.abortOnExit {
					fmt.Fprintf(errOut, "%s exited with code %d: aborting on container exit\n", c.Name, cst.ExitCode)
					code = cst.ExitCode
					stopAll(context.Background())
					break loop
				}
			}
			if running == 0 {
				break loop
			}
		}
	}
	// Give the followers a moment to drain what the containers wrote last.
	fin := make(chan struct{})
	go func() { wg.Wait(); close(fin) }()
	select {
	case <-fin:
	case <-time.After(500 * time.Millisecond):
		stopFollow()
		<-fin
	}
	// Summary, and the exit code of --exit-code-from.
	for _, c := range cs {
		cst, err := executor.ContainerStatus(root, c.ID)
		if err != nil {
			fmt.Fprintf(errOut, "%s: %v\n", c.Name, err)
			continue
		}
		fmt.Fprintf(errOut, "%s %s\n", c.Name, describeEnd(cst))
		if opts.exitCodeFrom != "" && c.Service == opts.exitCodeFrom && !interrupted {
			code = cst.ExitCode
		}
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

func describeEnd(st *container.State) string {
	switch st.Status {
	case container.Exited:
		s := fmt.Sprintf("exited with code %d", st.ExitCode)
		if st.OOMKilled {
			s += " (OOM killed)"
		}
		return s
	case container.Dead:
		return "dead: " + st.Error
	}
	return string(st.Status)
}
