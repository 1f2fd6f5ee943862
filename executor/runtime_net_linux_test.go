package executor

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/stack-dev/stack/internal/testenv"
	"github.com/stack-dev/stack/netplan"
)

// Every state root of this test binary gets a "host" network namespace of
// its own, held by an open file descriptor (no mount, no name): bridges,
// host veths, the nftables table and port probes live there, and the
// kernel removes all of it when the test binary exits. The containers' own
// namespaces are files under the root, as in production.

var hostNS struct {
	sync.Mutex
	fds map[string]int
}

func init() {
	netplanOptions = func(root string) netplan.Options {
		fd, err := testHostNS(root)
		if err != nil {
			panic(err)
		}
		exe, _ := os.Executable()
		return netplan.Options{HostNetNS: fdPath(fd),
			ProxyCommand: []string{exe, "-test.run=^TestNetProxyHelper$", "--", netplan.ProxyEntrypoint}}
	}
}

// TestNetProxyHelper is the userland proxy when this test binary is
// started as one (netplanOptions' ProxyCommand); otherwise it does nothing.
func TestNetProxyHelper(t *testing.T) {
	if a := flag.Args(); len(a) > 0 && a[0] == netplan.ProxyEntrypoint {
		os.Exit(netplan.ProxyMain(a[1:]))
	}
}

func fdPath(fd int) string { return "/proc/" + strconv.Itoa(os.Getpid()) + "/fd/" + strconv.Itoa(fd) }

// testHostNS returns the fd of root's host namespace, made on first use.
func testHostNS(root string) (int, error) {
	hostNS.Lock()
	defer hostNS.Unlock()
	if fd, ok := hostNS.fds[root]; ok {
		return fd, nil
	}
	fd, err := newNetNSFd()
	if err != nil {
		return -1, err
	}
	if hostNS.fds == nil {
		hostNS.fds = map[string]int{}
	}
	hostNS.fds[root] = fd
	// lo up: the host's 127.0.0.1 is where port maps are reached.
	if err := netplan.LoopbackUp(netplan.NetNS{Path: fdPath(fd)}); err != nil {
		return -1, err
	}
	return fd, nil
}

// newNetNSFd makes a network namespace and returns an fd holding it.
func newNetNSFd() (int, error) {
	type result struct {
		fd  int
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		defer unix.Close(orig)
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{-1, err}
			return
		}
		fd, ferr := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			ch <- result{-1, err} // the thread dies locked
			return
		}
		runtime.UnlockOSThread()
		ch <- result{fd, ferr}
	}()
	r := <-ch
	return r.fd, r.err
}

