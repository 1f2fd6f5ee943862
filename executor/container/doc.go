// Package container is stack's container runtime: the re-exec init,
// namespaces, the root filesystem, capabilities, seccomp, the per-container
// shim, logs and exec. It takes its own config types and imports nothing
// from spec, planner, build or executor.
package container
