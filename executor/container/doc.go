// Package container is stack's container runtime: the re-exec init,
// namespaces, the root filesystem, capabilities, seccomp, exec, and the
// state records of a container (state.json) that supervisors and commands
// share.
//
// A container is started in two steps that may be one (Start): Spawn starts
// `stack __stack_init` in new namespaces, where it waits for its Config;
// Pending.Start sends the Config, puts the process in its cgroups (a
// Joiner), calls the network hook and lets it exec the command. The
// protocol is drawn in sync_linux.go. Exec runs a command in a running
// container through the nsenter constructor.
//
// It takes its own config types and imports nothing from stack except
// executor/nsenter (whose constructor must be linked into every binary that
// calls Exec): never spec, planner, build, netplan, layers or executor.
package container
