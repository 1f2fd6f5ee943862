package layers

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// pathComponent is one repository path component (distribution's grammar).
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// Reference is a parsed image name, normalized as docker does:
// "busybox" is docker.io/library/busybox:latest.
type Reference struct {
	Domain string // registry host[:port], "docker.io" for Docker Hub
	Path   string // repository path, "library/busybox"
	Tag    string // "latest" unless a digest was given without a tag
	Digest string // "sha256:..." when the name carried @digest
}

// ParseReference parses NAME[:TAG][@DIGEST] the way docker does.
func ParseReference(s string) (Reference, error) {
	if s == "" {
		return Reference{}, fmt.Errorf("parsing image name: empty name")
	}
	var digest string
	rest := s
	if i := strings.Index(s, "@"); i >= 0 {
		rest, digest = s[:i], s[i+1:]
	}
	r, err := name.ParseReference(s)
	if err != nil {
		return Reference{}, fmt.Errorf("parsing image name %q: %w", s, err)
	}
	ref := Reference{
		Domain: r.Context().RegistryStr(),
		Path:   r.Context().RepositoryStr(),
		Digest: digest,
	}
	if ref.Domain == name.DefaultRegistry {
		ref.Domain = "docker.io"
	}
	if t, ok := r.(name.Tag); ok {
		ref.Tag = t.TagStr()
	} else {
		// name@digest: ggcr drops any tag; recover it from the text.
		if j := strings.LastIndex(rest, ":"); j > strings.LastIndex(rest, "/") {
			ref.Tag = rest[j+1:]
		}
	}
	for _, c := range strings.Split(ref.Path, "/") {
		if !pathComponent.MatchString(c) {
			return Reference{}, fmt.Errorf("parsing image name %q: invalid repository component %q", s, c)
		}
	}
	if digest != "" && !strings.HasPrefix(digest, "sha256:") {
		return Reference{}, fmt.Errorf("parsing image name %q: only sha256 digests are supported", s)
	}
	return ref, nil
}

// Repository is domain/path: "docker.io/library/busybox".
func (r Reference) Repository() string { return r.Domain + "/" + r.Path }

// String is the canonical form: docker.io/library/busybox:latest, with
// @digest appended when present.
func (r Reference) String() string {
	s := r.Repository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// FamiliarRepository drops docker.io/ and library/ as docker's CLI does.
func (r Reference) FamiliarRepository() string {
	if r.Domain != "docker.io" {
		return r.Repository()
	}
	return strings.TrimPrefix(r.Path, "library/")
}

// Familiar is the short form users type: busybox:latest.
func (r Reference) Familiar() string {
	s := r.FamiliarRepository()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// familiar turns a canonical stored ref back into its familiar form.
func familiar(canonical string) string {
	r, err := ParseReference(canonical)
	if err != nil {
		return canonical
	}
	return r.Familiar()
}
