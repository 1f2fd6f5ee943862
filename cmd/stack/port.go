package main

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/netplan"
)

type portOptions struct{ format string }

func init() { registerCommand(newPortCommand) }

func newPortCommand() *cobra.Command {
	var opts portOptions
	cmd := &cobra.Command{
		Use:   "port CONTAINER [PRIVATE_PORT[/PROTO]]",
		Short: "List a container's published ports",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			first, err := resolveTargets(args[:1], false)
			if err != nil {
				return err
			}
			args[0] = first[0]
			return runPort(cmd, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "text", "output format: text or json")
	return cmd
}

func runPort(cmd *cobra.Command, opts portOptions, args []string) error {
	if opts.format != "text" && opts.format != "json" {
		return fmt.Errorf("--format %q: want text or json", opts.format)
	}
	var want uint16
	proto := "tcp"
	if len(args) == 2 {
		p, pr, _ := strings.Cut(args[1], "/")
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("port %q: want PORT or PORT/PROTO", args[1])
		}
		want = uint16(n)
		if pr != "" {
			proto = pr
		}
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	_, ports, err := executor.ContainerPorts(cmd.Context(), root, args[0])
	if err != nil {
		return err
	}
	var sel []netplan.PortBinding
	for _, b := range ports {
		if want == 0 || (b.ContainerPort == want && b.Protocol == proto) {
			sel = append(sel, b)
		}
	}
	if want != 0 && len(sel) == 0 {
		return fmt.Errorf("no public port %d/%s published for %s", want, proto, args[0])
	}
	out := cmd.OutOrStdout()
	if opts.format == "json" {
		if sel == nil {
			sel = []netplan.PortBinding{}
		}
		return writeNetJSON(out, sel)
	}
	for _, b := range sel {
		if want != 0 {
			fmt.Fprintf(out, "%s\n", hostPortString(b))
		} else {
			fmt.Fprintf(out, "%d/%s -> %s\n", b.ContainerPort, b.Protocol, hostPortString(b))
		}
	}
	return nil
}

func hostPortString(b netplan.PortBinding) string {
	if b.HostIP.Is6() {
		return fmt.Sprintf("[%s]:%d", b.HostIP, b.HostPort)
	}
	return fmt.Sprintf("%s:%d", b.HostIP, b.HostPort)
}
