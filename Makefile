# stack — the two commands a new machine needs are `make demo` (build, make the
# local busybox base image, bring up examples/hello) and `make test`.

GO        ?= go
BIN       ?= bin/stack
STACK_ROOT ?= /var/lib/stack
FUZZTIME  ?= 30s
export STACK_ROOT

.PHONY: all build test test-unit golden bench fuzz demo demo-down lint base-image clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/stack

# The whole suite. Privileged tests run only as root with STACK_TEST_PRIVILEGED=1
# (CI sets it; there nothing skips). Under 15 minutes.
test: build
	$(GO) test -count=1 -timeout 20m ./...

# Tests that need no kernel (spec, planner, renderers, parsers).
test-unit:
	$(GO) test -count=1 ./spec/... ./planner/... .

# Rewrite the golden files after a reviewed change of output.
golden:
	$(GO) test ./spec/... ./planner/... -run Golden -update

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./spec/... ./planner/...
	@for s in bench/*.sh; do [ -x "$$s" ] && echo "== $$s" && "$$s" || true; done

# Fuzz targets, $(FUZZTIME) each (not part of CI).
fuzz:
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzParsePort$$' -fuzztime $(FUZZTIME)
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzInterpolate$$' -fuzztime $(FUZZTIME)
	$(GO) test ./spec -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME)
	$(GO) test ./build -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./layers -run '^$$' -fuzz '^FuzzUnpack$$' -fuzztime $(FUZZTIME)

base-image: build
	./scripts/busybox-image.sh $(BIN)

demo: build base-image
	cd examples/hello && ../../$(BIN) up -d
	@echo "examples/hello is up: try 'curl -s http://127.0.0.1:8080/' and 'make demo-down'"

demo-down:
	cd examples/hello && ../../$(BIN) down

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...

clean:
	rm -rf bin
