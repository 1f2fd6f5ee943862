package executor

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// runOptionsFor translates one container of a service into the runtime's
// terms. It is pure.
func runOptionsFor(root string, cs *containerSpec) (*RunOptions, error) {
	s := cs.Service
	o := &RunOptions{
		Image:       cs.ImageRef,
		Name:        cs.Name,
		Command:     s.Command,
		CommandSet:  s.Command != nil,
		Workdir:     s.WorkingDir,
		User:        s.User,
		GroupAdd:    s.GroupAdd,
		Hostname:    s.Hostname,
		Domainname:  s.Domainname,
		Interactive: s.StdinOpen,
		TTY:         s.Tty,
		ReadOnly:    s.ReadOnly,
		CapAdd:      s.CapAdd,
		CapDrop:     s.CapDrop,
		Privileged:  s.Privileged,
		SecurityOpt: s.SecurityOpt,
		Tmpfs:       s.Tmpfs,
		StopSignal:  s.StopSignal,
		Restart:     s.Restart,
	}
	if s.Entrypoint != nil {
		o.EntrypointList = s.Entrypoint
	}
	for _, k := range sortedKeys(s.Environment) {
		o.Env = append(o.Env, k+"="+s.Environment[k])
	}
	labels := map[string]string{}
	for k, v := range s.Labels {
		labels[k] = v
	}
	labels[LabelProject] = cs.Project
	labels[LabelService] = s.Name
	labels[LabelNumber] = strconv.Itoa(cs.Number)
	labels[LabelHash] = s.ConfigHash()
	for _, k := range sortedKeys(labels) {
		o.Labels = append(o.Labels, k+"="+labels[k])
	}
	if s.Logging != nil {
		o.LogOpts = s.Logging.Options
	}

	// Resources.
	r := s.Resources
	if r.MemLimit > 0 {
		o.Memory = strconv.FormatInt(r.MemLimit, 10)
	}
	if r.MemswapLimit != 0 {
		o.MemorySwap = strconv.FormatInt(r.MemswapLimit, 10)
	}
	if r.CPUs > 0 {
		o.CPUs = strconv.FormatFloat(r.CPUs, 'f', -1, 64)
	}
	o.CPUShares, o.CPUQuota, o.CPUPeriod = r.CPUShares, r.CPUQuota, r.CPUPeriod
	o.CpusetCpus, o.CpusetMems = r.Cpuset, r.CpusetMems
	if r.PidsLimit != 0 {
		o.PidsLimit, o.PidsLimitSet = r.PidsLimit, true
	}
	if r.ShmSize > 0 {
		o.ShmSize = strconv.FormatInt(r.ShmSize, 10)
	}
	for _, name := range sortedKeys(r.Ulimits) {
		u := r.Ulimits[name]
		o.Ulimits = append(o.Ulimits, fmt.Sprintf("%s=%d:%d", name, u.Soft, u.Hard))
	}
	if b := r.Blkio; b != nil {
		o.BlkioWeight = b.Weight
		for _, d := range b.DeviceReadBps {
			o.DeviceReadBps = append(o.DeviceReadBps, fmt.Sprintf("%s:%d", d.Path, d.Rate))
		}
		for _, d := range b.DeviceWriteBps {
			o.DeviceWriteBps = append(o.DeviceWriteBps, fmt.Sprintf("%s:%d", d.Path, d.Rate))
		}
	}

	// Storage.
	for _, m := range s.Volumes {
		switch m.Type {
		case "bind":
			v := m.Source + ":" + m.Target
			if m.ReadOnly {
				v += ":ro"
			}
			o.Volumes = append(o.Volumes, v)
		case "volume":
			src := m.Source
			if src != "" {
				if vol := cs.Stack.Volumes[src]; vol != nil {
					src = vol.HostName
				}
			}
			v := src + ":" + m.Target
			if src == "" {
				v = m.Target
			}
			if m.ReadOnly {
				v += ":ro"
			}
			o.Volumes = append(o.Volumes, v)
		case "tmpfs":
			t := m.Target
			var opts []string
			if m.TmpfsSize > 0 {
				opts = append(opts, "size="+strconv.FormatInt(m.TmpfsSize, 10))
			}
			if m.TmpfsMode != 0 {
				opts = append(opts, "mode="+strconv.FormatUint(uint64(m.TmpfsMode), 8))
			}
			if len(opts) > 0 {
				t += ":" + strings.Join(opts, ",")
			}
			o.Tmpfs = append(o.Tmpfs, t)
		}
	}

	for _, d := range s.Devices {
		perms := d.Permissions
		if perms == "" {
			perms = "rwm"
		}
		o.Devices = append(o.Devices, d.Source+":"+d.Target+":"+perms)
	}

	// Health.
	if h := s.Healthcheck; h != nil {
		hc := &HealthConfig{Test: h.Test, Interval: h.Interval.Std(), Timeout: h.Timeout.Std(),
			StartPeriod: h.StartPeriod.Std(), StartInterval: h.StartInterval.Std(), Retries: h.Retries}
		if h.Disable {
			hc.Test = []string{"NONE"}
		}
		o.Healthcheck = hc
	}

	// Network.
	switch {
	case s.NetworkMode == "none" || s.NetworkMode == "host":
		o.Network = s.NetworkMode
	case cs.NetnsOf != nil:
		ref := cs.NetnsOf.ID
		if ref == "" {
			ref = cs.NetnsOf.Name
		}
		o.Network = "container:" + ref
	default:
		keys := sortedKeys(s.Networks)
		// The first network by priority (higher first), then name, is eth0.
		sort.SliceStable(keys, func(i, j int) bool {
			return s.Networks[keys[i]].Priority > s.Networks[keys[j]].Priority
		})
		for _, key := range keys {
			sn := s.Networks[key]
			rec := cs.Networks[key]
			if rec == nil {
				return nil, fmt.Errorf("network %s of service %s is not created", key, s.Name)
			}
			aliases := append([]string{s.Name}, sn.Aliases...)
			o.Net.Networks = append(o.Net.Networks, NetAttach{
				Name: rec.HostName, Aliases: aliases, IPv4: sn.IPv4Address, MAC: sn.MacAddress,
			})
		}
		if len(keys) > 0 {
			o.Network = cs.Networks[keys[0]].HostName
		}
		for _, p := range s.Ports {
			o.Net.Publish = append(o.Net.Publish, portString(p))
		}
		o.Net.PublishAll = s.PublishAll
	}
	o.Net.DNS, o.Net.DNSSearch, o.Net.DNSOptions = s.DNS, s.DNSSearch, s.DNSOpt
	o.Net.ExtraHosts = s.ExtraHosts
	return o, nil
}

