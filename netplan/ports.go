package netplan

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
)

// PortMap is one requested port publication, in any docker/compose form:
//
//	-p 80              {ContainerPort: 80}                     a free host port is chosen
//	-p 8080:80         {HostPort: 8080, ContainerPort: 80}
//	-p 127.0.0.1::80   {HostIP: "127.0.0.1", ContainerPort: 80}
//	-p [::1]:8080:80   {HostIP: "::1", HostPort: 8080, ContainerPort: 80}  (userland proxy)
//	-p 8000-8010:8000-8010   one to one, HostPortEnd/ContainerPortEnd set
//	-p 6005-6015:80    the first free host port of the range
//	-p 53:53/udp       Protocol "udp"
//
// `-P` is given by the caller as one {ContainerPort: p, Protocol: proto} per
// exposed port.
type PortMap struct {
	HostIP           string `json:"host_ip,omitempty"` // "" = every host address
	HostPort         uint16 `json:"host_port,omitempty"`
	HostPortEnd      uint16 `json:"host_port_end,omitempty"`
	ContainerPort    uint16 `json:"container_port"`
	ContainerPortEnd uint16 `json:"container_port_end,omitempty"`
	Protocol         string `json:"protocol,omitempty"` // "tcp" (default) or "udp"
}

// PortBinding is one resolved host port → container port mapping, as
// recorded and shown by `stack port`.
type PortBinding struct {
	HostIP        netip.Addr `json:"host_ip"` // 0.0.0.0: every host IPv4 address
	HostPort      uint16     `json:"host_port"`
	ContainerPort uint16     `json:"container_port"`
	Protocol      string     `json:"protocol"`
}

// String renders a binding as `stack port` prints it: "80/tcp -> 127.0.0.1:32768".
func (b PortBinding) String() string {
	return fmt.Sprintf("%d/%s -> %s", b.ContainerPort, b.Protocol, netip.AddrPortFrom(b.HostIP, b.HostPort))
}

// NeedsProxy reports whether the binding is served by the userland proxy
// rather than DNAT: IPv6 has no route_localnet, so any IPv6 host address
// (::1 included) is relayed by a `__stack_proxy` process (PLATFORM.md).
func (b PortBinding) NeedsProxy() bool { return b.HostIP.Is6() && !b.HostIP.Is4In6() }

// PortChecker asks the host whether a port can be bound. The Manager's
// implementation binds a socket in the host network namespace; tests use a fake.
type PortChecker interface {
	// Check returns an error wrapping ErrPortInUse when ip:port/proto is taken.
	Check(proto string, ip netip.Addr, port uint16) error
	// Free returns a port the host considers free on ip for proto.
	Free(proto string, ip netip.Addr) (uint16, error)
}

// maxPortRange bounds one range mapping, so that a typo cannot install
// tens of thousands of rules.
const maxPortRange = 1024

// normalize checks a PortMap and fills its defaults.
func (m PortMap) normalize() (PortMap, netip.Addr, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("port mapping %s: %s: %w", m, fmt.Sprintf(format, a...), ErrInvalidPortMap)
	}
	if m.Protocol == "" {
		m.Protocol = "tcp"
	}
	if m.Protocol != "tcp" && m.Protocol != "udp" {
		return m, netip.Addr{}, bad("protocol %q: want tcp or udp", m.Protocol)
	}
	ip := netip.IPv4Unspecified()
	if m.HostIP != "" {
		a, err := netip.ParseAddr(m.HostIP)
		if err != nil || a.Zone() != "" {
			return m, netip.Addr{}, bad("host address %q is not an IP address", m.HostIP)
		}
		ip = a.Unmap()
	}
	if m.ContainerPort == 0 {
		return m, netip.Addr{}, bad("container port 0")
	}
	if m.ContainerPortEnd == 0 {
		m.ContainerPortEnd = m.ContainerPort
	}
	if m.HostPortEnd == 0 {
		m.HostPortEnd = m.HostPort
	}
	if m.ContainerPortEnd < m.ContainerPort || m.HostPortEnd < m.HostPort {
		return m, netip.Addr{}, bad("range end before start")
	}
	cn := int(m.ContainerPortEnd-m.ContainerPort) + 1
	hn := int(m.HostPortEnd-m.HostPort) + 1
	if cn > maxPortRange || hn > maxPortRange {
		return m, netip.Addr{}, bad("range longer than %d ports", maxPortRange)
	}
	if m.HostPort != 0 && cn > 1 && hn != cn {
		return m, netip.Addr{}, bad("host range of %d ports for %d container ports", hn, cn)
	}
	return m, ip, nil
}

