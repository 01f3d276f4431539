#!/usr/bin/env bash
# Regenerates the Go code of every .proto under proto/ with Debian's protoc
# (apt-get install protobuf-compiler) and pinned Go plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
GOBIN=$gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$gobin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1

# gen PROTO GOPKGDIR: one package per .proto, flat in proto/GOPKGDIR.
gen() {
  local src=$1 pkg=$2 mod=github.com/torrent-dev/torrent/proto/$2
  mkdir -p "proto/$pkg"
  PATH=$gobin:$PATH protoc -I proto \
    --go_out="proto/$pkg" --go_opt=paths=source_relative --go_opt="M$src=$mod" \
    --go-grpc_out="proto/$pkg" --go-grpc_opt=paths=source_relative --go-grpc_opt="M$src=$mod" \
    "$src"
  # paths=source_relative mirrors the .proto's directory: flatten it.
  mv "proto/$pkg/$(dirname "$src")"/*.go "proto/$pkg/"
  rm -rf "proto/$pkg/${src%%/*}"
}
gen picker/v1/picker.proto pickerpb
gen host/v1/host.proto hostpb
gen ui/v1/ui.proto uipb
gen fs/v1/fs.proto fspb
