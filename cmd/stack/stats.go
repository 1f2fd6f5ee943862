package main

import (
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/cgroups"
	"github.com/stack-dev/stack/executor/container"
)

type statsOptions struct {
	all      bool
	noStream bool
	format   string
}

func init() { registerCommand(newStatsCommand) }

func newStatsCommand() *cobra.Command {
	var opts statsOptions
	cmd := &cobra.Command{
		Use:   "stats [OPTIONS] [CONTAINER...]",
		Short: "Display a live stream of container(s) resource usage statistics",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runStats(cmd, opts, args)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.all, "all", "a", false, "show all containers (default shows just running)")
	f.BoolVar(&opts.noStream, "no-stream", false, "disable streaming stats and only pull the first result")
	f.StringVar(&opts.format, "format", "", "format output: table (default) or json")
	return cmd
}

type statsTarget struct {
	c    *executor.Container
	st   *container.State
	cg   cgroups.Cgroup
	prev *cgroups.Stats
	at   time.Time
}

// statsRow is one line, as `docker stats --format json` prints it.
type statsRow struct {
	BlockIO   string `json:"BlockIO"`
	CPUPerc   string `json:"CPUPerc"`
	Container string `json:"Container"`
	ID        string `json:"ID"`
	MemPerc   string `json:"MemPerc"`
	MemUsage  string `json:"MemUsage"`
	Name      string `json:"Name"`
	NetIO     string `json:"NetIO"`
	PIDs      string `json:"PIDs"`
}

// runStats samples the containers' cgroup counters: CPU % is the CPU time
// used between two samples over the wall time between them.
func runStats(cmd *cobra.Command, opts statsOptions, refs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	var targets []*statsTarget
	if len(refs) == 0 {
		list, err := executor.ListContainers(root)
		if err != nil {
			return err
		}
		for _, ci := range list {
			if ci.State.Status == container.Running || ci.State.Status == container.Paused || opts.all {
				targets = append(targets, &statsTarget{c: ci.Container, st: ci.State})
			}
		}
	} else {
		for _, ref := range refs {
			c, _, err := executor.LoadContainer(root, ref)
			if err != nil {
				return err
			}
			st, err := executor.ContainerStatus(root, c.ID)
			if err != nil {
				return err
			}
			targets = append(targets, &statsTarget{c: c, st: st})
		}
	}
	for _, t := range targets {
		t.cg, _ = executor.ContainerCgroup(t.st)
		t.sample()
	}
	out := cmd.OutOrStdout()
	for {
		select {
		case <-cmd.Context().Done():
			return nil
		case <-time.After(500 * time.Millisecond):
		}
		rows := make([]statsRow, 0, len(targets))
		for _, t := range targets {
			rows = append(rows, t.row())
		}
		if !opts.noStream && opts.format != "json" {
			fmt.Fprint(out, "\033[2J\033[H")
		}
		if err := printStats(out, rows, opts.format); err != nil {
			return err
		}
		if opts.noStream {
			return nil
		}
	}
}

func (t *statsTarget) sample() (*cgroups.Stats, time.Duration) {
	if t.cg == nil {
		return nil, 0
	}
	s, err := t.cg.Stats()
	if err != nil {
		return nil, 0
	}
	now := time.Now()
	prev, at := t.prev, t.at
	t.prev, t.at = s, now
	if prev == nil {
		return nil, 0
	}
	var d time.Duration
	if s.CPUUsage > prev.CPUUsage {
		d = time.Duration(s.CPUUsage - prev.CPUUsage)
	}
	return s, time.Duration(float64(d) / float64(now.Sub(at)) * float64(time.Second))
}

func (t *statsTarget) row() statsRow {
	r := statsRow{Container: t.c.ID[:12], ID: t.c.ID, Name: t.c.Name,
		CPUPerc: "0.00%", MemUsage: "0B / 0B", MemPerc: "0.00%", NetIO: "--", BlockIO: "0B / 0B", PIDs: "0"}
	s, cpuPerSecond := t.sample()
	if s == nil {
		return r
	}
	r.CPUPerc = fmt.Sprintf("%.2f%%", float64(cpuPerSecond)/float64(time.Second)*100)
	limit := s.MemoryLimit
	r.MemUsage = humanBytes(s.MemoryUsage) + " / " + humanBytes(limit)
	if limit > 0 {
		r.MemPerc = fmt.Sprintf("%.2f%%", float64(s.MemoryUsage)/float64(limit)*100)
	}
	r.BlockIO = humanBytes(s.ReadBytes) + " / " + humanBytes(s.WriteBytes)
	r.PIDs = fmt.Sprint(s.Pids)
	return r
}

func printStats(out io.Writer, rows []statsRow, format string) error {
	switch format {
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
		return fmt.Errorf("--format %q: want table or json", format)
	}
	tw := tabwriter.NewWriter(out, 0, 0, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tNET I/O\tBLOCK I/O\tPIDS")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Container, r.Name, r.CPUPerc, r.MemUsage, r.MemPerc, r.NetIO, r.BlockIO, r.PIDs)
	}
	return tw.Flush()
}

// humanBytes prints a size in binary units as docker stats does (MiB).
func humanBytes(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f := float64(n)
	i := 0
	for f >= 1024 && i < len(units)-1 {
		f /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%dB", n)
	}
	return fmt.Sprintf("%.4g%s", f, units[i])
}
