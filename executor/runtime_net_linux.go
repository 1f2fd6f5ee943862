package executor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stack-dev/stack/executor/container"
	"github.com/stack-dev/stack/netplan"
)

// netplanOptions gives the options the netplan.Manager of a state root is
// opened with; tests point HostNetNS at a namespace of their own per root.
var netplanOptions = func(root string) netplan.Options { return netplan.Options{} }

// OpenNetworks opens the networks of a state root as the runtime does
// (`stack network`, `stack port` and the project executor use it too).
func OpenNetworks(root string) (*netplan.Manager, error) {
	return netplan.Open(root, netplanOptions(root))
}

// initNamespaces is the network side of the namespaces a container made
// from opts gets: the same value setupNetwork records, so that an init
// spawned before the container exists (SpawnInit) matches it.
func initNamespaces(root string, opts *RunOptions) (container.Namespaces, error) {
	mode := opts.Network
	if mode == "" && len(opts.Net.Networks) > 0 {
		mode = opts.Net.Networks[0].Name
	}
	switch {
	case mode == "host":
		return container.Namespaces{HostNetwork: true}, nil
	case mode == "none":
		return container.Namespaces{}, nil
	case strings.HasPrefix(mode, "container:") || strings.HasPrefix(mode, "service:"):
		_, ref, _ := strings.Cut(mode, ":")
		_, ns, err := sharedNetNS(root, ref)
		return ns, err
	}
	return container.Namespaces{NetPath: netnsPath(root, opts.ID)}, nil
}

// prepareNetNS makes the network namespace file of a container about to
// be created with opts, when ns (from initNamespaces) joins one of its
// own; it returns its path ("" when there is none to make).
func prepareNetNS(root string, opts *RunOptions, ns container.Namespaces) (string, error) {
	if ns.NetPath == "" || ns.NetPath != netnsPath(root, opts.ID) {
		return "", nil
	}
	// The marker keeps CleanupNetworks off the file until the container's
	// directory exists (setupNetwork removes it).
	if err := os.MkdirAll(filepath.Dir(ns.NetPath), 0o700); err != nil {
		return "", fmt.Errorf("creating network namespace %s: %w", ns.NetPath, err)
	}
	if err := os.WriteFile(pendingMarker(root, opts.ID), nil, 0o600); err != nil {
		return "", fmt.Errorf("creating network namespace %s: %w", ns.NetPath, err)
	}
	if err := netplan.CreateNetNS(ns.NetPath); err != nil {
		os.Remove(pendingMarker(root, opts.ID))
		return "", err
	}
	return ns.NetPath, nil
}

// pendingMarker names the file that says a namespace file was made for a
// container not created yet.
func pendingMarker(root, id string) string {
	return filepath.Join(root, "run", "netns", ".pending-"+id)
}

// pendingMaxAge is how long a pending marker protects its namespace file.
const pendingMaxAge = 10 * time.Minute

// releaseNetNS removes a namespace file made by prepareNetNS whose
// container was never created (its attachments, if any, went with the
// failed creation).
func releaseNetNS(path string) {
	if path != "" {
		netplan.RemoveNetNS(path)
		os.Remove(filepath.Join(filepath.Dir(path), ".pending-"+filepath.Base(path)))
	}
}

// sharedNetNS finds the network namespace of container ref, for a
// container that joins it (container:NAME): its namespace file when it has
// one, the host's when it is on the host network, else its running init's.
func sharedNetNS(root, ref string) (*Container, container.Namespaces, error) {
	x, st, err := LoadContainer(root, ref)
	if err != nil {
		return nil, container.Namespaces{}, fmt.Errorf("--network container:%s: %w", ref, err)
	}
	if x.Runtime.Namespaces.HostNetwork {
		return x, container.Namespaces{HostNetwork: true}, nil
	}
	if p := x.Runtime.Namespaces.NetPath; p != "" && !strings.HasPrefix(p, "/proc/") {
		return x, container.Namespaces{NetPath: p}, nil
	}
	if alive, _ := IsRunning(st); !alive {
		return nil, container.Namespaces{}, fmt.Errorf("cannot join network namespace of a non running container: %s", x.Name)
	}
	return x, container.Namespaces{NetPath: "/proc/" + strconv.Itoa(st.Pid) + "/ns/net"}, nil
}

