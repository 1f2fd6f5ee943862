package netplan

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Manager owns the networks of one state root: their records under
// <root>/networks/, their bridges and veths, and the root's nftables table.
// Every mutating method takes the root's network lock, updates the records,
// brings the kernel in line with them, and rewrites the table from all
// records (one transaction), so a crashed run is repaired by the next call
// or by Cleanup.
//
// Lifecycle for a container (what the executor calls):
//
//	m, _ := netplan.Open(root, netplan.Options{Logger: log})
//	m.CreateNetwork(ctx, netplan.NetworkConfig{Name: "demo_default"})   // idempotent by name
//	// the container's process exists (pid known), before it continues:
//	att, _ := m.Attach(ctx, netplan.AttachConfig{ContainerID: id, Name: "demo-web-1",
//	        Aliases: []string{"web"}, Network: "demo_default", Pid: pid,
//	        Ports: ports, Hosts: netplan.HostsSpec{Path: hostsPath, Hostname: "abc"}})
//	...
//	m.DetachAll(ctx, id)            // on container removal; idempotent
//	m.RemoveNetwork(ctx, "demo_default")
type Manager struct {
	root   string
	st     store
	log    *slog.Logger
	pools  []Pool
	proxy  []string
	k      kernel
	closed bool
}

// Options tune a Manager; the zero value is the production setup.
type Options struct {
	Logger *slog.Logger // nil: discard
	// HostNetNS is the network namespace path that plays "the host": bridges,
	// veth host sides, routes, sysctls and the nftables table live there, and
	// proxies run there. "" means the namespace of the calling thread at Open.
	// Tests pass a namespace of their own (/run/netns/...).
	HostNetNS string
	// Pools to choose subnets from; nil: DefaultPools.
	Pools []Pool
	// ProxyCommand starts the userland proxy; the proxy arguments are
	// appended. nil: /proc/self/exe __stack_proxy.
	ProxyCommand []string
}

// kernel is what the Manager needs from the host; kernel_linux.go is the
// real one, other systems get ErrUnsupported.
type kernel interface {
	hostRoutes() ([]Claim, error)
	ensureBridge(n *Network, alias string) error
	linkExists(name string) (bool, error)
	deleteLink(name string) error
	stackLinks(alias string) ([]string, error)
	wire(n *Network, e *Endpoint, ns NetNS, alias string) error
	applyRules(rs Ruleset, how ruleApply) error
	tableExists(name string) (bool, error)
	ruleKeys(table string) (map[string]bool, error) // nil map: no table
	bridgeOK(n *Network) (bool, error)
	ports() PortChecker
	startProxy(cmd []string, b PortBinding, target netip.AddrPort, tag string) (int, error)
	stopProxy(pid int, tag string)
	orphanProxies(tag string) []int
	close() error
}

