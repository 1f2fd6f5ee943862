package nsenter

import (
	"strings"
	"testing"
)

func TestReadReport(t *testing.T) {
	for _, tc := range []struct {
		in   string
		pid  int
		errs string
	}{
		{"1234\n", 1234, ""},
		{"error: joining the mnt namespace of 7: operation not permitted\n", 0, "joining the mnt namespace of 7: operation not permitted"},
		{"", 0, "joining namespaces: the process exited without a report"},
		{"x\n", 0, `joining namespaces: bad report "x"`},
	} {
		pid, err := ReadReport(strings.NewReader(tc.in))
		if pid != tc.pid || (err == nil) != (tc.errs == "") || (err != nil && err.Error() != tc.errs) {
			t.Errorf("ReadReport(%q) = %d, %v; want %d, %q", tc.in, pid, err, tc.pid, tc.errs)
		}
	}
	env := Env(42, AllNamespaces, 3)
	want := []string{"_STACK_NSENTER_PID=42", "_STACK_NSENTER_NS=cgroup,ipc,uts,net,pid,mnt", "_STACK_NSENTER_REPORT=3"}
	if strings.Join(env, " ") != strings.Join(want, " ") {
		t.Errorf("Env = %v", env)
	}
}
