package nsenter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// The environment that arms the constructor. It acts only when the process
// was started as `<binary> __stack_exec ...` with EnvPid set; every other
// start of the binary returns from it at once.
const (
	Entrypoint    = "__stack_exec"          // argv[1] the constructor acts on
	EnvPid        = "_STACK_NSENTER_PID"    // host PID whose namespaces to join
	EnvNamespaces = "_STACK_NSENTER_NS"     // comma-separated: "cgroup,ipc,uts,net,pid,mnt"
	EnvReport     = "_STACK_NSENTER_REPORT" // fd number of the report pipe (write end)
)

// AllNamespaces are the namespaces a container has, in the order they are
// joined: the mount namespace last, because after it /proc is the
// container's (every namespace file is opened before the first setns).
var AllNamespaces = []string{"cgroup", "ipc", "uts", "net", "pid", "mnt"}

// Env returns the environment that makes the constructor join the
// namespaces of pid and report on the pipe whose write end is fd reportFD.
func Env(pid int, namespaces []string, reportFD int) []string {
	return []string{
		EnvPid + "=" + strconv.Itoa(pid),
		EnvNamespaces + "=" + strings.Join(namespaces, ","),
		EnvReport + "=" + strconv.Itoa(reportFD),
	}
}

// ReadReport reads what the constructor wrote on the report pipe: the host
// PID of the process it cloned into the namespaces (a child of the
// caller, through CLONE_PARENT), or its error.
func ReadReport(r io.Reader) (int, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return 0, errors.New("joining namespaces: the process exited without a report")
		}
		return 0, fmt.Errorf("joining namespaces: reading the report: %w", err)
	}
	line = strings.TrimSpace(line)
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return 0, errors.New(msg)
	}
	pid, err := strconv.Atoi(line)
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("joining namespaces: bad report %q", line)
	}
	return pid, nil
}
