package netplan

import (
	"bufio"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startTestProxy runs the test binary as `__stack_proxy` (TestMain
// dispatches it) and waits for its "ok".
func startTestProxy(t *testing.T, proto, listen, target string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, _ := os.Pipe()
	cmd := exec.Command(exe, ProxyEntrypoint, "-proto", proto, "-listen", listen, "-target", target, "-tag", "stack_test", "-ready-fd", "3")
	cmd.ExtraFiles = []*os.File{w}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	r.Close()
	if line != "ok\n" {
		t.Fatalf("proxy: %q", line)
	}
}

func freeAddr(t *testing.T, proto string) string {
	t.Helper()
	if proto == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.LocalAddr().String()
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func TestProxyTCP(t *testing.T) {
	backend, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		for {
			c, err := backend.Accept()
			if err != nil {
				return
			}
			go func() { // upper-cases until EOF, then closes: half-close must pass through
				defer c.Close()
				b, _ := io.ReadAll(c)
				c.Write([]byte(strings.ToUpper(string(b))))
			}()
		}
	}()
	listen := freeAddr(t, "tcp")
	startTestProxy(t, "tcp", listen, backend.Addr().String())
	for i := 0; i < 3; i++ {
		c, err := net.DialTimeout("tcp", listen, 2*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(5 * time.Second))
		c.Write([]byte("hello proxy"))
		c.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(c)
		c.Close()
		if err != nil || string(got) != "HELLO PROXY" {
			t.Fatalf("got %q, %v", got, err)
		}
	}
}

func TestProxyUDP(t *testing.T) {
	backend, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Close()
	go func() {
		buf := make([]byte, 2048)
		for {
			n, from, err := backend.ReadFrom(buf)
			if err != nil {
				return
			}
			backend.WriteTo([]byte(strings.ToUpper(string(buf[:n]))), from)
		}
	}()
	listen := freeAddr(t, "udp")
	startTestProxy(t, "udp", listen, backend.LocalAddr().String())
	c, err := net.Dial("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for i := 0; i < 10; i++ {
		c.Write([]byte("ping"))
		c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if n, err := c.Read(buf); err == nil {
			if string(buf[:n]) != "PING" {
				t.Fatalf("got %q", buf[:n])
			}
			return
		}
	}
	t.Fatal("no answer through the UDP proxy")
}

func TestProxyBadArgs(t *testing.T) {
	if code := ProxyMain([]string{"-proto", "sctp", "-listen", "127.0.0.1:0"}); code == 0 {
		t.Fatal("sctp accepted")
	}
}
