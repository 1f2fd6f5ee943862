package executor

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/layers"
	"github.com/stack-dev/stack/netplan"
	"github.com/stack-dev/stack/planner"
	"github.com/stack-dev/stack/spec"
)

// hostDriver is the driver that does the work on this host: networks
// through netplan, images through layers and build, containers through the
// runtime and their supervisors.
type hostDriver struct {
	root   string
	log    *slog.Logger
	store  *layers.Store
	net    *netplan.Manager
	runner build.Runner
	// pull decides what an image step may do: "always", "missing", "never".
	pull string
	// build output (nil: discarded).
	out io.Writer
}

func newHostDriver(root string, log *slog.Logger) (*hostDriver, error) {
	store, err := layers.Open(root)
	if err != nil {
		return nil, err
	}
	store.SetLogger(log)
	nm, err := OpenNetworks(root)
	if err != nil {
		return nil, err
	}
	return &hostDriver{root: root, log: log, store: store, net: nm, runner: NewBuildRunner(root, log), pull: "missing"}, nil
}

func (d *hostDriver) close() {
	if d.net != nil {
		d.net.Close()
	}
}

// networkConfig translates a stack network into netplan's terms.
func networkConfig(project string, n *spec.Network) (netplan.NetworkConfig, error) {
	cfg := netplan.NetworkConfig{
		Name: n.HostName, Driver: "bridge", Internal: n.Internal,
		Options: map[string]string{}, Labels: map[string]string{LabelProject: project},
	}
	for k, v := range n.Labels {
		cfg.Labels[k] = v
	}
	for k, v := range n.DriverOpts {
		cfg.Options[k] = v
	}
	if n.MTU > 0 {
		cfg.Options[netplan.OptMTU] = strconv.Itoa(n.MTU)
	}
	if n.BridgeName != "" {
		cfg.Options[netplan.OptBridgeName] = n.BridgeName
	}
	for _, c := range n.IPAM {
		if c.Subnet == "" {
			continue
		}
		p, err := netip.ParsePrefix(c.Subnet)
		if err != nil {
			return cfg, fmt.Errorf("network %s: subnet %q: %w", n.Name, c.Subnet, err)
		}
		if !p.Addr().Is4() {
			continue // IPv4 only for now; IPv6 subnets are accepted and not wired
		}
		cfg.Subnet = p
		if c.Gateway != "" {
			if cfg.Gateway, err = netip.ParseAddr(c.Gateway); err != nil {
				return cfg, fmt.Errorf("network %s: gateway %q: %w", n.Name, c.Gateway, err)
			}
		}
		if c.IPRange != "" {
			if cfg.IPRange, err = netip.ParsePrefix(c.IPRange); err != nil {
				return cfg, fmt.Errorf("network %s: ip_range %q: %w", n.Name, c.IPRange, err)
			}
		}
		break
	}
	return cfg, nil
}

func (d *hostDriver) createNetwork(ctx context.Context, project string, n *spec.Network) (*NetworkRecord, error) {
	if n.External {
		nw, err := d.net.InspectNetwork(ctx, n.HostName)
		if err != nil {
			return nil, fmt.Errorf("external network %s: %w", n.HostName, err)
		}
		rec := networkRecord(nw)
		rec.External = true
		return rec, nil
	}
	cfg, err := networkConfig(project, n)
	if err != nil {
		return nil, err
	}
	nw, err := d.net.CreateNetwork(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return networkRecord(nw), nil
}

func networkRecord(nw *netplan.Network) *NetworkRecord {
	return &NetworkRecord{
		HostName: nw.Name, Bridge: nw.Bridge,
		Subnet: nw.Subnet.Prefix.String(), Gateway: nw.Subnet.Gateway.String(),
	}
}

func (d *hostDriver) removeNetwork(ctx context.Context, project, key string, rec *NetworkRecord) error {
	return d.net.RemoveNetwork(ctx, rec.HostName)
}

func (d *hostDriver) repairNetwork(ctx context.Context, project, key string, rec *NetworkRecord) error {
	// CreateNetwork is idempotent by name and reinstalls a missing bridge
	// and missing rules.
	nw, err := d.net.InspectNetwork(ctx, rec.HostName)
	if err != nil {
		return err
	}
	_, err = d.net.CreateNetwork(ctx, netplan.NetworkConfig{
		Name: nw.Name, Driver: nw.Driver, Subnet: nw.Subnet.Prefix, Gateway: nw.Subnet.Gateway,
		Internal: nw.Internal, Options: nw.Options, Labels: nw.Labels,
	})
	return err
}

func (d *hostDriver) createVolume(ctx context.Context, project string, v *spec.Volume) (*VolumeRecord, error) {
	dir := filepath.Join(d.root, "volumes", v.HostName)
	if v.External {
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("external volume %s: %w", v.HostName, err)
		}
		return &VolumeRecord{HostName: v.HostName, External: true}, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating volume %s: %w", v.HostName, err)
	}
	return &VolumeRecord{HostName: v.HostName}, nil
}

