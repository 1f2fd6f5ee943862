package layers

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// realRegistry is Debian's docker-registry (the distribution registry)
// started on 127.0.0.1 for one test.
type realRegistry struct {
	host   string // 127.0.0.1:port
	caPEM  []byte // nil for plain HTTP
	user   string
	passwd string
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// makeCA makes a CA and a server certificate for 127.0.0.1, in PEM.
func makeCA(t *testing.T, dir string) (caPEM []byte, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "stack test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), certFile, keyFile
}

// bcryptHash makes the htpasswd hash docker-registry wants (bcrypt).
func bcryptHash(t *testing.T, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatalf("making a bcrypt hash: %v", err)
	}
	return string(h)
}

// startRegistry runs docker-registry; with secure, TLS from a fresh CA and
// htpasswd auth. It is stopped (by its PID) when the test ends.
func startRegistry(t *testing.T, secure bool) *realRegistry {
	t.Helper()
	bin, err := exec.LookPath("docker-registry")
	if err != nil {
		if os.Getenv("STACK_TEST_PRIVILEGED") == "1" {
			t.Fatal("docker-registry is not installed (.ci/run installs it: apt-get install docker-registry)")
		}
		t.Skip("docker-registry is not installed (apt-get install docker-registry)")
	}
	dir := t.TempDir()
	reg := &realRegistry{host: fmt.Sprintf("127.0.0.1:%d", freePort(t))}
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(dir, "data"), reg.host)
	if secure {
		ca, cert, key := makeCA(t, dir)
		reg.caPEM, reg.user, reg.passwd = ca, "tester", "s3cret-pw"
		htpasswd := filepath.Join(dir, "htpasswd")
		os.WriteFile(htpasswd, []byte(reg.user+":"+bcryptHash(t, reg.passwd)+"\n"), 0o600)
		cfg += fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\nauth:\n  htpasswd:\n    realm: stack-test\n    path: %s\n", cert, key, htpasswd)
	}
	cfgFile := filepath.Join(dir, "config.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	cmd := exec.Command(bin, "serve", cfgFile)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		logf.Close()
	})
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", reg.host, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return reg
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "log"))
	t.Fatalf("docker-registry did not start on %s: %s", reg.host, b)
	return nil
}

