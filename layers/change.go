package layers

import (
	"encoding/json"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ApplyChanges applies Dockerfile-style instructions, as given to
// `docker import --change` and `docker commit --change`, to an image config:
// CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME, STOPSIGNAL.
// CMD and ENTRYPOINT take the JSON form (["a","b"]) or the shell form
// (run by /bin/sh -c); ENV and LABEL take key=value pairs (quotes allowed)
// or ENV's old "key value" form.
func ApplyChanges(c *v1.Config, changes []string) error {
	for _, ch := range changes {
		if err := applyChange(c, ch); err != nil {
			return fmt.Errorf("change %q: %w", ch, err)
		}
	}
	return nil
}

func applyChange(c *v1.Config, ch string) error {
	ch = strings.TrimSpace(ch)
	instr, rest, _ := strings.Cut(ch, " ")
	rest = strings.TrimSpace(rest)
	if rest == "" {
		return fmt.Errorf("%s needs an argument", strings.ToUpper(instr))
	}
	switch strings.ToUpper(instr) {
	case "CMD":
		v, err := cmdForm(rest)
		if err != nil {
			return err
		}
		c.Cmd = v
	case "ENTRYPOINT":
		v, err := cmdForm(rest)
		if err != nil {
			return err
		}
		c.Entrypoint = v
	case "ENV":
		kv, err := pairs(rest, true)
		if err != nil {
			return err
		}
		for _, p := range kv {
			c.Env = setEnv(c.Env, p[0], p[1])
		}
	case "LABEL":
		kv, err := pairs(rest, false)
		if err != nil {
			return err
		}
		if c.Labels == nil {
			c.Labels = map[string]string{}
		}
		for _, p := range kv {
			c.Labels[p[0]] = p[1]
		}
	case "EXPOSE":
		words, err := splitWords(rest)
		if err != nil {
			return err
		}
		if c.ExposedPorts == nil {
			c.ExposedPorts = map[string]struct{}{}
		}
		for _, w := range words {
			port, proto, _ := strings.Cut(w, "/")
			if proto == "" {
				proto = "tcp"
			}
			if !validPort(port) || (proto != "tcp" && proto != "udp" && proto != "sctp") {
				return fmt.Errorf("EXPOSE %q: want PORT[/tcp|udp|sctp]", w)
			}
			c.ExposedPorts[port+"/"+proto] = struct{}{}
		}
	case "USER":
		c.User = rest
	case "WORKDIR":
		if !strings.HasPrefix(rest, "/") {
			w := c.WorkingDir
			if w == "" {
				w = "/"
			}
			rest = strings.TrimSuffix(w, "/") + "/" + rest
		}
		c.WorkingDir = rest
	case "VOLUME":
		var vols []string
		if strings.HasPrefix(rest, "[") {
			if err := json.Unmarshal([]byte(rest), &vols); err != nil {
				return fmt.Errorf("VOLUME: %w", err)
			}
		} else {
			var err error
			if vols, err = splitWords(rest); err != nil {
				return err
			}
		}
		if c.Volumes == nil {
			c.Volumes = map[string]struct{}{}
		}
		for _, v := range vols {
			c.Volumes[v] = struct{}{}
		}
	case "STOPSIGNAL":
		c.StopSignal = rest
	default:
		return fmt.Errorf("unknown instruction %q (want CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR, VOLUME or STOPSIGNAL)", instr)
	}
	return nil
}

func validPort(p string) bool {
	lo, hi, isRange := strings.Cut(p, "-")
	for _, x := range []string{lo, hi} {
		if x == "" && (x == lo || isRange) {
			return false
		}
		n := 0
		for _, r := range x {
			if r < '0' || r > '9' {
				return false
			}
			n = n*10 + int(r-'0')
			if n > 65535 {
				return false
			}
		}
	}
	return true
}

// cmdForm parses the JSON (exec) form or the shell form.
func cmdForm(s string) ([]string, error) {
	if strings.HasPrefix(s, "[") {
		var v []string
		if err := json.Unmarshal([]byte(s), &v); err == nil {
			return v, nil
		}
	}
	return []string{"/bin/sh", "-c", s}, nil
}

func setEnv(env []string, k, v string) []string {
	for i, e := range env {
		if strings.HasPrefix(e, k+"=") {
			env[i] = k + "=" + v
			return env
		}
	}
	return append(env, k+"="+v)
}

// pairs parses k=v k2="v 2" ...; with legacy, "KEY value with spaces" too.
func pairs(s string, legacy bool) ([][2]string, error) {
	words, err := splitWords(s)
	if err != nil {
		return nil, err
	}
	if legacy && len(words) > 0 && !strings.Contains(words[0], "=") {
		k, v, _ := strings.Cut(s, " ")
		return [][2]string{{k, strings.TrimSpace(v)}}, nil
	}
	var out [][2]string
	for _, w := range words {
		k, v, ok := strings.Cut(w, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%q: want key=value", w)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

// splitWords splits on blanks, honouring "..." and '...' quotes and backslashes.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	in := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
			in = true
		case r == '\\' && quote != '\'':
			esc = true
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '"' || r == '\'':
			quote = r
			in = true
		case r == ' ' || r == '\t':
			if in {
				words = append(words, cur.String())
				cur.Reset()
				in = false
			}
		default:
			cur.WriteRune(r)
			in = true
		}
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated quote in %q", s)
	}
	if esc {
		return nil, fmt.Errorf("trailing backslash in %q", s)
	}
	if in {
		words = append(words, cur.String())
	}
	return words, nil
}
