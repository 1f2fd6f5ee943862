package container

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestResolveUser(t *testing.T) {
	passwd := "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000::/home/app:/bin/sh\n"
	group := "root:x:0:\nnogroup:x:65534:\napp:x:1000:\ndocker:x:999:app,other\nwheel:x:10:app\n"
	for _, tc := range []struct {
		spec string
		add  []string
		want ExecUser
		err  string
	}{
		{"", nil, ExecUser{UID: 0, GID: 0, Home: "/root"}, ""},
		{"nobody", nil, ExecUser{UID: 65534, GID: 65534, Home: "/nonexistent"}, ""},
		{"app", nil, ExecUser{UID: 1000, GID: 1000, Groups: []int{999, 10}, Home: "/home/app"}, ""},
		{"app:docker", nil, ExecUser{UID: 1000, GID: 999, Home: "/home/app"}, ""},
		{"1000:5", []string{"wheel", "77"}, ExecUser{UID: 1000, GID: 5, Groups: []int{10, 77}, Home: "/home/app"}, ""},
		{"4242", nil, ExecUser{UID: 4242, GID: 0, Home: "/"}, ""},
		{"ghost", nil, ExecUser{}, "unable to find user ghost: no matching entries in passwd file"},
		{"app:ghosts", nil, ExecUser{}, "unable to find group ghosts: no matching entries in group file"},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			got, err := ResolveUser(tc.spec, strings.NewReader(passwd), strings.NewReader(group), tc.add)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatal(d)
			}
		})
	}
}

func TestCapabilities(t *testing.T) {
	m, err := CapabilityMask(DefaultCapabilities)
	if err != nil || m != 0xa80425fb {
		t.Fatalf("docker's default set = %#x, %v; want 0xa80425fb", m, err)
	}
	got, err := AdjustCapabilities(DefaultCapabilities, []string{"sys_admin", "CAP_NET_ADMIN"}, []string{"ALL"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"CAP_NET_ADMIN", "CAP_SYS_ADMIN"}, got); d != "" {
		t.Fatal(d)
	}
	if _, err := AdjustCapabilities(nil, []string{"bogus"}, nil); err == nil {
		t.Fatal("unknown capability: want an error")
	}
}

func TestParseMountOptions(t *testing.T) {
	p := parseMountOptions(&Mount{Type: "tmpfs", Options: []string{"nosuid", "ro", "size=1m", "mode=755", "rprivate"}})
	if p.data != "size=1m,mode=755" || p.propagation == 0 || p.flags == 0 {
		t.Fatalf("%+v", p)
	}
}
