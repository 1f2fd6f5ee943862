package netplan

import (
	"fmt"
	"net/netip"
	"sort"
)

// IPAM is pure: it decides subnets and addresses from plain data (the
// networks already recorded and the host's routes) and never touches the
// kernel. The Manager gathers that data and persists the result.

// Pool is a range of address space carved into subnets of Bits each.
type Pool struct {
	Base netip.Prefix
	Bits int
}

// DefaultPools are docker's default address pools: 172.17.0.0/16 through
// 172.31.0.0/16, then 192.168.0.0/16 split into /20s.
var DefaultPools = []Pool{
	{Base: netip.MustParsePrefix("172.17.0.0/16"), Bits: 16},
	{Base: netip.MustParsePrefix("172.18.0.0/15"), Bits: 16},
	{Base: netip.MustParsePrefix("172.20.0.0/14"), Bits: 16},
	{Base: netip.MustParsePrefix("172.24.0.0/13"), Bits: 16},
	{Base: netip.MustParsePrefix("192.168.0.0/16"), Bits: 20},
}

// defaultBridgeSubnet is taken by the default `bridge` network when it is
// free; other networks start after it, as docker's do.
var defaultBridgeSubnet = netip.MustParsePrefix("172.17.0.0/16")

// Claim is address space already in use, and who uses it, so that an overlap
// error can name both sides.
type Claim struct {
	Prefix netip.Prefix
	Owner  string // "network front", "host route 10.0.0.0/8 dev eth0"
}

// Overlaps reports whether two prefixes share any address.
func Overlaps(a, b netip.Prefix) bool {
	return a.Overlaps(b)
}

// CheckSubnet refuses a subnet that overlaps any claim, naming both.
func CheckSubnet(subnet netip.Prefix, claims []Claim) error {
	for _, c := range claims {
		if Overlaps(subnet, c.Prefix) {
			return fmt.Errorf("subnet %s overlaps %s (%s): %w", subnet, c.Prefix, c.Owner, ErrOverlap)
		}
	}
	return nil
}

// ChooseSubnet picks the first subnet of pools that overlaps no claim. The
// default network name takes 172.17.0.0/16 first; every other network skips
// it, so that `bridge` finds it free when it is created later.
func ChooseSubnet(network string, pools []Pool, claims []Claim) (netip.Prefix, error) {
	if network == DefaultNetwork && CheckSubnet(defaultBridgeSubnet, claims) == nil {
		return defaultBridgeSubnet, nil
	}
	for _, p := range pools {
		base := p.Base.Masked()
		if p.Bits < base.Bits() || p.Bits > 30 || !base.Addr().Is4() {
			continue
		}
		n := uint64(1) << (p.Bits - base.Bits())
		start := addrToU32(base.Addr())
		step := uint32(1) << (32 - p.Bits)
		for i := uint64(0); i < n; i++ {
			cand := netip.PrefixFrom(u32ToAddr(start+uint32(i)*step), p.Bits)
			if network != DefaultNetwork && cand == defaultBridgeSubnet {
				continue
			}
			if CheckSubnet(cand, claims) == nil {
				return cand, nil
			}
		}
	}
	return netip.Prefix{}, fmt.Errorf("choosing a subnet for network %s: every pool subnet overlaps a network or host route: %w", network, ErrNoSubnet)
}

// Subnet is the address plan of one network: its subnet, gateway, and the
// range containers' addresses are allocated from.
type Subnet struct {
	Prefix  netip.Prefix `json:"subnet"`
	Gateway netip.Addr   `json:"gateway"`
	IPRange netip.Prefix `json:"ip_range,omitzero"`
}

// NewSubnet validates a subnet, gateway and range: gateway defaults to the
// first address, the range must lie inside the subnet, and the subnet must
// leave room for a gateway and at least one container.
func NewSubnet(prefix netip.Prefix, gateway netip.Addr, ipRange netip.Prefix) (Subnet, error) {
	if !prefix.IsValid() || !prefix.Addr().Is4() {
		return Subnet{}, fmt.Errorf("subnet %s: want an IPv4 CIDR such as 172.26.0.0/16", prefix)
	}
	if prefix != prefix.Masked() {
		return Subnet{}, fmt.Errorf("subnet %s: host bits set (did you mean %s?)", prefix, prefix.Masked())
	}
	if prefix.Bits() > 30 {
		return Subnet{}, fmt.Errorf("subnet %s: too small, want /30 or larger", prefix)
	}
	s := Subnet{Prefix: prefix, Gateway: gateway, IPRange: ipRange}
	if !gateway.IsValid() {
		s.Gateway = prefix.Addr().Next()
	} else if !s.usable(gateway) {
		return Subnet{}, fmt.Errorf("gateway %s: not a host address of subnet %s", gateway, prefix)
	}
	if ipRange.IsValid() {
		if ipRange != ipRange.Masked() || !ipRange.Addr().Is4() {
			return Subnet{}, fmt.Errorf("ip range %s: want a masked IPv4 CIDR", ipRange)
		}
		if !prefix.Contains(ipRange.Addr()) || ipRange.Bits() < prefix.Bits() {
			return Subnet{}, fmt.Errorf("ip range %s: not inside subnet %s", ipRange, prefix)
		}
	}
	return s, nil
}

// usable reports whether a is a host address of the subnet (neither the
// network nor the broadcast address).
func (s Subnet) usable(a netip.Addr) bool {
	if !a.Is4() || !s.Prefix.Contains(a) {
		return false
	}
	return a != s.Prefix.Addr() && a != broadcast(s.Prefix)
}

// Allocate returns the lowest free address of the range (the subnet when
// no range is given), skipping the gateway and the used addresses.
func (s Subnet) Allocate(used []netip.Addr) (netip.Addr, error) {
	r := s.Prefix
	if s.IPRange.IsValid() {
		r = s.IPRange
	}
	taken := make(map[netip.Addr]bool, len(used)+1)
	for _, a := range used {
		taken[a] = true
	}
	taken[s.Gateway] = true
	last := broadcast(r)
	for a := r.Addr(); ; a = a.Next() {
		if s.usable(a) && !taken[a] {
			return a, nil
		}
		if a == last {
			break
		}
	}
	return netip.Addr{}, fmt.Errorf("allocating an address in %s: %w", r, ErrSubnetFull)
}

// Reserve checks that a static address can be given to a container.
func (s Subnet) Reserve(a netip.Addr, used []netip.Addr) error {
	if !s.usable(a) {
		return fmt.Errorf("address %s: not a host address of subnet %s", a, s.Prefix)
	}
	if a == s.Gateway {
		return fmt.Errorf("address %s: is the gateway of subnet %s: %w", a, s.Prefix, ErrAddressInUse)
	}
	for _, u := range used {
		if u == a {
			return fmt.Errorf("address %s: %w", a, ErrAddressInUse)
		}
	}
	return nil
}

// MACFor is the container MAC docker derives from an IPv4 address:
// 02:42 followed by the four address bytes (locally administered, unicast).
func MACFor(a netip.Addr) string {
	b := a.As4()
	return fmt.Sprintf("02:42:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3])
}

func broadcast(p netip.Prefix) netip.Addr {
	v := addrToU32(p.Masked().Addr())
	return u32ToAddr(v | (uint32(1)<<(32-p.Bits()) - 1))
}

func addrToU32(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func u32ToAddr(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

func sortAddrs(a []netip.Addr) {
	sort.Slice(a, func(i, j int) bool { return a[i].Less(a[j]) })
}
