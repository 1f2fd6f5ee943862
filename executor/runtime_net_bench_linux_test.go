package executor

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stack-dev/stack/internal/testenv"
	"github.com/stack-dev/stack/netplan"
)

// Benchmarks of issue 6 item 9 with real containers, run by bench/net.sh:
//
//	STACK_TEST_PRIVILEGED=1 go test -run '^$' -bench BenchmarkNetContainers -benchtime 1x ./executor
//
// The host side is a namespace of the benchmark's own (see netRoot).

// benchNetRoot is netRoot for benchmarks: a busybox root with its own host
// namespace; the leak check runs at the end.
func benchNetRoot(b *testing.B) (root, host string) {
	testenv.RequirePrivileged(b)
	root = busyboxRoot(b)
	fd, err := testHostNS(root)
	if err != nil {
		b.Fatal(err)
	}
	return root, fdPath(fd)
}

type benchContainer struct {
	c    *Container
	r    *Running
	done chan struct{}
}

func startBench(b *testing.B, root string, opts RunOptions) *benchContainer {
	b.Helper()
	opts.Image = "busybox"
	c, err := CreateContainer(root, &opts, nil)
	if err != nil {
		b.Fatal(err)
	}
	r, err := StartContainer(root, c, AttachOptions{Foreground: true, Stdout: io.Discard, Stderr: io.Discard})
	if err != nil {
		RemoveContainer(root, c.ID, true, true)
		b.Fatal(err)
	}
	bc := &benchContainer{c: c, r: r, done: make(chan struct{})}
	go func() { r.Wait(); close(bc.done) }()
	return bc
}

func (bc *benchContainer) stop(root string) error {
	bc.r.Task.Signal(syscall.SIGKILL)
	<-bc.done
	return RemoveContainer(root, bc.c.ID, true, true)
}

// BenchmarkNetContainers creates and starts 50 containers on one network
// (each: namespace file, veth, address, route, a 127.0.0.1 port map, hosts
// files of all), then stops and removes them all, and checks that no link,
// namespace file, attachment or rule is left. It reports the median and
// the 50th create (network setup included), and the whole up and down.
func BenchmarkNetContainers(b *testing.B) {
	root, host := benchNetRoot(b)
	ctx := context.Background()
	m, err := OpenNetworks(root)
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	if _, err := m.CreateNetwork(ctx, netplan.NetworkConfig{Name: "bench"}); err != nil {
		b.Fatal(err)
	}
	defer m.RemoveNetwork(ctx, "bench")
	const n = 50
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		var creates []time.Duration
		var cs []*benchContainer
		t0 := time.Now()
		for i := 0; i < n; i++ {
			t1 := time.Now()
			cs = append(cs, startBench(b, root, RunOptions{Network: "bench", Command: []string{"sleep", "600"},
				Net: NetOptions{Publish: []string{"127.0.0.1::80"}}}))
			creates = append(creates, time.Since(t1))
		}
		up := time.Since(t0)
		nw, _ := m.InspectNetwork(ctx, "bench")
		if len(nw.Endpoints) != n {
			b.Fatalf("%d endpoints", len(nw.Endpoints))
		}
		t0 = time.Now()
		for _, bc := range cs {
			if err := bc.stop(root); err != nil {
				b.Fatal(err)
			}
		}
		down := time.Since(t0)
		nw, _ = m.InspectNetwork(ctx, "bench")
		ents, _ := os.ReadDir(filepath.Join(root, "run", "netns"))
		var links []string
		for try := 0; try < 100; try++ { // the namespaces go in the background
			links = links[:0]
			for _, l := range benchLinks(b, host) {
				if l != nw.Bridge {
					links = append(links, l)
				}
			}
			if len(links) == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(nw.Endpoints) != 0 || len(ents) != 0 || len(links) != 0 {
			b.Fatalf("leak after %d up and down: endpoints %d, netns files %d, links %v", n, len(nw.Endpoints), len(ents), links)
		}
		b.ReportMetric(msOf(medianOf(creates)), "ms/run-median")
		b.ReportMetric(msOf(creates[n-1]), "ms/run-50th")
		b.ReportMetric(msOf(up), "ms/50-up")
		b.ReportMetric(msOf(down), "ms/50-down")
	}
}

func benchLinks(b *testing.B, host string) []string {
	var names []string
	err := inNetNS(host, func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			if len(i.Name) >= 3 && i.Name[:3] == "stk" {
				names = append(names, i.Name)
			}
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return names
}

// BenchmarkNetContainerThroughput sends 1 GiB over TCP from the host to a
// busybox nc sink in a real container, through its 127.0.0.1 port map and
// straight to its address, alternating, three rounds each; it reports the
// medians and their ratio (target >= 0.8).
func BenchmarkNetContainerThroughput(b *testing.B) {
	root, host := benchNetRoot(b)
	bc := startBench(b, root, RunOptions{Command: sh("while true; do nc -l -p 5001 >/dev/null; done"),
		Net: NetOptions{Publish: []string{"127.0.0.1::5001"}}})
	defer bc.stop(root)
	defer func() {
		m, _ := OpenNetworks(root)
		m.RemoveNetwork(context.Background(), netplan.DefaultNetwork)
		m.Close()
	}()
	mapped := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), bc.c.Net.Ports[0].HostPort).String()
	direct := netip.AddrPortFrom(bc.c.Net.Endpoints[0].IP, 5001).String()
	b.ResetTimer()
	for iter := 0; iter < b.N; iter++ {
		var viaMap, viaDirect []float64
		for round := 0; round < 3; round++ {
			d, err := sendTo(host, direct)
			if err != nil {
				b.Fatal(err)
			}
			viaDirect = append(viaDirect, d)
			p, err := sendTo(host, mapped)
			if err != nil {
				b.Fatal(err)
			}
			viaMap = append(viaMap, p)
		}
		md, mp := medianFloat(viaDirect), medianFloat(viaMap)
		b.ReportMetric(md, "MB/s-direct")
		b.ReportMetric(mp, "MB/s-portmap")
		b.ReportMetric(mp/md, "ratio")
		b.Logf("direct %v MB/s, 127.0.0.1 port map %v MB/s", viaDirect, viaMap)
	}
}

// sendTo writes 1 GiB to addr from the host namespace and returns MB/s,
// counted until the sink closes the connection (it has read everything).
func sendTo(host, addr string) (float64, error) {
	const total = 1 << 30
	var c net.Conn
	var err error
	for try := 0; try < 50; try++ { // the sink listens again after each transfer
		if err = inNetNS(host, func() (e error) { c, e = net.DialTimeout("tcp", addr, 2*time.Second); return }); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return 0, fmt.Errorf("connecting to %s: %w", addr, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Minute))
	buf := make([]byte, 256<<10)
	t0 := time.Now()
	for sent := 0; sent < total; sent += len(buf) {
		if _, err := c.Write(buf); err != nil {
			return 0, fmt.Errorf("sending to %s: %w", addr, err)
		}
	}
	c.(*net.TCPConn).CloseWrite()
	if _, err := io.Copy(io.Discard, c); err != nil {
		return 0, fmt.Errorf("waiting for %s: %w", addr, err)
	}
	return float64(total) / 1e6 / time.Since(t0).Seconds(), nil
}

func medianOf(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func medianFloat(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
