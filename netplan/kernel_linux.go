package netplan

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linuxKernel does the Manager's kernel work against one "host" network
// namespace: every netlink call goes through a handle opened at that
// namespace (never the package-global handle, which uses whatever namespace
// the calling thread is in), nftables through a connection bound to its fd,
// and sysctls, port probes and proxy starts run on a locked thread that
// entered it (inNS).
type linuxKernel struct {
	ns netns.NsHandle
	h  *netlink.Handle
}

var _ kernel = (*linuxKernel)(nil)

func newKernel(path string) (kernel, error) {
	var ns netns.NsHandle
	var err error
	if path == "" {
		ns, err = netns.Get()
	} else {
		ns, err = netns.GetFromPath(path)
	}
	if err != nil {
		return nil, fmt.Errorf("opening host network namespace %q: %w", path, err)
	}
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("opening netlink in host network namespace: %w", err)
	}
	return &linuxKernel{ns: ns, h: h}, nil
}

func (k *linuxKernel) close() error {
	k.h.Close()
	return k.ns.Close()
}

// inNS runs fn on a fresh OS thread that entered ns. If the thread cannot
// return to its original namespace it stays locked, and the runtime
// destroys it when the goroutine ends, so no goroutine ever runs in the
// wrong namespace afterwards.
func inNS(ns netns.NsHandle, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("reading current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("entering network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("leaving network namespace: %w", err))
			return // thread stays locked and dies with this goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

func (k *linuxKernel) hostRoutes() ([]Claim, error) {
	routes, err := k.h.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	var out []Claim
	for _, r := range routes {
		if r.Dst == nil {
			continue
		}
		ones, _ := r.Dst.Mask.Size()
		a, ok := netip.AddrFromSlice(r.Dst.IP.To4())
		if !ok || ones == 0 {
			continue // the default route overlaps everything and conflicts with nothing
		}
		p := netip.PrefixFrom(a, ones)
		dev := strconv.Itoa(r.LinkIndex)
		if l, err := k.h.LinkByIndex(r.LinkIndex); err == nil {
			dev = l.Attrs().Name
		}
		out = append(out, Claim{Prefix: p, Owner: fmt.Sprintf("host route %s dev %s", p, dev)})
	}
	return out, nil
}

func isNotFound(err error) bool {
	var lnf netlink.LinkNotFoundError
	return errors.As(err, &lnf) || errors.Is(err, unix.ENODEV)
}

func (k *linuxKernel) linkExists(name string) (bool, error) {
	_, err := k.h.LinkByName(name)
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("looking up link %s: %w", name, err)
}

func (k *linuxKernel) deleteLink(name string) error {
	l, err := k.h.LinkByName(name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("looking up link %s: %w", name, err)
	}
	if err := k.h.LinkDel(l); err != nil && !isNotFound(err) {
		return fmt.Errorf("deleting link %s: %w", name, err)
	}
	return nil
}

func (k *linuxKernel) stackLinks(alias string) ([]string, error) {
	links, err := k.h.LinkList()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, l := range links {
		if a := l.Attrs(); isStackLink(a.Name) && a.Alias == alias {
			out = append(out, a.Name)
		}
	}
	return out, nil
}

// ensureBridge makes the network's bridge exist, carry the gateway address
// and MTU, and be up; it also sets the sysctls forwarding needs.
func (k *linuxKernel) ensureBridge(n *Network, alias string) error {
	l, err := k.h.LinkByName(n.Bridge)
	if isNotFound(err) {
		// The alias is given at creation, so no crash can leave an stk-
		// bridge that Cleanup cannot attribute to its root.
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: n.Bridge, MTU: n.MTU, Alias: alias}}
		if err := k.h.LinkAdd(br); err != nil {
			return fmt.Errorf("creating bridge %s: %w", n.Bridge, err)
		}
		l, err = k.h.LinkByName(n.Bridge)
	}
	if err != nil {
		return fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
	}
	if l.Type() != "bridge" {
		return fmt.Errorf("link %s exists and is a %s, not a bridge", n.Bridge, l.Type())
	}
	if l.Attrs().Alias != alias {
		if err := k.h.LinkSetAlias(l, alias); err != nil {
			return fmt.Errorf("setting alias of bridge %s: %w", n.Bridge, err)
		}
	}
	if l.Attrs().MTU != n.MTU {
		if err := k.h.LinkSetMTU(l, n.MTU); err != nil {
			return fmt.Errorf("setting mtu of bridge %s: %w", n.Bridge, err)
		}
	}
	gw := &netlink.Addr{IPNet: &net.IPNet{IP: n.Subnet.Gateway.AsSlice(), Mask: net.CIDRMask(n.Subnet.Prefix.Bits(), 32)}}
	if err := k.h.AddrReplace(l, gw); err != nil {
		return fmt.Errorf("adding gateway %s to bridge %s: %w", n.Subnet.Gateway, n.Bridge, err)
	}
	if err := k.h.LinkSetUp(l); err != nil {
		return fmt.Errorf("bringing up bridge %s: %w", n.Bridge, err)
	}
	return inNS(k.ns, func() error {
		// ip_forward is per namespace and a new one may inherit 0 or 1: set it.
		if err := writeSysctl("net/ipv4/ip_forward", "1"); err != nil {
			return err
		}
		// br_netfilter must stay on, or DNAT to a container on the same
		// bridge breaks (the reply bypasses conntrack). It is built in here;
		// where the file is missing the module is not loaded and we say nothing.
		if _, err := os.Stat("/proc/sys/net/bridge/bridge-nf-call-iptables"); err == nil {
			if err := writeSysctl("net/bridge/bridge-nf-call-iptables", "1"); err != nil {
				return err
			}
		}
		// 127.0.0.1 port maps are DNATed in OUTPUT and leave by the bridge
		// with a loopback source: route_localnet on the bridge allows that.
		return writeSysctl("net/ipv4/conf/"+n.Bridge+"/route_localnet", "1")
	})
}

