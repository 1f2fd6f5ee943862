package build_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/internal/testenv"
	"github.com/stack-dev/stack/layers"
	"github.com/stack-dev/stack/netplan"
)

// TestMain dispatches the runtime's init: this test binary is also the
// build containers' init (STYLE.md §7).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "__stack_init" {
		os.Exit(container.Init())
	}
	os.Exit(m.Run())
}

// busyboxStore returns a fresh state root with busybox:latest imported
// from the host's static busybox (as scripts/busybox-image.sh makes it).
func busyboxStore(t testing.TB) (string, *layers.Store) {
	t.Helper()
	tarball := testenv.BusyboxTar(t)
	tmp := t.TempDir()
	root := filepath.Join(tmp, "state")
	store, err := layers.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Import(bytes.NewReader(tarball), "busybox:latest", layers.ImportOptions{Config: &v1.Config{Cmd: []string{"sh"}}}); err != nil {
		t.Fatal(err)
	}
	return root, store
}

// countingRunner counts the containers a build starts.
type countingRunner struct {
	r build.Runner
	n atomic.Int32
}

func (c *countingRunner) Run(ctx context.Context, spec build.RunSpec) (int, error) {
	c.n.Add(1)
	return c.r.Run(ctx, spec)
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runImage runs the image's command in a --rm container and returns its
// output.
func runImage(t *testing.T, root, image string, args ...string) string {
	t.Helper()
	c, err := executor.CreateContainer(root, &executor.RunOptions{Image: image, Command: args, Remove: true, Network: "none"}, nil)
	if err != nil {
		t.Fatalf("creating a container of %s: %v", image, err)
	}
	var out bytes.Buffer
	r, err := executor.StartContainer(root, c, executor.AttachOptions{Stdout: &out, Stderr: &out, Foreground: true})
	if err != nil {
		t.Fatalf("starting a container of %s: %v", image, err)
	}
	es, err := r.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if es.Code != 0 {
		t.Fatalf("%s exited with %d: %s", image, es.Code, out.String())
	}
	return out.String()
}

type events struct {
	list []build.Event
}

func (e *events) add(ev build.Event) { e.list = append(e.list, ev) }

// done lists "N CACHED" or "N RUN" per finished step, FROM lines left out.
func (e *events) done() []string {
	var out []string
	for _, ev := range e.list {
		if ev.Kind != build.StepDone || strings.HasPrefix(ev.Text, "FROM") {
			continue
		}
		s := "ran"
		if ev.Cached {
			s = "cached"
		}
		out = append(out, s+" "+ev.Text)
	}
	return out
}

const multiStage = `ARG GREETING=hello
FROM busybox AS builder
ARG GREETING
ENV TARGET=world
WORKDIR /src
COPY greet.sh .
RUN printf '#!/bin/sh\necho %s %s from $(pwd) as $(id -u)\n' "$GREETING" "$TARGET" > /src/hello && chmod 755 /src/hello
COPY data/ /src/data/

FROM busybox
COPY --from=builder /src/hello /usr/local/bin/hello
COPY --from=builder --chown=app:app /src/data /data
WORKDIR /work
USER app
ENTRYPOINT ["/usr/local/bin/hello"]
CMD ["ignored"]
`

func TestBuildMultiStage(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	ctxDir := t.TempDir()
	writeFiles(t, ctxDir, map[string]string{
		"Dockerfile":    multiStage,
		"greet.sh":      "echo greet\n",
		"data/a.txt":    "a\n",
		"data/sub/b":    "b\n",
		"data/skip.log": "skipped\n",
		".dockerignore": "data/*.log\n",
	})
	runner := &countingRunner{r: executor.NewBuildRunner(root, nil)}
	b := build.NewBuilder(store, runner, nil)
	ctx := context.Background()
	var ev events
	opts := build.Options{ContextDir: ctxDir, Tags: []string{"hello:1"}, Network: "none",
		Args: map[string]string{"GREETING": "hi"}, Progress: ev.add}
	res, err := b.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if runner.n.Load() != 1 {
		t.Errorf("first build ran %d containers, want 1", runner.n.Load())
	}
	img, err := store.Image("hello:1")
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != res.ImageID {
		t.Errorf("tag points to %s, build returned %s", img.ID, res.ImageID)
	}
	cfg := img.Config.Config
	if diff := cmp.Diff([]string{"/usr/local/bin/hello"}, cfg.Entrypoint); diff != "" {
		t.Errorf("Entrypoint (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"ignored"}, cfg.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if cfg.User != "app" || cfg.WorkingDir != "/work" {
		t.Errorf("User %q WorkingDir %q, want app /work", cfg.User, cfg.WorkingDir)
	}
	// The image runs: entrypoint + cmd, as user app in /work.
	out := runImage(t, root, "hello:1")
	if want := "hi world from /work as 1000\n"; out != want {
		t.Errorf("the image printed %q, want %q", out, want)
	}
	// The copied directory: owned by app, .dockerignore'd file absent.
	ls := runLs(t, root, "hello:1", "/data")
	for _, want := range []string{"1000 1000 a.txt", "1000 1000 sub"} {
		if !strings.Contains(ls, want) {
			t.Errorf("/data listing lacks %q:\n%s", want, ls)
		}
	}
	if strings.Contains(ls, "skip.log") {
		t.Errorf(".dockerignore'd data/skip.log was copied:\n%s", ls)
	}

	// Second build: all cached, no container.
	runner.n.Store(0)
	ev = events{}
	res2, err := b.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if n := runner.n.Load(); n != 0 {
		t.Errorf("cached build ran %d containers", n)
	}
	if res2.ImageID != res.ImageID || res2.Cached != res2.Steps {
		t.Errorf("cached build: image %s (want %s), %d of %d steps cached", res2.ImageID, res.ImageID, res2.Cached, res2.Steps)
	}

	// Touching a file without changing it keeps the cache.
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(ctxDir, "greet.sh"), now, now)
	res3, err := b.Build(ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res3.ImageID != res.ImageID || runner.n.Load() != 0 {
		t.Errorf("a touched, unchanged file rebuilt something")
	}

	// Changing greet.sh rebuilds from its COPY on: the RUN after it runs.
	writeFiles(t, ctxDir, map[string]string{"greet.sh": "echo changed\n"})
	ev = events{}
	if _, err := b.Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"cached ARG GREETING",
		"cached ENV TARGET=world",
		"cached WORKDIR /src",
		"ran COPY greet.sh .",
		`ran RUN printf '#!/bin/sh\necho %s %s from $(pwd) as $(id -u)\n' "$GREETING" "$TARGET" > /src/hello && chmod 755 /src/hello`,
		"ran COPY data/ /src/data/",
		// the second stage's sources did not change: its steps hit
		"cached COPY --from=builder /src/hello /usr/local/bin/hello",
		"cached COPY --from=builder --chown=app:app /src/data /data",
		"cached WORKDIR /work",
		"cached USER app",
		`cached ENTRYPOINT ["/usr/local/bin/hello"]`,
		`cached CMD ["ignored"]`,
	}
	if diff := cmp.Diff(want, ev.done()); diff != "" {
		t.Errorf("steps after changing greet.sh (-want +got):\n%s", diff)
	}
	if runner.n.Load() != 1 {
		t.Errorf("rebuild ran %d containers, want 1", runner.n.Load())
	}
	// A changed ignored file changes nothing.
	writeFiles(t, ctxDir, map[string]string{"data/skip.log": "other\n"})
	ev = events{}
	if _, err := b.Build(ctx, opts); err != nil {
		t.Fatal(err)
	}
	for _, d := range ev.done() {
		if strings.HasPrefix(d, "ran") {
			t.Errorf("a change of an ignored file rebuilt %s", d)
		}
	}
}

func runLs(t *testing.T, root, image, dir string) string {
	t.Helper()
	c, err := executor.CreateContainer(root, &executor.RunOptions{Image: image, Command: []string{"ls", "-ln", dir}, Entrypoint: new(string), Remove: true, Network: "none"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := executor.StartContainer(root, c, executor.AttachOptions{Stdout: &out, Stderr: &out, Foreground: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	// "-rw-r--r--    1 1000     1000   2 Jan 1 a.txt" → "1000 1000 a.txt"
	var lines []string
	for _, l := range strings.Split(out.String(), "\n") {
		f := strings.Fields(l)
		if len(f) >= 9 {
			lines = append(lines, f[2]+" "+f[3]+" "+f[len(f)-1])
		}
	}
	return strings.Join(lines, "\n")
}

func TestBuildFailingRun(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	ctxDir := t.TempDir()
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo one\nRUN echo about to fail; echo oops >&2; exit 3\nRUN echo never\n"})
	b := build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil)
	_, err := b.Build(context.Background(), build.Options{ContextDir: ctxDir, Network: "none"})
	var re *build.RunError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is no *build.RunError", err)
	}
	if re.Pos.Line != 3 || re.ExitCode != 3 || re.N != 3 || re.Total != 4 {
		t.Errorf("line %d exit code %d step %d/%d, want line 3 exit code 3 step 3/4", re.Pos.Line, re.ExitCode, re.N, re.Total)
	}
	msg := err.Error()
	for _, want := range []string{"Dockerfile:3:", "[3/4] RUN echo about to fail", "exit code 3", "about to fail", "oops"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q lacks %q", msg, want)
		}
	}
}

func TestBuildWhiteoutAndAdd(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	ctxDir := t.TempDir()
	// A tar to ADD, and a 127.0.0.1 server for ADD of a URL.
	arch := t.TempDir()
	writeFiles(t, arch, map[string]string{"pkg/one": "1\n", "pkg/two": "2\n"})
	if out, err := exec.Command("tar", "-C", arch, "-czf", filepath.Join(ctxDir, "pkg.tar.gz"), "pkg").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("downloaded\n"))
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": `FROM busybox
RUN mkdir -p /keep && echo x > /keep/gone && echo y > /keep/stays
RUN rm -r /keep/gone /home
ADD pkg.tar.gz /opt/
ADD http://` + ln.Addr().String() + `/files/remote.txt /opt/
COPY --chmod=0750 <<EOF /opt/script
echo inline
EOF
RUN <<EOF
#!/bin/sh
echo heredoc > /opt/heredoc
EOF
RUN ["/bin/sh", "-c", "echo exec > /opt/exec"]
RUN true
`})
	b := build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil)
	res, err := b.Build(context.Background(), build.Options{ContextDir: ctxDir, Network: "none", Tags: []string{"wh"}})
	if err != nil {
		t.Fatal(err)
	}
	out := runShell(t, root, "wh", "ls /keep; test -e /keep/gone && echo GONE-PRESENT; test -e /home && echo HOME-PRESENT; cat /opt/pkg/one /opt/pkg/two /opt/remote.txt; stat -c '%a %n' /opt/remote.txt /opt/script; sh /opt/script; cat /opt/heredoc /opt/exec")
	want := "stays\n1\n2\ndownloaded\n600 /opt/remote.txt\n750 /opt/script\ninline\nheredoc\nexec\n"
	if out != want {
		t.Errorf("image content:\n%s\nwant:\n%s", out, want)
	}
	// "RUN true" changed no file: an empty layer in the history.
	img := res.Image
	last := img.Config.History[len(img.Config.History)-1]
	if !last.EmptyLayer || last.CreatedBy != "/bin/sh -c true" {
		t.Errorf("history of RUN true: %+v, want an empty layer", last)
	}
}

func runShell(t *testing.T, root, image, script string) string {
	t.Helper()
	return runShellNet(t, root, image, "none", script)
}

func runShellNet(t *testing.T, root, image, network, script string) string {
	t.Helper()
	c, err := executor.CreateContainer(root, &executor.RunOptions{Image: image, Command: []string{"sh", "-c", script}, Entrypoint: new(string), Remove: true, Network: network}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	r, err := executor.StartContainer(root, c, executor.AttachOptions{Stdout: &out, Stderr: &out, Foreground: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func TestCommitContainer(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	c, err := executor.CreateContainer(root, &executor.RunOptions{Image: "busybox", Network: "none",
		Command: []string{"sh", "-c", "mkdir -p /data/html && echo 'Busybox Server.' > /data/html/index.html && rm /etc/group && touch /ready && exec sleep 60"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := executor.StartContainer(root, c, executor.AttachOptions{Foreground: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		r.Task.Signal(syscall.SIGKILL)
		r.Wait()
		executor.RemoveContainer(root, c.ID, true, true)
	})
	upper := c.Runtime.Rootfs.Upper
	for i := 0; i < 500; i++ {
		if _, err := os.Stat(filepath.Join(upper, "ready")); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cg := cgroups.Open(r.State.Cgroups)
	if err := cg.Freeze(true); err != nil {
		t.Fatal(err)
	}
	img, err := build.CommitContainer(store, build.ContainerCommit{
		ImageID: c.ImageID, UpperDir: upper, CreatedBy: "sh -c ...",
		Author: "ops@example.com", Message: "web root",
		Changes: []string{`CMD ["/bin/httpd","-f","-h","/data/html"]`}, Tag: "httpd-box",
	})
	cg.Freeze(false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.Image("httpd-box")
	if err != nil || got.ID != img.ID {
		t.Fatalf("httpd-box: %v (%v)", got, err)
	}
	if diff := cmp.Diff([]string{"/bin/httpd", "-f", "-h", "/data/html"}, img.Config.Config.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	h := img.Config.History[len(img.Config.History)-1]
	if img.Config.Author != "ops@example.com" || h.Author != "ops@example.com" || h.Comment != "web root" || h.EmptyLayer {
		t.Errorf("author %q, history %+v", img.Config.Author, h)
	}
	// The runtime's mount points are not in the layer.
	top := store.LayerDir(img.ChainIDs[len(img.ChainIDs)-1])
	for _, f := range []string{"etc/hostname", "etc/resolv.conf"} {
		if _, err := os.Lstat(filepath.Join(top, f)); err == nil {
			t.Errorf("the committed layer has the runtime's mount point %s", f)
		}
	}
	// The image has the file, the deletion, and serves the file.
	// (on the host's network, to a free port of 127.0.0.1: the runtime's
	// "none" network has its loopback down)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out := runShellNet(t, root, "httpd-box", "host", "cat /data/html/index.html; test -e /etc/group || echo no-group; httpd -h /data/html -p "+addr+" && wget -qO- http://"+addr+"/; kill $(pidof httpd)")
	if want := "Busybox Server.\nno-group\nBusybox Server.\n"; out != want {
		t.Errorf("the committed image gave %q, want %q", out, want)
	}
}

func TestCommitImage(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	runner := executor.NewBuildRunner(root, nil)
	id, err := build.CommitImage(context.Background(), store, runner, build.CommitSpec{
		From:    "busybox:latest",
		Run:     []string{"mkdir -p /data/html", "echo 'Busybox Server.' > /data/html/index.html"},
		Author:  "ops@example.com",
		Changes: build.ChangesFromConfig(&v1.Config{Cmd: []string{"/bin/httpd", "-f", "-h", "/data/html"}, Env: []string{"A=b c"}}),
		Tag:     "httpd-box", Network: "none",
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Image("httpd-box")
	if err != nil || img.ID != id {
		t.Fatalf("httpd-box: %v", err)
	}
	if diff := cmp.Diff([]string{"/bin/httpd", "-f", "-h", "/data/html"}, img.Config.Config.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
	if !slices.Contains(img.Config.Config.Env, "A=b c") {
		t.Errorf("Env %q lacks A=b c", img.Config.Config.Env)
	}
	if out := runShell(t, root, "httpd-box", "cat /data/html/index.html"); out != "Busybox Server.\n" {
		t.Errorf("index.html: %q", out)
	}
	// A failing command names itself and its exit code; nothing is tagged.
	_, err = build.CommitImage(context.Background(), store, runner, build.CommitSpec{
		From: "busybox", Run: []string{"true", "echo bad; exit 4"}, Tag: "broken", Network: "none"})
	if err == nil || !strings.Contains(err.Error(), `run[1] "echo bad; exit 4" returned exit code 4`) || !strings.Contains(err.Error(), "bad") {
		t.Errorf("failing commit: %v", err)
	}
	if _, err := store.Image("broken"); err == nil {
		t.Errorf("a failed commit was tagged")
	}
	// The temporary state is gone.
	if left, _ := os.ReadDir(filepath.Join(root, "build-cache", "tmp")); len(left) != 0 {
		t.Errorf("temporary dirs left: %v", left)
	}
}

func TestBuildNetworkNoneHasLoopback(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	ctxDir := t.TempDir()
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM busybox\nRUN ip addr show lo | grep -q 'inet 127.0.0.1' && ip link show lo | grep -q UP && ! ip link show eth0\n" +
		"USER app\nWORKDIR /home/app\nRUN test $(id -u) = 1000 && test $(pwd) = /home/app && touch /tmp/ok\n"})
	b := build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil)
	res, err := b.Build(context.Background(), build.Options{ContextDir: ctxDir, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	// The steps' images but the result are intermediate.
	inter := build.IntermediateImages(root)
	if len(inter) != 3 || inter[res.ImageID] {
		t.Errorf("intermediate images: %v (result %s)", inter, res.ImageID)
	}
}

func TestBuildNetworkDefault(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	// The bridge's "host" is a namespace of the test's own.
	name := fmt.Sprintf("stktest-build-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	hostNS := "/run/netns/" + name
	runner := executor.NewBuildRunner(root, nil)
	runner.HostNetNS = hostNS
	t.Cleanup(func() {
		runner.Close()
		if m, err := netplan.Open(root, netplan.Options{HostNetNS: hostNS}); err == nil {
			m.RemoveNetwork(context.Background(), executor.BuildNetwork)
			m.Close()
		}
	})
	ctxDir := t.TempDir()
	writeFiles(t, ctxDir, map[string]string{"Dockerfile": "FROM busybox\n" +
		"RUN gw=$(ip route | awk '/^default/ {print $3}') && test -n \"$gw\" && ping -c 1 -W 2 $gw && ip addr show eth0 > /eth0\n" +
		"RUN ip link show eth0 && ping -c 1 -W 2 $(ip route | awk '/^default/ {print $3}')\n"})
	var ev events
	b := build.NewBuilder(store, runner, nil)
	if _, err := b.Build(context.Background(), build.Options{ContextDir: ctxDir, Tags: []string{"net"}, Progress: ev.add}); err != nil {
		t.Fatal(err)
	}
	// Each step got its own endpoint, released after it (Close waits for
	// the releases, which run in the background).
	runner.Close()
	m, err := netplan.Open(root, netplan.Options{HostNetNS: hostNS})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, err := m.InspectNetwork(context.Background(), executor.BuildNetwork)
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Endpoints) != 0 {
		t.Errorf("the build network keeps %d endpoints after the build", len(n.Endpoints))
	}
}

func TestBuildStagesTargetLabelsOnbuild(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	ctx := context.Background()
	runner := &countingRunner{r: executor.NewBuildRunner(root, nil)}
	b := build.NewBuilder(store, runner, nil)
	// A base with an ONBUILD trigger.
	baseDir := t.TempDir()
	writeFiles(t, baseDir, map[string]string{"Dockerfile": "FROM busybox\nONBUILD RUN echo triggered > /onbuild\n"})
	if _, err := b.Build(ctx, build.Options{ContextDir: baseDir, Tags: []string{"withtrigger"}, Network: "none"}); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"sub/app.Dockerfile": `FROM withtrigger AS base
RUN echo base > /base
FROM base AS second
RUN cat /onbuild /base > /both
FROM scratch AS bare
COPY --from=second /both /both
FROM busybox AS unused
RUN exit 1
FROM second AS final
CMD cat /both
`})
	// --target stops at "bare"; the failing, unused stage is skipped.
	res, err := b.Build(ctx, build.Options{ContextDir: dir, Dockerfile: "sub/app.Dockerfile", Target: "bare", Network: "none",
		Labels: map[string]string{"org.example.v": "1"}})
	if err != nil {
		t.Fatal(err)
	}
	img := res.Image
	if len(img.ChainIDs) != 1 || img.Config.Config.Labels["org.example.v"] != "1" {
		t.Errorf("bare: %d layers, labels %v; want 1 layer and the --label", len(img.ChainIDs), img.Config.Config.Labels)
	}
	b2, err := os.ReadFile(filepath.Join(store.LayerDir(img.ChainIDs[0]), "both"))
	if err != nil || string(b2) != "triggered\nbase\n" {
		t.Errorf("/both in the scratch image: %q, %v", b2, err)
	}
	// The final stage (FROM an earlier stage) runs, with the history of
	// its base stage below its own; the trigger ran once and is cleared.
	res, err = b.Build(ctx, build.Options{ContextDir: dir, Dockerfile: "sub/app.Dockerfile", Target: "final", Tags: []string{"final"}, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if out := runImage(t, root, "final"); out != "triggered\nbase\n" {
		t.Errorf("final printed %q", out)
	}
	var created []string
	for _, h := range res.Image.Config.History {
		created = append(created, h.CreatedBy)
	}
	want := []string{"stack import", "/bin/sh -c #(nop)  ONBUILD RUN echo triggered > /onbuild", "/bin/sh -c echo triggered > /onbuild",
		"/bin/sh -c echo base > /base", "/bin/sh -c cat /onbuild /base > /both", `/bin/sh -c #(nop)  CMD ["/bin/sh" "-c" "cat /both"]`}
	if diff := cmp.Diff(want, created); diff != "" {
		t.Errorf("history (-want +got):\n%s", diff)
	}
	if len(res.Image.Config.Config.OnBuild) != 0 {
		t.Errorf("OnBuild kept: %v", res.Image.Config.Config.OnBuild)
	}
	// An error names the Dockerfile relative to the context.
	_, err = b.Build(ctx, build.Options{ContextDir: dir, Dockerfile: "sub/app.Dockerfile", Target: "unused", Network: "none"})
	if err == nil || !strings.HasPrefix(err.Error(), "sub/app.Dockerfile:8: ") {
		t.Errorf("failing stage: %v", err)
	}
}

func TestBuilderPrune(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\n"})
	b := build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil)
	ctx := context.Background()
	first, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none", NoCache: true, Tags: []string{"kept"}}); err != nil {
		t.Fatal(err)
	}
	rep, err := build.PruneCache(store)
	if err != nil {
		t.Fatal(err)
	}
	if left, _ := os.ReadDir(filepath.Join(root, "build-cache", "entries")); rep.Entries == 0 || len(left) != 0 {
		t.Errorf("prune removed %d entries, %d left", rep.Entries, len(left))
	}
	if len(rep.Images) != 4 {
		t.Errorf("prune removed the images %v; want the 4 intermediate ones", rep.Images)
	}
	imgs, err := store.Images()
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, img := range imgs {
		name := img.ID
		if len(img.RepoTags) > 0 {
			name = img.RepoTags[0]
		} else if img.ID == first.ImageID {
			name = "first result"
		}
		left = append(left, name)
	}
	slices.Sort(left)
	if diff := cmp.Diff([]string{"busybox:latest", "first result", "kept:latest"}, left); diff != "" {
		t.Errorf("images after prune (-want +got):\n%s", diff)
	}
	// The cache is empty: the next build runs every step.
	res, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cached != 0 {
		t.Errorf("%d steps cached after prune", res.Cached)
	}
}

