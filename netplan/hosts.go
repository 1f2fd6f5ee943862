package netplan

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
)

// HostsConfig is everything a container's /etc/hosts says.
type HostsConfig struct {
	Hostname   string
	Domainname string
	Addrs      []netip.Addr // the container's own addresses, first network first
	Names      []string     // its container name and aliases (service name...)
	Peers      []HostsPeer  // every other container on its networks
	Extra      []HostEntry  // extra_hosts / --add-host
}

// HostsPeer is another container reachable on a shared network.
type HostsPeer struct {
	IP    netip.Addr
	Names []string // container name, service name, aliases
}

// HostsContent renders /etc/hosts: the localhost lines, the extra hosts,
// the container's own addresses with its hostname, name and aliases, then
// every peer by IP order.
func HostsContent(c HostsConfig) string {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	b.WriteString("::1\tlocalhost ip6-localhost ip6-loopback\n")
	b.WriteString("fe00::0\tip6-localnet\n")
	b.WriteString("ff00::0\tip6-mcastprefix\n")
	b.WriteString("ff02::1\tip6-allnodes\n")
	b.WriteString("ff02::2\tip6-allrouters\n")
	for _, e := range c.Extra {
		fmt.Fprintf(&b, "%s\t%s\n", e.IP, e.Name)
	}
	var own []string
	if c.Hostname != "" {
		if c.Domainname != "" {
			own = append(own, c.Hostname+"."+c.Domainname)
		}
		own = append(own, c.Hostname)
	}
	own = uniqueNames(append(own, c.Names...))
	if len(own) > 0 {
		for _, a := range c.Addrs {
			fmt.Fprintf(&b, "%s\t%s\n", a, strings.Join(own, " "))
		}
	}
	peers := append([]HostsPeer(nil), c.Peers...)
	sort.SliceStable(peers, func(i, j int) bool { return peers[i].IP.Less(peers[j].IP) })
	for _, p := range peers {
		if names := uniqueNames(p.Names); len(names) > 0 {
			fmt.Fprintf(&b, "%s\t%s\n", p.IP, strings.Join(names, " "))
		}
	}
	return b.String()
}

func uniqueNames(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		out = append(out, n)
	}
	return out
}

// ResolvConfig is everything a container's /etc/resolv.conf says.
type ResolvConfig struct {
	Nameservers []string // dns / --dns; empty: the host's, loopback dropped
	Search      []string // dns_search / --dns-search; empty: the host's
	Options     []string // dns_opt / --dns-option; empty: the host's
	Host        []byte   // the host's /etc/resolv.conf (see HostResolvConf)
}

// FallbackNameservers are used, as docker does, when neither the config nor
// the host leaves a usable (non-loopback) nameserver.
var FallbackNameservers = []string{"8.8.8.8", "8.8.4.4"}

// ResolvConfContent renders /etc/resolv.conf. Loopback nameservers of the
// host are dropped: inside the container's network namespace 127.0.0.53 is
// the container itself.
func ResolvConfContent(c ResolvConfig) string {
	hostNS, hostSearch, hostOpts := parseResolvConf(c.Host)
	ns := c.Nameservers
	if len(ns) == 0 {
		for _, s := range hostNS {
			if a, err := netip.ParseAddr(s); err == nil && a.IsLoopback() {
				continue
			}
			ns = append(ns, s)
		}
		if len(ns) == 0 {
			ns = FallbackNameservers
		}
	}
	search, opts := c.Search, c.Options
	if len(search) == 0 {
		search = hostSearch
	}
	if len(opts) == 0 {
		opts = hostOpts
	}
	var b strings.Builder
	for _, s := range ns {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if len(search) > 0 {
		fmt.Fprintf(&b, "search %s\n", strings.Join(search, " "))
	}
	if len(opts) > 0 {
		fmt.Fprintf(&b, "options %s\n", strings.Join(opts, " "))
	}
	return b.String()
}

func parseResolvConf(data []byte) (ns, search, opts []string) {
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") || strings.HasPrefix(f[0], ";") {
			continue
		}
		switch f[0] {
		case "nameserver":
			if len(f) > 1 {
				ns = append(ns, f[1])
			}
		case "search", "domain": // the last of them wins, as in resolv.conf(5)
			search = append([]string(nil), f[1:]...)
		case "options":
			opts = append(opts, f[1:]...)
		}
	}
	return ns, search, opts
}

// HostResolvConf reads the host's resolver configuration, or nil when there
// is none.
func HostResolvConf() []byte {
	b, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return nil
	}
	return b
}

// WriteHosts writes HostsContent(c) to path in place.
func WriteHosts(path string, c HostsConfig) error {
	return rewriteInPlace(path, []byte(HostsContent(c)))
}

// WriteResolvConf writes ResolvConfContent(c) to path in place.
func WriteResolvConf(path string, c ResolvConfig) error {
	return rewriteInPlace(path, []byte(ResolvConfContent(c)))
}

// rewriteInPlace replaces a file's content without replacing the file: the
// file may be bind-mounted into a container, and a rename over it would
// leave the container looking at the old inode. Nothing is written when the
// content is unchanged.
func rewriteInPlace(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		f.Close()
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		f.Close()
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("rewriting %s: %w", path, err)
	}
	return nil
}

// HostsFor computes the /etc/hosts of container id from the network
// records: its own address on each of its networks (eth0 first), its name
// and aliases, and every other container on those networks. ok is false
// when the container is on none of them.
func HostsFor(id string, networks []*Network) (c HostsConfig, ok bool) {
	var own []*Endpoint
	var peers []HostsPeer
	for _, n := range sortedNetworks(networks) {
		self, on := n.Endpoints[id]
		if !on {
			continue
		}
		own = append(own, self)
		for _, e := range n.sortedEndpoints() {
			if e.ContainerID == id || !e.IP.IsValid() {
				continue
			}
			peers = append(peers, HostsPeer{IP: e.IP, Names: append([]string{e.Name}, e.Aliases...)})
		}
	}
	if len(own) == 0 {
		return HostsConfig{}, false
	}
	sort.SliceStable(own, func(i, j int) bool { return ifIndexLess(own[i].IfName, own[j].IfName) })
	spec := own[0].Hosts
	c = HostsConfig{Hostname: spec.Hostname, Domainname: spec.Domainname, Extra: spec.ExtraHosts, Peers: peers}
	for _, e := range own {
		c.Addrs = append(c.Addrs, e.IP)
		c.Names = append(c.Names, e.Name)
		c.Names = append(c.Names, e.Aliases...)
	}
	c.Names = uniqueNames(c.Names)
	return c, true
}

// ifIndexLess orders eth2 before eth10.
func ifIndexLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}