// String renders a PortMap in docker's short syntax.
func (m PortMap) String() string {
	rng := func(a, b uint16) string {
		if a == 0 {
			return ""
		}
		if b == 0 || b == a {
			return strconv.Itoa(int(a))
		}
		return fmt.Sprintf("%d-%d", a, b)
	}
	s := rng(m.ContainerPort, m.ContainerPortEnd)
	if m.HostPort != 0 || m.HostIP != "" {
		s = rng(m.HostPort, m.HostPortEnd) + ":" + s
	}
	if m.HostIP != "" {
		ip := m.HostIP
		if a, err := netip.ParseAddr(ip); err == nil && a.Is6() {
			ip = "[" + ip + "]"
		}
		s = ip + ":" + s
	}
	if m.Protocol != "" && m.Protocol != "tcp" {
		s += "/" + m.Protocol
	}
	return s
}

// conflicts reports whether two bindings claim the same host socket.
func (b PortBinding) conflicts(o PortBinding) bool {
	if b.Protocol != o.Protocol || b.HostPort != o.HostPort {
		return false
	}
	if b.HostIP == o.HostIP {
		return true
	}
	anyOf := func(a, x netip.Addr) bool {
		return a.IsUnspecified() && (a.Is6() || x.Is4()) // :: covers both families
	}
	return anyOf(b.HostIP, o.HostIP) || anyOf(o.HostIP, b.HostIP)
}

// maxFreeTries bounds the search for a free dynamic port.
const maxFreeTries = 32

// ResolvePorts turns requested maps into concrete bindings: it chooses free
// host ports where none is given and checks every port against the bindings
// already recorded (taken) and against the host (pc). It creates nothing, so
// a port in use is reported before any link or rule exists.
func ResolvePorts(maps []PortMap, taken []PortBinding, pc PortChecker) ([]PortBinding, error) {
	var out []PortBinding
	inUse := func(b PortBinding) error {
		for _, t := range append(append([]PortBinding(nil), taken...), out...) {
			if b.conflicts(t) {
				return fmt.Errorf("host port %s/%s: taken by another mapping of this state root: %w", netip.AddrPortFrom(b.HostIP, b.HostPort), b.Protocol, ErrPortInUse)
			}
		}
		return pc.Check(b.Protocol, b.HostIP, b.HostPort)
	}
	for _, raw := range maps {
		m, ip, err := raw.normalize()
		if err != nil {
			return nil, err
		}
		cn := int(m.ContainerPortEnd-m.ContainerPort) + 1
		switch {
		case m.HostPort == 0: // dynamic: one free port per container port
			for i := 0; i < cn; i++ {
				b := PortBinding{HostIP: ip, ContainerPort: m.ContainerPort + uint16(i), Protocol: m.Protocol}
				var lastErr error
				for try := 0; try < maxFreeTries; try++ {
					p, err := pc.Free(m.Protocol, ip)
					if err != nil {
						return nil, fmt.Errorf("port mapping %s: choosing a host port: %w", raw, err)
					}
					b.HostPort = p
					if lastErr = inUse(b); lastErr == nil {
						break
					}
				}
				if lastErr != nil {
					return nil, fmt.Errorf("port mapping %s: no free host port after %d tries: %w", raw, maxFreeTries, lastErr)
				}
				out = append(out, b)
			}
		case cn == 1 && m.HostPortEnd > m.HostPort: // first free port of a host range
			var lastErr error
			found := false
			for p := int(m.HostPort); p <= int(m.HostPortEnd); p++ {
				b := PortBinding{HostIP: ip, HostPort: uint16(p), ContainerPort: m.ContainerPort, Protocol: m.Protocol}
				if lastErr = inUse(b); lastErr == nil {
					out = append(out, b)
					found = true
					break
				}
			}
			if !found {
				return nil, fmt.Errorf("port mapping %s: every host port of the range is in use: %w", raw, lastErr)
			}
		default: // one to one
			for i := 0; i < cn; i++ {
				b := PortBinding{HostIP: ip, HostPort: m.HostPort + uint16(i), ContainerPort: m.ContainerPort + uint16(i), Protocol: m.Protocol}
				if err := inUse(b); err != nil {
					return nil, fmt.Errorf("port mapping %s: %w", raw, err)
				}
				out = append(out, b)
			}
		}
	}
	sortBindings(out)
	return out, nil
}

func sortBindings(b []PortBinding) {
	sort.SliceStable(b, func(i, j int) bool {
		if b[i].ContainerPort != b[j].ContainerPort {
			return b[i].ContainerPort < b[j].ContainerPort
		}
		if b[i].Protocol != b[j].Protocol {
			return b[i].Protocol < b[j].Protocol
		}
		if b[i].HostIP != b[j].HostIP {
			return b[i].HostIP.Less(b[j].HostIP)
		}
		return b[i].HostPort < b[j].HostPort
	})
}
