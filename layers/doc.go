// Package layers is stack's image store: content-addressed blobs (OCI
// layout), image refs, unpacked layers shared by chain ID, safe unpacking,
// overlay mounts returned as data, diffs of a container's upper directory,
// registries (go-containerregistry) and save/load/import archives. It
// imports nothing else from stack.
//
// # Vocabulary
//
// A blob is content named by its sha256 digest under <root>/blobs/sha256.
// An image is a manifest blob (OCI or docker schema 2) with a config blob and
// compressed layer blobs; its ID is the config digest, as in docker. A tag
// (canonical "docker.io/library/busybox:latest") points to a manifest digest.
// A layer's diffID is the digest of its uncompressed tar; its chain ID (OCI
// image spec) names the unpacked directory <root>/layers/<chainid>/diff,
// which is an overlay lowerdir and is shared by every image with the same
// layers below it. A layer directory is trusted only once its .complete
// marker exists (written last). An image's content is always complete before
// a tag or record points to it; removal (Remove, Prune) then GC frees
// exactly the blobs and layers that no image and no container rootfs uses.
// "Not found" errors wrap ErrNotFound.
//
// # API for the runtime
//
//	s, err := layers.Open(root)                        // creates the layout if needed
//	img, err := s.Image("busybox")                     // *Image: ID, Config (v1.ConfigFile), RepoTags, DiffIDs, ...
//	r, err := s.PrepareRootfs("busybox", containerID)  // Rootfs{Lower (top first), Upper, Work}
//	err = layers.MountOverlay(r, target)               // Linux: new mount API, up to 500 layers
//	...unmount target...
//	err = s.RemoveRootfs(containerID)                  // removes upper, work, rootfs.json
//
// PrepareRootfs puts Upper and Work in <root>/containers/<id>/{upper,work}
// and records the image in <root>/containers/<id>/rootfs.json. The runtime's
// own <root>/containers/<id>/config.json may carry "image_id": "sha256:...";
// Remove refuses (ErrInUse) to delete an image named by either file unless
// forced, and then only untags it.
//
// Pull unpacks every layer by default. After a lazy pull
// (RegistryOptions.Lazy, `stack pull --no-unpack`) only the compressed
// blobs are stored: call s.UnpackImage(ref) before using LayerDir paths
// yourself; PrepareRootfs does it.
//
// # API for commit and build
//
//	img, err := s.Commit(layers.CommitOptions{
//		Base: "busybox",            // or an image ID; "" for scratch
//		UpperDir: r.Upper,          // a container's upper dir → a new layer (Diff)
//		// or Layer: tarReader,     // a tar → a new layer (COPY/ADD)
//		// neither: a config-only step, history empty_layer
//		Config: &cfg,               // the new runtime config (nil: the base's)
//		Author: "ops@example.com", Comment: "...", CreatedBy: "/bin/sh -c ...",
//		Tags: []string{"httpd-box"}, // none: a dangling (intermediate) image
//	})
//	err = layers.Diff(upperDir, w)                        // upper dir → OCI layer tar (whiteouts as .wh.)
//
// # Other entry points
//
//	s.Images(), s.Tag(src, dst), s.Remove(ref, force), s.Prune(all), s.GC()
//	s.Import(r, ref, ImportOptions{Config, Message})
//	s.Save(w, refs), s.Load(r)
//	s.Pull(ctx, ref, RegistryOptions{...}), s.Push(ctx, ref, opts), s.Login(ctx, host, user, pw, opts), s.Logout(host)
//	s.UnpackImage(ref), layers.Unpack(r, dir, UnpackOptions{}), layers.ParseReference(s)
//
// Registry settings (insecure-registries, registry-mirrors) come from
// <root>/config.json (see Config), credentials from the docker config.json.
//
// # Concurrency
//
// Writers of images/db.json hold an flock on images/db.lock; content writers
// (pull, load, import, commit, PrepareRootfs) hold images/gc.lock shared, GC
// holds it exclusively. Readers never lock: every metadata file is replaced
// by an atomic rename.
package layers
