// Package build makes images: Dockerfile builds (buildkit's parser and
// instructions packages; execution is stack's own) and commits, each layer
// through layers. RUN steps go through the small Runner interface, which
// the executor's runtime satisfies. build imports layers, never planner or
// executor.
package build
