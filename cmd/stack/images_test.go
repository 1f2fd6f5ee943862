package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/layers"
)

func TestParseRmiArgs(t *testing.T) {
	tests := []struct {
		args   []string
		force  bool
		images []string
		root   string
	}{
		{[]string{"busybox"}, false, []string{"busybox"}, ""},
		{[]string{"-f", "a", "b"}, true, []string{"a", "b"}, ""},
		{[]string{"a", "--force"}, true, []string{"a"}, ""},
		{[]string{"--root", "/r", "a"}, false, []string{"a"}, "/r"},
		{[]string{"--root=/r2", "-f", "--", "-weird"}, true, []string{"-weird"}, "/r2"},
	}
	for _, tc := range tests {
		global.root = ""
		opts, images, help, err := parseRmiArgs(tc.args)
		if err != nil || help {
			t.Fatalf("%v: %v %v", tc.args, err, help)
		}
		if opts.force != tc.force || !cmp.Equal(images, tc.images) || global.root != tc.root {
			t.Errorf("%v: force %v images %v root %q", tc.args, opts.force, images, global.root)
		}
	}
	if _, _, _, err := parseRmiArgs([]string{"--bogus", "a"}); err == nil {
		t.Error("unknown flag accepted")
	}
	if _, _, help, _ := parseRmiArgs([]string{"-h"}); !help {
		t.Error("-h is not help")
	}
	global.root = ""
}

func TestImageRows(t *testing.T) {
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	imgs := []*layers.Image{
		{ID: "sha256:aaa", RepoTags: []string{"busybox:latest", "quay.io/x/y:1"}, Size: 10, Config: v1.ConfigFile{Created: v1.Time{Time: created}}},
		{ID: "sha256:bbb", Size: 5},
	}
	rows, err := imageRows(imgs, "")
	if err != nil {
		t.Fatal(err)
	}
	var got [][2]string
	for _, r := range rows {
		got = append(got, [2]string{r.Repository, r.Tag})
	}
	want := [][2]string{{"busybox", "latest"}, {"quay.io/x/y", "1"}, {"<none>", "<none>"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	rows, _ = imageRows(imgs, "busybox")
	if len(rows) != 1 || rows[0].Repository != "busybox" {
		t.Errorf("filter: %+v", rows)
	}
}

func TestHumanSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0B", 999: "999B", 1000: "1kB", 1982377: "1.98MB", 210000000: "210MB"} {
		if got := humanSize(n); got != want {
			t.Errorf("humanSize(%d) = %q, want %q", n, got, want)
		}
	}
}
