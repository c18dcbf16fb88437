# Hydrant — `make run` starts the server on its embedded defaults; `make test` runs every test.
GO        ?= go
BIN       := bin/hydrant
PKGS      := ./...
# Integration tests start real `hydrant serve` processes; they build the
# binary themselves, so `go test ./...` alone works too.
TESTFLAGS ?= -race -count=1 -timeout 20m

# MinIO, the real S3 server the integration tests write to: a pinned build,
# cached in the git-ignored .tools/ so that only the first `make test` pays
# for it (about 5 minutes). The tests find it through HYDRANT_MINIO.
MINIO_MODULE  := github.com/minio/minio
MINIO_VERSION := v0.0.0-20260212201848-7aac2a2c5b7c
TOOLS         := $(CURDIR)/.tools
MINIO         := $(TOOLS)/minio

.PHONY: all build run test unit bench lint fmt fuzz clean minio

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hydrant

run: build
	./$(BIN) serve $(ARGS)

test: lint minio
	HYDRANT_MINIO=$(MINIO) $(GO) test $(TESTFLAGS) $(PKGS)

# minio builds $(MINIO) unless the pinned version is already there. When
# `go install` refuses the module, it is built from a scratch module.
minio:
	@if [ -x $(MINIO) ] && [ "$$(cat $(MINIO).version 2>/dev/null)" = "$(MINIO_VERSION)" ]; then exit 0; fi; \
	echo "building MinIO $(MINIO_VERSION) into $(TOOLS) (about 5 minutes, once)"; \
	mkdir -p $(TOOLS) && rm -f $(MINIO).version && \
	{ GOBIN=$(TOOLS) $(GO) install $(MINIO_MODULE)@$(MINIO_VERSION) || \
	  { echo "go install failed; building from a scratch module"; \
	    rm -rf $(TOOLS)/minio-build && mkdir -p $(TOOLS)/minio-build && cd $(TOOLS)/minio-build && \
	    $(GO) mod init hydrant-tools-minio >/dev/null 2>&1 && \
	    $(GO) get $(MINIO_MODULE)@$(MINIO_VERSION) && \
	    $(GO) build -o $(MINIO) $(MINIO_MODULE); }; } && \
	echo $(MINIO_VERSION) > $(MINIO).version

# unit runs the fast tests only (no real-process integration tests).
unit:
	$(GO) test -race -count=1 -short $(PKGS)

# bench runs the micro-benchmarks, then the end-to-end load benchmark
# against real `hydrant serve` processes and a real MinIO (see
# integration/bench).
bench: build minio
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./delivery/... ./ingest/... ./sinks/...
	HYDRANT_MINIO=$(MINIO) $(GO) run ./integration/bench -hydrant $(BIN)

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
