package layers

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// UnpackOptions tune Unpack.
type UnpackOptions struct {
	// DiffID, when set, is the digest the uncompressed stream must have;
	// Unpack returns an error wrapping ErrDigestMismatch otherwise.
	DiffID string
	// UserXattr marks opaque directories with user.overlay.opaque (for
	// overlay mounted with userxattr in a user namespace) instead of
	// trusted.overlay.opaque.
	UserXattr bool
}

// UnpackResult describes an unpacked layer.
type UnpackResult struct {
	DiffID  string // digest of the uncompressed tar stream
	Size    int64  // bytes of regular file content written
	TarSize int64  // bytes of the uncompressed tar stream
}

// Compression is a layer stream's compression.
type Compression int

// The compressions Unpack detects from the stream's first bytes.
const (
	Uncompressed Compression = iota
	Gzip
	Zstd
)

func (c Compression) String() string {
	return [...]string{"uncompressed", "gzip", "zstd"}[c]
}

// DetectCompression peeks at the first bytes of br.
func DetectCompression(br *bufio.Reader) Compression {
	b, _ := br.Peek(4)
	switch {
	case bytes.HasPrefix(b, []byte{0x1f, 0x8b}):
		return Gzip
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return Zstd
	}
	return Uncompressed
}

// Decompress returns the uncompressed stream of r, whatever its compression.
func Decompress(r io.Reader) (io.ReadCloser, Compression, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	c := DetectCompression(br)
	switch c {
	case Gzip:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, c, fmt.Errorf("reading gzip stream: %w", err)
		}
		return zr, c, nil
	case Zstd:
		zr, err := zstd.NewReader(br, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true))
		if err != nil {
			return nil, c, fmt.Errorf("reading zstd stream: %w", err)
		}
		return zr.IOReadCloser(), c, nil
	}
	return io.NopCloser(br), c, nil
}

// Unpack extracts a layer (gzip, zstd or plain tar) into dir, an existing
// empty directory. OCI whiteouts become overlay whiteouts: `.wh.NAME` a 0:0
// character device NAME, `.wh..wh..opq` the opaque xattr on its directory.
// No entry can create or change anything outside dir, whatever its name,
// link target or the symlinks earlier entries made. The uncompressed stream
// is hashed as it is read and checked against opts.DiffID.
//
// Unpack is not atomic by itself: the store unpacks into a temp directory
// and renames it into place.
func Unpack(r io.Reader, dir string, opts UnpackOptions) (UnpackResult, error) {
	rc, _, err := Decompress(r)
	if err != nil {
		return UnpackResult{}, err
	}
	defer rc.Close()
	hr := newAsyncHashReader(rc)
	defer hr.close()
	u, err := newUnpacker(dir, opts)
	if err != nil {
		return UnpackResult{}, err
	}
	defer u.close()
	tr := tar.NewReader(hr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return UnpackResult{}, fmt.Errorf("reading layer tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return UnpackResult{}, fmt.Errorf("unpacking %q: %w", hdr.Name, err)
		}
	}
	// The diffID covers the whole stream, padding after the end marker included.
	if _, err := io.Copy(io.Discard, hr); err != nil {
		return UnpackResult{}, fmt.Errorf("reading layer tar: %w", err)
	}
	if err := u.finish(); err != nil {
		return UnpackResult{}, err
	}
	got := hr.digest()
	if opts.DiffID != "" && got != opts.DiffID {
		return UnpackResult{}, fmt.Errorf("layer %s: uncompressed content hashes to %s: %w", opts.DiffID, got, ErrDigestMismatch)
	}
	return UnpackResult{DiffID: got, Size: u.size, TarSize: hr.count()}, nil
}

// asyncHashReader reads its source in chunks and hashes each chunk on
// another goroutine once the consumer has moved past it, so hashing runs on
// a second core alongside the tar extraction.
type asyncHashReader struct {
	src     io.Reader
	cur     []byte // unread part of the current chunk
	chunk   []byte // the current chunk, whole
	toHash  chan []byte
	free    chan []byte
	hashed  chan struct{}
	h       hash.Hash
	n       int64
	err     error
	closed  bool
	started bool
}

const (
	hashChunk  = 256 << 10
	hashChunks = 8
)

func newAsyncHashReader(src io.Reader) *asyncHashReader {
	a := &asyncHashReader{src: src, h: sha256.New(), toHash: make(chan []byte, hashChunks), free: make(chan []byte, hashChunks), hashed: make(chan struct{})}
	for i := 0; i < hashChunks; i++ {
		a.free <- make([]byte, hashChunk)
	}
	go func() {
		for c := range a.toHash {
			a.h.Write(c)
			a.free <- c[:cap(c)]
		}
		close(a.hashed)
	}()
	return a
}

func (a *asyncHashReader) Read(p []byte) (int, error) {
	if len(a.cur) == 0 {
		if a.err != nil {
			return 0, a.err
		}
		if a.chunk != nil {
			a.toHash <- a.chunk
			a.chunk = nil
		}
		buf := <-a.free
		n, err := 0, error(nil)
		for n < len(buf) && err == nil {
			var m int
			m, err = a.src.Read(buf[n:])
			n += m
		}
		a.err = err
		a.n += int64(n)
		if n == 0 {
			a.free <- buf
			return 0, err
		}
		a.chunk, a.cur = buf[:n], buf[:n]
	}
	n := copy(p, a.cur)
	a.cur = a.cur[n:]
	return n, nil
}

func (a *asyncHashReader) count() int64 { return a.n }

// digest drains nothing: call it after reading to EOF.
func (a *asyncHashReader) digest() string {
	a.close()
	<-a.hashed
	return "sha256:" + hex.EncodeToString(a.h.Sum(nil))
}

func (a *asyncHashReader) close() {
	if a.closed {
		return
	}
	a.closed = true
	if a.chunk != nil {
		a.toHash <- a.chunk
		a.chunk = nil
	}
	close(a.toHash)
}

// safeName cleans a tar name; a name that climbs above the root is refused.
func safeName(n string) (string, error) {
	c := path.Clean(n)
	c = strings.TrimPrefix(c, "/")
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%q: %w", n, ErrUnsafePath)
	}
	if c == "." {
		c = ""
	}
	return c, nil
}

const (
	whiteoutPrefix = ".wh."
	whiteoutOpaque = ".wh..wh..opq"
)
