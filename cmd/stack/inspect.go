package main

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
)

func init() { registerCommand(newInspectCommand) }

func newInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect [OPTIONS] CONTAINER [CONTAINER...]",
		Short: "Display detailed information on one or more containers",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			args, err := resolveTargets(args, false)
			if err != nil {
				return err
			}
			return runInspect(cmd, format, args)
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: json (a JSON array, as docker prints it)")
	return cmd
}

// containerJSON is a container as `docker inspect` prints it (the fields
// stack has).
type containerJSON struct {
	ID              string          `json:"Id"`
	Created         string          `json:"Created"`
	Path            string          `json:"Path"`
	Args            []string        `json:"Args"`
	State           inspectState    `json:"State"`
	Image           string          `json:"Image"`
	ResolvConfPath  string          `json:"ResolvConfPath"`
	HostnamePath    string          `json:"HostnamePath"`
	HostsPath       string          `json:"HostsPath"`
	LogPath         string          `json:"LogPath"`
	Name            string          `json:"Name"`
	RestartCount    int             `json:"RestartCount"`
	Driver          string          `json:"Driver"`
	Platform        string          `json:"Platform"`
	HostConfig      inspectHost     `json:"HostConfig"`
	Mounts          []inspectMount  `json:"Mounts"`
	Config          inspectConfig   `json:"Config"`
	NetworkSettings json.RawMessage `json:"NetworkSettings"`
}

type inspectState struct {
	Status     string `json:"Status"`
	Running    bool   `json:"Running"`
	Paused     bool   `json:"Paused"`
	Restarting bool   `json:"Restarting"`
	OOMKilled  bool   `json:"OOMKilled"`
	Dead       bool   `json:"Dead"`
	Pid        int    `json:"Pid"`
	ExitCode   int    `json:"ExitCode"`
	Error      string `json:"Error"`
	StartedAt  string `json:"StartedAt"`
	FinishedAt string `json:"FinishedAt"`
	// RestartCount is docker's top-level field, repeated here.
	RestartCount int               `json:"RestartCount"`
	Health       *inspectHealth    `json:"Health,omitempty"`
	Supervisor   *inspectSupervise `json:"Supervisor,omitempty"`
}

type inspectSupervise struct {
	Pid int `json:"Pid"`
}

type inspectHealth struct {
	Status        string              `json:"Status"`
	FailingStreak int                 `json:"FailingStreak"`
	Log           []inspectHealthLine `json:"Log"`
}

type inspectHealthLine struct {
	Start    string `json:"Start"`
	End      string `json:"End"`
	ExitCode int    `json:"ExitCode"`
	Output   string `json:"Output"`
}

type inspectHost struct {
	NetworkMode    string            `json:"NetworkMode"`
	RestartPolicy  inspectRestart    `json:"RestartPolicy"`
	AutoRemove     bool              `json:"AutoRemove"`
	LogConfig      inspectLogConfig  `json:"LogConfig"`
	Privileged     bool              `json:"Privileged"`
	ReadonlyRootfs bool              `json:"ReadonlyRootfs"`
	CapAdd         []string          `json:"CapAdd"`
	Memory         int64             `json:"Memory"`
	MemorySwap     int64             `json:"MemorySwap"`
	NanoCpus       int64             `json:"NanoCpus"`
	CpuShares      int64             `json:"CpuShares"`
	CpuPeriod      int64             `json:"CpuPeriod"`
	CpuQuota       int64             `json:"CpuQuota"`
	CpusetCpus     string            `json:"CpusetCpus"`
	CpusetMems     string            `json:"CpusetMems"`
	PidsLimit      *int64            `json:"PidsLimit"`
	ShmSize        int64             `json:"ShmSize"`
	Tmpfs          map[string]string `json:"Tmpfs,omitempty"`
}

type inspectRestart struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

type inspectLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

type inspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name,omitempty"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
}

type inspectConfig struct {
	Hostname    string              `json:"Hostname"`
	Domainname  string              `json:"Domainname"`
	User        string              `json:"User"`
	Tty         bool                `json:"Tty"`
	OpenStdin   bool                `json:"OpenStdin"`
	Env         []string            `json:"Env"`
	Cmd         []string            `json:"Cmd"`
	Healthcheck *inspectHealthcheck `json:"Healthcheck,omitempty"`
	Image       string              `json:"Image"`
	WorkingDir  string              `json:"WorkingDir"`
	Labels      map[string]string   `json:"Labels"`
	StopSignal  string              `json:"StopSignal"`
}

type inspectHealthcheck struct {
	Test          []string `json:"Test"`
	Interval      int64    `json:"Interval,omitempty"`
	Timeout       int64    `json:"Timeout,omitempty"`
	StartPeriod   int64    `json:"StartPeriod,omitempty"`
	StartInterval int64    `json:"StartInterval,omitempty"`
	Retries       int      `json:"Retries,omitempty"`
}

// runInspect prints the containers as a JSON array; a missing one is an
// error after the others are printed, as in docker.
func runInspect(cmd *cobra.Command, format string, refs []string) error {
	if format != "json" && format != "" {
		return errors.New("--format: only json is supported")
	}
	root, err := stateRoot()
	if err != nil {
		return err
	}
	out := []containerJSON{}
	var errs []error
	for _, ref := range refs {
		c, _, err := executor.LoadContainer(root, ref)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		st, err := executor.ContainerStatus(root, c.ID)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, inspectContainer(cmd.Context(), root, c, st))
	}
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "    ")
	if err := enc.Encode(out); err != nil {
		return err
	}
	return errors.Join(errs...)
}

func dockerTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func inspectContainer(ctx context.Context, root string, c *executor.Container, st *container.State) containerJSON {
	p := c.Runtime.Process
	dir := root + "/containers/" + c.ID
	j := containerJSON{
		ID: c.ID, Created: dockerTime(c.Created), Image: c.ImageID, Name: "/" + c.Name,
		RestartCount: st.RestartCount, Driver: "overlay2", Platform: "linux",
		ResolvConfPath: dir + "/resolv.conf", HostnamePath: dir + "/hostname", HostsPath: dir + "/hosts",
		LogPath: dir + "/" + executor.LogFile,
	}
	if len(p.Args) > 0 {
		j.Path, j.Args = p.Args[0], p.Args[1:]
	}
	if j.Args == nil {
		j.Args = []string{}
	}
	j.State = inspectState{
		Status: string(st.Status), Running: st.Status == container.Running || st.Status == container.Paused,
		Paused: st.Status == container.Paused, Restarting: st.Status == container.Restarting,
		OOMKilled: st.OOMKilled, Dead: st.Status == container.Dead, Pid: st.Pid, ExitCode: st.ExitCode,
		Error: st.Error, StartedAt: dockerTime(st.StartedAt), FinishedAt: dockerTime(st.FinishedAt),
		RestartCount: st.RestartCount,
	}
	if st.Supervisor != 0 {
		j.State.Supervisor = &inspectSupervise{Pid: st.Supervisor}
	}
	if h := st.Health; h != nil {
		ih := &inspectHealth{Status: h.Status, FailingStreak: h.FailingStreak, Log: []inspectHealthLine{}}
		for _, r := range h.Log {
			ih.Log = append(ih.Log, inspectHealthLine{Start: dockerTime(r.Start), End: dockerTime(r.End), ExitCode: r.ExitCode, Output: r.Output})
		}
		j.State.Health = ih
	}
	rp, _ := executor.ParseRestartPolicy(c.Restart)
	r := c.Resources
	j.HostConfig = inspectHost{
		NetworkMode: c.Network, RestartPolicy: inspectRestart{Name: rp.Name, MaximumRetryCount: rp.MaxRetries},
		AutoRemove: c.AutoRemove, LogConfig: inspectLogConfig{Type: "json-file", Config: c.LogOpts},
		Privileged: c.Runtime.Privileged, ReadonlyRootfs: c.Runtime.ReadonlyRootfs,
		Memory: r.Memory, MemorySwap: r.MemorySwap, CpuShares: int64(r.CPUShares), CpuPeriod: int64(r.CPUPeriod),
		CpuQuota: r.CPUQuota, CpusetCpus: r.CpusetCpus, CpusetMems: r.CpusetMems, ShmSize: c.Runtime.ShmSize,
	}
	if j.HostConfig.LogConfig.Config == nil {
		j.HostConfig.LogConfig.Config = map[string]string{}
	}
	if r.PidsLimit != 0 {
		n := r.PidsLimit
		j.HostConfig.PidsLimit = &n
	}
	if j.HostConfig.ShmSize == 0 {
		j.HostConfig.ShmSize = 64 << 20
	}
	j.Mounts = []inspectMount{}
	for _, m := range c.Runtime.Mounts {
		if strings.HasPrefix(m.Source, dir+"/") {
			continue // the container's own /etc files
		}
		im := inspectMount{Type: m.Type, Source: m.Source, Destination: m.Destination, RW: true}
		for _, o := range m.Options {
			if o == "ro" {
				im.RW, im.Mode = false, "ro"
			}
		}
		if strings.HasPrefix(m.Source, root+"/volumes/") {
			im.Type = "volume"
			im.Name = strings.TrimPrefix(m.Source, root+"/volumes/")
		}
		j.Mounts = append(j.Mounts, im)
	}
	j.Config = inspectConfig{
		Hostname: c.Runtime.Hostname, Domainname: c.Runtime.Domainname, User: p.User, Tty: c.Tty,
		OpenStdin: c.OpenStdin, Env: p.Env, Cmd: p.Args, Image: c.Image, WorkingDir: p.Cwd,
		Labels: c.Labels, StopSignal: c.StopSignal,
	}
	if h := c.Healthcheck; h != nil {
		j.Config.Healthcheck = &inspectHealthcheck{Test: h.Test, Interval: int64(h.Interval), Timeout: int64(h.Timeout),
			StartPeriod: int64(h.StartPeriod), StartInterval: int64(h.StartInterval), Retries: h.Retries}
	}
	// NetworkSettings in docker's shape (the networking code's), else the
	// container's network record as it is, else empty.
	j.NetworkSettings = json.RawMessage("{}")
	if ns, err := executor.ContainerNetworkSettings(ctx, root, c); err == nil && ns != nil {
		if b, err := json.Marshal(ns); err == nil {
			j.NetworkSettings = b
		}
	} else if c.Net != nil {
		if b, err := json.Marshal(c.Net); err == nil {
			j.NetworkSettings = b
		}
	}
	return j
}
