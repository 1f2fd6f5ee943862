package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/stack-dev/stack/internal/testenv"
	"github.com/stack-dev/stack/netplan"
)

// netTestRun runs `stack ARGS...` in-process with the calling thread inside
// the namespace at nsPath, which then plays the host for netplan.
func netTestRun(t *testing.T, nsPath string, args ...string) (string, error) {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	type result struct {
		out string
		err error
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with this goroutine
		if err := netns.Set(ns); err != nil {
			done <- result{err: err}
			return
		}
		var out bytes.Buffer
		cmd := newRootCommand()
		cmd.SetArgs(args)
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		err := cmd.ExecuteContext(context.Background())
		done <- result{out.String(), err}
	}()
	r := <-done
	return r.out, r.err
}

func TestNetworkCommands(t *testing.T) {
	testenv.RequirePrivileged(t)
	name := fmt.Sprintf("stktest-cli-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v %s", err, out)
	}
	defer exec.Command("ip", "netns", "del", name).Run()
	host := "/run/netns/" + name
	exec.Command("ip", "-n", name, "link", "set", "lo", "up").Run()
	root := t.TempDir()
	stack := func(args ...string) (string, error) {
		return netTestRun(t, host, append([]string{"--root", root}, args...)...)
	}
	must := func(args ...string) string {
		t.Helper()
		out, err := stack(args...)
		if err != nil {
			t.Fatalf("stack %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}

	must("network", "create", "--subnet", "172.26.0.0/16", "--gateway", "172.26.0.1", "front")
	if _, err := stack("network", "create", "--subnet", "172.26.1.0/24", "clash"); err == nil || !strings.Contains(err.Error(), "network front") || !strings.Contains(err.Error(), "172.26.1.0/24") {
		t.Fatalf("overlap: %v", err)
	}
	must("network", "create", "--internal", "-o", "com.docker.network.driver.mtu=1400", "-o", "com.docker.network.bridge.name=stk-cli-back", "back")
	var rows []networkRow
	if err := json.Unmarshal([]byte(must("network", "ls", "--format", "json")), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || rows[0].Name != "back" || rows[0].Bridge != "stk-cli-back" || !rows[0].Internal || rows[1].Subnet != "172.26.0.0/16" || rows[1].Gateway != "172.26.0.1" {
		t.Fatalf("ls: %+v", rows)
	}
	if out := must("network", "ls"); !strings.Contains(out, "NETWORK ID") || !strings.Contains(out, "front") {
		t.Fatalf("ls table:\n%s", out)
	}
	if out := must("network", "inspect", "front"); !strings.Contains(out, `"subnet": "172.26.0.0/16"`) {
		t.Fatalf("inspect:\n%s", out)
	}

	// A container as the runtime records it: its own network namespace
	// file, not yet on any network.
	id := strings.Repeat("ab", 32)
	cdir := filepath.Join(root, "containers", id)
	os.MkdirAll(cdir, 0o700)
	nsFile := filepath.Join(root, "run", "netns", id)
	if err := netplan.CreateNetNS(nsFile); err != nil {
		t.Fatal(err)
	}
	defer netplan.RemoveNetNS(nsFile)
	os.WriteFile(filepath.Join(cdir, "config.json"), []byte(`{"id":"`+id+`","name":"demo-web-1","network":"bridge",`+
		`"net":{"mode":"bridge","netns":"`+nsFile+`"},"seccomp_profile":"unconfined","runtime":{"hostname":"web"}}`), 0o644)
	os.WriteFile(filepath.Join(cdir, "hosts"), nil, 0o644)
	os.MkdirAll(filepath.Join(root, "names"), 0o700)
	os.Symlink(id, filepath.Join(root, "names", "demo-web-1"))

	must("network", "connect", "--alias", "api", "--ip", "172.26.0.50", "front", "demo-web-1")
	addrs, _ := exec.Command("nsenter", "--net="+nsFile, "ip", "-o", "-4", "addr", "show", "eth0").Output()
	if !strings.Contains(string(addrs), "172.26.0.50/16") {
		t.Fatalf("eth0: %s", addrs)
	}
	if hosts, _ := os.ReadFile(filepath.Join(cdir, "hosts")); !strings.Contains(string(hosts), "172.26.0.50\tweb demo-web-1 api\n") {
		t.Fatalf("hosts:\n%s", hosts)
	}
	if _, err := stack("network", "rm", "front"); err == nil {
		t.Fatal("removed a network in use")
	}

	// `stack port` reads the records; the runtime publishes through the API.
	m, err := netplan.Open(root, netplan.Options{HostNetNS: host})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	proc2 := exec.Command("unshare", "--net", "--", "busybox", "sleep", "60")
	if err := proc2.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { proc2.Process.Kill(); proc2.Wait() }()
	time.Sleep(100 * time.Millisecond)
	if _, err := m.Attach(context.Background(), netplan.AttachConfig{ContainerID: "db1", Name: "demo-db-1", Network: "front",
		NetNS: netplan.NetNS{Pid: proc2.Process.Pid}, Ports: []netplan.PortMap{{HostIP: "127.0.0.1", HostPort: 15432, ContainerPort: 5432}, {HostPort: 15353, ContainerPort: 53, Protocol: "udp"}}}); err != nil {
		t.Fatal(err)
	}
	if out := must("port", "demo-db-1"); out != "53/udp -> 0.0.0.0:15353\n5432/tcp -> 127.0.0.1:15432\n" {
		t.Fatalf("port:\n%s", out)
	}
	if out := must("port", "demo-db-1", "5432"); out != "127.0.0.1:15432\n" {
		t.Fatalf("port 5432: %q", out)
	}
	if _, err := stack("port", "demo-db-1", "80"); err == nil {
		t.Fatal("unpublished port printed")
	}
	if hosts, _ := os.ReadFile(filepath.Join(cdir, "hosts")); !strings.Contains(string(hosts), "demo-db-1") {
		t.Fatalf("hosts not refreshed:\n%s", hosts)
	}

	// The db "container" dies without a detach: prune releases it.
	proc2.Process.Kill()
	proc2.Wait()
	time.Sleep(100 * time.Millisecond)
	if out := must("network", "prune"); !strings.Contains(out, "Released endpoint front/demo-db-1") || !strings.Contains(out, "Deleted network back") {
		t.Fatalf("prune:\n%s", out)
	}
	must("network", "disconnect", "front", "demo-web-1")
	must("network", "rm", "front")
	if _, err := stack("network", "rm", "front"); err == nil {
		t.Fatal("rm of a missing network succeeded")
	}
	links, _ := exec.Command("ip", "-n", name, "-o", "link").Output()
	if strings.Contains(string(links), "stk") {
		t.Fatalf("links left:\n%s", links)
	}
	if tables, _ := exec.Command("ip", "netns", "exec", name, "nft", "list", "tables").Output(); len(tables) > 0 {
		t.Fatalf("tables left: %s", tables)
	}
}
