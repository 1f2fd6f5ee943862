// Package cgroups puts containers in cgroups and applies their limits, on
// cgroup v1 (legacy or hybrid) and v2, detected at run time, behind one
// small interface. It imports nothing else from stack.
package cgroups
