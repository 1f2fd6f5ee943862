package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
)

type psOptions struct {
	all     bool
	quiet   bool
	noTrunc bool
	filters []string
	format  string
	global  bool
}

func init() { registerCommand(newPsCommand) }

func newPsCommand() *cobra.Command {
	var opts psOptions
	cmd := &cobra.Command{
		Use:   "ps [OPTIONS]",
		Short: "List containers (in a project directory: the project's)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPs(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVarP(&opts.quiet, "quiet", "q", false, "only display container IDs")
	f.BoolVar(&opts.noTrunc, "no-trunc", false, "don't truncate output")
	f.StringArrayVar(&opts.filters, "filter", nil, "filter output based on conditions provided (id, name, label, status, ancestor, health)")
	f.StringVar(&opts.format, "format", "", "format output: table (default) or json (one object per line)")
	f.BoolVar(&opts.global, "global", false, "list every container of the state root, even in a project directory")
	return cmd
}

// psRow is one container as `docker ps --format json` prints it.
type psRow struct {
	Command    string `json:"Command"`
	CreatedAt  string `json:"CreatedAt"`
	ID         string `json:"ID"`
	Image      string `json:"Image"`
	Labels     string `json:"Labels"`
	Names      string `json:"Names"`
	Ports      string `json:"Ports"`
	RunningFor string `json:"RunningFor"`
	State      string `json:"State"`
	Status     string `json:"Status"`
}

// runPs lists containers: running ones, or all with -a.
func runPs(cmd *cobra.Command, opts psOptions) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	filters, err := parseFilters(opts.filters)
	if err != nil {
		return err
	}
	// In a project (a stack file here, or -f/-p), its containers only, as
	// `docker compose ps`.
	if !opts.global {
		if project := currentProject(); project != "" {
			filters["label"] = append(filters["label"], executor.LabelProject+"="+project)
		}
	}
	list, err := executor.ListContainers(root)
	if err != nil {
		return err
	}
	now := time.Now()
	var rows []psRow
	for _, ci := range list {
		c, st := ci.Container, ci.State
		if !opts.all && st.Status != container.Running && st.Status != container.Paused && st.Status != container.Restarting && len(filters["status"]) == 0 {
			continue
		}
		if !matchPsFilters(filters, c, st) {
			continue
		}
		id := c.ID
		command := strings.Join(c.Runtime.Process.Args, " ")
		if !opts.noTrunc {
			id = id[:12]
			if len(command) > 20 {
				command = command[:19] + "…"
			}
		}
		rows = append(rows, psRow{
			Command: strconv.Quote(command), CreatedAt: c.Created.Local().Format("2006-01-02 15:04:05 -0700 MST"),
			ID: id, Image: c.Image, Labels: labelString(c.Labels), Names: c.Name, Ports: portsString(c),
			RunningFor: humanDuration(now.Sub(c.Created)) + " ago", State: string(st.Status),
			Status: statusString(st, now),
		})
	}
	out := cmd.OutOrStdout()
	if opts.quiet {
		for _, r := range rows {
			fmt.Fprintln(out, r.ID)
		}
		return nil
	}
	switch opts.format {
	case "json", "{{json .}}":
		enc := json.NewEncoder(out)
		for _, r := range rows {
			if err := enc.Encode(&r); err != nil {
				return err
			}
		}
		return nil
	case "", "table":
	default:
		return fmt.Errorf("--format %q: want table or json", opts.format)
	}
	printPsTable(out, rows)
	return nil
}

func printPsTable(out io.Writer, rows []psRow) {
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Image, r.Command, r.RunningFor, r.Status, r.Ports, r.Names)
	}
	tw.Flush()
}

func labelString(l map[string]string) string {
	keys := make([]string, 0, len(l))
	for k := range l {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + l[k]
	}
	return strings.Join(parts, ",")
}

