package spec

import (
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
)

// validate runs the checks that span several keys or sections, after every
// section has been decoded without error.
func (d *decoder) validate() {
	st := d.st
	names := sortedKeys(st.Services)
	usesDefault := false
	for _, name := range names {
		s := st.Services[name]
		info := d.svc[name]
		path := "services." + name
		d.checkResources(s, info, path)
		d.checkNetworking(s, info, path)
		if s.NetworkMode == "" && len(s.Networks) == 0 {
			s.Networks = map[string]*ServiceNetwork{"default": {}}
		}
		if _, ok := s.Networks["default"]; ok {
			usesDefault = true
		}
		d.checkReferences(s, info, path)
	}
	if usesDefault {
		if _, ok := st.Networks["default"]; !ok {
			if st.Networks == nil {
				st.Networks = map[string]*Network{}
			}
			st.Networks["default"] = &Network{Name: "default", HostName: st.Name + "_default", Driver: "bridge", Implicit: true}
		}
	}
	d.checkSubnets()
	for _, name := range names {
		d.checkAddresses(st.Services[name], d.svc[name], "services."+name)
	}
}

func (d *decoder) checkResources(s *Service, info *svcInfo, path string) {
	r := &s.Resources
	legacyNode := info.val
	// deploy.resources must agree with the legacy keys when both are set.
	agreeInt := func(dn *node, dv int64, legacy *int64, key, dpath string) {
		if dn == nil {
			return
		}
		if ln := legacyNode(key); ln != nil && *legacy != dv {
			d.errf(dn, path+".deploy."+dpath, "%s contradicts %s: %s (line %d): set one, or the same value in both", dn.value, key, ln.value, ln.pos.Line)
			return
		}
		*legacy = dv
	}
	agreeInt(info.dMem, info.dMemV, &r.MemLimit, "mem_limit", "resources.limits.memory")
	agreeInt(info.dMemRes, info.dMemResV, &r.MemReservation, "mem_reservation", "resources.reservations.memory")
	agreeInt(info.dPids, info.dPidsV, &r.PidsLimit, "pids_limit", "resources.limits.pids")
	if info.dCPUs != nil {
		if ln := legacyNode("cpus"); ln != nil && r.CPUs != info.dCPUsV {
			d.errf(info.dCPUs, path+".deploy.resources.limits.cpus", "%v contradicts cpus: %v (line %d)", info.dCPUsV, r.CPUs, ln.pos.Line)
		} else {
			r.CPUs = info.dCPUsV
		}
	}
	if info.dReplicas != nil {
		if ln := legacyNode("scale"); ln != nil && s.Scale != info.dReplicasV {
			d.errf(info.dReplicas, path+".deploy.replicas", "%d contradicts scale: %d (line %d)", info.dReplicasV, s.Scale, ln.pos.Line)
		} else {
			s.Scale = info.dReplicasV
		}
	}
	if info.dRestart != nil {
		if ln := legacyNode("restart"); ln != nil && s.Restart != info.dRestartV && !(s.Restart == "" && info.dRestartV == "no") {
			d.errf(info.dRestart, path+".deploy.restart_policy", "maps to restart %q, which contradicts restart: %q (line %d)", info.dRestartV, s.Restart, ln.pos.Line)
		} else {
			s.Restart = info.dRestartV
		}
	}
	if s.ContainerName != "" && s.Scale > 1 {
		d.errf(info.val("container_name"), path+".container_name", "%q cannot be used with %d replicas: a container name is unique, so scale must be 1", s.ContainerName, s.Scale)
	}
	memNode := firstNode(info.val("mem_limit"), info.dMem)
	if r.MemLimit > 0 && r.MemReservation > r.MemLimit {
		n := firstNode(info.val("mem_reservation"), info.dMemRes)
		d.errf(n, path+".mem_reservation", "%s is above the memory limit %s", sizeText(n, r.MemReservation), sizeText(memNode, r.MemLimit))
	}
	if r.MemswapLimit > 0 {
		n := info.val("memswap_limit")
		if r.MemLimit == 0 {
			d.errf(n, path+".memswap_limit", "needs mem_limit")
		} else if r.MemswapLimit < r.MemLimit {
			d.errf(n, path+".memswap_limit", "%s is below mem_limit %s: memswap_limit is memory plus swap", sizeText(n, r.MemswapLimit), sizeText(memNode, r.MemLimit))
		}
	}
	if r.CPUs > 0 && (r.CPUQuota != 0 || r.CPUPeriod != 0) {
		key := "cpu_quota"
		if info.val(key) == nil {
			key = "cpu_period"
		}
		d.errf(info.val(key), path+"."+key, "cpus and %s are exclusive: set one (cpus is a quota over the default period)", key)
	}
}

