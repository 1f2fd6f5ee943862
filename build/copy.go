package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	securejoin "github.com/cyphar/filepath-securejoin"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/stack-dev/stack/layers"
)

// prepared is what a COPY or ADD step needs once its cache key is known:
// the context paths its sources matched, its downloads, the image it
// copies from.
type prepared struct {
	paths   []string      // context paths (Context.Match)
	urls    []download    // ADD of URLs, downloaded
	fromImg *layers.Image // COPY --from: the stage's or image's result
	tmp     string        // downloads live here
}

type download struct {
	url     string
	file    string // the downloaded content
	name    string // the file name the URL gives
	modTime time.Time
}

func (p *prepared) cleanup() {
	if p != nil && p.tmp != "" {
		os.RemoveAll(p.tmp)
	}
}

func hashHex(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\x00", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// contentDigest is the digest of what a COPY or ADD step copies (the
// third part of its cache key, and its history line), "" for other
// steps. URLs are downloaded here: their content decides the key.
func (ex *execution) contentDigest(ctx context.Context, step *Step) (string, *prepared, error) {
	cp := step.Copy
	if cp == nil {
		return "", nil, nil
	}
	prep := &prepared{}
	var digests []string
	switch {
	case cp.FromStage != nil || cp.FromImage != "":
		var img *layers.Image
		if cp.FromStage != nil {
			img = ex.result(cp.FromStage)
		} else {
			var err error
			img, err = ex.b.baseImage(ctx, &Stage{Base: cp.FromImage, Pos: step.Pos}, ex.opts.Pull)
			if err != nil {
				return "", nil, err
			}
		}
		prep.fromImg = img
		d, err := ex.imageDigest(img, cp.Sources)
		if err != nil {
			return "", nil, err
		}
		return d, prep, nil
	}
	var local []string
	for _, src := range cp.Sources {
		if cp.Add && isURL(src) {
			if prep.tmp == "" {
				d, err := ex.b.cache.tempDir("add-")
				if err != nil {
					return "", nil, err
				}
				prep.tmp = d
			}
			dl, sum, err := fetchURL(ctx, src, prep.tmp, cp.Checksum)
			if err != nil {
				prep.cleanup()
				return "", nil, err
			}
			prep.urls = append(prep.urls, dl)
			digests = append(digests, "file:"+sum)
			continue
		}
		local = append(local, src)
	}
	if len(local) > 0 {
		paths, err := ex.ctx.Match(local)
		if err != nil {
			prep.cleanup()
			return "", nil, fmt.Errorf("%s %w", step.Cmd, err)
		}
		prep.paths = paths
		d, err := digestResolved(ex.ctx, paths)
		if err != nil {
			prep.cleanup()
			return "", nil, err
		}
		digests = append(digests, d)
	}
	switch len(digests) {
	case 0:
		return "", prep, nil // heredoc sources only: CacheText has them
	case 1:
		if len(cp.Inline) == 0 {
			return digests[0], prep, nil
		}
	}
	return "multi:" + hashHex(digests...), prep, nil
}

// imageDigest is the content digest of sources in an image's rootfs
// (COPY --from), as Context.Digest computes it for the context: a stage
// rebuilt with the same files keeps the steps that copy from it cached.
// The digest of (image, sources) is remembered under
// <root>/build-cache/digests, so a cached build mounts nothing.
func (ex *execution) imageDigest(img *layers.Image, sources []string) (string, error) {
	if img == nil {
		return "", fmt.Errorf("the source stage has no files")
	}
	memo := filepath.Join(ex.b.cache.dir, "digests", hashHex(append([]string{img.ID}, sources...)...))
	if b, err := os.ReadFile(memo); err == nil && len(b) > 0 {
		return string(b), nil
	}
	tmp, err := ex.b.cache.tempDir("view-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	var digest string
	err = withMergedView(ex.b.lowers(img), tmp, func(root string) error {
		t := dirTree{dir: root}
		paths, err := t.match(sources)
		if err != nil {
			return err
		}
		digest, err = digestResolved(&Context{dir: root}, paths)
		return err
	})
	if err != nil {
		return "", err
	}
	if err := writeFileRename(memo, []byte(digest)); err != nil {
		ex.b.log.Warn("remembering a digest", "err", err)
	}
	return digest, nil
}

// digestResolved digests the paths COPY reads: a source that is a symlink
// counts as what it points to (COPY follows it), names staying the
// source's.
func digestResolved(c *Context, paths []string) (string, error) {
	resolved := make([]string, len(paths))
	for i, p := range paths {
		r, err := resolveIn(c.dir, p)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
		resolved[i] = r
	}
	d, err := c.Digest(resolved)
	if err != nil {
		return "", err
	}
	// The names matter too: the same content copied under another name
	// is another layer.
	if fmt.Sprint(resolved) != fmt.Sprint(paths) {
		kind, sum, _ := strings.Cut(d, ":")
		d = kind + ":" + hashHex(append([]string{sum}, paths...)...)
	}
	return d, nil
}

// fetchURL downloads an ADD source into dir and returns it with the hex
// sha256 of its content, checked against checksum ("sha256:...") if set.
func fetchURL(ctx context.Context, src, dir, checksum string) (download, string, error) {
	u, err := url.Parse(src)
	if err != nil {
		return download{}, "", fmt.Errorf("ADD %s: %w", src, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return download{}, "", fmt.Errorf("ADD %s: %w", src, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return download{}, "", fmt.Errorf("ADD %s: downloading: %w", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return download{}, "", fmt.Errorf("ADD %s: downloading: %s", src, resp.Status)
	}
	f, err := os.CreateTemp(dir, "url-")
	if err != nil {
		return download{}, "", fmt.Errorf("ADD %s: %w", src, err)
	}
	h := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, h), resp.Body)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return download{}, "", fmt.Errorf("ADD %s: downloading: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if checksum != "" {
		algo, want, _ := strings.Cut(checksum, ":")
		if algo != "sha256" {
			return download{}, "", fmt.Errorf("ADD --checksum=%s: only sha256 checksums are supported by stack", checksum)
		}
		if want != sum {
			return download{}, "", fmt.Errorf("ADD %s: the content's digest is sha256:%s, --checksum wants %s", src, sum, checksum)
		}
	}
	dl := download{url: src, file: f.Name(), name: path.Base(u.Path), modTime: time.Now()}
	if lm, err := http.ParseTime(resp.Header.Get("Last-Modified")); err == nil {
		dl.modTime = lm
	}
	if dl.name == "/" || dl.name == "." || dl.name == "" {
		dl.name = ""
	}
	return dl, sum, nil
}

// srcTree is where COPY reads from: the build context (its ignore file
// applies; files become root's) or an image's merged rootfs (owners kept).
type srcTree interface {
	root() string
	abs(rel string) string
	walk(rel string, fn func(rel string, d fs.DirEntry) error) error
	keepOwner() bool
}

type contextTree struct{ c *Context }

func (t contextTree) root() string          { return t.c.dir }
func (t contextTree) abs(rel string) string { return filepath.Join(t.c.dir, filepath.FromSlash(rel)) }
func (t contextTree) walk(rel string, fn func(string, fs.DirEntry) error) error {
	return t.c.walk(rel, fn)
}
func (t contextTree) keepOwner() bool { return false }

type dirTree struct{ dir string }

func (t dirTree) root() string          { return t.dir }
func (t dirTree) abs(rel string) string { return filepath.Join(t.dir, filepath.FromSlash(rel)) }
func (t dirTree) walk(rel string, fn func(string, fs.DirEntry) error) error {
	base := t.abs(rel)
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == base {
			return nil
		}
		r, err := filepath.Rel(t.dir, p)
		if err != nil {
			return err
		}
		return fn(filepath.ToSlash(r), d)
	})
}
func (t dirTree) keepOwner() bool { return true }

// match expands sources in a rootfs (COPY --from): * ? [ ] per element.
func (t dirTree) match(sources []string) ([]string, error) {
	var out []string
	for _, src := range sources {
		rel := cleanSource(src)
		if !strings.ContainsAny(rel, "*?[") {
			if _, err := os.Lstat(t.abs(rel)); err != nil {
				return nil, fmt.Errorf("%s: not found", src)
			}
			out = append(out, rel)
			continue
		}
		var matched []string
		err := t.walk(".", func(p string, d fs.DirEntry) error {
			if ok, _ := path.Match(rel, p); ok {
				matched = append(matched, p)
				if d.IsDir() {
					return fs.SkipDir
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(matched) == 0 {
			return nil, fmt.Errorf("%s: no file matches", src)
		}
		out = append(out, matched...)
	}
	return out, nil
}

// writeCopy writes the layer of a COPY or ADD step as a tar to w.
func (ex *execution) writeCopy(ctx context.Context, w io.Writer, state *stageState, step *Step, prep *prepared) error {
	lowers := ex.b.lowers(state.img)
	if prep.fromImg != nil || step.Copy.FromStage != nil || step.Copy.FromImage != "" {
		src := ex.b.lowers(prep.fromImg)
		if len(src) == 0 {
			return fmt.Errorf("the source stage has no files")
		}
		tmp, err := ex.b.cache.tempDir("view-")
		if err != nil {
			return err
		}
		defer os.Remove(tmp)
		return withMergedView(src, tmp, func(root string) error {
			t := dirTree{dir: root}
			paths, err := t.match(step.Copy.Sources)
			if err != nil {
				return err
			}
			return copyTar(ctx, w, lowers, step.Copy, t, paths, nil)
		})
	}
	return copyTar(ctx, w, lowers, step.Copy, contextTree{ex.ctx}, prep.paths, prep.urls)
}

// resolveIn resolves the symlinks of rel inside root, as a chroot at root
// would (absolute targets start again at root, ".." never leaves it:
// filepath-securejoin), and returns the result relative to root. A path
// that does not exist is an error.
func resolveIn(root, rel string) (string, error) {
	full, err := securejoin.SecureJoin(root, rel)
	if err != nil {
		return "", err
	}
	if _, err := os.Lstat(full); err != nil {
		return "", err
	}
	r, err := filepath.Rel(root, full)
	if err != nil {
		return "", err
	}
	return filepath.ToSlash(r), nil
}

// tarCopier writes the entries of a COPY layer.
type tarCopier struct {
	tw       *tar.Writer
	cp       *CopyStep
	uid, gid int
	chown    bool
	written  map[string]bool
	buf      []byte
}

func copyTar(ctx context.Context, w io.Writer, lowers []string, cp *CopyStep, tree srcTree, paths []string, urls []download) error {
	c := &tarCopier{tw: tar.NewWriter(w), cp: cp, written: map[string]bool{}, buf: make([]byte, 128<<10)}
	if cp.Chown != "" {
		uid, gid, err := resolveOwner(lowers, cp.Chown)
		if err != nil {
			return err
		}
		c.uid, c.gid, c.chown = uid, gid, true
	}
	dest := strings.TrimPrefix(cp.Dest, "/")
	destIsDir := strings.HasSuffix(cp.Dest, "/") || cp.Dest == "/"
	dest = strings.TrimSuffix(dest, "/")
	// The destination's symlinks are the image's: COPY x /bin/ where /bin
	// is a link to usr/bin writes usr/bin/x, never a /bin directory.
	dest, err := resolveInLayers(lowers, dest)
	if err != nil {
		return fmt.Errorf("destination %s: %w", cp.Dest, err)
	}
	n := len(paths) + len(urls) + len(cp.Inline)
	if !destIsDir {
		if fi, _, ok := lookupLayers(lowers, dest); ok && fi.IsDir() {
			destIsDir = true
		}
	}
	// A source that is a symlink is followed, inside the tree: an
	// absolute target is relative to the tree's root, and ".." stops there.
	resolved := make([]string, len(paths))
	for i, rel := range paths {
		r, err := resolveIn(tree.root(), rel)
		if err != nil {
			return fmt.Errorf("copying %s: %w", rel, err)
		}
		resolved[i] = r
	}
	single := n == 1
	if single && len(paths) == 1 {
		if fi, err := os.Lstat(tree.abs(resolved[0])); err == nil && fi.IsDir() {
			destIsDir = true // a directory's content goes into dest
		}
	}
	if !single && !destIsDir {
		return fmt.Errorf("when copying more than one source the destination must be a directory and end with a /")
	}
	// Parents that the image lacks.
	parent := dest
	if !destIsDir {
		parent = path.Dir(dest)
	}
	if err := c.parents(lowers, parent); err != nil {
		return err
	}
	target := func(name string) string {
		if destIsDir {
			return joinName(dest, name)
		}
		return dest
	}
	for i, rel := range paths {
		if err := ctx.Err(); err != nil {
			return err
		}
		src := resolved[i]
		p := tree.abs(src)
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("copying %s: %w", rel, err)
		}
		if fi.IsDir() {
			if err := c.dir(dest, fi, tree.keepOwner(), lowers); err != nil {
				return err
			}
			err := tree.walk(src, func(sub string, d fs.DirEntry) error {
				name := sub
				if src != "." {
					name = strings.TrimPrefix(sub, src+"/")
				}
				return c.file(tree.abs(sub), joinName(dest, name), tree.keepOwner())
			})
			if err != nil {
				return fmt.Errorf("copying %s: %w", rel, err)
			}
			continue
		}
		if cp.Add {
			ok, err := c.extract(p, dest)
			if err != nil {
				return fmt.Errorf("extracting %s: %w", rel, err)
			}
			if ok {
				continue
			}
		}
		if err := c.file(p, target(path.Base(rel)), tree.keepOwner()); err != nil {
			return err
		}
	}
	for _, dl := range urls {
		name := dl.name
		if destIsDir && name == "" {
			return fmt.Errorf("ADD %s: the URL has no file name; give the destination one", dl.url)
		}
		f, err := os.Open(dl.file)
		if err != nil {
			return err
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		hdr := &tar.Header{Name: target(name), Typeflag: tar.TypeReg, Mode: 0o600, Size: fi.Size(), ModTime: dl.modTime, Format: tar.FormatPAX}
		c.owner(hdr, false)
		err = c.write(hdr, f)
		f.Close()
		if err != nil {
			return err
		}
	}
	for _, in := range cp.Inline {
		hdr := &tar.Header{Name: target(in.Name), Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(in.Data)), ModTime: time.Now(), Format: tar.FormatPAX}
		c.owner(hdr, false)
		if err := c.write(hdr, strings.NewReader(in.Data)); err != nil {
			return err
		}
	}
	return c.tw.Close()
}

func joinName(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

func (c *tarCopier) owner(hdr *tar.Header, keep bool) {
	switch {
	case c.chown:
		hdr.Uid, hdr.Gid = c.uid, c.gid
	case !keep:
		hdr.Uid, hdr.Gid = 0, 0
	}
	hdr.Uname, hdr.Gname = "", ""
	if c.cp.HasChmod {
		hdr.Mode = hdr.Mode&^0o7777 | int64(c.cp.Chmod)
	}
}

func (c *tarCopier) write(hdr *tar.Header, r io.Reader) error {
	if err := c.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if r != nil && hdr.Typeflag == tar.TypeReg {
		n, err := io.CopyBuffer(c.tw, io.LimitReader(r, hdr.Size), c.buf)
		if err != nil {
			return err
		}
		if n != hdr.Size {
			return fmt.Errorf("%s changed while it was copied", hdr.Name)
		}
	}
	if hdr.Typeflag == tar.TypeDir {
		c.written[strings.TrimSuffix(hdr.Name, "/")] = true
	}
	return nil
}

// parents writes directory entries for the components of dir (dir
// included) that the image lacks.
func (c *tarCopier) parents(lowers []string, dir string) error {
	if dir == "" || dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	cur := ""
	for _, p := range parts {
		cur = joinName(cur, p)
		if c.written[cur] {
			continue
		}
		if fi, _, ok := lookupLayers(lowers, cur); ok && fi.IsDir() {
			continue
		}
		hdr := &tar.Header{Name: cur + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Now(), Format: tar.FormatPAX}
		if err := c.write(hdr, nil); err != nil {
			return err
		}
	}
	return nil
}

// dir writes the destination directory of a directory source when the
// image lacks it: it takes the source directory's mode.
func (c *tarCopier) dir(dest string, fi fs.FileInfo, keep bool, lowers []string) error {
	if dest == "" {
		return nil
	}
	if _, _, ok := lookupLayers(lowers, dest); ok && !c.written[dest] {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, "")
	if err != nil {
		return err
	}
	hdr.Name, hdr.Format = dest+"/", tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	c.owner(hdr, keep)
	return c.write(hdr, nil)
}

// file writes one file, directory, symlink or device.
func (c *tarCopier) file(p, name string, keep bool) error {
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	link := ""
	if fi.Mode()&fs.ModeSymlink != 0 {
		if link, err = os.Readlink(p); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSocket != 0 {
		return nil
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return fmt.Errorf("copying %s: %w", p, err)
	}
	hdr.Name, hdr.Format = name, tar.FormatPAX
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	if keep {
		setOwnerFromStat(hdr, fi)
	}
	if hdr.Typeflag == tar.TypeDir {
		hdr.Name += "/"
	}
	if isWhiteout(fi) {
		return nil
	}
	c.owner(hdr, keep)
	if hdr.Typeflag != tar.TypeReg {
		return c.write(hdr, nil)
	}
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return c.write(hdr, f)
}

// extract writes the entries of a local tar archive (plain, gzip, bzip2
// or zstd) into dir, as ADD does; ok is false when p is not an archive.
func (c *tarCopier) extract(p, dir string) (ok bool, err error) {
	f, err := os.Open(p)
	if err != nil {
		return false, err
	}
	defer f.Close()
	r, err := archiveReader(f)
	if err != nil || r == nil {
		return false, err
	}
	if err := c.parents(nil, dir); err != nil {
		return false, err
	}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return true, err
		}
		name := path.Clean("/" + hdr.Name)[1:]
		if name == "" {
			continue
		}
		hdr.Name = joinName(dir, name)
		if hdr.Typeflag == tar.TypeDir {
			hdr.Name += "/"
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = joinName(dir, path.Clean("/" + hdr.Linkname)[1:])
		}
		hdr.Format = tar.FormatPAX
		if hdr.Typeflag == tar.TypeRegA {
			hdr.Typeflag = tar.TypeReg
		}
		if err := c.write(hdr, tr); err != nil {
			return true, err
		}
	}
}

// archiveReader returns the tar stream of an archive, nil if r is none.
func archiveReader(r io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var s io.Reader = br
	if head, _ := br.Peek(3); bytes.Equal(head, []byte("BZh")) {
		s = bzip2.NewReader(br)
	} else {
		rc, _, err := layers.Decompress(br)
		if err != nil {
			return nil, nil
		}
		s = rc
	}
	tb := bufio.NewReaderSize(s, 64<<10)
	block, err := tb.Peek(512)
	if err != nil || !isTarHeader(block) {
		return nil, nil
	}
	return tb, nil
}

// isTarHeader checks a tar header block: the "ustar" magic, or a valid
// header checksum (old v7 archives).
func isTarHeader(b []byte) bool {
	if len(b) < 512 {
		return false
	}
	if bytes.HasPrefix(b[257:], []byte("ustar")) {
		return true
	}
	sum := 0
	for i, c := range b[:512] {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int(c)
	}
	field := strings.Trim(string(b[148:156]), " \x00")
	want, err := strconv.ParseInt(field, 8, 64)
	return err == nil && field != "" && int(want) == sum
}

// mkdirLayer is the layer of a WORKDIR: the directories the image lacks,
// or nil when dir exists.
func mkdirLayer(lowers []string, dir string) ([]byte, error) {
	rel, err := resolveInLayers(lowers, strings.Trim(dir, "/"))
	if err != nil {
		return nil, fmt.Errorf("WORKDIR %s: %w", dir, err)
	}
	if rel == "" {
		return nil, nil
	}
	if fi, _, ok := lookupLayers(lowers, rel); ok {
		if fi.IsDir() {
			return nil, nil
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			return nil, fmt.Errorf("WORKDIR %s: a file of that name exists in the image", dir)
		}
		return nil, nil // a symlink to no directory: the runtime fails on it as docker does
	}
	var buf bytes.Buffer
	c := &tarCopier{tw: tar.NewWriter(&buf), cp: &CopyStep{}, written: map[string]bool{}}
	if err := c.parents(lowers, rel); err != nil {
		return nil, err
	}
	if err := c.tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// resolveOwner turns --chown's "user[:group]" into ids, names looked up
// in the image's /etc/passwd and /etc/group.
func resolveOwner(lowers []string, spec string) (int, int, error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	uid, gid := -1, -1
	if n, err := strconv.Atoi(user); err == nil {
		uid = n
		gid = n
		if e, ok := findEntry(lowers, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[2] == user }); ok {
			gid, _ = strconv.Atoi(e[3])
		}
	} else {
		e, ok := findEntry(lowers, "etc/passwd", func(f []string) bool { return len(f) > 3 && f[0] == user })
		if !ok {
			return 0, 0, fmt.Errorf("--chown=%s: no user %q in the image's /etc/passwd", spec, user)
		}
		uid, _ = strconv.Atoi(e[2])
		gid, _ = strconv.Atoi(e[3])
	}
	if hasGroup {
		if n, err := strconv.Atoi(group); err == nil {
			gid = n
		} else {
			e, ok := findEntry(lowers, "etc/group", func(f []string) bool { return len(f) > 2 && f[0] == group })
			if !ok {
				return 0, 0, fmt.Errorf("--chown=%s: no group %q in the image's /etc/group", spec, group)
			}
			gid, _ = strconv.Atoi(e[2])
		}
	}
	if uid < 0 || gid < 0 {
		return 0, 0, fmt.Errorf("--chown=%s: not a user", spec)
	}
	return uid, gid, nil
}

func findEntry(lowers []string, file string, match func([]string) bool) ([]string, bool) {
	rel, err := resolveInLayers(lowers, file)
	if err != nil {
		return nil, false
	}
	fi, full, ok := lookupLayers(lowers, rel)
	if !ok || !fi.Mode().IsRegular() {
		return nil, false
	}
	b, err := os.ReadFile(full)
	if err != nil {
		return nil, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if match(f) {
			return f, true
		}
	}
	return nil, false
}

var errNoView = errors.New("merged rootfs views need Linux")
