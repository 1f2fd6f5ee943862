package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/netplan"
)

func init() { registerCommand(newNetworkCommand) }

func newNetworkCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "network",
		Short: "Manage bridge networks",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(newNetworkCreateCommand(), newNetworkLsCommand(), newNetworkInspectCommand(),
		newNetworkRmCommand(), newNetworkPruneCommand(), newNetworkConnectCommand(), newNetworkDisconnectCommand())
	return cmd
}

func openNetworks() (*netplan.Manager, error) {
	root, err := stateRoot()
	if err != nil {
		return nil, err
	}
	return netplan.Open(root, netplan.Options{Logger: logger})
}

// ---- create

type networkCreateOptions struct {
	driver   string
	subnet   string
	gateway  string
	ipRange  string
	opts     []string
	labels   []string
	internal bool
}

func newNetworkCreateCommand() *cobra.Command {
	var opts networkCreateOptions
	cmd := &cobra.Command{
		Use:   "create [OPTIONS] NETWORK",
		Short: "Create a bridge network",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkCreate(cmd, opts, args[0])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.driver, "driver", "d", "bridge", "driver (only bridge)")
	f.StringVar(&opts.subnet, "subnet", "", "subnet in CIDR form (default: the next free one of the pools)")
	f.StringVar(&opts.gateway, "gateway", "", "gateway address (default: the subnet's first address)")
	f.StringVar(&opts.ipRange, "ip-range", "", "allocate container addresses from this sub-range")
	f.StringArrayVarP(&opts.opts, "opt", "o", nil, "driver option KEY=VALUE ("+netplan.OptMTU+", "+netplan.OptBridgeName+")")
	f.StringArrayVar(&opts.labels, "label", nil, "label KEY=VALUE")
	f.BoolVar(&opts.internal, "internal", false, "no masquerade and no route out of the network")
	return cmd
}

func parseKV(flag string, items []string) (map[string]string, error) {
	if len(items) == 0 {
		return nil, nil
	}
	m := map[string]string{}
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--%s %q: want KEY=VALUE", flag, it)
		}
		m[k] = v
	}
	return m, nil
}

func runNetworkCreate(cmd *cobra.Command, opts networkCreateOptions, name string) error {
	cfg := netplan.NetworkConfig{Name: name, Driver: opts.driver, Internal: opts.internal}
	var err error
	if opts.subnet != "" {
		if cfg.Subnet, err = netip.ParsePrefix(opts.subnet); err != nil {
			return fmt.Errorf("--subnet %q: want a CIDR such as 172.26.0.0/16", opts.subnet)
		}
	}
	if opts.gateway != "" {
		if cfg.Gateway, err = netip.ParseAddr(opts.gateway); err != nil {
			return fmt.Errorf("--gateway %q: want an IPv4 address", opts.gateway)
		}
	}
	if opts.ipRange != "" {
		if cfg.IPRange, err = netip.ParsePrefix(opts.ipRange); err != nil {
			return fmt.Errorf("--ip-range %q: want a CIDR", opts.ipRange)
		}
	}
	if cfg.Options, err = parseKV("opt", opts.opts); err != nil {
		return err
	}
	if cfg.Labels, err = parseKV("label", opts.labels); err != nil {
		return err
	}
	m, err := openNetworks()
	if err != nil {
		return err
	}
	defer m.Close()
	if _, err := m.InspectNetwork(cmd.Context(), name); err == nil {
		return fmt.Errorf("network %s: already exists", name)
	}
	n, err := m.CreateNetwork(cmd.Context(), cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(cmd.OutOrStdout(), n.ID)
	return nil
}

// ---- ls

type networkLsOptions struct {
	format string
	quiet  bool
}

func newNetworkLsCommand() *cobra.Command {
	var opts networkLsOptions
	cmd := &cobra.Command{
		Use:     "ls",
		Aliases: []string{"list"},
		Short:   "List networks",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkLs(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "only names")
	return cmd
}

type networkRow struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Driver     string `json:"driver"`
	Bridge     string `json:"bridge"`
	Subnet     string `json:"subnet"`
	Gateway    string `json:"gateway"`
	Internal   bool   `json:"internal"`
	Containers int    `json:"containers"`
}

func runNetworkLs(cmd *cobra.Command, opts networkLsOptions) error {
	m, err := openNetworks()
	if err != nil {
		return err
	}
	defer m.Close()
	nets, err := m.ListNetworks(cmd.Context())
	if err != nil {
		return err
	}
	rows := make([]networkRow, 0, len(nets))
	for _, n := range nets {
		rows = append(rows, networkRow{ID: n.ID, Name: n.Name, Driver: n.Driver, Bridge: n.Bridge, Subnet: n.Subnet.Prefix.String(),
			Gateway: n.Subnet.Gateway.String(), Internal: n.Internal, Containers: len(n.Endpoints)})
	}
	out := cmd.OutOrStdout()
	switch {
	case opts.format == "json":
		return writeNetJSON(out, rows)
	case opts.format != "table":
		return fmt.Errorf("--format %q: want table or json", opts.format)
	case opts.quiet:
		for _, r := range rows {
			fmt.Fprintln(out, r.Name)
		}
		return nil
	}
	tw := tabwriter.NewWriter(out, 0, 4, 3, ' ', 0)
	fmt.Fprintln(tw, "NETWORK ID\tNAME\tDRIVER\tBRIDGE\tSUBNET\tGATEWAY\tINTERNAL\tCONTAINERS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%.12s\t%s\t%s\t%s\t%s\t%s\t%v\t%d\n", r.ID, r.Name, r.Driver, r.Bridge, r.Subnet, r.Gateway, r.Internal, r.Containers)
	}
	return tw.Flush()
}

func writeNetJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ---- inspect

func newNetworkInspectCommand() *cobra.Command {
	var rules bool
	cmd := &cobra.Command{
		Use:   "inspect NETWORK...",
		Short: "Show networks' records as JSON",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			defer m.Close()
			if rules {
				nets, err := m.ListNetworks(cmd.Context())
				if err != nil {
					return err
				}
				fmt.Fprint(cmd.OutOrStdout(), netplan.Rules(m.Root(), nets))
				return nil
			}
			out := []*netplan.Network{}
			var errs []error
			for _, name := range args {
				n, err := m.InspectNetwork(cmd.Context(), name)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, n)
			}
			if err := writeNetJSON(cmd.OutOrStdout(), out); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().BoolVar(&rules, "rules", false, "print the state root's whole nftables table instead")
	return cmd
}

// ---- rm

func newNetworkRmCommand() *cobra.Command {
	return &cobra.Command{
		Use:     "rm NETWORK...",
		Aliases: []string{"remove"},
		Short:   "Remove networks (their bridge, rules and address allocations)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			defer m.Close()
			var errs []error
			for _, name := range args {
				if _, err := m.InspectNetwork(cmd.Context(), name); err != nil {
					errs = append(errs, err)
					continue
				}
				if err := m.RemoveNetwork(cmd.Context(), name); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintln(cmd.OutOrStdout(), name)
			}
			return errors.Join(errs...)
		},
	}
}

// ---- prune

func newNetworkPruneCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove unused networks and whatever a killed run left (stale endpoints, stk* links, proxies)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := openNetworks()
			if err != nil {
				return err
			}
			defer m.Close()
			rep, err := m.Prune(cmd.Context())
			out := cmd.OutOrStdout()
			if format == "json" {
				if jerr := writeNetJSON(out, rep); jerr != nil {
					return jerr
				}
				return err
			}
			for _, n := range rep.Networks {
				fmt.Fprintf(out, "Deleted network %s\n", n)
			}
			for _, e := range rep.Endpoints {
				fmt.Fprintf(out, "Released endpoint %s (container gone)\n", e)
			}
			for _, l := range rep.Links {
				fmt.Fprintf(out, "Deleted leftover link %s\n", l)
			}
			for _, p := range rep.Proxies {
				fmt.Fprintf(out, "Stopped leftover proxy %d\n", p)
			}
			return err
		},
	}
	cmd.Flags().Bool("force", false, "do not prompt (stack never prompts; accepted for docker compatibility)")
	cmd.Flags().StringVar(&format, "format", "text", "output format: text or json")
	return cmd
}

// ---- connect / disconnect

type networkConnectOptions struct {
	ip      string
	aliases []string
}

func newNetworkConnectCommand() *cobra.Command {
	var opts networkConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a running container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runNetworkConnect(cmd, opts, args[0], args[1])
		},
	}
	cmd.Flags().StringVar(&opts.ip, "ip", "", "static IPv4 address")
	cmd.Flags().StringArrayVar(&opts.aliases, "alias", nil, "network-scoped alias (repeatable)")
	return cmd
}

