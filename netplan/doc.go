// Package netplan wires container networking: IPAM, bridges, veth pairs,
// routes, NAT and port maps (nftables, one table per state root), and the
// per-container /etc/hosts and /etc/resolv.conf. It takes its own config
// types and imports nothing else from stack.
package netplan
