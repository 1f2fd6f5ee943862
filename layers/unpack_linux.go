package layers

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

type dirTime struct {
	path  string
	mtime time.Time
	atime time.Time
}

// unpacker applies tar entries under root. It keeps the set of directories
// it made itself (never symlinks), so most entries need no path resolution.
type unpacker struct {
	root     string
	opts     UnpackOptions
	dirs     map[string]bool // relative paths known to be real directories
	dirTimes []dirTime
	root0    bool // running as root: chown, mknod, trusted xattrs
	size     int64
	buf      []byte
	umask    uint32

	// Small regular files are written by two worker goroutines while the
	// tar is read on. pending holds their paths until the next flush, which
	// any entry touching such a path (or removing a directory) waits for.
	jobs    chan fileJob
	wg      sync.WaitGroup
	mu      sync.Mutex
	werr    error
	retry   []fileJob
	pending map[string]bool
}

// fileJob is one small regular file for a worker.
type fileJob struct {
	p, rel string
	hdr    *tar.Header
	data   []byte
}

const (
	deferMax      = 128 << 10 // files up to this size go to the workers (memory: queue × this)
	unpackWorkers = 2
)

var jobBufs = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func (u *unpacker) dispatch(p, rel string, hdr *tar.Header, r io.Reader) error {
	if u.jobs == nil {
		u.jobs = make(chan fileJob, 16)
		for i := 0; i < unpackWorkers; i++ {
			go u.worker(u.jobs)
		}
	}
	bp := jobBufs.Get().(*[]byte)
	b := *bp
	if cap(b) < int(hdr.Size) {
		b = make([]byte, hdr.Size)
	}
	b = b[:hdr.Size]
	if _, err := io.ReadFull(r, b); err != nil {
		return err
	}
	u.size += hdr.Size
	u.pending[p] = true
	u.wg.Add(1)
	u.jobs <- fileJob{p: p, rel: rel, hdr: hdr, data: b}
	return nil
}

func (u *unpacker) worker(jobs <-chan fileJob) {
	for j := range jobs {
		err := u.writeJob(j)
		u.mu.Lock()
		switch {
		case err == errRetrySync:
			u.retry = append(u.retry, j)
		case err != nil && u.werr == nil:
			u.werr = fmt.Errorf("unpacking %q: %w", j.hdr.Name, err)
		}
		u.mu.Unlock()
		if err != errRetrySync {
			b := j.data[:0]
			jobBufs.Put(&b)
		}
		u.wg.Done()
	}
}

// errRetrySync: a directory is in the way; the main goroutine redoes the
// file at the next flush (it owns the directory cache).
var errRetrySync = errors.New("retry synchronously")

func (u *unpacker) writeJob(j fileJob) error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	perm := uint32(j.hdr.Mode & 0o777)
	fd, err := unix.Open(j.p, flags, perm)
	if err == unix.EEXIST {
		var st unix.Stat_t
		if unix.Lstat(j.p, &st) == nil && st.Mode&unix.S_IFMT == unix.S_IFDIR {
			return errRetrySync
		}
		if err := os.Remove(j.p); err != nil {
			return err
		}
		fd, err = unix.Open(j.p, flags, perm)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: j.p, Err: err}
	}
	for off := 0; off < len(j.data); {
		n, werr := unix.Write(fd, j.data[off:])
		if werr == unix.EINTR {
			continue
		}
		if werr != nil {
			unix.Close(fd)
			return &os.PathError{Op: "write", Path: j.p, Err: werr}
		}
		off += n
	}
	err = u.meta(fd, j.p, j.hdr)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: j.p, Err: cerr}
	}
	return err
}

// flush waits for the workers, redoes what they left, and reports their error.
func (u *unpacker) flush() error {
	if u.jobs == nil {
		return nil
	}
	u.wg.Wait()
	clear(u.pending)
	u.mu.Lock()
	err, retry := u.werr, u.retry
	u.retry = nil
	u.mu.Unlock()
	if err != nil {
		return err
	}
	for _, j := range retry {
		if err := u.regular(j.p, j.rel, j.hdr, bytes.NewReader(j.data)); err != nil {
			return fmt.Errorf("unpacking %q: %w", j.hdr.Name, err)
		}
	}
	return nil
}

// touch flushes if a worker may still be writing p.
func (u *unpacker) touch(p string) error {
	if u.pending[p] {
		return u.flush()
	}
	return nil
}

