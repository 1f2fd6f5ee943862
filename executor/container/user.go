package container

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// ExecUser is a resolved --user: the IDs and home directory a process runs with.
type ExecUser struct {
	UID    int
	GID    int
	Groups []int // supplementary groups
	Home   string
}

type passwdEntry struct {
	name     string
	uid, gid int
	home     string
}

type groupEntry struct {
	name    string
	gid     int
	members []string
}

func parsePasswd(r io.Reader) []passwdEntry {
	var out []passwdEntry
	if r == nil {
		return out
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) < 4 || strings.HasPrefix(f[0], "#") {
			continue
		}
		uid, err1 := strconv.Atoi(f[2])
		gid, err2 := strconv.Atoi(f[3])
		if err1 != nil || err2 != nil {
			continue
		}
		e := passwdEntry{name: f[0], uid: uid, gid: gid}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	}
	return out
}

func parseGroup(r io.Reader) []groupEntry {
	var out []groupEntry
	if r == nil {
		return out
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		f := strings.Split(strings.TrimSpace(sc.Text()), ":")
		if len(f) < 3 || strings.HasPrefix(f[0], "#") {
			continue
		}
		gid, err := strconv.Atoi(f[2])
		if err != nil {
			continue
		}
		e := groupEntry{name: f[0], gid: gid}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	}
	return out
}

// ResolveUser resolves docker's --user value (name, uid, name:group,
// uid:gid, ...) against the container's passwd and group files (either may
// be nil), as docker does: a name must exist; a number need not; without an
// explicit group, the user's primary group and the groups listing it as a
// member apply; additional groups (names or numbers) are appended.
func ResolveUser(spec string, passwd, group io.Reader, additional []string) (ExecUser, error) {
	users := parsePasswd(passwd)
	groups := parseGroup(group)
	userArg, groupArg, hasGroup := strings.Cut(spec, ":")
	u := ExecUser{UID: 0, GID: 0, Home: "/"}
	var name string
	if userArg == "" {
		userArg = "0"
	}
	if n, err := strconv.Atoi(userArg); err == nil {
		if n < 0 {
			return u, fmt.Errorf("invalid user %q: negative uid", spec)
		}
		u.UID = n
		for _, e := range users {
			if e.uid == n {
				u.GID, u.Home, name = e.gid, e.home, e.name
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userArg {
				u.UID, u.GID, u.Home, name = e.uid, e.gid, e.home, e.name
				found = true
				break
			}
		}
		if !found {
			return u, fmt.Errorf("unable to find user %s: no matching entries in passwd file", userArg)
		}
	}
	if u.Home == "" {
		u.Home = "/"
	}
	if hasGroup && groupArg != "" {
		gid, err := lookupGroup(groups, groupArg)
		if err != nil {
			return u, err
		}
		u.GID = gid
	} else if name != "" {
		for _, g := range groups {
			for _, m := range g.members {
				if m == name && g.gid != u.GID {
					u.Groups = appendUnique(u.Groups, g.gid)
				}
			}
		}
	}
	for _, a := range additional {
		gid, err := lookupGroup(groups, a)
		if err != nil {
			return u, err
		}
		u.Groups = appendUnique(u.Groups, gid)
	}
	return u, nil
}

func lookupGroup(groups []groupEntry, arg string) (int, error) {
	if n, err := strconv.Atoi(arg); err == nil {
		if n < 0 {
			return 0, fmt.Errorf("invalid group %q: negative gid", arg)
		}
		return n, nil
	}
	for _, g := range groups {
		if g.name == arg {
			return g.gid, nil
		}
	}
	return 0, fmt.Errorf("unable to find group %s: no matching entries in group file", arg)
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// resolveUserIn resolves spec against root's /etc/passwd and /etc/group.
func resolveUserIn(root, spec string, additional []string) (ExecUser, error) {
	var pr, gr io.Reader
	if f, err := os.Open(root + "/etc/passwd"); err == nil {
		defer f.Close()
		pr = f
	}
	if f, err := os.Open(root + "/etc/group"); err == nil {
		defer f.Close()
		gr = f
	}
	return ResolveUser(spec, pr, gr, additional)
}
