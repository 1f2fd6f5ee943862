package netplan

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// fakePorts is a PortChecker with a set of busy ports and a counter for
// "free" ports handed out from 32768 up.
type fakePorts struct {
	busy map[string]bool // "tcp/127.0.0.1:80"
	next uint16
}

func (f *fakePorts) Check(proto string, ip netip.Addr, port uint16) error {
	for _, k := range []string{fmt.Sprintf("%s/%s", proto, netip.AddrPortFrom(ip, port)), fmt.Sprintf("%s/*:%d", proto, port)} {
		if f.busy[k] {
			return fmt.Errorf("binding %s: %w", k, ErrPortInUse)
		}
	}
	return nil
}

func (f *fakePorts) Free(proto string, ip netip.Addr) (uint16, error) {
	if f.next == 0 {
		f.next = 32768
	}
	f.next++
	return f.next - 1, nil
}

func TestResolvePorts(t *testing.T) {
	tests := []struct {
		name  string
		maps  []PortMap
		taken []PortBinding
		busy  []string
		want  string
		err   error
	}{
		{name: "C", maps: []PortMap{{ContainerPort: 80}}, want: "80/tcp -> 0.0.0.0:32768"},
		{name: "H:C", maps: []PortMap{{HostPort: 8080, ContainerPort: 80}}, want: "80/tcp -> 0.0.0.0:8080"},
		{name: "IP::C", maps: []PortMap{{HostIP: "127.0.0.1", ContainerPort: 80}}, want: "80/tcp -> 127.0.0.1:32768"},
		{name: "IP:H:C", maps: []PortMap{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80}}, want: "80/tcp -> 127.0.0.1:8080"},
		{name: "v6", maps: []PortMap{{HostIP: "::1", HostPort: 8080, ContainerPort: 80}}, want: "80/tcp -> [::1]:8080"},
		{name: "udp", maps: []PortMap{{HostPort: 53, ContainerPort: 53, Protocol: "udp"}}, want: "53/udp -> 0.0.0.0:53"},
		{name: "range 1:1", maps: []PortMap{{HostPort: 8000, HostPortEnd: 8002, ContainerPort: 9000, ContainerPortEnd: 9002}},
			want: "9000/tcp -> 0.0.0.0:8000,9001/tcp -> 0.0.0.0:8001,9002/tcp -> 0.0.0.0:8002"},
		{name: "host range picks first free", maps: []PortMap{{HostPort: 6005, HostPortEnd: 6015, ContainerPort: 80}}, busy: []string{"tcp/0.0.0.0:6005"},
			taken: []PortBinding{{HostIP: addr("127.0.0.1"), HostPort: 6006, ContainerPort: 1, Protocol: "tcp"}}, want: "80/tcp -> 0.0.0.0:6007"},
		{name: "container range dynamic", maps: []PortMap{{ContainerPort: 80, ContainerPortEnd: 81}}, want: "80/tcp -> 0.0.0.0:32768,81/tcp -> 0.0.0.0:32769"},
		{name: "dynamic skips recorded", maps: []PortMap{{ContainerPort: 80}}, taken: []PortBinding{{HostIP: addr("0.0.0.0"), HostPort: 32768, ContainerPort: 1, Protocol: "tcp"}}, want: "80/tcp -> 0.0.0.0:32769"},
		{name: "tcp and udp share a number", maps: []PortMap{{HostPort: 53, ContainerPort: 53}, {HostPort: 53, ContainerPort: 53, Protocol: "udp"}}, want: "53/tcp -> 0.0.0.0:53,53/udp -> 0.0.0.0:53"},
		{name: "busy on host", maps: []PortMap{{HostPort: 8080, ContainerPort: 80}}, busy: []string{"tcp/*:8080"}, err: ErrPortInUse},
		{name: "recorded by another container", maps: []PortMap{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80}},
			taken: []PortBinding{{HostIP: addr("0.0.0.0"), HostPort: 8080, ContainerPort: 1, Protocol: "tcp"}}, err: ErrPortInUse},
		{name: "twice in one request", maps: []PortMap{{HostPort: 8080, ContainerPort: 80}, {HostPort: 8080, ContainerPort: 81}}, err: ErrPortInUse},
		{name: "different addresses coexist", maps: []PortMap{{HostIP: "127.0.0.1", HostPort: 8080, ContainerPort: 80}, {HostIP: "127.0.0.2", HostPort: 8080, ContainerPort: 81}},
			want: "80/tcp -> 127.0.0.1:8080,81/tcp -> 127.0.0.2:8080"},
		{name: "bad protocol", maps: []PortMap{{ContainerPort: 80, Protocol: "sctp"}}, err: ErrInvalidPortMap},
		{name: "bad ip", maps: []PortMap{{HostIP: "localhost", ContainerPort: 80}}, err: ErrInvalidPortMap},
		{name: "range mismatch", maps: []PortMap{{HostPort: 8000, HostPortEnd: 8001, ContainerPort: 80, ContainerPortEnd: 82}}, err: ErrInvalidPortMap},
		{name: "huge range", maps: []PortMap{{HostPort: 1, HostPortEnd: 60000, ContainerPort: 1, ContainerPortEnd: 60000}}, err: ErrInvalidPortMap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakePorts{busy: map[string]bool{}}
			for _, b := range tc.busy {
				f.busy[b] = true
			}
			got, err := ResolvePorts(tc.maps, tc.taken, f)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, b := range got {
				s = append(s, b.String())
			}
			if strings.Join(s, ",") != tc.want {
				t.Fatalf("got %s\nwant %s", strings.Join(s, ","), tc.want)
			}
		})
	}
}

func TestPortMapString(t *testing.T) {
	for want, m := range map[string]PortMap{
		"80":                  {ContainerPort: 80},
		"8080:80":             {HostPort: 8080, ContainerPort: 80},
		"127.0.0.1::80":       {HostIP: "127.0.0.1", ContainerPort: 80},
		"[::1]:8080:80":       {HostIP: "::1", HostPort: 8080, ContainerPort: 80},
		"8000-8010:8000-8010": {HostPort: 8000, HostPortEnd: 8010, ContainerPort: 8000, ContainerPortEnd: 8010},
		"53:53/udp":           {HostPort: 53, ContainerPort: 53, Protocol: "udp"},
	} {
		if got := m.String(); got != want {
			t.Errorf("got %s want %s", got, want)
		}
	}
}

func TestNeedsProxy(t *testing.T) {
	for ip, want := range map[string]bool{"0.0.0.0": false, "127.0.0.1": false, "::1": true, "::": true} {
		if got := (PortBinding{HostIP: addr(ip)}).NeedsProxy(); got != want {
			t.Errorf("%s: %v", ip, got)
		}
	}
}
