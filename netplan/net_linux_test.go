package netplan

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stack-dev/stack/internal/testenv"
)

func TestBridgeTwoContainers(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, NetworkConfig{Name: "front", Subnet: pfx("172.26.0.0/16"), Gateway: addr("172.26.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.RemoveNetwork(ctx, "front") })
	if again, err := m.CreateNetwork(ctx, NetworkConfig{Name: "front"}); err != nil || again.ID != n.ID {
		t.Fatalf("create again: %v", err)
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "front", Internal: true}); !errors.Is(err, ErrConflict) {
		t.Fatalf("conflicting create: %v", err)
	}
	if got := linkAddrs(t, host, n.Bridge); len(got) != 1 || got[0] != "172.26.0.1/16" {
		t.Fatalf("bridge addresses %v", got)
	}

	// a: a named namespace given by path; b: a process's namespace given by pid.
	a := testNS(t, "a")
	b := exec.Command("unshare", "--net", "--", "busybox", "sleep", "60")
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Process.Kill(); b.Wait() })
	waitOwnNetNS(t, b.Process.Pid)
	bPath := fmt.Sprintf("/proc/%d/ns/net", b.Process.Pid)

	dir := t.TempDir()
	hostsA, hostsB := filepath.Join(dir, "hosts-a"), filepath.Join(dir, "hosts-b")
	attA, err := m.Attach(ctx, AttachConfig{ContainerID: "aaaa1111", Name: "p-a-1", Aliases: []string{"a"}, Network: "front",
		NetNS: NetNS{Path: nsPath(a)}, Hosts: HostsSpec{Path: hostsA, Hostname: "aaaa1111", ExtraHosts: []HostEntry{{Name: "db.example.com", IP: addr("10.0.0.7")}}}})
	if err != nil {
		t.Fatal(err)
	}
	attB, err := m.Attach(ctx, AttachConfig{ContainerID: "bbbb2222", Name: "p-b-1", Aliases: []string{"b"}, Network: "front",
		NetNS: NetNS{Pid: b.Process.Pid}, Hosts: HostsSpec{Path: hostsB, Hostname: "bbbb2222"}})
	if err != nil {
		t.Fatal(err)
	}
	if attA.IP != addr("172.26.0.2") || attB.IP != addr("172.26.0.3") || attA.IfName != "eth0" {
		t.Fatalf("addresses %v %v", attA, attB)
	}
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "hosty", Name: "hosty", Network: "front", NetNS: NetNS{Path: nsPath(host)}}); err == nil || !strings.Contains(err.Error(), "host's own") {
		t.Fatalf("attach of the host namespace: %v", err)
	}
	if again, err := m.Attach(ctx, AttachConfig{ContainerID: "aaaa1111", Name: "p-a-1", Network: "front", NetNS: NetNS{Path: nsPath(a)}}); err != nil || again.IP != attA.IP {
		t.Fatalf("attach again: %v %v", again, err)
	}
	if got := linkAddrs(t, a, "eth0"); len(got) != 1 || got[0] != "172.26.0.2/16" {
		t.Fatalf("eth0 of a: %v", got)
	}
	routes, _ := exec.Command("nsenter", "--net="+bPath, "ip", "route").Output()
	if !strings.Contains(string(routes), "default via 172.26.0.1 dev eth0") {
		t.Fatalf("routes of b:\n%s", routes)
	}

	// b listens, a sends.
	var got bytes.Buffer
	srv := exec.Command("nsenter", "--net="+bPath, "busybox", "nc", "-l", "-p", "7000")
	srv.Stdout = &got
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill() })
	sent := false
	for i := 0; i < 30 && !sent; i++ {
		c := exec.Command("ip", "netns", "exec", a, "busybox", "nc", "-w", "2", "172.26.0.3", "7000")
		c.Stdin = strings.NewReader("hello from a\n")
		sent = c.Run() == nil
		if !sent {
			time.Sleep(100 * time.Millisecond)
		}
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("nc server did not finish")
	}
	if !sent || got.String() != "hello from a\n" {
		t.Fatalf("sent %v, b received %q", sent, got.String())
	}

	// hosts files know each other.
	ha, _ := os.ReadFile(hostsA)
	for _, want := range []string{"172.26.0.2\taaaa1111 p-a-1 a\n", "172.26.0.3\tp-b-1 b\n", "10.0.0.7\tdb.example.com\n", "127.0.0.1\tlocalhost\n"} {
		if !strings.Contains(string(ha), want) {
			t.Errorf("hosts of a lacks %q:\n%s", want, ha)
		}
	}
	if hb, _ := os.ReadFile(hostsB); !strings.Contains(string(hb), "172.26.0.2\tp-a-1 a\n") {
		t.Errorf("hosts of b:\n%s", hb)
	}
	if err := m.RemoveNetwork(ctx, "front"); !errors.Is(err, ErrNetworkInUse) {
		t.Fatalf("remove in use: %v", err)
	}

	// b goes: a's hosts file forgets it, b's veth goes.
	if err := m.Detach(ctx, "bbbb2222", "front"); err != nil {
		t.Fatal(err)
	}
	if err := m.Detach(ctx, "bbbb2222", "front"); err != nil {
		t.Fatalf("detach twice: %v", err)
	}
	if ha, _ := os.ReadFile(hostsA); strings.Contains(string(ha), "p-b-1") {
		t.Errorf("hosts of a still has b:\n%s", ha)
	}
	if ok, _ := m.k.linkExists(attB.Veth); ok {
		t.Fatal("veth of b left")
	}
	// the address is released and reused
	if err := m.DetachAll(ctx, "aaaa1111"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveNetwork(ctx, "front"); err != nil {
		t.Fatal(err)
	}
	if err := m.RemoveNetwork(ctx, "front"); err != nil {
		t.Fatalf("remove twice: %v", err)
	}
}

