package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/executor"
)

type eventsOptions struct {
	since   string
	until   string
	filters []string
	format  string
}

func init() { registerCommand(newEventsCommand) }

func newEventsCommand() *cobra.Command {
	var opts eventsOptions
	cmd := &cobra.Command{
		Use:   "events [OPTIONS]",
		Short: "Get real time events of containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.since, "since", "", "show all events created since timestamp")
	f.StringVar(&opts.until, "until", "", "stream events until this timestamp (and stop)")
	f.StringArrayVar(&opts.filters, "filter", nil, "filter output based on conditions provided (container, event, label, image, type)")
	f.StringVar(&opts.format, "format", "", "format output: json (one object per line), or the default text")
	return cmd
}

// runEvents prints the lifecycle events of the state root's containers:
// those since --since, then new ones as they come (until --until, or
// Ctrl-C), as docker events does.
func runEvents(cmd *cobra.Command, opts eventsOptions) error {
	root, err := stateRoot()
	if err != nil {
		return err
	}
	now := time.Now()
	eo := executor.EventOptions{Follow: true, Since: now, Filter: executor.EventFilter{}}
	if opts.since != "" {
		if eo.Since, err = parseTimeArg(opts.since, now); err != nil {
			return fmt.Errorf("invalid --since: %w", err)
		}
	}
	if opts.until != "" {
		if eo.Until, err = parseTimeArg(opts.until, now); err != nil {
			return fmt.Errorf("invalid --until: %w", err)
		}
		// docker: with --until the stream ends there; a time already
		// past means no waiting at all.
		if !eo.Until.After(now) {
			eo.Follow = false
		}
	}
	for _, f := range opts.filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return fmt.Errorf("bad format of filter (expected name=value): %s", f)
		}
		switch k {
		case "container", "event", "status", "label", "image", "type":
		default:
			return fmt.Errorf("invalid filter '%s'", k)
		}
		eo.Filter[k] = append(eo.Filter[k], v)
	}
	switch opts.format {
	case "", "json", "{{json .}}":
	default:
		return fmt.Errorf("--format %q: want json or the default", opts.format)
	}
	out := cmd.OutOrStdout()
	enc := json.NewEncoder(out)
	return executor.ReadEvents(cmd.Context(), root, eo, func(e executor.Event) error {
		if opts.format != "" {
			return enc.Encode(&e)
		}
		keys := make([]string, 0, len(e.Actor.Attributes))
		for k := range e.Actor.Attributes {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		attrs := make([]string, len(keys))
		for i, k := range keys {
			attrs[i] = k + "=" + e.Actor.Attributes[k]
		}
		_, err := fmt.Fprintf(out, "%s %s %s %s (%s)\n", time.Unix(0, e.TimeNano).Format("2006-01-02T15:04:05.000000000-07:00"),
			e.Type, e.Action, e.ID, strings.Join(attrs, ", "))
		return err
	})
}
