#!/usr/bin/env bash
# The live-network checks (part of `make test`): plays the demo story on a fresh localnet of the
# debug binaries (its own temporary data directory, ports chosen by the OS), walks the console in
# headless Chromium (console_walk.py), then runs schemathesis against the node's API (api_fuzz.py). Screenshots, axe reports and page timings go to
# $CONSOLE_TEST_OUT (default .build/test-output/console). The network is stopped however this ends.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=${BIN:-$PWD/.build/debug}
OUT=${CONSOLE_TEST_OUT:-$PWD/.build/test-output/console}
DATA=$(mktemp -d)
# The passphrase the demo's keystores (its wallets and the cast's keys under $DATA/demo-keys) are sealed with.
export MERIDIAN_PASSPHRASE=${MERIDIAN_PASSPHRASE:-demo-passphrase-not-secret}
rm -rf "$OUT"; mkdir -p "$OUT"
# The ICD-10 terminology is imported once per checkout (make setup's package), then copied.
if [ -s data/terminology/icd10.mterm ]; then mkdir -p "$DATA/terminology"; cp data/terminology/icd10.mterm "$DATA/terminology/"; fi
BIN="$BIN" DATA_DIR="$DATA" Tools/Scripts/demo.sh > "$OUT/demo.log" 2>&1 &
DEMO=$!
cleanup() { kill -TERM "$DEMO" 2>/dev/null || true; wait "$DEMO" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT
# Wait for the story to end (the script then keeps the network running), or for the script to fail.
for _ in $(seq 1 1200); do
  if grep -q "The network keeps running" "$OUT/demo.log"; then break; fi
  if ! kill -0 "$DEMO" 2>/dev/null; then echo "the demo story failed:"; tail -n 30 "$OUT/demo.log"; exit 1; fi
  sleep 0.5
done
grep -q "The network keeps running" "$OUT/demo.log" || { echo "the demo story did not finish in 10 minutes"; tail -n 30 "$OUT/demo.log"; exit 1; }
NODE=$(sed -nE "s/^the story talks to hospital-ribeira's validator at (http[^ ]+).*/\1/p" "$OUT/demo.log" | head -n 1)
# The localnet's CA: the browser pins the node's key, the Python clients and the CLIs trust the CA.
export MERIDIAN_CA="$DATA/localnet/ca.pem"
echo "console browser test against $NODE/console (screenshots: $OUT)"
python3 Tests/Browser/console_walk.py --node "$NODE" --bin "$BIN" --out "$OUT" --ca "$MERIDIAN_CA" --demo-keys "$DATA/demo-keys"
# Then schemathesis against the same node's served OpenAPI document: anonymous, and signed as an
# operator, another hospital's clinician and a regulator; no 5xx, no unsigned answer from a signed route.
python3 Tests/Schemathesis/api_fuzz.py --node "$NODE" --ca "$MERIDIAN_CA" --examples 25 --out "$OUT/schemathesis.json"