// parseFilters parses --filter key=value options.
func parseFilters(fs []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, f := range fs {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return nil, fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "id", "name", "label", "status", "ancestor", "health", "exited":
		default:
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		out[k] = append(out[k], v)
	}
	return out, nil
}

// matchPsFilters applies docker's rules: values of one key are
// alternatives, keys all apply (label: every label must match).
func matchPsFilters(f map[string][]string, c *executor.Container, st *container.State) bool {
	any := func(vals []string, ok func(string) bool) bool {
		if len(vals) == 0 {
			return true
		}
		for _, v := range vals {
			if ok(v) {
				return true
			}
		}
		return false
	}
	for _, l := range f["label"] {
		k, v, hasV := strings.Cut(l, "=")
		got, ok := c.Labels[k]
		if !ok || hasV && got != v {
			return false
		}
	}
	health := "none"
	if st.Health != nil {
		health = st.Health.Status
	}
	return any(f["id"], func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
		any(f["name"], func(v string) bool { return strings.Contains(c.Name, v) }) &&
		any(f["status"], func(v string) bool { return string(st.Status) == v }) &&
		any(f["ancestor"], func(v string) bool { return c.Image == v || strings.HasPrefix(c.ImageID, v) }) &&
		any(f["health"], func(v string) bool { return health == v }) &&
		any(f["exited"], func(v string) bool { return st.Status == container.Exited && strconv.Itoa(st.ExitCode) == v })
}

// statusString is the STATUS column as docker prints it.
func statusString(st *container.State, now time.Time) string {
	switch st.Status {
	case container.Running, container.Paused:
		s := "Up " + humanDuration(now.Sub(st.StartedAt))
		if st.Status == container.Paused {
			s += " (Paused)"
		}
		if h := st.Health; h != nil {
			if h.Status == container.HealthStarting {
				s += " (health: starting)"
			} else {
				s += " (" + h.Status + ")"
			}
		}
		return s
	case container.Restarting:
		return fmt.Sprintf("Restarting (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.Exited:
		return fmt.Sprintf("Exited (%d) %s ago", st.ExitCode, humanDuration(now.Sub(st.FinishedAt)))
	case container.Dead:
		if st.Error != "" {
			return "Dead: " + st.Error
		}
		return "Dead"
	case container.Created:
		return "Created"
	}
	return string(st.Status)
}

// humanDuration is docker's go-units HumanDuration.
func humanDuration(d time.Duration) string {
	if s := int(d.Seconds()); s < 1 {
		return "Less than a second"
	} else if s == 1 {
		return "1 second"
	} else if s < 60 {
		return fmt.Sprintf("%d seconds", s)
	} else if m := int(d.Minutes()); m == 1 {
		return "About a minute"
	} else if m < 60 {
		return fmt.Sprintf("%d minutes", m)
	} else if h := int(d.Round(time.Hour).Hours()); h == 1 {
		return "About an hour"
	} else if h < 48 {
		return fmt.Sprintf("%d hours", h)
	} else if h < 24*7*2 {
		return fmt.Sprintf("%d days", h/24)
	} else if h < 24*30*2 {
		return fmt.Sprintf("%d weeks", h/24/7)
	} else if h < 24*365*2 {
		return fmt.Sprintf("%d months", h/24/30)
	} else {
		return fmt.Sprintf("%d years", int(d.Hours())/24/365)
	}
}

// portsString is the PORTS column: the published ports the container's
// network record holds, as docker prints them (127.0.0.1:8080->80/tcp).
func portsString(c *executor.Container) string {
	if c.Net == nil {
		return ""
	}
	parts := make([]string, 0, len(c.Net.Ports))
	for _, b := range c.Net.Ports {
		parts = append(parts, fmt.Sprintf("%s->%d/%s", netip.AddrPortFrom(b.HostIP, b.HostPort), b.ContainerPort, b.Protocol))
	}
	return strings.Join(parts, ", ")
}
