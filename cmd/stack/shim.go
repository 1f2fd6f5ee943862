package main

import "github.com/stack-dev/stack/executor"

// The supervisor of detached containers (executor/shim_linux.go).
func init() { registerHidden(executor.ShimEntrypoint, executor.ShimMain) }
