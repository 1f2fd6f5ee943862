package spec

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

var topSchema = newSchema(
	[]string{"name", "version", "services", "networks", "volumes", "configs", "secrets", "include"},
	map[string]string{"models": "AI models need docker model runner"},
	"x-stack-images",
)

var networkSchema = newSchema(
	[]string{"driver", "driver_opts", "ipam", "internal", "enable_ipv6", "enable_ipv4", "external", "name", "labels"},
	map[string]string{"attachable": "swarm networks"},
)

var ipamSchema = newSchema([]string{"driver", "config", "options"}, nil)

var ipamConfigSchema = newSchema([]string{"subnet", "ip_range", "gateway", "aux_addresses"}, nil)

var volumeSchema = newSchema([]string{"driver", "driver_opts", "external", "name", "labels"}, nil)

var fileObjectSchema = newSchema(
	[]string{"file", "content", "environment"},
	map[string]string{
		"external":        "needs a platform secret store",
		"driver":          "needs a platform secret store",
		"driver_opts":     "needs a platform secret store",
		"template_driver": "needs a platform secret store",
		"name":            "platform object name",
		"labels":          "platform object labels",
	},
)

var imageSchema = newSchema([]string{"build", "commit"}, nil)

var commitSchema = newSchema([]string{"from", "run", "author", "message", "changes", "pause"}, nil)

var changesSchema = newSchema([]string{"cmd", "entrypoint", "env", "expose", "labels", "user", "workdir", "volumes", "stopsignal"}, nil)

// decodeTop decodes the merged root mapping into d.st.
func (d *decoder) decodeTop(root *node) {
	d.svc = map[string]*svcInfo{}
	d.top = map[string]*node{}
	st := d.st
	d.object(root, "", topSchema, func(key string, k, v *node, path string) {
		d.top[key] = v
		switch key {
		case "name":
			// handled by projectName
		case "version":
			d.warnf(k, path, "the version key is obsolete and ignored")
		case "include":
			// handled while loading
		case "services":
			if v.kind != mapNode {
				if !v.isNull() {
					d.errf(v, path, "must be a mapping of service names to services, got %s", describe(v))
				}
				return
			}
			st.Services = make(map[string]*Service, len(v.keys))
			for i, sk := range v.keys {
				if msg := checkResourceName(sk.value); msg != "" {
					d.errf(sk, "services."+sk.value, "invalid service name: %s", msg)
					continue
				}
				if s := d.decodeService(sk, v.vals[i]); s != nil {
					st.Services[sk.value] = s
				}
			}
			for name := range d.l.disabled {
				delete(st.Services, name)
			}
		case "networks":
			st.Networks = map[string]*Network{}
			d.entries(v, path, func(name string, k, v *node, p string) {
				if n := d.decodeNetwork(name, k, v, p); n != nil {
					st.Networks[name] = n
				}
			})
		case "volumes":
			st.Volumes = map[string]*Volume{}
			d.entries(v, path, func(name string, k, v *node, p string) {
				if vol := d.decodeVolume(name, k, v, p); vol != nil {
					st.Volumes[name] = vol
				}
			})
		case "configs", "secrets":
			m := map[string]*FileObject{}
			d.entries(v, path, func(name string, k, v *node, p string) {
				if f := d.decodeFileObject(key, name, k, v, p); f != nil {
					m[name] = f
				}
			})
			if key == "configs" {
				st.Configs = m
			} else {
				st.Secrets = m
			}
		case "x-stack-images":
			st.Images = map[string]*Image{}
			d.entries(v, path, func(name string, k, v *node, p string) {
				if img := d.decodeImage(name, k, v, p); img != nil {
					st.Images[name] = img
				}
			})
		}
	})
	typo := false
	for _, k := range root.keys {
		if k.value != "services" && suggest(k.value, []string{"services"}) != "" {
			typo = true
		}
	}
	if root.get("services") == nil && !typo {
		msg := "a stack file needs a services: mapping"
		for _, k := range root.keys {
			if sv := root.get(k.value); sv != nil && (sv.get("image") != nil || sv.get("build") != nil) {
				msg += " (this looks like the legacy version 1 format: put the services under services:)"
				break
			}
		}
		d.errf(root, "services", "%s", msg)
	}
	if len(st.Services) == 0 && root.get("services") != nil && !d.l.hasErrors() && len(d.l.disabled) == 0 {
		d.errf(root.get("services"), "services", "no services defined")
	}
	if st.Services == nil {
		st.Services = map[string]*Service{}
	}
}