// setupNetwork wires the container's network before it first starts; dir
// is the container's directory being filled (its hosts and resolv.conf
// files are there). It sets c.Runtime.Namespaces and completes c.Net. On
// failure nothing of it remains.
func setupNetwork(root string, c *Container, dir string) (err error) {
	rec := c.Net
	if rec == nil {
		return nil
	}
	switch rec.Mode {
	case NetModeNone, NetModeHost:
		return writeNetFiles(c, dir)
	case NetModeContainer:
		return shareNetwork(root, c)
	}

	m, err := OpenNetworks(root)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx := context.Background()
	var first *netplan.Network
	for i, a := range rec.Requested {
		// (Attach repairs a missing bridge and the table itself.)
		n, err := m.InspectNetwork(ctx, a.Name)
		if errors.Is(err, netplan.ErrNotFound) {
			if a.Name == netplan.DefaultNetwork {
				n, err = m.CreateNetwork(ctx, netplan.NetworkConfig{Name: netplan.DefaultNetwork}) // on demand
			} else {
				err = fmt.Errorf("network %s not found: %w", a.Name, err)
			}
		}
		if err != nil {
			return err
		}
		if i == 0 {
			first = n
		}
	}
	extra, err := parseExtraHosts(rec.ExtraHosts, first.Subnet.Gateway, false)
	if err != nil {
		return err
	}
	path := netnsPath(root, c.ID)
	if !netplan.IsNetNS(path) { // else SpawnInit made it
		if err := netplan.CreateNetNS(path); err != nil {
			return err
		}
	}
	os.Remove(pendingMarker(root, c.ID)) // its directory (.new-<id>) protects it now
	defer func() {
		if err != nil {
			m.DetachAll(ctx, c.ID)
			netplan.RemoveNetNS(path)
		}
	}()
	rec.NetNS = path
	c.Runtime.Namespaces = container.Namespaces{NetPath: path}
	hosts := netplan.HostsSpec{Path: filepath.Join(containerDir(root, c.ID), "hosts"),
		Hostname: c.Runtime.Hostname, Domainname: c.Runtime.Domainname, ExtraHosts: extra}
	for i, a := range rec.Requested {
		cfg := netplan.AttachConfig{ContainerID: c.ID, Name: c.Name, Aliases: a.Aliases, Network: a.Name,
			NetNS: netplan.NetNS{Path: path}, IfName: "eth" + strconv.Itoa(i), MAC: a.MAC, Hosts: hosts}
		if a.IPv4 != "" {
			cfg.IPv4, _ = netip.ParseAddr(a.IPv4) // checked by applyNetworkMode
		}
		if i == 0 {
			cfg.Ports = rec.PortMaps
		}
		att, err := m.Attach(ctx, cfg)
		if err != nil {
			return err
		}
		rec.Endpoints = append(rec.Endpoints, NetEndpoint{Network: att.Network, IfName: att.IfName, IP: att.IP,
			PrefixLen: att.PrefixLen, Gateway: att.Gateway, MAC: att.MAC, Aliases: a.Aliases})
		rec.Ports = append(rec.Ports, att.Ports...)
	}
	// The hosts file's final path does not exist yet: its first content is
	// written here, and every later change by netplan in place.
	nets, err := m.ListNetworks(ctx)
	if err != nil {
		return err
	}
	hc, _ := netplan.HostsFor(c.ID, nets)
	if err := netplan.WriteHosts(filepath.Join(dir, "hosts"), hc); err != nil {
		return err
	}
	return writeNetFiles(c, dir)
}

// writeNetFiles writes resolv.conf from the DNS options and, outside
// bridge mode (whose hosts file netplan keeps), the extra hosts.
func writeNetFiles(c *Container, dir string) error {
	rec := c.Net
	if rec.Mode != NetModeBridge && len(rec.ExtraHosts) > 0 {
		extra, err := parseExtraHosts(rec.ExtraHosts, netip.Addr{}, false)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, "hosts")
		b, _ := os.ReadFile(p)
		if err := os.WriteFile(p, []byte(hostsWithExtra(string(b), extra)), 0o644); err != nil {
			return fmt.Errorf("writing container's /etc/hosts: %w", err)
		}
	}
	if rec.Mode == NetModeHost && len(rec.DNS)+len(rec.Search)+len(rec.Options) == 0 {
		return nil // the host's resolv.conf as it is: its loopback resolver is reachable
	}
	return netplan.WriteResolvConf(filepath.Join(dir, "resolv.conf"), netplan.ResolvConfig{
		Nameservers: rec.DNS, Search: rec.Search, Options: rec.Options, Host: netplan.HostResolvConf()})
}

