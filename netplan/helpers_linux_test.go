package netplan

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-dev/stack/internal/testenv"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// A privileged test builds its "host" in a network namespace of its own
// (ip netns add stktest-...), simulates containers as further namespaces,
// and checks at the end that no stk* link, table, record or proxy is left.

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// testNS creates a named network namespace with lo up, deleted at cleanup.
func testNS(t testing.TB, role string) string {
	t.Helper()
	name := "stktest-" + role + "-" + randHex(3)
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add %s: %v: %s", name, err, out)
	}
	t.Cleanup(func() { exec.Command("ip", "netns", "del", name).Run() })
	run(t, "ip", "-n", name, "link", "set", "lo", "up")
	return name
}

func nsPath(name string) string { return "/run/netns/" + name }

func run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// inNamed runs a command inside the named namespace, with a timeout.
func inNamed(ns string, timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	return string(out), err
}

// background starts a long-running command in a namespace, killed at cleanup.
func background(t testing.TB, ns string, stdout *bytes.Buffer, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	if stdout != nil {
		cmd.Stdout = stdout
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

// httpdIn serves "hello from <ns>" on port 80 of a namespace.
func httpdIn(t testing.TB, ns string) string {
	t.Helper()
	dir := t.TempDir()
	body := "hello from " + ns
	if err := os.WriteFile(filepath.Join(dir, "index.html"), []byte(body+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	background(t, ns, nil, "busybox", "httpd", "-f", "-p", "80", "-h", dir)
	return body
}

// get fetches a URL from inside a namespace, retrying briefly (bounded).
// (busybox 1.35 wget -T segfaults here: the timeout is the context's.)
func get(ns, url string) (string, error) {
	var out string
	var err error
	for i := 0; i < 20; i++ {
		out, err = inNamed(ns, 5*time.Second, "busybox", "wget", "-q", "-O", "-", url)
		if err == nil {
			return out, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return out, fmt.Errorf("GET %s in %s: %v: %s", url, ns, err, out)
}

func openManager(t testing.TB, hostNS string) *Manager {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	m, err := Open(t.TempDir(), Options{HostNetNS: nsPath(hostNS), ProxyCommand: []string{exe, ProxyEntrypoint}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// setup is the common start of every privileged test.
func setup(t testing.TB) (*Manager, string) {
	t.Helper()
	testenv.RequirePrivileged(t)
	host := testNS(t, "host")
	m := openManager(t, host)
	t.Cleanup(func() { assertClean(t, m, host) })
	return m, host
}

// assertClean fails when anything of m is left in the host namespace.
func assertClean(t testing.TB, m *Manager, host string) {
	t.Helper()
	k := m.k.(*linuxKernel)
	links, err := k.h.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Attrs().Name, "stk") {
			t.Errorf("leaked link %s", l.Attrs().Name)
		}
	}
	if ok, err := k.tableExists(m.Table()); err != nil || ok {
		t.Errorf("table %s left (err %v)", m.Table(), err)
	}
	files, _ := filepath.Glob(filepath.Join(m.st.dir, "*.json"))
	if len(files) > 0 {
		t.Errorf("records left: %v", files)
	}
	if p := k.orphanProxies(m.Table()); len(p) > 0 {
		t.Errorf("proxies left: %v", p)
	}
}

// outside makes an "outside" namespace linked to host by a veth pair:
// host side hostAddr, outside side outAddr (both /24).
func outside(t testing.TB, host string, hostAddr, outAddr string) string {
	t.Helper()
	out := testNS(t, "out")
	a, b := "tvh"+randHex(3), "tvo"+randHex(3)
	run(t, "ip", "-n", host, "link", "add", a, "type", "veth", "peer", "name", b, "netns", out)
	run(t, "ip", "-n", host, "addr", "add", hostAddr+"/24", "dev", a)
	run(t, "ip", "-n", host, "link", "set", a, "up")
	run(t, "ip", "-n", out, "addr", "add", outAddr+"/24", "dev", b)
	run(t, "ip", "-n", out, "link", "set", b, "up")
	return out
}

// listenIn listens on addr inside a namespace; the socket stays there.
func listenIn(t testing.TB, ns, addr string) net.Listener {
	t.Helper()
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var l net.Listener
	if err := inNS(h, func() (err error) { l, err = net.Listen("tcp", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// dialIn connects from inside a namespace.
func dialIn(ns, addr string) (net.Conn, error) {
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		return nil, err
	}
	defer h.Close()
	var c net.Conn
	err = inNS(h, func() (err error) { c, err = net.DialTimeout("tcp", addr, 3*time.Second); return })
	return c, err
}

func linkAddrs(t testing.TB, ns, ifname string) []string {
	t.Helper()
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	defer nh.Close()
	l, err := nh.LinkByName(ifname)
	if err != nil {
		t.Fatalf("%s in %s: %v", ifname, ns, err)
	}
	as, _ := nh.AddrList(l, netlink.FAMILY_V4)
	var out []string
	for _, a := range as {
		out = append(out, a.IPNet.String())
	}
	return out
}

// udpEchoIn echoes UDP datagrams on addr inside a namespace.
func udpEchoIn(t testing.TB, ns, addr string) net.PacketConn {
	t.Helper()
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var pc net.PacketConn
	if err := inNS(h, func() (err error) { pc, err = net.ListenPacket("udp", addr); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	return pc
}

// udpAsk sends msg to addr from inside a namespace and returns the answer
// (a few bounded tries: UDP may be dropped).
func udpAsk(ns, addr, msg string) (string, error) {
	h, err := netns.GetFromPath(nsPath(ns))
	if err != nil {
		return "", err
	}
	defer h.Close()
	var c net.Conn
	if err := inNS(h, func() (err error) { c, err = net.Dial("udp", addr); return }); err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i := 0; i < 5; i++ {
		c.Write([]byte(msg))
		c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no answer from %s", addr)
}