// Open opens the networks of a state root.
func Open(root string, opts Options) (*Manager, error) {
	if !filepath.IsAbs(root) {
		return nil, fmt.Errorf("opening networks: state root %q is not absolute", root)
	}
	m := &Manager{root: root, st: store{dir: filepath.Join(root, "networks")}, log: opts.Logger, pools: opts.Pools, proxy: opts.ProxyCommand}
	if m.log == nil {
		m.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if m.pools == nil {
		m.pools = DefaultPools
	}
	if m.proxy == nil {
		m.proxy = []string{"/proc/self/exe", ProxyEntrypoint}
	}
	k, err := newKernel(opts.HostNetNS)
	if err != nil {
		return nil, fmt.Errorf("opening networks of %s: %w", root, err)
	}
	m.k = k
	return m, nil
}

// Close releases the host namespace handle.
func (m *Manager) Close() error {
	if m.closed {
		return nil
	}
	m.closed = true
	return m.k.close()
}

// Root is the state root the Manager works on.
func (m *Manager) Root() string { return m.root }

// Table is the name of the root's nftables table.
func (m *Manager) Table() string { return TableName(m.root) }

// ListNetworks returns every recorded network, sorted by name.
func (m *Manager) ListNetworks(ctx context.Context) ([]*Network, error) { return m.st.loadAll() }

// InspectNetwork returns one network's record; ErrNotFound when absent.
func (m *Manager) InspectNetwork(ctx context.Context, name string) (*Network, error) {
	return m.st.load(name)
}

// CreateNetwork creates a bridge network, or returns the existing one of
// that name after making sure its bridge is up (idempotent). An existing
// network whose record differs from cfg is ErrConflict; subnet, gateway and
// ip range are compared only when cfg gives them, internal, MTU (default
// 1500) and bridge name always. An explicit subnet overlapping another network or a
// host route is refused with an error naming both (ErrOverlap).
func (m *Manager) CreateNetwork(ctx context.Context, cfg NetworkConfig) (*Network, error) {
	if err := validName(cfg.Name); err != nil {
		return nil, err
	}
	if cfg.Driver != "" && cfg.Driver != "bridge" {
		return nil, fmt.Errorf("network %s: driver %q: only bridge is supported", cfg.Name, cfg.Driver)
	}
	mtu := 1500
	if v, ok := cfg.Options[OptMTU]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 68 || n > 65535 {
			return nil, fmt.Errorf("network %s: %s=%q: want a number from 68 to 65535", cfg.Name, OptMTU, v)
		}
		mtu = n
	}
	for k := range cfg.Options {
		if k != OptMTU && k != OptBridgeName {
			return nil, fmt.Errorf("network %s: option %q: not supported (supported: %s, %s)", cfg.Name, k, OptMTU, OptBridgeName)
		}
	}
	bridge := BridgeName(m.root, cfg.Name)
	if v, ok := cfg.Options[OptBridgeName]; ok {
		if v == "" || len(v) > maxIfName || strings.ContainsAny(v, "/ \t\n:") {
			return nil, fmt.Errorf("network %s: %s=%q: not a valid interface name (at most 15 characters)", cfg.Name, OptBridgeName, v)
		}
		bridge = v
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
	for _, n := range nets {
		if n.Name != cfg.Name {
			if n.Bridge == bridge {
				return nil, fmt.Errorf("network %s: bridge %s is used by network %s: %w", cfg.Name, bridge, n.Name, ErrConflict)
			}
			continue
		}
		if err := sameConfig(n, cfg, mtu, bridge); err != nil {
			return nil, err
		}
		if err := m.k.ensureBridge(n, linkAlias(m.root)); err != nil {
			return nil, fmt.Errorf("network %s: %w", n.Name, err)
		}
		if err := m.syncRules(nets); err != nil {
			return nil, err
		}
		return n, nil
	}

	claims := make([]Claim, 0, len(nets))
	for _, n := range nets {
		claims = append(claims, Claim{Prefix: n.Subnet.Prefix, Owner: "network " + n.Name})
	}
	routes, err := m.k.hostRoutes()
	if err != nil {
		return nil, fmt.Errorf("network %s: reading host routes: %w", cfg.Name, err)
	}
	claims = append(claims, routes...)
	prefix := cfg.Subnet
	if prefix.IsValid() {
		if err := CheckSubnet(prefix.Masked(), claims); err != nil {
			return nil, fmt.Errorf("network %s: %w", cfg.Name, err)
		}
	} else {
		if cfg.Gateway.IsValid() || cfg.IPRange.IsValid() {
			return nil, fmt.Errorf("network %s: --gateway and --ip-range need --subnet", cfg.Name)
		}
		if prefix, err = ChooseSubnet(cfg.Name, m.pools, claims); err != nil {
			return nil, err
		}
	}
	sub, err := NewSubnet(prefix, cfg.Gateway, cfg.IPRange)
	if err != nil {
		return nil, fmt.Errorf("network %s: %w", cfg.Name, err)
	}
	n := &Network{
		Name: cfg.Name, ID: randomID(), Driver: "bridge", Bridge: bridge, Subnet: sub, MTU: mtu,
		Internal: cfg.Internal, Options: cfg.Options, Labels: cfg.Labels,
		Created: time.Now().UTC().Truncate(time.Second), Endpoints: map[string]*Endpoint{},
	}
	// The record first: a crash from here on leaves something Cleanup finds.
	if err := m.st.save(n); err != nil {
		return nil, err
	}
	if err := m.k.ensureBridge(n, linkAlias(m.root)); err != nil {
		m.k.deleteLink(n.Bridge)
		m.st.remove(n.Name)
		return nil, fmt.Errorf("network %s: %w", n.Name, err)
	}
	if err := m.syncRules(append(nets, n)); err != nil {
		m.k.deleteLink(n.Bridge)
		m.st.remove(n.Name)
		m.syncRules(nets)
		return nil, err
	}
	m.log.Info("network created", "network", n.Name, "bridge", n.Bridge, "subnet", n.Subnet.Prefix)
	return n, nil
}

func sameConfig(n *Network, cfg NetworkConfig, mtu int, bridge string) error {
	var diffs []string
	if cfg.Subnet.IsValid() && cfg.Subnet.Masked() != n.Subnet.Prefix {
		diffs = append(diffs, fmt.Sprintf("subnet %s, not %s", n.Subnet.Prefix, cfg.Subnet))
	}
	if cfg.Gateway.IsValid() && cfg.Gateway != n.Subnet.Gateway {
		diffs = append(diffs, fmt.Sprintf("gateway %s, not %s", n.Subnet.Gateway, cfg.Gateway))
	}
	if cfg.IPRange.IsValid() && cfg.IPRange != n.Subnet.IPRange {
		diffs = append(diffs, fmt.Sprintf("ip range %s, not %s", n.Subnet.IPRange, cfg.IPRange))
	}
	if cfg.Internal != n.Internal {
		diffs = append(diffs, fmt.Sprintf("internal %v, not %v", n.Internal, cfg.Internal))
	}
	if mtu != n.MTU {
		diffs = append(diffs, fmt.Sprintf("mtu %d, not %d", n.MTU, mtu))
	}
	if bridge != n.Bridge {
		diffs = append(diffs, fmt.Sprintf("bridge %s, not %s", n.Bridge, bridge))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("network %s exists with %s: %w", n.Name, strings.Join(diffs, ", "), ErrConflict)
	}
	return nil
}

// RemoveNetwork removes a network: its bridge, its rules and its record
// (with the allocations in it). Endpoints whose container is gone (its veth
// vanished with its namespace) are released first; live ones make it
// ErrNetworkInUse. Removing an absent network removes a leftover bridge of
// that name, if any, and returns nil.
func (m *Manager) RemoveNetwork(ctx context.Context, name string) error {
	unlock, err := m.st.lock()
	if err != nil {
		return err
	}
	defer unlock()
	nets, err := m.st.loadAll()
	if err != nil {
		return err
	}
	var n *Network
	var rest []*Network
	for _, x := range nets {
		if x.Name == name {
			n = x
		} else {
			rest = append(rest, x)
		}
	}
	if n == nil {
		if err := m.k.deleteLink(BridgeName(m.root, name)); err != nil {
			return fmt.Errorf("removing network %s: %w", name, err)
		}
		return nil
	}
	if _, err := m.releaseStale(n); err != nil {
		return err
	}
	if len(n.Endpoints) > 0 {
		var names []string
		for _, e := range n.sortedEndpoints() {
			names = append(names, e.Name)
		}
		return fmt.Errorf("removing network %s: containers %s: %w", name, strings.Join(names, ", "), ErrNetworkInUse)
	}
	if err := m.k.deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	if err := m.st.remove(name); err != nil {
		return err
	}
	if err := m.syncRules(rest); err != nil {
		return err
	}
	m.log.Info("network removed", "network", name, "bridge", n.Bridge)
	return nil
}

// DropBridge deletes the bridge link of a network and nothing else: no
// record, endpoint or rule changes. Deleting a bridge takes the kernel tens
// of milliseconds even with ports still enslaved, so a caller tearing a
// whole network down (stack down) starts it while the containers go, and
// finishes with RemoveNetwork, which finds the link gone. A network left
// this way by a crash is seen as drift (bridge missing) and repaired by
// CreateNetwork, or removed by RemoveNetwork.
func (m *Manager) DropBridge(ctx context.Context, name string) error {
	n, err := m.InspectNetwork(ctx, name)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		return err
	}
	if err := m.k.deleteLink(n.Bridge); err != nil {
		return fmt.Errorf("removing network %s: %w", name, err)
	}
	return nil
}

