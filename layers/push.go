package layers

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	clitypes "github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// storeImage is a stored image seen as a ggcr image (compressed core): its
// manifest, config and blobs are served byte for byte from the store, so a
// push keeps every digest.
type storeImage struct {
	s   *Store
	img *Image
}

var _ partial.CompressedImageCore = (*storeImage)(nil)

func (si *storeImage) RawConfigFile() ([]byte, error)      { return si.img.RawConfig, nil }
func (si *storeImage) MediaType() (types.MediaType, error) { return si.img.Manifest.MediaType, nil }
func (si *storeImage) RawManifest() ([]byte, error)        { return si.img.RawManifest, nil }

func (si *storeImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range si.img.Manifest.Layers {
		if l.Digest == h {
			return &storeLayer{s: si.s, desc: l}, nil
		}
	}
	if si.img.Manifest.Config.Digest == h {
		return &storeLayer{s: si.s, desc: si.img.Manifest.Config}, nil
	}
	return nil, fmt.Errorf("blob %s: %w", h, ErrNotFound)
}

type storeLayer struct {
	s    *Store
	desc v1.Descriptor
}

func (l *storeLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storeLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storeLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }
func (l *storeLayer) Compressed() (io.ReadCloser, error)  { return l.s.OpenBlob(l.desc.Digest.String()) }

