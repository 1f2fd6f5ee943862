package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/build"
	"github.com/stack-dev/stack/layers"
)

// openStore opens the image store under the state root.
func openStore() (*layers.Store, error) {
	root, err := stateRoot()
	if err != nil {
		return nil, err
	}
	s, err := layers.Open(root)
	if err != nil {
		return nil, err
	}
	s.SetLogger(logger)
	return s, nil
}

type imagesOptions struct {
	format  string
	quiet   bool
	noTrunc bool
	all     bool
}

func init() { registerCommand(newImagesCommand) }

func newImagesCommand() *cobra.Command {
	var opts imagesOptions
	cmd := &cobra.Command{
		Use:   "images [REPOSITORY[:TAG]]",
		Short: "List images",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runImages(cmd, opts, args)
		},
	}
	cmd.Flags().StringVar(&opts.format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVarP(&opts.quiet, "quiet", "q", false, "only show image IDs")
	cmd.Flags().BoolVar(&opts.noTrunc, "no-trunc", false, "show full image IDs")
	cmd.Flags().BoolVarP(&opts.all, "all", "a", false, "show all images (default hides the untagged intermediate images of builds)")
	return cmd
}

// imageRow is one line of `stack images` (and one object of --format json).
type imageRow struct {
	Repository string `json:"Repository"`
	Tag        string `json:"Tag"`
	ID         string `json:"ID"`
	Digest     string `json:"Digest"`
	CreatedAt  string `json:"CreatedAt"`
	Size       int64  `json:"Size"`
	created    time.Time
}

func imageRows(imgs []*layers.Image, filter string) ([]imageRow, error) {
	var want layers.Reference
	if filter != "" {
		r, err := layers.ParseReference(filter)
		if err != nil {
			return nil, err
		}
		want = r
	}
	var rows []imageRow
	for _, img := range imgs {
		base := imageRow{ID: img.ID, Digest: img.Digest, Size: img.Size, created: img.Config.Created.Time,
			CreatedAt: img.Config.Created.Time.UTC().Format(time.RFC3339), Repository: "<none>", Tag: "<none>"}
		if len(img.RepoTags) == 0 {
			if filter == "" {
				rows = append(rows, base)
			}
			continue
		}
		for _, t := range img.RepoTags {
			r, err := layers.ParseReference(t)
			if err != nil {
				continue
			}
			if filter != "" && (r.Repository() != want.Repository() || (strings.Contains(filter, ":") && r.Tag != want.Tag)) {
				continue
			}
			row := base
			row.Repository, row.Tag = r.FamiliarRepository(), r.Tag
			rows = append(rows, row)
		}
	}
	return rows, nil
}

func runImages(cmd *cobra.Command, opts imagesOptions, args []string) error {
	store, err := openStore()
	if err != nil {
		return err
	}
	imgs, err := store.Images()
	if err != nil {
		return err
	}
	if !opts.all {
		// As docker without -a: a build step's image that no build
		// returned and no tag names is not listed.
		hide := build.IntermediateImages(store.Root())
		kept := imgs[:0]
		for _, img := range imgs {
			if len(img.RepoTags) == 0 && hide[img.ID] {
				continue
			}
			kept = append(kept, img)
		}
		imgs = kept
	}
	filter := ""
	if len(args) == 1 {
		filter = args[0]
	}
	rows, err := imageRows(imgs, filter)
	if err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if opts.quiet {
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Fprintln(out, shortID(r.ID, opts.noTrunc))
			}
		}
		return nil
	}
	switch opts.format {
	case "json":
		if rows == nil {
			rows = []imageRow{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	case "table", "":
		tw := tabwriter.NewWriter(out, 0, 8, 3, ' ', 0)
		fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
		for _, r := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Repository, r.Tag, shortID(r.ID, opts.noTrunc), humanAge(r.created), humanSize(r.Size))
		}
		return tw.Flush()
	}
	return fmt.Errorf("--format %q: want table or json", opts.format)
}

func shortID(id string, full bool) string {
	if full {
		return id
	}
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// humanSize prints sizes as docker does (decimal units).
func humanSize(n int64) string {
	f := float64(n)
	for _, u := range []string{"B", "kB", "MB", "GB", "TB"} {
		if f < 1000 {
			if u == "B" {
				return fmt.Sprintf("%dB", n)
			}
			return fmt.Sprintf("%.3g%s", f, u)
		}
		f /= 1000
	}
	return fmt.Sprintf("%.3gPB", f)
}

func humanAge(t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return "Less than a minute ago"
	case d < time.Hour:
		return plural(int(d.Minutes()), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d.Hours()), "hour") + " ago"
	case d < 14*24*time.Hour:
		return plural(int(d.Hours()/24), "day") + " ago"
	case d < 60*24*time.Hour:
		return plural(int(d.Hours()/24/7), "week") + " ago"
	case d < 2*365*24*time.Hour:
		return plural(int(d.Hours()/24/30), "month") + " ago"
	}
	return plural(int(d.Hours()/24/365), "year") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		if unit == "hour" {
			return "An hour"
		}
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
