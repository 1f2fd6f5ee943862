package layers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sys/unix"
)

// Store is the image store under a state root. Layout:
//
//	<root>/blobs/sha256/<hex>        manifests, configs and compressed layers (OCI layout)
//	<root>/oci-layout                {"imageLayoutVersion":"1.0.0"}
//	<root>/index.json                OCI index of the tagged (and untagged) images: the root is an OCI layout
//	<root>/images/db.json            tags (canonical name:tag → manifest digest) and images
//	<root>/images/db.lock            flock: serialises writers of db.json
//	<root>/images/gc.lock            flock: shared by writers adding content, exclusive for GC
//	<root>/layers/<chainid-hex>/diff unpacked layer: an overlay lowerdir
//	<root>/layers/<chainid-hex>/.complete  JSON marker, written last; without it the dir is not trusted
//	<root>/layers/empty              an empty dir, the lower of a zero-layer image
//	<root>/containers/<id>/upper, work, rootfs.json   per-container overlay state (PrepareRootfs)
//	<root>/tmp/                      temp files and dirs, removed by GC
//
// A Store is safe for concurrent use by several goroutines and processes.
type Store struct {
	root string
	log  *slog.Logger
	// Sync makes content durable before it is referenced: blobs are
	// fsynced and every unpacked layer is flushed (syncfs) before its marker
	// is written. Off by default, as in docker and skopeo: a killed process
	// never leaves trusted partial content either way (temp file or dir,
	// then rename, marker last), blobs are checked against their digest when
	// read, and on ext4 (data=ordered) a marker that survives a power loss
	// was committed after the data of the files it covers. Small metadata
	// (db.json, rootfs.json) is always fsynced.
	Sync bool
}

// Open opens (creating if needed) the image store under root.
func Open(root string) (*Store, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("opening image store %s: %w", root, err)
	}
	for _, d := range []string{"blobs/sha256", "images", "layers", "tmp", "containers"} {
		if err := os.MkdirAll(filepath.Join(abs, d), 0o700); err != nil {
			return nil, fmt.Errorf("opening image store: %w", err)
		}
	}
	if err := os.MkdirAll(filepath.Join(abs, "layers", "empty"), 0o755); err != nil {
		return nil, fmt.Errorf("opening image store: %w", err)
	}
	layout := filepath.Join(abs, "oci-layout")
	if _, err := os.Stat(layout); errors.Is(err, fs.ErrNotExist) {
		if err := writeFileAtomic(layout, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644); err != nil {
			return nil, fmt.Errorf("opening image store: %w", err)
		}
	}
	return &Store{root: abs, log: slog.New(slog.DiscardHandler)}, nil
}

// SetLogger sets the logger for debug messages (discarded by default).
func (s *Store) SetLogger(l *slog.Logger) {
	if l != nil {
		s.log = l
	}
}

// Root returns the state root.
func (s *Store) Root() string { return s.root }

func (s *Store) blobPath(d string) string {
	return filepath.Join(s.root, "blobs", "sha256", strings.TrimPrefix(d, "sha256:"))
}

func (s *Store) layerDir(chainID string) string {
	return filepath.Join(s.root, "layers", strings.TrimPrefix(chainID, "sha256:"))
}

// lock takes an flock on <root>/images/<name>; how is unix.LOCK_SH or LOCK_EX.
func (s *Store) lock(name string, how int) (func(), error) {
	return lockPath(filepath.Join(s.root, "images", name), how)
}

// lockPath takes an flock on the file at p (created if needed).
func lockPath(p string, how int) (func(), error) {
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking image store: %w", err)
	}
	for {
		err = unix.Flock(int(f.Fd()), how)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", p, os.NewSyscallError("flock", err))
	}
	return func() { f.Close() }, nil
}

// ingest is held (shared) while content is added, so GC never removes
// content that a ref is about to point to.
func (s *Store) ingest() (func(), error) { return s.lock("gc.lock", unix.LOCK_SH) }

// validDigest checks "sha256:<64 hex>".
func validDigest(d string) error {
	h, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(h) != 64 {
		return fmt.Errorf("digest %q: want sha256:<64 hex>", d)
	}
	if _, err := hex.DecodeString(h); err != nil || strings.ToLower(h) != h {
		return fmt.Errorf("digest %q: want sha256:<64 hex>", d)
	}
	return nil
}

// HasBlob reports whether the blob is in the store.
func (s *Store) HasBlob(d string) bool {
	if validDigest(d) != nil {
		return false
	}
	_, err := os.Stat(s.blobPath(d))
	return err == nil
}

