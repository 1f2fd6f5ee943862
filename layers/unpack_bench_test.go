package layers

import (
	"archive/tar"
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"testing"
)

// benchTar is a tar of n files of about size bytes each, in 100-file dirs.
func benchTar(b *testing.B, n, size int) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	data := make([]byte, size)
	rand.New(rand.NewSource(1)).Read(data)
	for i := 0; i < n; i++ {
		if i%100 == 0 {
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/", i/100), Typeflag: tar.TypeDir, Mode: 0o755, ModTime: testTime})
		}
		tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("d%04d/f%06d", i/100, i), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(size), ModTime: testTime})
		tw.Write(data)
	}
	tw.Close()
	return buf.Bytes()
}

// BenchmarkUnpack: 5000 files of 10 KiB (the file-count cost) into
// $STACK_BENCH_DIR (default a temp dir; /dev/shm isolates CPU cost).
func BenchmarkUnpack(b *testing.B) {
	tb := benchTar(b, 5000, 10<<10)
	base := os.Getenv("STACK_BENCH_DIR")
	if base == "" {
		base = b.TempDir()
	}
	b.SetBytes(int64(len(tb)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := filepath.Join(base, fmt.Sprintf("unpack-%d", i))
		os.MkdirAll(dir, 0o755)
		b.StartTimer()
		if _, err := Unpack(bytes.NewReader(tb), dir, UnpackOptions{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dir)
		b.StartTimer()
	}
}
