# Hydrant — `make run` starts the server on its embedded defaults; `make test` runs every test.
GO        ?= go
BIN       := bin/hydrant
PKGS      := ./...
# Integration tests start real `hydrant serve` processes; they build the
# binary themselves, so `go test ./...` alone works too.
TESTFLAGS ?= -race -count=1 -timeout 20m

.PHONY: all build run test unit bench lint fmt fuzz clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hydrant

run: build
	./$(BIN) serve $(ARGS)

test: lint
	$(GO) test $(TESTFLAGS) $(PKGS)

# unit runs the fast tests only (no real-process integration tests).
unit:
	$(GO) test -race -count=1 -short $(PKGS)

# bench runs the micro-benchmarks, then the end-to-end load benchmark
# against real `hydrant serve` processes (see integration/bench).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./delivery/... ./ingest/... ./sinks/...
	$(GO) run ./integration/bench -hydrant $(BIN)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; echo "run: make fmt"; exit 1; fi
	$(GO) vet $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')

# fuzz runs each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for t in $$(grep -rhoE '^func Fuzz[A-Za-z0-9_]+' --include='*_test.go' . | sed 's/func //' | sort -u); do \
	  pkg=$$(grep -rlE "^func $$t\(" --include='*_test.go' . | head -1 | xargs dirname); \
	  echo "== $$pkg $$t"; $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	done

clean:
	rm -rf bin
