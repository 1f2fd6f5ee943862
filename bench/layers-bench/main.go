// Command layers-bench compares stack's image code with its peers in the
// same run, alternating A B A B, and prints medians and ratios:
//
//	layers-bench unpack [-files 20000] [-mb 200] [-runs 7]
//	    layers.Unpack (as `layers-bench do-unpack`, a subprocess) against
//	    GNU `tar -x` of the same uncompressed tar.
//	layers-bench pull -stack BIN [-layers 5] [-mb 50] [-runs 7]
//	    `stack pull` into a fresh state root against `skopeo copy` to a fresh
//	    OCI directory, from Debian's docker-registry on 127.0.0.1 (plain
//	    HTTP, listed in insecure-registries); also reports stack's peak RSS,
//	    and the RSS of a pull of one big layer (-rssmb).
//
// It writes only under a temp dir and stops the registry it starts by PID.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"math/rand"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/stack-dev/stack/layers"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: layers-bench unpack|pull [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "do-unpack":
		err = doUnpack(os.Args[2], os.Args[3])
	case "mktar": // layers-bench mktar FILE: the unpack benchmark's tar, for profiling
		err = makeTar(os.Args[2], 20000, 200)
	case "unpack":
		err = benchUnpack(os.Args[2:])
	case "pull":
		err = benchPull(os.Args[2:])
	default:
		err = fmt.Errorf("unknown mode %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "layers-bench:", err)
		os.Exit(1)
	}
}

func doUnpack(file, dir string) error {
	if p := os.Getenv("LAYERS_BENCH_CPUPROFILE"); p != "" {
		pf, err := os.Create(p)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = layers.Unpack(f, dir, layers.UnpackOptions{})
	return err
}

// result of one timed command.
type result struct {
	d      time.Duration
	maxRSS int64 // KiB
}

// run times a command. Peak RSS comes from GNU time (-f %M): the rusage of
// a child forked from this (large) process would count its memory too.
func run(name string, args ...string) (result, error) {
	cmd := exec.Command("/usr/bin/time", append([]string{"-f", "rss %M", name}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, stderr.String())
	}
	var rss int64
	for _, line := range strings.Split(stderr.String(), "\n") {
		if v, ok := strings.CutPrefix(line, "rss "); ok {
			fmt.Sscan(v, &rss)
		}
	}
	return result{d: d, maxRSS: rss}, nil
}

func median(ds []time.Duration) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

// makeTree writes a tar of n files totalling about mb MiB: a mix of small
// and larger files in nested directories, with some symlinks and hard links.
func makeTar(path string, n, mb int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	rng := rand.New(rand.NewSource(1))
	total := int64(mb) << 20
	avg := total * 100 / 123 / int64(n) // the size mix below averages 1.23 × avg
	buf := make([]byte, 4<<20)
	rng.Read(buf)
	now := time.Unix(1700000000, 0)
	dirs := 0
	lastReg := ""
	for i := 0; i < n; i++ {
		dir := fmt.Sprintf("d%03d/s%02d", i/200, (i/20)%10)
		if i%20 == 0 {
			for _, d := range []string{fmt.Sprintf("d%03d", i/200), dir} {
				if i%200 == 0 || d == dir {
					tw.WriteHeader(&tar.Header{Name: d + "/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now})
					dirs++
				}
			}
		}
		name := fmt.Sprintf("%s/f%05d", dir, i)
		switch {
		case i%97 == 1:
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: "f00000", Mode: 0o777, ModTime: now})
			continue
		case i%101 == 2 && lastReg != "":
			tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: lastReg, ModTime: now})
			continue
		}
		lastReg = name
		// Sizes: 70% small (~avg/8), 30% larger, mean about avg.
		size := avg / 8
		if rng.Intn(10) < 3 {
			size = avg * 3
		}
		size += rng.Int63n(size/2 + 1)
		if err := tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size, ModTime: now, Uid: 1000, Gid: 1000}); err != nil {
			return err
		}
		for left := size; left > 0; {
			off := rng.Intn(len(buf) - int(min(left, int64(len(buf))/2)))
			chunk := buf[off : off+int(min(left, int64(len(buf))/2))]
			if _, err := tw.Write(chunk); err != nil {
				return err
			}
			left -= int64(len(chunk))
		}
	}
	return tw.Close()
}