// trust installs the registry's CA for a store (<root>/certs.d/<host>/ca.crt).
func (r *realRegistry) trust(t *testing.T, s *Store) {
	d := filepath.Join(s.Root(), "certs.d", r.host)
	os.MkdirAll(d, 0o755)
	if err := os.WriteFile(filepath.Join(d, "ca.crt"), r.caPEM, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestRealRegistryTLSAuth(t *testing.T) {
	reg := startRegistry(t, true)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	ctx := context.Background()
	src := openTestStore(t)
	ref := reg.host + "/team/app:v1"
	img := threeLayerImage(t, src, ref)

	// Without the CA the certificate is not trusted.
	if err := src.Login(ctx, reg.host, reg.user, reg.passwd, RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("login without the CA: %v", err)
	}
	reg.trust(t, src)
	if err := src.Login(ctx, reg.host, reg.user, "wrong", RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "wrong user name or password") {
		t.Fatalf("login with a bad password: %v", err)
	}
	if _, err := os.Stat(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json")); err == nil {
		t.Fatal("a failed login wrote credentials")
	}
	// Push before login: refused.
	if _, err := src.Push(ctx, ref, RegistryOptions{}); err == nil {
		t.Fatal("push without credentials succeeded")
	}
	if err := src.Login(ctx, reg.host, reg.user, reg.passwd, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("config.json: %v %v", err, fi.Mode())
	}
	b, _ := os.ReadFile(filepath.Join(os.Getenv("DOCKER_CONFIG"), "config.json"))
	if !strings.Contains(string(b), reg.host) || strings.Contains(string(b), reg.passwd) {
		t.Fatalf("config.json content: %s", b)
	}
	digest, err := src.Push(ctx, ref, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	dst := openTestStore(t)
	reg.trust(t, dst)
	got, err := dst.Pull(ctx, ref, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != digest || got.ID != img.ID || fmt.Sprint(got.DiffIDs) != fmt.Sprint(img.DiffIDs) {
		t.Fatalf("pulled %s %s, pushed %s %s", got.Digest, got.ID, digest, img.ID)
	}
	for i, l := range got.Manifest.Layers {
		if l.Digest != img.Manifest.Layers[i].Digest {
			t.Fatalf("layer %d digest changed", i)
		}
	}
	if err := dst.Logout(reg.host); err != nil {
		t.Fatal(err)
	}
	if _, err := dst.Pull(ctx, ref, RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "UNAUTHORIZED") {
		t.Fatalf("pull after logout: %v", err)
	}
	if err := dst.Logout(reg.host); err == nil {
		t.Fatal("second logout succeeded")
	}
}

func TestRealRegistryPlainHTTP(t *testing.T) {
	reg := startRegistry(t, false)
	ctx := context.Background()
	src := openTestStore(t)
	ref := reg.host + "/plain/app:v1"
	img := threeLayerImage(t, src, ref)
	if _, err := src.Push(ctx, ref, RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("push over plain HTTP without insecure-registries: %v", err)
	}
	writeConfig(t, src, `{"insecure-registries":["`+reg.host+`"]}`)
	if _, err := src.Push(ctx, ref, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	dst := openTestStore(t)
	if _, err := dst.Pull(ctx, ref, RegistryOptions{}); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Fatalf("pull over plain HTTP without insecure-registries: %v", err)
	}
	// CIDR form.
	writeConfig(t, dst, `{"insecure-registries":["127.0.0.0/8"]}`)
	got, err := dst.Pull(ctx, ref, RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != img.Digest {
		t.Fatalf("digest %s, want %s", got.Digest, img.Digest)
	}
	// A mirror for docker.io images, served by this registry.
	if err := src.Tag(ref, reg.host+"/library/alpine:3"); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Push(ctx, reg.host+"/library/alpine:3", RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	m := openTestStore(t)
	writeConfig(t, m, `{"registry-mirrors":["http://`+reg.host+`"]}`)
	mi, err := m.Pull(ctx, "alpine:3", RegistryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if mi.ID != img.ID || mi.RepoTags[0] != "alpine:3" {
		t.Fatalf("mirror pull: %s %v", mi.ID, mi.RepoTags)
	}
}

var _ = http.StatusOK

// TestRealRegistryCredentialHelper: with "credsStore" in config.json,
// login stores through docker-credential-<name> and pulls read from it.
func TestRealRegistryCredentialHelper(t *testing.T) {
	reg := startRegistry(t, true)
	cfgDir, binDir, credDir := t.TempDir(), t.TempDir(), t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("PATH", binDir+":"+os.Getenv("PATH"))
	helper := `#!/bin/sh
# A test credential helper: one credential, kept in a file.
f=` + credDir + `/cred
case "$1" in
store) cat > "$f" ;;
get) read server; if [ -f "$f" ]; then cat "$f"; else echo "credentials not found in native keychain"; exit 1; fi ;;
erase) rm -f "$f" ;;
list) echo '{}' ;;
esac
`
	if err := os.WriteFile(filepath.Join(binDir, "docker-credential-stacktest"), []byte(helper), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(`{"credsStore":"stacktest"}`), 0o600)
	ctx := context.Background()
	s := openTestStore(t)
	reg.trust(t, s)
	ref := reg.host + "/helper/app:1"
	threeLayerImage(t, s, ref)
	if err := s.Login(ctx, reg.host, reg.user, reg.passwd, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(credDir, "cred"))
	if err != nil || !strings.Contains(string(b), reg.passwd) {
		t.Fatalf("helper did not get the credentials: %q %v", b, err)
	}
	if cb, _ := os.ReadFile(filepath.Join(cfgDir, "config.json")); strings.Contains(string(cb), "auth\"") {
		t.Fatalf("credentials written to config.json: %s", cb)
	}
	if _, err := s.Push(ctx, ref, RegistryOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Logout(reg.host); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(credDir, "cred")); !os.IsNotExist(err) {
		t.Fatal("logout left the helper's credentials")
	}
}
