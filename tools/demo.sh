#!/usr/bin/env bash
# The README's main job: a local mesh on one machine. Installs and builds what it needs, then
# starts registry-memory, nsmgr, two forwarders, an NSE and an NSC on unix sockets in a temp dir,
# shows the connection (path, forwarder, endpoint, addresses) and the nsmctl view (endpoints,
# forwarders, connections, the topology graph), kills the forwarder in use, shows the connection
# healed through the other forwarder with the time it took, and stops everything.
#
#   tools/demo.sh            # build, then run the demo
#   tools/demo.sh --no-build # run with the binaries already in ./build (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BUILD=${NSM_BUILD_DIR:-$ROOT/build}

if [ "${1:-}" != "--no-build" ]; then
  bash tools/setup.sh
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_CXX_FLAGS_RELEASE="-O2 -DNDEBUG" > /dev/null
  ninja -C "$BUILD" registry-memory nsmgr-bin forwarder nse nsc nsmctl
fi
NSMCTL=$BUILD/tools/nsmctl/nsmctl

DIR=$(mktemp -d /tmp/nsm-demo-XXXXXX)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2> /dev/null || true; done
  if [ -n "${NSM_DEMO_KEEP:-}" ]; then echo "logs kept in $DIR"; else rm -rf "$DIR"; fi
}
trap cleanup EXIT

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
# start NAME ENV... : runs $BUILD/<binary> with the environment, logs in $DIR/NAME.log.
start() {
  local name=$1 bin=$2
  shift 2
  env -i PATH="$PATH" "$@" "$bin" > "$DIR/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_${name//-/_}=$!"
}
# wait_for FILE PATTERN [SECONDS]: bounded wait until PATTERN appears in FILE.
wait_for() {
  local file=$1 pattern=$2 limit=${3:-20} i
  for ((i = 0; i < limit * 20; i++)); do
    grep -q -- "$pattern" "$file" 2> /dev/null && return 0
    sleep 0.05
  done
  echo "demo: timed out waiting for \"$pattern\" in $file:" >&2
  tail -20 "$file" >&2
  return 1
}

REG=unix://$DIR/registry.sock
NSMGR=unix://$DIR/nsmgr.sock
say "starting registry-memory, nsmgr, forwarder-1, forwarder-2, nse (logs in $DIR)"
start registry "$BUILD/registry/registry-memory/registry-memory" NSM_LISTEN_ON="$REG"
wait_for "$DIR/registry.log" "listening on"
start nsmgr "$BUILD/nsmgr/nsmgr" NSM_NAME=nsmgr-demo NSM_LISTEN_ON="$NSMGR" NSM_REGISTRY_URL="$REG" \
  NODE_NAME=demo-node NSM_EXCLUDED_PREFIXES_FILE="$DIR/excluded_prefixes.yaml"
wait_for "$DIR/nsmgr.log" "listening on"
for i in 1 2; do
  start "forwarder-$i" "$BUILD/reference/forwarder/forwarder" NSM_NAME="forwarder-$i" \
    NSM_LISTEN_ON="unix://$DIR/forwarder-$i.sock" NSM_CONNECT_TO="$NSMGR"
  wait_for "$DIR/forwarder-$i.log" "registered"
done
start nse "$BUILD/reference/nse/nse" NSM_NAME=icmp-server NSM_LISTEN_ON="unix://$DIR/nse.sock" \
  NSM_CONNECT_TO="$NSMGR" NSM_SERVICE_NAMES=icmp-responder NSM_CIDR_PREFIX=172.16.0.0/24
wait_for "$DIR/nse.log" "registered"

say "nsc requests kernel://icmp-responder/nsm-1"
start nsc "$BUILD/reference/nsc/nsc" NSM_NAME=demo-nsc NSM_CONNECT_TO="$NSMGR" \
  NSM_NETWORK_SERVICES=kernel://icmp-responder/nsm-1 NSM_REQUEST_TIMEOUT=20s
wait_for "$DIR/nsc.log" "holding the connections"
sed -n '/^connection/,$p' "$DIR/nsc.log" | grep -v "^\S* \[" || true

# The operator's view (issue #8): what the registry and the nsmgr hold, and the topology.
nsmctl() {
  printf '\n$ nsmctl %s\n' "$*"
  "$NSMCTL" "$@"
}
say "the nsmctl view"
nsmctl get nse --registry "$REG"
nsmctl get forwarders --nsmgr "$NSMGR"
nsmctl get connections --nsmgr "$NSMGR"
GRAPH="$DIR/mesh.dot"
"$NSMCTL" graph --nsmgr "$NSMGR" --registry "$REG" --out "$GRAPH"
if command -v dot > /dev/null; then
  "$NSMCTL" graph --nsmgr "$NSMGR" --registry "$REG" -o svg --out "$DIR/mesh.svg"
  GRAPH="$GRAPH and $DIR/mesh.svg"
fi
echo
echo "topology graph: $GRAPH (removed at the end unless NSM_DEMO_KEEP=1)"

# The forwarder in use is the path segment after the nsmgr's.
USED=$(grep -o 'forwarder-[12]' "$DIR/nsc.log" | head -1)
OTHER=forwarder-1
[ "$USED" = forwarder-1 ] && OTHER=forwarder-2
say "killing $USED (the forwarder in use); the nsc heals through $OTHER"
pid_var="PID_${USED//-/_}"
kill -KILL "${!pid_var}"
wait_for "$DIR/nsc.log" "healed" 30
grep "healed" "$DIR/nsc.log" | tail -1
sed -n '/healed/,$p' "$DIR/nsc.log" | grep -v "^\S* \[" || true
if ! sed -n '/healed/,$p' "$DIR/nsc.log" | grep -q "$OTHER"; then
  echo "demo: the healed path does not go through $OTHER" >&2
  exit 1
fi
nsmctl get connections --nsmgr "$NSMGR"

say "stopping everything"
