// Package executor observes the host (state records cross-checked with the
// kernel) into planner.Observed, and applies a planner.Plan step by step,
// recording each completed step atomically. It translates spec types into
// the subsystems' own config types; it makes no decisions the planner has
// not made.
//
// executor may import planner, spec, build, netplan, layers and its own
// subpackages; never cmd/stack.
package executor