// Push uploads the image ref names (a tag in the store) to the registry in
// its name. Blobs the registry has are not sent again; layers go in
// parallel. The manifest is sent as stored, so the registry's digest is the
// store's. The pushed digest is recorded as a repo digest and returned.
func (s *Store) Push(ctx context.Context, ref string, o RegistryOptions) (string, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return "", err
	}
	img, err := s.Image(ref)
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	cfg, err := s.Config()
	if err != nil {
		return "", err
	}
	host := r.Domain
	if host == "docker.io" {
		host = "index.docker.io"
	}
	remoteRef := r.Repository() + ":" + r.Tag
	if r.Tag == "" {
		remoteRef = r.Repository() + "@" + img.Digest
	}
	nref, err := name.ParseReference(remoteRef, nameOptions(cfg, host, false)...)
	if err != nil {
		return "", err
	}
	opts, err := s.remoteOptions(ctx, cfg, host, false, &o)
	if err != nil {
		return "", err
	}
	gi, err := partial.CompressedToImage(&storeImage{s: s, img: img})
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", ref, err)
	}
	var total int64
	for _, l := range img.Manifest.Layers {
		total += l.Size
	}
	o.progress(ProgressEvent{ID: r.Familiar(), Status: "Pushing to " + host, AllTotal: total})
	updates := make(chan v1.Update, 16)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for u := range updates {
			o.progress(ProgressEvent{ID: r.Familiar(), Status: "Pushing", Current: u.Complete, Total: u.Total})
		}
	}()
	err = remote.Write(nref, gi, append(opts, remote.WithProgress(updates))...)
	wg.Wait()
	if err != nil {
		return "", fmt.Errorf("pushing %s: %w", r.Familiar(), err)
	}
	rd := r.Repository() + "@" + img.Digest
	err = s.updateDB(func(d *db) error {
		if rec := d.Images[img.Digest]; rec != nil && !contains(rec.RepoDigests, rd) {
			rec.RepoDigests = append(rec.RepoDigests, rd)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	o.progress(ProgressEvent{ID: r.Familiar(), Status: "Pushed: digest " + img.Digest})
	return img.Digest, nil
}

// DockerConfigDir is $DOCKER_CONFIG or ~/.docker: where config.json holds
// registry credentials (docker's format, shared with docker and podman).
func DockerConfigDir() string {
	if d := os.Getenv("DOCKER_CONFIG"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		home = "/root"
	}
	return filepath.Join(home, ".docker")
}

// credentialKey is the config.json key docker uses for a registry.
func credentialKey(registry string) string {
	switch registry {
	case "", "docker.io", "index.docker.io", "registry-1.docker.io":
		return authn.DefaultAuthKey
	}
	return registry
}

func loadDockerConfig() (*configfile.ConfigFile, error) {
	cf, err := config.Load(DockerConfigDir())
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", filepath.Join(DockerConfigDir(), "config.json"), err)
	}
	return cf, nil
}

// Login checks user and password against registry (host[:port], default
// docker.io) and, if they work, stores them in the docker config.json
// (mode 0600), or in the credential helper that file names.
func (s *Store) Login(ctx context.Context, registry, user, password string, o RegistryOptions) error {
	if registry == "" {
		registry = "docker.io"
	}
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	host := registry
	if host == "docker.io" {
		host = "index.docker.io"
	}
	cfg, err := s.Config()
	if err != nil {
		return err
	}
	reg, err := name.NewRegistry(host, nameOptions(cfg, host, false)...)
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	rt, err := s.transport(cfg, host, false, o.Transport)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	t, err := transport.NewWithContext(ctx, reg, auth, rt, []string{reg.Scope(transport.PullScope)})
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	// A basic-auth registry is only asked on the first request: ask.
	schemes := []string{"https"}
	if cfg.insecure(host) {
		schemes = append(schemes, "http")
	}
	var resp *http.Response
	for _, sc := range schemes {
		req, rerr := http.NewRequestWithContext(ctx, http.MethodGet, sc+"://"+reg.RegistryStr()+"/v2/", nil)
		if rerr != nil {
			return rerr
		}
		if resp, err = (&http.Client{Transport: t}).Do(req); err == nil {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("logging in to %s: %w", registry, err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
		return fmt.Errorf("logging in to %s: wrong user name or password (%s)", registry, resp.Status)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("logging in to %s: registry answered %s", registry, resp.Status)
	}
	cf, err := loadDockerConfig()
	if err != nil {
		return err
	}
	key := credentialKey(registry)
	ac := clitypes.AuthConfig{ServerAddress: key, Username: user, Password: password}
	if usesHelper(cf, key) {
		if err := cf.GetCredentialsStore(key).Store(ac); err != nil {
			return fmt.Errorf("storing credentials for %s: %w", registry, err)
		}
	} else {
		// The file store directly: docker's own prints a warning on stderr.
		if cf.AuthConfigs == nil {
			cf.AuthConfigs = map[string]clitypes.AuthConfig{}
		}
		cf.AuthConfigs[key] = ac
		if err := cf.Save(); err != nil {
			return fmt.Errorf("storing credentials for %s: %w", registry, err)
		}
	}
	return chmodConfig(cf.Filename)
}

// Logout removes the stored credentials of registry.
func (s *Store) Logout(registry string) error {
	if registry == "" {
		registry = "docker.io"
	}
	registry = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(registry, "https://"), "http://"), "/")
	cf, err := loadDockerConfig()
	if err != nil {
		return err
	}
	key := credentialKey(registry)
	if _, ok := cf.AuthConfigs[key]; !ok && cf.CredentialsStore == "" && cf.CredentialHelpers[key] == "" {
		return fmt.Errorf("logging out of %s: not logged in: %w", registry, ErrNotFound)
	}
	if usesHelper(cf, key) {
		if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
			return fmt.Errorf("logging out of %s: %w", registry, err)
		}
	} else {
		delete(cf.AuthConfigs, key)
		if err := cf.Save(); err != nil {
			return fmt.Errorf("logging out of %s: %w", registry, err)
		}
	}
	return chmodConfig(cf.Filename)
}

// usesHelper: config.json names a credential helper for key (credHelpers or credsStore).
func usesHelper(cf *configfile.ConfigFile, key string) bool {
	return cf.CredentialHelpers[key] != "" || cf.CredentialsStore != ""
}

func chmodConfig(p string) error {
	if err := os.Chmod(p, 0o600); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("securing %s: %w", p, err)
	}
	return nil
}
