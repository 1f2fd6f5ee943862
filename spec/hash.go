package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// HashVersion names the config-hash algorithm. It is the prefix of every
// hash ConfigHash returns ("v1:..."). When the algorithm changes (another
// set of excluded fields, another encoding), the version changes too, and
// the planner, which finds a recorded hash of another version, does not
// take the difference for a change: it recomputes the comparison from the
// last-applied snapshot instead. Upgrading stack therefore never silently
// recreates every container.
const HashVersion = "v1"

// ConfigHash is the stable hash of the service's canonical form: "v1:"
// followed by the hex SHA-256 of the canonical JSON of the service with the
// fields that never force a recreate cleared. Those fields are:
//
//   - Name and Pos (not part of the JSON at all): a rename is a new service,
//     and moving a service in the file changes nothing;
//   - Scale: more or fewer replicas add or remove containers, they do not
//     replace the existing ones;
//   - Profiles: they decide whether the service exists, not what it is;
//   - DependsOn (condition, restart, required): it orders start and stop,
//     the container itself does not change;
//   - Attach: it concerns the terminal of `stack up`, not the container;
//   - PullPolicy: it decides when to pull, and a pulled image of another id
//     replaces the container through the image, not through this hash;
//   - Build: a changed build makes another image, and the planner replaces
//     the image's users because the image changed.
//
// Everything else (command, environment, ports, mounts, networks, limits,
// labels, ...) is in the hash. The JSON is canonical: encoding/json sorts map
// keys, and the loader sorts the lists whose order has no meaning.
func (s *Service) ConfigHash() string {
	c := *s
	c.Scale = 0
	c.Profiles = nil
	c.DependsOn = nil
	c.Attach = nil
	c.PullPolicy = ""
	c.Build = nil
	data, err := json.Marshal(&c)
	if err != nil {
		// A Service holds only strings, numbers, bools, slices and maps of
		// them; Marshal cannot fail on it.
		panic("spec: encoding service " + s.Name + ": " + err.Error())
	}
	sum := sha256.Sum256(data)
	var b strings.Builder
	b.Grow(len(HashVersion) + 1 + 64)
	b.WriteString(HashVersion)
	b.WriteByte(':')
	b.WriteString(hex.EncodeToString(sum[:]))
	return b.String()
}

// Snapshot returns the canonical JSON of the whole service (json.Marshal
// of it, every field including those ConfigHash leaves out). The planner
// stores it as the last-applied snapshot and diffs it field by field to
// explain a change (`~ command: ["a"] → ["b"]`).
func (s *Service) Snapshot() ([]byte, error) {
	return json.Marshal(s)
}