// OpenBlob opens a stored blob.
func (s *Store) OpenBlob(d string) (*os.File, error) {
	if err := validDigest(d); err != nil {
		return nil, err
	}
	f, err := os.Open(s.blobPath(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return f, err
}

// readBlob reads a small blob whole and verifies its digest.
func (s *Store) readBlob(d string) ([]byte, error) {
	f, err := s.OpenBlob(d)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("reading blob %s: %w", d, err)
	}
	if got := digestOf(b); got != d {
		return nil, fmt.Errorf("blob %s: content hashes to %s: %w", d, got, ErrDigestMismatch)
	}
	return b, nil
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// writeBlob stores r as a blob (the caller holds the ingest lock). If want is not empty the content must hash to
// it, or nothing is stored and the error wraps ErrDigestMismatch. It returns
// the digest and size. The blob appears under its name only once complete.
func (s *Store) writeBlob(r io.Reader, want string) (string, int64, error) {
	if want != "" {
		if err := validDigest(want); err != nil {
			return "", 0, err
		}
		if fi, err := os.Stat(s.blobPath(want)); err == nil {
			n, _ := io.Copy(io.Discard, r)
			_ = n
			return want, fi.Size(), nil
		}
	}
	f, err := os.CreateTemp(filepath.Join(s.root, "tmp"), "blob-")
	if err != nil {
		return "", 0, fmt.Errorf("writing blob: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(f, h), r, make([]byte, 256<<10))
	if err != nil {
		return "", 0, fmt.Errorf("writing blob %s: %w", want, err)
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if want != "" && got != want {
		return "", 0, fmt.Errorf("blob %s: content hashes to %s: %w", want, got, ErrDigestMismatch)
	}
	if err := s.syncFile(f); err != nil {
		return "", 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	if err := os.Rename(f.Name(), s.blobPath(got)); err != nil {
		return "", 0, fmt.Errorf("writing blob %s: %w", got, err)
	}
	return got, n, nil
}

// writeBlobBytes stores a small blob.
func (s *Store) writeBlobBytes(b []byte) (string, error) {
	d := digestOf(b)
	if s.HasBlob(d) {
		return d, nil
	}
	if err := writeFileAtomicSync(s.blobPath(d), b, 0o644, s.Sync); err != nil {
		return "", fmt.Errorf("writing blob %s: %w", d, err)
	}
	return d, nil
}

// syncFile fsyncs content files (blobs) only when s.Sync is set; see Sync.
func (s *Store) syncFile(f *os.File) error {
	if !s.Sync {
		return nil
	}
	return f.Sync()
}

// writeFileAtomic writes a file through a temp file, fsync and rename.
func writeFileAtomic(path string, b []byte, mode os.FileMode) error {
	return writeFileAtomicSync(path, b, mode, true)
}

// writeFileAtomicSync is writeFileAtomic with the fsync optional.
func writeFileAtomicSync(path string, b []byte, mode os.FileMode, sync bool) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if sync {
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// db is the metadata file: tags and images.
type db struct {
	// Tags maps a canonical name:tag to a manifest digest.
	Tags map[string]string `json:"tags"`
	// Images maps a manifest digest to its record.
	Images map[string]*imageRecord `json:"images"`
}

type imageRecord struct {
	ID          string    `json:"id"` // config digest
	RepoDigests []string  `json:"repoDigests,omitempty"`
	Added       time.Time `json:"added"`
}

func (s *Store) dbPath() string { return filepath.Join(s.root, "images", "db.json") }

// readDB reads db.json; readers never lock (writes are atomic renames).
func (s *Store) readDB() (*db, error) {
	d := &db{Tags: map[string]string{}, Images: map[string]*imageRecord{}}
	b, err := os.ReadFile(s.dbPath())
	if errors.Is(err, fs.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading image database: %w", err)
	}
	if err := json.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("reading image database %s: %w", s.dbPath(), err)
	}
	if d.Tags == nil {
		d.Tags = map[string]string{}
	}
	if d.Images == nil {
		d.Images = map[string]*imageRecord{}
	}
	return d, nil
}

// updateDB runs fn on db.json under the writer lock and saves the result.
func (s *Store) updateDB(fn func(*db) error) error {
	unlock, err := s.lock("db.lock", unix.LOCK_EX)
	if err != nil {
		return err
	}
	defer unlock()
	d, err := s.readDB()
	if err != nil {
		return err
	}
	if err := fn(d); err != nil {
		return err
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return fmt.Errorf("writing image database: %w", err)
	}
	if err := writeFileAtomic(s.dbPath(), b, 0o600); err != nil {
		return fmt.Errorf("writing image database: %w", err)
	}
	return s.writeIndex(d)
}

// writeIndex writes <root>/index.json, so that the state root is a complete
// OCI image layout (skopeo, umoci and friends read `oci:<root>:<ref>`): one
// entry per tag, named by the org.opencontainers.image.ref.name annotation
// (the canonical reference), and one per untagged image.
func (s *Store) writeIndex(d *db) error {
	idx := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{}}
	desc := func(md string) (v1.Descriptor, bool) {
		raw, err := os.ReadFile(s.blobPath(md))
		if err != nil {
			return v1.Descriptor{}, false
		}
		var m struct {
			MediaType types.MediaType `json:"mediaType"`
		}
		json.Unmarshal(raw, &m)
		if m.MediaType == "" {
			m.MediaType = types.OCIManifestSchema1
		}
		h, err := v1.NewHash(md)
		return v1.Descriptor{MediaType: m.MediaType, Digest: h, Size: int64(len(raw))}, err == nil
	}
	tagged := map[string]bool{}
	tags := make([]string, 0, len(d.Tags))
	for t := range d.Tags {
		tags = append(tags, t)
	}
	sort.Strings(tags)
	for _, t := range tags {
		md := d.Tags[t]
		tagged[md] = true
		if dd, ok := desc(md); ok {
			dd.Annotations = map[string]string{"org.opencontainers.image.ref.name": t}
			idx.Manifests = append(idx.Manifests, dd)
		}
	}
	mds := make([]string, 0, len(d.Images))
	for md := range d.Images {
		mds = append(mds, md)
	}
	sort.Strings(mds)
	for _, md := range mds {
		if !tagged[md] {
			if dd, ok := desc(md); ok {
				idx.Manifests = append(idx.Manifests, dd)
			}
		}
	}
	b, err := json.Marshal(idx)
	if err != nil {
		return fmt.Errorf("writing index.json: %w", err)
	}
	if err := writeFileAtomicSync(filepath.Join(s.root, "index.json"), b, 0o644, false); err != nil {
		return fmt.Errorf("writing index.json: %w", err)
	}
	return nil
}
