package main

import (
	"github.com/spf13/pflag"

	"github.com/stack-dev/stack/executor"
)

// addRunNetworkFlags registers the network flags of `stack run` and
// `stack create` (-p, -P, --dns, --add-host, ...) into o. --network itself
// is RunOptions.Network (run.go); its help is completed here.
func addRunNetworkFlags(f *pflag.FlagSet, o *executor.NetOptions) {
	const network = "connect a container to a network: bridge (default), NAME, none, host or container:NAME"
	for _, n := range []string{"network", "net"} {
		if fl := f.Lookup(n); fl != nil {
			fl.Usage = network
		}
	}
	f.StringArrayVarP(&o.Publish, "publish", "p", nil, "publish a container's port(s) to the host ([IP:][HOST[-END]:]CONTAINER[-END][/PROTO])")
	f.BoolVarP(&o.PublishAll, "publish-all", "P", false, "publish all exposed ports to free host ports")
	f.StringArrayVar(&o.DNS, "dns", nil, "set custom DNS servers")
	f.StringArrayVar(&o.DNSSearch, "dns-search", nil, "set custom DNS search domains")
	f.StringArrayVar(&o.DNSOptions, "dns-option", nil, "set DNS options")
	f.StringArrayVar(&o.DNSOptions, "dns-opt", nil, "set DNS options")
	f.Lookup("dns-opt").Hidden = true
	f.StringArrayVar(&o.ExtraHosts, "add-host", nil, "add a custom host-to-IP mapping (HOST:IP or HOST=IP; IP may be host-gateway)")
	f.StringVar(&o.IPv4, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	f.StringVar(&o.MAC, "mac-address", "", "container MAC address (e.g., 92:d0:c6:0a:29:33)")
	f.StringArrayVar(&o.Aliases, "network-alias", nil, "add network-scoped alias for the container")
	f.StringArrayVar(&o.Aliases, "net-alias", nil, "add network-scoped alias for the container")
	f.Lookup("net-alias").Hidden = true
}