func runNetworkConnect(cmd *cobra.Command, opts networkConnectOptions, network, container string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	c, err := findNetContainer(root, container)
	if err != nil {
		return err
	}
	if c.Pid <= 0 || !netProcessAlive(c) {
		return fmt.Errorf("connecting %s to %s: container is not running", c.Name, network)
	}
	cfg := netplan.AttachConfig{ContainerID: c.ID, Name: c.Name, Aliases: opts.aliases, Network: network,
		NetNS: netplan.NetNS{Pid: c.Pid}, Hosts: netplan.HostsSpec{Path: c.HostsPath, Hostname: c.Hostname, Domainname: c.Domainname}}
	if opts.ip != "" {
		if cfg.IPv4, err = netip.ParseAddr(opts.ip); err != nil {
			return fmt.Errorf("--ip %q: want an IPv4 address", opts.ip)
		}
	}
	m, err := netplan.Open(root, netplan.Options{Logger: logger})
	if err != nil {
		return err
	}
	defer m.Close()
	if eps, err := m.Endpoints(cmd.Context(), c.ID); err == nil { // keep what the runtime recorded
		for _, e := range eps {
			if e.Network == network {
				return fmt.Errorf("container %s is already connected to network %s", c.Name, network)
			}
			if cfg.Hosts.Path == "" {
				cfg.Hosts = e.Hosts
			}
		}
	}
	_, err = m.Attach(cmd.Context(), cfg)
	return err
}

func newNetworkDisconnectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "disconnect NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			network, container := args[0], args[1]
			m, err := openNetworks()
			if err != nil {
				return err
			}
			defer m.Close()
			if _, err := m.InspectNetwork(cmd.Context(), network); err != nil {
				return err
			}
			eps, err := m.Endpoints(cmd.Context(), container)
			if err != nil {
				return err
			}
			for _, e := range eps {
				if e.Network == network {
					return m.Detach(cmd.Context(), e.ContainerID, network)
				}
			}
			return fmt.Errorf("container %s is not connected to network %s", container, network)
		},
	}
}

// netContainer is what the network commands need of a container record:
// <root>/containers/<id>/config.json and state.json, written by the runtime.
type netContainer struct {
	ID, Name             string
	Hostname, Domainname string
	HostsPath            string
	Pid                  int
	PidStart             uint64
}

// findNetContainer finds a container by id, id prefix or name.
func findNetContainer(root, ref string) (*netContainer, error) {
	dir := filepath.Join(root, "containers")
	ents, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("listing containers: %w", err)
	}
	var found []*netContainer
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		c, err := readNetContainer(filepath.Join(dir, e.Name()), e.Name())
		if err != nil {
			continue
		}
		if c.ID == ref || c.Name == ref || (len(ref) >= 4 && strings.HasPrefix(c.ID, ref)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("container %s: %w", ref, netplan.ErrNotFound)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("container %s: ambiguous, matches %d containers", ref, len(found))
}

func readNetContainer(dir, id string) (*netContainer, error) {
	var cfg struct {
		ID         string `json:"id"`
		Name       string `json:"name"`
		Hostname   string `json:"hostname"`
		Domainname string `json:"domainname"`
		Mounts     []struct {
			Source      string `json:"source"`
			Destination string `json:"destination"`
		} `json:"mounts"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, err
	}
	c := &netContainer{ID: cfg.ID, Name: cfg.Name, Hostname: cfg.Hostname, Domainname: cfg.Domainname}
	if c.ID == "" {
		c.ID = id
	}
	for _, m := range cfg.Mounts {
		if m.Destination == "/etc/hosts" {
			c.HostsPath = m.Source
		}
	}
	if c.HostsPath == "" {
		if _, err := os.Stat(filepath.Join(dir, "hosts")); err == nil {
			c.HostsPath = filepath.Join(dir, "hosts")
		}
	}
	var st struct {
		Pid      int    `json:"pid"`
		PidStart uint64 `json:"pid_start"`
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state.json")); err == nil {
		json.Unmarshal(b, &st)
	}
	c.Pid, c.PidStart = st.Pid, st.PidStart
	return c, nil
}

// netProcessAlive checks the recorded pid, and its start time when known,
// so that a recycled pid is not taken for the container.
func netProcessAlive(c *netContainer) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(c.Pid) + "/stat")
	if err != nil {
		return false
	}
	if c.PidStart == 0 {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return false
	}
	start, err := strconv.ParseUint(f[19], 10, 64) // field 22: starttime
	return err == nil && start == c.PidStart
}
