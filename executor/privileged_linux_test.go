package executor

import (
	"fmt"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
)

// hostBlockDevice returns the first of the host's block devices that this
// process can open for reading (a sandbox may refuse the root disk), and what
// busybox's `stat -c '%F %t:%T %a %u:%g'` says of it.
func hostBlockDevice(t *testing.T) (string, string) {
	t.Helper()
	for _, p := range []string{"/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/loop0"} {
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFBLK {
			continue
		}
		fd, err := unix.Open(p, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		unix.Close(fd)
		return p, fmt.Sprintf("block special file %x:%x %o %d:%d",
			unix.Major(st.Rdev), unix.Minor(st.Rdev), st.Mode&0o7777, st.Uid, st.Gid)
	}
	t.Skip("no readable block device among /dev/vda, /dev/sda, /dev/nvme0n1, /dev/loop0")
	return "", ""
}

func TestRunPrivilegedDevices(t *testing.T) {
	testenv.RequirePrivileged(t)
	root := busyboxRoot(t)
	dev, want := hostBlockDevice(t)
	std := "echo x > /dev/null && head -c 4 /dev/zero | wc -c && stat -c '%t:%T' /dev/null /dev/tty && ls /dev/pts"
	for _, tc := range []struct {
		name string
		opts RunOptions
		want string
		code int
	}{
		// The host's node with its numbers, mode and owner; readable (no
		// device cgroup); the container's own /dev still works.
		{"privileged", RunOptions{Privileged: true, Command: []string{"sh", "-c",
			"stat -c '%F %t:%T %a %u:%g' " + dev + " && (exec 3<" + dev + ") && echo opened && " + std}},
			want + "\nopened\n4\n1:3\n5:0\nptmx", 0},
		{"not privileged", RunOptions{Command: []string{"sh", "-c", std + " && ls " + dev}},
			"4\n1:3\n5:0\nptmx\nls: " + dev + ": No such file or directory", 1},
		// --device: the node at another path, readable and not writable
		// (the device cgroup allows "r" only).
		{"--device", RunOptions{Devices: []string{dev + ":/dev/xdev:r"}, Command: []string{"sh", "-c",
			"stat -c '%F %t:%T' /dev/xdev && (exec 3</dev/xdev) && echo opened && ls " + dev + " 2>/dev/null; echo > /dev/xdev"}},
			strings.Join(strings.Fields(want)[:4], " ") + "\nopened\nsh: can't create /dev/xdev: Operation not permitted", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tc.opts
			opts.Remove = true
			out, code, _ := runBusybox(t, root, opts)
			if got := strings.TrimRight(out, "\n"); got != tc.want || code != tc.code {
				t.Fatalf("got %q exit %d, want %q exit %d", got, code, tc.want, tc.code)
			}
		})
	}
	assertClean(t, root, nil)
}
