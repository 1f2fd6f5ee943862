package build

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestTailWriter(t *testing.T) {
	w := &tailWriter{max: 3}
	w.Write([]byte("one\ntwo\nthr"))
	w.Write([]byte("ee\nfour\nfive"))
	if diff := cmp.Diff([]string{"three", "four", "five"}, w.lines()); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
}

func TestChangesFromConfig(t *testing.T) {
	got := ChangesFromConfig(&v1.Config{
		Cmd: []string{"/bin/httpd", "-f"}, Entrypoint: []string{}, Env: []string{`A=b "c" $d`},
		Labels: map[string]string{"z": "1", "a": "2"}, ExposedPorts: map[string]struct{}{"80/tcp": {}},
		User: "nobody", WorkingDir: "/data", StopSignal: "SIGQUIT", Volumes: map[string]struct{}{"/v": {}},
	})
	want := []string{`USER nobody`, `WORKDIR /data`, `ENV A="b \"c\" \$d"`, `LABEL "a"="2"`, `LABEL "z"="1"`,
		`EXPOSE 80/tcp`, `VOLUME ["/v"]`, `STOPSIGNAL SIGQUIT`, `ENTRYPOINT []`, `CMD ["/bin/httpd","-f"]`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("changes (-want +got):\n%s", diff)
	}
	// They apply back to the same config.
	var cfg v1.Config
	if err := ApplyChanges(&cfg, got); err != nil {
		t.Fatal(err)
	}
	if cfg.Env[0] != `A=b "c" $d` || cfg.Labels["a"] != "2" || cfg.User != "nobody" || len(cfg.Cmd) != 2 {
		t.Errorf("applied: %+v", cfg)
	}
}

func TestIsTarHeader(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "a", Mode: 0o644, Size: 0, Typeflag: tar.TypeReg, Format: tar.FormatGNU})
	tw.Close()
	if !isTarHeader(buf.Bytes()) {
		t.Error("a GNU tar is not recognised")
	}
	if isTarHeader(bytes.Repeat([]byte("x"), 1024)) {
		t.Error("text is taken for a tar")
	}
}

func TestCacheEntries(t *testing.T) {
	c := OpenCache(t.TempDir())
	key := CacheKey("", "RUN x", "")
	if _, ok := c.Get(key); ok {
		t.Fatal("empty cache hits")
	}
	if err := c.Put(key, "sha256:abc"); err != nil {
		t.Fatal(err)
	}
	if id, ok := c.Get(key); !ok || id != "sha256:abc" {
		t.Errorf("Get = %q %v", id, ok)
	}
	c.Delete(key)
	if _, ok := c.Get(key); ok {
		t.Error("deleted key hits")
	}
}

func TestInputDigest(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("Dockerfile", "FROM busybox\nCOPY . /\n")
	write("a", "a")
	write(".dockerignore", "*.log\n")
	opts := Options{ContextDir: dir, Args: map[string]string{"A": "1"}}
	d0, err := InputDigest(opts)
	if err != nil {
		t.Fatal(err)
	}
	same := func(what string, want bool) {
		t.Helper()
		d, err := InputDigest(opts)
		if err != nil {
			t.Fatal(err)
		}
		if (d == d0) != want {
			t.Errorf("%s: digest changed = %v", what, d != d0)
		}
	}
	now := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "a"), now, now)
	same("touch", true)
	write("x.log", "ignored")
	same("an ignored file", true)
	opts.Args["A"] = "2"
	same("a build arg", false)
	opts.Args["A"] = "1"
	write("a", "b")
	same("a context file", false)
	write("a", "a")
	write("Dockerfile", "FROM busybox\nCOPY . /app/\n")
	same("the Dockerfile", false)
	if !strings.HasPrefix(d0, "sha256:") {
		t.Errorf("digest %q", d0)
	}
}

func TestCopyTarSymlinksStayInTheContext(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "real"), []byte("inside\n"), 0o640)
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("f\n"), 0o644)
	os.Symlink("/real", filepath.Join(dir, "abs"))                 // absolute: the context's /real
	os.Symlink("../../../../etc/passwd", filepath.Join(dir, "up")) // climbs no higher than the context
	os.Symlink("d", filepath.Join(dir, "dirlink"))
	c, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	entries := func(cp *CopyStep, paths ...string) (map[string]string, error) {
		var buf bytes.Buffer
		if err := copyTar(t.Context(), &buf, nil, cp, contextTree{c}, paths, nil); err != nil {
			return nil, err
		}
		out := map[string]string{}
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			data := new(bytes.Buffer)
			data.ReadFrom(tr)
			out[h.Name] = fmt.Sprintf("%o %d:%d %s", h.Mode&0o7777, h.Uid, h.Gid, data.String())
		}
		return out, nil
	}
	got, err := entries(&CopyStep{Dest: "/x"}, "abs")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"x": "640 0:0 inside\n"}, got); diff != "" {
		t.Errorf("COPY abs /x (-want +got):\n%s", diff)
	}
	if _, err := entries(&CopyStep{Dest: "/x"}, "up"); err == nil {
		t.Error("a symlink out of the context was followed")
	}
	got, err = entries(&CopyStep{Dest: "/app/", Chown: "7:8", Chmod: 0o700, HasChmod: true}, "dirlink")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"app/": "700 7:8 ", "app/f": "700 7:8 f\n"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("COPY --chown=7:8 --chmod=700 dirlink /app/ (-want +got):\n%s", diff)
	}
}

func TestDigestFollowsSourceSymlinks(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "d"), 0o755)
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("1"), 0o644)
	os.Symlink("d", filepath.Join(dir, "link"))
	c, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	d1, err := digestResolved(c, []string{"link"})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "d", "f"), []byte("2"), 0o644)
	d2, err := digestResolved(c, []string{"link"})
	if err != nil {
		t.Fatal(err)
	}
	if d1 == d2 || !strings.HasPrefix(d1, "dir:") {
		t.Errorf("digests %s and %s: a change behind a symlinked source must show", d1, d2)
	}
}

func TestCopyTarMakesMissingParents(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "f"), []byte("f"), 0o644)
	c, err := OpenContext(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	for dest, want := range map[string][]string{
		"/a/b/g":   {"a/", "a/b/", "a/b/g"},
		"/a/b/":    {"a/", "a/b/", "a/b/f"},
		"/g":       {"g"},
		"rel/../h": {"h"},
	} {
		var buf bytes.Buffer
		cp := &CopyStep{Dest: path.Clean("/" + dest)}
		if strings.HasSuffix(dest, "/") {
			cp.Dest += "/"
		}
		if err := copyTar(t.Context(), &buf, nil, cp, contextTree{c}, []string{"f"}, nil); err != nil {
			t.Fatal(err)
		}
		var got []string
		tr := tar.NewReader(&buf)
		for {
			h, err := tr.Next()
			if err != nil {
				break
			}
			got = append(got, h.Name)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("COPY f %s (-want +got):\n%s", dest, diff)
		}
	}
}
