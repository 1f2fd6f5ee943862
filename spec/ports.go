package spec

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePort parses one short-form port mapping in any docker or compose
// form:
//
//	80                     container port 80, published on a free host port
//	8080:80                host port 8080 → container port 80
//	127.0.0.1:8080:80      the same, bound to one address
//	127.0.0.1::80          a free host port on one address
//	[::1]:8080:80          IPv6 (brackets optional, as in docker)
//	0.0.0.0:80:80          an explicit "all IPv4 addresses"
//	8000-8010:8000-8010    a range onto a range of the same size
//	6005-6015:80           one free port of the host range onto port 80
//	80/udp, 80/tcp         protocol suffix; tcp when absent
//
// A dynamic published port (empty or "0" host port) is the zero PortRange.
// HostIP is stored without brackets, in its canonical text form ("::1").
// Protocols are tcp and udp, case-insensitive, stored lowercase; sctp, which
// docker accepts, is rejected as not supported by stack (its port maps are
// tcp/udp only).
//
// The error says what is wrong and what would be valid; it carries no
// position (the loader adds it).
func ParsePort(s string) (Port, error) {
	if s == "" {
		return Port{}, fmt.Errorf("empty port mapping; valid forms are \"80\", \"8080:80\", \"127.0.0.1:8080:80\", \"127.0.0.1::80\", \"8000-8010:8000-8010\", with an optional \"/udp\"")
	}
	body, proto, err := splitProto(s)
	if err != nil {
		return Port{}, err
	}
	p := Port{Protocol: proto}

	// As docker does: the last part is the container port, the one before
	// it the host port, and everything before that the address (which for
	// IPv6 contains colons itself, bracketed or not).
	var ip, host, container string
	hasHost := false
	if strings.HasPrefix(body, "[") {
		j := strings.IndexByte(body, ']')
		if j < 0 {
			return Port{}, fmt.Errorf("port mapping %q has an unclosed \"[\"; write IPv6 addresses as \"[::1]:8080:80\"", s)
		}
		ip = body[:j+1]
		rest, ok := strings.CutPrefix(body[j+1:], ":")
		if !ok {
			return Port{}, fmt.Errorf("port mapping %q: the address %s must be followed by \":HOST:CONTAINER\", as in \"%s:8080:80\" or \"%s::80\"", s, ip, ip, ip)
		}
		host, container, hasHost = strings.Cut(rest, ":")
		if !hasHost {
			return Port{}, fmt.Errorf("port mapping %q has an address but no host port part; write \"%s::%s\" for a free port or \"%s:8080:%s\"", s, ip, rest, ip, rest)
		}
	} else {
		last := strings.LastIndexByte(body, ':')
		container = body[last+1:]
		if last >= 0 {
			hasHost = true
			rest := body[:last]
			if i := strings.LastIndexByte(rest, ':'); i >= 0 {
				ip, host = rest[:i], rest[i+1:]
				if ip == "" {
					return Port{}, fmt.Errorf("port mapping %q has an empty address; write \"8080:80\", or \"127.0.0.1:8080:80\" to bind one address", s)
				}
			} else {
				host = rest
			}
		}
	}

	if container == "" {
		return Port{}, fmt.Errorf("port mapping %q has no container port; the container port is the last part, as in \"8080:80\"", s)
	}
	p.Target, err = parsePortRange(container, "container port")
	if err != nil {
		return Port{}, fmt.Errorf("port mapping %q: %w", s, err)
	}

	if ip != "" {
		p.HostIP, err = parseHostIP(ip)
		if err != nil {
			return Port{}, fmt.Errorf("port mapping %q: %w", s, err)
		}
	}

	if hasHost && host != "" && host != "0" {
		p.Published, err = parsePortRange(host, "host port")
		if err != nil {
			if ip == "" && looksLikeAddress(host) {
				return Port{}, fmt.Errorf("port mapping %q: %q is not a host port; to bind an address write \"%s::%s\" (a free port) or \"%s:8080:%s\"", s, host, host, container, host, container)
			}
			return Port{}, fmt.Errorf("port mapping %q: %w", s, err)
		}
		hostSize := p.Published.End - p.Published.Start
		ctrSize := p.Target.End - p.Target.Start
		if hostSize != ctrSize && ctrSize != 0 {
			return Port{}, fmt.Errorf("port mapping %q: the host range %s has %d ports but the container range %s has %d; use ranges of the same size, or one container port with a host range to pick from", s, host, int(hostSize)+1, container, int(ctrSize)+1)
		}
	}
	return p, nil
}