// shareNetwork makes c join another container's network namespace and see
// its /etc/hosts, /etc/resolv.conf and /etc/hostname, as docker does.
func shareNetwork(root string, c *Container) error {
	x, ns, err := sharedNetNS(root, c.Net.Container)
	if err != nil {
		return err
	}
	if x.ID == c.ID {
		return errors.New("cannot join own network namespace")
	}
	c.Runtime.Namespaces = ns
	c.Net.Container, c.Net.NetNS = x.ID, ns.NetPath
	xdir := containerDir(root, x.ID)
	for i, m := range c.Runtime.Mounts {
		switch m.Destination {
		case "/etc/hosts", "/etc/resolv.conf", "/etc/hostname":
			c.Runtime.Mounts[i].Source = filepath.Join(xdir, filepath.Base(m.Destination))
		}
	}
	c.Runtime.Hostname, c.Runtime.Domainname = x.Runtime.Hostname, x.Runtime.Domainname
	c.Runtime.Process.Env = setKey(c.Runtime.Process.Env, "HOSTNAME="+x.Runtime.Hostname)
	return nil
}

// networkCreated runs once the container's directory has its final name:
// the hosts files are refreshed, so that a neighbour attached between
// setupNetwork and now is in this container's file.
func networkCreated(root string, c *Container) {
	if c.Net == nil || c.Net.Mode != NetModeBridge {
		return
	}
	if m, err := OpenNetworks(root); err == nil {
		m.RefreshHosts(context.Background())
		m.Close()
	}
}

// ensureNetwork runs before every start: a container's own namespace file
// that is no longer a mounted namespace (the host rebooted and the file
// stayed on disk, or the mount was removed) is made again, and the
// container is attached again to each network it is recorded on, with the
// same interface, address, MAC, aliases and host ports.
func ensureNetwork(root string, c *Container) error {
	if c.Net == nil || c.Net.Mode != NetModeBridge || c.Net.NetNS == "" || netplan.IsNetNS(c.Net.NetNS) {
		return nil
	}
	m, err := OpenNetworks(root)
	if err != nil {
		return err
	}
	defer m.Close()
	ctx := context.Background()
	eps, err := m.Endpoints(ctx, c.ID)
	if err != nil && !errors.Is(err, netplan.ErrNotFound) {
		return err
	}
	// The old veth pairs may outlive their namespace for a moment (the
	// kernel tears a namespace down asynchronously): detached first, so
	// that the attachments are made again, not found alive.
	if err := m.DetachAll(ctx, c.ID); err != nil {
		return err
	}
	if err := netplan.RemoveNetNS(c.Net.NetNS); err != nil {
		return err
	}
	if err := netplan.CreateNetNS(c.Net.NetNS); err != nil {
		return err
	}
	for _, e := range eps {
		cfg := netplan.AttachConfig{ContainerID: c.ID, Name: e.Name, Aliases: e.Aliases, Network: e.Network,
			NetNS: netplan.NetNS{Path: c.Net.NetNS}, IfName: e.IfName, IPv4: e.IP, MAC: e.MAC, Hosts: e.Hosts}
		for _, b := range e.Ports {
			cfg.Ports = append(cfg.Ports, netplan.PortMap{HostIP: b.HostIP.String(), HostPort: b.HostPort,
				ContainerPort: b.ContainerPort, Protocol: b.Protocol})
		}
		if _, err := m.Attach(ctx, cfg); err != nil {
			return fmt.Errorf("starting container %s: %w", c.Name, err)
		}
	}
	return nil
}

// teardownNetwork undoes setupNetwork; it is idempotent.
func teardownNetwork(root string, c *Container) error {
	if c.Net == nil || c.Net.Mode != NetModeBridge {
		return nil
	}
	return releaseNetwork(root, c.ID)
}

