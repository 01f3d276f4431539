#!/bin/sh
# Regenerates picker_pb2.py (the message classes; the gRPC service is
# registered by hand in picker.py) from the protocol definition, with
# Debian's protoc (apt-get install protobuf-compiler), whose version matches
# Debian's python3-protobuf.
set -eu
cd "$(dirname "$0")"
protoc -I ../../proto/picker/v1 --python_out=. ../../proto/picker/v1/picker.proto