func benchUnpack(args []string) error {
	fs := flag.NewFlagSet("unpack", flag.ExitOnError)
	files := fs.Int("files", 20000, "number of files")
	mb := fs.Int("mb", 200, "total MiB")
	runs := fs.Int("runs", 7, "runs of each")
	fs.Parse(args)
	tmp, err := os.MkdirTemp("", "layers-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	tarPath := filepath.Join(tmp, "layer.tar")
	if err := makeTar(tarPath, *files, *mb); err != nil {
		return err
	}
	fi, _ := os.Stat(tarPath)
	self, _ := os.Executable()
	tarVersion, _ := exec.Command("tar", "--version").Output()
	fmt.Printf("unpack: %d entries, %.0f MB tar; GNU %s", *files, float64(fi.Size())/1e6, strings.SplitN(string(tarVersion), "\n", 2)[0]+"\n")
	var a, b []time.Duration
	for i := 0; i < *runs; i++ {
		for j, cmd := range [][]string{{"tar", "-xf", tarPath, "-C"}, {self, "do-unpack", tarPath}} {
			dir := filepath.Join(tmp, "out")
			os.RemoveAll(dir)
			os.Mkdir(dir, 0o755)
			exec.Command("sync").Run()
			r, err := run(cmd[0], append(cmd[1:], dir)...)
			if err != nil {
				return err
			}
			if j == 0 {
				a = append(a, r.d)
			} else {
				b = append(b, r.d)
			}
		}
	}
	ma, mbd := median(a), median(b)
	fmt.Printf("  tar -x          median %v  (runs %v)\n", ma.Round(time.Millisecond), roundAll(a))
	fmt.Printf("  layers.Unpack   median %v  (runs %v)\n", mbd.Round(time.Millisecond), roundAll(b))
	fmt.Printf("  ratio stack/tar %.2f (target <= 1.20)\n", float64(mbd)/float64(ma))
	return nil
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startRegistry runs docker-registry on a free 127.0.0.1 port (plain HTTP).
func startRegistry(tmp string) (string, func(), error) {
	port, err := freePort()
	if err != nil {
		return "", nil, err
	}
	host := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n", filepath.Join(tmp, "registry"), host)
	cfgFile := filepath.Join(tmp, "registry.yml")
	os.WriteFile(cfgFile, []byte(cfg), 0o600)
	cmd := exec.Command("docker-registry", "serve", cfgFile)
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait() }
	for i := 0; i < 100; i++ {
		if c, err := net.DialTimeout("tcp", host, 100*time.Millisecond); err == nil {
			c.Close()
			return host, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("docker-registry did not start")
}

// makeImage imports n layers of about mb MiB in all (each a tar of files of
// half-random, half-repetitive bytes) into the store at root and tags ref.
func makeImage(root, ref string, n, mb int) error {
	s, err := layers.Open(root)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewSource(2))
	per := int64(mb) << 20 / int64(n)
	base := ""
	for i := 0; i < n; i++ {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		files := 50
		for j := 0; j < files; j++ {
			data := make([]byte, per/int64(files))
			rng.Read(data[:len(data)/2]) // half random, half zeros: gzip halves it
			tw.WriteHeader(&tar.Header{Name: fmt.Sprintf("l%d/f%03d", i, j), Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)})
			tw.Write(data)
		}
		tw.Close()
		opts := layers.CommitOptions{Base: base, Layer: &buf, CreatedBy: fmt.Sprintf("layer %d", i)}
		if i == n-1 {
			opts.Tags = []string{ref}
		}
		img, err := s.Commit(opts)
		if err != nil {
			return err
		}
		base = img.ID
	}
	return nil
}

func benchPull(args []string) error {
	fs := flag.NewFlagSet("pull", flag.ExitOnError)
	stack := fs.String("stack", "bin/stack", "stack binary")
	nl := fs.Int("layers", 5, "layers")
	mb := fs.Int("mb", 50, "MiB of layer content in all")
	rssMB := fs.Int("rssmb", 300, "MiB of the one-layer image for the RSS check (0: skip)")
	dockerd := fs.String("dockerd", "/usr/sbin/dockerd", "dockerd to compare `docker pull` with (empty or missing: skip); it runs with its own data root in the temp dir")
	runs := fs.Int("runs", 7, "runs of each")
	fs.Parse(args)
	stackBin, err := filepath.Abs(*stack)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "layers-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	host, stop, err := startRegistry(tmp)
	if err != nil {
		return err
	}
	defer stop()
	src := filepath.Join(tmp, "src")
	ref := host + "/bench/img:1"
	if err := makeImage(src, ref, *nl, *mb); err != nil {
		return err
	}
	cfg := []byte(`{"insecure-registries":["` + host + `"]}`)
	os.WriteFile(filepath.Join(src, "config.json"), cfg, 0o644)
	if _, err := run(stackBin, "--root", src, "push", "-q", ref); err != nil {
		return err
	}
	var docker []string
	if _, err := os.Stat(*dockerd); *dockerd != "" && err == nil {
		d, stopDocker, err := startDockerd(*dockerd, tmp, host)
		if err != nil {
			return err
		}
		defer stopDocker()
		docker = d
	}
	sv, _ := exec.Command("skopeo", "--version").Output()
	fmt.Printf("pull: %d layers, %d MiB content, from docker-registry on %s; %s", *nl, *mb, host, sv)
	var a, b, c, dk []time.Duration
	var rss []int64
	for i := 0; i < *runs; i++ {
		oci := filepath.Join(tmp, "oci")
		root := filepath.Join(tmp, "root")
		fresh := func() {
			os.RemoveAll(oci)
			os.RemoveAll(root)
			os.MkdirAll(root, 0o755)
			os.WriteFile(filepath.Join(root, "config.json"), cfg, 0o644)
			exec.Command("sync").Run()
		}
		fresh()
		r, err := run("skopeo", "copy", "-q", "--src-tls-verify=false", "docker://"+ref, "oci:"+oci+":img")
		if err != nil {
			return err
		}
		a = append(a, r.d)
		fresh()
		r, err = run(stackBin, "--root", root, "pull", "-q", ref)
		if err != nil {
			return err
		}
		b = append(b, r.d)
		rss = append(rss, r.maxRSS)
		fresh()
		r, err = run(stackBin, "--root", root, "pull", "-q", "--no-unpack", ref)
		if err != nil {
			return err
		}
		c = append(c, r.d)
		rss = append(rss, r.maxRSS)
		if docker != nil {
			exec.Command(docker[0], append(docker[1:], "rmi", "-f", ref)...).Run()
			exec.Command("sync").Run()
			r, err = run(docker[0], append(docker[1:], "pull", "-q", ref)...)
			if err != nil {
				return err
			}
			dk = append(dk, r.d)
		}
	}
	ma, mbd := median(a), median(b)
	fmt.Printf("  skopeo copy → oci:      median %v  (runs %v)\n", ma.Round(time.Millisecond), roundAll(a))
	fmt.Printf("  stack pull:             median %v  (runs %v)\n", mbd.Round(time.Millisecond), roundAll(b))
	mc := median(c)
	fmt.Printf("  stack pull --no-unpack: median %v  (runs %v)\n", mc.Round(time.Millisecond), roundAll(c))
	fmt.Printf("  ratio stack pull/skopeo %.2f, stack pull --no-unpack/skopeo %.2f (target <= 1.00); stack pull peak RSS %.1f MiB\n",
		float64(mbd)/float64(ma), float64(mc)/float64(ma), float64(maxOf(rss))/1024)
	if dk != nil {
		md := median(dk)
		dv, _ := exec.Command(docker[0], append(docker[1:], "version", "-f", "{{.Server.Version}}")...).Output()
		fmt.Printf("  docker pull (dockerd %s): median %v  (runs %v)\n", strings.TrimSpace(string(dv)), md.Round(time.Millisecond), roundAll(dk))
		fmt.Printf("  ratio stack pull/docker pull %.2f, stack pull --no-unpack/docker pull %.2f (target <= 0.30)\n", float64(mbd)/float64(md), float64(mc)/float64(md))
	}
	if *rssMB > 0 {
		big := host + "/bench/big:1"
		if err := makeImage(src, big, 1, *rssMB); err != nil {
			return err
		}
		if _, err := run(stackBin, "--root", src, "push", "-q", big); err != nil {
			return err
		}
		root := filepath.Join(tmp, "root-big")
		os.MkdirAll(root, 0o755)
		os.WriteFile(filepath.Join(root, "config.json"), cfg, 0o644)
		r, err := run(stackBin, "--root", root, "pull", "-q", big)
		if err != nil {
			return err
		}
		fmt.Printf("  stack pull of one %d MiB layer: %v, peak RSS %.1f MiB (target <= 64)\n", *rssMB, r.d.Round(time.Millisecond), float64(r.maxRSS)/1024)
	}
	return nil
}

// startDockerd runs dockerd with everything under tmp (data root, exec
// root, socket), no iptables and no bridge, trusting the plain-HTTP
// registry; it returns the docker command prefix and a stop function.
func startDockerd(bin, tmp, registry string) ([]string, func(), error) {
	dir := filepath.Join(tmp, "docker")
	os.MkdirAll(dir, 0o700)
	sock := "unix://" + filepath.Join(dir, "docker.sock")
	cmd := exec.Command(bin, "--data-root", filepath.Join(dir, "data"), "--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "pid"), "-H", sock, "--iptables=false", "--ip6tables=false", "--bridge=none",
		"--insecure-registry", registry)
	logf, _ := os.Create(filepath.Join(dir, "log"))
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		exec.Command("umount", "-R", filepath.Join(dir, "data")).Run()
		logf.Close()
	}
	client := "/usr/bin/docker"
	if _, err := os.Stat(client); err != nil {
		client = "docker"
	}
	prefix := []string{client, "-H", sock}
	for i := 0; i < 100; i++ {
		if exec.Command(client, "-H", sock, "version").Run() == nil {
			return prefix, stop, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop()
	return nil, nil, fmt.Errorf("dockerd did not start; see %s", filepath.Join(dir, "log"))
}

func maxOf(xs []int64) int64 {
	var m int64
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