func releaseNetwork(root, id string) error {
	m, err := OpenNetworks(root)
	if err != nil {
		return err
	}
	defer m.Close()
	// With no other container in the namespace, it dies once unmounted
	// and takes the veth pairs with it: no need to wait for their
	// deletion. A container that joined it (container:ID) keeps it alive:
	// its pairs are deleted, so that its released addresses are off the
	// bridges.
	release := m.ReleaseAll
	if sharedNetNSUsers(root, id) {
		release = m.DetachAll
	}
	if err := release(context.Background(), id); err != nil {
		return err
	}
	return netplan.RemoveNetNS(netnsPath(root, id))
}

// sharedNetNSUsers reports whether another container was made to join
// container id's network namespace (container:ID) and may be running.
func sharedNetNSUsers(root, id string) bool {
	ents, err := os.ReadDir(filepath.Join(root, "containers"))
	if err != nil {
		return false
	}
	needle := []byte(`"container":"` + id + `"`)
	for _, e := range ents {
		if e.Name() == id || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, "containers", e.Name(), "config.json"))
		if err == nil && bytes.Contains(b, needle) {
			return true
		}
	}
	return false
}

// NetCleanupReport says what CleanupNetworks removed.
type NetCleanupReport struct {
	netplan.CleanupReport
	// Namespaces are the containers whose network namespace file was
	// released: their container is gone.
	Namespaces []string `json:"namespaces,omitempty"`
}

// CleanupNetworks repairs what killed runs left: the attachments and
// network namespace files of containers that no longer exist are released,
// then netplan's Cleanup runs (stale endpoints, unrecorded links and
// proxies, the table rebuilt). Idempotent; `stack network prune` and
// `down` call it.
func CleanupNetworks(ctx context.Context, root string) (NetCleanupReport, error) {
	var rep NetCleanupReport
	m, err := OpenNetworks(root)
	if err != nil {
		return rep, err
	}
	defer m.Close()
	nets, err := m.ListNetworks(ctx)
	if err != nil {
		return rep, err
	}
	var released []string
	gone := map[string]bool{}
	for _, n := range nets {
		for id, e := range n.Endpoints {
			if !containerExists(root, id) {
				gone[id] = true
				released = append(released, n.Name+"/"+e.Name)
			}
		}
	}
	for _, id := range sortedKeys(gone) {
		if err := m.DetachAll(ctx, id); err != nil {
			return rep, err
		}
	}
	ents, err := os.ReadDir(filepath.Join(root, "run", "netns"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return rep, fmt.Errorf("listing network namespaces: %w", err)
	}
	pending := map[string]bool{}
	for _, e := range ents {
		if id, ok := strings.CutPrefix(e.Name(), ".pending-"); ok {
			if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) < pendingMaxAge {
				pending[id] = true
			} else {
				os.Remove(filepath.Join(root, "run", "netns", e.Name()))
			}
		}
	}
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") || pending[e.Name()] || containerExists(root, e.Name()) {
			continue
		}
		if err := m.DetachAll(ctx, e.Name()); err != nil {
			return rep, err
		}
		if err := netplan.RemoveNetNS(netnsPath(root, e.Name())); err != nil {
			return rep, err
		}
		rep.Namespaces = append(rep.Namespaces, e.Name())
	}
	rep.CleanupReport, err = m.Cleanup(ctx)
	rep.Endpoints = append(released, rep.Endpoints...)
	sort.Strings(rep.Endpoints)
	return rep, err
}

