package executor

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stack-dev/stack/netplan"
	"github.com/stack-dev/stack/spec"
)

// The network side of a container (`stack run --network/-p/--dns...` and
// the networks of a stack service). This file and runtime_net_linux.go are
// the seam between the runtime and netplan: CreateContainer calls
// applyNetworkMode while building the record and setupNetwork once the
// container's files exist; RemoveContainer calls teardownNetwork.
//
// Network modes (RunOptions.Network):
//
//	"", "default", "bridge"  docker's default network `bridge` (created on demand)
//	NAME                     a network made by `stack network create` or a project
//	none                     a namespace of its own with lo only
//	host                     the host's namespace
//	container:NAME           NAME's namespace, /etc/hosts, resolv.conf and hostname
//
// A container on networks gets a persistent network namespace, a file bound
// at <root>/run/netns/<id> (netplan.CreateNetNS), attached to each network
// before its first start; its init joins it (container.Namespaces.NetPath),
// so restarts keep the interfaces and addresses. Removing the container
// detaches it and releases the file.

// NetOptions is the network request beyond the mode in RunOptions.Network.
type NetOptions struct {
	// Networks to attach, eth0 first. Empty: the one network named by
	// RunOptions.Network, with IPv4, MAC and Aliases below. When given,
	// RunOptions.Network must be empty or name Networks[0].
	Networks []NetAttach
	// IPv4, MAC and Aliases apply to the single network of RunOptions.Network
	// (`stack run --ip --mac-address --network-alias`).
	IPv4    string
	MAC     string
	Aliases []string

	// Publish are docker -p forms ("80", "8080:80", "127.0.0.1::80",
	// "[::1]:8080:80", "8000-8010:8000-8010", "53:53/udp").
	Publish []string
	// Ports are already parsed publications (the project executor's).
	Ports []netplan.PortMap
	// PublishAll publishes every port the image exposes on a free host port (-P).
	PublishAll bool

	DNS        []string // nameservers; empty: the host's, loopback dropped
	DNSSearch  []string
	DNSOptions []string
	// ExtraHosts are "host:ip" or "host=ip" lines for /etc/hosts; the ip
	// "host-gateway" is the gateway of the first network.
	ExtraHosts []string
}

// NetAttach is one network a container joins.
type NetAttach struct {
	Name    string   `json:"name"`
	Aliases []string `json:"aliases,omitempty"` // service name, --network-alias
	IPv4    string   `json:"ipv4,omitempty"`    // static address; "": allocated
	MAC     string   `json:"mac,omitempty"`     // "": 02:42 + the address bytes
}

// Network modes as recorded in NetRecord.Mode.
const (
	NetModeBridge    = "bridge"    // own namespace, attached to Networks
	NetModeNone      = "none"      // own namespace, lo only
	NetModeHost      = "host"      // the host's namespace
	NetModeContainer = "container" // another container's namespace
)

// NetRecord is what setupNetwork made, kept in the container's record so
// that teardown, restarts, `stack port` and `stack inspect` find it. The
// attachments are as created; `stack network connect/disconnect` change
// the network records (netplan), which are the current truth.
type NetRecord struct {
	Mode string `json:"mode"`
	// NetNS is the container's own namespace file (bridge mode) or the
	// namespace joined (container mode).
	NetNS string `json:"netns,omitempty"`
	// Container is, in container mode, the ID of the container whose
	// namespace, hosts and resolv.conf this one shares.
	Container string `json:"container,omitempty"`
	// Requested networks, eth0 first.
	Requested []NetAttach `json:"requested,omitempty"`
	// PortMaps are the requested publications (-p, -P, Ports), resolved
	// into Ports at setup.
	PortMaps []netplan.PortMap `json:"port_maps,omitempty"`
	DNS      []string          `json:"dns,omitempty"`
	Search   []string          `json:"dns_search,omitempty"`
	Options  []string          `json:"dns_options,omitempty"`
	// ExtraHosts as given ("host-gateway" unresolved).
	ExtraHosts []string `json:"extra_hosts,omitempty"`

	// What setup made.
	Endpoints []NetEndpoint         `json:"endpoints,omitempty"`
	Ports     []netplan.PortBinding `json:"ports,omitempty"`
}

// NetEndpoint is one attachment as made at creation.
type NetEndpoint struct {
	Network   string     `json:"network"`
	IfName    string     `json:"ifname"`
	IP        netip.Addr `json:"ip"`
	PrefixLen int        `json:"prefix_len"`
	Gateway   netip.Addr `json:"gateway"`
	MAC       string     `json:"mac"`
	Aliases   []string   `json:"aliases,omitempty"`
}

// netnsPath is where a container's own network namespace is bound.
func netnsPath(root, id string) string { return filepath.Join(root, "run", "netns", id) }

