package main

import "github.com/stack-dev/stack/executor/container"

// The container runtime's hidden entrypoints: the container's init, and the
// process `stack exec` starts (after the nsenter constructor has joined the
// container's namespaces).
func init() {
	registerHidden("__stack_init", func([]string) int { return container.Init() })
	registerHidden("__stack_exec", func([]string) int { return container.ExecInit() })
}
