// Package layers is stack's image store: content-addressed blobs (OCI
// layout), image refs, unpacked layers shared by chain ID, safe unpacking,
// overlay mounts returned as data, diffs of a container's upper directory,
// registries (go-containerregistry) and save/load/import archives. It
// imports nothing else from stack.
package layers
