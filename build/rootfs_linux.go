package build

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/layers"
)

// lookupLayers finds rel in an image's layer directories (topmost first)
// as overlay would show it: the first layer that has it wins, and a
// whiteout there hides it. (Opaque directories above are not consulted:
// the lookups it serves — COPY destinations, /etc/passwd — do not need it.)
func lookupLayers(lowers []string, rel string) (fs.FileInfo, bool) {
	if rel == "" || rel == "." {
		return nil, false
	}
	for _, l := range lowers {
		fi, err := os.Lstat(filepath.Join(l, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		if isWhiteout(fi) {
			return nil, false
		}
		return fi, true
	}
	return nil, false
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
