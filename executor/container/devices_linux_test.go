package container

import (
	"errors"
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
)

// TestHostDevices reads the real /dev (nothing is changed).
func TestHostDevices(t *testing.T) {
	devs, err := HostDevices()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Device{}
	for _, d := range devs {
		byPath[d.Path] = d
	}
	for _, p := range []string{"/dev/null", "/dev/tty", "/dev/ptmx", "/dev/console", "/dev/pts/ptmx", "/dev/stdin"} {
		if _, ok := byPath[p]; ok {
			t.Errorf("%s listed: the container makes its own", p)
		}
	}
	found := 0
	for _, p := range []string{"/dev/vda", "/dev/loop0", "/dev/sda", "/dev/kmsg"} {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			continue
		}
		found++
		d, ok := byPath[p]
		if !ok {
			t.Errorf("%s not listed", p)
			continue
		}
		typ := map[uint32]string{unix.S_IFCHR: "c", unix.S_IFBLK: "b"}[st.Mode&unix.S_IFMT]
		if d.Type != typ || d.Major != unix.Major(st.Rdev) || d.Minor != unix.Minor(st.Rdev) ||
			d.Mode != st.Mode&0o7777 || d.UID != st.Uid || d.GID != st.Gid {
			t.Errorf("%s: got %+v, stat says mode %o rdev %d:%d", p, d, st.Mode, unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
	}
	if found == 0 {
		t.Skip("this host has none of vda, loop0, sda, kmsg")
	}
}

func TestDeviceFromPath(t *testing.T) {
	d, err := DeviceFromPath("/dev/null", "/dev/mynull")
	if err != nil {
		t.Fatal(err)
	}
	if d != (Device{Path: "/dev/mynull", Type: "c", Major: 1, Minor: 3, Mode: d.Mode, UID: d.UID, GID: d.GID}) {
		t.Fatalf("got %+v", d)
	}
	if _, err := DeviceFromPath(os.TempDir(), "/x"); !errors.Is(err, ErrNotDevice) {
		t.Fatalf("a directory: got %v", err)
	}
}

// TestMakeExtraDevices makes nodes in a temporary directory (no mount).
func TestMakeExtraDevices(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := t.TempDir()
	if err := os.MkdirAll(root+"/dev", 0o755); err != nil {
		t.Fatal(err)
	}
	// An entry that is there already (a volume over it) is left alone.
	if err := os.WriteFile(root+"/dev/taken", []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	devs := []Device{
		{Path: "/dev/loopx", Type: "b", Major: 7, Minor: 0, Mode: 0o660, UID: 0, GID: 6},
		{Path: "/dev/net/tunx", Type: "c", Major: 10, Minor: 200, Mode: 0o666, UID: 1000, GID: 1000},
		{Path: "/dev/taken", Type: "c", Major: 1, Minor: 3, Mode: 0o666},
	}
	if err := makeExtraDevices(root, devs); err != nil {
		t.Fatal(err)
	}
	for _, d := range devs[:2] {
		var st unix.Stat_t
		if err := unix.Lstat(root+d.Path, &st); err != nil {
			t.Fatal(err)
		}
		if got, _ := deviceFromStat(&st); got != (Device{Type: d.Type, Major: d.Major, Minor: d.Minor, Mode: d.Mode, UID: d.UID, GID: d.GID}) {
			t.Errorf("%s: got %+v", d.Path, got)
		}
	}
	if b, _ := os.ReadFile(root + "/dev/taken"); string(b) != "mine" {
		t.Errorf("an existing entry was replaced: %q", b)
	}

	// A node that cannot be made is named.
	err := makeExtraDevices(root, []Device{{Path: "/dev/taken/sub", Type: "c", Major: 1, Minor: 3, Mode: 0o666}})
	var de *DeviceError
	if !errors.As(err, &de) || de.Device.Path != "/dev/taken/sub" || !errors.Is(err, unix.ENOTDIR) {
		t.Fatalf("got %v, want a DeviceError for /dev/taken/sub", err)
	}
	t.Log(err)
}
