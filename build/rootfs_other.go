//go:build !linux

package build

import (
	"archive/tar"
	"io/fs"
)

func lookupLayers(lowers []string, rel string) (fs.FileInfo, string, bool) { return nil, "", false }

func resolveInLayers(lowers []string, rel string) (string, error) { return rel, nil }

func isWhiteout(fi fs.FileInfo) bool { return false }

func setOwnerFromStat(hdr *tar.Header, fi fs.FileInfo) {}

func withMergedView(lowers []string, target string, fn func(root string) error) error {
	return errNoView
}
