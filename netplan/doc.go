// Package netplan wires container networking: IPAM, bridges, veth pairs,
// routes, NAT and port maps (nftables, one table per state root), and the
// per-container /etc/hosts and /etc/resolv.conf. It takes its own config
// types and imports nothing else from stack (only netlink, netns, nftables
// and x/sys).
//
// Pure parts, tested without a kernel: ChooseSubnet / CheckSubnet /
// NewSubnet / Subnet.Allocate (IPAM), ResolvePorts (port maps to bindings,
// against a PortChecker), Rules (the whole nftables table as data),
// HostsContent / HostsFor / ResolvConfContent.
//
// The Manager (Open) owns <root>/networks/: CreateNetwork, RemoveNetwork,
// ListNetworks, InspectNetwork, Attach, Detach, DetachAll, Endpoints,
// Ports, RefreshHosts, Cleanup and Prune. Each mutating call takes the
// root's flock, records first, then brings the kernel in line, so that a
// killed run is repaired by Cleanup. All kernel work happens in one "host"
// network namespace (Options.HostNetNS; tests use their own) through
// netlink handles opened at it, never through package globals.
//
// Host objects: bridges stk-<8 hex>, host veths stkv<8 hex> (both with the
// alias stack:<8 hex of the root>), the table ip stack_<8 hex>, and
// `__stack_proxy` processes (ProxyMain) for IPv6 host addresses.
package netplan
