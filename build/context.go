package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is a build context: a directory, minus what its .dockerignore
// excludes. Paths in a context are relative and slash-separated ("src/a.go").
type Context struct {
	dir    string
	ignore *patternmatcher.PatternMatcher // nil: nothing excluded
}

// OpenContext opens the build context dir. Its ignore file is
// "<dockerfile>.dockerignore" beside the Dockerfile when that exists (as
// BuildKit does), else dir/.dockerignore; dockerfile may be "".
func OpenContext(dir, dockerfile string) (*Context, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("opening build context: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("opening build context %s: not a directory", dir)
	}
	c := &Context{dir: dir}
	candidates := []string{filepath.Join(dir, ".dockerignore")}
	if dockerfile != "" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	for _, name := range candidates {
		f, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading ignore file: %w", err)
		}
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		if c.ignore, err = patternmatcher.New(patterns); err != nil {
			return nil, fmt.Errorf("reading ignore file %s: %w", name, err)
		}
		break
	}
	return c, nil
}

// Dir is the context's directory.
func (c *Context) Dir() string { return c.dir }

// Excluded reports whether the ignore file excludes a context path.
func (c *Context) Excluded(rel string) (bool, error) {
	if c.ignore == nil || rel == "." || rel == "" {
		return false, nil
	}
	ok, err := c.ignore.MatchesOrParentMatches(rel)
	if err != nil {
		return false, fmt.Errorf("matching %s against .dockerignore: %w", rel, err)
	}
	return ok, nil
}

// cleanSource makes a COPY source a context path: "/a/../b" → "b", "." → ".".
// Nothing can climb out of the context.
func cleanSource(src string) string {
	p := path.Clean("/" + filepath.ToSlash(src))
	if p == "/" {
		return "."
	}
	return p[1:]
}

// Match expands the sources of a COPY or ADD (context paths, with * ? [ ]
// wildcards per path element) into the context paths they name, in order
// and without duplicates. A source that names nothing, or only excluded
// files, is an error, as in docker.
func (c *Context) Match(sources []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, src := range sources {
		rel := cleanSource(src)
		if !strings.ContainsAny(rel, "*?[") {
			if _, err := os.Lstat(filepath.Join(c.dir, filepath.FromSlash(rel))); err != nil {
				return nil, fmt.Errorf("%s: not found in the build context", src)
			}
			if ex, err := c.Excluded(rel); err != nil {
				return nil, err
			} else if ex {
				return nil, fmt.Errorf("%s: excluded by .dockerignore", src)
			}
			add(rel)
			continue
		}
		if _, err := path.Match(rel, ""); err != nil {
			return nil, fmt.Errorf("%s: bad pattern: %w", src, err)
		}
		var matched []string
		err := c.walk(".", func(p string, d fs.DirEntry) error {
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
			return nil, fmt.Errorf("%s: no file in the build context matches", src)
		}
		for _, p := range matched {
			add(p)
		}
	}
	return out, nil
}

// walk visits every path under root (a context path) that the ignore file
// does not exclude, in lexical order, root excluded.
func (c *Context) walk(root string, fn func(rel string, d fs.DirEntry) error) error {
	base := filepath.Join(c.dir, filepath.FromSlash(root))
	return filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("reading build context: %w", err)
		}
		if p == base {
			return nil
		}
		r, err := filepath.Rel(c.dir, p)
		if err != nil {
			return err
		}
		rel := filepath.ToSlash(r)
		ex, err := c.Excluded(rel)
		if err != nil {
			return err
		}
		if ex {
			// An exception ("!keep") may re-include something below an
			// excluded directory: only then must the walk go in.
			if d.IsDir() && !c.ignore.Exclusions() {
				return fs.SkipDir
			}
			return nil
		}
		return fn(rel, d)
	})
}

// Digest is the content digest of context paths (as Match returns them):
// a sha256 over each path's type, permission bits, relative name and
// content (file bytes, symlink target), directories recursively, minus
// excluded files. Times and owners are left out: touching a file without
// changing it keeps the digest. The result has docker's history form:
// "file:<hex>" for one file, "dir:<hex>" for one directory, "multi:<hex>"
// for several paths.
func (c *Context) Digest(paths []string) (string, error) {
	h := sha256.New()
	kind := "multi"
	for _, p := range paths {
		fi, err := os.Lstat(filepath.Join(c.dir, filepath.FromSlash(p)))
		if err != nil {
			return "", fmt.Errorf("hashing build context: %w", err)
		}
		if len(paths) == 1 {
			kind = "file"
			if fi.IsDir() {
				kind = "dir"
			}
		}
		fmt.Fprintf(h, "source %s\x00", p)
		if err := c.hashEntry(h, p, path.Base(p), fi); err != nil {
			return "", err
		}
		if fi.IsDir() {
			err := c.walk(p, func(rel string, d fs.DirEntry) error {
				info, err := d.Info()
				if err != nil {
					return fmt.Errorf("hashing build context: %w", err)
				}
				return c.hashEntry(h, rel, strings.TrimPrefix(rel, p+"/"), info)
			})
			if err != nil {
				return "", err
			}
		}
	}
	return kind + ":" + hex.EncodeToString(h.Sum(nil)), nil
}

// DigestAll is the digest of the whole context minus what is excluded:
// what decides whether an image built from it must be rebuilt.
func (c *Context) DigestAll() (string, error) {
	d, err := c.Digest([]string{"."})
	if err != nil {
		return "", err
	}
	return "sha256:" + strings.TrimPrefix(d, "dir:"), nil
}

func (c *Context) hashEntry(w io.Writer, rel, name string, fi fs.FileInfo) error {
	mode := fi.Mode()
	fmt.Fprintf(w, "%s %o %s\x00", mode.Type(), mode.Perm()|mode&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky), name)
	full := filepath.Join(c.dir, filepath.FromSlash(rel))
	switch {
	case mode.IsRegular():
		f, err := os.Open(full)
		if err != nil {
			return fmt.Errorf("hashing build context: %w", err)
		}
		defer f.Close()
		// The size first, so that no content can pass for the next entry.
		fmt.Fprintf(w, "%d\x00", fi.Size())
		n, err := io.Copy(w, f)
		if err != nil {
			return fmt.Errorf("hashing build context: %w", err)
		}
		if n != fi.Size() {
			return fmt.Errorf("hashing build context: %s changed while it was read", rel)
		}
	case mode&fs.ModeSymlink != 0:
		target, err := os.Readlink(full)
		if err != nil {
			return fmt.Errorf("hashing build context: %w", err)
		}
		fmt.Fprintf(w, "%s\x00", target)
	}
	return nil
}