// waitOwnNetNS waits (bounded) until pid has left our network namespace.
func waitOwnNetNS(t testing.TB, pid int) {
	t.Helper()
	self, _ := os.Readlink("/proc/self/ns/net")
	for i := 0; i < 100; i++ {
		if l, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && l != self {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d did not unshare its network namespace", pid)
}

func TestPortMaps(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	out := outside(t, host, "198.51.100.1", "198.51.100.2")
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "web"}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.DetachAll(ctx, "web1"); m.DetachAll(ctx, "nb1"); m.RemoveNetwork(ctx, "web") })
	c := testNS(t, "web")
	body := httpdIn(t, c)
	att, err := m.Attach(ctx, AttachConfig{ContainerID: "web1", Name: "p-web-1", Network: "web", NetNS: NetNS{Path: nsPath(c)},
		Ports: []PortMap{
			{HostIP: "127.0.0.1", HostPort: 18080, ContainerPort: 80},
			{HostIP: "127.0.0.1", ContainerPort: 80},
			{HostPort: 18081, ContainerPort: 80},
			{HostIP: "::1", HostPort: 18082, ContainerPort: 80},
			{HostPort: 18100, HostPortEnd: 18101, ContainerPort: 80, ContainerPortEnd: 81},
			{HostPort: 15353, ContainerPort: 5353, Protocol: "udp"},
			{HostIP: "::1", HostPort: 15354, ContainerPort: 5353, Protocol: "udp"},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if att.IP.String() != "172.18.0.2" {
		t.Fatalf("pool subnet: %v", att.IP)
	}
	// the dynamic port, read back from the records as `stack port` does
	ports, err := m.Ports(ctx, "p-web-1")
	if err != nil {
		t.Fatal(err)
	}
	var dyn uint16
	for _, p := range ports {
		if p.HostIP == addr("127.0.0.1") && p.HostPort != 18080 {
			dyn = p.HostPort
		}
	}
	if dyn == 0 || len(ports) != 8 {
		t.Fatalf("ports %v", ports)
	}
	neighbour := testNS(t, "nb")
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "nb1", Name: "p-nb-1", Network: "web", NetNS: NetNS{Path: nsPath(neighbour)}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, ns, url string }{
		{"127.0.0.1:PORT:80 from the host", host, "http://127.0.0.1:18080/"},
		{"127.0.0.1::80 from the host", host, fmt.Sprintf("http://127.0.0.1:%d/", dyn)},
		{"PORT:80 from the host via 127.0.0.1", host, "http://127.0.0.1:18081/"},
		{"PORT:80 from the host via its address", host, "http://198.51.100.1:18081/"},
		{"PORT:80 from another host (PREROUTING)", out, "http://198.51.100.1:18081/"},
		{"PORT:80 from a neighbouring container", neighbour, "http://172.18.0.1:18081/"},
		{"PORT:80 from the container itself (hairpin)", c, "http://198.51.100.1:18081/"},
		{"[::1]:PORT:80 through the proxy", host, "http://[::1]:18082/"},
		{"straight to the container", host, "http://172.18.0.2/"},
		{"range 18100-18101:80-81", host, "http://127.0.0.1:18100/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := get(tc.ns, tc.url)
			if err != nil || strings.TrimSpace(got) != body {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}

	rules, _ := inNamed(host, 5*time.Second, "nft", "list", "table", "ip", m.Table())
	if !strings.Contains(rules, "dport 18101 dnat to 172.18.0.2:81") || !strings.Contains(rules, `comment "meta l4proto tcp th dport 18101 dnat to 172.18.0.2:81"`) {
		t.Errorf("range rule missing:\n%s", rules)
	}
	// The table is patched in place: applying the same records again changes nothing.
	nets, _ := m.ListNetworks(ctx)
	if n, err := m.k.(*linuxKernel).patchRules(Rules(m.Root(), nets)); n != 0 || err != nil {
		t.Errorf("patching an up-to-date table: %d changes, %v", n, err)
	}

	// UDP: DNAT from 127.0.0.1, and the proxy for [::1].
	echo := udpEchoIn(t, c, "0.0.0.0:5353")
	_ = echo
	for _, target := range []string{"127.0.0.1:15353", "[::1]:15354"} {
		if got, err := udpAsk(host, target, "ping "+target); err != nil || got != "ping "+target {
			t.Errorf("udp %s: got %q, %v", target, got, err)
		}
	}

	// A host port in use is refused before anything is created.
	busy := listenIn(t, host, "127.0.0.1:18090")
	_ = busy
	d := testNS(t, "busy")
	_, err = m.Attach(ctx, AttachConfig{ContainerID: "busy1", Name: "p-busy-1", Network: "web", NetNS: NetNS{Path: nsPath(d)},
		Ports: []PortMap{{HostIP: "127.0.0.1", HostPort: 18090, ContainerPort: 80}}})
	if !errors.Is(err, ErrPortInUse) || !strings.Contains(err.Error(), "127.0.0.1:18090") {
		t.Fatalf("busy port: %v", err)
	}
	if ok, _ := m.k.linkExists(VethName(m.Root(), "busy1", "web")); ok {
		t.Fatal("veth created for a refused attachment")
	}
	if _, err := m.Endpoints(ctx, "busy1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("endpoint recorded for a refused attachment: %v", err)
	}
	_, err = m.Attach(ctx, AttachConfig{ContainerID: "busy2", Name: "p-busy-2", Network: "web", NetNS: NetNS{Path: nsPath(d)},
		Ports: []PortMap{{HostPort: 18081, ContainerPort: 80}}})
	if !errors.Is(err, ErrPortInUse) {
		t.Fatalf("port of another container: %v", err)
	}

	// Detach removes the rules and the proxy.
	if err := m.DetachAll(ctx, "web1"); err != nil {
		t.Fatal(err)
	}
	if _, err := inNamed(host, 5*time.Second, "busybox", "wget", "-q", "-O", "-", "http://[::1]:18082/"); err == nil {
		t.Fatal("proxy still answers after detach")
	}
	rules, _ = inNamed(host, 5*time.Second, "nft", "list", "table", "ip", m.Table())
	if strings.Contains(rules, "dnat") {
		t.Fatalf("dnat rules left after detach:\n%s", rules)
	}
}

func TestMasqueradeAndInternal(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	out := outside(t, host, "198.51.100.1", "198.51.100.2")
	l := listenIn(t, out, "198.51.100.2:9000")
	for _, cfg := range []NetworkConfig{{Name: "ext"}, {Name: "int", Internal: true}} {
		if _, err := m.CreateNetwork(ctx, cfg); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		m.DetachAll(ctx, "ext1")
		m.DetachAll(ctx, "int1")
		m.RemoveNetwork(ctx, "ext")
		m.RemoveNetwork(ctx, "int")
	})
	e, i := testNS(t, "ext"), testNS(t, "int")
	for id, ns := range map[string]string{"ext1": e, "int1": i} {
		net := strings.TrimSuffix(id, "1")
		if _, err := m.Attach(ctx, AttachConfig{ContainerID: id, Name: id, Network: net, NetNS: NetNS{Path: nsPath(ns)}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			seen <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	if o, err := inNamed(e, 5*time.Second, "busybox", "nc", "-w", "2", "198.51.100.2", "9000"); err != nil {
		t.Fatalf("external container cannot reach outside: %v %s", err, o)
	}
	select {
	case src := <-seen:
		if src != "198.51.100.1" {
			t.Fatalf("outside saw source %s, want the host's 198.51.100.1", src)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("outside saw no connection")
	}
	if routes, _ := inNamed(i, 5*time.Second, "ip", "route"); strings.Contains(routes, "default") {
		t.Fatalf("internal container has a default route:\n%s", routes)
	}
	if o, err := inNamed(i, 5*time.Second, "busybox", "nc", "-w", "2", "198.51.100.2", "9000"); err == nil {
		t.Fatalf("internal container reached outside: %s", o)
	}
	// even with a route added by hand, the forward chain drops it
	intNet, _ := m.InspectNetwork(ctx, "int")
	run(t, "ip", "-n", i, "route", "add", "default", "via", intNet.Subnet.Gateway.String())
	if o, err := inNamed(i, 5*time.Second, "busybox", "nc", "-w", "2", "198.51.100.2", "9000"); err == nil {
		t.Fatalf("internal container reached outside with a default route: %s", o)
	}
	select {
	case src := <-seen:
		t.Fatalf("outside saw a connection from %s", src)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestSubnetOverlap(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	outside(t, host, "198.51.100.1", "198.51.100.2")
	a := "tva" + randHex(3)
	run(t, "ip", "-n", host, "link", "add", a, "type", "veth", "peer", "name", "tvb"+randHex(3))
	run(t, "ip", "-n", host, "addr", "add", "10.99.0.1/16", "dev", a)
	run(t, "ip", "-n", host, "link", "set", a, "up")
	_, err := m.CreateNetwork(ctx, NetworkConfig{Name: "clash", Subnet: pfx("10.99.5.0/24")})
	if !errors.Is(err, ErrOverlap) || !strings.Contains(err.Error(), "10.99.5.0/24") || !strings.Contains(err.Error(), "10.99.0.0/16") || !strings.Contains(err.Error(), a) {
		t.Fatalf("overlap with host route: %v", err)
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "one", Subnet: pfx("172.26.0.0/16")}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.RemoveNetwork(ctx, "one") })
	_, err = m.CreateNetwork(ctx, NetworkConfig{Name: "two", Subnet: pfx("172.26.1.0/24")})
	if !errors.Is(err, ErrOverlap) || !strings.Contains(err.Error(), "network one") {
		t.Fatalf("overlap with network: %v", err)
	}
	// chosen subnets skip the host's 198.51.100.0/24 and 10.99.0.0/16 trivially,
	// and the first pool subnet when a route covers it
	run(t, "ip", "-n", host, "addr", "add", "172.18.0.1/16", "dev", a)
	n, err := m.CreateNetwork(ctx, NetworkConfig{Name: "three"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.RemoveNetwork(ctx, "three") })
	if n.Subnet.Prefix.String() != "172.19.0.0/16" {
		t.Fatalf("chose %s", n.Subnet.Prefix)
	}
	// a full subnet is a clear error
	small, err := m.CreateNetwork(ctx, NetworkConfig{Name: "small", Subnet: pfx("10.50.0.0/30")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.DetachAll(ctx, "s1"); m.RemoveNetwork(ctx, "small") })
	s1, s2 := testNS(t, "s1"), testNS(t, "s2")
	if att, err := m.Attach(ctx, AttachConfig{ContainerID: "s1", Name: "s1", Network: small.Name, NetNS: NetNS{Path: nsPath(s1)}}); err != nil || att.IP != addr("10.50.0.2") {
		t.Fatalf("%v %v", att, err)
	}
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "s2", Name: "s2", Network: small.Name, NetNS: NetNS{Path: nsPath(s2)}}); !errors.Is(err, ErrSubnetFull) {
		t.Fatalf("full subnet: %v", err)
	}
}

func TestCrashCleanup(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "crash"}); err != nil {
		t.Fatal(err)
	}
	g := testNS(t, "g")
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "g1", Name: "g1", Network: "crash", NetNS: NetNS{Path: nsPath(g)},
		Ports: []PortMap{{HostIP: "::1", ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	eps, _ := m.Endpoints(ctx, "g1")
	proxyPid := eps[0].Proxies[0].Pid
	// The "container" dies without a Detach: its namespace goes, and the
	// veth pair with it; the record and the proxy stay.
	run(t, "ip", "netns", "del", g)
	for i := 0; i < 100; i++ {
		if ok, _ := m.k.linkExists(eps[0].Veth); !ok {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	// A network record is lost while its bridge stays (killed mid-remove).
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "lost"}); err != nil {
		t.Fatal(err)
	}
	os.Remove(m.st.path("lost"))

	rep, err := m.Cleanup(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Endpoints) != 1 || len(rep.Links) != 1 || rep.Links[0] != BridgeName(m.Root(), "lost") {
		t.Fatalf("cleanup report %+v", rep)
	}
	if isProxy(proxyPid, m.Table()) {
		t.Fatal("proxy of the dead container still runs")
	}
	if again, err := m.Cleanup(ctx); err != nil || len(again.Endpoints)+len(again.Links)+len(again.Proxies) != 0 {
		t.Fatalf("second cleanup: %+v %v", again, err)
	}
	rep, err = m.Prune(ctx)
	if err != nil || len(rep.Networks) != 1 {
		t.Fatalf("prune: %+v %v", rep, err)
	}
	_ = host
}

func TestLoopbackUp(t *testing.T) {
	testenv.RequirePrivileged(t)
	name := "stktest-none-" + randHex(3)
	run(t, "ip", "netns", "add", name)
	defer exec.Command("ip", "netns", "del", name).Run()
	if err := LoopbackUp(NetNS{Path: nsPath(name)}); err != nil {
		t.Fatal(err)
	}
	out := run(t, "ip", "-n", name, "-o", "link")
	if strings.Count(out, "\n") != 1 || !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
		t.Fatalf("links:\n%s", out)
	}
	_ = io.Discard
	_ = netip.Addr{}
}

func TestStatusAndRepair(t *testing.T) {
	m, host := setup(t)
	ctx := context.Background()
	n, err := m.CreateNetwork(ctx, NetworkConfig{Name: "drift"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.DetachAll(ctx, "d1"); m.RemoveNetwork(ctx, "drift") })
	c := testNS(t, "d")
	if _, err := m.Attach(ctx, AttachConfig{ContainerID: "d1", Name: "d1", Network: "drift", NetNS: NetNS{Path: nsPath(c)},
		Ports: []PortMap{{HostIP: "127.0.0.1", HostPort: 18300, ContainerPort: 80}}}); err != nil {
		t.Fatal(err)
	}
	status := func() NetworkStatus {
		t.Helper()
		st, err := m.Status(ctx)
		if err != nil || len(st) != 1 {
			t.Fatalf("status: %v %v", st, err)
		}
		return st[0]
	}
	if st := status(); st.BridgeMissing || st.RulesMissing || len(st.Stale) != 0 {
		t.Fatalf("fresh network: %+v", st)
	}
	run(t, "ip", "netns", "exec", host, "nft", "flush", "chain", "ip", m.Table(), "ports")
	run(t, "ip", "-n", host, "link", "set", n.Bridge, "down")
	if st := status(); !st.BridgeMissing || !st.RulesMissing {
		t.Fatalf("after drift: %+v", st)
	}
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "drift"}); err != nil {
		t.Fatal(err)
	}
	if st := status(); st.BridgeMissing || st.RulesMissing {
		t.Fatalf("after repair: %+v", st)
	}
	body := httpdIn(t, c)
	if got, err := get(host, "http://127.0.0.1:18300/"); err != nil || strings.TrimSpace(got) != body {
		t.Fatalf("port map after repair: %q %v", got, err)
	}
	run(t, "ip", "netns", "exec", host, "nft", "delete", "table", "ip", m.Table())
	if st := status(); !st.RulesMissing {
		t.Fatalf("table deleted: %+v", st)
	}
	if _, err := m.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	if st := status(); st.RulesMissing {
		t.Fatalf("after cleanup: %+v", st)
	}
}