func TestBuildMissingBase(t *testing.T) {
	_, store := busyboxStoreNoImage(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nFROM nosuch/image:1 AS x\nRUN true\n"})
	_, err := build.NewBuilder(store, nil, nil).Build(context.Background(), build.Options{ContextDir: dir})
	if err == nil || err.Error() != "Dockerfile:2: FROM nosuch/image:1: the image is not in the image store; pull it first (stack pull nosuch/image:1) or build with --pull" {
		t.Errorf("missing base: %v", err)
	}
}

func busyboxStoreNoImage(t *testing.T) (string, *layers.Store) {
	root := t.TempDir()
	store, err := layers.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	return root, store
}

func TestBuildLayerKeySurvivesConfigChange(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	dir := t.TempDir()
	df := "FROM busybox\nLABEL v=%s\nEXPOSE %s\nRUN echo x > /x\nCOPY f /f\nRUN true\n"
	writeFiles(t, dir, map[string]string{"Dockerfile": fmt.Sprintf(df, "1", "80"), "f": "f\n"})
	runner := &countingRunner{r: executor.NewBuildRunner(root, nil)}
	b := build.NewBuilder(store, runner, nil)
	ctx := context.Background()
	first, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none"})
	if err != nil {
		t.Fatal(err)
	}
	runner.n.Store(0)
	writeFiles(t, dir, map[string]string{"Dockerfile": fmt.Sprintf(df, "2", "81")})
	var ev events
	res, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none", Tags: []string{"v2"}, Progress: ev.add})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ran LABEL v=2", "ran EXPOSE 81", "cached RUN echo x > /x", "cached COPY f /f", "cached RUN true"}
	if diff := cmp.Diff(want, ev.done()); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if runner.n.Load() != 0 {
		t.Errorf("a config change above the RUNs ran %d containers", runner.n.Load())
	}
	if diff := cmp.Diff(first.Image.DiffIDs, res.Image.DiffIDs); diff != "" {
		t.Errorf("layers differ (-first +second):\n%s", diff)
	}
	h := res.Image.Config.History
	if got := h[len(h)-2].CreatedBy; !strings.HasPrefix(got, "/bin/sh -c #(nop) COPY file:") {
		t.Errorf("COPY history %q", got)
	}
	if !h[len(h)-1].EmptyLayer || res.Image.Config.Config.Labels["v"] != "2" {
		t.Errorf("history %+v, labels %v", h[len(h)-1], res.Image.Config.Config.Labels)
	}
	if out := runShell(t, root, "v2", "cat /x /f"); out != "x\nf\n" {
		t.Errorf("v2: %q", out)
	}
}

