#!/usr/bin/env bash
# Builds every policy in Contracts/Policies with the Swift toolchain's wasm32 target in Embedded
# mode and its own wasm-ld, into Contracts/build/<Name>.wasm, and writes Contracts/manifest.json
# (each contract's SHA-256 and size). Two builds give identical bytes (checked by make contracts).
set -euo pipefail
cd "$(dirname "$0")"
SWIFTC=${SWIFTC:-$(command -v swiftc)}
BIN=$(dirname "$(readlink -f "$SWIFTC")")
OUT=${OUT:-build}
mkdir -p "$OUT" .obj
# The object files go to the same relative path whatever OUT is: the compiler derives 16 bytes of
# the module from the object's path, so only a fixed path gives the same bytes everywhere.
trap 'rm -rf .obj' EXIT
entries=()
for policy in Policies/*.swift; do
  name=$(basename "$policy" .swift)
  exports="--export=evaluate"
  grep -q '@_expose(wasm, "update")' "$policy" && exports="$exports --export=update"
  "$SWIFTC" -target wasm32-unknown-none-wasm -enable-experimental-feature Embedded -enable-experimental-feature Extern \
    -wmo -Osize -parse-as-library -Xfrontend -disable-stack-protector -module-name "$name" \
    -c SDK/Meridian.swift "$policy" -o ".obj/$name.o"
  # stack first (8 KiB), then the small data; one page of memory, no growth. The host writes the
  # request in the page's top 4 KiB, which nothing else uses.
  # shellcheck disable=SC2086
  "$BIN/wasm-ld" --no-entry $exports --stack-first -z stack-size=8192 --initial-memory=65536 --max-memory=65536 \
    --compress-relocations --strip-all ".obj/$name.o" -o "$OUT/$name.wasm"
  entries+=("$(printf '  "%s": {"sha256": "%s", "bytes": %d}' "$name" "$(sha256sum "$OUT/$name.wasm" | cut -d' ' -f1)" "$(stat -c %s "$OUT/$name.wasm")")")
done
{
  echo "{"
  for i in "${!entries[@]}"; do
    if [ "$i" -lt $((${#entries[@]} - 1)) ]; then echo "${entries[$i]},"; else echo "${entries[$i]}"; fi
  done
  echo "}"
} > "$OUT/manifest.json"
cat "$OUT/manifest.json"