// applyNetworkMode checks the network request and records it on c: the
// mode, the networks, the parsed port maps (with -P's exposed ports of the
// image), DNS and extra hosts. Nothing is created here.
func applyNetworkMode(c *Container, opts *RunOptions, exposed map[string]struct{}) error {
	n := &opts.Net
	rec := &NetRecord{DNS: n.DNS, Search: n.DNSSearch, Options: n.DNSOptions, ExtraHosts: n.ExtraHosts}
	mode := opts.Network
	if mode == "" && len(n.Networks) > 0 {
		mode = n.Networks[0].Name
	}
	single := len(n.Networks) == 0
	switch {
	case mode == "none" || mode == "host":
		rec.Mode = mode
	case strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "service:"):
		_, ref, _ := strings.Cut(mode, ":")
		if ref == "" {
			return fmt.Errorf("--network %s: want container:NAME", mode)
		}
		rec.Mode, rec.Container = NetModeContainer, ref
	default:
		rec.Mode = NetModeBridge
		if mode == "" || mode == "default" {
			mode = netplan.DefaultNetwork
		}
		if single {
			rec.Requested = []NetAttach{{Name: mode, Aliases: n.Aliases, IPv4: n.IPv4, MAC: n.MAC}}
		} else {
			if mode != n.Networks[0].Name && !(mode == netplan.DefaultNetwork && n.Networks[0].Name == netplan.DefaultNetwork) {
				return fmt.Errorf("--network %s: the first network is %s", opts.Network, n.Networks[0].Name)
			}
			rec.Requested = append([]NetAttach(nil), n.Networks...)
		}
		seen := map[string]bool{}
		for i, a := range rec.Requested {
			if a.Name == "" || a.Name == "none" || a.Name == "host" || strings.Contains(a.Name, ":") {
				return fmt.Errorf("network %q: a container on networks cannot also use network mode %q", a.Name, a.Name)
			}
			if seen[a.Name] {
				return fmt.Errorf("network %s: given twice", a.Name)
			}
			seen[a.Name] = true
			if a.IPv4 != "" {
				ip, err := netip.ParseAddr(a.IPv4)
				if err != nil || !ip.Is4() {
					return fmt.Errorf("invalid IPv4 address %q for network %s", a.IPv4, a.Name)
				}
			}
			if a.MAC != "" {
				if _, err := net.ParseMAC(a.MAC); err != nil {
					return fmt.Errorf("invalid MAC address %q for network %s", a.MAC, a.Name)
				}
			}
			if a.Name == netplan.DefaultNetwork && (a.IPv4 != "" || len(a.Aliases) > 0) {
				// docker: user specified IP address / aliases are supported on user defined networks only
				return fmt.Errorf("network %s: --ip and --network-alias are only supported on user-defined networks", a.Name)
			}
			rec.Requested[i] = a
		}
	}
	if rec.Mode != NetModeBridge && (n.IPv4 != "" || n.MAC != "" || len(n.Aliases) > 0 || len(n.Networks) > 0) {
		return fmt.Errorf("--network %s: --ip, --mac-address, --network-alias and further networks need a bridge network", opts.Network)
	}
	maps, err := ParsePublish(n.Publish)
	if err != nil {
		return err
	}
	maps = append(maps, n.Ports...)
	if n.PublishAll {
		maps = append(maps, exposedPortMaps(exposed)...)
	}
	if len(maps) > 0 && rec.Mode != NetModeBridge {
		if rec.Mode == NetModeNone || rec.Mode == NetModeContainer {
			return fmt.Errorf("--network %s: ports cannot be published in this network mode", opts.Network)
		}
		maps = nil // host: docker ignores published ports (the ports are the host's)
	}
	rec.PortMaps = maps
	if rec.Mode == NetModeContainer && (len(n.DNS)+len(n.DNSSearch)+len(n.DNSOptions)+len(n.ExtraHosts) > 0) {
		return fmt.Errorf("--network %s: conflicting options: dns and the network mode (the namespace's owner has them)", opts.Network)
	}
	if _, err := parseExtraHosts(n.ExtraHosts, netip.Addr{}, true); err != nil {
		return err
	}
	for _, s := range n.DNS {
		if _, err := netip.ParseAddr(s); err != nil {
			return fmt.Errorf("--dns %q: not an IP address", s)
		}
	}
	c.Network = opts.Network
	if rec.Mode == NetModeBridge && len(rec.Requested) > 0 {
		c.Network = rec.Requested[0].Name
	}
	c.Net = rec
	return nil
}

// ParsePublish parses docker -p forms into port maps.
func ParsePublish(list []string) ([]netplan.PortMap, error) {
	var out []netplan.PortMap
	for _, s := range list {
		p, err := spec.ParsePort(s)
		if err != nil {
			return nil, fmt.Errorf("invalid --publish: %w", err)
		}
		out = append(out, PortMapOf(p))
	}
	return out, nil
}

