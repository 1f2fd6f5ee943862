package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// ImageInputHash is the hash of everything an image the stack makes is made
// from: its definition (build section or commit definition, canonical JSON)
// and, when known, a digest of its build context's contents. The executor
// records it beside the image when it makes it (ObservedImage.InputHash);
// a different hash in the plan means the image is made again.
func ImageInputHash(img *spec.Image, contextDigest string) string {
	return inputHash(img, contextDigest)
}

// BuildInputHash is ImageInputHash for a service's own build: section.
func BuildInputHash(b *spec.Build, contextDigest string) string {
	return inputHash(b, contextDigest)
}

func inputHash(v any, contextDigest string) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("planner: encoding image definition: " + err.Error())
	}
	h := sha256.New()
	h.Write(b)
	if contextDigest != "" {
		h.Write([]byte{0})
		h.Write([]byte(contextDigest))
	}
	return hex.EncodeToString(h.Sum(nil))
}
