#!/usr/bin/env bash
# mediasan against dd, GNU shred and nwipe on the same targets, in one run, alternating, median
# of several runs. Needs root (loop devices). Sets up and removes its own targets:
#   tmpfs-loop  a loop device over a file on /dev/shm  (memory speed: the CPU-bound case)
#   ext4-loop   a loop device over a file on ext4      (--dir)
#   ext4-file   an image file on ext4                  (--dir)
# Prints MB/s (10^6 bytes/s) and ratios: writes against `dd if=/dev/zero bs=4M oflag=direct
# conv=fsync`, reads against `dd iflag=direct bs=4M of=/dev/null`, and the CPU time
# (user+sys seconds per GB) of mediasan's random pass.
#
# Several targets at once (--multi): N loop devices on tmpfs written by N parallel dd against one
# `mediasan wipe` of all N (aggregate MB/s: all bytes over the wall time), and the resident
# memory of one mediasan wiping 24 targets (/usr/bin/time's maximum RSS).
#
# usage: benches/compare.sh [--size 2G] [--runs 3] [--dir DIR] [--targets tmpfs-loop,ext4-loop,ext4-file]
#                           [--multi 4x1G,16x256M] [--no-nwipe] [--nwipe-size 512M]
#                           [--against OTHER_MEDIASAN] [-- EXTRA MEDIASAN WIPE ARGS]
# --against BIN also runs another mediasan binary (e.g. one built before a change) on the same
# targets, alternating with this one: rows `against-random` and `against-verify-full`.
# MEDIASAN_NO_VAES=1 in the environment measures the portable AES-CTR path (the one before VAES).
set -euo pipefail
cd "$(dirname "$0")/.."

size=2G runs=3 dir=${TMPDIR:-/var/tmp} targets=tmpfs-loop,ext4-loop,ext4-file nwipe=1 nwipe_size=512M
multi=4x1G,16x256M against=
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --dir) dir=$2; shift 2 ;;
    --targets) targets=$2; shift 2 ;;
    --multi) multi=$2; shift 2 ;;
    --no-nwipe) nwipe=0; shift ;;
    --against) against=$(realpath "$2"); shift 2 ;;
    --nwipe-size) nwipe_size=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "unknown option $1 (see the header of $0)" >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "compare.sh needs root for loop devices" >&2; exit 2; }
bytes=$(numfmt --from=iec "$size")
mib=$((bytes / 1048576))

cargo build --release --quiet
ms=$PWD/target/release/mediasan
work=$(mktemp -d)
export XDG_CONFIG_HOME=$work/config
"$ms" keygen --out "$work/key" >/dev/null 2>&1
loops=() files=()
cleanup() {
  for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -f "${files[@]}"
  rm -rf "$work"
}
trap cleanup EXIT

# target name -> path
declare -A path
mkfile() { # path size
  files+=("$1")
  dd if=/dev/zero of="$1" bs=4M count=$(( $(numfmt --from=iec "$2") / 4194304 )) status=none
}
for t in ${targets//,/ }; do
  case $t in
    tmpfs-loop) mkfile /dev/shm/mediasan-bench.img "$size"; l=$(losetup -f --show /dev/shm/mediasan-bench.img); loops+=("$l"); path[$t]=$l ;;
    ext4-loop) mkfile "$dir/mediasan-bench-loop.img" "$size"; l=$(losetup -f --show "$dir/mediasan-bench-loop.img"); loops+=("$l"); path[$t]=$l ;;
    ext4-file) mkfile "$dir/mediasan-bench-file.img" "$size"; path[$t]=$dir/mediasan-bench-file.img ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
fs=$(stat -f -c %T "$dir")
[ "$fs" = ext2/ext3 ] || echo "note: $dir is $fs, not ext4; the ext4-* rows are really $fs" >&2

results=$work/results.tsv
now() { date +%s.%N; }
rate() { python3 -c "import sys; print(int($1 / (float(sys.argv[2]) - float(sys.argv[1]))))" "$2" "$3"; }
json_field() { # event field  (reads mediasan --json on stdin)
  python3 -c "
import sys, json
for l in sys.stdin:
    e = json.loads(l)
    if e.get('event') == sys.argv[1]: print(int(e[sys.argv[2]]))" "$1" "$2"
}
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$results"; }
cpu_per_gb() { # time-file bytes: user+sys seconds per GB
  awk -v b="$2" '/^CPU/ {printf "%.3f", ($2+$3)/(b/1e9)}' "$1"
}

