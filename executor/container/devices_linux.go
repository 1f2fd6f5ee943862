package container

import (
	"errors"
	"os"
	"path/filepath"

	securejoin "github.com/cyphar/filepath-securejoin"
	"golang.org/x/sys/unix"
)

// HostDevices lists the host's character and block devices under /dev, as
// docker gives them to a --privileged container: everything but /dev/pts,
// /dev/shm, /dev/mqueue and the nodes every container gets anyway (null,
// zero, full, random, urandom, tty, console, ptmx). Only the caller of a
// privileged container walks /dev.
func HostDevices() ([]Device, error) {
	return listDevices("/dev", lstatDevice)
}

// DeviceFromPath describes the device node at host (symbolic links
// followed), to be made at ctr inside the container (--device).
func DeviceFromPath(host, ctr string) (Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(host, &st); err != nil {
		return Device{}, &os.PathError{Op: "stat", Path: host, Err: err}
	}
	d, ok := deviceFromStat(&st)
	if !ok {
		return Device{}, &os.PathError{Op: "stat", Path: host, Err: ErrNotDevice}
	}
	d.Path = ctr
	return d, nil
}

func lstatDevice(p string) (Device, bool, error) {
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return Device{}, false, &os.PathError{Op: "lstat", Path: p, Err: err}
	}
	d, ok := deviceFromStat(&st)
	return d, ok, nil
}

func deviceFromStat(st *unix.Stat_t) (Device, bool) {
	var typ string
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = "c"
	case unix.S_IFBLK:
		typ = "b"
	default:
		return Device{}, false
	}
	return Device{
		Type: typ, Major: unix.Major(uint64(st.Rdev)), Minor: unix.Minor(uint64(st.Rdev)),
		Mode: st.Mode & 0o7777, UID: st.Uid, GID: st.Gid,
	}, true
}

// makeExtraDevices makes devs under root (the container's /dev tmpfs is
// mounted there) with their mode and owner. A node that exists already (a
// volume mounted over it, or the host's /dev bind-mounted) is left alone.
func makeExtraDevices(root string, devs []Device) error {
	if len(devs) == 0 {
		return nil
	}
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devs {
		p, err := securejoin.SecureJoin(root, d.Path)
		if err != nil {
			return &DeviceError{Op: "resolving", Device: d, Err: err}
		}
		mode := d.Mode & 0o7777
		switch d.Type {
		case "c":
			mode |= unix.S_IFCHR
		case "b":
			mode |= unix.S_IFBLK
		default:
			return &DeviceError{Op: "creating", Device: d, Err: ErrNotDevice}
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return &DeviceError{Op: "creating the directory of", Device: d, Err: err}
		}
		err = unix.Mknod(p, mode, int(unix.Mkdev(d.Major, d.Minor)))
		if errors.Is(err, unix.EEXIST) {
			continue
		}
		if errors.Is(err, unix.EPERM) {
			if _, serr := os.Lstat(p); serr == nil {
				continue
			}
		}
		if err != nil {
			return &DeviceError{Op: "creating", Device: d, Err: err}
		}
		if err := unix.Lchown(p, int(d.UID), int(d.GID)); err != nil {
			return &DeviceError{Op: "changing owner of", Device: d, Err: err}
		}
	}
	return nil
}
