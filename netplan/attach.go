package netplan

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// NetNS names a container's network namespace: an nsfs path (for example
// /run/netns/x or /proc/<pid>/ns/net), or a pid whose namespace is used.
type NetNS struct {
	Path string
	Pid  int
}

func (ns NetNS) path() (string, error) {
	switch {
	case ns.Path != "":
		return ns.Path, nil
	case ns.Pid > 0:
		return "/proc/" + strconv.Itoa(ns.Pid) + "/ns/net", nil
	}
	return "", errors.New("no network namespace: want NetNS.Path or NetNS.Pid")
}

// AttachConfig connects one container to one network.
type AttachConfig struct {
	ContainerID string // 64 hex (any stable unique string works)
	Name        string // container name, resolvable by peers
	Aliases     []string
	Network     string
	NetNS       NetNS
	IfName      string     // "": eth0, eth1... by the container's number of attachments
	IPv4        netip.Addr // static address (ipv4_address); zero: allocated
	MAC         string     // zero: 02:42 + the address bytes
	Ports       []PortMap  // published through this network's address
	Hosts       HostsSpec  // its /etc/hosts: kept current while attached
}

// Attachment is the result of Attach: what the container got.
type Attachment struct {
	Network   string        `json:"network"`
	IfName    string        `json:"ifname"`
	Veth      string        `json:"veth"`
	IP        netip.Addr    `json:"ip"`
	PrefixLen int           `json:"prefix_len"`
	Gateway   netip.Addr    `json:"gateway"`
	MAC       string        `json:"mac"`
	Ports     []PortBinding `json:"ports,omitempty"`
}

func attachmentOf(n *Network, e *Endpoint) *Attachment {
	return &Attachment{Network: n.Name, IfName: e.IfName, Veth: e.Veth, IP: e.IP, PrefixLen: n.Subnet.Prefix.Bits(),
		Gateway: n.Subnet.Gateway, MAC: e.MAC, Ports: e.Ports}
}