func writeSysctl(key, val string) error {
	p := filepath.Join("/proc/sys", key)
	if b, err := os.ReadFile(p); err == nil && strings.TrimSpace(string(b)) == val {
		return nil
	}
	if err := os.WriteFile(p, []byte(val), 0o644); err != nil {
		return fmt.Errorf("setting sysctl %s=%s: %w", strings.ReplaceAll(key, "/", "."), val, err)
	}
	return nil
}

// wire creates the veth pair: the host side joins the bridge (hairpin on),
// the peer is created directly inside the container namespace under its
// final name, so no temporary name can collide in the host namespace.
func (k *linuxKernel) wire(n *Network, e *Endpoint, ns NetNS, alias string) error {
	cns, err := netns.GetFromPath(ns.Path)
	if err != nil {
		return fmt.Errorf("opening container network namespace %s: %w", ns.Path, err)
	}
	defer cns.Close()
	if cns.Equal(k.ns) {
		return fmt.Errorf("network namespace %s is the host's own: a container on a bridge needs a namespace of its own", ns.Path)
	}
	ch, err := netlink.NewHandleAt(cns)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", ns.Path, err)
	}
	defer ch.Close()
	br, err := k.h.LinkByName(n.Bridge)
	if err != nil {
		return fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
	}
	mac, err := net.ParseMAC(e.MAC)
	if err != nil {
		return fmt.Errorf("mac %q: %w", e.MAC, err)
	}
	if err := k.deleteLink(e.Veth); err != nil { // a leftover of a crashed attempt
		return err
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: e.Veth, MTU: n.MTU, Alias: alias},
		PeerName:         e.IfName,
		PeerNamespace:    netlink.NsFd(int(cns)),
		PeerHardwareAddr: mac,
		PeerMTU:          uint32(n.MTU),
	}
	if err := k.h.LinkAdd(veth); err != nil {
		return fmt.Errorf("creating veth %s (peer %s in %s): %w", e.Veth, e.IfName, ns.Path, err)
	}
	host, err := k.h.LinkByName(e.Veth)
	if err != nil {
		return fmt.Errorf("looking up veth %s: %w", e.Veth, err)
	}
	if host.Attrs().Alias != alias {
		if err := k.h.LinkSetAlias(host, alias); err != nil {
			return fmt.Errorf("setting alias of %s: %w", e.Veth, err)
		}
	}
	if err := k.h.LinkSetMaster(host, br); err != nil {
		return fmt.Errorf("adding %s to bridge %s: %w", e.Veth, n.Bridge, err)
	}
	// Hairpin lets a container reach itself through a published port.
	if err := k.h.LinkSetHairpin(host, true); err != nil {
		return fmt.Errorf("setting hairpin on %s: %w", e.Veth, err)
	}
	if err := k.h.LinkSetUp(host); err != nil {
		return fmt.Errorf("bringing up %s: %w", e.Veth, err)
	}

	lo, err := ch.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("looking up lo in %s: %w", ns.Path, err)
	}
	if err := ch.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing up lo in %s: %w", ns.Path, err)
	}
	peer, err := ch.LinkByName(e.IfName)
	if err != nil {
		return fmt.Errorf("looking up %s in %s: %w", e.IfName, ns.Path, err)
	}
	ip := &netlink.Addr{IPNet: &net.IPNet{IP: e.IP.AsSlice(), Mask: net.CIDRMask(n.Subnet.Prefix.Bits(), 32)}}
	if err := ch.AddrAdd(peer, ip); err != nil {
		return fmt.Errorf("adding address %s to %s: %w", e.IP, e.IfName, err)
	}
	if err := ch.LinkSetUp(peer); err != nil {
		return fmt.Errorf("bringing up %s: %w", e.IfName, err)
	}
	if n.Internal {
		return nil
	}
	routes, err := ch.RouteList(nil, netlink.FAMILY_V4)
	if err != nil {
		return fmt.Errorf("listing routes in %s: %w", ns.Path, err)
	}
	for _, r := range routes {
		if r.Dst == nil || r.Dst.IP.IsUnspecified() && isZeroMask(r.Dst.Mask) {
			return nil // the first network's gateway keeps the default route
		}
	}
	if err := ch.RouteAdd(&netlink.Route{LinkIndex: peer.Attrs().Index, Gw: n.Subnet.Gateway.AsSlice()}); err != nil {
		return fmt.Errorf("adding default route via %s on %s: %w", n.Subnet.Gateway, e.IfName, err)
	}
	return nil
}

