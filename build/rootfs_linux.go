package build

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/layers"
)

// lookupLayers finds rel in an image's layer directories (topmost first)
// as overlay shows it: the first layer that has it wins; a whiteout of it,
// or of one of its parents, or an opaque parent directory in a layer
// above hides what the layers below have. It returns the entry's info and
// its path in that layer.
func lookupLayers(lowers []string, rel string) (fs.FileInfo, string, bool) {
	rel = strings.Trim(rel, "/")
	if rel == "" || rel == "." {
		return nil, "", false
	}
	parts := strings.Split(rel, "/")
	for _, l := range lowers {
		full := filepath.Join(l, filepath.FromSlash(rel))
		if fi, err := os.Lstat(full); err == nil {
			if isWhiteout(fi) {
				return nil, "", false
			}
			return fi, full, true
		}
		// Not here: does this layer hide it from the layers below?
		cur := l
		for _, p := range parts[:len(parts)-1] {
			cur = filepath.Join(cur, p)
			fi, err := os.Lstat(cur)
			if err != nil {
				break // the layer has nothing at this prefix
			}
			if isWhiteout(fi) || !fi.IsDir() {
				return nil, "", false
			}
			if isOpaque(cur) {
				return nil, "", false
			}
		}
	}
	return nil, "", false
}

// isOpaque reports an overlay opaque directory (trusted. or user.).
func isOpaque(dir string) bool {
	buf := make([]byte, 1)
	for _, attr := range []string{"trusted.overlay.opaque", "user.overlay.opaque"} {
		if n, err := unix.Lgetxattr(dir, attr, buf); err == nil && n == 1 && buf[0] == 'y' {
			return true
		}
	}
	return false
}

// resolveInLayers resolves the symlinks of rel in an image's layers, as
// the image's root would (absolute targets from its root, ".." stopping
// there), up to the first component the image lacks; the rest is kept.
// The last component is resolved only when it leads to a directory.
func resolveInLayers(lowers []string, rel string) (string, error) {
	parts := strings.Split(strings.Trim(rel, "/"), "/")
	cur := ""
	for hops := 0; len(parts) > 0; {
		p := parts[0]
		parts = parts[1:]
		switch p {
		case "", ".":
			continue
		case "..":
			if cur = path.Dir(cur); cur == "." {
				cur = ""
			}
			continue
		}
		next := joinName(cur, p)
		fi, full, ok := lookupLayers(lowers, next)
		if !ok {
			return path.Join(append([]string{next}, parts...)...), nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: too many levels of symbolic links", rel)
		}
		target, err := os.Readlink(full)
		if err != nil {
			return "", err
		}
		if len(parts) == 0 {
			// The last component: follow it only to a directory.
			t := target
			if !path.IsAbs(t) {
				t = path.Join(cur, t)
			}
			r, err := resolveInLayers(lowers, t)
			if err != nil {
				return "", err
			}
			if dfi, _, ok := lookupLayers(lowers, r); ok && dfi.IsDir() {
				return r, nil
			}
			return next, nil
		}
		if path.IsAbs(target) {
			cur = ""
		}
		parts = append(strings.Split(target, "/"), parts...)
	}
	return cur, nil
}

// isWhiteout reports an overlay whiteout: a 0:0 character device.
func isWhiteout(fi fs.FileInfo) bool {
	if fi.Mode()&fs.ModeCharDevice == 0 {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && st.Rdev == 0
}

func setOwnerFromStat(hdr *tar.Header, fi fs.FileInfo) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		hdr.Uid, hdr.Gid = int(st.Uid), int(st.Gid)
	}
}

// withMergedView calls fn with a directory that shows the layers (topmost
// first) merged, read-only. The overlay is mounted in a mount namespace
// of a thread of its own, which fn runs on: nothing else sees the mount,
// and it goes with the thread (never unlocked, so the Go runtime ends it)
// however fn returns. fn must do its file access on that goroutine.
func withMergedView(lowers []string, target string, fn func(root string) error) error {
	if len(lowers) == 1 {
		return fn(lowers[0]) // one layer: the layer is the view
	}
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// A new mount namespace for this thread alone (CLONE_FS makes its
		// filesystem attributes its own first, as unshare(2) requires).
		if err := unix.Unshare(unix.CLONE_FS | unix.CLONE_NEWNS); err != nil {
			done <- fmt.Errorf("reading the source image: unshare: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			done <- fmt.Errorf("reading the source image: making / private: %w", err)
			return
		}
		if err := layers.MountOverlay(layers.Rootfs{Lower: lowers}, target); err != nil {
			done <- fmt.Errorf("reading the source image: %w", err)
			return
		}
		done <- fn(target)
	}()
	return <-done
}