func (d *hostDriver) imageID(ctx context.Context, ref string) (string, error) {
	img, err := d.store.Image(ref)
	if err != nil {
		return "", err
	}
	return img.ID, nil
}

// makeImage pulls, builds or commits one image, as the plan says.
func (d *hostDriver) makeImage(ctx context.Context, op planner.Operation, name string, desired *spec.Stack) (string, error) {
	switch op {
	case planner.OpPull:
		if d.pull != "always" {
			if img, err := d.store.Image(name); err == nil {
				return img.ID, nil
			}
		}
		if d.pull == "never" {
			return "", fmt.Errorf("image %s is not in the local store and --pull never forbids pulling it", name)
		}
		img, err := d.store.Pull(ctx, name, layers.RegistryOptions{})
		if err != nil {
			return "", err // the store's error names the image and the registry
		}
		return img.ID, nil
	case planner.OpCommit:
		img := desired.Images[name]
		if img == nil || img.Commit == nil {
			return "", fmt.Errorf("image %s: no commit definition in the stack", name)
		}
		c := img.Commit
		return build.CommitImage(ctx, d.store, d.runner, build.CommitSpec{
			From: c.From, Run: c.Run, Author: c.Author, Message: c.Message,
			Changes: build.ChangesFromConfig(commitConfig(c.Changes)), Tag: name, Network: "none",
			Stdout: d.out, Stderr: d.out,
		})
	case planner.OpBuild:
		b, tags := buildOf(desired, name)
		if b == nil {
			return "", fmt.Errorf("image %s: no build definition in the stack", name)
		}
		return build.BuildImage(ctx, d.store, d.runner, build.Options{
			ContextDir: b.Context, Dockerfile: b.Dockerfile, DockerfileInline: b.DockerfileInline,
			Args: b.Args, Target: b.Target, Labels: b.Labels, Tags: tags,
			Network: b.Network, NoCache: b.NoCache, Pull: b.Pull,
		})
	}
	return "", fmt.Errorf("image %s: operation %q is not one an image step has", name, op)
}

// buildOf finds the build definition of an image name: an x-stack-images
// entry with build:, else a service whose build: makes that image.
func buildOf(desired *spec.Stack, name string) (*spec.Build, []string) {
	if img := desired.Images[name]; img != nil && img.Build != nil {
		return img.Build, append([]string{name}, img.Build.Tags...)
	}
	for _, svcName := range sortedKeys(desired.Services) {
		s := desired.Services[svcName]
		if s.Build == nil {
			continue
		}
		if planner.ImageName(desired, s) == name {
			return s.Build, append([]string{name}, s.Build.Tags...)
		}
	}
	return nil, nil
}

// commitConfig is the runtime config a commit's structured changes set,
// for build.ChangesFromConfig.
func commitConfig(c spec.ImageChanges) *v1.Config {
	cfg := &v1.Config{Cmd: c.Cmd, Entrypoint: c.Entrypoint, User: c.User, WorkingDir: c.WorkingDir,
		StopSignal: c.StopSignal, Labels: c.Labels}
	for _, k := range sortedKeys(c.Env) {
		cfg.Env = append(cfg.Env, k+"="+c.Env[k])
	}
	for _, p := range c.Expose {
		if !strings.Contains(p, "/") {
			p += "/tcp"
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		cfg.ExposedPorts[p] = struct{}{}
	}
	for _, v := range c.Volumes {
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		cfg.Volumes[v] = struct{}{}
	}
	return cfg
}
