package build

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// cacheKeyVersion changes whenever the meaning of a cache key changes, so
// that a newer stack never reuses a layer an older one keyed differently.
const cacheKeyVersion = "stack-build-cache-v1"

// CacheKey is the build cache key of a step: a sha256 ("sha256:<hex>")
// over the parent's chain ID (the layers the step runs on; "" for a stage
// from scratch), the step's CacheText (the instruction after ARG/ENV
// expansion, with its environment, working directory and user), and for
// COPY and ADD the digest of the content of the copied files (not their
// mtimes), which the caller computes; "" for other steps. Each part is
// length-prefixed, so no two different inputs share a key.
func CacheKey(parentChainID, text, contentDigest string) string {
	h := sha256.New()
	var n [8]byte
	for _, part := range []string{cacheKeyVersion, parentChainID, text, contentDigest} {
		binary.BigEndian.PutUint64(n[:], uint64(len(part)))
		h.Write(n[:])
		h.Write([]byte(part))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