func TestBuildStaleCacheEntries(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo b > /b\n"})
	runner := &countingRunner{r: executor.NewBuildRunner(root, nil)}
	b := build.NewBuilder(store, runner, nil)
	ctx := context.Background()
	if _, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none", Tags: []string{"first"}}); err != nil {
		t.Fatal(err)
	}
	// `stack image prune` removes the dangling intermediate images.
	if removed, _, err := store.Prune(false); err != nil || len(removed) != 2 {
		t.Fatalf("prune: %v %v", removed, err)
	}
	// Fully cached: the result still exists, nothing is loaded before it.
	runner.n.Store(0)
	res, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none"})
	if err != nil || res.Cached != 3 || runner.n.Load() != 0 {
		t.Fatalf("cached build over pruned intermediates: %v, %d cached, %d runs", err, res.Cached, runner.n.Load())
	}
	// A change in the last step needs the pruned parents: their entries
	// are dropped and the stage is built again.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox\nRUN echo a > /a\nENV X=1\nRUN echo c > /c\n"})
	var ev events
	if _, err := b.Build(ctx, build.Options{ContextDir: dir, Network: "none", Tags: []string{"second"}, Progress: ev.add}); err != nil {
		t.Fatal(err)
	}
	// RUN a's layer is still in the store (the tagged image uses it): the
	// layer key reuses it; only RUN c runs.
	if n := runner.n.Load(); n != 1 {
		t.Errorf("%d containers ran, want 1 (RUN c)", n)
	}
	warned := false
	for _, e := range ev.list {
		warned = warned || e.Kind == build.BuildWarning && strings.Contains(e.Text, "a cached image is gone")
	}
	if !warned {
		t.Error("no warning about the pruned cached images")
	}
	if out := runShell(t, root, "second", "cat /a /c; echo $X"); out != "a\nc\n1\n" {
		t.Errorf("second: %q", out)
	}
}