// sizeText shows a size as written in the file, with its value in bytes.
func sizeText(n *node, b int64) string {
	if n != nil && n.kind == scalarNode && n.value != strconv.FormatInt(b, 10) {
		return fmt.Sprintf("%s (%d bytes)", n.value, b)
	}
	return fmt.Sprintf("%d bytes", b)
}

func firstNode(ns ...*node) *node {
	for _, n := range ns {
		if n != nil {
			return n
		}
	}
	return nil
}

func (d *decoder) checkNetworking(s *Service, info *svcInfo, path string) {
	if s.NetworkMode != "" && info.val("networks") != nil {
		d.errf(info.keyOf("networks"), path+".networks", "network_mode %q and networks are exclusive: set one", s.NetworkMode)
	}
	if s.NetworkMode == "host" && len(s.Ports) > 0 {
		d.errf(info.keyOf("ports"), path+".ports", "ports cannot be published with network_mode: host (the service uses the host's ports directly)")
	}
	if s.PublishAll && s.NetworkMode == "host" {
		d.errf(info.keyOf("x-stack-publish-all"), path+".x-stack-publish-all", "cannot be used with network_mode: host")
	}
	if s.NetworkMode == "none" && len(s.Ports) > 0 {
		d.errf(info.keyOf("ports"), path+".ports", "ports cannot be published with network_mode: none")
	}
	if shared, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		if len(s.Ports) > 0 {
			d.errf(info.keyOf("ports"), path+".ports", "ports cannot be published with network_mode: %s: publish them on service %s, whose network namespace this one shares", s.NetworkMode, shared)
		}
		if s.PublishAll {
			d.errf(info.keyOf("x-stack-publish-all"), path+".x-stack-publish-all", "cannot be used with network_mode: %s", s.NetworkMode)
		}
	}
	if strings.HasPrefix(s.NetworkMode, "container:") && len(s.Ports) > 0 {
		d.errf(info.keyOf("ports"), path+".ports", "ports cannot be published with network_mode: %s", s.NetworkMode)
	}
	if s.NetworkMode == "bridge" {
		// "bridge" is docker's default network; in stack it means the
		// project's default network.
		s.NetworkMode = ""
		if info.val("networks") == nil {
			s.Networks = map[string]*ServiceNetwork{"default": {}}
		}
	}
}

// serviceRef checks a reference to another service (depends_on,
// network_mode service:X, volumes_from, ...).
func (d *decoder) serviceRef(at *node, path, from, target, what string) bool {
	if target == from {
		d.errf(at, path, "%s refers to the service itself", what)
		return false
	}
	if _, ok := d.st.Services[target]; ok {
		return true
	}
	if pos, off := d.l.disabled[target]; off {
		d.errf(at, path, "%s refers to service %q, which is disabled by its profiles (line %d): enable one of its profiles with --profile", what, target, pos.Line)
		return false
	}
	d.errf(at, path, "%s refers to undefined service %q%s", what, target, suggest(target, sortedKeys(d.st.Services)))
	return false
}

