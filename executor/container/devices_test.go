package container

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestListDevices(t *testing.T) {
	dir := t.TempDir()
	// A fake /dev: regular files stand for nodes, fakeStat says what they are.
	for _, p := range []string{
		"null", "zero", "tty", "console", "ptmx", "vda", "loop0", "kmsg", "notadevice",
		"net/tun", "pts/0", "shm/x", "mqueue/q", "cpu/0/msr", "gone",
	} {
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/proc/self/fd", filepath.Join(dir, "fd")); err != nil {
		t.Fatal(err)
	}
	nodes := map[string]Device{
		"null": {Type: "c", Major: 1, Minor: 3, Mode: 0o666}, "zero": {Type: "c", Major: 1, Minor: 5, Mode: 0o666},
		"tty": {Type: "c", Major: 5, Minor: 0, Mode: 0o666}, "console": {Type: "c", Major: 5, Minor: 1, Mode: 0o600},
		"ptmx":      {Type: "c", Major: 5, Minor: 2, Mode: 0o666},
		"vda":       {Type: "b", Major: 254, Minor: 0, Mode: 0o660, GID: 6},
		"loop0":     {Type: "b", Major: 7, Minor: 0, Mode: 0o600},
		"kmsg":      {Type: "c", Major: 1, Minor: 11, Mode: 0o644},
		"net/tun":   {Type: "c", Major: 10, Minor: 200, Mode: 0o666},
		"pts/0":     {Type: "c", Major: 136, Minor: 0, Mode: 0o620, UID: 1000, GID: 5},
		"cpu/0/msr": {Type: "c", Major: 202, Minor: 0, Mode: 0o600},
	}
	var statted []string
	stat := func(p string) (Device, bool, error) {
		rel, _ := filepath.Rel(dir, p)
		statted = append(statted, rel)
		if rel == "gone" {
			return Device{}, false, &fs.PathError{Op: "lstat", Path: p, Err: fs.ErrNotExist}
		}
		d, ok := nodes[filepath.ToSlash(rel)]
		return d, ok, nil
	}
	got, err := listDevices(dir, stat)
	if err != nil {
		t.Fatal(err)
	}
	want := []Device{
		{Path: "/dev/cpu/0/msr", Type: "c", Major: 202, Minor: 0, Mode: 0o600},
		{Path: "/dev/kmsg", Type: "c", Major: 1, Minor: 11, Mode: 0o644},
		{Path: "/dev/loop0", Type: "b", Major: 7, Minor: 0, Mode: 0o600},
		{Path: "/dev/net/tun", Type: "c", Major: 10, Minor: 200, Mode: 0o666},
		{Path: "/dev/vda", Type: "b", Major: 254, Minor: 0, Mode: 0o660, GID: 6},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	for _, s := range statted {
		switch s {
		case "null", "zero", "tty", "console", "ptmx", "pts/0", "shm/x", "mqueue/q":
			t.Errorf("%s was looked at: standard devices and skipped directories need no stat", s)
		}
	}

	boom := errors.New("boom")
	if _, err := listDevices(dir, func(string) (Device, bool, error) { return Device{}, false, boom }); !errors.Is(err, boom) {
		t.Fatalf("a stat error: got %v", err)
	}
	if _, err := listDevices(filepath.Join(dir, "nosuch"), stat); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a missing /dev: got %v", err)
	}
}

func TestParseDeviceSpec(t *testing.T) {
	for _, tc := range []struct {
		in, host, ctr, perms string
		bad                  bool
	}{
		{in: "/dev/loop0", host: "/dev/loop0", ctr: "/dev/loop0", perms: "rwm"},
		{in: "/dev/loop0:/dev/xvda", host: "/dev/loop0", ctr: "/dev/xvda", perms: "rwm"},
		{in: "/dev/loop0:r", host: "/dev/loop0", ctr: "/dev/loop0", perms: "r"},
		{in: "/dev/loop0:/dev/xvda:rw", host: "/dev/loop0", ctr: "/dev/xvda", perms: "rw"},
		{in: "/dev/loop0:/dev/xvda:rwx", bad: true},
		{in: "/dev/loop0:xvda", bad: true},
		{in: "loop0", bad: true},
		{in: "/a:/b:r:x", bad: true},
	} {
		h, c, p, err := ParseDeviceSpec(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("%s: no error", tc.in)
			}
			continue
		}
		if err != nil || h != tc.host || c != tc.ctr || p != tc.perms {
			t.Errorf("%s: got %q %q %q %v", tc.in, h, c, p, err)
		}
	}
	if r := (Device{Type: "b", Major: 7, Minor: 0}).Rule("rw"); r != "b 7:0 rw" {
		t.Errorf("rule %q", r)
	}
}