run_tool() { # target tool
  local t=$1 tool=$2 p=${path[$1]} s e out
  case $tool in
    dd-zero)
      s=$(now); /usr/bin/time -o "$work/time" -f 'CPU %U %S' dd if=/dev/zero of="$p" bs=4M count=$((mib / 4)) oflag=direct conv=fsync,notrunc status=none; e=$(now)
      record "$t" "$tool" "$(rate "$bytes" "$s" "$e")" "$(cpu_per_gb "$work/time" "$bytes")" ;;
    dd-read)
      s=$(now); /usr/bin/time -o "$work/time" -f 'CPU %U %S' dd if="$p" of=/dev/null bs=4M iflag=direct status=none; e=$(now)
      record "$t" "$tool" "$(rate "$bytes" "$s" "$e")" "$(cpu_per_gb "$work/time" "$bytes")" ;;
    mediasan-random)
      out=$(/usr/bin/time -o "$work/time" -f 'CPU %U %S' "$ms" wipe "$p" --yes --verify none --json --key "$work/key" \
               --cert-dir "$work/certs" "${extra[@]}" 2>/dev/null || true)
      record "$t" "$tool" "$(echo "$out" | json_field pass_done bytes_per_second)" "$(cpu_per_gb "$work/time" "$bytes")" ;;
    mediasan-zero)
      out=$("$ms" wipe "$p" --yes --policy nist-clear-zero --verify none --json --key "$work/key" \
              --cert-dir "$work/certs" "${extra[@]}" 2>/dev/null || true)
      record "$t" "$tool" "$(echo "$out" | json_field pass_done bytes_per_second)" ;;
    mediasan-verify-full)
      # The read-back of a wipe with --verify full (its rate from the verify_done event), then
      # `verify --cert` of that certificate on its own: the same full read-back, timed for CPU.
      out=$("$ms" wipe "$p" --yes --verify full --json --key "$work/key" --cert-dir "$work/vcerts" "${extra[@]}" 2>/dev/null || true)
      record "$t" "$tool" "$(echo "$out" | json_field verify_done bytes_per_second)"
      cert=$(ls -t "$work"/vcerts/*.json | head -1)
      out=$(/usr/bin/time -o "$work/time" -f 'CPU %U %S' "$ms" verify "$p" --cert "$cert" --json \
              --pubkey "$work/key.pub" 2>/dev/null || true)
      rm -f "$work"/vcerts/*
      record "$t" mediasan-verify-cert "$(echo "$out" | json_field verify_done bytes_per_second)" "$(cpu_per_gb "$work/time" "$bytes")" ;;
    against-random)
      out=$(/usr/bin/time -o "$work/time" -f 'CPU %U %S' "$against" wipe "$p" --yes --verify none --json --key "$work/key" \
               --cert-dir "$work/certs" "${extra[@]}" 2>/dev/null || true)
      record "$t" "$tool" "$(echo "$out" | json_field pass_done bytes_per_second)" "$(cpu_per_gb "$work/time" "$bytes")" ;;
    against-verify-full)
      out=$("$against" wipe "$p" --yes --verify full --json --key "$work/key" --cert-dir "$work/vcerts" "${extra[@]}" 2>/dev/null || true)
      rm -f "$work"/vcerts/*
      record "$t" "$tool" "$(echo "$out" | json_field verify_done bytes_per_second)" ;;
    shred-n1)
      s=$(now); shred -n1 "$p"; e=$(now)
      record "$t" "$tool" "$(rate "$bytes" "$s" "$e")" ;;
    openssl-ctr-dd)
      s=$(now)
      # openssl dies of SIGPIPE when dd has enough: expected, so no pipefail here.
      ( set +o pipefail
        openssl enc -aes-128-ctr -K 000102030405060708090a0b0c0d0e0f -iv 00000000000000000000000000000000 -in /dev/zero 2>/dev/null \
          | dd of="$p" bs=4M count=$((mib / 4)) iflag=fullblock oflag=direct conv=fsync,notrunc status=none )
      e=$(now)
      record "$t" "$tool" "$(rate "$bytes" "$s" "$e")" ;;
  esac
}

tools=(dd-zero mediasan-random mediasan-zero shred-n1 openssl-ctr-dd dd-read mediasan-verify-full)
[ -z "$against" ] || tools+=(against-random against-verify-full)
for r in $(seq 1 "$runs"); do
  for t in ${targets//,/ }; do
    for tool in "${tools[@]}"; do
      run_tool "$t" "$tool"
    done
  done
  echo "round $r/$runs done" >&2
done

# Several targets at once: N loop devices on tmpfs, N parallel dd against one mediasan wipe of
# all N, alternating; aggregate MB/s = all bytes over the wall time.
multi_run() { # N SIZE
  local n=$1 sz=$2 nb m devs=() mfiles=() f l i r s e
  nb=$(numfmt --from=iec "$sz"); m=$((nb / 1048576))
  for i in $(seq 1 "$n"); do
    f=/dev/shm/mediasan-bench-m$i.img; mkfile "$f" "$sz"; mfiles+=("$f")
    l=$(losetup -f --show "$f"); loops+=("$l"); devs+=("$l")
  done
  local label="tmpfs-loop-x$n" total=$((nb * n))
  for r in $(seq 1 "$runs"); do
    s=$(now)
    /usr/bin/time -o "$work/time" -f 'CPU %U %S' bash -c \
      'c=$1; shift; for d in "$@"; do dd if=/dev/zero of="$d" bs=4M count="$c" oflag=direct conv=fsync,notrunc status=none & done; wait' \
      _ $((m / 4)) "${devs[@]}"
    e=$(now)
    record "$label" dd-zero "$(rate "$total" "$s" "$e")" "$(cpu_per_gb "$work/time" "$total")"
    s=$(now)
    /usr/bin/time -o "$work/time" -f 'CPU %U %S' "$ms" wipe "${devs[@]}" --yes --verify none --json \
      --key "$work/key" --cert-dir "$work/certs" "${extra[@]}" >/dev/null 2>&1 || true
    e=$(now)
    record "$label" mediasan-random "$(rate "$total" "$s" "$e")" "$(cpu_per_gb "$work/time" "$total")"
    echo "$label round $r/$runs done" >&2
  done
  if [ "$n" = 24 ]; then
    /usr/bin/time -o "$work/time" -f 'RSS %M' "$ms" wipe "${devs[@]}" --yes --verify full --key "$work/key" \
      --cert-dir "$work/certs" "${extra[@]}" >/dev/null 2>&1 || true
    awk -v n="$n" '/^RSS/ {printf "memory: one mediasan wiping and fully verifying %d targets at once: %.0f MiB resident at most (%.1f MiB per target)\n", n, $2/1024, $2/1024/n}' "$work/time" >> "$work/notes"
  fi
  for l in "${devs[@]}"; do losetup -d "$l" 2>/dev/null || true; done
  rm -f "${mfiles[@]}"
}
for spec in ${multi//,/ }; do multi_run "${spec%%x*}" "${spec#*x}"; done
[ -z "$multi" ] || multi_run 24 64M

# nwipe: only on the memory-speed loop device, once (it is slow), on a smaller region of the
# same kind of target; dd and mediasan are measured on that same device for its ratios.
if [ "$nwipe" = 1 ] && command -v nwipe >/dev/null && [[ ",$targets," == *,tmpfs-loop,* ]]; then
  mkfile /dev/shm/mediasan-bench-nwipe.img "$nwipe_size"
  l=$(losetup -f --show /dev/shm/mediasan-bench-nwipe.img); loops+=("$l")
  path[tmpfs-loop-small]=$l
  nbytes=$(numfmt --from=iec "$nwipe_size"); saved=$bytes; bytes=$nbytes; savedmib=$mib; mib=$((nbytes / 1048576))
  for tool in dd-zero mediasan-random; do run_tool tmpfs-loop-small "$tool"; done
  s=$(now)
  nwipe --autonuke --nogui --nowait --method=random --verify=off --noblank --logfile="$work/nwipe.log" "$l" >/dev/null 2>&1 || true
  e=$(now)
  record tmpfs-loop-small nwipe-random "$(rate "$bytes" "$s" "$e")"
  bytes=$saved; mib=$savedmib
fi

python3 - "$results" "$size" "$runs" "$work/notes" <<'PY'
import sys, os, statistics, collections
rows = collections.defaultdict(list); cpu = collections.defaultdict(list)
for line in open(sys.argv[1]):
    t, tool, v, c = (line.rstrip('\n').split('\t') + [''])[:4]
    if v: rows[(t, tool)].append(int(v))
    if c: cpu[(t, tool)].append(float(c))
targets = list(dict.fromkeys(t for t, _ in rows))
print(f"\nmediasan vs dd/shred/nwipe, {sys.argv[2]} targets (tmpfs-loop-xN: N targets at once, aggregate),")
print(f"median of {sys.argv[3]} alternating runs (nwipe: 1 run); min ratio = the worst run's")
print()
print("| target | tool | MB/s | ratio | min ratio | baseline | CPU s/GB |")
print("|---|---|---:|---:|---:|---|---:|")
for t in targets:
    runs = {tool: v for (tt, tool), v in rows.items() if tt == t}
    med = {tool: statistics.median(v) for tool, v in runs.items()}
    for tool, m in med.items():
        base = 'dd-read' if tool in ('dd-read', 'mediasan-verify-full', 'mediasan-verify-cert', 'against-verify-full') else 'dd-zero'
        ratio = m / med[base] if med.get(base) else float('nan')
        b = runs.get(base, [])
        worst = min((x / y for x, y in zip(runs[tool], b) if y), default=float('nan'))
        c = cpu.get((t, tool))
        cs = f"{statistics.median(c):.3f}" if c else ""
        print(f"| {t} | {tool} | {m/1e6:,.0f} | {ratio:.2f} | {worst:.2f} | {base} | {cs} |")
print()
if os.path.exists(sys.argv[4]):
    print(open(sys.argv[4]).read())
PY