// currentUmask reads the umask from /proc/self/status without changing it
// (umask(2) can only read it by setting it, which would race other threads).
// If it cannot be read, 0o777 makes every file get an explicit chmod.
func currentUmask() uint32 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0o777
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Umask:"); ok {
			var m uint32
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%o", &m); err == nil {
				return m
			}
		}
	}
	return 0o777
}

// futimens sets an open file's times: utimensat(fd, NULL, ts, 0), which
// x/sys/unix does not expose (it always passes a path).
func futimens(fd int, ts *[2]unix.Timespec) error {
	_, _, e := unix.Syscall6(unix.SYS_UTIMENSAT, uintptr(fd), 0, uintptr(unsafe.Pointer(ts)), 0, 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func newUnpacker(root string, opts UnpackOptions) (*unpacker, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("unpacking layer: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("unpacking layer: %s is not a directory", root)
	}
	return &unpacker{root: root, opts: opts, dirs: map[string]bool{"": true}, root0: os.Geteuid() == 0,
		buf: make([]byte, 256<<10), umask: currentUmask(), pending: map[string]bool{}}, nil
}

func (u *unpacker) close() {
	if u.jobs != nil {
		u.wg.Wait()
		close(u.jobs)
		u.jobs = nil
	}
}

func (u *unpacker) opaqueXattr() string {
	if u.opts.UserXattr {
		return "user.overlay.opaque"
	}
	return "trusted.overlay.opaque"
}

// resolveDir returns the host path of the directory rel (relative to the
// root), creating missing directories. Symlinks that earlier entries made
// are followed only while they stay inside the root: an absolute target or
// one that climbs above the root is refused.
func (u *unpacker) resolveDir(rel string) (string, error) {
	rel = strings.TrimSuffix(rel, "/")
	if u.dirs[rel] {
		return filepath.Join(u.root, rel), nil
	}
	parts := strings.Split(rel, "/")
	cur := ""
	links := 0
	for len(parts) > 0 {
		p := parts[0]
		parts = parts[1:]
		if p == "" || p == "." {
			continue
		}
		if p == ".." {
			if cur == "" {
				return "", fmt.Errorf("%q: %w", rel, ErrUnsafePath)
			}
			cur = path.Dir(cur)
			if cur == "." {
				cur = ""
			}
			continue
		}
		next := path.Join(cur, p)
		if u.dirs[next] {
			cur = next
			continue
		}
		hp := filepath.Join(u.root, next)
		if err := u.touch(hp); err != nil {
			return "", err
		}
		fi, err := os.Lstat(hp)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(hp, 0o755); err != nil {
				return "", err
			}
			u.dirs[next] = true
			cur = next
		case err != nil:
			return "", err
		case fi.IsDir():
			u.dirs[next] = true
			cur = next
		case fi.Mode()&fs.ModeSymlink != 0:
			links++
			if links > 40 {
				return "", fmt.Errorf("%q: too many levels of symbolic links", rel)
			}
			target, err := os.Readlink(hp)
			if err != nil {
				return "", err
			}
			if path.IsAbs(target) {
				return "", fmt.Errorf("%q goes through symlink %q -> %q: %w", rel, next, target, ErrUnsafePath)
			}
			// Resolve the target relative to the link's directory, lexically first.
			joined := path.Join(cur, target)
			if joined == ".." || strings.HasPrefix(joined, "../") {
				return "", fmt.Errorf("%q goes through symlink %q -> %q: %w", rel, next, target, ErrUnsafePath)
			}
			parts = append(strings.Split(target, "/"), parts...)
		default:
			return "", fmt.Errorf("%q: %s is not a directory", rel, next)
		}
	}
	return filepath.Join(u.root, cur), nil
}

// forget drops rel and everything under it from the directory cache.
func (u *unpacker) forget(rel string) {
	for d := range u.dirs {
		if d == rel || strings.HasPrefix(d, rel+"/") {
			delete(u.dirs, d)
		}
	}
	u.dirs[""] = true
}

// remove deletes an existing entry at p (relative rel) before it is replaced.
func (u *unpacker) remove(p, rel string) error {
	if err := u.touch(p); err != nil {
		return err
	}
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.IsDir() {
		if err := u.flush(); err != nil { // workers may be writing inside
			return err
		}
		u.forget(rel)
		return os.RemoveAll(p)
	}
	return os.Remove(p)
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := safeName(hdr.Name)
	if err != nil {
		return err
	}
	dir, base := path.Split(rel)
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(dir, base)
	}
	if rel == "" {
		if hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("the layer root must be a directory")
		}
		return u.pathMeta(u.root, hdr, true)
	}
	parent, err := u.resolveDir(dir)
	if err != nil {
		return err
	}
	p := filepath.Join(parent, base)
	// The cache only holds paths reached without symlinks.
	direct := parent == filepath.Join(u.root, strings.TrimSuffix(dir, "/"))
	if err := u.touch(p); err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir:
		fi, err := os.Lstat(p)
		if err == nil && !fi.IsDir() {
			if err := os.Remove(p); err != nil {
				return err
			}
			err = fs.ErrNotExist
		}
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				return err
			}
		}
		if direct {
			u.dirs[rel] = true
		}
		return u.pathMeta(p, hdr, true)
	case tar.TypeReg, tar.TypeRegA:
		if direct && !u.dirs[rel] && hdr.Size <= deferMax {
			return u.dispatch(p, rel, hdr, r)
		}
		return u.regular(p, rel, hdr, r)
	case tar.TypeGNUSparse:
		return u.regular(p, rel, hdr, r)
	case tar.TypeSymlink:
		if err := u.remove(p, rel); err != nil {
			return err
		}
		if err := os.Symlink(hdr.Linkname, p); err != nil {
			return err
		}
		return u.pathMeta(p, hdr, false)
	case tar.TypeLink:
		trel, err := safeName(hdr.Linkname)
		if err != nil {
			return fmt.Errorf("hard link target %w", err)
		}
		tdir, tbase := path.Split(trel)
		tparent, err := u.resolveDir(tdir)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		target := filepath.Join(tparent, tbase)
		if err := u.touch(target); err != nil {
			return err
		}
		fi, err := os.Lstat(target)
		if err != nil {
			return fmt.Errorf("hard link target: %w", err)
		}
		if fi.IsDir() {
			return fmt.Errorf("hard link target %q is a directory", hdr.Linkname)
		}
		if target == p {
			return nil
		}
		if err := u.remove(p, rel); err != nil {
			return err
		}
		return os.Link(target, p)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		if err := u.remove(p, rel); err != nil {
			return err
		}
		mode := uint32(hdr.Mode & 0o7777)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode |= unix.S_IFCHR
		case tar.TypeBlock:
			mode |= unix.S_IFBLK
		default:
			mode |= unix.S_IFIFO
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknod(p, mode, int(dev)); err != nil {
			return &os.PathError{Op: "mknod", Path: p, Err: err}
		}
		return u.pathMeta(p, hdr, false)
	case tar.TypeXGlobalHeader:
		return nil
	}
	return fmt.Errorf("unsupported tar entry type %q", hdr.Typeflag)
}

