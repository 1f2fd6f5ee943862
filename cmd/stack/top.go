package main

import (
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
	"github.com/stack-dev/stack/executor/container"
)

func init() { registerCommand(newTopCommand) }

func newTopCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "top CONTAINER [ps OPTIONS]",
		Short: "Display the running processes of a container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			first, err := resolveTargets(args[:1], false)
			if err != nil {
				return err
			}
			args[0] = first[0]
			return runTop(cmd, args[0], args[1:])
		},
	}
}

// runTop lists the processes of the container's cgroup with ps(1) (its
// options default to -ef), keeping ps's header, as docker does.
func runTop(cmd *cobra.Command, ref string, psArgs []string) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	st, err := executor.ContainerStatus(root, ref)
	if err != nil {
		return err
	}
	if st.Status != container.Running && st.Status != container.Paused {
		return fmt.Errorf("container %s is not running", ref)
	}
	cg, err := executor.ContainerCgroup(st)
	if err != nil {
		return err
	}
	pids, err := cg.Pids()
	if err != nil {
		return fmt.Errorf("listing processes of %s: %w", ref, err)
	}
	if len(psArgs) == 0 {
		psArgs = []string{"-ef"}
	}
	out, err := exec.Command("ps", psArgs...).Output()
	if err != nil {
		return fmt.Errorf("running ps %s: %w", strings.Join(psArgs, " "), err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) == 0 {
		return nil
	}
	col := -1
	for i, h := range strings.Fields(lines[0]) {
		if h == "PID" {
			col = i
		}
	}
	if col < 0 {
		return fmt.Errorf("ps %s: no PID column in its output", strings.Join(psArgs, " "))
	}
	in := map[int]bool{}
	for _, p := range pids {
		in[p] = true
	}
	sort.Ints(pids)
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 0, 3, ' ', 0)
	fields := strings.Fields(lines[0])
	fmt.Fprintln(tw, strings.Join(fields, "\t"))
	for _, l := range lines[1:] {
		f := strings.Fields(l)
		if len(f) <= col {
			continue
		}
		pid, err := strconv.Atoi(f[col])
		if err != nil || !in[pid] || pid == os.Getpid() {
			continue
		}
		// The last column (the command) may hold spaces: keep it whole.
		if len(f) > len(fields) {
			f = append(f[:len(fields)-1], strings.Join(f[len(fields)-1:], " "))
		}
		fmt.Fprintln(tw, strings.Join(f, "\t"))
	}
	return tw.Flush()
}
