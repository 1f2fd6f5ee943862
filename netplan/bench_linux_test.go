package netplan

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"testing"
	"time"
)

// Benchmarks of issue 6 item 9, run by bench/net.sh:
//
//	STACK_TEST_PRIVILEGED=1 go test -run '^$' -bench BenchmarkNet -benchtime 1x ./netplan
//
// Every benchmark builds its host in its own namespace, like the tests, and
// checks that nothing is left.

const benchContainers = 50

// BenchmarkNetAttach attaches 50 containers to one network (veth, address,
// lo, default route, one 127.0.0.1 port map, table rewrite, hosts file)
// and reports the median attach time; then detaches them all and checks
// that no veth, endpoint or rule is left.
func BenchmarkNetAttach(b *testing.B) {
	m, host := setup(b)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	defer m.RemoveNetwork(ctx, "bench")
	nss := make([]string, benchContainers)
	for i := range nss {
		nss[i] = testNS(b, fmt.Sprintf("b%d", i))
	}
	dir := b.TempDir()
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		var attach, detach []time.Duration
		for i, ns := range nss {
			id := fmt.Sprintf("c%02d", i)
			t0 := time.Now()
			if _, err := m.Attach(ctx, AttachConfig{ContainerID: id, Name: "bench-" + id, Network: "bench", NetNS: NetNS{Path: nsPath(ns)},
				Ports: []PortMap{{HostIP: "127.0.0.1", ContainerPort: 80}}, Hosts: HostsSpec{Path: fmt.Sprintf("%s/%s.hosts", dir, id), Hostname: id}}); err != nil {
				b.Fatal(err)
			}
			attach = append(attach, time.Since(t0))
		}
		n, _ := m.InspectNetwork(ctx, "bench")
		if len(n.Endpoints) != benchContainers {
			b.Fatalf("%d endpoints", len(n.Endpoints))
		}
		for i := range nss {
			t0 := time.Now()
			if err := m.DetachAll(ctx, fmt.Sprintf("c%02d", i)); err != nil {
				b.Fatal(err)
			}
			detach = append(detach, time.Since(t0))
		}
		links, _ := m.k.stackLinks(linkAlias(m.Root()))
		n, _ = m.InspectNetwork(ctx, "bench")
		if len(links) != 1 || len(n.Endpoints) != 0 || len(Rules(m.Root(), []*Network{n}).Chains[2].Rules) != 0 {
			b.Fatalf("leak after 50 up and down: links %v, endpoints %d", links, len(n.Endpoints))
		}
		b.ReportMetric(ms(median(attach)), "ms/attach-median")
		b.ReportMetric(ms(median(detach)), "ms/detach-median")
		b.ReportMetric(ms(attach[len(attach)-1]), "ms/attach-50th")
	}
	_ = host
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

const transferBytes = 1 << 30

// BenchmarkNetThroughput sends 1 GiB over TCP from the host to a sink in
// the container, through the 127.0.0.1 port map (OUTPUT DNAT) and straight
// to the container's address, alternating, five rounds each, and reports
// the medians and their ratio (target >= 0.8).
func BenchmarkNetThroughput(b *testing.B) {
	m, host := setup(b)
	ctx := context.Background()
	if _, err := m.CreateNetwork(ctx, NetworkConfig{Name: "tput"}); err != nil {
		b.Fatal(err)
	}
	defer m.RemoveNetwork(ctx, "tput")
	c := testNS(b, "sink")
	l := listenIn(b, c, "0.0.0.0:5001")
	go sink(l)
	att, err := m.Attach(ctx, AttachConfig{ContainerID: "sink", Name: "sink", Network: "tput", NetNS: NetNS{Path: nsPath(c)},
		Ports: []PortMap{{HostIP: "127.0.0.1", ContainerPort: 5001}}})
	if err != nil {
		b.Fatal(err)
	}
	defer m.DetachAll(ctx, "sink")
	mapped := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), att.Ports[0].HostPort).String()
	direct := netip.AddrPortFrom(att.IP, 5001).String()
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		var viaMap, viaDirect []float64
		for round := 0; round < 5; round++ {
			d, err := send(host, direct)
			if err != nil {
				b.Fatal(err)
			}
			viaDirect = append(viaDirect, d)
			p, err := send(host, mapped)
			if err != nil {
				b.Fatal(err)
			}
			viaMap = append(viaMap, p)
		}
		md, mp := medianF(viaDirect), medianF(viaMap)
		b.ReportMetric(md, "MB/s-direct")
		b.ReportMetric(mp, "MB/s-portmap")
		b.ReportMetric(mp/md, "ratio")
		b.Logf("direct %v MB/s, 127.0.0.1 port map %v MB/s", viaDirect, viaMap)
	}
}

// sink reads each connection to EOF, then answers one byte.
func sink(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(2 * time.Minute))
			io.Copy(io.Discard, c)
			c.Write([]byte{1})
		}()
	}
}

// send writes transferBytes to addr from the host namespace and returns MB/s.
func send(host, addr string) (float64, error) {
	c, err := dialIn(host, addr)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := make([]byte, 256<<10)
	t0 := time.Now()
	for sent := 0; sent < transferBytes; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			return 0, fmt.Errorf("sending to %s: %w", addr, err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		return 0, fmt.Errorf("waiting for %s: %w", addr, err)
	}
	return float64(transferBytes) / 1e6 / time.Since(t0).Seconds(), nil
}

func medianF(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
