package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"

	"github.com/stack-dev/stack/spec"
)

// currentHash reports whether a recorded config hash was made by the
// algorithm version of this stack (spec.HashVersion is its prefix). A hash
// of another version is never compared: the recorded snapshot is hashed
// again with the current algorithm instead, so that upgrading stack never
// silently recreates anything.
func currentHash(h string) bool {
	return strings.HasPrefix(h, spec.HashVersion+":")
}

// inputHash is the hash of everything an image the stack makes is made
// from: its definition (see definition) and, when known, a digest of its
// build context's contents. The executor records it beside the image
// (Step.InputHash → ObservedImage.InputHash); another hash in the plan
// means the image is made again.
func inputHash(def Snapshot, contextDigest string) string {
	h := sha256.New()
	h.Write(def)
	if contextDigest != "" {
		h.Write([]byte{0})
		h.Write([]byte(contextDigest))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// relativeTo makes a path under dir relative to it, so that moving the
// project directory does not change an image's definition.
func relativeTo(dir, p string) string {
	if dir == "" || !filepath.IsAbs(p) {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return filepath.ToSlash(rel)
}

// ImageSnapshot is the canonical JSON of how the stack makes the image
// with this name (an x-stack-images entry, or the build: of the service
// whose image it is), with paths relative to the project directory; nil
// for an image that is pulled. The executor records it beside the image.
func ImageSnapshot(desired *spec.Stack, name string) []byte {
	d := &differ{desired: desired}
	return d.imageOf(name).definition(desired.WorkingDir)
}

// ImageInputHash is the input hash the plan gives (Step.InputHash) an
// image the stack makes, from its definition and, when known, the digest
// of its build context. The executor uses it to record an image it made
// outside a plan (`stack up --build`).
func ImageInputHash(desired *spec.Stack, name, contextDigest string) string {
	return inputHash(ImageSnapshot(desired, name), contextDigest)
}
