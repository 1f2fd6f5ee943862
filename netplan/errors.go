package netplan

import "errors"

// Sentinels, checked with errors.Is.
var (
	ErrNotFound       = errors.New("not found")             // network, container or attachment
	ErrOverlap        = errors.New("address space overlap") // subnet overlaps a network or host route
	ErrNoSubnet       = errors.New("no free subnet in the address pools")
	ErrSubnetFull     = errors.New("no free address in the subnet")
	ErrAddressInUse   = errors.New("address already in use")
	ErrPortInUse      = errors.New("host port already in use")
	ErrNetworkInUse   = errors.New("network has attached containers")
	ErrConflict       = errors.New("network exists with a different configuration")
	ErrInvalidPortMap = errors.New("invalid port mapping")
)
