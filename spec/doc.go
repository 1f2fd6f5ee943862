// Package spec is the stack file model: it discovers, parses, merges,
// interpolates, validates and normalizes compose-spec files (plus stack's
// x-stack-* extensions) into a canonical, deterministic Stack, and computes
// each service's config hash.
//
// Every problem in a file is reported at once, each naming file:line:col and
// the YAML path. spec imports nothing else from stack and no kernel code; it
// has no Linux-only files.
package spec
