package container

// ExecInit is the body of the hidden `__stack_exec` entrypoint.
func ExecInit() int { return 1 }