func isZeroMask(m net.IPMask) bool {
	ones, _ := m.Size()
	return ones == 0
}

// applyRules brings the root's table in line with rs. It first patches
// the table in place: each rule carries its nft text as a comment, so the
// rules to delete (by handle) and to add are found by comparing texts, and
// an attach without ports changes nothing at all. Every rule of the table
// matches on disjoint traffic (one DNAT per host port, masquerades), so
// their order does not matter. When patching cannot work (no table yet, a
// chain missing, a rule gone meanwhile) the table is rebuilt: add (a no-op
// when it exists), delete, recreate, in one transaction. With remove the
// table is deleted. Either a whole transaction applies or none of it.
func (k *linuxKernel) applyRules(rs Ruleset, how ruleApply) error {
	if how == rulesPatch {
		if _, err := k.patchRules(rs); err == nil {
			return nil
		}
	}
	return k.rebuildRules(rs, how == rulesRemove)
}

func ruleComment(r *nftables.Rule) string {
	s, _ := userdata.GetString(r.UserData, userdata.TypeComment)
	return s
}

// patchRules returns the number of rules it deleted and added.
func (k *linuxKernel) patchRules(rs Ruleset) (int, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(k.ns)))
	if err != nil {
		return 0, err
	}
	t := &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyIPv4}
	if ok, err := k.tableExists(rs.Table); err != nil || !ok {
		return 0, errors.New("no table")
	}
	changes := 0
	for _, ch := range rs.Chains {
		nc := &nftables.Chain{Name: ch.Name, Table: t}
		have, err := c.GetRules(t, nc)
		if err != nil {
			return 0, err
		}
		want := map[string]Rule{}
		for _, r := range ch.Rules {
			want[r.String()] = r
		}
		for _, r := range have {
			key := ruleComment(r)
			if _, ok := want[key]; ok {
				delete(want, key) // present: keep it (a duplicate is deleted below)
				continue
			}
			if err := c.DelRule(r); err != nil {
				return 0, err
			}
			changes++
		}
		for _, r := range ch.Rules { // in rs order, for a readable listing
			if _, ok := want[r.String()]; !ok {
				continue
			}
			ex, err := ruleExprs(r)
			if err != nil {
				return 0, fmt.Errorf("rule %q: %w", r, err)
			}
			c.AddRule(&nftables.Rule{Table: t, Chain: nc, Exprs: ex, UserData: userdata.AppendString(nil, userdata.TypeComment, r.String())})
			changes++
		}
	}
	if changes == 0 {
		return 0, nil
	}
	return changes, c.Flush()
}