// entries walks a mapping of named entries (networks, volumes, ...).
func (d *decoder) entries(v *node, path string, fn func(name string, k, v *node, path string)) {
	if v.isNull() {
		return
	}
	if v.kind != mapNode {
		d.errf(v, path, "must be a mapping of names to definitions, got %s", describe(v))
		return
	}
	for i, k := range v.keys {
		p := joinPath(path, k.value)
		if strings.HasPrefix(k.value, "x-") {
			continue
		}
		if msg := checkResourceName(k.value); msg != "" {
			d.errf(k, p, "invalid name: %s", msg)
			continue
		}
		fn(k.value, k, v.vals[i], p)
	}
}

// checkResourceName checks a service, network, volume, config or secret key.
func checkResourceName(s string) string {
	if s == "" {
		return "must not be empty"
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-' || c == '.') {
			continue
		}
		return fmt.Sprintf("%q must contain only letters, digits, '_', '-' and '.', and start with a letter or digit", s)
	}
	return ""
}

func (d *decoder) decodeNetwork(name string, k, v *node, path string) *Network {
	n := &Network{Name: name, Pos: k.pos, Driver: "bridge"}
	var extNode, nameNode *node
	var others []*node
	d.object(v, path, networkSchema, func(key string, kk, vv *node, p string) {
		if key != "external" && key != "name" {
			others = append(others, kk)
		}
		switch key {
		case "driver":
			s, _ := d.str(vv, p)
			switch s {
			case "", "bridge":
				n.Driver = "bridge"
			case "host", "none":
				n.Driver = s
			default:
				d.unsupportedValue(vv, p, "driver %q is not supported by stack (valid: bridge, host, none)", s)
			}
		case "driver_opts":
			n.DriverOpts = d.strMap(vv, p, "=", nil)
			if s, ok := n.DriverOpts["com.docker.network.driver.mtu"]; ok {
				mtu, err := strconv.Atoi(s)
				if err != nil || mtu < 68 || mtu > 65535 {
					d.errf(vv, p+".com.docker.network.driver.mtu", "%q is not a valid MTU (an integer between 68 and 65535)", s)
				} else {
					n.MTU = mtu
				}
			}
			if s, ok := n.DriverOpts["com.docker.network.bridge.name"]; ok {
				if s == "" || len(s) > 15 || strings.ContainsAny(s, "/ :\t") {
					d.errf(vv, p+".com.docker.network.bridge.name", "%q is not a valid interface name (1 to 15 characters, no '/', ':' or spaces)", s)
				} else {
					n.BridgeName = s
				}
			}
		case "ipam":
			d.object(vv, p, ipamSchema, func(key string, _, iv *node, ip string) {
				switch key {
				case "driver":
					if s, _ := d.str(iv, ip); s != "" && s != "default" {
						d.unsupportedValue(iv, ip, "ipam driver %q is not supported by stack (valid: default)", s)
					}
				case "options":
					if o := d.strMap(iv, ip, "=", nil); len(o) > 0 {
						d.unsupportedValue(iv, ip, "ipam options are not supported by stack")
					}
				case "config":
					if iv.isNull() {
						return
					}
					if iv.kind != seqNode {
						d.errf(iv, ip, "must be a list of {subnet, gateway, ip_range, aux_addresses}, got %s", describe(iv))
						return
					}
					for i, c := range iv.vals {
						cp := fmt.Sprintf("%s[%d]", ip, i)
						var cfg IPAMConfig
						d.object(c, cp, ipamConfigSchema, func(key string, _, cv *node, p string) {
							switch key {
							case "subnet":
								s, _ := d.str(cv, p)
								if pf, err := netip.ParsePrefix(s); err != nil || pf.Masked() != pf {
									d.errf(cv, p, "%q is not a valid subnet in CIDR form (e.g. 172.28.0.0/16)", s)
								} else {
									cfg.Subnet = pf.String()
								}
							case "ip_range":
								s, _ := d.str(cv, p)
								if pf, err := netip.ParsePrefix(s); err != nil {
									d.errf(cv, p, "%q is not a valid address range in CIDR form (e.g. 172.28.5.0/24)", s)
								} else {
									cfg.IPRange = pf.Masked().String()
								}
							case "gateway":
								s, _ := d.str(cv, p)
								if a, err := netip.ParseAddr(s); err != nil {
									d.errf(cv, p, "%q is not a valid IP address", s)
								} else {
									cfg.Gateway = a.String()
								}
							case "aux_addresses":
								cfg.AuxAddresses = d.strMap(cv, p, "=", nil)
								for _, hk := range sortedKeys(cfg.AuxAddresses) {
									if _, err := netip.ParseAddr(cfg.AuxAddresses[hk]); err != nil {
										d.errf(cv, p+"."+hk, "%q is not a valid IP address", cfg.AuxAddresses[hk])
									}
								}
							}
						})
						d.checkIPAM(&cfg, c, cp)
						n.IPAM = append(n.IPAM, cfg)
					}
				}
			})
		case "internal":
			n.Internal = d.boolean(vv, p)
		case "enable_ipv6":
			n.EnableIPv6 = d.boolean(vv, p)
		case "enable_ipv4":
			if vv.kind != nullNode && !d.boolean(vv, p) {
				d.unsupportedValue(vv, p, "networks without IPv4 are not supported by stack")
			}
		case "external":
			extNode = vv
			switch vv.kind {
			case mapNode:
				// Deprecated form external: {name: x}.
				d.object(vv, p, newSchema([]string{"name"}, nil), func(_ string, _, ev *node, ep string) {
					s, _ := d.str(ev, ep)
					n.HostName = s
				})
				n.External = true
				d.warnf(kk, p, "external.name is deprecated: use name: and external: true")
			default:
				n.External = d.boolean(vv, p)
			}
		case "name":
			nameNode = vv
			s, _ := d.str(vv, p)
			if s != "" {
				n.HostName = s
			}
		case "labels":
			n.Labels = d.strMap(vv, p, "=", nil)
		}
	})
	if n.External {
		for _, o := range others {
			d.errf(o, path+"."+o.value, "an external network takes only name: (it is not created by stack)")
		}
		_ = extNode
	}
	if n.HostName == "" {
		if n.External {
			n.HostName = name
		} else {
			n.HostName = d.st.Name + "_" + name
		}
	}
	_ = nameNode
	return n
}

