# torrent: build, test, demo. `make test` and `make demo` install what they
# need on a fresh Debian machine (Go modules; Debian packages via apt-get).

GO       ?= go
BIN      := bin
PLUGINS  := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))
DEB_PKGS := python3-libtorrent aria2 opentracker mktorrent fuse3 tmux transmission-cli \
            protobuf-compiler python3-grpcio python3-protobuf python3-cryptography
SUDO     := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: all build test deps vet fmt-check bench-check demo proto fuzz cover clean

all: build

build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/torrent ./cmd/torrent
	@for p in $(PLUGINS); do echo "$(GO) build -o $(BIN)/torrent-$$p ./plugins/$$p"; \
		$(GO) build -o $(BIN)/torrent-$$p ./plugins/$$p || exit 1; done

# deps installs the Debian packages the tests use, only if one is missing.
deps:
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi
	$(GO) mod download

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go') | grep -v '\.pb\.go$$'); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# bench/run sources the other bench scripts into one shell, where a second
# function of the same name silently replaces the first.
bench-check:
	@for f in bench/run bench/*.sh; do bash -n $$f || exit 1; done
	@dups=$$(cat bench/run bench/*.sh | grep -oE '^[a-z_0-9]+\(\) \{' | sort | uniq -d); \
	if [ -n "$$dups" ]; then echo "bench: functions defined twice:" $$dups; exit 1; fi

test: deps vet fmt-check bench-check
	$(GO) test -race -timeout 20m ./...
	@# examples/ holds modules of their own, as a plugin author's would be
	cd examples/picker-sequential && $(GO) vet ./... && $(GO) test -race ./...

demo: build
	$(BIN)/torrent demo

proto:
	./proto/gen.sh

# fuzz runs every fuzz target for FUZZTIME each (CI: 5s).
FUZZTIME ?= 20s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) .ci/fuzz

# cover prints each package's coverage by its own tests and fails when
# host/session, host/swarm, host/tracker or sdk is under 75% (.ci/cover).
# COVERPKGS narrows it: make cover COVERPKGS='./host/... ./sdk'.
COVERPKGS ?= ./...
cover:
	./.ci/cover $(COVERPKGS)

clean:
	rm -rf $(BIN)
