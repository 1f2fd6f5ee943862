package layers

import "errors"

// Sentinel errors, checked with errors.Is.
var (
	// ErrNotFound: no image, tag or blob by that name or digest.
	ErrNotFound = errors.New("not found")
	// ErrDigestMismatch: content does not hash to the digest that names it.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrInUse: the image is used by a container (or by another tag for an ID removal) and -f was not given.
	ErrInUse = errors.New("in use")
	// ErrAmbiguous: a short image ID matches more than one image.
	ErrAmbiguous = errors.New("ambiguous image id")
	// ErrUnsafePath: a tar entry tried to reach outside the layer directory.
	ErrUnsafePath = errors.New("path escapes the layer directory")
	// ErrUnsupportedMediaType: a manifest, config or layer has a media type stack does not read.
	ErrUnsupportedMediaType = errors.New("unsupported media type")
)