func (d *decoder) checkReferences(s *Service, info *svcInfo, path string) {
	st := d.st
	if t, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		d.serviceRef(info.val("network_mode"), path+".network_mode", s.Name, t, "network_mode")
	}
	if t, ok := strings.CutPrefix(s.Ipc, "service:"); ok {
		d.serviceRef(info.val("ipc"), path+".ipc", s.Name, t, "ipc")
	}
	if t, ok := strings.CutPrefix(s.Pid, "service:"); ok {
		d.serviceRef(info.val("pid"), path+".pid", s.Name, t, "pid")
	}
	for i, vf := range s.VolumesFrom {
		if strings.HasPrefix(vf, "container:") {
			continue
		}
		t, _, _ := strings.Cut(vf, ":")
		d.serviceRef(itemOrSelf(info.val("volumes_from"), i), fmt.Sprintf("%s.volumes_from[%d]", path, i), s.Name, t, "volumes_from")
	}
	for _, dep := range sortedKeys(s.DependsOn) {
		at := info.deps[dep]
		dp := path + ".depends_on." + dep
		if _, ok := st.Services[dep]; ok {
			if dep == s.Name {
				d.errf(at, dp, "a service cannot depend on itself")
			}
			continue
		}
		if _, off := d.l.disabled[dep]; off && !s.DependsOn[dep].Required {
			delete(s.DependsOn, dep)
			continue
		}
		d.serviceRef(at, dp, s.Name, dep, "depends_on")
	}
	for _, nn := range sortedKeys(s.Networks) {
		if nn == "default" {
			if _, ok := st.Networks[nn]; !ok {
				continue
			}
		}
		net, ok := st.Networks[nn]
		if !ok {
			d.errf(info.nets[nn], path+".networks."+nn, "undefined network %q: declare it under the top-level networks:%s", nn, suggest(nn, sortedKeys(st.Networks)))
			continue
		}
		if net.Driver == "host" || net.Driver == "none" {
			d.errf(info.nets[nn], path+".networks."+nn, "network %q uses driver %s: use network_mode: %s instead", nn, net.Driver, net.Driver)
		}
	}
	for i, m := range s.Volumes {
		if m.Type != "volume" || m.Source == "" {
			continue
		}
		if _, ok := st.Volumes[m.Source]; !ok {
			d.errf(info.mounts[i], fmt.Sprintf("%s.volumes[%d]", path, mountIndex(info, i)), "undefined volume %q: declare it under the top-level volumes:%s", m.Source, suggest(m.Source, sortedKeys(st.Volumes)))
		}
	}
	for _, kind := range []string{"configs", "secrets"} {
		refs, objs := s.Configs, st.Configs
		if kind == "secrets" {
			refs, objs = s.Secrets, st.Secrets
		}
		list := info.val(kind)
		for i, r := range refs {
			if _, ok := objs[r.Source]; !ok {
				d.errf(itemOrSelf(list, i), fmt.Sprintf("%s.%s[%d]", path, kind, i), "undefined %s %q: declare it under the top-level %s:", strings.TrimSuffix(kind, "s"), r.Source, kind)
			}
		}
	}
	if _, ok := st.Images[s.Image]; ok && s.Build != nil {
		d.errf(info.val("image"), path+".image", "%q is an x-stack-images entry: a service with build: cannot use it", s.Image)
	}
}

// mountIndex is the position of Service.Volumes[i] in the file's list.
func mountIndex(info *svcInfo, i int) int {
	list := info.val("volumes")
	if list == nil {
		return i
	}
	for j, it := range list.vals {
		if it == info.mounts[i] {
			return j
		}
	}
	return i
}