// containerExists: its record exists, or it is being created.
func containerExists(root, id string) bool {
	for _, p := range []string{filepath.Join(containerDir(root, id), "config.json"), filepath.Join(root, "containers", ".new-"+id)} {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// ownNetNS loads a container that has a network namespace of its own on
// bridge networks, for connect and disconnect.
func ownNetNS(root, ref string) (*Container, error) {
	c, _, err := LoadContainer(root, ref)
	if err != nil {
		return nil, err
	}
	if c.Net == nil || c.Net.Mode != NetModeBridge || !netplan.IsNetNS(netnsPath(root, c.ID)) {
		mode := c.Network
		if c.Net != nil && c.Net.Mode == NetModeContainer {
			mode = "container:" + c.Net.Container
		}
		return nil, fmt.Errorf("container %s: network mode %s: container sharing network namespace with another container or host cannot be connected to any other network", c.Name, mode)
	}
	return c, nil
}

// ConnectNetwork attaches a container (running or not) to one more network
// through its namespace file, as `stack network connect` does.
func ConnectNetwork(ctx context.Context, root, ref string, a NetAttach) (*netplan.Attachment, error) {
	c, err := ownNetNS(root, ref)
	if err != nil {
		return nil, err
	}
	m, err := OpenNetworks(root)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	hosts := netplan.HostsSpec{Path: filepath.Join(containerDir(root, c.ID), "hosts"),
		Hostname: c.Runtime.Hostname, Domainname: c.Runtime.Domainname}
	if eps, err := m.Endpoints(ctx, c.ID); err == nil {
		for _, e := range eps {
			if e.Network == a.Name {
				return nil, fmt.Errorf("container %s is already connected to network %s", c.Name, a.Name)
			}
			hosts = e.Hosts
		}
	}
	if a.Name == netplan.DefaultNetwork {
		if _, err := m.CreateNetwork(ctx, netplan.NetworkConfig{Name: a.Name}); err != nil {
			return nil, err
		}
	}
	cfg := netplan.AttachConfig{ContainerID: c.ID, Name: c.Name, Aliases: a.Aliases, Network: a.Name,
		NetNS: netplan.NetNS{Path: netnsPath(root, c.ID)}, MAC: a.MAC, Hosts: hosts}
	if a.IPv4 != "" {
		if cfg.IPv4, err = netip.ParseAddr(a.IPv4); err != nil || !cfg.IPv4.Is4() {
			return nil, fmt.Errorf("invalid IPv4 address %q", a.IPv4)
		}
	}
	return m.Attach(ctx, cfg)
}

// DisconnectNetwork detaches a container from one network.
func DisconnectNetwork(ctx context.Context, root, ref, network string) error {
	c, _, err := LoadContainer(root, ref)
	if err != nil {
		return err
	}
	m, err := OpenNetworks(root)
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.InspectNetwork(ctx, network); err != nil {
		return fmt.Errorf("network %s: %w", network, err)
	}
	eps, _ := m.Endpoints(ctx, c.ID)
	for _, e := range eps {
		if e.Network == network {
			return m.Detach(ctx, c.ID, network)
		}
	}
	return fmt.Errorf("container %s is not connected to network %s", c.Name, network)
}

// ContainerEndpoints returns a container's current network attachments
// (its NetworkSettings), eth0 first; none for none/host containers. A
// container in container mode reports its namespace owner's.
func ContainerEndpoints(ctx context.Context, root string, c *Container) ([]netplan.ContainerEndpoint, error) {
	id := c.ID
	if c.Net != nil && c.Net.Mode == NetModeContainer {
		id = c.Net.Container
	}
	m, err := OpenNetworks(root)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	eps, err := m.Endpoints(ctx, id)
	if errors.Is(err, netplan.ErrNotFound) {
		return nil, nil
	}
	return eps, err
}

// ContainerPorts returns a container's published ports (`stack port`).
func ContainerPorts(ctx context.Context, root, ref string) (*Container, []netplan.PortBinding, error) {
	c, _, err := LoadContainer(root, ref)
	if errors.Is(err, ErrContainerNotFound) {
		// Not a container of the runtime: an attachment made through
		// netplan directly, by container name or id.
		m, merr := OpenNetworks(root)
		if merr != nil {
			return nil, nil, merr
		}
		defer m.Close()
		ports, perr := m.Ports(ctx, ref)
		if perr != nil {
			return nil, nil, err
		}
		return nil, ports, nil
	}
	if err != nil {
		return nil, nil, err
	}
	eps, err := ContainerEndpoints(ctx, root, c)
	if err != nil {
		return nil, nil, err
	}
	var out []netplan.PortBinding
	for _, e := range eps {
		out = append(out, e.Ports...)
	}
	return c, out, nil
}

// ContainerNetworkSettings returns a container's current network state in
// docker inspect's shape (`stack inspect`): its namespace, its networks
// (for container mode, its namespace owner's) and its published ports.
func ContainerNetworkSettings(ctx context.Context, root string, c *Container) (*NetworkSettings, error) {
	eps, err := ContainerEndpoints(ctx, root, c)
	if err != nil {
		return nil, err
	}
	m, err := OpenNetworks(root)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	nets := map[string]*netplan.Network{}
	for _, e := range eps {
		if n, err := m.InspectNetwork(ctx, e.Network); err == nil {
			nets[e.Network] = n
		}
	}
	netns := ""
	if c.Net != nil {
		netns = c.Net.NetNS
	}
	return networkSettings(netns, eps, nets), nil
}