// ParseExpose parses an `expose` entry ("80", "8000-8010", "80/udp") into a
// range and a protocol ("tcp" when absent; tcp or udp only).
func ParseExpose(s string) (PortRange, string, error) {
	if s == "" {
		return PortRange{}, "", fmt.Errorf("empty expose entry; valid forms are \"80\", \"8000-8010\", \"80/udp\"")
	}
	body, proto, err := splitProto(s)
	if err != nil {
		return PortRange{}, "", err
	}
	if strings.IndexByte(body, ':') >= 0 {
		return PortRange{}, "", fmt.Errorf("expose entry %q has a \":\"; expose takes container ports only (\"80\", \"8000-8010\", \"80/udp\"): publish with ports", s)
	}
	r, err := parsePortRange(body, "port")
	if err != nil {
		return PortRange{}, "", fmt.Errorf("expose entry %q: %w", s, err)
	}
	return r, proto, nil
}

// splitProto splits "80/udp" into "80" and "udp"; no suffix means tcp.
func splitProto(s string) (string, string, error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return s, "tcp", nil
	}
	body, proto := s[:i], s[i+1:]
	switch strings.ToLower(proto) {
	case "tcp":
		return body, "tcp", nil
	case "udp":
		return body, "udp", nil
	case "":
		return "", "", fmt.Errorf("%q has an empty protocol after \"/\"; valid protocols are tcp and udp", s)
	case "sctp":
		return "", "", fmt.Errorf("%q: protocol sctp is not supported by stack; valid protocols are tcp and udp", s)
	}
	return "", "", fmt.Errorf("%q has unknown protocol %q; valid protocols are tcp and udp", s, proto)
}

// parsePortRange parses "80" or "8000-8010"; every port is in 1..65535.
func parsePortRange(s, what string) (PortRange, error) {
	if s == "" {
		return PortRange{}, fmt.Errorf("empty %s; a port is a number from 1 to 65535", what)
	}
	lo, hi, isRange := strings.Cut(s, "-")
	start, err := parsePortNumber(lo, what)
	if err != nil {
		return PortRange{}, err
	}
	if !isRange {
		return PortRange{Start: start, End: start}, nil
	}
	end, err := parsePortNumber(hi, what)
	if err != nil {
		return PortRange{}, err
	}
	if end < start {
		return PortRange{}, fmt.Errorf("%s range %q is reversed; write the lower port first, as in \"%d-%d\"", what, s, end, start)
	}
	return PortRange{Start: start, End: end}, nil
}

func parsePortNumber(s, what string) (uint16, error) {
	if s == "" {
		return 0, fmt.Errorf("%s range has an empty bound; a range is written \"8000-8010\"", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, fmt.Errorf("%s %q is not a number; a port is a number from 1 to 65535", what, s)
		}
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || n == 0 || n > 65535 {
		return 0, fmt.Errorf("%s %s is out of range; a port is a number from 1 to 65535", what, s)
	}
	return uint16(n), nil
}

// parseHostIP validates an address, with or without IPv6 brackets, and
// returns its canonical text without brackets.
func parseHostIP(s string) (string, error) {
	raw := s
	if strings.HasPrefix(s, "[") || strings.HasSuffix(s, "]") {
		if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
			return "", fmt.Errorf("host address %q has unbalanced brackets; write IPv6 as \"[::1]\"", raw)
		}
		s = s[1 : len(s)-1]
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return "", fmt.Errorf("host address %q is not a valid IP address; write an IPv4 address (\"127.0.0.1\") or an IPv6 one in brackets (\"[::1]\")", raw)
	}
	return a.String(), nil
}

// looksLikeAddress reports whether s looks like an IP address mistaken for
// a host port ("127.0.0.1:80").
func looksLikeAddress(s string) bool {
	return strings.Count(s, ".") == 3 || strings.HasPrefix(s, "[")
}