// portString renders a spec port in docker's -p form.
func portString(p spec.Port) string {
	rng := func(r spec.PortRange) string {
		if r.Start == r.End {
			return strconv.Itoa(int(r.Start))
		}
		return fmt.Sprintf("%d-%d", r.Start, r.End)
	}
	var b strings.Builder
	if p.HostIP != "" {
		if strings.Contains(p.HostIP, ":") {
			b.WriteString("[" + p.HostIP + "]")
		} else {
			b.WriteString(p.HostIP)
		}
		b.WriteString(":")
	}
	if p.Published.Start != 0 {
		b.WriteString(rng(p.Published))
	}
	if p.HostIP != "" || p.Published.Start != 0 {
		b.WriteString(":")
	}
	b.WriteString(rng(p.Target))
	if p.Protocol != "" && p.Protocol != "tcp" {
		b.WriteString("/" + p.Protocol)
	}
	return b.String()
}

// OneOff is the run request of a one-off container of a service (`stack
// run SERVICE [COMMAND]`): the service's configuration on its networks
// (the project must be up), without its published ports, named
// <project>-<service>-run-<12 hex>. command replaces the service's when
// given. The container carries the project's labels and the one-off
// label, so `stack down` removes it and plans ignore it.
func OneOff(root string, desired *spec.Stack, service string, command []string) (*RunOptions, error) {
	s := desired.Services[service]
	if s == nil {
		return nil, fmt.Errorf("no such service: %s", service)
	}
	rec, err := ReadProjectRecord(root, desired.Name)
	if err != nil {
		return nil, fmt.Errorf("service %s: the project is not up (run stack up first): %w", service, err)
	}
	one := *s
	one.Ports, one.PublishAll, one.ContainerName, one.Restart = nil, false, "", ""
	// Static addresses belong to the service's own containers.
	one.Networks = map[string]*spec.ServiceNetwork{}
	for k, n := range s.Networks {
		c := *n
		c.IPv4Address, c.IPv6Address, c.MacAddress = "", "", ""
		one.Networks[k] = &c
	}
	if len(command) > 0 {
		one.Command = command
	}
	cs := &containerSpec{Project: desired.Name, Stack: desired, Service: &one, Number: 0,
		Name: desired.Name + "-" + service + "-run-" + newID()[:12], ImageRef: planner.ImageName(desired, s), Networks: rec.Networks}
	if target, ok := strings.CutPrefix(s.NetworkMode, "service:"); ok {
		for _, c := range rec.Containers {
			if c.Service == target {
				cs.NetnsOf = c
				break
			}
		}
		if cs.NetnsOf == nil {
			return nil, fmt.Errorf("service %s: network_mode service:%s: it has no container", service, target)
		}
	}
	o, err := runOptionsFor(root, cs)
	if err != nil {
		return nil, err
	}
	o.Labels = append(o.Labels, LabelOneOff+"=True")
	return o, nil
}