func (k *linuxKernel) rebuildRules(rs Ruleset, remove bool) error {
	c, err := nftables.New(nftables.WithNetNSFd(int(k.ns)))
	if err != nil {
		return err
	}
	t := &nftables.Table{Name: rs.Table, Family: nftables.TableFamilyIPv4}
	c.AddTable(t)
	c.DelTable(t)
	if !remove {
		c.AddTable(t)
		chains := map[string]*nftables.Chain{}
		for _, ch := range rs.Chains {
			nc := &nftables.Chain{Name: ch.Name, Table: t}
			if ch.Hook != "" {
				nc.Type = nftables.ChainType(ch.Type)
				nc.Hooknum = hookOf(ch.Hook)
				nc.Priority = nftables.ChainPriorityRef(nftables.ChainPriority(ch.Priority))
				accept := nftables.ChainPolicyAccept
				nc.Policy = &accept
			}
			chains[ch.Name] = c.AddChain(nc)
		}
		for _, ch := range rs.Chains {
			for _, r := range ch.Rules {
				ex, err := ruleExprs(r)
				if err != nil {
					return fmt.Errorf("rule %q: %w", r, err)
				}
				c.AddRule(&nftables.Rule{Table: t, Chain: chains[ch.Name], Exprs: ex, UserData: userdata.AppendString(nil, userdata.TypeComment, r.String())})
			}
		}
	}
	return c.Flush()
}

// ruleKeys returns "chain\x00rule text" for every rule of the table that
// carries its text as a comment; nil when the table does not exist.
func (k *linuxKernel) ruleKeys(table string) (map[string]bool, error) {
	if ok, err := k.tableExists(table); err != nil || !ok {
		return nil, err
	}
	c, err := nftables.New(nftables.WithNetNSFd(int(k.ns)))
	if err != nil {
		return nil, err
	}
	t := &nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, ch := range chains {
		if ch.Table.Name != table {
			continue
		}
		rules, err := c.GetRules(t, ch)
		if err != nil {
			return nil, err
		}
		for _, r := range rules {
			keys[ch.Name+"\x00"+ruleComment(r)] = true
		}
	}
	return keys, nil
}

// bridgeOK reports whether the bridge exists, is up and has the gateway.
func (k *linuxKernel) bridgeOK(n *Network) (bool, error) {
	l, err := k.h.LinkByName(n.Bridge)
	if isNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("looking up bridge %s: %w", n.Bridge, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return false, nil
	}
	addrs, err := k.h.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		return false, fmt.Errorf("listing addresses of %s: %w", n.Bridge, err)
	}
	for _, a := range addrs {
		ones, _ := a.Mask.Size()
		if ip, ok := netip.AddrFromSlice(a.IP.To4()); ok && ip == n.Subnet.Gateway && ones == n.Subnet.Prefix.Bits() {
			return true, nil
		}
	}
	return false, nil
}

