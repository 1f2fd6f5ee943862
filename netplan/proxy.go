package netplan

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// ProxyEntrypoint is the hidden re-exec entrypoint of the userland proxy
// (registered by cmd/stack/proxy.go; test binaries dispatch it in TestMain).
// The proxy serves the port maps DNAT cannot: any IPv6 host address, [::1]
// included, since IPv6 has no route_localnet (PLATFORM.md).
//
//	__stack_proxy -proto tcp|udp -listen [::1]:8080 -target 172.26.0.2:80 -tag stack_1a2b3c4d [-ready-fd 3]
//
// It writes "ok\n" (or "error: ...\n") to the ready fd once it listens,
// then relays until it is killed. -tag names the state root's table, so
// Cleanup can find proxies no record names.
const ProxyEntrypoint = "__stack_proxy"

// Bounds of one proxy process.
const (
	proxyMaxConns   = 512              // concurrent TCP connections or UDP flows
	proxyDialTime   = 10 * time.Second // connecting to the container
	proxyUDPIdle    = 60 * time.Second // a UDP flow without traffic is dropped
	proxyUDPMaxSize = 65535
)

// ProxyMain runs the proxy with its arguments (after the entrypoint name)
// and returns the process exit code.
func ProxyMain(args []string) int {
	fs := flag.NewFlagSet(ProxyEntrypoint, flag.ContinueOnError)
	proto := fs.String("proto", "tcp", "tcp or udp")
	listen := fs.String("listen", "", "host address:port")
	target := fs.String("target", "", "container address:port")
	fs.String("tag", "", "state root tag (for Cleanup)")
	readyFD := fs.Int("ready-fd", -1, "fd to report readiness on")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var ready io.WriteCloser = nopCloser{io.Discard}
	if *readyFD >= 0 {
		ready = os.NewFile(uintptr(*readyFD), "ready")
	}
	var err error
	switch *proto {
	case "tcp":
		err = proxyTCP(*listen, *target, ready)
	case "udp":
		err = proxyUDP(*listen, *target, ready)
	default:
		err = fmt.Errorf("protocol %q: want tcp or udp", *proto)
	}
	if err != nil {
		fmt.Fprintf(ready, "error: %v\n", err)
		ready.Close()
		fmt.Fprintf(os.Stderr, "%s: %v\n", ProxyEntrypoint, err)
		return 1
	}
	return 0
}

type nopCloser struct{ io.Writer }

func (nopCloser) Close() error { return nil }

func proxyTCP(listen, target string, ready io.WriteCloser) error {
	l, err := net.Listen("tcp", listen)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	defer l.Close()
	fmt.Fprintln(ready, "ok")
	ready.Close()
	sem := make(chan struct{}, proxyMaxConns)
	for {
		c, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("accepting on %s: %w", listen, err)
		}
		select {
		case sem <- struct{}{}:
		default:
			c.Close() // over the bound: refuse rather than queue without limit
			continue
		}
		go func() {
			defer func() { <-sem }()
			relayTCP(c.(*net.TCPConn), target)
		}()
	}
}

func relayTCP(in *net.TCPConn, target string) {
	defer in.Close()
	oc, err := net.DialTimeout("tcp", target, proxyDialTime)
	if err != nil {
		return
	}
	out := oc.(*net.TCPConn)
	defer out.Close()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src *net.TCPConn) {
		defer wg.Done()
		io.Copy(dst, src) // splice(2) between TCP sockets
		dst.CloseWrite()
	}
	go pipe(out, in)
	go pipe(in, out)
	wg.Wait()
}

func proxyUDP(listen, target string, ready io.WriteCloser) error {
	laddr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return err
	}
	taddr, err := net.ResolveUDPAddr("udp", target)
	if err != nil {
		return err
	}
	l, err := net.ListenUDP("udp", laddr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", listen, err)
	}
	defer l.Close()
	fmt.Fprintln(ready, "ok")
	ready.Close()
	var mu sync.Mutex
	flows := map[string]*net.UDPConn{}
	buf := make([]byte, proxyUDPMaxSize)
	for {
		n, from, err := l.ReadFromUDP(buf)
		if err != nil {
			return fmt.Errorf("reading on %s: %w", listen, err)
		}
		key := from.String()
		mu.Lock()
		out, ok := flows[key]
		if !ok && len(flows) < proxyMaxConns {
			if out, err = net.DialUDP("udp", nil, taddr); err == nil {
				flows[key] = out
				ok = true
				go func(from *net.UDPAddr, out *net.UDPConn) { // replies, until idle
					b := make([]byte, proxyUDPMaxSize)
					for {
						out.SetReadDeadline(time.Now().Add(proxyUDPIdle))
						n, err := out.Read(b)
						if err != nil {
							break
						}
						l.WriteToUDP(b[:n], from)
					}
					mu.Lock()
					delete(flows, from.String())
					mu.Unlock()
					out.Close()
				}(from, out)
			}
		}
		mu.Unlock()
		if ok {
			out.Write(buf[:n])
		}
	}
}