// checkIPAM checks that gateway and ip_range lie in the subnet.
func (d *decoder) checkIPAM(cfg *IPAMConfig, n *node, path string) {
	if cfg.Subnet == "" {
		if cfg.Gateway != "" || cfg.IPRange != "" {
			d.errf(n, path, "gateway and ip_range need a subnet")
		}
		return
	}
	pf := netip.MustParsePrefix(cfg.Subnet)
	if cfg.Gateway != "" && !pf.Contains(netip.MustParseAddr(cfg.Gateway)) {
		d.errf(n.get("gateway"), path+".gateway", "%s is not in the subnet %s", cfg.Gateway, cfg.Subnet)
	}
	if cfg.IPRange != "" {
		r := netip.MustParsePrefix(cfg.IPRange)
		if !pf.Contains(r.Addr()) || r.Bits() < pf.Bits() {
			d.errf(n.get("ip_range"), path+".ip_range", "%s is not inside the subnet %s", cfg.IPRange, cfg.Subnet)
		}
	}
}

func (d *decoder) decodeVolume(name string, k, v *node, path string) *Volume {
	vol := &Volume{Name: name, Pos: k.pos}
	var others []*node
	d.object(v, path, volumeSchema, func(key string, kk, vv *node, p string) {
		if key != "external" && key != "name" {
			others = append(others, kk)
		}
		switch key {
		case "driver":
			s, _ := d.str(vv, p)
			if s != "" && s != "local" {
				d.unsupportedValue(vv, p, "volume driver %q is not supported by stack (valid: local)", s)
			}
			vol.Driver = "local"
		case "driver_opts":
			vol.DriverOpts = d.strMap(vv, p, "=", nil)
		case "external":
			if vv.kind == mapNode {
				d.object(vv, p, newSchema([]string{"name"}, nil), func(_ string, _, ev *node, ep string) {
					s, _ := d.str(ev, ep)
					vol.HostName = s
				})
				vol.External = true
				d.warnf(kk, p, "external.name is deprecated: use name: and external: true")
			} else {
				vol.External = d.boolean(vv, p)
			}
		case "name":
			if s, _ := d.str(vv, p); s != "" {
				vol.HostName = s
			}
		case "labels":
			vol.Labels = d.strMap(vv, p, "=", nil)
		}
	})
	if vol.External {
		for _, o := range others {
			d.errf(o, path+"."+o.value, "an external volume takes only name: (it is not created by stack)")
		}
	}
	if vol.HostName == "" {
		if vol.External {
			vol.HostName = name
		} else {
			vol.HostName = d.st.Name + "_" + name
		}
	}
	return vol
}

