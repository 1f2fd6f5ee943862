package executor

import "fmt"

// The network side of a container (`stack run --network/-p/--dns...` and
// the networks of a stack service). This file and runtime_net_linux.go are
// the seam between the runtime and netplan: CreateContainer calls
// applyNetworkMode while building the record and setupNetwork once the
// container's files exist; RemoveContainer calls teardownNetwork.

// NetOptions is the network request beyond the mode in RunOptions.Network.
type NetOptions struct{}

// NetRecord is what setupNetwork made, kept in the container's record so
// that teardown, restarts and `stack port` find it.
type NetRecord struct{}

// applyNetworkMode checks the requested network mode and records it on c.
func applyNetworkMode(c *Container, opts *RunOptions) error {
	c.Network = opts.Network
	switch c.Network {
	case "", "default", "bridge":
		c.Network = "none" // until the networking code registers bridges
		if opts.Network != "" && opts.Network != "default" {
			return fmt.Errorf("--network %s: only none and host are supported so far", opts.Network)
		}
	case "none", "host":
	default:
		return fmt.Errorf("--network %s: only none and host are supported so far", opts.Network)
	}
	return nil
}
