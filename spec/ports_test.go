package spec

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func pr(a, b uint16) PortRange { return PortRange{Start: a, End: b} }

func TestParsePort(t *testing.T) {
	tests := []struct {
		in   string
		want Port
	}{
		{"80", Port{Target: pr(80, 80), Protocol: "tcp"}},
		{"80/tcp", Port{Target: pr(80, 80), Protocol: "tcp"}},
		{"80/udp", Port{Target: pr(80, 80), Protocol: "udp"}},
		{"53/UDP", Port{Target: pr(53, 53), Protocol: "udp"}},
		{"8080:80", Port{Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "tcp"}},
		{"8080:80/udp", Port{Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "udp"}},
		{":80", Port{Target: pr(80, 80), Protocol: "tcp"}},
		{"0:80", Port{Target: pr(80, 80), Protocol: "tcp"}},
		{"65535:1", Port{Published: pr(65535, 65535), Target: pr(1, 1), Protocol: "tcp"}},
		{"127.0.0.1:8080:80", Port{HostIP: "127.0.0.1", Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "tcp"}},
		{"127.0.0.1::80", Port{HostIP: "127.0.0.1", Target: pr(80, 80), Protocol: "tcp"}},
		{"0.0.0.0:80:80", Port{HostIP: "0.0.0.0", Published: pr(80, 80), Target: pr(80, 80), Protocol: "tcp"}},
		{"[::1]:8080:80", Port{HostIP: "::1", Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "tcp"}},
		{"[::1]::80", Port{HostIP: "::1", Target: pr(80, 80), Protocol: "tcp"}},
		{"[::]:53:53/udp", Port{HostIP: "::", Published: pr(53, 53), Target: pr(53, 53), Protocol: "udp"}},
		{"[fe80:0::1]:80:80", Port{HostIP: "fe80::1", Published: pr(80, 80), Target: pr(80, 80), Protocol: "tcp"}},
		{"::1:8080:80", Port{HostIP: "::1", Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "tcp"}},
		{"[127.0.0.1]:80:80", Port{HostIP: "127.0.0.1", Published: pr(80, 80), Target: pr(80, 80), Protocol: "tcp"}},
		{"8000-8010:8000-8010", Port{Published: pr(8000, 8010), Target: pr(8000, 8010), Protocol: "tcp"}},
		{"9000-9010:8000-8010", Port{Published: pr(9000, 9010), Target: pr(8000, 8010), Protocol: "tcp"}},
		{"8000-8010", Port{Target: pr(8000, 8010), Protocol: "tcp"}},
		{"6005-6015:80", Port{Published: pr(6005, 6015), Target: pr(80, 80), Protocol: "tcp"}},
		{"127.0.0.1:5000-5010:5000-5010/udp", Port{HostIP: "127.0.0.1", Published: pr(5000, 5010), Target: pr(5000, 5010), Protocol: "udp"}},
		{"127.0.0.1::5000-5010", Port{HostIP: "127.0.0.1", Target: pr(5000, 5010), Protocol: "tcp"}},
		{"8080-8080:80-80", Port{Published: pr(8080, 8080), Target: pr(80, 80), Protocol: "tcp"}},
		{"080:0080", Port{Published: pr(80, 80), Target: pr(80, 80), Protocol: "tcp"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePort(tt.in)
			if err != nil {
				t.Fatalf("ParsePort(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParsePort(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

func TestParsePortErrors(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"", "empty port mapping"},
		{"0", "container port 0 is out of range; a port is a number from 1 to 65535"},
		{"65536", "container port 65536 is out of range"},
		{"99999999999999999999", "out of range"},
		{"8080:0", "container port 0 is out of range"},
		{"70000:80", "host port 70000 is out of range"},
		{"http", `container port "http" is not a number`},
		{"8080:http", `container port "http" is not a number`},
		{"-80", "container port range has an empty bound"},
		{"80-", "container port range has an empty bound"},
		{"8080:", "has no container port"},
		{"127.0.0.1:8080:", "has no container port"},
		{"/udp", "has no container port"},
		{"80/", "empty protocol"},
		{"80/icmp", `unknown protocol "icmp"; valid protocols are tcp and udp`},
		{"80/sctp", "protocol sctp is not supported by stack"},
		{"8010-8000:80", `host port range "8010-8000" is reversed; write the lower port first, as in "8000-8010"`},
		{"80-70", `container port range "80-70" is reversed`},
		{"8000-8010:8000-8005", "the host range 8000-8010 has 11 ports but the container range 8000-8005 has 6"},
		{"8080:80-81", "the host range 8080 has 1 ports but the container range 80-81 has 2"},
		{"300.0.0.1:80:80", `host address "300.0.0.1" is not a valid IP address`},
		{"localhost:80:80", `host address "localhost" is not a valid IP address`},
		{"[::1:80:80", `unclosed "["`},
		{"[::1]80:80", `must be followed by ":HOST:CONTAINER"`},
		{"[::1]:80", `has an address but no host port part; write "[::1]::80"`},
		{"[fe80::1%eth0]:80:80", "is not a valid IP address"},
		{"::8080:80", `host address ":" is not a valid IP address`},
		{":8080:80", "has an empty address"},
		{"127.0.0.1:80", `"127.0.0.1" is not a host port; to bind an address write "127.0.0.1::80"`},
		{"1.2.3.4:a:80", `host port "a" is not a number`},
		{"80 ", "is not a number"},
		{"+80", "is not a number"},
		{"1-2-3", "is not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParsePort(tt.in)
			if err == nil {
				t.Fatalf("ParsePort(%q) = %+v, want an error containing %q", tt.in, got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ParsePort(%q) error = %q, want it to contain %q", tt.in, err, tt.want)
			}
		})
	}
}

func TestParseExpose(t *testing.T) {
	tests := []struct {
		in    string
		want  PortRange
		proto string
		err   string
	}{
		{in: "80", want: pr(80, 80), proto: "tcp"},
		{in: "8000-8010", want: pr(8000, 8010), proto: "tcp"},
		{in: "80/udp", want: pr(80, 80), proto: "udp"},
		{in: "8000-8010/udp", want: pr(8000, 8010), proto: "udp"},
		{in: "", err: "empty expose entry"},
		{in: "0", err: "port 0 is out of range"},
		{in: "8080:80", err: "expose takes container ports only"},
		{in: "80/xyz", err: "unknown protocol"},
		{in: "90-80", err: "reversed"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, proto, err := ParseExpose(tt.in)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ParseExpose(%q) error = %v, want it to contain %q", tt.in, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseExpose(%q): %v", tt.in, err)
			}
			if got != tt.want || proto != tt.proto {
				t.Errorf("ParseExpose(%q) = %v %q, want %v %q", tt.in, got, proto, tt.want, tt.proto)
			}
		})
	}
}

// formatPort renders a parsed short-form port back into text, in the form
// ParsePort reads.
func formatPort(p Port) string {
	rng := func(r PortRange) string {
		if r.Start == r.End {
			return fmt.Sprint(r.Start)
		}
		return fmt.Sprintf("%d-%d", r.Start, r.End)
	}
	var b strings.Builder
	if p.HostIP != "" {
		if strings.Contains(p.HostIP, ":") {
			b.WriteString("[" + p.HostIP + "]")
		} else {
			b.WriteString(p.HostIP)
		}
		b.WriteString(":")
	}
	if p.Published != (PortRange{}) {
		b.WriteString(rng(p.Published))
		b.WriteString(":")
	} else if p.HostIP != "" {
		b.WriteString(":")
	}
	b.WriteString(rng(p.Target))
	b.WriteString("/" + p.Protocol)
	return b.String()
}

func BenchmarkParsePort(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParsePort("127.0.0.1:8000-8010:8000-8010/udp"); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParsePort(f *testing.F) {
	for _, s := range []string{
		"80", "8080:80", "127.0.0.1:8080:80", "127.0.0.1::80", "[::1]:8080:80", "[::1]::80",
		"8000-8010:8000-8010", "6005-6015:80", "80/udp", "80/tcp", "0.0.0.0:80:80", "::1:80:80",
		"", ":", "[", "]:", "80/", "1-2-3", "65536", "0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePort(s)
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("ParsePort(%q): empty error", s)
			}
			return
		}
		if p.Target.Start == 0 || p.Target.Start > p.Target.End {
			t.Fatalf("ParsePort(%q): bad target %v", s, p.Target)
		}
		if p.Published != (PortRange{}) {
			if p.Published.Start == 0 || p.Published.Start > p.Published.End {
				t.Fatalf("ParsePort(%q): bad published %v", s, p.Published)
			}
			hs, cs := p.Published.End-p.Published.Start, p.Target.End-p.Target.Start
			if hs != cs && cs != 0 {
				t.Fatalf("ParsePort(%q): mismatched ranges %v %v", s, p.Published, p.Target)
			}
		}
		if p.Protocol != "tcp" && p.Protocol != "udp" {
			t.Fatalf("ParsePort(%q): protocol %q", s, p.Protocol)
		}
		if strings.ContainsAny(p.HostIP, "[]") {
			t.Fatalf("ParsePort(%q): host IP %q keeps brackets", s, p.HostIP)
		}
		text := formatPort(p)
		again, err := ParsePort(text)
		if err != nil {
			t.Fatalf("ParsePort(%q) = %+v, rendered %q does not parse: %v", s, p, text, err)
		}
		if again != p {
			t.Fatalf("ParsePort(%q) = %+v, but its rendering %q parses to %+v", s, p, text, again)
		}
	})
}
