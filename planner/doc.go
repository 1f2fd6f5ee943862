// Package planner is pure: Diff(desired, observed, opts) compares a
// spec.Stack with plain data about what exists on the host (Observed) and
// returns a Plan — ordered steps, each with an action, a resource, a reason
// and the field-level diff — and renders it for humans and as JSON.
//
// planner imports spec and nothing that touches the host: no executor,
// build, netplan, layers, x/sys, netlink, go-containerregistry or buildkit.
// It does no I/O, reads no clock and uses no randomness.
package planner