// PortMapOf translates a stack file's port into netplan's request.
func PortMapOf(p spec.Port) netplan.PortMap {
	m := netplan.PortMap{HostIP: p.HostIP, ContainerPort: p.Target.Start, Protocol: p.Protocol,
		HostPort: p.Published.Start}
	if p.Target.End != p.Target.Start {
		m.ContainerPortEnd = p.Target.End
	}
	if p.Published.End != p.Published.Start {
		m.HostPortEnd = p.Published.End
	}
	return m
}

// exposedPortMaps is -P: one dynamic publication per exposed port of the
// image ("80/tcp", "53/udp", "8000-8010/tcp"), in a stable order.
func exposedPortMaps(exposed map[string]struct{}) []netplan.PortMap {
	keys := make([]string, 0, len(exposed))
	for k := range exposed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []netplan.PortMap
	for _, k := range keys {
		r, proto, err := spec.ParseExpose(k)
		if err != nil {
			continue
		}
		m := netplan.PortMap{ContainerPort: r.Start, Protocol: proto}
		if r.End != r.Start {
			m.ContainerPortEnd = r.End
		}
		out = append(out, m)
	}
	return out
}

// parseExtraHosts parses --add-host "name:ip" / "name=ip" entries. The ip
// "host-gateway" becomes gw; with check set, a zero gw is accepted (the
// gateway is not known yet).
func parseExtraHosts(list []string, gw netip.Addr, check bool) ([]netplan.HostEntry, error) {
	var out []netplan.HostEntry
	for _, s := range list {
		name, ip, ok := strings.Cut(s, "=")
		if !ok {
			// "name:ip": the first colon (an IPv6 address has more).
			name, ip, ok = strings.Cut(s, ":")
		}
		ip = strings.TrimSuffix(strings.TrimPrefix(ip, "["), "]")
		if !ok || name == "" || ip == "" || strings.ContainsAny(name, " \t") {
			return nil, fmt.Errorf("invalid --add-host %q: want HOST:IP or HOST=IP", s)
		}
		if ip == "host-gateway" {
			if !gw.IsValid() {
				if check {
					continue
				}
				return nil, fmt.Errorf("--add-host %q: host-gateway needs a bridge network", s)
			}
			out = append(out, netplan.HostEntry{Name: name, IP: gw})
			continue
		}
		a, err := netip.ParseAddr(ip)
		if err != nil {
			return nil, fmt.Errorf("invalid --add-host %q: %q is not an IP address", s, ip)
		}
		out = append(out, netplan.HostEntry{Name: name, IP: a})
	}
	return out, nil
}

// hostsWithExtra appends extra host lines to a hosts file's content.
func hostsWithExtra(base string, extra []netplan.HostEntry) string {
	var b strings.Builder
	b.WriteString(base)
	if base != "" && !strings.HasSuffix(base, "\n") {
		b.WriteByte('\n')
	}
	for _, e := range extra {
		b.WriteString(e.IP.String() + "\t" + e.Name + "\n")
	}
	return b.String()
}

// NetworkSettings is a container's network state in the shape of docker
// inspect's NetworkSettings.
type NetworkSettings struct {
	SandboxKey string                         `json:"SandboxKey"`
	Ports      map[string][]PortBindingJSON   `json:"Ports"`
	Networks   map[string]EndpointSettingJSON `json:"Networks"`
}

// PortBindingJSON is one host side of a published port, as docker shows it.
type PortBindingJSON struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

// EndpointSettingJSON is one network attachment, as docker shows it.
type EndpointSettingJSON struct {
	NetworkID     string   `json:"NetworkID"`
	Aliases       []string `json:"Aliases"`
	IPAddress     string   `json:"IPAddress"`
	IPPrefixLen   int      `json:"IPPrefixLen"`
	Gateway       string   `json:"Gateway"`
	MacAddress    string   `json:"MacAddress"`
	InterfaceName string   `json:"InterfaceName"`
}

// networkSettings renders attachments (eth0 first) with their networks.
func networkSettings(netns string, eps []netplan.ContainerEndpoint, nets map[string]*netplan.Network) *NetworkSettings {
	s := &NetworkSettings{SandboxKey: netns, Ports: map[string][]PortBindingJSON{}, Networks: map[string]EndpointSettingJSON{}}
	for _, e := range eps {
		es := EndpointSettingJSON{Aliases: e.Aliases, IPAddress: e.IP.String(), MacAddress: e.MAC, InterfaceName: e.IfName}
		if n := nets[e.Network]; n != nil {
			es.NetworkID, es.IPPrefixLen = n.ID, n.Subnet.Prefix.Bits()
			if !n.Internal {
				es.Gateway = n.Subnet.Gateway.String()
			}
		}
		s.Networks[e.Network] = es
		for _, b := range e.Ports {
			k := fmt.Sprintf("%d/%s", b.ContainerPort, b.Protocol)
			s.Ports[k] = append(s.Ports[k], PortBindingJSON{HostIP: b.HostIP.String(), HostPort: fmt.Sprint(b.HostPort)})
		}
	}
	return s
}
