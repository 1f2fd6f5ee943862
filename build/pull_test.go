package build_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/registry"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/layers"
)

// TestBuildPull: a base missing from the store is an error naming it;
// with Pull it comes from its registry (an in-memory one on 127.0.0.1).
func TestBuildPull(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")
	insecure := []byte(`{"insecure-registries":["` + host + `"]}`)

	src, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src.Root(), "config.json"), insecure, 0o644)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0o755})
	tw.WriteHeader(&tar.Header{Name: "etc/base", Typeflag: tar.TypeReg, Mode: 0o644, Size: 5})
	tw.Write([]byte("base\n"))
	tw.Close()
	ref := host + "/test/base:1"
	if _, err := src.Import(&buf, ref, layers.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Push(context.Background(), ref, layers.RegistryOptions{}); err != nil {
		t.Fatal(err)
	}

	dst, err := layers.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dst.Root(), "config.json"), insecure, 0o644)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+ref+"\nCOPY f /etc/f\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "f"), []byte("f\n"), 0o644)
	b := build.NewBuilder(dst, nil, nil)
	_, err = b.Build(context.Background(), build.Options{ContextDir: dir})
	if err == nil || !strings.Contains(err.Error(), "Dockerfile:1: FROM "+ref+": the image is not in the image store") {
		t.Fatalf("without --pull: %v", err)
	}
	res, err := b.Build(context.Background(), build.Options{ContextDir: dir, Pull: true, Tags: []string{"out"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Image.ChainIDs) != 2 {
		t.Fatalf("%d layers, want 2", len(res.Image.ChainIDs))
	}
	if b, err := os.ReadFile(filepath.Join(dst.LayerDir(res.Image.ChainIDs[1]), "etc", "f")); err != nil || string(b) != "f\n" {
		t.Errorf("the COPY layer: %q %v", b, err)
	}
}