func (k *linuxKernel) tableExists(name string) (bool, error) {
	c, err := nftables.New(nftables.WithNetNSFd(int(k.ns)))
	if err != nil {
		return false, err
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return false, err
	}
	for _, t := range ts {
		if t.Name == name {
			return true, nil
		}
	}
	return false, nil
}

func hookOf(h string) *nftables.ChainHook {
	switch h {
	case "prerouting":
		return nftables.ChainHookPrerouting
	case "output":
		return nftables.ChainHookOutput
	case "postrouting":
		return nftables.ChainHookPostrouting
	case "forward":
		return nftables.ChainHookForward
	}
	return nftables.ChainHookInput
}

// ruleExprs translates one Rule into nftables expressions (register 1 for
// matches; registers 1 and 2 for the DNAT address and port).
func ruleExprs(r Rule) ([]expr.Any, error) {
	var ex []expr.Any
	ifname := func(key expr.MetaKey, name string, not bool) {
		if name == "" {
			return
		}
		b := make([]byte, unix.IFNAMSIZ)
		copy(b, name)
		op := expr.CmpOpEq
		if not {
			op = expr.CmpOpNeq
		}
		ex = append(ex, &expr.Meta{Key: key, Register: 1}, &expr.Cmp{Op: op, Register: 1, Data: b})
	}
	ifname(expr.MetaKeyIIFNAME, r.IIf, r.NotIIf)
	ifname(expr.MetaKeyOIFNAME, r.OIf, r.NotOIf)
	prefix := func(offset uint32, p netip.Prefix) {
		if !p.IsValid() {
			return
		}
		a := p.Masked().Addr().As4()
		ex = append(ex, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: offset, Len: 4})
		if p.Bits() < 32 {
			mask := net.CIDRMask(p.Bits(), 32)
			ex = append(ex, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: []byte{0, 0, 0, 0}})
		}
		ex = append(ex, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a[:]})
	}
	prefix(12, r.Saddr)
	prefix(16, r.Daddr)
	if r.DaddrLocal {
		ex = append(ex,
			&expr.Fib{Register: 1, FlagDADDR: true, ResultADDRTYPE: true},
			&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.NativeEndian.PutUint32(unix.RTN_LOCAL)})
	}
	if r.Proto != "" {
		var p byte
		switch r.Proto {
		case "tcp":
			p = unix.IPPROTO_TCP
		case "udp":
			p = unix.IPPROTO_UDP
		default:
			return nil, fmt.Errorf("protocol %q", r.Proto)
		}
		ex = append(ex, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: []byte{p}})
		if r.Dport != 0 {
			ex = append(ex,
				&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: 2, Len: 2},
				&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(r.Dport)})
		}
	}
	switch r.Action.Verdict {
	case "masquerade":
		ex = append(ex, &expr.Masq{})
	case "dnat":
		a := r.Action.To.Addr().As4()
		ex = append(ex,
			&expr.Immediate{Register: 1, Data: a[:]},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(r.Action.To.Port())},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2, Specified: true})
	case "jump":
		ex = append(ex, &expr.Verdict{Kind: expr.VerdictJump, Chain: r.Action.Chain})
	case "drop":
		ex = append(ex, &expr.Verdict{Kind: expr.VerdictDrop})
	case "accept":
		ex = append(ex, &expr.Verdict{Kind: expr.VerdictAccept})
	default:
		return nil, fmt.Errorf("verdict %q", r.Action.Verdict)
	}
	return ex, nil
}

// hostPorts probes ports by binding them in the host namespace.
type hostPorts struct{ ns netns.NsHandle }

var _ PortChecker = hostPorts{}

func (k *linuxKernel) ports() PortChecker { return hostPorts{ns: k.ns} }

func (p hostPorts) bind(proto string, ip netip.Addr, port uint16) (uint16, error) {
	var got uint16
	err := inNS(p.ns, func() error {
		addr := netip.AddrPortFrom(ip, port).String()
		switch proto {
		case "udp":
			c, err := net.ListenPacket("udp", addr)
			if err != nil {
				return err
			}
			got = uint16(c.LocalAddr().(*net.UDPAddr).Port)
			return c.Close()
		default:
			l, err := net.Listen("tcp", addr)
			if err != nil {
				return err
			}
			got = uint16(l.Addr().(*net.TCPAddr).Port)
			return l.Close()
		}
	})
	return got, err
}

