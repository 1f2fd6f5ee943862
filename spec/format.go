package spec

import (
	"bytes"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// FormatYAML renders the stack as a canonical compose file: every value
// normalized (paths absolute, sizes in bytes, durations in Go syntax, long
// forms where the short ones lose information), keys in a fixed order,
// names sorted, `$` escaped. Loading the output gives the same Stack (but
// for positions), so `stack config` output is itself a valid stack file.
func FormatYAML(st *Stack) ([]byte, error) {
	root := ymap()
	root.add("name", ystr(st.Name))
	services := ymap()
	for _, name := range sortedKeys(st.Services) {
		services.add(name, formatService(st.Services[name]))
	}
	root.add("services", services)
	if nets := formatNetworks(st); len(nets.Content) > 0 {
		root.add("networks", nets)
	}
	if len(st.Volumes) > 0 {
		vols := ymap()
		for _, name := range sortedKeys(st.Volumes) {
			v := st.Volumes[name]
			m := ymap()
			if v.Driver != "" {
				m.add("driver", ystr(v.Driver))
			}
			m.addMap("driver_opts", v.DriverOpts)
			if v.External {
				m.add("external", ybool(true))
			}
			m.add("name", ystr(v.HostName))
			m.addMap("labels", v.Labels)
			vols.add(name, m)
		}
		root.add("volumes", vols)
	}
	for _, kind := range []string{"configs", "secrets"} {
		objs := st.Configs
		if kind == "secrets" {
			objs = st.Secrets
		}
		if len(objs) == 0 {
			continue
		}
		m := ymap()
		for _, name := range sortedKeys(objs) {
			o := objs[name]
			e := ymap()
			switch {
			case o.File != "":
				e.add("file", ystr(o.File))
			case o.Environment != "":
				e.add("environment", ystr(o.Environment))
			default:
				e.add("content", ystr(o.Content))
			}
			m.add(name, e)
		}
		root.add(kind, m)
	}
	if len(st.Images) > 0 {
		imgs := ymap()
		for _, name := range sortedKeys(st.Images) {
			img := st.Images[name]
			m := ymap()
			if img.Build != nil {
				m.add("build", formatBuild(img.Build))
			}
			if c := img.Commit; c != nil {
				cm := ymap()
				cm.add("from", ystr(c.From))
				cm.addList("run", c.Run)
				cm.addStr("author", c.Author)
				cm.addStr("message", c.Message)
				ch := ymap()
				ch.addCmd("cmd", c.Changes.Cmd)
				ch.addCmd("entrypoint", c.Changes.Entrypoint)
				ch.addMap("env", c.Changes.Env)
				ch.addList("expose", c.Changes.Expose)
				ch.addMap("labels", c.Changes.Labels)
				ch.addStr("user", c.Changes.User)
				ch.addStr("workdir", c.Changes.WorkingDir)
				ch.addList("volumes", c.Changes.Volumes)
				ch.addStr("stopsignal", c.Changes.StopSignal)
				if len(ch.Content) > 0 {
					cm.add("changes", ch)
				}
				if c.Pause != nil {
					cm.add("pause", ybool(*c.Pause))
				}
				m.add("commit", cm)
			}
			imgs.add(name, m)
		}
		root.add("x-stack-images", imgs)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode((*yaml.Node)(root)); err != nil {
		return nil, fmt.Errorf("encoding stack %s: %w", st.Name, err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encoding stack %s: %w", st.Name, err)
	}
	return buf.Bytes(), nil
}

func formatNetworks(st *Stack) *ynode {
	nets := ymap()
	for _, name := range sortedKeys(st.Networks) {
		n := st.Networks[name]
		if n.Implicit {
			continue
		}
		m := ymap()
		if n.External {
			m.add("external", ybool(true))
			m.add("name", ystr(n.HostName))
			nets.add(name, m)
			continue
		}
		m.add("driver", ystr(n.Driver))
		m.addMap("driver_opts", n.DriverOpts)
		if len(n.IPAM) > 0 {
			cfgs := yseq()
			for _, c := range n.IPAM {
				cm := ymap()
				cm.addStr("subnet", c.Subnet)
				cm.addStr("ip_range", c.IPRange)
				cm.addStr("gateway", c.Gateway)
				cm.addMap("aux_addresses", c.AuxAddresses)
				cfgs.Content = append(cfgs.Content, (*yaml.Node)(cm))
			}
			ipam := ymap()
			ipam.add("config", cfgs)
			m.add("ipam", ipam)
		}
		m.addBool("internal", n.Internal)
		m.addBool("enable_ipv6", n.EnableIPv6)
		m.add("name", ystr(n.HostName))
		m.addMap("labels", n.Labels)
		nets.add(name, m)
	}
	return nets
}

func formatService(s *Service) *ynode {
	m := ymap()
	m.addStr("image", s.Image)
	if s.Build != nil {
		m.add("build", formatBuild(s.Build))
	}
	m.addStr("pull_policy", s.PullPolicy)
	m.addCmd("command", s.Command)
	m.addCmd("entrypoint", s.Entrypoint)
	m.addStr("working_dir", s.WorkingDir)
	m.addStr("user", s.User)
	m.addMap("environment", s.Environment)
	m.addMap("labels", s.Labels)
	m.addMap("annotations", s.Annotations)
	m.addStr("container_name", s.ContainerName)
	m.addStr("hostname", s.Hostname)
	m.addStr("domainname", s.Domainname)
	m.addBool("init", s.Init)
	m.addBool("read_only", s.ReadOnly)
	m.addBool("tty", s.Tty)
	m.addBool("stdin_open", s.StdinOpen)
	if s.Attach != nil {
		m.add("attach", ybool(*s.Attach))
	}
	m.addStr("stop_signal", s.StopSignal)
	m.addDuration("stop_grace_period", s.StopGracePeriod.Std())
	m.addStr("restart", s.Restart)
	if len(s.Ports) > 0 {
		ports := yseq()
		for _, p := range s.Ports {
			ports.Content = append(ports.Content, (*yaml.Node)(portNode(p)))
		}
		m.add("ports", ports)
	}
	m.addList("expose", s.Expose)
	m.addStr("network_mode", s.NetworkMode)
	if len(s.Networks) > 0 {
		nets := ymap()
		for _, name := range sortedKeys(s.Networks) {
			sn := s.Networks[name]
			e := ymap()
			e.addList("aliases", sn.Aliases)
			e.addStr("ipv4_address", sn.IPv4Address)
			e.addStr("ipv6_address", sn.IPv6Address)
			e.addStr("mac_address", sn.MacAddress)
			e.addStr("interface_name", sn.InterfaceName)
			e.addInt("priority", int64(sn.Priority))
			e.addInt("gw_priority", int64(sn.GwPriority))
			nets.add(name, e)
		}
		m.add("networks", nets)
	}
	m.addList("dns", s.DNS)
	m.addList("dns_search", s.DNSSearch)
	m.addList("dns_opt", s.DNSOpt)
	m.addList("extra_hosts", s.ExtraHosts)
	if len(s.DependsOn) > 0 {
		deps := ymap()
		for _, name := range sortedKeys(s.DependsOn) {
			d := s.DependsOn[name]
			e := ymap()
			e.add("condition", ystr(d.Condition))
			e.addBool("restart", d.Restart)
			if !d.Required {
				e.add("required", ybool(false))
			}
			deps.add(name, e)
		}
		m.add("depends_on", deps)
	}
	if h := s.Healthcheck; h != nil {
		e := ymap()
		if h.Test != nil {
			e.addList("test", h.Test)
		}
		e.addDuration("interval", h.Interval.Std())
		e.addDuration("timeout", h.Timeout.Std())
		e.addDuration("start_period", h.StartPeriod.Std())
		e.addDuration("start_interval", h.StartInterval.Std())
		e.addInt("retries", int64(h.Retries))
		m.add("healthcheck", e)
	}
	r := s.Resources
	m.addInt("mem_limit", r.MemLimit)
	m.addInt("mem_reservation", r.MemReservation)
	m.addInt("memswap_limit", r.MemswapLimit)
	if r.CPUs != 0 {
		m.add("cpus", yscalar("!!float", strconv.FormatFloat(r.CPUs, 'g', -1, 64)))
	}
	m.addInt("cpu_shares", r.CPUShares)
	m.addInt("cpu_quota", r.CPUQuota)
	m.addInt("cpu_period", r.CPUPeriod)
	m.addStr("cpuset", r.Cpuset)
	m.addInt("pids_limit", r.PidsLimit)
	m.addInt("shm_size", r.ShmSize)
	if len(r.Ulimits) > 0 {
		u := ymap()
		for _, name := range sortedKeys(r.Ulimits) {
			l := r.Ulimits[name]
			e := ymap()
			e.add("soft", yint(l.Soft))
			e.add("hard", yint(l.Hard))
			u.add(name, e)
		}
		m.add("ulimits", u)
	}
	if b := r.Blkio; b != nil {
		e := ymap()
		e.addInt("weight", int64(b.Weight))
		if len(b.WeightDevice) > 0 {
			l := yseq()
			for _, w := range b.WeightDevice {
				d := ymap()
				d.add("path", ystr(w.Path))
				d.add("weight", yint(int64(w.Weight)))
				l.Content = append(l.Content, (*yaml.Node)(d))
			}
			e.add("weight_device", l)
		}
		for _, t := range []struct {
			key  string
			list []ThrottleDevice
		}{{"device_read_bps", b.DeviceReadBps}, {"device_write_bps", b.DeviceWriteBps}, {"device_read_iops", b.DeviceReadIOps}, {"device_write_iops", b.DeviceWriteIOps}} {
			if len(t.list) == 0 {
				continue
			}
			l := yseq()
			for _, td := range t.list {
				d := ymap()
				d.add("path", ystr(td.Path))
				d.add("rate", yscalar("!!int", strconv.FormatUint(td.Rate, 10)))
				l.Content = append(l.Content, (*yaml.Node)(d))
			}
			e.add(t.key, l)
		}
		m.add("blkio_config", e)
	}
	if len(s.Volumes) > 0 {
		l := yseq()
		for _, v := range s.Volumes {
			l.Content = append(l.Content, (*yaml.Node)(formatMount(v)))
		}
		m.add("volumes", l)
	}
	m.addList("tmpfs", s.Tmpfs)
	m.addList("volumes_from", s.VolumesFrom)
	m.addList("cap_add", s.CapAdd)
	m.addList("cap_drop", s.CapDrop)
	m.addBool("privileged", s.Privileged)
	m.addList("security_opt", s.SecurityOpt)
	m.addMap("sysctls", s.Sysctls)
	if len(s.Devices) > 0 {
		l := yseq()
		for _, d := range s.Devices {
			l.Content = append(l.Content, (*yaml.Node)(ystr(d.Source+":"+d.Target+":"+d.Permissions)))
		}
		m.add("devices", l)
	}
	m.addList("group_add", s.GroupAdd)
	m.addInt("oom_score_adj", int64(s.OomScoreAdj))
	m.addStr("ipc", s.Ipc)
	m.addStr("pid", s.Pid)
	m.addStr("uts", s.Uts)
	m.addStr("cgroup", s.Cgroup)
	for _, kind := range []string{"configs", "secrets"} {
		refs := s.Configs
		if kind == "secrets" {
			refs = s.Secrets
		}
		if len(refs) == 0 {
			continue
		}
		l := yseq()
		for _, r := range refs {
			e := ymap()
			e.add("source", ystr(r.Source))
			e.add("target", ystr(r.Target))
			e.addStr("uid", r.UID)
			e.addStr("gid", r.GID)
			if r.Mode != nil {
				e.add("mode", yscalar("!!str", fmt.Sprintf("0%o", *r.Mode)))
			}
			l.Content = append(l.Content, (*yaml.Node)(e))
		}
		m.add(kind, l)
	}
	if lg := s.Logging; lg != nil {
		e := ymap()
		e.addStr("driver", lg.Driver)
		e.addMap("options", lg.Options)
		m.add("logging", e)
	}
	m.addInt("scale", int64(s.Scale))
	m.addList("profiles", s.Profiles)
	m.addBool("x-stack-publish-all", s.PublishAll)
	return m
}

func formatBuild(b *Build) *ynode {
	m := ymap()
	m.addStr("context", b.Context)
	m.addStr("dockerfile", b.Dockerfile)
	m.addStr("dockerfile_inline", b.DockerfileInline)
	m.addMap("args", b.Args)
	m.addStr("target", b.Target)
	m.addMap("labels", b.Labels)
	m.addList("tags", b.Tags)
	m.addStr("network", b.Network)
	m.addBool("no_cache", b.NoCache)
	m.addBool("pull", b.Pull)
	m.addList("cache_from", b.CacheFrom)
	m.addInt("shm_size", b.ShmSize)
	m.addList("extra_hosts", b.ExtraHosts)
	return m
}

func portRangeString(r PortRange) string {
	s := strconv.Itoa(int(r.Start))
	if r.End != r.Start {
		s += "-" + strconv.Itoa(int(r.End))
	}
	return s
}

func portNode(p Port) *ynode {
	if p.Mode != "" || p.Name != "" || p.AppProtocol != "" {
		m := ymap()
		m.add("target", ystr(portRangeString(p.Target)))
		if p.Published.Start != 0 {
			m.add("published", ystr(portRangeString(p.Published)))
		}
		m.addStr("host_ip", p.HostIP)
		m.add("protocol", ystr(p.Protocol))
		m.addStr("mode", p.Mode)
		m.addStr("name", p.Name)
		m.addStr("app_protocol", p.AppProtocol)
		return m
	}
	var b strings.Builder
	if p.HostIP != "" {
		if a, err := netip.ParseAddr(p.HostIP); err == nil && a.Is6() {
			b.WriteString("[" + p.HostIP + "]")
		} else {
			b.WriteString(p.HostIP)
		}
		b.WriteByte(':')
		if p.Published.Start != 0 {
			b.WriteString(portRangeString(p.Published))
		}
		b.WriteByte(':')
	} else if p.Published.Start != 0 {
		b.WriteString(portRangeString(p.Published))
		b.WriteByte(':')
	}
	b.WriteString(portRangeString(p.Target))
	if p.Protocol != "" && p.Protocol != "tcp" {
		b.WriteString("/" + p.Protocol)
	}
	return ystr(b.String())
}

func formatMount(v Mount) *ynode {
	m := ymap()
	m.add("type", ystr(v.Type))
	m.addStr("source", v.Source)
	m.add("target", ystr(v.Target))
	m.addBool("read_only", v.ReadOnly)
	switch v.Type {
	case "bind":
		b := ymap()
		b.addStr("propagation", v.Propagation)
		if !v.CreateHostPath {
			b.add("create_host_path", ybool(false))
		}
		b.addStr("selinux", v.SELinux)
		if len(b.Content) > 0 {
			m.add("bind", b)
		}
	case "volume":
		b := ymap()
		b.addBool("nocopy", v.NoCopy)
		b.addStr("subpath", v.Subpath)
		if len(b.Content) > 0 {
			m.add("volume", b)
		}
	case "tmpfs":
		b := ymap()
		b.addInt("size", v.TmpfsSize)
		if v.TmpfsMode != 0 {
			b.add("mode", yscalar("!!str", fmt.Sprintf("0%o", v.TmpfsMode)))
		}
		if len(b.Content) > 0 {
			m.add("tmpfs", b)
		}
	}
	return m
}

// ynode is a yaml.Node with helpers to build mappings in order.
type ynode yaml.Node

func ymap() *ynode { return &ynode{Kind: yaml.MappingNode, Tag: "!!map"} }
func yseq() *ynode { return &ynode{Kind: yaml.SequenceNode, Tag: "!!seq"} }

func yscalar(tag, v string) *ynode { return &ynode{Kind: yaml.ScalarNode, Tag: tag, Value: v} }

// ystr is a string scalar; `$` is escaped so that loading the output does
// not interpolate it again.
func ystr(v string) *ynode { return yscalar("!!str", strings.ReplaceAll(v, "$", "$$")) }

func ybool(b bool) *ynode { return yscalar("!!bool", strconv.FormatBool(b)) }
func yint(i int64) *ynode { return yscalar("!!int", strconv.FormatInt(i, 10)) }

func (m *ynode) add(key string, v *ynode) {
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, (*yaml.Node)(v))
}

func (m *ynode) addStr(key, v string) {
	if v != "" {
		m.add(key, ystr(v))
	}
}

func (m *ynode) addBool(key string, b bool) {
	if b {
		m.add(key, ybool(true))
	}
}

func (m *ynode) addInt(key string, i int64) {
	if i != 0 {
		m.add(key, yint(i))
	}
}

func (m *ynode) addDuration(key string, d time.Duration) {
	if d != 0 {
		m.add(key, ystr(d.String()))
	}
}

func (m *ynode) addList(key string, l []string) {
	if len(l) == 0 {
		return
	}
	s := yseq()
	for _, v := range l {
		s.Content = append(s.Content, (*yaml.Node)(ystr(v)))
	}
	m.add(key, s)
}

// addCmd writes a command: nil is left out (the image's), empty is [].
func (m *ynode) addCmd(key string, l []string) {
	if l == nil {
		return
	}
	s := yseq()
	s.Style = yaml.FlowStyle
	for _, v := range l {
		s.Content = append(s.Content, (*yaml.Node)(ystr(v)))
	}
	m.add(key, s)
}

func (m *ynode) addMap(key string, kv map[string]string) {
	if len(kv) == 0 {
		return
	}
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e := ymap()
	for _, k := range keys {
		e.add(k, ystr(kv[k]))
	}
	m.add(key, e)
}