// Attach wires a container into a network: a veth pair whose host side
// (stkv + 8 hex) joins the bridge with hairpin on, and whose peer is created
// inside the container's namespace as IfName with the address, the MAC, lo
// up, and a default route through the gateway when the container has none
// yet and the network is not internal. Published ports are resolved and
// checked first (a port in use is ErrPortInUse before anything is created),
// then DNAT rules are written, and IPv6 host addresses get a userland proxy.
// Every hosts file of the network's containers is rewritten.
//
// Attaching a container that is already attached returns its attachment
// (idempotent). On failure nothing of the attempt remains.
func (m *Manager) Attach(ctx context.Context, cfg AttachConfig) (*Attachment, error) {
	if cfg.ContainerID == "" {
		return nil, errors.New("attaching: empty container id")
	}
	nsPath, err := cfg.NetNS.path()
	if err != nil {
		return nil, fmt.Errorf("attaching %s to %s: %w", cfg.Name, cfg.Network, err)
	}
	unlock, err := m.st.lock()
	if err != nil {
		return nil, err
	}
	defer unlock()
	nets, err := m.st.loadAll()
	if err != nil {
		return nil, err
	}
	var n *Network
	for _, x := range nets {
		if x.Name == cfg.Network {
			n = x
		}
	}
	if n == nil {
		return nil, fmt.Errorf("attaching %s: network %s: %w", cfg.Name, cfg.Network, ErrNotFound)
	}
	wrap := func(err error) error { return fmt.Errorf("attaching %s to network %s: %w", cfg.Name, n.Name, err) }
	if old, ok := n.Endpoints[cfg.ContainerID]; ok {
		live, err := m.k.linkExists(old.Veth)
		if err != nil {
			return nil, wrap(err)
		}
		if live && old.Ready {
			return attachmentOf(n, old), nil
		}
		// Its container died, or an Attach was killed half-way: undo it.
		for _, p := range old.Proxies {
			m.k.stopProxy(p.Pid, m.Table())
		}
		if err := m.k.deleteLink(old.Veth); err != nil {
			return nil, wrap(err)
		}
		delete(n.Endpoints, cfg.ContainerID)
	}

	e := &Endpoint{ContainerID: cfg.ContainerID, Name: cfg.Name, Aliases: cfg.Aliases, IfName: cfg.IfName,
		Veth: VethName(m.root, cfg.ContainerID, n.Name), NetNS: nsPath, Hosts: cfg.Hosts, MAC: cfg.MAC,
		Attached: time.Now().UTC().Truncate(time.Second)}
	if cfg.IPv4.IsValid() {
		if err := n.Subnet.Reserve(cfg.IPv4, n.usedAddrs()); err != nil {
			return nil, wrap(err)
		}
		e.IP = cfg.IPv4
	} else if e.IP, err = n.Subnet.Allocate(n.usedAddrs()); err != nil {
		return nil, wrap(fmt.Errorf("network %s: %w", n.Name, err))
	}
	if e.MAC == "" {
		e.MAC = MACFor(e.IP)
	}
	if e.IfName == "" {
		e.IfName = nextIfName(cfg.ContainerID, nets)
	}
	if len(cfg.Ports) > 0 {
		var taken []PortBinding
		for _, x := range nets {
			for _, o := range x.Endpoints {
				taken = append(taken, o.Ports...)
			}
		}
		if e.Ports, err = ResolvePorts(cfg.Ports, taken, m.k.ports()); err != nil {
			return nil, wrap(err)
		}
	}

	// Record first, then create: a crash in between leaves a record whose
	// veth is missing, which the next Attach, Cleanup or RemoveNetwork release.
	n.Endpoints[e.ContainerID] = e
	if err := m.st.save(n); err != nil {
		return nil, err
	}
	undo := func(cause error) error {
		for _, p := range e.Proxies {
			m.k.stopProxy(p.Pid, m.Table())
		}
		m.k.deleteLink(e.Veth)
		delete(n.Endpoints, e.ContainerID)
		m.st.save(n)
		m.syncRules(nets)
		return wrap(cause)
	}
	if err := m.k.ensureBridge(n, linkAlias(m.root)); err != nil {
		return nil, undo(err)
	}
	if err := m.k.wire(n, e, NetNS{Path: nsPath}, linkAlias(m.root)); err != nil {
		return nil, undo(err)
	}
	if err := m.syncRules(nets); err != nil {
		return nil, undo(err)
	}
	for _, b := range e.Ports {
		if !b.NeedsProxy() {
			continue
		}
		pid, err := m.k.startProxy(m.proxy, b, netip.AddrPortFrom(e.IP, b.ContainerPort), m.Table())
		if err != nil {
			return nil, undo(fmt.Errorf("starting proxy for %s: %w", b, err))
		}
		e.Proxies = append(e.Proxies, Proxy{Pid: pid, Binding: b})
	}
	e.Ready = true
	if err := m.st.save(n); err != nil {
		return nil, undo(err)
	}
	if err := m.refreshHosts(nets, e.ContainerID); err != nil {
		return nil, undo(err)
	}
	m.log.Info("container attached", "container", cfg.Name, "network", n.Name, "ip", e.IP, "veth", e.Veth)
	return attachmentOf(n, e), nil
}

// nextIfName is eth<N> with N the number of networks id is already on.
func nextIfName(id string, nets []*Network) string {
	used := map[string]bool{}
	for _, n := range nets {
		if e, ok := n.Endpoints[id]; ok {
			used[e.IfName] = true
		}
	}
	for i := 0; ; i++ {
		if name := "eth" + strconv.Itoa(i); !used[name] {
			return name
		}
	}
}

// Detach disconnects a container from a network: its proxies are stopped,
// its veth deleted (the peer goes with it), its address and ports released,
// the table rewritten and the network's hosts files refreshed. Detaching a
// container that is not attached is a no-op.
func (m *Manager) Detach(ctx context.Context, containerID, network string) error {
	unlock, err := m.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.detachLocked(containerID, func(n *Network) bool { return n.Name == network }, true)
}

// DetachAll disconnects a container from every network it is on
// (container removal). Idempotent.
func (m *Manager) DetachAll(ctx context.Context, containerID string) error {
	unlock, err := m.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.detachLocked(containerID, func(*Network) bool { return true }, true)
}

// ReleaseAll is DetachAll for a container whose network namespace the
// caller destroys right after: its endpoints, addresses, ports, rules and
// proxies are released, but its veth pairs are left to the kernel, which
// deletes both ends with the namespace, in the background. Deleting a veth
// here waits for the kernel's network synchronization (20-30 ms); letting
// the namespace take it does not. Idempotent.
func (m *Manager) ReleaseAll(ctx context.Context, containerID string) error {
	unlock, err := m.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	return m.detachLocked(containerID, func(*Network) bool { return true }, false)
}

