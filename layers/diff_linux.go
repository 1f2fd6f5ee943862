package layers

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Diff writes the changes recorded in an overlay upper directory as an
// uncompressed OCI layer tar: overlay whiteouts (0:0 character devices)
// become `.wh.NAME` entries, opaque directories (trusted. or
// user.overlay.opaque=y) get a `.wh..wh..opq` entry, hard links within the
// upper dir stay hard links, and owners, modes, nanosecond mtimes, devices
// and xattrs (but not overlay's own) are kept. Entries come in sorted order,
// so the same tree gives the same bytes. The upper dir must not change
// while it is read (container stopped or frozen): Diff does not follow
// symlinks, but a directory swapped for one mid-walk is a race it cannot close.
func Diff(upper string, w io.Writer) error {
	tw := tar.NewWriter(w)
	links := map[[2]uint64]string{}
	buf := make([]byte, 256<<10)
	err := filepath.WalkDir(upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(upper, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if rel == "." {
			rel = "" // the root entry, "./": its owner, mode and times are the rootfs root's
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return &os.PathError{Op: "lstat", Path: p, Err: err}
		}
		mtime := time.Unix(st.Mtim.Sec, st.Mtim.Nsec)
		hdr := &tar.Header{Name: rel, Mode: int64(st.Mode & 0o7777), Uid: int(st.Uid), Gid: int(st.Gid),
			ModTime: mtime, Format: tar.FormatPAX}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			if st.Rdev == 0 {
				dir, base := pathSplit(rel)
				wh := &tar.Header{Name: dir + whiteoutPrefix + base, Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX}
				return tw.WriteHeader(wh)
			}
			hdr.Typeflag = tar.TypeChar
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFBLK:
			hdr.Typeflag = tar.TypeBlock
			hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
		case unix.S_IFIFO:
			hdr.Typeflag = tar.TypeFifo
		case unix.S_IFSOCK:
			return nil // sockets are not archived
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
		case unix.S_IFDIR:
			hdr.Typeflag, hdr.Name = tar.TypeDir, rel+"/"
			if rel == "" {
				hdr.Name = "./"
			}
		case unix.S_IFREG:
			if st.Nlink > 1 {
				key := [2]uint64{st.Dev, st.Ino}
				if first, ok := links[key]; ok {
					hdr.Typeflag, hdr.Linkname = tar.TypeLink, first
					return tw.WriteHeader(hdr)
				}
				links[key] = rel
			}
			hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
		default:
			return fmt.Errorf("diff %s: unknown file type %o", p, st.Mode)
		}
		opaque, err := readXattrs(p, hdr)
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg {
			// O_NOFOLLOW: a file swapped for a symlink since the walk is not read.
			f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW, 0)
			if err != nil {
				return err
			}
			_, err = io.CopyBuffer(tw, io.LimitReader(f, hdr.Size), buf)
			f.Close()
			if err != nil {
				return fmt.Errorf("diff %s: %w", p, err)
			}
		}
		if opaque {
			return tw.WriteHeader(&tar.Header{Name: path.Join(hdr.Name, whiteoutOpaque), Typeflag: tar.TypeReg, Mode: 0o600, ModTime: mtime, Format: tar.FormatPAX})
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("diffing %s: %w", upper, err)
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("diffing %s: %w", upper, err)
	}
	return nil
}

func pathSplit(rel string) (string, string) {
	i := strings.LastIndex(rel, "/")
	return rel[:i+1], rel[i+1:]
}

// readXattrs copies a file's xattrs into hdr, except overlay's own, and
// reports whether the file is an opaque directory.
func readXattrs(p string, hdr *tar.Header) (bool, error) {
	names, err := listXattrs(p)
	if err != nil {
		return false, err
	}
	sort.Strings(names)
	opaque := false
	for _, n := range names {
		v, err := getXattr(p, n)
		if err != nil {
			return false, err
		}
		if n == "trusted.overlay.opaque" || n == "user.overlay.opaque" {
			opaque = opaque || string(v) == "y"
			continue
		}
		if strings.HasPrefix(n, "trusted.overlay.") || strings.HasPrefix(n, "user.overlay.") {
			continue
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+n] = string(v)
	}
	return opaque, nil
}

func listXattrs(p string) ([]string, error) {
	size, err := unix.Llistxattr(p, nil)
	if err != nil {
		if err == unix.ENOTSUP {
			return nil, nil
		}
		return nil, &os.PathError{Op: "listxattr", Path: p, Err: err}
	}
	if size == 0 {
		return nil, nil
	}
	buf := make([]byte, size)
	n, err := unix.Llistxattr(p, buf)
	if err != nil {
		return nil, &os.PathError{Op: "listxattr", Path: p, Err: err}
	}
	var names []string
	for _, n := range strings.Split(string(buf[:n]), "\x00") {
		if n != "" {
			names = append(names, n)
		}
	}
	return names, nil
}

func getXattr(p, name string) ([]byte, error) {
	size, err := unix.Lgetxattr(p, name, nil)
	if err != nil {
		return nil, &os.PathError{Op: "getxattr " + name, Path: p, Err: err}
	}
	buf := make([]byte, size)
	n, err := unix.Lgetxattr(p, name, buf)
	if err != nil {
		return nil, &os.PathError{Op: "getxattr " + name, Path: p, Err: err}
	}
	return buf[:n], nil
}
