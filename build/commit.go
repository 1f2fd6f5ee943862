package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/layers"
)

// CommitSpec is a named image made by a commit (the stack file's commit
// extension): a temporary container from From runs each command of Run
// in order (`/bin/sh -c CMD`, all in one writable layer), and the layer
// is committed with Author, Message and Changes, and tagged Tag.
type CommitSpec struct {
	From    string
	Run     []string
	Author  string
	Message string
	// Changes are `docker commit -c` lines (see ApplyChanges); use
	// ChangesFromConfig for structured fields.
	Changes []string
	Tag     string
	// Network of the commands: "default" (or ""), "none" or "host".
	Network string
	// Stdout and Stderr receive the commands' output (nil: discarded).
	Stdout, Stderr io.Writer
}

// CommitImage runs spec's commands in a temporary container, commits its
// writable layer over spec.From, tags it spec.Tag (when set) and removes
// the temporary state. It returns the new image's ID. A command that
// fails stops it with a *RunError-like error naming the command and its
// exit code; nothing is committed then.
func CommitImage(ctx context.Context, store *layers.Store, runner Runner, spec CommitSpec) (string, error) {
	if spec.From == "" {
		return "", errors.New("committing: no base image (from)")
	}
	if spec.Tag != "" {
		if _, err := layers.ParseReference(spec.Tag); err != nil {
			return "", fmt.Errorf("committing %s: %w", spec.Tag, err)
		}
	}
	img, err := store.Image(spec.From)
	if err != nil {
		return "", fmt.Errorf("committing %s: base image %s: %w", spec.Tag, spec.From, err)
	}
	cfg := cloneConfig(img.Config.Config)
	if err := ApplyChanges(&cfg, spec.Changes); err != nil {
		return "", fmt.Errorf("committing %s: %w", spec.Tag, err)
	}
	b := NewBuilder(store, runner, nil)
	work, err := b.cache.tempDir("commit-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	upper, wdir := filepath.Join(work, "upper"), filepath.Join(work, "work")
	for _, d := range []string{upper, wdir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", fmt.Errorf("committing %s: %w", spec.Tag, err)
		}
	}
	env := img.Config.Config.Env
	if _, ok := lookupEnv(env, "PATH"); !ok {
		env = setEnv(env, "PATH", DefaultPath)
	}
	dir := img.Config.Config.WorkingDir
	if dir == "" {
		dir = "/"
	}
	network := spec.Network
	if network == "" {
		network = NetworkDefault
	}
	for i, cmd := range spec.Run {
		if runner == nil {
			return "", errors.New("committing: no container runner")
		}
		tail := &tailWriter{max: 20}
		var stdout, stderr io.Writer = tail, tail
		if spec.Stdout != nil {
			stdout = io.MultiWriter(tail, spec.Stdout)
		}
		if spec.Stderr != nil {
			stderr = io.MultiWriter(tail, spec.Stderr)
		}
		code, err := runner.Run(ctx, RunSpec{
			Lower: b.lowers(img), Upper: upper, Work: wdir,
			Args: []string{"/bin/sh", "-c", cmd}, Env: env, Dir: dir, User: img.Config.Config.User,
			Network: network, Stdout: &lockedWriter{w: stdout}, Stderr: &lockedWriter{w: stderr},
		})
		if err != nil {
			return "", fmt.Errorf("committing %s: run[%d] %q: %w", spec.Tag, i, cmd, err)
		}
		if code != 0 {
			msg := fmt.Sprintf("committing %s: run[%d] %q returned exit code %d", spec.Tag, i, cmd, code)
			if out := tail.lines(); len(out) > 0 {
				msg += "; its last output:\n    " + strings.Join(out, "\n    ")
			}
			return "", errors.New(msg)
		}
	}
	var tags []string
	if spec.Tag != "" {
		tags = []string{spec.Tag}
	}
	opts := layers.CommitOptions{
		Base: img.ID, Config: &cfg, Author: spec.Author, Comment: spec.Message,
		CreatedBy: "/bin/sh -c " + strings.Join(spec.Run, " && "), Tags: tags,
	}
	if empty, err := dirEmpty(upper); err != nil {
		return "", err
	} else if !empty {
		opts.UpperDir = upper
	}
	out, err := store.Commit(opts)
	if err != nil {
		return "", fmt.Errorf("committing %s: %w", spec.Tag, err)
	}
	return out.ID, nil
}

