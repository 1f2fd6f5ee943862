package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/stack-dev/stack/layers"
)

type pullOptions struct {
	quiet    bool
	noUnpack bool
	platform string
}

func init() { registerCommand(newPullCommand) }

func newPullCommand() *cobra.Command {
	var opts pullOptions
	cmd := &cobra.Command{
		Use:   "pull NAME[:TAG|@DIGEST]",
		Short: "Pull an image from a registry",
		Long: `Pull an image from a registry. Credentials come from the docker config.json
($DOCKER_CONFIG or ~/.docker); insecure-registries and registry-mirrors from
<root>/config.json (see docs/images.md). Layers are unpacked as they stream
in; --no-unpack stores only the compressed layers.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPull(cmd, opts, args[0])
		},
	}
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "print only the image ID")
	cmd.Flags().StringVar(&opts.platform, "platform", "", "pick this os/arch[/variant] from a multi-arch image (default: the host's)")
	cmd.Flags().BoolVar(&opts.noUnpack, "no-unpack", false, "store the compressed layers only, as skopeo copy does (unpacked later, when a container is prepared from the image)")
	return cmd
}

func runPull(cmd *cobra.Command, opts pullOptions, ref string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	ro := layers.RegistryOptions{Lazy: opts.noUnpack}
	if opts.platform != "" {
		pl, err := v1.ParsePlatform(opts.platform)
		if err != nil {
			return fmt.Errorf("--platform %q: %w", opts.platform, err)
		}
		ro.Platform = pl
	}
	p := newProgress(cmd.ErrOrStderr(), opts.quiet, "pulling")
	ro.Progress = p.event
	img, err := store.Pull(cmd.Context(), ref, ro)
	p.finish()
	if err != nil {
		return err
	}
	if opts.quiet {
		fmt.Fprintln(cmd.OutOrStdout(), img.ID)
		return nil
	}
	fmt.Fprintf(cmd.OutOrStdout(), "Status: pulled %s (%s)\n", ref, img.ID)
	return nil
}

// progress renders registry progress: one byte bar on a terminal, plain
// status lines otherwise (no per-chunk lines).
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	tty   bool
	verb  string
	bar   *progressbar.ProgressBar
	done  map[string]int64
	total int64
}

func newProgress(w io.Writer, quiet bool, verb string) *progress {
	p := &progress{w: w, quiet: quiet, verb: verb, done: map[string]int64{}}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *progress) event(e layers.ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.quiet {
		return
	}
	if e.AllTotal > 0 && p.tty && p.bar == nil {
		p.total = e.AllTotal
		p.bar = progressbar.NewOptions64(e.AllTotal,
			progressbar.OptionSetWriter(p.w), progressbar.OptionShowBytes(true),
			progressbar.OptionSetDescription(p.verb), progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100_000_000), progressbar.OptionClearOnFinish())
	}
	switch e.Status {
	case "Downloading", "Pushing":
		if p.bar != nil {
			p.done[e.ID] = e.Current
			var sum int64
			for _, n := range p.done {
				sum += n
			}
			_ = p.bar.Set64(min(sum, p.total))
		}
		return
	}
	if p.bar != nil {
		if e.Status == "Pull complete" {
			p.done[e.ID] = e.Total
		}
		return
	}
	fmt.Fprintf(p.w, "%s: %s\n", e.ID, e.Status)
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar != nil {
		_ = p.bar.Finish()
		fmt.Fprintln(p.w)
	}
}