func (u *unpacker) regular(p, rel string, hdr *tar.Header, r io.Reader) error {
	flags := unix.O_WRONLY | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	perm := uint32(hdr.Mode & 0o777)
	fd, err := unix.Open(p, flags, perm)
	if err == unix.EEXIST {
		if err := u.remove(p, rel); err != nil {
			return err
		}
		fd, err = unix.Open(p, flags, perm)
	}
	if err != nil {
		return &os.PathError{Op: "create", Path: p, Err: err}
	}
	err = u.fill(fd, p, hdr, r)
	if cerr := unix.Close(fd); err == nil && cerr != nil {
		err = &os.PathError{Op: "close", Path: p, Err: cerr}
	}
	return err
}

// fill writes a regular file's content and metadata through its fd
// (no *os.File: that costs an fcntl and a finalizer per file).
func (u *unpacker) fill(fd int, p string, hdr *tar.Header, r io.Reader) error {
	for {
		n, rerr := r.Read(u.buf)
		for off := 0; off < n; {
			m, err := unix.Write(fd, u.buf[off:n])
			if err == unix.EINTR {
				continue
			}
			if err != nil {
				return &os.PathError{Op: "write", Path: p, Err: err}
			}
			off += m
		}
		u.size += int64(n)
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return rerr
		}
	}
	return u.meta(fd, p, hdr)
}

