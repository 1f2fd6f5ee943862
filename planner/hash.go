package planner

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"

	"github.com/stack-dev/stack/spec"
)

// configHashVersion is the version of the service config hash algorithm
// the planner compares against. A recorded hash of another version is not
// compared: the recorded snapshot is hashed again with the current
// algorithm instead, so upgrading stack never silently recreates anything.
const configHashVersion = 1

// serviceHash is the current config hash of s.
//
// TODO(spec): use (*spec.Service).ConfigHash once the spec package has it.
func serviceHash(s *spec.Service) string {
	c := *s
	c.Scale, c.Profiles = 0, nil // never force a recreate
	b, err := json.Marshal(&c)
	if err != nil {
		// spec.Service holds only JSON-encodable values.
		panic("planner: encoding service: " + err.Error())
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
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
