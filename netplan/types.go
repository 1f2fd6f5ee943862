package netplan

import (
	"net/netip"
	"sort"
	"time"
)

// NetworkConfig asks for a bridge network (`stack network create`).
type NetworkConfig struct {
	Name     string
	Driver   string       // "bridge" (the only driver); "" means bridge
	Subnet   netip.Prefix // zero: chosen from the pools
	Gateway  netip.Addr   // zero: the subnet's first address
	IPRange  netip.Prefix // zero: the whole subnet
	Internal bool         // no masquerade, no route out
	Options  map[string]string
	Labels   map[string]string
}

// Driver options understood in NetworkConfig.Options (docker's names).
const (
	OptMTU        = "com.docker.network.driver.mtu"
	OptBridgeName = "com.docker.network.bridge.name"
)

// Network is the persisted record of one network: <root>/networks/<name>.json.
type Network struct {
	Name      string               `json:"name"`
	ID        string               `json:"id"`
	Driver    string               `json:"driver"`
	Bridge    string               `json:"bridge"`
	Subnet    Subnet               `json:"ipam"`
	MTU       int                  `json:"mtu"`
	Internal  bool                 `json:"internal"`
	Options   map[string]string    `json:"options,omitempty"`
	Labels    map[string]string    `json:"labels,omitempty"`
	Created   time.Time            `json:"created"`
	Endpoints map[string]*Endpoint `json:"endpoints"` // by container ID
}

// Endpoint is one container's attachment to a network, as recorded.
type Endpoint struct {
	ContainerID string        `json:"container_id"`
	Name        string        `json:"name"`              // container name
	Aliases     []string      `json:"aliases,omitempty"` // service name, network aliases
	IfName      string        `json:"ifname"`            // inside the container: eth0, eth1...
	Veth        string        `json:"veth"`              // host side: stkv + 8 hex
	IP          netip.Addr    `json:"ip"`
	MAC         string        `json:"mac"`
	NetNS       string        `json:"netns,omitempty"` // path it was attached through (informative)
	Ports       []PortBinding `json:"ports,omitempty"`
	Proxies     []Proxy       `json:"proxies,omitempty"`
	Hosts       HostsSpec     `json:"hosts"`
	Attached    time.Time     `json:"attached"`
	// Ready is set once the veth, address, routes, rules and proxies are
	// all in place. An endpoint found not ready under the lock was left by
	// a killed Attach: it is undone, not trusted.
	Ready bool `json:"ready"`
}

// Proxy is a running userland proxy process serving one binding.
type Proxy struct {
	Pid     int         `json:"pid"`
	Binding PortBinding `json:"binding"`
}

// HostsSpec is what a container's /etc/hosts is built from, kept with its
// endpoints so that the file can be rewritten when neighbours come and go.
type HostsSpec struct {
	Path       string      `json:"path,omitempty"` // "" : the Manager keeps no hosts file for it
	Hostname   string      `json:"hostname,omitempty"`
	Domainname string      `json:"domainname,omitempty"`
	ExtraHosts []HostEntry `json:"extra_hosts,omitempty"`
}

// HostEntry is one extra_hosts / --add-host line.
type HostEntry struct {
	Name string     `json:"name"`
	IP   netip.Addr `json:"ip"`
}

func sortedNetworks(nets []*Network) []*Network {
	out := append([]*Network(nil), nets...)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func (n *Network) sortedEndpoints() []*Endpoint {
	out := make([]*Endpoint, 0, len(n.Endpoints))
	for _, e := range n.Endpoints {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ContainerID < out[j].ContainerID })
	return out
}

func (n *Network) usedAddrs() []netip.Addr {
	var out []netip.Addr
	for _, e := range n.Endpoints {
		out = append(out, e.IP)
	}
	sortAddrs(out)
	return out
}
