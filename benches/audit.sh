#!/bin/bash
# The audit's rate: N signed certificates (default 10,000) and an asset register of N rows,
# audited three times; prints the wall time and certificates per second of each run.
#   benches/audit.sh [N]
set -euo pipefail
n=${1:-10000}
cd "$(dirname "$0")/.."
cargo build --release --quiet --example make_certs
cargo build --release --quiet
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
target/release/examples/make_certs "$dir" "$n"
for run in 1 2 3; do
  start=$(date +%s.%N)
  target/release/mediasan audit "$dir/certs" --allowed-signers "$dir/allowed_signers" \
    --assets "$dir/assets.csv" --csv "$dir/report.csv" --force > "$dir/report.txt"
  end=$(date +%s.%N)
  secs=$(echo "$end - $start" | bc)
  printf 'run %d: %d certificates and %d assets in %.2f s: %.0f certificates/s (%s cores)\n' \
    "$run" "$n" "$n" "$secs" "$(echo "$n / $secs" | bc -l)" "$(nproc)"
done
tail -1 "$dir/report.txt"