func (p hostPorts) Check(proto string, ip netip.Addr, port uint16) error {
	_, err := p.bind(proto, ip, port)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EADDRINUSE):
		return fmt.Errorf("host port %s/%s: %w", netip.AddrPortFrom(ip, port), proto, ErrPortInUse)
	case errors.Is(err, unix.EADDRNOTAVAIL):
		return fmt.Errorf("host address %s: not an address of this host", ip)
	}
	return fmt.Errorf("probing host port %s/%s: %w", netip.AddrPortFrom(ip, port), proto, err)
}

func (p hostPorts) Free(proto string, ip netip.Addr) (uint16, error) { return p.bind(proto, ip, 0) }

// startProxy starts a userland proxy in the host namespace: the fork
// happens on a thread that entered it, so the child is born there. The
// child runs in its own session (it outlives the CLI) and reports on a pipe
// once it listens, so Attach returns only when the port answers.
func (k *linuxKernel) startProxy(command []string, b PortBinding, target netip.AddrPort, tag string) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	defer r.Close()
	args := append(append([]string(nil), command[1:]...),
		"-proto", b.Protocol, "-listen", netip.AddrPortFrom(b.HostIP, b.HostPort).String(),
		"-target", target.String(), "-tag", tag, "-ready-fd", "3")
	cmd := exec.Command(command[0], args...)
	cmd.ExtraFiles = []*os.File{w}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = inNS(k.ns, cmd.Start)
	w.Close()
	if err != nil {
		return 0, err
	}
	go cmd.Wait() // reap it if it dies while this process lives
	r.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(r).ReadString('\n')
	if strings.TrimSpace(line) != "ok" {
		cmd.Process.Kill()
		if msg := strings.TrimSpace(line); msg != "" {
			return 0, errors.New(msg)
		}
		return 0, fmt.Errorf("proxy did not report ready: %v", err)
	}
	return cmd.Process.Pid, nil
}

// isProxy reports whether pid is a proxy of this table, so that a pid
// recycled by an unrelated process is never signalled.
func isProxy(pid int, tag string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	hasEntry, hasTag := false, false
	for i, a := range args {
		if a == ProxyEntrypoint {
			hasEntry = true
		}
		if a == "-tag" && i+1 < len(args) && args[i+1] == tag {
			hasTag = true
		}
	}
	return hasEntry && hasTag
}

func (k *linuxKernel) stopProxy(pid int, tag string) {
	if pid <= 0 || !isProxy(pid, tag) {
		return
	}
	unix.Kill(pid, unix.SIGTERM)
	for i := 0; i < 100 && isProxy(pid, tag); i++ { // bounded: 1 s
		if st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil && strings.Contains(string(st), ") Z ") {
			return // exited, waiting to be reaped by its parent
		}
		time.Sleep(10 * time.Millisecond)
	}
	if isProxy(pid, tag) {
		unix.Kill(pid, unix.SIGKILL)
	}
}

func (k *linuxKernel) orphanProxies(tag string) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err == nil && isProxy(pid, tag) {
			out = append(out, pid)
		}
	}
	return out
}

// LoopbackUp brings lo up in a namespace: all a `--network none`
// container gets.
func LoopbackUp(ns NetNS) error {
	p, err := ns.path()
	if err != nil {
		return err
	}
	h, err := netns.GetFromPath(p)
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", p, err)
	}
	defer h.Close()
	nh, err := netlink.NewHandleAt(h)
	if err != nil {
		return fmt.Errorf("opening netlink in %s: %w", p, err)
	}
	defer nh.Close()
	lo, err := nh.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("looking up lo in %s: %w", p, err)
	}
	if err := nh.LinkSetUp(lo); err != nil {
		return fmt.Errorf("bringing up lo in %s: %w", p, err)
	}
	return nil
}
