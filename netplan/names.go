package netplan

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Host object names (DESIGN.md "Host objects and naming"). Every link and the
// nftables table stack creates is found again by its name prefix; links also
// carry an alias naming their state root (see linkAlias) so that Cleanup only
// removes what this root made.
const (
	BridgePrefix   = "stk-"   // bridges: stk- + 8 hex
	VethPrefix     = "stkv"   // veth host side: stkv + 8 hex
	TablePrefix    = "stack_" // nftables table: stack_ + 8 hex of the root
	aliasPrefix    = "stack:" // IFLA_IFALIAS of every link: stack:<root hash>
	maxIfName      = 15       // IFNAMSIZ - 1
	DefaultNetwork = "bridge" // the network containers join when none is named
)

func hash8(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil))[:8]
}

// BridgeName is the bridge interface name of network name under root.
func BridgeName(root, network string) string { return BridgePrefix + hash8(root, "bridge", network) }

// VethName is the host-side veth name of container id on network under root.
func VethName(root, containerID, network string) string {
	return VethPrefix + hash8(root, "veth", containerID, network)
}

// TableName is the nftables table (family ip) holding every rule of root.
func TableName(root string) string { return TablePrefix + hash8(root) }

// linkAlias is the IFLA_IFALIAS set on every link of root: it tells Cleanup
// which stk* links belong to this root when several roots share a host.
func linkAlias(root string) string { return aliasPrefix + hash8(root) }

// isStackLink reports whether an interface name is one stack creates.
func isStackLink(name string) bool {
	return strings.HasPrefix(name, BridgePrefix) || strings.HasPrefix(name, VethPrefix)
}
