// Package nsenter holds the small cgo constructor that joins existing
// namespaces before the Go runtime starts (as runc's libcontainer/nsenter),
// because setns(2) into a mount namespace fails in a multi-threaded process.
package nsenter
