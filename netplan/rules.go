package netplan

import (
	"fmt"
	"net/netip"
	"strings"
)

// Rule generation is pure: Rules(root, networks) describes the whole
// nftables table of a state root as data. The Linux code translates it to
// netlink messages and replaces the table in one transaction; tests compare
// its String() form.
//
// The table (family ip) holds:
//
//	prerouting  nat    hook prerouting  -100: fib daddr type local jump ports
//	output      nat    hook output      -100: fib daddr type local jump ports
//	ports       (regular)                    one DNAT rule per published port
//	postrouting nat    hook postrouting  100: masquerade egress of each non-internal
//	                                         subnet; masquerade loopback sources
//	                                         leaving by a bridge (127.0.0.1 maps,
//	                                         with route_localnet on the bridge);
//	                                         hairpin masquerade container → itself
//	forward     filter hook forward        0: internal networks: drop what crosses
//	                                         their bridge to or from elsewhere
//
// Loopback DNAT needs OUTPUT DNAT + route_localnet + masquerade of local
// sources (PLATFORM.md). IPv6 host addresses are served by the userland proxy
// instead and get no rule.

// Ruleset is a whole table.
type Ruleset struct {
	Table  string
	Chains []Chain
}

// Chain is a base chain (Hook set) or a regular chain.
type Chain struct {
	Name     string
	Type     string // "nat" or "filter"; "" for a regular chain
	Hook     string // "prerouting", "output", "postrouting", "forward"; "" for regular
	Priority int
	Rules    []Rule
}

// Rule is a conjunction of matches and one action.
type Rule struct {
	IIf, OIf       string // interface name match ("" = any)
	NotIIf, NotOIf bool   // negate the interface match
	Saddr, Daddr   netip.Prefix
	DaddrLocal     bool   // fib daddr type local
	Proto          string // "tcp", "udp" or ""
	Dport          uint16 // needs Proto
	Action         Action
}

// Action is what a rule does.
type Action struct {
	Verdict string         // "masquerade", "dnat", "jump", "drop", "accept"
	To      netip.AddrPort // dnat target
	Chain   string         // jump target
}

var loopback4 = netip.MustParsePrefix("127.0.0.0/8")

// Rules computes the table of root for the given networks.
func Rules(root string, networks []*Network) Ruleset {
	rs := Ruleset{Table: TableName(root)}
	jumpPorts := Rule{DaddrLocal: true, Action: Action{Verdict: "jump", Chain: "ports"}}
	pre := Chain{Name: "prerouting", Type: "nat", Hook: "prerouting", Priority: -100, Rules: []Rule{jumpPorts}}
	out := Chain{Name: "output", Type: "nat", Hook: "output", Priority: -100, Rules: []Rule{jumpPorts}}
	ports := Chain{Name: "ports"}
	post := Chain{Name: "postrouting", Type: "nat", Hook: "postrouting", Priority: 100}
	fwd := Chain{Name: "forward", Type: "filter", Hook: "forward", Priority: 0}
	hairpin := map[string]bool{}

	for _, n := range sortedNetworks(networks) {
		if !n.Internal {
			post.Rules = append(post.Rules, Rule{Saddr: n.Subnet.Prefix, OIf: n.Bridge, NotOIf: true, Action: Action{Verdict: "masquerade"}})
		} else {
			fwd.Rules = append(fwd.Rules,
				Rule{IIf: n.Bridge, OIf: n.Bridge, NotOIf: true, Action: Action{Verdict: "drop"}},
				Rule{OIf: n.Bridge, IIf: n.Bridge, NotIIf: true, Action: Action{Verdict: "drop"}})
		}
		post.Rules = append(post.Rules, Rule{OIf: n.Bridge, Saddr: loopback4, Action: Action{Verdict: "masquerade"}})
		for _, e := range n.sortedEndpoints() {
			for _, b := range e.Ports {
				if b.NeedsProxy() || !e.IP.IsValid() {
					continue
				}
				r := Rule{Proto: b.Protocol, Dport: b.HostPort, Action: Action{Verdict: "dnat", To: netip.AddrPortFrom(e.IP, b.ContainerPort)}}
				if !b.HostIP.IsUnspecified() {
					r.Daddr = netip.PrefixFrom(b.HostIP, 32)
				}
				ports.Rules = append(ports.Rules, r)
				key := fmt.Sprintf("%s/%s/%d", e.IP, b.Protocol, b.ContainerPort)
				if hairpin[key] {
					continue // several host ports may lead to one container port
				}
				hairpin[key] = true
				host := netip.PrefixFrom(e.IP, 32)
				post.Rules = append(post.Rules, Rule{Saddr: host, Daddr: host, Proto: b.Protocol, Dport: b.ContainerPort, Action: Action{Verdict: "masquerade"}})
			}
		}
	}
	rs.Chains = []Chain{pre, out, ports, post, fwd}
	return rs
}

// String renders the table in nft syntax (one rule per line, as nft 1.0.6
// wants), for tests and `stack network inspect --rules`.
func (rs Ruleset) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {\n", rs.Table)
	for _, c := range rs.Chains {
		fmt.Fprintf(&b, "\tchain %s {\n", c.Name)
		if c.Hook != "" {
			fmt.Fprintf(&b, "\t\ttype %s hook %s priority %d; policy accept;\n", c.Type, c.Hook, c.Priority)
		}
		for _, r := range c.Rules {
			fmt.Fprintf(&b, "\t\t%s\n", r)
		}
		b.WriteString("\t}\n")
	}
	b.WriteString("}\n")
	return b.String()
}

// String renders one rule in nft syntax.
func (r Rule) String() string {
	var parts []string
	ifm := func(key, name string, not bool) {
		if name == "" {
			return
		}
		op := ""
		if not {
			op = "!= "
		}
		parts = append(parts, fmt.Sprintf("%s %s%q", key, op, name))
	}
	ifm("iifname", r.IIf, r.NotIIf)
	ifm("oifname", r.OIf, r.NotOIf)
	if r.Saddr.IsValid() {
		parts = append(parts, "ip saddr "+prefixString(r.Saddr))
	}
	if r.Daddr.IsValid() {
		parts = append(parts, "ip daddr "+prefixString(r.Daddr))
	}
	if r.DaddrLocal {
		parts = append(parts, "fib daddr type local")
	}
	if r.Proto != "" {
		parts = append(parts, "meta l4proto "+r.Proto)
		if r.Dport != 0 {
			parts = append(parts, fmt.Sprintf("th dport %d", r.Dport))
		}
	}
	switch r.Action.Verdict {
	case "dnat":
		parts = append(parts, "dnat to "+r.Action.To.String())
	case "jump":
		parts = append(parts, "jump "+r.Action.Chain)
	default:
		parts = append(parts, r.Action.Verdict)
	}
	return strings.Join(parts, " ")
}

func prefixString(p netip.Prefix) string {
	if p.Bits() == 32 {
		return p.Addr().String()
	}
	return p.String()
}
