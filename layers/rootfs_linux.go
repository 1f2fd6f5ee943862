package layers

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// MountError is a failed mount step.
type MountError struct {
	Op     string // "fsconfig lowerdir+", "mount", ...
	Target string
	Err    error
}

func (e *MountError) Error() string {
	return fmt.Sprintf("mounting overlay on %s: %s: %v", e.Target, e.Op, e.Err)
}
func (e *MountError) Unwrap() error { return e.Err }

// maxMountData is the kernel's limit on mount(2)'s data (one page, minus the NUL).
const maxMountData = 4095

// MountOverlay mounts r on target. It uses the new mount API (fsopen and
// one fsconfig "lowerdir+" per layer, kernel ≥ 6.8), which has no limit on
// the total length of the paths, so all 500 layers the kernel allows work.
// On older kernels it falls back to mount(2), with short relative symlink
// names (from a thread with its own cwd) when the absolute option string
// would pass 4095 bytes. A read-only rootfs of one layer is a read-only bind
// mount, since overlay needs two lowers without an upper.
func MountOverlay(r Rootfs, target string) error {
	if abs, err := filepath.Abs(target); err == nil {
		target = abs
	}
	if len(r.Lower) == 0 {
		return &MountError{Op: "options", Target: target, Err: errors.New("no lower directory")}
	}
	if r.Upper == "" && len(r.Lower) == 1 {
		if err := unix.Mount(r.Lower[0], target, "", unix.MS_BIND, ""); err != nil {
			return &MountError{Op: "bind", Target: target, Err: err}
		}
		if err := unix.Mount("", target, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			_ = unix.Unmount(target, unix.MNT_DETACH)
			return &MountError{Op: "remount ro", Target: target, Err: err}
		}
		return nil
	}
	err := mountNewAPI(r, target)
	if err == nil {
		return nil
	}
	var me *MountError
	if !errors.As(err, &me) || !(errors.Is(err, unix.ENOSYS) || (me.Op == "fsconfig lowerdir+" && errors.Is(err, unix.EINVAL))) {
		return err
	}
	return mountClassic(r, target)
}

func mountNewAPI(r Rootfs, target string) error {
	fd, err := unix.Fsopen("overlay", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return &MountError{Op: "fsopen", Target: target, Err: err}
	}
	defer unix.Close(fd)
	set := func(key, val string) error {
		if err := unix.FsconfigSetString(fd, key, val); err != nil {
			return &MountError{Op: "fsconfig " + key, Target: target, Err: fsError(fd, err)}
		}
		return nil
	}
	for _, l := range r.Lower {
		if err := set("lowerdir+", l); err != nil {
			return err
		}
	}
	var attr int
	if r.Upper != "" {
		if err := set("upperdir", r.Upper); err != nil {
			return err
		}
		if err := set("workdir", r.Work); err != nil {
			return err
		}
	} else {
		attr = unix.MOUNT_ATTR_RDONLY
	}
	if err := unix.FsconfigCreate(fd); err != nil {
		return &MountError{Op: "fsconfig create", Target: target, Err: fsError(fd, err)}
	}
	mfd, err := unix.Fsmount(fd, unix.FSMOUNT_CLOEXEC, attr)
	if err != nil {
		return &MountError{Op: "fsmount", Target: target, Err: err}
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return &MountError{Op: "move_mount", Target: target, Err: err}
	}
	return nil
}

// fsError adds the kernel's message from the fs context, if any.
func fsError(fd int, err error) error {
	buf := make([]byte, 512)
	n, rerr := unix.Read(fd, buf)
	if rerr != nil || n <= 0 {
		return err
	}
	return fmt.Errorf("%w (%s)", err, strings.TrimSpace(string(buf[:n])))
}

func mountClassic(r Rootfs, target string) error {
	opts := r.MountOptions()
	if len(opts) <= maxMountData {
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			return &MountError{Op: "mount", Target: target, Err: err}
		}
		return nil
	}
	// Short names: <dir of Work>/.lowers/<n> → lower; mount from a thread
	// whose cwd is that dir (CLONE_FS unshared, so the process cwd is untouched).
	links, err := os.MkdirTemp(filepath.Dir(r.Work), ".lowers-")
	if err != nil {
		return &MountError{Op: "short names", Target: target, Err: err}
	}
	defer os.RemoveAll(links)
	names := make([]string, len(r.Lower))
	for i, l := range r.Lower {
		names[i] = strconv.FormatInt(int64(i), 36)
		if err := os.Symlink(l, filepath.Join(links, names[i])); err != nil {
			return &MountError{Op: "short names", Target: target, Err: err}
		}
	}
	short := Rootfs{Lower: names, Upper: r.Upper, Work: r.Work}
	opts = short.MountOptions()
	if len(opts) > maxMountData {
		return &MountError{Op: "mount", Target: target, Err: fmt.Errorf("options are %d bytes even with short names (limit %d)", len(opts), maxMountData)}
	}
	done := make(chan error, 1)
	go func() {
		// This thread's fs state diverges from the process: never unlock it,
		// so the runtime discards the thread when the goroutine ends.
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			done <- &MountError{Op: "unshare CLONE_FS", Target: target, Err: err}
			return
		}
		if err := unix.Chdir(links); err != nil {
			done <- &MountError{Op: "chdir", Target: target, Err: err}
			return
		}
		if err := unix.Mount("overlay", target, "overlay", 0, opts); err != nil {
			done <- &MountError{Op: "mount", Target: target, Err: err}
			return
		}
		done <- nil
	}()
	return <-done
}
