package main

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

type logsOptions struct {
	follow     bool
	tail       string
	since      string
	until      string
	timestamps bool
}

func init() { registerCommand(newLogsCommand) }

func newLogsCommand() *cobra.Command {
	var opts logsOptions
	cmd := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER | logs [OPTIONS] [SERVICE...]",
		Short: "Fetch the logs of a container, or of a project's services",
		RunE: func(cmd *cobra.Command, args []string) error {
			refs, err := resolveTargets(args, true)
			if err != nil {
				return err
			}
			switch {
			case len(refs) == 0:
				return errors.New("logs: name a container, or run it in a project with containers")
			case len(refs) == 1 && len(args) == 1 && refs[0] == args[0]:
				return runLogs(cmd, opts, refs[0], nil)
			}
			return runProjectLogs(cmd, opts, refs)
		},
	}
	f := cmd.Flags()
	f.BoolVarP(&opts.follow, "follow", "f", false, "follow log output")
	f.StringVarP(&opts.tail, "tail", "n", "all", "number of lines to show from the end of the logs")
	f.StringVar(&opts.since, "since", "", "show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.StringVar(&opts.until, "until", "", "show logs before a timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	f.BoolVarP(&opts.timestamps, "timestamps", "t", false, "show timestamps")
	return cmd
}

// runLogs prints the container's output: its stdout lines to our stdout,
// its stderr lines to our stderr.
// With prefix set, every line goes to stdout after the prefix (the
// project form, one writer per container).
func runLogs(cmd *cobra.Command, opts logsOptions, ref string, prefix io.Writer) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	lo := executor.LogOptions{Follow: opts.follow, Tail: -1, Timestamps: opts.timestamps}
	if opts.tail != "all" && opts.tail != "" {
		n, err := strconv.Atoi(opts.tail)
		if err != nil {
			return fmt.Errorf("invalid --tail %q: want a number or all", opts.tail)
		}
		if n >= 0 {
			lo.Tail = n
		}
	}
	now := time.Now()
	if lo.Since, err = parseTimeArg(opts.since, now); err != nil {
		return fmt.Errorf("invalid --since: %w", err)
	}
	if lo.Until, err = parseTimeArg(opts.until, now); err != nil {
		return fmt.Errorf("invalid --until: %w", err)
	}
	out, errw := cmd.OutOrStdout(), cmd.ErrOrStderr()
	if prefix != nil {
		out, errw = prefix, prefix
	}
	return executor.ReadLogs(cmd.Context(), root, ref, lo, func(e executor.LogEntry) error {
		if e.Stream == "stderr" {
			return executor.WriteLogEntry(errw, e, opts.timestamps)
		}
		return executor.WriteLogEntry(out, e, opts.timestamps)
	})
}

// runProjectLogs shows several containers' logs, each line prefixed with
// `name |` (colored on a terminal), as `stack up` does in the foreground.
func runProjectLogs(cmd *cobra.Command, opts logsOptions, refs []string) error {
	width := 0
	for _, r := range refs {
		width = max(width, len(r))
	}
	out := cmd.OutOrStdout()
	color := colorOutput(out)
	var mu sync.Mutex
	var wg sync.WaitGroup
	errs := make([]error, len(refs))
	for i, r := range refs {
		prefix := fmt.Sprintf("%-*s | ", width, r)
		if color {
			prefix = "\x1b[" + serviceColors[i%len(serviceColors)] + "m" + prefix + "\x1b[0m"
		}
		pw := &prefixWriter{mu: &mu, w: out, prefix: prefix}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = runLogs(cmd, opts, r, pw)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// parseTimeArg parses docker's time arguments: a duration before now
// ("42m", "1h30m"), a Unix timestamp ("1700000000[.123]"), or an RFC 3339
// date (with or without a time zone, or a date alone).
func parseTimeArg(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	if secs, frac, ok := strings.Cut(s, "."); ok || !strings.ContainsAny(s, "-:T") {
		if n, err := strconv.ParseInt(secs, 10, 64); err == nil {
			var ns int64
			if ok {
				frac = (frac + "000000000")[:9]
				if ns, err = strconv.ParseInt(frac, 10, 64); err != nil {
					return time.Time{}, fmt.Errorf("%q: bad fraction", s)
				}
			}
			return time.Unix(n, ns), nil
		}
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		loc := time.Local
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q: want a duration (10m), a Unix time or an RFC 3339 date", s)
}
