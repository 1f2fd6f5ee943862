package netplan

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// CreateNetNS makes a new network namespace that outlives every process in
// it: the namespace is bind-mounted onto path (a regular file, created),
// as `ip netns add` does, and lo is brought up in it. A container that
// joins it (container.Namespaces.NetPath) keeps its interfaces and
// addresses across restarts; RemoveNetNS releases it.
//
// The namespace is made by unshare(CLONE_NEWNET) on a locked OS thread,
// which then returns to its original namespace. If it cannot return, it
// stays locked and the Go runtime destroys it when the goroutine ends, so
// no other goroutine ever runs in the new namespace.
func CreateNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("creating network namespace %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL|unix.O_CLOEXEC, 0o444)
	if err != nil {
		return fmt.Errorf("creating network namespace %s: %w", path, err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- os.NewSyscallError("unshare", err)
			return
		}
		// The thread's own namespace file, bound onto path: the mount
		// holds a reference to the namespace (nsfs).
		merr := unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(merr, os.NewSyscallError("setns", err))
			return // the thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		if merr != nil {
			merr = &os.PathError{Op: "bind-mounting network namespace onto", Path: path, Err: merr}
		}
		errc <- merr
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return fmt.Errorf("creating network namespace %s: %w", path, err)
	}
	if err := LoopbackUp(NetNS{Path: path}); err != nil {
		RemoveNetNS(path)
		return err
	}
	return nil
}

// RemoveNetNS unmounts and removes a namespace file made by CreateNetNS.
// The namespace itself goes once no process and no other mount holds it.
// Removing an absent file is a no-op.
func RemoveNetNS(path string) error {
	err := unix.Unmount(path, unix.MNT_DETACH)
	if err != nil && err != unix.EINVAL && err != unix.ENOENT {
		return fmt.Errorf("removing network namespace %s: %w", path, &os.PathError{Op: "umount", Path: path, Err: err})
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing network namespace %s: %w", path, err)
	}
	return nil
}

// IsNetNS reports whether path is a mounted network namespace file.
func IsNetNS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}
