package layers

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
)

// Config is stack's configuration file, <root>/config.json. The registry
// keys are docker's daemon.json names:
//
//	{
//	  "insecure-registries": ["127.0.0.1:5000", "10.0.0.0/8"],
//	  "registry-mirrors": ["https://mirror.example.com", "http://127.0.0.1:5001"]
//	}
//
// A registry listed in insecure-registries (host:port, host, or a CIDR of
// its IP) may be reached over plain HTTP or HTTPS with an unverified
// certificate; every other registry needs HTTPS with a verified certificate
// (system roots, plus <root>/certs.d/<host:port>/ca.crt and
// /etc/docker/certs.d/<host:port>/ca.crt). registry-mirrors are tried in
// order for docker.io images before docker.io itself; a mirror written with
// http:// is used over plain HTTP.
type Config struct {
	InsecureRegistries []string `json:"insecure-registries,omitempty"`
	RegistryMirrors    []string `json:"registry-mirrors,omitempty"`
}

// Config reads <root>/config.json; a missing file is the zero Config.
func (s *Store) Config() (Config, error) {
	var c Config
	b, err := os.ReadFile(filepath.Join(s.root, "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading %s: %w", filepath.Join(s.root, "config.json"), err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("reading %s: %w", filepath.Join(s.root, "config.json"), err)
	}
	return c, nil
}

// insecure reports whether host (host[:port]) is listed as insecure.
func (c Config) insecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	ip := net.ParseIP(h)
	for _, e := range c.InsecureRegistries {
		e = strings.TrimPrefix(strings.TrimPrefix(e, "http://"), "https://")
		if e == host || e == h {
			return true
		}
		if _, n, err := net.ParseCIDR(e); err == nil && ip != nil && n.Contains(ip) {
			return true
		}
	}
	return false
}

// ProgressEvent reports a step of a pull or push.
type ProgressEvent struct {
	ID       string // short layer digest, or the image ref
	Status   string // "Pulling fs layer", "Already exists", "Downloading", "Pull complete", "Pushing", "Pushed", ...
	Current  int64  // bytes so far (Downloading, Pushing)
	Total    int64  // bytes in all (Downloading, Pushing)
	AllTotal int64  // bytes to transfer for the whole image (first event)
}

// RegistryOptions tune Pull, Push and Login.
type RegistryOptions struct {
	// Keychain gives credentials; default authn.DefaultKeychain, which reads
	// $DOCKER_CONFIG/config.json or ~/.docker/config.json and runs
	// credential helpers.
	Keychain authn.Keychain
	// Progress, if set, is called (from several goroutines, serialised) for each step.
	Progress func(ProgressEvent)
	// Jobs is the number of layers transferred at once (default 4).
	Jobs int
	// Platform picks from a multi-arch index (default linux/<host arch>).
	Platform *v1.Platform
	// Lazy makes Pull store the compressed blobs only, as skopeo copy
	// does; the layers are unpacked (and their diffIDs checked) later by
	// UnpackImage or PrepareRootfs. By default Pull unpacks every layer as
	// it streams in, so the image's LayerDirs are ready when Pull returns.
	Lazy bool
	// Transport replaces the base HTTP transport (tests); TLS and the
	// plain-HTTP rule still apply.
	Transport http.RoundTripper
}

func (o *RegistryOptions) progress(e ProgressEvent) {
	if o.Progress != nil {
		o.Progress(e)
	}
}

// httpGuard refuses plain HTTP to registries not listed as insecure.
type httpGuard struct {
	next    http.RoundTripper
	allowed func(host string) bool
}