// releaseStale drops the endpoints of n whose host veth is gone (their
// container's namespace died) or that a killed Attach left unfinished (the
// caller holds the lock, so no Attach is running): it stops their proxies,
// deletes what is left of their veth and saves n.
func (m *Manager) releaseStale(n *Network) ([]string, error) {
	var gone []string
	for id, e := range n.Endpoints {
		ok, err := m.k.linkExists(e.Veth)
		if err != nil {
			return nil, err
		}
		if ok && e.Ready {
			continue
		}
		for _, p := range e.Proxies {
			m.k.stopProxy(p.Pid, m.Table())
		}
		if err := m.k.deleteLink(e.Veth); err != nil {
			return nil, err
		}
		delete(n.Endpoints, id)
		gone = append(gone, n.Name+"/"+e.Name)
	}
	if len(gone) > 0 {
		sort.Strings(gone)
		if err := m.st.save(n); err != nil {
			return nil, err
		}
	}
	return gone, nil
}

// ruleApply says how applyRules brings the table in line.
type ruleApply int

const (
	rulesPatch   ruleApply = iota // delete and add only the rules that differ
	rulesRebuild                  // recreate the whole table (Cleanup)
	rulesRemove                   // delete the table
)

// syncRules brings the root's table in line with the records, in one
// transaction. With no network left the table is deleted.
func (m *Manager) syncRules(nets []*Network) error { return m.applyRules(nets, rulesPatch) }

