// Package build makes images: Dockerfile builds and commits.
//
// Parsing uses buildkit's parser and instructions packages; everything after
// that is stack's own. Parse turns a Dockerfile into a Plan (the stages to
// build for a target, ARGs resolved, BuildKit-only features rejected with
// file:line), Convert expands one stage's instructions over its base
// image's config into Steps (what to run, what to copy) and the resulting
// image config and history, CacheKey keys a step for the build cache, and
// ApplyChanges applies `docker commit -c` changes to a config. These are
// pure.
//
// A Builder executes a Plan: each RUN through the Runner interface (a
// throwaway container of the runtime, which the executor provides), each
// COPY, ADD and WORKDIR as a layer written directly, every step committed
// through the image store (layers) and remembered in the build cache under
// <root>/build-cache (Cache, PruneCache). BuildImage and CommitImage are
// what the executor calls for a compose `build:` section and for the
// stack file's commit extension; CommitContainer is `stack commit`.
//
// build imports layers, never planner, executor or spec; buildkit's
// packages are imported here and nowhere else in stack.
package build
