package main

import "github.com/stack-dev/stack/netplan"

// The userland proxy for port maps DNAT cannot serve ([::1] and other IPv6
// host addresses): started by netplan with Setsid, recorded with the
// attachment and killed on detach.
func init() { registerHidden(netplan.ProxyEntrypoint, netplan.ProxyMain) }