func (m *Manager) applyRules(nets []*Network, how ruleApply) error {
	if len(nets) == 0 {
		how = rulesRemove
	}
	if err := m.k.applyRules(Rules(m.root, nets), how); err != nil {
		return fmt.Errorf("writing nftables table %s: %w", m.Table(), err)
	}
	return nil
}

// CleanupReport says what Cleanup removed.
type CleanupReport struct {
	Endpoints []string `json:"endpoints,omitempty"` // network/container released: their container is gone
	Links     []string `json:"links,omitempty"`     // stk* links of this root no record names
	Proxies   []int    `json:"proxies,omitempty"`   // proxy processes of this root no record names
	Networks  []string `json:"networks,omitempty"`  // networks removed (Prune only)
}

// Cleanup repairs what a killed run left: it releases endpoints whose
// container namespace is gone (with their addresses and proxies), deletes
// every stk* link carrying this root's alias that no record names, kills
// unrecorded proxies of this root, and rewrites the table from the records
// (deleting it when no network is left). It is idempotent.
func (m *Manager) Cleanup(ctx context.Context) (CleanupReport, error) {
	unlock, err := m.st.lock()
	if err != nil {
		return CleanupReport{}, err
	}
	defer unlock()
	return m.cleanupLocked()
}

func (m *Manager) cleanupLocked() (CleanupReport, error) {
	var rep CleanupReport
	nets, err := m.st.loadAll()
	if err != nil {
		return rep, err
	}
	known := map[string]bool{}
	knownProxy := map[int]bool{}
	for _, n := range nets {
		gone, err := m.releaseStale(n)
		if err != nil {
			return rep, err
		}
		rep.Endpoints = append(rep.Endpoints, gone...)
		known[n.Bridge] = true
		for _, e := range n.Endpoints {
			known[e.Veth] = true
			for _, p := range e.Proxies {
				knownProxy[p.Pid] = true
			}
		}
	}
	links, err := m.k.stackLinks(linkAlias(m.root))
	if err != nil {
		return rep, fmt.Errorf("listing links: %w", err)
	}
	for _, l := range links {
		if known[l] {
			continue
		}
		if err := m.k.deleteLink(l); err != nil {
			return rep, err
		}
		rep.Links = append(rep.Links, l)
	}
	for _, pid := range m.k.orphanProxies(m.Table()) {
		if !knownProxy[pid] {
			m.k.stopProxy(pid, m.Table())
			rep.Proxies = append(rep.Proxies, pid)
		}
	}
	for _, n := range nets {
		if err := m.k.ensureBridge(n, linkAlias(m.root)); err != nil {
			return rep, fmt.Errorf("network %s: %w", n.Name, err)
		}
	}
	if err := m.applyRules(nets, rulesRebuild); err != nil { // whatever was done to the table meanwhile
		return rep, err
	}
	if err := m.refreshHosts(nets, ""); err != nil {
		return rep, err
	}
	return rep, nil
}

