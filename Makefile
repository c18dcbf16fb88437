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

.PHONY: all build run test unit bench lint fmt fuzz clean minio clickhouse

# ClickHouse, the real server the ClickHouse sink's tests insert into:
# Debian's clickhouse-server, pinned, unpacked with the libraries this
# machine lacks into the git-ignored .tools/clickhouse/ without a system
# install (no root needed when the apt lists are current). The tests find
# it through HYDRANT_CLICKHOUSE, a wrapper that sets LD_LIBRARY_PATH; the
# client is beside it as clickhouse-client.
CLICKHOUSE_VERSION  := 18.16.1+ds-7.3+b2
CLICKHOUSE_PACKAGES := clickhouse-server clickhouse-client clickhouse-common
CLICKHOUSE_DIR      := $(TOOLS)/clickhouse
CLICKHOUSE          := $(CLICKHOUSE_DIR)/clickhouse-server

all: build

build:
	$(GO) build -o $(BIN) ./cmd/hydrant

run: build
	./$(BIN) serve $(ARGS)

test: lint minio clickhouse transform-examples
	HYDRANT_MINIO=$(MINIO) HYDRANT_CLICKHOUSE=$(CLICKHOUSE) $(GO) test $(TESTFLAGS) $(PKGS)

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

# clickhouse unpacks $(CLICKHOUSE_PACKAGES) at $(CLICKHOUSE_VERSION), and
# whatever libraries they need that this machine does not have, into
# $(CLICKHOUSE_DIR), unless that version is already there. apt-get resolves
# the dependencies against the installed system and only downloads; its
# lists are refreshed (which needs root) only when they do not know the
# pinned version.
clickhouse:
	@if [ -x $(CLICKHOUSE) ] && [ "$$(cat $(CLICKHOUSE_DIR)/version 2>/dev/null)" = "$(CLICKHOUSE_VERSION)" ]; then exit 0; fi; \
	set -e; echo "installing ClickHouse $(CLICKHOUSE_VERSION) into $(CLICKHOUSE_DIR) (about 10 seconds, once)"; \
	if ! apt-cache madison clickhouse-server | grep -qF '| $(CLICKHOUSE_VERSION) |'; then \
	  echo "apt does not know clickhouse-server $(CLICKHOUSE_VERSION): running apt-get update"; \
	  apt-get update -q || { echo "apt-get update failed: run it as root, then make clickhouse again"; exit 1; }; \
	fi; \
	rm -rf $(CLICKHOUSE_DIR) && mkdir -p $(CLICKHOUSE_DIR)/debs/partial $(CLICKHOUSE_DIR)/root; \
	apt-get install --download-only --no-install-recommends -y -q \
	  -o Debug::NoLocking=1 -o APT::Sandbox::User= -o Dir::Cache::archives=$(CLICKHOUSE_DIR)/debs \
	  $(foreach p,$(CLICKHOUSE_PACKAGES),$(p)=$(CLICKHOUSE_VERSION)) >$(CLICKHOUSE_DIR)/apt.log 2>&1 || \
	  { cat $(CLICKHOUSE_DIR)/apt.log; echo "cannot download ClickHouse $(CLICKHOUSE_VERSION) with apt-get"; exit 1; }; \
	for deb in $(CLICKHOUSE_DIR)/debs/*.deb; do dpkg-deb -x $$deb $(CLICKHOUSE_DIR)/root; done; \
	libs=$(CLICKHOUSE_DIR)/root/usr/lib/x86_64-linux-gnu:$(CLICKHOUSE_DIR)/root/lib/x86_64-linux-gnu; \
	for b in usr/sbin/clickhouse-server usr/bin/clickhouse-client; do \
	  printf '#!/bin/sh\n# made by `make clickhouse`: Debian %s, unpacked below\nLD_LIBRARY_PATH=%s$${LD_LIBRARY_PATH:+:$$LD_LIBRARY_PATH} exec %s "$$@"\n' \
	    '$(CLICKHOUSE_VERSION)' "$$libs" $(CLICKHOUSE_DIR)/root/$$b > $(CLICKHOUSE_DIR)/$$(basename $$b); \
	  chmod +x $(CLICKHOUSE_DIR)/$$(basename $$b); \
	  if LD_LIBRARY_PATH=$$libs ldd $(CLICKHOUSE_DIR)/root/$$b | grep 'not found'; then echo "$$b: libraries missing"; exit 1; fi; \
	done; \
	$(CLICKHOUSE_DIR)/clickhouse-client --version; \
	rm -rf $(CLICKHOUSE_DIR)/debs; \
	echo '$(CLICKHOUSE_VERSION)' > $(CLICKHOUSE_DIR)/version

# unit runs the fast tests only (no real-process integration tests).
unit: transform-examples
	$(GO) test -race -count=1 -short $(PKGS)

# bench runs the micro-benchmarks (Nexmark on one core, as its targets are
# per core), then the end-to-end load benchmark
# against real `hydrant serve` processes, a real MinIO and a real
# ClickHouse with its clickhouse-client (see integration/bench).
bench: build minio clickhouse transform-examples
	HYDRANT_CLICKHOUSE=$(CLICKHOUSE) $(GO) test -run '^$$' -bench . -benchmem -benchtime 2s ./delivery/... ./ingest/... ./sinks/... ./transform/...
	$(GO) test -run '^$$' -bench . -benchtime 1x -cpu 1 ./sql/...
	HYDRANT_MINIO=$(MINIO) HYDRANT_CLICKHOUSE=$(CLICKHOUSE) $(GO) run ./integration/bench -hydrant $(BIN)

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

# ---- transform/examples: the wasm transformation functions ------------------
# transform-examples builds each example of transform/examples into
# transform/examples/bin/<name>.wasm, a WASI reactor (transform/wasm/ABI.md),
# rebuilding only those older than their sources. It then starts each once
# without -race, which fills the compilation cache the transform/wasm tests
# share (wazero compiles ten times slower under -race). The tests rebuild
# stale examples themselves, so `go test ./transform/...` works alone too.
WASM_EXAMPLES     := noop rewrite loop membomb garbage extra trap readfile crash
WASM_EXAMPLES_BIN := transform/examples/bin
WASM_EXAMPLES_DEP := go.mod go.sum $(filter-out %_test.go,$(wildcard transform/*.go transform/wasm/guest/*.go transform/examples/handlers/*.go))

.PHONY: transform-examples
transform-examples: $(WASM_EXAMPLES_BIN)/cache/started

$(WASM_EXAMPLES_BIN)/%.wasm: transform/examples/%/main.go $(WASM_EXAMPLES_DEP)
	@mkdir -p $(WASM_EXAMPLES_BIN)
	GOOS=wasip1 GOARCH=wasm $(GO) build -buildmode=c-shared -o $@.tmp ./transform/examples/$* && mv $@.tmp $@

$(WASM_EXAMPLES_BIN)/cache/started: $(WASM_EXAMPLES:%=$(WASM_EXAMPLES_BIN)/%.wasm)
	$(GO) test -count=1 -run '^TestExamplesStart$$' ./transform/wasm/
	@mkdir -p $(@D) && touch $@
