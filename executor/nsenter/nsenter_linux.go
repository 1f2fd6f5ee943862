//go:build linux && cgo

package nsenter

/*
#cgo CFLAGS: -Wall -O2
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

// stack_nsenter runs before the Go runtime starts (a constructor), while
// the process is still single-threaded: setns(2) into a mount namespace
// fails with EINVAL in a multi-threaded process, so Go code cannot do it.
//
// It does nothing unless argv[1] is "__stack_exec" and _STACK_NSENTER_PID
// is set. Then it opens /proc/<pid>/ns/<ns> for every namespace named in
// _STACK_NSENTER_NS (all before the first setns: once in the container's
// mount namespace, /proc is the container's), joins them in order, and
// clones itself with CLONE_PARENT: joining a PID namespace only affects
// children, and CLONE_PARENT makes that child a child of our caller, who can
// wait for it. The clone reports the child's PID on the pipe
// _STACK_NSENTER_REPORT and exits; the child returns from here and runs Go.

static void stack_nsenter_fail(int fd, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof(buf) - 1)
		n = sizeof(buf) - 1;
	if (fd >= 0) {
		dprintf(fd, "error: %s\n", buf);
	} else {
		fprintf(stderr, "stack nsenter: %s\n", buf);
	}
	_exit(1);
}

static const struct {
	const char *name;
	int flag;
} stack_ns_kinds[] = {
	{"cgroup", CLONE_NEWCGROUP}, {"ipc", CLONE_NEWIPC}, {"uts", CLONE_NEWUTS},
	{"net", CLONE_NEWNET}, {"pid", CLONE_NEWPID}, {"mnt", CLONE_NEWNS},
	{"user", CLONE_NEWUSER}, {"time", CLONE_NEWTIME},
};

static jmp_buf stack_nsenter_env;
static char stack_nsenter_stack[64 * 1024] __attribute__((aligned(16)));

static int stack_nsenter_child(void *arg)
{
	(void)arg;
	longjmp(stack_nsenter_env, 1);
	return 0;
}

__attribute__((constructor)) static void stack_nsenter(int argc, char **argv, char **envp)
{
	const char *pidstr, *list, *rep;
	char buf[256], *tok, *save = NULL;
	int fds[8], flags[8], n = 0, i, k, report, pid;
	pid_t child;

	(void)envp;
	if (argc < 2 || strcmp(argv[1], "__stack_exec") != 0)
		return;
	pidstr = getenv("_STACK_NSENTER_PID");
	if (pidstr == NULL)
		return;
	rep = getenv("_STACK_NSENTER_REPORT");
	report = rep ? atoi(rep) : -1;
	if (report < 3)
		stack_nsenter_fail(-1, "_STACK_NSENTER_REPORT is not a pipe");
	pid = atoi(pidstr);
	if (pid <= 0)
		stack_nsenter_fail(report, "bad target pid %s", pidstr);
	list = getenv("_STACK_NSENTER_NS");
	if (list == NULL || strlen(list) >= sizeof(buf))
		stack_nsenter_fail(report, "no namespaces to join");
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		char path[64];
		int flag = 0;
		for (k = 0; k < (int)(sizeof(stack_ns_kinds) / sizeof(stack_ns_kinds[0])); k++)
			if (strcmp(tok, stack_ns_kinds[k].name) == 0)
				flag = stack_ns_kinds[k].flag;
		if (flag == 0 || n == 8)
			stack_nsenter_fail(report, "unknown namespace %s", tok);
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", pid, tok);
		fds[n] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[n] < 0)
			stack_nsenter_fail(report, "opening %s: %s", path, strerror(errno));
		flags[n++] = flag;
	}
	for (i = 0; i < n; i++) {
		if (setns(fds[i], flags[i]) < 0) {
			for (k = 0; k < (int)(sizeof(stack_ns_kinds) / sizeof(stack_ns_kinds[0])); k++)
				if (stack_ns_kinds[k].flag == flags[i])
					break;
			stack_nsenter_fail(report, "joining the %s namespace of %d: %s",
					   k < 8 ? stack_ns_kinds[k].name : "?", pid, strerror(errno));
		}
		close(fds[i]);
	}
	if (setjmp(stack_nsenter_env) == 1) {
		// The clone: in every namespace now. Go starts from here.
		close(report);
		unsetenv("_STACK_NSENTER_PID");
		unsetenv("_STACK_NSENTER_NS");
		unsetenv("_STACK_NSENTER_REPORT");
		return;
	}
	child = clone(stack_nsenter_child, stack_nsenter_stack + sizeof(stack_nsenter_stack),
		      CLONE_PARENT | SIGCHLD, NULL);
	if (child < 0)
		stack_nsenter_fail(report, "clone: %s", strerror(errno));
	dprintf(report, "%d\n", child);
	_exit(0);
}
*/
import "C"