// meetingRunner holds the first two RUNs until both have started (or a
// timeout), and records how many ran at once.
type meetingRunner struct {
	r       build.Runner
	mu      sync.Mutex
	cur     int
	max     int
	arrived chan struct{}
	once    sync.Once
}

func (m *meetingRunner) Run(ctx context.Context, spec build.RunSpec) (int, error) {
	m.mu.Lock()
	m.cur++
	if m.cur > m.max {
		m.max = m.cur
	}
	if m.cur == 2 {
		m.once.Do(func() { close(m.arrived) })
	}
	m.mu.Unlock()
	select {
	case <-m.arrived:
	case <-time.After(3 * time.Second):
	}
	defer func() { m.mu.Lock(); m.cur--; m.mu.Unlock() }()
	return m.r.Run(ctx, spec)
}

func TestBuildStagesInParallel(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": `FROM busybox AS a
RUN echo a > /a
FROM busybox AS b
RUN echo b > /b
FROM busybox
COPY --from=a /a /a
COPY --from=b /b /b
`})
	m := &meetingRunner{r: executor.NewBuildRunner(root, nil), arrived: make(chan struct{})}
	res, err := build.NewBuilder(store, m, nil).Build(context.Background(), build.Options{ContextDir: dir, Network: "none", Tags: []string{"ab"}})
	if err != nil {
		t.Fatal(err)
	}
	if m.max != 2 {
		t.Errorf("at most %d RUNs at once; stages a and b should build in parallel", m.max)
	}
	if res.Steps != 4 {
		t.Errorf("%d steps, want 4", res.Steps)
	}
	if out := runShell(t, root, "ab", "cat /a /b"); out != "a\nb\n" {
		t.Errorf("ab: %q", out)
	}
	// A failing stage stops the build with its own error, not a sibling's.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN exit 5\nFROM busybox AS b\nRUN sleep 2\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"})
	_, err = build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil).Build(context.Background(), build.Options{ContextDir: dir, Network: "none", NoCache: true})
	var re *build.RunError
	if !errors.As(err, &re) || re.ExitCode != 5 || re.Pos.Line != 2 {
		t.Errorf("failing stage: %v", err)
	}
	// The same when the failing stage comes second in the file.
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM busybox AS a\nRUN sleep 2\nFROM busybox AS b\nRUN exit 6\nFROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"})
	_, err = build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil).Build(context.Background(), build.Options{ContextDir: dir, Network: "none", NoCache: true})
	if !errors.As(err, &re) || re.ExitCode != 6 || re.Pos.Line != 4 {
		t.Errorf("failing second stage: %v", err)
	}
}

// TestExampleBuilt builds examples/built's image as its stack file says.
func TestExampleBuilt(t *testing.T) {
	testenv.RequirePrivileged(t)
	root, store := busyboxStore(t)
	b := build.NewBuilder(store, executor.NewBuildRunner(root, nil), nil)
	_, err := b.Build(context.Background(), build.Options{ContextDir: "../examples/built/app", Network: "none",
		Args: map[string]string{"GREETING": "hello from a build"}, Tags: []string{"built-app:latest"}})
	if err != nil {
		t.Fatal(err)
	}
	if out := runShell(t, root, "built-app", "cat /www/index.html /www/page.txt"); !strings.HasPrefix(out, "hello from a build\n") {
		t.Errorf("built-app: %q", out)
	}
	img, _ := store.Image("built-app")
	if diff := cmp.Diff([]string{"httpd", "-f", "-p", "80", "-h", "/www"}, img.Config.Config.Cmd); diff != "" {
		t.Errorf("Cmd (-want +got):\n%s", diff)
	}
}