// inNetNS runs fn on a locked thread inside the namespace at path.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := unix.Open("/proc/thread-self/ns/net", unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer unix.Close(orig)
		target, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		err = unix.Setns(target, unix.CLONE_NEWNET)
		unix.Close(target)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(orig, unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// netRoot is a busybox state root whose host side is a namespace of the
// test's; at the end every container is gone (their cleanups run first),
// and the test checks that nothing of the root is left.
func netRoot(t *testing.T) (root, host string) {
	t.Helper()
	testenv.RequirePrivileged(t)
	root = busyboxRoot(t)
	fd, err := testHostNS(root)
	if err != nil {
		t.Fatal(err)
	}
	host = fdPath(fd)
	t.Cleanup(func() { assertNetClean(t, root, host) })
	return root, host
}

// assertNetClean checks that no attachment remains, removes the networks,
// then checks that no stk* link, table, netns file or record remains.
func assertNetClean(t *testing.T, root, host string) {
	t.Helper()
	ctx := context.Background()
	m, err := OpenNetworks(root)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	nets, err := m.ListNetworks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nets {
		if len(n.Endpoints) > 0 {
			for id := range n.Endpoints {
				t.Errorf("network %s: attachment of %s remains", n.Name, id)
			}
		}
		if err := m.RemoveNetwork(ctx, n.Name); err != nil {
			t.Errorf("removing network %s: %v", n.Name, err)
		}
	}
	if files, _ := filepath.Glob(filepath.Join(root, "networks", "*.json")); len(files) > 0 {
		t.Errorf("network records remain: %v", files)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "run", "netns")); len(ents) > 0 {
		t.Errorf("network namespace files remain: %v", ents)
	}
	// A removed container's veth pairs go with its namespace, which the
	// kernel tears down in the background: a bounded wait.
	links := stkLinks(t, host)
	for i := 0; i < 100 && len(links) > 0; i++ {
		time.Sleep(20 * time.Millisecond)
		links = stkLinks(t, host)
	}
	if len(links) > 0 {
		t.Errorf("links remain in the host namespace: %v", links)
	}
	out, err := exec.Command("nsenter", "--net="+host, "nft", "list", "tables").CombinedOutput()
	if err != nil {
		t.Errorf("nft list tables: %v: %s", err, out)
	} else if strings.Contains(string(out), netplan.TableName(root)) {
		t.Errorf("table %s remains", netplan.TableName(root))
	}
	mi, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mi), root) {
		t.Errorf("mounts under %s remain", root)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), "\x00"+netplan.TableName(root)) {
			t.Errorf("a proxy of the root remains: %s", strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
}

func stkLinks(t *testing.T, nsPath string) []string {
	t.Helper()
	var names []string
	err := inNetNS(nsPath, func() error {
		links, err := netlink.LinkList()
		for _, l := range links {
			if strings.HasPrefix(l.Attrs().Name, "stk") {
				names = append(names, l.Attrs().Name)
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// readUntil reads lines until one equals want (bounded by the output's end).
func readUntil(t *testing.T, br *bufio.Reader, want string) []string {
	t.Helper()
	var lines []string
	for {
		line, err := br.ReadString('\n')
		line = strings.TrimSpace(line)
		if line == want {
			return lines
		}
		if line != "" {
			lines = append(lines, line)
		}
		if err != nil {
			t.Fatalf("output ended before %q: %q", want, lines)
		}
	}
}

// ipv4Of prints the container's eth0 address, then "ready".
const ipv4Of = `ip -o -4 addr show eth0 | awk '{print $4}'; echo ready; `

func sh(script string) []string { return []string{"sh", "-c", script} }

// retry is a bounded shell retry loop around a command.
func retry(cmd string) string {
	return "for i in 1 2 3 4 5 6 7 8 9 10; do " + cmd + " && break; sleep 0.2; done"
}

func createNetwork(t *testing.T, root string, cfg netplan.NetworkConfig) *netplan.Network {
	t.Helper()
	m, err := OpenNetworks(root)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	n, err := m.CreateNetwork(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNetTwoContainersByName(t *testing.T) {
	root, _ := netRoot(t)
	createNetwork(t, root, netplan.NetworkConfig{Name: "front", Subnet: mustPrefix("172.26.0.0/16"), Gateway: mustAddr("172.26.0.1")})

	_, srv := startBusybox(t, root, RunOptions{Name: "srv", Network: "front", Command: sh(ipv4Of + "sleep 30 | nc -l -p 5000")}) // (stdin kept open: busybox nc may quit at its EOF before reading)
	srvAddr := readUntil(t, srv, "ready")
	if len(srvAddr) != 1 || !strings.HasPrefix(srvAddr[0], "172.26.") || !strings.HasSuffix(srvAddr[0], "/16") {
		t.Fatalf("server address %q, want one in 172.26.0.0/16", srvAddr)
	}
	out, code, _ := runBusybox(t, root, RunOptions{Name: "cli", Network: "front", Net: NetOptions{Aliases: []string{"client"}},
		Command: sh(ipv4Of + "grep -w srv /etc/hosts; " + retry("echo hello-from-cli | nc srv 5000"))})
	if code != 0 {
		t.Fatalf("client exit %d: %s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "172.26.") || lines[0] == srvAddr[0] {
		t.Errorf("client address %q (server %s)", lines[0], srvAddr[0])
	}
	if !strings.Contains(out, strings.TrimSuffix(srvAddr[0], "/16")+"\tsrv") {
		t.Errorf("client's /etc/hosts has no line for srv:\n%s", out)
	}
	got, _ := srv.ReadString('\n')
	if strings.TrimSpace(got) != "hello-from-cli" {
		t.Errorf("server got %q; client:\n%s", got, out)
	}
}

func TestNetNone(t *testing.T) {
	root, _ := netRoot(t)
	out, code, _ := runBusybox(t, root, RunOptions{Network: "none", Command: sh("ip -o link | awk '{print $2, $3}'")})
	if code != 0 || strings.TrimSpace(out) != "lo: <LOOPBACK,UP,LOWER_UP>" {
		t.Fatalf("exit %d, links:\n%s", code, out)
	}
}

func TestNetHost(t *testing.T) {
	root, _ := netRoot(t)
	out, code, _ := runBusybox(t, root, RunOptions{Network: "host", Command: sh("ip -o link | awk '{print $2}'")})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	links, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		if strings.HasPrefix(l.Name, "stk") || strings.HasPrefix(l.Name, "veth") {
			continue // other tests' links come and go meanwhile
		}
		if !strings.Contains(out, l.Name+":") && !strings.Contains(out, l.Name+"@") {
			t.Errorf("host link %s not seen by the container:\n%s", l.Name, out)
		}
	}
}

func TestNetContainerMode(t *testing.T) {
	root, _ := netRoot(t)
	_, x := startBusybox(t, root, RunOptions{Name: "x", Hostname: "xhost", Command: sh(ipv4Of + "while true; do echo hi-from-x | nc -l -p 6000; done")})
	xAddr := readUntil(t, x, "ready")
	out, code, _ := runBusybox(t, root, RunOptions{Network: "container:x", Command: sh(ipv4Of + "hostname; grep -c xhost /etc/hosts; " +
		retry("nc 127.0.0.1 6000 </dev/null | grep hi-from-x"))})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	want := xAddr[0] + "\nready\nxhost\n1\nhi-from-x\n"
	if out != want {
		t.Errorf("output\n%q\nwant\n%q", out, want)
	}
}

// httpGet fetches / from addr inside the namespace at nsPath (bounded retries).
func httpGet(nsPath, addr string) (string, error) {
	var last error
	for i := 0; i < 20; i++ {
		var body string
		last = inNetNS(nsPath, func() error {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err != nil {
				return err
			}
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := io.WriteString(c, "GET / HTTP/1.0\r\n\r\n"); err != nil {
				return err
			}
			b, err := io.ReadAll(c)
			body = string(b)
			return err
		})
		if last == nil {
			return body, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "", fmt.Errorf("GET http://%s/: %w", addr, last)
}

func TestNetPublish(t *testing.T) {
	root, host := netRoot(t)
	const p1, p2 = 18080, 18081
	httpd := "mkdir /www && echo hello-httpd > /www/index.html && echo ready && exec httpd -f -p 80 -h /www"
	r, out := startBusybox(t, root, RunOptions{Name: "web", Command: sh(httpd),
		Net: NetOptions{Publish: []string{"127.0.0.1:" + strconv.Itoa(p1) + ":80", "127.0.0.1::80", strconv.Itoa(p2) + ":80", "[::1]:18083:80"}}})
	readUntil(t, out, "ready")

	_, ports, err := ContainerPorts(context.Background(), root, "web")
	if err != nil {
		t.Fatal(err)
	}
	var dynamic int
	var shown []string
	for _, b := range ports {
		shown = append(shown, b.String())
		if b.HostIP.String() == "127.0.0.1" && b.HostPort != p1 {
			dynamic = int(b.HostPort)
		}
	}
	if len(ports) != 4 || dynamic == 0 {
		t.Fatalf("ports %v", shown)
	}
	if got := r.Container.Net.Ports; len(got) != 4 {
		t.Errorf("record's ports %v", got)
	}
	for _, a := range []string{"127.0.0.1:" + strconv.Itoa(p1), "127.0.0.1:" + strconv.Itoa(dynamic), "127.0.0.1:" + strconv.Itoa(p2), "[::1]:18083"} {
		body, err := httpGet(host, a)
		if err != nil {
			t.Errorf("%s: %v", a, err)
		} else if !strings.Contains(body, "hello-httpd") {
			t.Errorf("%s answered %q", a, body)
		}
	}

	// A neighbour on the same network reaches the port published on every
	// host address through the gateway (DNAT from PREROUTING).
	gw := r.Container.Net.Endpoints[0].Gateway.String()
	nout, code, _ := runBusybox(t, root, RunOptions{Command: sh(retry("wget -q -O - http://" + gw + ":" + strconv.Itoa(p2) + "/"))})
	if code != 0 || !strings.Contains(nout, "hello-httpd") {
		t.Errorf("neighbour through %s:%d: exit %d: %q", gw, p2, code, nout)
	}

	// Hairpin: the container reaches its own published port.
	var hb strings.Builder
	task, err := ExecContainer(root, "web", ExecOptions{Args: sh(retry("wget -q -O - http://" + gw + ":" + strconv.Itoa(p2) + "/")), Stdout: &hb, Stderr: &hb})
	if err != nil {
		t.Fatal(err)
	}
	if es, err := task.Wait(); err != nil || es.Code != 0 || !strings.Contains(hb.String(), "hello-httpd") {
		t.Errorf("hairpin through %s:%d: %v %+v: %q", gw, p2, err, es, hb.String())
	}

	// A host port in use is refused before anything is made.
	var l net.Listener
	if err := inNetNS(host, func() (err error) { l, err = net.Listen("tcp", "127.0.0.1:18082"); return }); err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = CreateContainer(root, &RunOptions{Image: "busybox", Name: "clash", Command: []string{"true"},
		Net: NetOptions{Publish: []string{"127.0.0.1:18082:80"}}}, nil)
	if !errors.Is(err, netplan.ErrPortInUse) || !strings.Contains(err.Error(), "127.0.0.1:18082") {
		t.Fatalf("create with a port in use: %v", err)
	}
	if _, _, err := LoadContainer(root, "clash"); !errors.Is(err, ErrContainerNotFound) {
		t.Errorf("the refused container exists: %v", err)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "run", "netns")); len(ents) != 1 { // web's
		t.Errorf("netns files after the refused create: %v", ents)
	}
}

// outsideNS makes an "outside" namespace with a veth to the host
// namespace: host side 10.199.0.1/24, outside 10.199.0.2/24. A server
// there answers each connection with the address it came from.
func outsideNS(t *testing.T, host string) {
	t.Helper()
	fd, err := newNetNSFd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	out := fdPath(fd)
	if err := netplan.LoopbackUp(netplan.NetNS{Path: out}); err != nil {
		t.Fatal(err)
	}
	err = inNetNS(host, func() error {
		la := netlink.NewLinkAttrs()
		la.Name = "tsthost0"
		if err := netlink.LinkAdd(&netlink.Veth{LinkAttrs: la, PeerName: "tstout0", PeerNamespace: netlink.NsFd(fd)}); err != nil {
			return err
		}
		l, err := netlink.LinkByName("tsthost0")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr("10.199.0.1/24")
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		return netlink.LinkSetUp(l)
	})
	if err != nil {
		t.Fatal(err)
	}
	var ln net.Listener
	err = inNetNS(out, func() error {
		l, err := netlink.LinkByName("tstout0")
		if err != nil {
			return err
		}
		a, _ := netlink.ParseAddr("10.199.0.2/24")
		if err := netlink.AddrAdd(l, a); err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		ln, err = net.Listen("tcp", "10.199.0.2:7000")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
			io.WriteString(c, "from "+host+"\n")
			c.Close()
		}
	}()
}

func TestNetMasqueradeAndInternal(t *testing.T) {
	root, host := netRoot(t)
	outsideNS(t, host)
	createNetwork(t, root, netplan.NetworkConfig{Name: "pub"})
	createNetwork(t, root, netplan.NetworkConfig{Name: "priv", Internal: true})
	out, code, _ := runBusybox(t, root, RunOptions{Network: "pub", Command: sh(retry("nc 10.199.0.2 7000 </dev/null | grep from"))})
	if code != 0 || strings.TrimSpace(out) != "from 10.199.0.1" {
		t.Fatalf("from a bridge network: exit %d: %q, want the host's address as source", code, out)
	}
	out, code, _ = runBusybox(t, root, RunOptions{Network: "priv", Command: sh("ip route; nc 10.199.0.2 7000 </dev/null && echo reached")})
	if code == 0 || strings.Contains(out, "reached") || strings.Contains(out, "default") {
		t.Fatalf("from an internal network: exit %d: %q", code, out)
	}
}

func TestNetDNSAndHostsFiles(t *testing.T) {
	root, _ := netRoot(t)
	out, code, _ := runBusybox(t, root, RunOptions{Name: "dnsbox", Command: sh("cat /etc/resolv.conf /etc/hosts"),
		Net: NetOptions{DNS: []string{"10.0.0.53"}, DNSSearch: []string{"example.com"}, DNSOptions: []string{"ndots:2"},
			ExtraHosts: []string{"db.example.com:10.0.0.7", "gw=host-gateway"}}})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, out)
	}
	m, _ := OpenNetworks(root)
	defer m.Close()
	n, err := m.InspectNetwork(context.Background(), "bridge")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"nameserver 10.0.0.53\n", "search example.com\n", "options ndots:2\n",
		"10.0.0.7\tdb.example.com\n", n.Subnet.Gateway.String() + "\tgw\n", " dnsbox\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
	if n.Subnet.Prefix.String() != "172.17.0.0/16" {
		t.Errorf("default network on %s, want 172.17.0.0/16", n.Subnet.Prefix)
	}
	// none keeps the files too.
	out, _, _ = runBusybox(t, root, RunOptions{Network: "none", Command: sh("cat /etc/resolv.conf /etc/hosts"),
		Net: NetOptions{DNS: []string{"10.0.0.53"}, ExtraHosts: []string{"db.example.com:10.0.0.7"}}})
	if !strings.Contains(out, "nameserver 10.0.0.53\n") || !strings.Contains(out, "10.0.0.7\tdb.example.com\n") {
		t.Errorf("none: %s", out)
	}
}

func TestNetRestartKeepsAddress(t *testing.T) {
	root, _ := netRoot(t)
	c, err := CreateContainer(root, &RunOptions{Image: "busybox", Command: sh("ip -o -4 addr show eth0 | awk '{print $4}'")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveContainer(root, c.ID, true, true) })
	var outs []string
	for i := 0; i < 2; i++ {
		var b strings.Builder
		r, err := StartContainer(root, c, AttachOptions{Foreground: true, Stdout: &b, Stderr: &b})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		outs = append(outs, b.String())
	}
	if outs[0] == "" || outs[0] != outs[1] {
		t.Errorf("addresses of two starts: %q", outs)
	}
}

func TestNetConnectDisconnect(t *testing.T) {
	root, _ := netRoot(t)
	ctx := context.Background()
	createNetwork(t, root, netplan.NetworkConfig{Name: "back", Subnet: mustPrefix("172.30.0.0/16")})
	r, out := startBusybox(t, root, RunOptions{Name: "svc", Command: sh("echo ready; sleep 60")})
	readUntil(t, out, "ready")
	att, err := ConnectNetwork(ctx, root, "svc", NetAttach{Name: "back", IPv4: "172.30.0.9", Aliases: []string{"db"}})
	if err != nil {
		t.Fatal(err)
	}
	if att.IfName != "eth1" || att.IP.String() != "172.30.0.9" {
		t.Errorf("attachment %+v", att)
	}
	if _, err := ConnectNetwork(ctx, root, "svc", NetAttach{Name: "back"}); err == nil {
		t.Error("a second connect to the same network succeeded")
	}
	addrs := func() string {
		var s []string
		inNetNS(r.Container.Net.NetNS, func() error {
			l, err := netlink.LinkByName("eth1")
			if err != nil {
				return err
			}
			as, _ := netlink.AddrList(l, netlink.FAMILY_V4)
			for _, a := range as {
				s = append(s, a.IPNet.String())
			}
			return nil
		})
		return strings.Join(s, ",")
	}
	if got := addrs(); got != "172.30.0.9/16" {
		t.Errorf("eth1 addresses %q", got)
	}
	hosts, _ := os.ReadFile(filepath.Join(containerDir(root, r.Container.ID), "hosts"))
	if !strings.Contains(string(hosts), "172.30.0.9\t") {
		t.Errorf("hosts file after connect:\n%s", hosts)
	}
	ns, err := ContainerNetworkSettings(ctx, root, r.Container)
	if err != nil {
		t.Fatal(err)
	}
	if b := ns.Networks["back"]; b.IPAddress != "172.30.0.9" || b.IPPrefixLen != 16 || b.Gateway != "172.30.0.1" || b.InterfaceName != "eth1" ||
		len(ns.Networks) != 2 || ns.Networks["bridge"].InterfaceName != "eth0" || ns.SandboxKey != r.Container.Net.NetNS {
		t.Errorf("network settings %+v", ns)
	}
	if err := DisconnectNetwork(ctx, root, "svc", "back"); err != nil {
		t.Fatal(err)
	}
	if got := addrs(); got != "" {
		t.Errorf("eth1 after disconnect: %q", got)
	}
	if err := DisconnectNetwork(ctx, root, "svc", "back"); err == nil {
		t.Error("a second disconnect succeeded")
	}
}

func TestNetCleanupAfterCrash(t *testing.T) {
	root, host := netRoot(t)
	ctx := context.Background()
	c, err := CreateContainer(root, &RunOptions{Image: "busybox", Name: "doomed", Command: []string{"true"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A crash that lost the container's directory: its namespace file and
	// attachment remain.
	if err := os.RemoveAll(containerDir(root, c.ID)); err != nil {
		t.Fatal(err)
	}
	releaseName(root, c.Name, c.ID)
	if len(stkLinks(t, host)) < 2 {
		t.Fatal("no veth and bridge before the cleanup")
	}
	rep, err := CleanupNetworks(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Namespaces) != 1 || rep.Namespaces[0] != c.ID {
		t.Errorf("report %+v", rep)
	}
	if rep2, err := CleanupNetworks(ctx, root); err != nil || len(rep2.Namespaces) > 0 {
		t.Errorf("second cleanup: %+v %v", rep2, err)
	}
	// The namespace of a container being created (`stack run` made it
	// before the container's directory exists) is left alone.
	opts := &RunOptions{Image: "busybox", Command: []string{"true"}}
	e, err := SpawnInit(root, opts, AttachOptions{Foreground: true})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Abort()
	if rep3, err := CleanupNetworks(ctx, root); err != nil || len(rep3.Namespaces) > 0 || !netplan.IsNetNS(netnsPath(root, opts.ID)) {
		t.Errorf("cleanup during a creation: %+v %v", rep3, err)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

// TestNetEarlyStart starts as `stack run` does: the init is spawned before
// the container exists (SpawnInit) and joins the namespace made for it.
func TestNetEarlyStart(t *testing.T) {
	root, _ := netRoot(t)
	createNetwork(t, root, netplan.NetworkConfig{Name: "front", Subnet: mustPrefix("172.26.0.0/16")})
	var out strings.Builder
	opts := &RunOptions{Image: "busybox", Network: "front", Net: NetOptions{IPv4: "172.26.0.77"},
		Command: sh("ip -o -4 addr show eth0 | awk '{print $4}'")}
	att := AttachOptions{Foreground: true, Stdout: &out, Stderr: &out}
	var err error
	if att.Early, err = SpawnInit(root, opts, att); err != nil {
		t.Fatal(err)
	}
	c, err := CreateContainer(root, opts, nil)
	if err != nil {
		att.Early.Abort()
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveContainer(root, c.ID, true, true) })
	r, err := StartContainer(root, c, att)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait(); err != nil {
		t.Fatal(err)
	}
	if out.String() != "172.26.0.77/16\n" {
		t.Errorf("output %q", out.String())
	}

	// An early start whose creation fails leaves no namespace file.
	opts = &RunOptions{Image: "no-such-image", Command: []string{"true"}}
	e, err := SpawnInit(root, opts, AttachOptions{Foreground: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateContainer(root, opts, nil); err == nil {
		t.Fatal("created a container of a missing image")
	}
	e.Abort()
	if _, err := os.Stat(netnsPath(root, opts.ID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("namespace file after Abort: %v", err)
	}
}

// TestNetContainerModeOfNoneAndHost joins a `none` container (through its
// running init) and a `host` one (the host's namespace).
func TestNetContainerModeOfNoneAndHost(t *testing.T) {
	root, _ := netRoot(t)
	_, x := startBusybox(t, root, RunOptions{Name: "lonely", Network: "none", Command: sh("echo ready; while true; do echo hi-lonely | nc -l -p 6001; done")})
	readUntil(t, x, "ready")
	out, code, _ := runBusybox(t, root, RunOptions{Network: "container:lonely", Command: sh("ip -o link | awk '{print $2}'; " +
		retry("nc 127.0.0.1 6001 </dev/null | grep hi-lonely"))})
	if code != 0 || out != "lo:\nhi-lonely\n" {
		t.Errorf("joining a none container: exit %d: %q", code, out)
	}
	startBusybox(t, root, RunOptions{Name: "hosty", Network: "host", Command: sh("sleep 60")})
	c, err := CreateContainer(root, &RunOptions{Image: "busybox", Network: "container:hosty", Command: []string{"true"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer RemoveContainer(root, c.ID, true, true)
	if !c.Runtime.Namespaces.HostNetwork {
		t.Errorf("joining a host container: namespaces %+v", c.Runtime.Namespaces)
	}
}

// TestNetStartAfterReboot: the namespace file of a stopped container is a
// plain file again (as after a reboot, /var/lib being on disk); the next
// start makes the namespace again and attaches it with the same address
// and host port.
func TestNetStartAfterReboot(t *testing.T) {
	root, host := netRoot(t)
	createNetwork(t, root, netplan.NetworkConfig{Name: "front", Subnet: mustPrefix("172.26.0.0/16")})
	c, err := CreateContainer(root, &RunOptions{Image: "busybox", Network: "front", Net: NetOptions{Publish: []string{"127.0.0.1::80"}},
		Command: sh("ip -o -4 addr show eth0 | awk '{print $4}'")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { RemoveContainer(root, c.ID, true, true) })
	start := func() string {
		var b strings.Builder
		r, err := StartContainer(root, c, AttachOptions{Foreground: true, Stdout: &b, Stderr: &b})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Wait(); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	first := start()
	// The "reboot": the mount is gone, the veth pair with it.
	if err := netplan.RemoveNetNS(c.Net.NetNS); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(c.Net.NetNS, nil, 0o444)
	if got := start(); got != first || first == "" {
		t.Errorf("address after the reboot %q, before %q", got, first)
	}
	_, ports, err := ContainerPorts(context.Background(), root, c.ID)
	if err != nil || len(ports) != 1 || ports[0] != c.Net.Ports[0] {
		t.Errorf("ports after the reboot %v (%v), before %v", ports, err, c.Net.Ports)
	}
	if n := len(stkLinks(t, host)); n != 2 {
		t.Errorf("%d stk links, want the bridge and one veth", n)
	}
}
