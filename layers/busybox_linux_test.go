package layers

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/internal/testenv"
)

// TestMain lets the test binary stand in for `stack import` (env
// _LAYERS_FAKE_STACK=1), so scripts/busybox-image.sh can be tested without
// building cmd/stack.
func TestMain(m *testing.M) {
	if os.Getenv("_LAYERS_FAKE_STACK") == "1" {
		if err := fakeStackImport(os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, "fake stack:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeStackImport runs `[--root R] import [--change C]... [-m M] FILE TAG`.
func fakeStackImport(args []string) error {
	root := os.Getenv("STACK_ROOT")
	if len(args) >= 2 && args[0] == "--root" {
		root, args = args[1], args[2:]
	}
	if len(args) == 0 || args[0] != "import" {
		return fmt.Errorf("want import, got %q", args)
	}
	fs := flag.NewFlagSet("import", flag.ContinueOnError)
	var changes multiFlag
	fs.Var(&changes, "change", "")
	msg := fs.String("m", "", "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("want FILE TAG, got %q", fs.Args())
	}
	s, err := Open(root)
	if err != nil {
		return err
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	// The script passes only `CMD [json]` changes.
	var cfg v1.Config
	for _, c := range changes {
		rest, ok := strings.CutPrefix(c, "CMD ")
		if !ok {
			return fmt.Errorf("fake stack import: change %q: only CMD [...]", c)
		}
		if err := json.Unmarshal([]byte(rest), &cfg.Cmd); err != nil {
			return fmt.Errorf("fake stack import: change %q: %w", c, err)
		}
	}
	_, err = s.Import(f, fs.Arg(1), ImportOptions{Config: &cfg, Message: *msg})
	return err
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// TestBusyboxImage builds busybox:latest with scripts/busybox-image.sh and
// runs a shell in it (chroot into the mounted overlay).
func TestBusyboxImage(t *testing.T) {
	testenv.RequirePrivileged(t)
	if _, err := os.Stat("/bin/busybox"); err != nil {
		t.Fatal("busybox-static is not installed (apt-get install busybox-static)")
	}
	root := t.TempDir()
	self, _ := os.Executable()
	cmd := exec.Command("../scripts/busybox-image.sh", self, "--root", root)
	cmd.Env = append(os.Environ(), "_LAYERS_FAKE_STACK=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("busybox-image.sh: %v\n%s", err, out)
	}
	s, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	img, err := s.Image("busybox")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(img.Config.Config.Cmd) != "[sh]" || len(img.DiffIDs) != 1 {
		t.Fatalf("config: %+v", img.Config.Config)
	}
	r, err := s.PrepareRootfs("busybox", "bb1")
	if err != nil {
		t.Fatal(err)
	}
	m := mountpoint(t)
	if err := MountOverlay(r, m); err != nil {
		t.Fatal(err)
	}
	sh := exec.Command("/bin/sh", "-c", "echo ok; grep nobody /etc/passwd | cut -d: -f3; ls -ld /tmp | cut -c1-10; readlink /bin/ls; touch /root/x")
	sh.SysProcAttr = &syscall.SysProcAttr{Chroot: m}
	sh.Dir = "/"
	sh.Env = []string{"PATH=/bin"}
	out, err := sh.CombinedOutput()
	if err != nil {
		t.Fatalf("sh in the image: %v\n%s", err, out)
	}
	if got := string(out); got != "ok\n65534\ndrwxrwxrwt\nbusybox\n" {
		t.Fatalf("output %q", got)
	}
	if err := syscall.Unmount(m, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r.Upper, "root/x")); err != nil {
		t.Fatal("write did not land in the upper dir")
	}
	if err := s.RemoveRootfs("bb1"); err != nil {
		t.Fatal(err)
	}
}
