package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
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
	return executor.OpenNetworks(root)
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
			root, err := stateRoot()
			if err != nil {
				return err
			}
			// The runtime's leftovers first (attachments and namespace
			// files of containers that are gone), then the networks.
			crep, err := executor.CleanupNetworks(cmd.Context(), root)
			if err != nil {
				return err
			}
			m, err := openNetworks()
			if err != nil {
				return err
			}
			defer m.Close()
			prep, err := m.Prune(cmd.Context())
			rep := struct {
				netplan.CleanupReport
				Namespaces []string `json:"namespaces,omitempty"`
			}{prep, crep.Namespaces}
			rep.Endpoints = append(crep.Endpoints, rep.Endpoints...)
			rep.Links = append(crep.Links, rep.Links...)
			rep.Proxies = append(crep.Proxies, rep.Proxies...)
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
			for _, id := range rep.Namespaces {
				fmt.Fprintf(out, "Released network namespace of container %s (container gone)\n", id)
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
	mac     string
}

func newNetworkConnectCommand() *cobra.Command {
	var opts networkConnectOptions
	cmd := &cobra.Command{
		Use:   "connect [OPTIONS] NETWORK CONTAINER",
		Short: "Connect a container to a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := stateRoot()
			if err != nil {
				return err
			}
			_, err = executor.ConnectNetwork(cmd.Context(), root, args[1],
				executor.NetAttach{Name: args[0], IPv4: opts.ip, Aliases: opts.aliases, MAC: opts.mac})
			return err
		},
	}
	cmd.Flags().StringVar(&opts.ip, "ip", "", "static IPv4 address")
	cmd.Flags().StringArrayVar(&opts.aliases, "alias", nil, "network-scoped alias (repeatable)")
	cmd.Flags().StringVar(&opts.mac, "mac-address", "", "MAC address of the new interface")
	return cmd
}

func newNetworkDisconnectCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "disconnect [OPTIONS] NETWORK CONTAINER",
		Short: "Disconnect a container from a network",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := stateRoot()
			if err != nil {
				return err
			}
			return executor.DisconnectNetwork(cmd.Context(), root, args[1], args[0])
		},
	}
	cmd.Flags().BoolP("force", "f", false, "accepted for docker compatibility")
	return cmd
}
