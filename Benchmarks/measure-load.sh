# Shared by the compare scripts (sourced): `measure LABEL COMMAND…` runs the command and appends to
# "$results" one JSON line with the other work on the machine during it; `build_speedbench` builds the
# SpeedBench executable in release mode and sets "$bench" (needs "$root" and the script's `run`). Sets
# "$out" (a scratch folder) and "$results" (in it) unless the script has.
out="${out:-$(mktemp -d)}"
results="${results:-$out/results.jsonl}"
build_speedbench() {
  (cd "$root" && run swift build -c release --product SpeedBench >/dev/null)
  bench="$root/.build/release/SpeedBench"
}
# Other work on the machine during a measurement: the CPU time all processes took (/proc/stat) less what
# the measured command and its children took (the shell's `times`), per second of wall time.
hz="$(getconf CLK_TCK)"
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
# `times` runs in this shell (a subshell's own children start at zero); children's user + system seconds.
children() { times > "$out/times"; tail -1 "$out/times" | tr 'ms' '  ' | awk '{print $1 * 60 + $2 + $3 * 60 + $4}' > "$out/children"; }
measure() {
  local label="$1" load1 b0 c0 c1 t0; shift
  load1="$(cut -d' ' -f1 /proc/loadavg)"; b0="$(busy)"; children; c0="$(cat "$out/children")"; t0="$(date +%s.%N)"
  "$@"
  children; c1="$(cat "$out/children")"
  awk -v w="$label" -v l="$load1" -v b="$(( $(busy) - b0 ))" -v hz="$hz" -v c="$c1" -v c0="$c0" \
      -v t="$(date +%s.%N)" -v t0="$t0" 'BEGIN {
        o = (b / hz - (c - c0)) / (t - t0); if (o < 0) o = 0
        printf "{\"what\": \"load\", \"before\": \"%s\", \"load1\": %s, \"others_cores\": %.2f}\n", w, l, o }' >> "$results"
}
