package container

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// profileVersion names the profile source in cache keys: bump it with the
// github.com/moby/profiles/seccomp version.
const profileVersion = "moby-profiles-seccomp-v0.3.0"

// DefaultSeccomp returns docker's default seccomp profile for a container
// with the capabilities caps (the profile allows more syscalls to, e.g.,
// CAP_SYS_ADMIN), compiled to BPF. With a cacheDir, the program is kept
// there, keyed by what it depends on (profile version, capabilities,
// architecture, kernel release): compiling takes milliseconds a container
// start should not spend.
func DefaultSeccomp(caps []string, cacheDir string) ([]byte, error) {
	var key string
	if cacheDir != "" {
		var uts unix.Utsname
		unix.Uname(&uts)
		sorted := append([]string(nil), caps...)
		sort.Strings(sorted)
		sum := sha256.Sum256([]byte(profileVersion + "\x00" + runtime.GOARCH + "\x00" +
			unix.ByteSliceToString(uts.Release[:]) + "\x00" + strings.Join(sorted, ",")))
		key = filepath.Join(cacheDir, hex.EncodeToString(sum[:16])+".bpf")
		if b, err := os.ReadFile(key); err == nil && len(b) > 0 && len(b)%8 == 0 {
			return b, nil
		}
	}
	prof, err := seccomp.GetDefaultProfile(&specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: caps},
	}})
	if err != nil {
		return nil, fmt.Errorf("building default seccomp profile: %w", err)
	}
	bpf, err := CompileSeccomp(prof)
	if err != nil {
		return nil, err
	}
	if key != "" {
		if err := os.MkdirAll(cacheDir, 0o700); err == nil {
			WriteFileAtomic(key, bpf, 0o600, false)
		}
	}
	return bpf, nil
}

// SeccompFromJSON compiles a docker seccomp profile (the JSON that
// `--security-opt seccomp=FILE` names) for a container with caps.
func SeccompFromJSON(body []byte, caps []string) ([]byte, error) {
	prof, err := seccomp.LoadProfile(string(body), &specs.Spec{Process: &specs.Process{
		Capabilities: &specs.LinuxCapabilities{Bounding: caps},
	}})
	if err != nil {
		return nil, err
	}
	return CompileSeccomp(prof)
}

// CompileSeccomp compiles an OCI seccomp profile to a BPF program with
// libseccomp. Syscalls this libseccomp does not know are skipped, as runc
// does.
func CompileSeccomp(s *specs.LinuxSeccomp) ([]byte, error) {
	def, err := seccompAction(s.DefaultAction, s.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	if err := f.SetNoNewPrivsBit(false); err != nil {
		return nil, err
	}
	for _, a := range s.Architectures {
		arch, err := libseccomp.GetArchFromString(strings.TrimPrefix(strings.ToLower(string(a)), "scmp_arch_"))
		if err != nil {
			continue
		}
		if err := f.AddArch(arch); err != nil && !errors.Is(err, syscall.EEXIST) {
			return nil, fmt.Errorf("adding seccomp arch %s: %w", a, err)
		}
	}
	for _, rule := range s.Syscalls {
		act, err := seccompAction(rule.Action, rule.ErrnoRet)
		if err != nil {
			return nil, err
		}
		if act == def {
			continue
		}
		conds, split, err := seccompConditions(rule.Args)
		if err != nil {
			return nil, err
		}
		for _, name := range rule.Names {
			sc, err := libseccomp.GetSyscallFromName(name)
			if err != nil {
				continue // unknown here
			}
			switch {
			case len(conds) == 0:
				err = f.AddRule(sc, act)
			case split:
				// Conditions on the same argument are alternatives:
				// one rule each.
				for _, c := range conds {
					if err = f.AddRuleConditional(sc, act, []libseccomp.ScmpCondition{c}); err != nil {
						break
					}
				}
			default:
				err = f.AddRuleConditional(sc, act, conds)
			}
			if err != nil {
				return nil, fmt.Errorf("adding seccomp rule for %s: %w", name, err)
			}
		}
	}
	// libseccomp 2.5 (Debian 12) has no seccomp_export_bpf_mem: export
	// into a memfd and read it back.
	fd, err := unix.MemfdCreate("seccomp-bpf", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	mf := os.NewFile(uintptr(fd), "seccomp-bpf")
	defer mf.Close()
	if err := f.ExportBPF(mf); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	if _, err := mf.Seek(0, 0); err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	bpf, err := io.ReadAll(mf)
	if err != nil {
		return nil, fmt.Errorf("exporting seccomp filter: %w", err)
	}
	return bpf, nil
}

func seccompAction(a specs.LinuxSeccompAction, errnoRet *uint) (libseccomp.ScmpAction, error) {
	ret := func(def uint) int16 {
		if errnoRet != nil {
			return int16(*errnoRet)
		}
		return int16(def)
	}
	switch a {
	case specs.ActKill, specs.ActKillThread:
		return libseccomp.ActKillThread, nil
	case specs.ActKillProcess:
		return libseccomp.ActKillProcess, nil
	case specs.ActErrno:
		return libseccomp.ActErrno.SetReturnCode(ret(uint(unix.EPERM))), nil
	case specs.ActTrap:
		return libseccomp.ActTrap, nil
	case specs.ActAllow:
		return libseccomp.ActAllow, nil
	case specs.ActTrace:
		return libseccomp.ActTrace.SetReturnCode(ret(uint(unix.EPERM))), nil
	case specs.ActLog:
		return libseccomp.ActLog, nil
	}
	return 0, fmt.Errorf("seccomp action %q is not supported", a)
}

func seccompConditions(args []specs.LinuxSeccompArg) ([]libseccomp.ScmpCondition, bool, error) {
	ops := map[specs.LinuxSeccompOperator]libseccomp.ScmpCompareOp{
		specs.OpNotEqual: libseccomp.CompareNotEqual, specs.OpLessThan: libseccomp.CompareLess,
		specs.OpLessEqual: libseccomp.CompareLessOrEqual, specs.OpEqualTo: libseccomp.CompareEqual,
		specs.OpGreaterEqual: libseccomp.CompareGreaterEqual, specs.OpGreaterThan: libseccomp.CompareGreater,
		specs.OpMaskedEqual: libseccomp.CompareMaskedEqual,
	}
	var conds []libseccomp.ScmpCondition
	seen := map[uint]bool{}
	split := false
	for _, a := range args {
		op, ok := ops[a.Op]
		if !ok {
			return nil, false, fmt.Errorf("seccomp operator %q is not supported", a.Op)
		}
		var c libseccomp.ScmpCondition
		var err error
		if op == libseccomp.CompareMaskedEqual {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value, a.ValueTwo)
		} else {
			c, err = libseccomp.MakeCondition(a.Index, op, a.Value)
		}
		if err != nil {
			return nil, false, err
		}
		if seen[a.Index] {
			split = true
		}
		seen[a.Index] = true
		conds = append(conds, c)
	}
	return conds, split, nil
}
