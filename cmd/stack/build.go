package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/executor"
)

type buildOptions struct {
	tags      []string
	file      string
	buildArgs []string
	target    string
	noCache   bool
	pull      bool
	labels    []string
	network   string
	quiet     bool
	progress  string
}

func init() { registerCommand(newBuildCommand) }

func newBuildCommand() *cobra.Command {
	var opts buildOptions
	cmd := &cobra.Command{
		Use:   "build [OPTIONS] CONTEXT",
		Short: "Build an image from a Dockerfile",
		Long: `Build an image from a Dockerfile (docs/build.md). Each RUN runs in a container
of stack's runtime, each step's result is cached in <root>/build-cache (stack
builder prune empties it). Without -t the image is dangling and its ID is
printed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBuild(cmd, opts, args[0])
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.tags, "tag", "t", nil, "name and optionally a tag (NAME[:TAG]); repeatable")
	f.StringVarP(&opts.file, "file", "f", "", "name of the Dockerfile (default CONTEXT/Dockerfile); - reads it from stdin")
	f.StringArrayVar(&opts.buildArgs, "build-arg", nil, "set a build-time variable (KEY=VALUE, or KEY to take it from the environment)")
	f.StringVar(&opts.target, "target", "", "the build stage to build")
	f.BoolVar(&opts.noCache, "no-cache", false, "do not use the cache when building the image")
	f.BoolVar(&opts.pull, "pull", false, "always pull the base images")
	f.StringArrayVar(&opts.labels, "label", nil, "set metadata on the image (KEY=VALUE)")
	f.StringVar(&opts.network, "network", build.NetworkDefault, "the network of RUN steps: default, none or host")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "print only the image ID")
	f.StringVar(&opts.progress, "progress", "auto", "progress output: auto (tty on a terminal), tty, plain")
	return cmd
}

func runBuild(cmd *cobra.Command, opts buildOptions, contextDir string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	bo := build.Options{
		ContextDir: contextDir, Dockerfile: opts.file, Target: opts.target, Tags: opts.tags,
		Network: opts.network, NoCache: opts.noCache, Pull: opts.pull,
		Args: map[string]string{}, Labels: map[string]string{},
	}
	if opts.file != "" && opts.file != "-" {
		// -f is relative to the working directory, as in docker (a compose
		// file's dockerfile: is relative to the context instead).
		abs, err := filepath.Abs(opts.file)
		if err != nil {
			return err
		}
		bo.Dockerfile = abs
	}
	if opts.file == "-" {
		b, err := io.ReadAll(cmd.InOrStdin())
		if err != nil {
			return fmt.Errorf("reading the Dockerfile from stdin: %w", err)
		}
		bo.Dockerfile, bo.DockerfileInline = "", string(b)
	}
	for _, a := range opts.buildArgs {
		k, v, ok := strings.Cut(a, "=")
		if !ok {
			if v, ok = os.LookupEnv(k); !ok {
				continue // docker: an unset variable passes nothing
			}
		}
		bo.Args[k] = v
	}
	for _, l := range opts.labels {
		k, v, _ := strings.Cut(l, "=")
		bo.Labels[k] = v
	}
	var p *buildProgress
	if !opts.quiet {
		p = newBuildProgress(cmd.ErrOrStderr())
		switch opts.progress {
		case "auto":
		case "tty":
			p.tty = true
		case "plain":
			p.tty = false
		default:
			return fmt.Errorf("--progress %q: want auto, tty or plain", opts.progress)
		}
		bo.Progress = p.event
	}
	runner := executor.NewBuildRunner(store.Root(), logger)
	defer runner.Close()
	t0 := time.Now()
	res, err := build.NewBuilder(store, runner, logger).Build(cmd.Context(), bo)
	if p != nil {
		p.finish()
	}
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if opts.quiet {
		fmt.Fprintln(out, res.ImageID)
		return nil
	}
	w := cmd.ErrOrStderr()
	fmt.Fprintf(w, "built %s in %.2fs (%d steps, %d cached)\n", shortID(res.ImageID, false), time.Since(t0).Seconds(), res.Steps, res.Cached)
	for _, t := range opts.tags {
		fmt.Fprintf(w, "tagged %s\n", t)
	}
	fmt.Fprintln(out, res.ImageID)
	return nil
}

// buildProgress prints build steps, one line each ("[2/7] RUN apk add …
// 1.2s", "CACHED" for a cache hit) with a RUN's output below its line; on
// a terminal the step is bold and the output dim. Stages that build in
// parallel interleave: output is always under its own step's line.
type buildProgress struct {
	mu      sync.Mutex
	w       io.Writer
	tty     bool
	heads   map[int]string // started steps' lines
	shown   map[int]bool   // steps whose line is printed above their output
	last    int            // the step whose line or output was printed last
	midLine bool           // output ended without a newline
}

func newBuildProgress(w io.Writer) *buildProgress {
	p := &buildProgress{w: w, heads: map[int]string{}, shown: map[int]bool{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) && os.Getenv("NO_COLOR") == "" {
		p.tty = true
	}
	return p
}

func (p *buildProgress) bold(s string) string {
	if p.tty {
		return "\x1b[1m" + s + "\x1b[0m"
	}
	return s
}

func (p *buildProgress) event(ev build.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	head := fmt.Sprintf("[%d/%d] %s", ev.N, ev.Total, truncate(ev.Text, 100))
	switch ev.Kind {
	case build.BuildWarning:
		p.endLine()
		fmt.Fprintf(p.w, "warning: %s\n", ev.Text)
		p.last = 0
	case build.StepStarted:
		p.heads[ev.N] = head
	case build.StepOutput:
		if p.last != ev.N || !p.shown[ev.N] {
			p.endLine()
			fmt.Fprintln(p.w, p.bold(p.heads[ev.N]))
			p.shown[ev.N], p.last = true, ev.N
		}
		if p.tty {
			fmt.Fprintf(p.w, "\x1b[2m%s\x1b[0m", ev.Output)
		} else {
			p.w.Write(ev.Output)
		}
		p.midLine = len(ev.Output) > 0 && ev.Output[len(ev.Output)-1] != '\n'
	case build.StepDone:
		status := fmt.Sprintf("%.2fs", ev.Elapsed.Seconds())
		switch {
		case strings.HasPrefix(ev.Text, "FROM"):
			status = ""
		case ev.Cached:
			status = "CACHED"
		}
		p.endLine()
		if p.shown[ev.N] && p.last == ev.N {
			fmt.Fprintf(p.w, "%s %s\n", p.bold(fmt.Sprintf("[%d/%d]", ev.N, ev.Total)), status)
		} else {
			fmt.Fprintln(p.w, strings.TrimSpace(p.bold(head)+" "+status))
		}
		delete(p.heads, ev.N)
		delete(p.shown, ev.N)
		p.last = ev.N
	}
}

func (p *buildProgress) endLine() {
	if p.midLine {
		fmt.Fprintln(p.w)
	}
	p.midLine = false
}

// finish prints the lines of steps that started and never ended (the
// build failed or was interrupted).
func (p *buildProgress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endLine()
	var open []int
	for n := range p.heads {
		if !p.shown[n] {
			open = append(open, n)
		}
	}
	sort.Ints(open)
	for _, n := range open {
		fmt.Fprintln(p.w, p.bold(p.heads[n]))
	}
}

func truncate(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