func (g httpGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.allowed(req.URL.Host) {
		return nil, fmt.Errorf("plain HTTP to %s refused: add it to insecure-registries in stack's config.json to allow it", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}

// transport builds the HTTP transport for one registry host.
func (s *Store) transport(cfg Config, host string, plainOK bool, base http.RoundTripper) (http.RoundTripper, error) {
	insecure := cfg.insecure(host)
	allowed := func(h string) bool { return insecure || plainOK || cfg.insecure(h) }
	if base != nil {
		return httpGuard{next: base, allowed: allowed}, nil
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		t.TLSClientConfig.InsecureSkipVerify = true
	} else {
		pool, err := s.rootCAs(host)
		if err != nil {
			return nil, err
		}
		t.TLSClientConfig.RootCAs = pool
	}
	return httpGuard{next: t, allowed: allowed}, nil
}

// rootCAs is the system pool plus any ca.crt for host under certs.d.
func (s *Store) rootCAs(host string) (*x509.CertPool, error) {
	var extra [][]byte
	for _, dir := range []string{filepath.Join(s.root, "certs.d", host), filepath.Join("/etc/docker/certs.d", host)} {
		matches, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
		for _, m := range matches {
			b, err := os.ReadFile(m)
			if err != nil {
				return nil, fmt.Errorf("reading CA %s: %w", m, err)
			}
			extra = append(extra, b)
		}
	}
	if len(extra) == 0 {
		return nil, nil // system roots
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, b := range extra {
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("CA file for %s: no PEM certificate", host)
		}
	}
	return pool, nil
}

// remoteOptions are the ggcr options for one registry host.
func (s *Store) remoteOptions(ctx context.Context, cfg Config, host string, plainOK bool, o *RegistryOptions) ([]remote.Option, error) {
	rt, err := s.transport(cfg, host, plainOK, o.Transport)
	if err != nil {
		return nil, err
	}
	kc := o.Keychain
	if kc == nil {
		kc = authn.DefaultKeychain
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	return []remote.Option{
		remote.WithContext(ctx), remote.WithTransport(rt), remote.WithAuthFromKeychain(kc),
		remote.WithUserAgent("stack"), remote.WithJobs(jobs),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
	}, nil
}

// nameOptions: ggcr may try plain HTTP only where stack allows it.
func nameOptions(cfg Config, host string, plainOK bool) []name.Option {
	if cfg.insecure(host) || plainOK {
		return []name.Option{name.Insecure}
	}
	return nil
}

// source is one place to pull an image from.
type source struct {
	host    string
	ref     string // the reference as the registry sees it
	plainOK bool
}

// sources lists where ref can be pulled from: mirrors first for docker.io.
func sources(cfg Config, r Reference) []source {
	remoteRef := r.Repository()
	if r.Tag != "" {
		remoteRef += ":" + r.Tag
	}
	if r.Digest != "" {
		remoteRef += "@" + r.Digest
	}
	var out []source
	if r.Domain == "docker.io" {
		for _, m := range cfg.RegistryMirrors {
			plain := strings.HasPrefix(m, "http://")
			host := strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(m, "http://"), "https://"), "/")
			out = append(out, source{host: host, ref: host + strings.TrimPrefix(remoteRef, "docker.io"), plainOK: plain})
		}
		out = append(out, source{host: "index.docker.io", ref: remoteRef})
		return out
	}
	return append(out, source{host: r.Domain, ref: remoteRef})
}

// Pull fetches an image from its registry (through registry-mirrors for
// docker.io) and tags it ref. A multi-arch index resolves to the host's
// platform. Layers already in the store are not fetched; the others are
// downloaded in parallel and unpacked while they stream in, with their
// digests and diffIDs checked. The tag is set only once everything is stored.
func (s *Store) Pull(ctx context.Context, ref string, o RegistryOptions) (*Image, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	cfg, err := s.Config()
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, src := range sources(cfg, r) {
		img, err := s.pullFrom(ctx, cfg, src, r, &o)
		if err == nil {
			return img, nil
		}
		errs = append(errs, fmt.Errorf("from %s: %w", src.host, err))
		s.log.Debug("pull source failed", "source", src.host, "err", err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("pulling %s: %w", r.Familiar(), errors.Join(errs...))
}

func (s *Store) pullFrom(ctx context.Context, cfg Config, src source, r Reference, o *RegistryOptions) (*Image, error) {
	nref, err := name.ParseReference(src.ref, nameOptions(cfg, src.host, src.plainOK)...)
	if err != nil {
		return nil, err
	}
	opts, err := s.remoteOptions(ctx, cfg, src.host, src.plainOK, o)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(nref, opts...)
	if err != nil {
		return nil, err
	}
	topDigest := desc.Digest.String()
	if got := digestOf(desc.Manifest); got != topDigest {
		return nil, fmt.Errorf("manifest %s: content hashes to %s: %w", topDigest, got, ErrDigestMismatch)
	}
	raw := desc.Manifest
	mdigest := topDigest
	if desc.MediaType == types.OCIImageIndex || desc.MediaType == types.DockerManifestList {
		child, err := pickPlatformFor(raw, o.Platform)
		if err != nil {
			return nil, err
		}
		cdesc, err := remote.Get(nref.Context().Digest(child.Digest.String()), opts...)
		if err != nil {
			return nil, err
		}
		raw, mdigest = cdesc.Manifest, cdesc.Digest.String()
		if got := digestOf(raw); got != child.Digest.String() {
			return nil, fmt.Errorf("manifest %s: content hashes to %s: %w", child.Digest, got, ErrDigestMismatch)
		}
	}
	m, _, err := parseManifest(raw, nil)
	if err != nil {
		return nil, fmt.Errorf("manifest %s: %w", mdigest, err)
	}
	unlock, err := s.ingest()
	if err != nil {
		return nil, err
	}
	defer unlock()
	// The config: small, read whole, digest checked.
	craw, err := s.fetchSmallBlob(nref.Context(), m.Config.Digest, opts)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", m.Config.Digest, err)
	}
	_, c, err := parseManifest(raw, craw)
	if err != nil {
		return nil, err
	}
	var diffIDs []string
	for _, h := range c.RootFS.DiffIDs {
		diffIDs = append(diffIDs, h.String())
	}
	chains := ChainIDs(diffIDs)
	present := func(i int) bool {
		return s.HasBlob(m.Layers[i].Digest.String()) && (o.Lazy || s.HasLayer(chains[i]))
	}
	var total int64
	for i, l := range m.Layers {
		if !present(i) {
			total += l.Size
		}
	}
	var mu sync.Mutex
	report := func(e ProgressEvent) {
		mu.Lock()
		defer mu.Unlock()
		o.progress(e)
	}
	report(ProgressEvent{ID: r.Familiar(), Status: "Pulling from " + src.host, AllTotal: total})
	g, gctx := errgroup.WithContext(ctx)
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = 4
	}
	g.SetLimit(jobs)
	for i, l := range m.Layers {
		id := short(l.Digest.String())
		if present(i) {
			report(ProgressEvent{ID: id, Status: "Already exists"})
			s.log.Debug("layer already in the store", "digest", l.Digest)
			continue
		}
		report(ProgressEvent{ID: id, Status: "Pulling fs layer", Total: l.Size})
		parent := ""
		if i > 0 {
			parent = chains[i-1]
		}
		g.Go(func() error {
			rl, err := remote.Layer(nref.Context().Digest(l.Digest.String()), append(opts, remote.WithContext(gctx))...)
			if err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			rc, err := rl.Compressed()
			if err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			defer rc.Close()
			pr := &progressReader{r: rc, total: l.Size, id: id, report: report}
			if err := s.storeLayer(pr, l.Digest.String(), diffIDs[i], chains[i], parent, !o.Lazy); err != nil {
				return fmt.Errorf("layer %s: %w", l.Digest, err)
			}
			report(ProgressEvent{ID: id, Status: "Pull complete", Current: l.Size, Total: l.Size})
			s.log.Debug("layer pulled", "digest", l.Digest, "bytes", l.Size, "unpacked", !o.Lazy)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if _, err := s.writeBlobBytes(craw); err != nil {
		return nil, err
	}
	if _, err := s.writeBlobBytes(raw); err != nil {
		return nil, err
	}
	var tags []string
	if r.Tag != "" {
		tags = []string{r.String()}
	}
	repoDigest := r.Repository() + "@" + topDigest
	img, err := s.registerImage(mdigest, tags, repoDigest)
	if err != nil {
		return nil, err
	}
	report(ProgressEvent{ID: r.Familiar(), Status: "Digest: " + topDigest})
	return img, nil
}

func (s *Store) fetchSmallBlob(repo name.Repository, d v1.Hash, opts []remote.Option) ([]byte, error) {
	if s.HasBlob(d.String()) {
		return s.readBlob(d.String())
	}
	rl, err := remote.Layer(repo.Digest(d.String()), opts...)
	if err != nil {
		return nil, err
	}
	rc, err := rl.Compressed()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 16<<20))
	if err != nil {
		return nil, err
	}
	if got := digestOf(b); got != d.String() {
		return nil, fmt.Errorf("blob %s: content hashes to %s: %w", d, got, ErrDigestMismatch)
	}
	return b, nil
}

func pickPlatformFor(raw []byte, p *v1.Platform) (v1.Descriptor, error) {
	if p == nil {
		return pickPlatform(raw)
	}
	var idx v1.IndexManifest
	if err := json.Unmarshal(raw, &idx); err != nil {
		return v1.Descriptor{}, fmt.Errorf("decoding index: %w", err)
	}
	for _, d := range idx.Manifests {
		if d.Platform != nil && d.Platform.Satisfies(*p) {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("no manifest for %s: %w", p, ErrNotFound)
}

// progressReader reports bytes read, at most every 64 KiB step of 1%.
type progressReader struct {
	r      io.Reader
	n      int64
	last   int64
	total  int64
	id     string
	report func(ProgressEvent)
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.n += int64(n)
	if p.n-p.last >= max(64<<10, p.total/100) || (err == io.EOF && p.n != p.last) {
		p.report(ProgressEvent{ID: p.id, Status: "Downloading", Current: p.n, Total: p.total})
		p.last = p.n
	}
	return n, err
}
