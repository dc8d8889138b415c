#!/usr/bin/env bash
# The last guard around the test run: runs the command given (the README's `swift test`) and, if it
# has not ended after LIMIT seconds, says where it is stuck before ending it, so that a hang seen
# only in CI can be diagnosed from CI's log alone:
#   - every test that started and has not finished (from the run's own output, after asking the
#     test process to flush what it had buffered: a killed process loses its buffered output);
#   - the child processes still running (nodes, CLIs) with their state;
#   - every thread's stack in each test process (gdb), the full dump in the log and, as the last
#     lines, the frames of our own code per thread.
# Every test has its own time limit (Swift Testing's .timeLimit); this only fires when something
# holds the run past all of them. Exit status: the command's, or 124 when the guard ended it.
#
# Usage: test-watchdog.sh LIMIT_SECONDS command [args...]
set -u
limit=${1:?usage: test-watchdog.sh LIMIT_SECONDS command [args...]}
shift
out=$(mktemp)
trap 'rm -f "$out" "$out".*' EXIT

# The command's output goes to the terminal (or CI's log) and to a file read on a hang.
"$@" > >(tee "$out") 2>&1 &
child=$!
waited=0
while kill -0 "$child" 2>/dev/null; do
  if [ "$waited" -ge "$limit" ]; then break; fi
  sleep 5
  waited=$((waited + 5))
done
if ! kill -0 "$child" 2>/dev/null; then
  wait "$child"
  status=$?
  sleep 1   # let tee write the last lines
  exit $status
fi

echo
echo "=== the test run did not end within ${limit}s: where it is ==="
# The test processes of this run only (the machine may run others): descendants of the command.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }
family=$(descendants "$child")
testers=$(for p in $family; do grep -qs 'PackageTests.xctest' "/proc/$p/cmdline" && echo "$p"; done)
for p in $testers; do
  if command -v gdb >/dev/null; then
    gdb -batch -p "$p" -ex 'call (int)fflush(0)' -ex 'thread apply all bt 40' > "$out.gdb.$p" 2>&1 || true
  fi
done
sleep 1
# Tests that started and never finished, from the (now flushed) output.
grep -oE '^◇ Test [^ ]+ started' "$out" | sed -E 's/^◇ Test ([^ ]+) started/\1/' | sort -u > "$out.started" || true
grep -oE '^[✔✘] Test [^ ]+ (passed|failed|recorded)' "$out" | sed -E 's/^[✔✘] Test ([^ ]+) .*/\1/' | sort -u > "$out.ended" || true
grep -E '^[✔✘] Test [^ ]+ (passed|failed) ' "$out" | sed -E 's/^[✔✘] Test ([^ ]+) .*/\1/' | sort -u > "$out.finished" || true
echo "--- processes under the test run"
for p in $family; do ps -o pid=,ppid=,etimes=,stat=,args= -p "$p" 2>/dev/null | cut -c1-220; done
for p in $testers; do
  f="$out.gdb.$p"
  [ -s "$f" ] || continue
  echo "--- every thread of test process $p (gdb)"
  if command -v swift >/dev/null; then swift demangle --simplified < "$f" > "$f.d" 2>/dev/null && mv "$f.d" "$f"; fi
  grep -E '^(Thread |#[0-9]+ )' "$f" | cut -c1-300
done
echo "=== summary of the hang ==="
for p in $testers; do
  f="$out.gdb.$p"
  [ -s "$f" ] || continue
  # Per thread: its innermost frame and the innermost frames of our own code.
  awk '/^Thread /{ if (t != "") print t ": " first (ours != "" ? " <- " ours : ""); t=$2; first=""; ours=""; n=0; next }
       /^#[0-9]+ /{ line=$0; sub(/^#[0-9]+ +(0x[0-9a-f]+ in )?/, "", line); sub(/ \(.*$/, "", line)
                   if (first == "") first=substr(line, 1, 60)
                   if (n < 3 && line ~ /(Meridian|Tests|Harness|NodeProcess|NodeSlots|ChildProcess|BackgroundProcess)/) { ours = ours (ours != "" ? " <- " : "") substr(line, 1, 80); n++ } }
       END { if (t != "") print t ": " first (ours != "" ? " <- " ours : "") }' "$f" \
    | head -n 24 | sed "s/^/process $p thread /"
done
unfinished=$(comm -23 "$out.started" "$out.finished" | tr '\n' ' ')
echo "tests started and not finished: ${unfinished:-none}"
kill -TERM "$child" 2>/dev/null
for p in $testers; do kill -TERM "$p" 2>/dev/null; done
sleep 20
for p in $testers; do kill -KILL "$p" 2>/dev/null; done
kill -KILL "$child" 2>/dev/null
wait "$child" 2>/dev/null
exit 124
