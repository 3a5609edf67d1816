#!/usr/bin/env bash
# The README's main job. Until the nsmgr lands (issue 5) it runs the NetworkService API round trip:
# an endpoint chain served over gRPC on a unix socket, a client chain requesting a connection,
# the connection printed as JSON, then closed. Installs and builds what it needs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" > /dev/null
ninja -C build nsm-api-roundtrip
./build/examples/api_roundtrip/nsm-api-roundtrip
