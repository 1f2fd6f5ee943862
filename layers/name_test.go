package layers

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseReference(t *testing.T) {
	dg := "sha256:" + "ab" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcd"
	tests := []struct {
		in        string
		canonical string
		familiar  string
	}{
		{"busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"},
		{"library/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"},
		{"index.docker.io/library/busybox:x", "docker.io/library/busybox:x", "busybox:x"},
		{"me/app:v1", "docker.io/me/app:v1", "me/app:v1"},
		{"localhost:5000/ns/app:tag", "localhost:5000/ns/app:tag", "localhost:5000/ns/app:tag"},
		{"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest", "127.0.0.1:5000/app:latest"},
		{"quay.io/a/b/c:d", "quay.io/a/b/c:d", "quay.io/a/b/c:d"},
		{"busybox@" + dg, "docker.io/library/busybox@" + dg, "busybox@" + dg},
		{"busybox:1@" + dg, "docker.io/library/busybox:1@" + dg, "busybox:1@" + dg},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseReference(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.canonical, r.String()); diff != "" {
				t.Errorf("canonical (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.familiar, r.Familiar()); diff != "" {
				t.Errorf("familiar (-want +got):\n%s", diff)
			}
		})
	}
	for _, bad := range []string{"", "UPPER", "a b", "busybox@sha256:short", "-x", "a:b:c"} {
		if _, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q): want error", bad)
		}
	}
}
