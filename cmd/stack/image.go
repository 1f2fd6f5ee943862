package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"

	"github.com/stack-dev/stack/layers"
)

func init() { registerCommand(newImageCommand) }

func newImageCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage images: inspect, history, prune, ls, rm, tag",
	}
	var imgs imagesOptions
	ls := &cobra.Command{
		Use:   "ls [REPOSITORY[:TAG]]",
		Short: "List images (same as stack images)",
		Args:  cobra.MaximumNArgs(1),
		RunE:  func(c *cobra.Command, args []string) error { return runImages(c, imgs, args) },
	}
	ls.Flags().StringVar(&imgs.format, "format", "table", "output format: table or json")
	ls.Flags().BoolVarP(&imgs.quiet, "quiet", "q", false, "only show image IDs")
	ls.Flags().BoolVar(&imgs.noTrunc, "no-trunc", false, "show full image IDs")
	rmc := newRmiCommand()
	rmc.Use = "rm [-f|--force] IMAGE..."
	rmc.Short = "Remove images (same as stack rmi)"
	tag := &cobra.Command{
		Use:   "tag SOURCE_IMAGE TARGET_IMAGE[:TAG]",
		Short: "Tag an image (same as stack tag)",
		Args:  cobra.ExactArgs(2),
		RunE:  func(c *cobra.Command, args []string) error { return runTag(c, args[0], args[1]) },
	}
	cmd.AddCommand(newImageInspectCommand(), newImageHistoryCommand(), newImagePruneCommand(), ls, rmc, tag)
	return cmd
}

// inspectJSON is one element of `stack image inspect`, shaped like docker's.
type inspectJSON struct {
	ID           string          `json:"Id"`
	RepoTags     []string        `json:"RepoTags"`
	RepoDigests  []string        `json:"RepoDigests"`
	Parent       string          `json:"Parent"`
	Comment      string          `json:"Comment"`
	Created      string          `json:"Created"`
	Author       string          `json:"Author"`
	Config       v1.Config       `json:"Config"`
	Architecture string          `json:"Architecture"`
	Variant      string          `json:"Variant,omitempty"`
	Os           string          `json:"Os"`
	Size         int64           `json:"Size"`
	RootFS       inspectRootFS   `json:"RootFS"`
	Metadata     inspectMetadata `json:"Metadata"`
	Descriptor   v1.Descriptor   `json:"Descriptor"`
}

type inspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

type inspectMetadata struct {
	LastTagTime string `json:"LastTagTime,omitempty"`
}

func inspectImage(img *layers.Image) inspectJSON {
	out := inspectJSON{
		ID: img.ID, RepoTags: img.RepoTags, RepoDigests: img.RepoDigests,
		Created: img.Config.Created.UTC().Format(time.RFC3339Nano), Author: img.Config.Author,
		Config: img.Config.Config, Architecture: img.Config.Architecture, Variant: img.Config.Variant,
		Os: img.Config.OS, Size: img.Size,
		RootFS:   inspectRootFS{Type: "layers", Layers: img.DiffIDs},
		Metadata: inspectMetadata{LastTagTime: img.Added.UTC().Format(time.RFC3339Nano)},
	}
	h, _ := v1.NewHash(img.Digest)
	out.Descriptor = v1.Descriptor{MediaType: img.Manifest.MediaType, Digest: h, Size: int64(len(img.RawManifest))}
	if n := len(img.Config.History); n > 0 {
		out.Comment = img.Config.History[n-1].Comment
	}
	if out.RepoTags == nil {
		out.RepoTags = []string{}
	}
	if out.RepoDigests == nil {
		out.RepoDigests = []string{}
	}
	if out.RootFS.Layers == nil {
		out.RootFS.Layers = []string{}
	}
	return out
}

func newImageInspectCommand() *cobra.Command {
	var format string
	cmd := &cobra.Command{
		Use:   "inspect IMAGE...",
		Short: "Show images as JSON (an array, like docker image inspect)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "json" {
				return fmt.Errorf("--format %q: want json", format)
			}
			store, err := openStore()
			if err != nil {
				return err
			}
			out := []inspectJSON{}
			var errs []error
			for _, ref := range args {
				img, err := store.Image(ref)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				out = append(out, inspectImage(img))
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "    ")
			if err := enc.Encode(out); err != nil {
				return err
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVar(&format, "format", "json", "output format: json")
	return cmd
}

// historyRow is one line of `stack image history`.
type historyRow struct {
	ID        string `json:"ID"`
	CreatedAt string `json:"CreatedAt"`
	CreatedBy string `json:"CreatedBy"`
	Size      int64  `json:"Size"`
	Comment   string `json:"Comment"`
	created   time.Time
}

func historyRows(store *layers.Store, img *layers.Image) []historyRow {
	var rows []historyRow
	layer := 0
	hist := img.Config.History
	if len(hist) == 0 { // images without history: one row per layer
		for range img.DiffIDs {
			hist = append(hist, v1.History{})
		}
	}
	for _, h := range hist {
		r := historyRow{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, created: h.Created.Time,
			CreatedAt: h.Created.UTC().Format(time.RFC3339)}
		if !h.EmptyLayer && layer < len(img.ChainIDs) {
			r.Size = store.LayerSize(img.ChainIDs[layer])
			layer++
		}
		rows = append(rows, r)
	}
	// Newest first; the newest row carries the image ID.
	for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
		rows[i], rows[j] = rows[j], rows[i]
	}
	if len(rows) > 0 {
		rows[0].ID = img.ID
	}
	return rows
}

func newImageHistoryCommand() *cobra.Command {
	var format string
	var noTrunc bool
	cmd := &cobra.Command{
		Use:   "history IMAGE",
		Short: "Show the history of an image",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			img, err := store.Image(args[0])
			if err != nil {
				return err
			}
			rows := historyRows(store, img)
			switch format {
			case "json":
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			case "table", "":
				tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 8, 3, ' ', 0)
				fmt.Fprintln(tw, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
				for _, r := range rows {
					id := r.ID
					if id != "<missing>" {
						id = shortID(id, noTrunc)
					}
					by := r.CreatedBy
					if !noTrunc && len(by) > 45 {
						by = by[:44] + "…"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, humanAge(r.created), by, humanSize(r.Size), strings.ReplaceAll(r.Comment, "\n", " "))
				}
				return tw.Flush()
			}
			return fmt.Errorf("--format %q: want table or json", format)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output format: table or json")
	cmd.Flags().BoolVar(&noTrunc, "no-trunc", false, "do not truncate output")
	return cmd
}

func newImagePruneCommand() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune [-a]",
		Short: "Remove dangling images (all unused images with -a) and free unused layers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			store, err := openStore()
			if err != nil {
				return err
			}
			removed, freed, err := store.Prune(all)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(removed) > 0 {
				fmt.Fprintln(out, "Deleted Images:")
				for _, id := range removed {
					fmt.Fprintf(out, "deleted: %s\n", id)
				}
				fmt.Fprintln(out)
			}
			fmt.Fprintf(out, "Total reclaimed space: %s\n", humanSize(freed))
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove all images no container uses, not just dangling ones")
	cmd.Flags().BoolVar(&force, "force", false, "do not prompt (stack never prompts)")
	return cmd
}
