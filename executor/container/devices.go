package container

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
)

// Device is a device node the container's init makes in its /dev besides the
// standard ones: the host's devices for --privileged, or one --device.
type Device struct {
	Path  string `json:"path"` // inside the container, e.g. /dev/vda
	Type  string `json:"type"` // "c" (character) or "b" (block)
	Major uint32 `json:"major"`
	Minor uint32 `json:"minor"`
	Mode  uint32 `json:"mode"` // permission bits, e.g. 0o660
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
}

// Rule is the device's v1 device-cgroup rule with the given permissions
// ("rwm" or a subset), e.g. "b 254:0 rwm".
func (d Device) Rule(perms string) string {
	return fmt.Sprintf("%s %d:%d %s", d.Type, d.Major, d.Minor, perms)
}

// DeviceError names the device node the init could not make (STYLE.md §6,
// as MountError does for mounts).
type DeviceError struct {
	Op     string // "creating", "changing owner of"
	Device Device
	Err    error
}

func (e *DeviceError) Error() string {
	d := e.Device
	return fmt.Sprintf("%s device %s (%s %d:%d): %v", e.Op, d.Path, d.Type, d.Major, d.Minor, e.Err)
}

func (e *DeviceError) Unwrap() error { return e.Err }

// ErrNotDevice is returned by DeviceFromPath for a path that is neither a
// character nor a block device.
var ErrNotDevice = errors.New("not a device node")

// skippedDevDirs are the directories of the host's /dev a privileged
// container does not copy: it has its own pts, shm and mqueue, fd is a link
// to /proc, and the others are bookkeeping of udev and lxc.
var skippedDevDirs = map[string]bool{
	"pts": true, "shm": true, "mqueue": true, "fd": true,
	".udev": true, ".lxc": true, ".lxd-mounts": true,
}

// standardDevices are the nodes the init always makes in /dev (makeDevices,
// the console and devpts' ptmx): the host's are not copied over them.
var standardDevices = map[string]bool{
	"null": true, "zero": true, "full": true, "random": true, "urandom": true,
	"tty": true, "console": true, "ptmx": true,
}

// deviceStat reports what the node at path is: ok is false for anything that
// is not a character or block device (symbolic links are not followed).
type deviceStat func(path string) (d Device, ok bool, err error)

// listDevices walks dir (the host's /dev) and returns its character and block
// devices with Path relative to dir under "/dev", in lexical order, except
// the skipped directories and the standard devices at its top. A node that
// disappears during the walk is left out.
func listDevices(dir string, stat deviceStat) ([]Device, error) {
	var devs []Device
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && p != dir {
				return nil
			}
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		top := !strings.Contains(rel, string(filepath.Separator))
		if e.IsDir() {
			if top && skippedDevDirs[rel] {
				return filepath.SkipDir
			}
			return nil
		}
		if top && standardDevices[rel] {
			return nil
		}
		d, ok, err := stat(p)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		d.Path = "/dev/" + filepath.ToSlash(rel)
		devs = append(devs, d)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing devices in %s: %w", dir, err)
	}
	return devs, nil
}

// ParseDeviceSpec splits docker's --device HOST[:CONTAINER[:PERMS]]: the
// container path defaults to the host's, the permissions to "rwm".
func ParseDeviceSpec(s string) (host, ctr, perms string, err error) {
	parts := strings.Split(s, ":")
	perms = "rwm"
	switch len(parts) {
	case 3:
		perms = parts[2]
		ctr = parts[1]
	case 2:
		if validDevicePerms(parts[1]) {
			perms = parts[1]
		} else {
			ctr = parts[1]
		}
	case 1:
	default:
		return "", "", "", fmt.Errorf("invalid device specification: %s", s)
	}
	host = parts[0]
	if ctr == "" {
		ctr = host
	}
	if !strings.HasPrefix(host, "/") || !strings.HasPrefix(ctr, "/") {
		return "", "", "", fmt.Errorf("invalid device specification: %s: paths must be absolute", s)
	}
	if !validDevicePerms(perms) {
		return "", "", "", fmt.Errorf("invalid device specification: %s: bad cgroup permissions %q", s, perms)
	}
	return host, filepath.Clean(ctr), perms, nil
}

func validDevicePerms(p string) bool {
	if p == "" || len(p) > 3 {
		return false
	}
	for _, c := range p {
		if c != 'r' && c != 'w' && c != 'm' {
			return false
		}
	}
	return true
}