// meta sets a new regular file's owner, xattrs, mode and times through its fd.
func (u *unpacker) meta(fd int, p string, hdr *tar.Header) error {
	if u.root0 {
		if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
			return &os.PathError{Op: "chown", Path: p, Err: err}
		}
	}
	if err := u.xattrs(p, hdr); err != nil {
		return err
	}
	// open(2) applied the umask; chown clears setuid/setgid: chmod only when needed.
	if mode := uint32(hdr.Mode & 0o7777); mode&^0o777 != 0 || uint32(hdr.Mode&0o777)&u.umask != 0 {
		if err := unix.Fchmod(fd, mode); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	ts := [2]unix.Timespec{unix.NsecToTimespec(atime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := futimens(fd, &ts); err != nil {
		return &os.PathError{Op: "futimens", Path: p, Err: err}
	}
	return nil
}

func atime(hdr *tar.Header) time.Time {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime
	}
	return hdr.AccessTime
}

func (u *unpacker) xattrs(p string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, "SCHILY.xattr.")
		if !ok {
			continue
		}
		// A layer may not forge overlay metadata (redirects, metacopy...).
		if strings.HasPrefix(name, "trusted.overlay.") || strings.HasPrefix(name, "user.overlay.") {
			continue
		}
		if !u.root0 && strings.HasPrefix(name, "trusted.") {
			continue
		}
		if err := unix.Lsetxattr(p, name, []byte(v), 0); err != nil {
			return &os.PathError{Op: "setxattr " + name, Path: p, Err: err}
		}
	}
	return nil
}

// meta applies owner, xattrs, mode and times (directory times at the end).
func (u *unpacker) pathMeta(p string, hdr *tar.Header, isDir bool) error {
	if u.root0 {
		if err := unix.Lchown(p, hdr.Uid, hdr.Gid); err != nil {
			return &os.PathError{Op: "chown", Path: p, Err: err}
		}
	}
	if err := u.xattrs(p, hdr); err != nil {
		return err
	}
	if hdr.Typeflag != tar.TypeSymlink {
		if err := unix.Fchmodat(unix.AT_FDCWD, p, uint32(hdr.Mode&0o7777), 0); err != nil {
			return &os.PathError{Op: "chmod", Path: p, Err: err}
		}
	}
	if isDir {
		u.dirTimes = append(u.dirTimes, dirTime{p, hdr.ModTime, atime(hdr)})
		return nil
	}
	ts := []unix.Timespec{unix.NsecToTimespec(atime(hdr).UnixNano()), unix.NsecToTimespec(hdr.ModTime.UnixNano())}
	if err := unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &os.PathError{Op: "utimensat", Path: p, Err: err}
	}
	return nil
}

func (u *unpacker) whiteout(dir, base string) error {
	parent, err := u.resolveDir(dir)
	if err != nil {
		return err
	}
	if base == whiteoutOpaque {
		if err := unix.Lsetxattr(parent, u.opaqueXattr(), []byte("y"), 0); err != nil {
			return &os.PathError{Op: "setxattr " + u.opaqueXattr(), Path: parent, Err: err}
		}
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." || strings.HasPrefix(name, whiteoutPrefix) {
		return fmt.Errorf("invalid whiteout %q", base)
	}
	p := filepath.Join(parent, name)
	if err := u.remove(p, path.Join(dir, name)); err != nil {
		return err
	}
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		return &os.PathError{Op: "mknod whiteout", Path: p, Err: err}
	}
	return nil
}

// finish sets directory times, deepest last-made first, after all children exist.
func (u *unpacker) finish() error {
	if err := u.flush(); err != nil {
		return err
	}
	rootfd, err := unix.Open(u.root, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "open", Path: u.root, Err: err}
	}
	defer unix.Close(rootfd)
	for i := len(u.dirTimes) - 1; i >= 0; i-- {
		d := u.dirTimes[i]
		rel := strings.TrimPrefix(strings.TrimPrefix(d.path, u.root), "/")
		// Later entries may have replaced the directory or one of its
		// parents with a symlink: reach it without following any.
		fd, err := openDirNoFollow(rootfd, rel)
		if err != nil {
			continue // replaced since: nothing to date
		}
		ts := [2]unix.Timespec{unix.NsecToTimespec(d.atime.UnixNano()), unix.NsecToTimespec(d.mtime.UnixNano())}
		err = futimens(fd, &ts)
		unix.Close(fd)
		if err != nil {
			return &os.PathError{Op: "futimens", Path: d.path, Err: err}
		}
	}
	return nil
}

// openDirNoFollow opens rel under dirfd one component at a time with
// O_NOFOLLOW, so no symlink anywhere on the way is followed.
func openDirNoFollow(dirfd int, rel string) (int, error) {
	fd, err := unix.Openat(dirfd, ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, err
	}
	for _, c := range strings.Split(rel, "/") {
		if c == "" || c == "." {
			continue
		}
		next, err := unix.Openat(fd, c, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		unix.Close(fd)
		if err != nil {
			return -1, err
		}
		fd = next
	}
	return fd, nil
}

// syncfs flushes the filesystem holding dir.
func syncfs(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
