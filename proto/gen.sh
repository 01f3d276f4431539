#!/usr/bin/env bash
# Regenerates the Go code of every .proto under proto/ with Debian's protoc
# (apt-get install protobuf-compiler) and pinned Go plugins.
set -euo pipefail
cd "$(dirname "$0")/.."
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
GOBIN=$gobin go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
GOBIN=$gobin go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.5.1
mkdir -p proto/pickerpb
PATH=$gobin:$PATH protoc -I proto \
  --go_out=proto/pickerpb --go_opt=paths=source_relative --go_opt=Mpicker/v1/picker.proto=github.com/torrent-dev/torrent/proto/pickerpb \
  --go-grpc_out=proto/pickerpb --go-grpc_opt=paths=source_relative --go-grpc_opt=Mpicker/v1/picker.proto=github.com/torrent-dev/torrent/proto/pickerpb \
  picker/v1/picker.proto
# paths=source_relative mirrors the .proto's directory: flatten it.
mv proto/pickerpb/picker/v1/*.go proto/pickerpb/
rm -rf proto/pickerpb/picker