// checkSubnets reports overlapping subnets between the stack's networks.
func (d *decoder) checkSubnets() {
	type sub struct {
		net string
		pf  netip.Prefix
	}
	var subs []sub
	for _, name := range sortedKeys(d.st.Networks) {
		n := d.st.Networks[name]
		if n.External {
			continue
		}
		for _, c := range n.IPAM {
			if c.Subnet != "" {
				subs = append(subs, sub{name, netip.MustParsePrefix(c.Subnet)})
			}
		}
	}
	for i := range subs {
		for j := 0; j < i; j++ {
			a, b := subs[j], subs[i]
			if a.pf.Overlaps(b.pf) {
				at := d.subnetNode(b.net, b.pf.String())
				if a.net == b.net {
					d.errf(at, "networks."+b.net+".ipam.config", "subnet %s overlaps %s of the same network", b.pf, a.pf)
				} else {
					d.errf(at, "networks."+b.net+".ipam.config", "subnet %s overlaps %s of network %q", b.pf, a.pf, a.net)
				}
			}
		}
	}
}

// subnetNode finds the node of a network's subnet, for positions.
func (d *decoder) subnetNode(net, subnet string) *node {
	nn := d.top["networks"].get(net)
	cfg := nn.get("ipam").get("config")
	if cfg != nil {
		for _, c := range cfg.vals {
			if s := c.get("subnet"); s != nil {
				if pf, err := netip.ParsePrefix(s.value); err == nil && pf.String() == subnet {
					return s
				}
			}
		}
	}
	k, _ := d.top["networks"].getKey(net)
	return k
}

// checkAddresses checks static addresses against their network's subnets
// and for duplicates.
func (d *decoder) checkAddresses(s *Service, info *svcInfo, path string) {
	for _, nn := range sortedKeys(s.Networks) {
		sn := s.Networks[nn]
		net := d.st.Networks[nn]
		if net == nil {
			continue
		}
		for _, a := range []struct{ addr, key string }{{sn.IPv4Address, "ipv4_address"}, {sn.IPv6Address, "ipv6_address"}} {
			if a.addr == "" {
				continue
			}
			at := info.val("networks").get(nn).get(a.key)
			if at == nil {
				at = info.nets[nn]
			}
			ap := path + ".networks." + nn + "." + a.key
			addr := netip.MustParseAddr(a.addr)
			var subnets []string
			in := false
			for _, c := range net.IPAM {
				if c.Subnet == "" {
					continue
				}
				pf := netip.MustParsePrefix(c.Subnet)
				if pf.Addr().Is4() != addr.Is4() {
					continue
				}
				subnets = append(subnets, c.Subnet)
				if pf.Contains(addr) {
					in = true
					if addr == pf.Addr() || addr.Is4() && addr == lastAddr(pf) {
						d.errf(at, ap, "%s is the network or broadcast address of %s", a.addr, c.Subnet)
					}
					if c.Gateway == a.addr {
						d.errf(at, ap, "%s is the gateway of network %q", a.addr, nn)
					}
				}
			}
			switch {
			case net.External:
			case len(subnets) == 0:
				d.errf(at, ap, "a static address needs a subnet: set networks.%s.ipam.config[].subnet", nn)
			case !in:
				d.errf(at, ap, "%s is not in the subnet of network %q (%s)", a.addr, nn, strings.Join(subnets, ", "))
			}
			d.checkDuplicateAddress(nn, a.addr, s.Name, at, ap)
		}
	}
}

func (d *decoder) checkDuplicateAddress(net, addr, svc string, at *node, path string) {
	for _, other := range sortedKeys(d.st.Services) {
		if other >= svc {
			break
		}
		o := d.st.Services[other].Networks[net]
		if o != nil && (o.IPv4Address == addr || o.IPv6Address == addr) {
			d.errf(at, path, "%s is already the address of service %q on network %q", addr, other, net)
		}
	}
}

func lastAddr(pf netip.Prefix) netip.Addr {
	a := pf.Addr().As4()
	bits := pf.Bits()
	for i := bits; i < 32; i++ {
		a[i/8] |= 1 << (7 - i%8)
	}
	return netip.AddrFrom4(a)
}

var _ = sort.Strings