func (d *decoder) decodeFileObject(kind, name string, k, v *node, path string) *FileObject {
	f := &FileObject{Name: name, Pos: k.pos}
	sources := 0
	d.object(v, path, fileObjectSchema, func(key string, kk, vv *node, p string) {
		s, _ := d.str(vv, p)
		sources++
		switch key {
		case "file":
			if s == "" {
				d.errf(vv, p, "must be a path")
				return
			}
			f.File = d.l.resolvePath(s, vv.dir)
		case "content":
			if kind == "secrets" {
				d.errf(kk, p, "secrets take file: or environment: (content: is for configs)")
				return
			}
			f.Content = s
		case "environment":
			if s == "" {
				d.errf(vv, p, "must name an environment variable")
				return
			}
			if _, ok := d.l.lookup(s); !ok {
				d.errf(vv, p, "environment variable %s is not set", s)
			}
			f.Environment = s
		}
	})
	if v.kind == mapNode && sources != 1 {
		valid := "file, content or environment"
		if kind == "secrets" {
			valid = "file or environment"
		}
		if sources == 0 {
			if v.get("external") == nil {
				d.errf(k, path, "needs exactly one source: %s", valid)
			}
			return f
		}
		d.errf(k, path, "needs exactly one source, got %d: %s", sources, valid)
	}
	if v.isNull() {
		d.errf(k, path, "needs a source: file, content or environment")
	}
	return f
}

func (d *decoder) decodeImage(name string, k, v *node, path string) *Image {
	img := &Image{Name: name, Pos: k.pos}
	if msg := checkImageName(name); msg != "" {
		d.errf(k, path, "%s", msg)
	}
	d.object(v, path, imageSchema, func(key string, _, vv *node, p string) {
		switch key {
		case "build":
			img.Build = d.decodeBuild(vv, p)
		case "commit":
			img.Commit = d.decodeCommit(vv, p)
		}
	})
	if (img.Build == nil) == (img.Commit == nil) {
		d.errf(k, path, "needs exactly one of build: or commit:")
		return nil
	}
	return img
}

// checkImageName checks an x-stack-images key, which is used as an image
// reference: lowercase name components, no tag or digest.
func checkImageName(s string) string {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || i > 0 && (c == '_' || c == '-' || c == '.' || c == '/') {
			continue
		}
		return fmt.Sprintf("image name %q must contain only lowercase letters, digits, '_', '-', '.' and '/', and start with a letter or digit", s)
	}
	return ""
}

func (d *decoder) decodeCommit(v *node, path string) *Commit {
	c := &Commit{}
	if v.kind != mapNode {
		d.errf(v, path, "must be a mapping {from, run, author, message, changes, pause}, got %s", describe(v))
		return c
	}
	d.object(v, path, commitSchema, func(key string, _, vv *node, p string) {
		switch key {
		case "from":
			c.From, _ = d.str(vv, p)
		case "run":
			c.Run = d.strList(vv, p, true)
		case "author":
			c.Author, _ = d.str(vv, p)
		case "message":
			c.Message, _ = d.str(vv, p)
		case "pause":
			b := d.boolean(vv, p)
			c.Pause = &b
		case "changes":
			d.object(vv, p, changesSchema, func(key string, _, cv *node, cp string) {
				ch := &c.Changes
				switch key {
				case "cmd":
					ch.Cmd = d.command(cv, cp)
				case "entrypoint":
					ch.Entrypoint = d.command(cv, cp)
				case "env":
					ch.Env = d.strMap(cv, cp, "=", nil)
				case "expose":
					for i, e := range d.strList(cv, cp, true) {
						r, proto, err := ParseExpose(e)
						if err != nil {
							d.errf(itemOrSelf(cv, i), fmt.Sprintf("%s[%d]", cp, i), "%v", err)
							continue
						}
						ch.Expose = append(ch.Expose, exposeString(r, proto))
					}
					ch.Expose = uniqueSorted(ch.Expose)
				case "labels":
					ch.Labels = d.strMap(cv, cp, "=", nil)
				case "user":
					ch.User, _ = d.str(cv, cp)
				case "workdir":
					ch.WorkingDir, _ = d.str(cv, cp)
					if ch.WorkingDir != "" && !strings.HasPrefix(ch.WorkingDir, "/") {
						d.errf(cv, cp, "must be an absolute path")
					}
				case "volumes":
					ch.Volumes = uniqueSorted(d.strList(cv, cp, true))
				case "stopsignal":
					s, _ := d.str(cv, cp)
					ch.StopSignal = d.signal(cv, cp, s)
				}
			})
		}
	})
	if c.From == "" {
		d.errf(v, path+".from", "is required: the image to start from")
	}
	return c
}

func itemOrSelf(n *node, i int) *node {
	if n.kind == seqNode && i < len(n.vals) {
		return n.vals[i]
	}
	return n
}

func exposeString(r PortRange, proto string) string {
	s := strconv.Itoa(int(r.Start))
	if r.End != r.Start {
		s += "-" + strconv.Itoa(int(r.End))
	}
	if proto != "" && proto != "tcp" {
		s += "/" + proto
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

var _ = filepath.Join
