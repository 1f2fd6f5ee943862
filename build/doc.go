// Package build makes images: Dockerfile builds and commits.
//
// Parsing uses buildkit's parser and instructions packages; everything after
// that is stack's own and pure: Parse turns a Dockerfile into a Plan (the
// stages to build for a target, ARGs resolved, BuildKit-only features
// rejected with file:line), Convert expands one stage's instructions over
// its base image's config into Steps (what to run, what to copy) and the
// resulting image config and history, CacheKey keys a step for the build
// cache, and ApplyChanges applies `docker commit -c` changes to a config.
//
// Execution (running RUN steps through the Runner interface, writing
// layers through layers) is done by the caller. build imports layers,
// never planner, executor or spec; buildkit's packages are imported here
// and nowhere else in stack.
package build
