// Package nsenter holds the small cgo constructor that joins existing
// namespaces before the Go runtime starts (as runc's libcontainer/nsenter),
// because setns(2) into a mount namespace fails in a multi-threaded process.
//
// The constructor acts only in a process started as `<binary> __stack_exec`
// with _STACK_NSENTER_PID set (see Env): it joins the namespaces of that
// process, forks with CLONE_PARENT into the PID namespace, reports the new
// PID on a pipe (ReadReport) and exits; the forked process continues into
// Go. Every other start of the binary returns from it at once. Importing the
// package links the constructor in; it imports nothing from stack.
package nsenter