// Prune runs Cleanup, then removes every network without endpoints except
// the default `bridge` network (as docker keeps its predefined networks).
func (m *Manager) Prune(ctx context.Context) (CleanupReport, error) {
	unlock, err := m.st.lock()
	if err != nil {
		return CleanupReport{}, err
	}
	defer unlock()
	rep, err := m.cleanupLocked()
	if err != nil {
		return rep, err
	}
	nets, err := m.st.loadAll()
	if err != nil {
		return rep, err
	}
	var keep []*Network
	for _, n := range nets {
		if len(n.Endpoints) > 0 || n.Name == DefaultNetwork {
			keep = append(keep, n)
			continue
		}
		if err := m.k.deleteLink(n.Bridge); err != nil {
			return rep, fmt.Errorf("pruning network %s: %w", n.Name, err)
		}
		if err := m.st.remove(n.Name); err != nil {
			return rep, err
		}
		rep.Networks = append(rep.Networks, n.Name)
	}
	return rep, m.syncRules(keep)
}

func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// NetworkStatus is what the kernel has of a recorded network, for the
// executor's observation of drift.
type NetworkStatus struct {
	Name string `json:"name"`
	// BridgeMissing: the bridge is absent, down, or lacks its gateway address.
	BridgeMissing bool `json:"bridge_missing,omitempty"`
	// RulesMissing: the table lacks a rule the records call for (its
	// masquerade, a port map, the jumps to the ports chain).
	RulesMissing bool `json:"rules_missing,omitempty"`
	// Stale: containers recorded on the network whose veth is gone, or
	// whose Attach never finished.
	Stale []string `json:"stale,omitempty"`
}

// Status compares every recorded network with the kernel. It changes
// nothing: CreateNetwork repairs a bridge and its rules, Cleanup releases
// stale endpoints.
func (m *Manager) Status(ctx context.Context) ([]NetworkStatus, error) {
	nets, err := m.st.loadAll()
	if err != nil {
		return nil, err
	}
	have, err := m.k.ruleKeys(m.Table())
	if err != nil {
		return nil, fmt.Errorf("reading nftables table %s: %w", m.Table(), err)
	}
	var out []NetworkStatus
	for _, n := range nets {
		st := NetworkStatus{Name: n.Name}
		ok, err := m.k.bridgeOK(n)
		if err != nil {
			return nil, err
		}
		st.BridgeMissing = !ok
		for _, ch := range Rules(m.root, []*Network{n}).Chains {
			for _, r := range ch.Rules {
				if !have[ch.Name+"\x00"+r.String()] {
					st.RulesMissing = true
				}
			}
		}
		for _, e := range n.sortedEndpoints() {
			if ok, err := m.k.linkExists(e.Veth); err != nil {
				return nil, err
			} else if !ok || !e.Ready {
				st.Stale = append(st.Stale, e.ContainerID)
			}
		}
		out = append(out, st)
	}
	return out, nil
}