func (m *Manager) detachLocked(id string, which func(*Network) bool, deleteLinks bool) error {
	nets, err := m.st.loadAll()
	if err != nil {
		return err
	}
	changed := false
	for _, n := range nets {
		e, ok := n.Endpoints[id]
		if !ok || !which(n) {
			continue
		}
		for _, p := range e.Proxies {
			m.k.stopProxy(p.Pid, m.Table())
		}
		if deleteLinks {
			if err := m.k.deleteLink(e.Veth); err != nil {
				return fmt.Errorf("detaching %s from network %s: %w", e.Name, n.Name, err)
			}
		}
		delete(n.Endpoints, id)
		if err := m.st.save(n); err != nil {
			return err
		}
		changed = true
		m.log.Info("container detached", "container", e.Name, "network", n.Name)
	}
	if !changed {
		return nil
	}
	if err := m.syncRules(nets); err != nil {
		return err
	}
	return m.refreshHosts(nets, "")
}

// RefreshHosts rewrites, in place, the hosts file of every attached
// container that has one, from the current records.
func (m *Manager) RefreshHosts(ctx context.Context) error {
	nets, err := m.st.loadAll()
	if err != nil {
		return err
	}
	return m.refreshHosts(nets, "*")
}

// refreshHosts rewrites every recorded hosts file. A file whose directory
// does not exist is skipped; any other file that cannot be written is logged, not returned, unless it belongs to container must
// ("*": any): a removed container's missing directory must not make its
// neighbours' attach fail.
func (m *Manager) refreshHosts(nets []*Network, must string) error {
	done := map[string]bool{}
	var errs []error
	for _, n := range nets {
		for _, e := range n.sortedEndpoints() {
			if done[e.ContainerID] {
				continue
			}
			done[e.ContainerID] = true
			path := ""
			for _, x := range nets { // the path may be recorded on any of its endpoints
				if o, ok := x.Endpoints[e.ContainerID]; ok && o.Hosts.Path != "" {
					path = o.Hosts.Path
				}
			}
			if path == "" {
				continue
			}
			c, _ := HostsFor(e.ContainerID, nets)
			if err := WriteHosts(path, c); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					// Its directory is not there: not yet (the runtime
					// creates a container's files under a temporary name and
					// writes this one itself) or no more (being removed).
					continue
				}
				if must == "*" || must == e.ContainerID {
					errs = append(errs, fmt.Errorf("container %s: %w", e.Name, err))
				} else {
					m.log.Warn("hosts file not refreshed", "container", e.Name, "err", err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// ContainerEndpoint is one network attachment of a container, as recorded.
type ContainerEndpoint struct {
	Network string `json:"network"`
	Endpoint
}

// Endpoints returns the recorded attachments of a container, found by id,
// id prefix (at least 4 characters) or name, sorted by interface name.
func (m *Manager) Endpoints(ctx context.Context, container string) ([]ContainerEndpoint, error) {
	nets, err := m.st.loadAll()
	if err != nil {
		return nil, err
	}
	var out []ContainerEndpoint
	ids := map[string]bool{}
	for _, n := range nets {
		for _, e := range n.sortedEndpoints() {
			if e.ContainerID == container || e.Name == container || (len(container) >= 4 && strings.HasPrefix(e.ContainerID, container)) {
				out = append(out, ContainerEndpoint{Network: n.Name, Endpoint: *e})
				ids[e.ContainerID] = true
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("container %s: no network attachment: %w", container, ErrNotFound)
	}
	if len(ids) > 1 {
		return nil, fmt.Errorf("container %s: ambiguous, matches %d containers", container, len(ids))
	}
	sort.SliceStable(out, func(i, j int) bool { return ifIndexLess(out[i].IfName, out[j].IfName) })
	return out, nil
}

// Ports returns every published port of a container (all its networks).
func (m *Manager) Ports(ctx context.Context, container string) ([]PortBinding, error) {
	eps, err := m.Endpoints(ctx, container)
	if err != nil {
		return nil, err
	}
	var out []PortBinding
	for _, e := range eps {
		out = append(out, e.Ports...)
	}
	sortBindings(out)
	return out, nil
}