// ChangesFromConfig turns structured commit changes (the stack file's
// `changes: {cmd: [...], env: {...}}`) into `docker commit -c` lines, in
// a fixed order: USER, WORKDIR, ENV, LABEL, EXPOSE, VOLUME, STOPSIGNAL,
// ENTRYPOINT, CMD (CMD after ENTRYPOINT, so that it is kept). Nil fields
// are left alone; an empty (non-nil) Cmd or Entrypoint clears it.
func ChangesFromConfig(c *v1.Config) []string {
	var out []string
	quote := func(list []string) string {
		b, _ := json.Marshal(list)
		return string(b)
	}
	if c.User != "" {
		out = append(out, "USER "+c.User)
	}
	if c.WorkingDir != "" {
		out = append(out, "WORKDIR "+c.WorkingDir)
	}
	for _, kv := range c.Env {
		k, v, _ := strings.Cut(kv, "=")
		out = append(out, "ENV "+k+"="+shellQuote(v))
	}
	for _, k := range sortedKeys(c.Labels) {
		out = append(out, "LABEL "+shellQuote(k)+"="+shellQuote(c.Labels[k]))
	}
	for _, p := range sortedKeys(c.ExposedPorts) {
		out = append(out, "EXPOSE "+p)
	}
	for _, v := range sortedKeys(c.Volumes) {
		out = append(out, "VOLUME "+quote([]string{v}))
	}
	if c.StopSignal != "" {
		out = append(out, "STOPSIGNAL "+c.StopSignal)
	}
	if c.Entrypoint != nil {
		out = append(out, "ENTRYPOINT "+quote(c.Entrypoint))
	}
	if c.Cmd != nil {
		out = append(out, "CMD "+quote(c.Cmd))
	}
	return out
}

// shellQuote quotes a value for a Dockerfile instruction: double quotes,
// with \ " and $ escaped.
func shellQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, `$`, `\$`)
	return `"` + r.Replace(s) + `"`
}

// ContainerCommit is `stack commit`: a container's writable layer over
// its image.
type ContainerCommit struct {
	ImageID  string // the container's image
	UpperDir string // its overlay upper directory
	// CreatedBy is the container's command, for the history.
	CreatedBy string
	Author    string
	Message   string
	Changes   []string // -c lines, applied to the image's config
	Tag       string   // "" : a dangling image
}

// CommitContainer makes the image of `stack commit`. The runtime's mount
// points that the image lacked (/etc/hosts, /etc/hostname and
// /etc/resolv.conf, empty files in the upper directory) are left out, as
// docker leaves its init layer out. The caller pauses the container
// around it.
func CommitContainer(store *layers.Store, cc ContainerCommit) (*layers.Image, error) {
	img, err := store.Image(cc.ImageID)
	if err != nil {
		return nil, fmt.Errorf("committing: the container's image %s: %w", cc.ImageID, err)
	}
	cfg := cloneConfig(img.Config.Config)
	if err := ApplyChanges(&cfg, cc.Changes); err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	var tags []string
	if cc.Tag != "" {
		if _, err := layers.ParseReference(cc.Tag); err != nil {
			return nil, fmt.Errorf("committing: %w", err)
		}
		tags = []string{cc.Tag}
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(filterMountPoints(cc.UpperDir, pw)) }()
	defer pr.Close()
	out, err := store.Commit(layers.CommitOptions{
		Base: img.ID, Layer: pr, Config: &cfg, Author: cc.Author, Comment: cc.Message,
		CreatedBy: cc.CreatedBy, Tags: tags,
	})
	if err != nil {
		return nil, fmt.Errorf("committing: %w", err)
	}
	return out, nil
}

var runtimeMountPoints = map[string]bool{"etc/hosts": true, "etc/hostname": true, "etc/resolv.conf": true}

// filterMountPoints writes the diff of upper without the runtime's empty
// mount-point files.
func filterMountPoints(upper string, w io.Writer) error {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(layers.Diff(upper, pw)) }()
	defer pr.Close()
	tr := tar.NewReader(pr)
	tw := tar.NewWriter(w)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if runtimeMountPoints[strings.TrimPrefix(hdr.Name, "./")] && hdr.Typeflag == tar.TypeReg && hdr.Size == 0 {
			continue
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
	return tw.Close()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
