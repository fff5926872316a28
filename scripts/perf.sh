#!/usr/bin/env bash
# perf.sh measures orderstore on this machine, in one run, and writes
# docs/performance.md: every figure beside its reference (the disk's raw
# fsync rate, the bare SQLite engine, a trivial HTTP handler, a raw read of
# $all), with the commands used and the raw benchmark lines.
#
#	scripts/perf.sh            # about 5 minutes on 2 cores
#
# It builds the binary into a temporary directory, runs every benchmark on
# temporary data there (go test's b.TempDir included, through TMPDIR) and
# removes it all on exit. The figures are only comparable within one run:
# the machine is shared, so the load average is recorded per section.
# Requires: go, python3, /usr/bin/time (GNU); wrk for the external HTTP
# comparison (apt-get install wrk), which is skipped without it.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=$ROOT/docs/performance.md

WORK=$(mktemp -d -t orderstore-perf.XXXXXX)
SERVE_PID=
TRIVIAL_PID=
REF_PID=
cleanup() {
	for pid in $SERVE_PID $TRIVIAL_PID $REF_PID; do
		if kill -0 "$pid" 2>/dev/null; then
			kill -TERM "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
		fi
	done
	rm -rf "$WORK"
}
trap cleanup EXIT

# The binary sets GOGC=400 unless GOGC is set (except for rebuild, which
# keeps Go's default); the go test benchmarks must run with the serving
# setting, and the rebuild command with its own unless GOGC was given.
GOGC_GIVEN=${GOGC:-}
export GOGC=${GOGC:-400}
# go test's b.TempDir and every data directory live under $WORK: one
# filesystem, reported below, and one cleanup.
export TMPDIR=$WORK

for tool in go python3 /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "perf.sh: $tool is required" >&2; exit 1; }
done

T0=$(date +%s)
FAILED=()
log() { printf '[perf %4ds] %s\n' $(($(date +%s) - T0)) "$*" >&2; }
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# --- helpers ---------------------------------------------------------------

# metric FILE BENCH UNIT prints the value reported as UNIT on the line of
# benchmark BENCH (name without the -GOMAXPROCS suffix), or nothing.
metric() {
	awk -v b="$2" -v u="$3" '
		/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name)
			if (name == b) for (i = 4; i <= NF; i++) if ($i == u) { print $(i-1); exit } }' "$1"
}

# metrics FILE BENCH UNIT prints the value reported as UNIT on every line
# of benchmark BENCH (a run with -count N has N of them), one per line.
metrics() {
	awk -v b="$2" -v u="$3" '
		/^Benchmark/ { name = $1; sub(/-[0-9]+$/, "", name)
			if (name == b) for (i = 4; i <= NF; i++) if ($i == u) print $(i-1) }' "$1"
}

# median prints the median of the numbers on stdin (the lower middle one
# of an even count), or nothing; spread prints "min–max" of them.
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
spread() { sort -g | awk -v n="${1:-2}" '{ v[NR] = $1 } END { if (NR) printf "%.*f–%.*f\n", n, v[1], n, v[NR] }'; }

# ratio A B prints A/B with 2 decimals (3 below 0.1), or n/a.
ratio() {
	awk -v a="${1:-}" -v b="${2:-}" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) { print "n/a"; exit }
		r = a / b; printf (r < 0.1 ? "%.3f" : "%.2f"), r }'
}

# num X prints X rounded, with thousands separators; dec X N with N decimals.
num() {
	awk -v x="${1:-}" 'BEGIN {
		if (x == "") { print "n/a"; exit }
		s = sprintf("%.0f", x); neg = ""
		if (substr(s, 1, 1) == "-") { neg = "-"; s = substr(s, 2) }
		r = ""; while (length(s) > 3) { r = "," substr(s, length(s) - 2) r; s = substr(s, 1, length(s) - 3) }
		print neg s r }'
}
dec() { awk -v x="${1:-}" -v n="${2:-2}" 'BEGIN { if (x == "") print "n/a"; else printf "%.*f\n", n, x }'; }

# gt A B: exit 0 if A > B (both numbers).
gt() { awk -v a="${1:-0}" -v b="${2:-0}" 'BEGIN { exit !(a + 0 > b + 0) }'; }

# gobench NAME ARGS... runs go test ARGS into $WORK/NAME.txt; a failure is
# recorded and the run goes on, so the report shows what did run.
gobench() {
	local name=$1; shift
	log "go test $*"
	if ! (cd "$ROOT" && go test "$@") >"$WORK/$name.txt" 2>&1; then
		FAILED+=("go test $* (see the raw output in the appendix)")
		log "FAILED: go test $*"
	fi
}

# The report is built in pieces and assembled at the end; NOTES collects
# what a reader must know about a figure (checks below).
BODY=$WORK/body.md
NOTES=$WORK/notes.md
: >"$BODY"
: >"$NOTES"
note() { printf -- '- %s\n' "$*" >>"$NOTES"; }
md() { printf '%s\n' "$@" >>"$BODY"; }

# --- machine ---------------------------------------------------------------

LOAD_START=$(loadavg)
DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
CPU=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
MEM=$(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
FS=$(df -PT "$WORK" | awk 'NR == 2 { print $2 " (" $1 ", mounted on " $7 ")" }')
MOUNTOPTS=$(awk -v m="$(df -P "$WORK" | awk 'NR == 2 { print $6 }')" '$2 == m { o = $4 } END { print o }' /proc/mounts)

log "building the binary and genevents into $WORK"
(cd "$ROOT" && go build -o "$WORK/orderstore" ./cmd/orderstore && go build -o "$WORK/genevents" ./scripts/genevents)
BIN=$WORK/orderstore

# --- 1. storage: appends, reads, the bare engine ---------------------------

# On a shared machine the disk's fsync rate drifts by several times within
# a minute and the CPU left to a benchmark varies, so each storage figure is
# measured in rounds, within seconds of its references, in alternating
# order; every ratio is the median of the rounds' ratios, shown with their
# range.

# bench_rounds FILE ROUNDS BENCHTIME PATTERN... runs the benchmarks matching
# each PATTERN in turn, ROUNDS times, reversing the order every other round.
bench_rounds() {
	local file=$1 rounds=$2 benchtime=$3
	shift 3
	local pats=("$@") r i pat
	: >"$file"
	for r in $(seq 1 "$rounds"); do
		log "$(basename "$file" .txt) round $r of $rounds"
		for i in "${!pats[@]}"; do
			pat=${pats[$i]}
			((r % 2)) || pat=${pats[$((${#pats[@]} - 1 - i))]}
			echo "round $r" >>"$file"
			if ! (cd "$ROOT/eventstore/embedded" && "$WORK/embedded.test" -test.run '^$' -test.bench "$pat" -test.benchtime "$benchtime") >>"$file" 2>&1; then
				FAILED+=("embedded.test -test.bench '$pat' (round $r)")
			fi
		done
	done
}

# rounds.py MODE FILE ENV summarises a bench_rounds file as a markdown table
# (stdout) and shell variables (ENV).
cat >"$WORK/rounds.py" <<'EOF'
import re, statistics, sys

mode, src, env = sys.argv[1:4]
rounds = {}  # round -> {(benchmark, unit): value}
r = 0
for line in open(src, errors="replace"):
    if line.startswith("round "):
        r = int(line.split()[1])
    elif line.startswith("Benchmark"):
        f = line.split()
        name = re.sub(r"-\d+$", "", f[0])
        for i in range(3, len(f)):
            try:
                rounds.setdefault(r, {})[(name, f[i])] = float(f[i - 1])
            except ValueError:
                pass

def vals(key):
    return [m[key] for m in rounds.values() if key in m]

def med(xs):
    return statistics.median(xs) if xs else None

def num(x, d=0):
    return "n/a" if x is None else f"{x:,.{d}f}"

def prec(x):
    return 3 if abs(x) < 0.1 else 2

out = {}

def ratio(name, a, b):
    """The median of the rounds' a/b, as bold text with its range."""
    xs = [m[a] / m[b] for m in rounds.values() if a in m and b in m and m[b]]
    if not xs:
        return "n/a"
    m, lo, hi = med(xs), min(xs), max(xs)
    d = prec(m)
    out[name], out[name + "_LO"], out[name + "_HI"] = f"{m:.{d}f}", f"{lo:.{d}f}", f"{hi:.{d}f}"
    return f"**{m:.{d}f}** ({lo:.{d}f}–{hi:.{d}f})" if len(xs) > 1 else f"**{m:.{d}f}**"

if mode == "durable":
    FS = ("BenchmarkFsync", "fsyncs/s")
    print("| writers | appends/s | fsyncs/event | p99 | raw fsyncs/s | appends ÷ fsyncs | bare rows/s (tx size) | store ÷ bare |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for w, tx in ((1, 1), (64, 32)):
        A = (f"BenchmarkAppend/writers={w}", "appends/s")
        B = (f"BenchmarkBareInsert/tx={tx}", "rows/s")
        fpe = med(vals((A[0], "fsyncs/event")))
        p99 = med(vals((A[0], "p99-µs")))
        print(f"| {w} | {num(med(vals(A)))} | {num(fpe, 3)} | {num(None if p99 is None else p99 / 1000, 1)} ms | "
              f"{num(med(vals(FS)))} | {ratio(f'RATIO_FSYNC_{w}', A, FS)} | {num(med(vals(B)))} ({tx}) | "
              f"{ratio(f'RATIO_BARE_{w}', A, B)} |")
        if fpe:
            out[f"BATCH_{w}"] = f"{1 / fpe:.1f}"
    fs = vals(FS)
    if fs:
        out["FSYNC_MIN"], out["FSYNC_MAX"] = f"{min(fs):.0f}", f"{max(fs):.0f}"
    print()
    print(f"Medians of {len(rounds)} rounds, ratios with their range over the rounds. "
          f"Raw fsyncs/s per round: {', '.join(num(x) for x in fs)}.")
elif mode == "read":
    R = ("BenchmarkReadAll", "events/s")
    print("| reader | rows/s | store ÷ it |")
    print("|---|---:|---:|")
    print(f"| store ReadAll (decoded events) | {num(med(vals(R)))} | — |")
    for label, name, key in (("bare, database/sql Scan", "BenchmarkBareReadAll/database/sql", "RATIO_SQL"),
                             ("bare, driver rows (ceiling)", "BenchmarkBareReadAll/driver", "RATIO_DRV")):
        B = (name, "rows/s")
        print(f"| {label} | {num(med(vals(B)))} | {ratio(key, R, B)} |")
    print()
    print(f"Medians of {len(rounds)} rounds, ratios with their range over the rounds.")
elif mode == "http":
    T, O = ("BenchmarkHTTP/trivial", "req/s"), ("BenchmarkHTTP/orders", "req/s")
    print("| handler | req/s | p50 | p99 | events/fsync | ÷ trivial |")
    print("|---|---:|---:|---:|---:|---:|")
    p = lambda name, unit: num(med(vals((name, unit))), 2)
    print(f"| trivial | {num(med(vals(T)))} | {p(T[0], 'p50-ms')} ms | {p(T[0], 'p99-ms')} ms | — | — |")
    print(f"| POST /orders | {num(med(vals(O)))} | {p(O[0], 'p50-ms')} ms | {p(O[0], 'p99-ms')} ms | "
          f"{num(med(vals((O[0], 'events/fsync'))), 1)} | {ratio('RATIO_HTTP', O, T)} |")
    print()
    print(f"Medians of {len(rounds)} rounds, the ratio with its range over the rounds.")
print()
out["ROUNDS_DONE"] = str(len(rounds))
with open(env, "w") as e:
    for k, v in out.items():
        e.write(f"{k}={v}\n")
EOF

# store_vs_bare_note RATIO LO HI WHAT adds a note when the store seems to
# beat the bare engine, which does the same durable or read work with less.
store_vs_bare_note() {
	local m=$1 lo=$2 hi=$3 what=$4
	[[ -n $m ]] && gt "$m" 1.05 || return 0
	if gt 1 "$lo"; then
		note "Store above the bare engine, $what: median ${m}× but ${lo}–${hi} over the rounds. The range straddles 1, so this is the shared machine's noise, not a real difference; read it as ≈ 1 (the store does the bare engine's work and more)."
	else
		note "Store above the bare engine in every round, $what (${lo}–${hi}×): it cannot do the same work with less; look for a difference between the two benchmarks (batch size, file state) before trusting either."
	fi
}

log "go test -c ./eventstore/embedded/"
(cd "$ROOT" && go test -c -o "$WORK/embedded.test" ./eventstore/embedded/)

ROUNDS=5
DURABLE=('^BenchmarkFsync$' '^BenchmarkAppend$/^writers=1$' '^BenchmarkBareInsert$/^tx=1$' '^BenchmarkAppend$/^writers=64$' '^BenchmarkBareInsert$/^tx=32$')
LOAD_STORE=$(loadavg)
bench_rounds "$WORK/durable.txt" "$ROUNDS" 1s "${DURABLE[@]}"
python3 "$WORK/rounds.py" durable "$WORK/durable.txt" "$WORK/durable.env" >"$WORK/durable.md"
# shellcheck source=/dev/null
. "$WORK/durable.env"
md "## Durable appends" "" \
	"\`go test -c ./eventstore/embedded/\`, then $ROUNDS rounds of \`embedded.test -test.run '^\$' -test.benchtime 1s -test.bench B\` for B in $(printf '`%s`, ' "${DURABLE[@]}" | sed 's/, $//'), in reverse order every other round (load average at start: $LOAD_STORE)." "" \
	"Every append is acknowledged after its transaction is fsynced (WAL, \`synchronous=FULL\`). References: the disk's raw rate of 200-byte append+fsync (BenchmarkFsync), and the bare engine (BenchmarkBareInsert: modernc.org/sqlite through database/sql, same pragmas and schema, one goroutine, transactions of 1 and of 32 rows — about what group commit batches at 64 writers; here it batched ${BATCH_64:-n/a} appends a commit)." ""
cat "$WORK/durable.md" >>"$BODY"
if [[ -n ${FSYNC_MIN:-} ]] && gt "$(ratio "$FSYNC_MAX" "$FSYNC_MIN")" 1.5; then
	note "The disk's raw fsync rate drifted from $(num "$FSYNC_MIN") to $(num "$FSYNC_MAX") fsyncs/s between rounds ($(ratio "$FSYNC_MAX" "$FSYNC_MIN")×): the disk is shared. Ratios are medians of per-round ratios, each against a reference measured seconds apart; absolute append rates are only as stable as the disk."
fi
if [[ -n ${RATIO_FSYNC_1:-} ]] && gt "$RATIO_FSYNC_1" 1.05; then
	note "One writer appends faster than the raw fsync rate (${RATIO_FSYNC_1}×, ${RATIO_FSYNC_1_LO}–${RATIO_FSYNC_1_HI}): one fsync per event cannot beat the disk, so the raw benchmark probably pays for a costlier kind of sync: it grows its file on every write, so each fsync also journals the size change, while SQLite rewrites WAL frames in place once the WAL is reused after a checkpoint."
fi
store_vs_bare_note "${RATIO_BARE_1:-}" "${RATIO_BARE_1_LO:-}" "${RATIO_BARE_1_HI:-}" "1 writer against transactions of 1 row"
store_vs_bare_note "${RATIO_BARE_64:-}" "${RATIO_BARE_64_LO:-}" "${RATIO_BARE_64_HI:-}" "64 writers against transactions of 32 rows (the store batched ${BATCH_64:-n/a})"

READ_ROUNDS=3
LOAD_READ=$(loadavg)
bench_rounds "$WORK/read.txt" "$READ_ROUNDS" 2s '^BenchmarkReadAll$' '^BenchmarkBareReadAll$'
python3 "$WORK/rounds.py" read "$WORK/read.txt" "$WORK/read.env" >"$WORK/read.md"
# shellcheck source=/dev/null
. "$WORK/read.env"
md "## Reading \$all" "" \
	"$READ_ROUNDS rounds of \`embedded.test -test.run '^\$' -test.benchtime 2s -test.bench B\` for B in \`^BenchmarkReadAll\$\`, \`^BenchmarkBareReadAll\$\`, alternating (load average at start: $LOAD_READ)." "" \
	"BenchmarkReadAll reads \$all from the start in pages of 1,000 over a store of 100,000 events; BenchmarkBareReadAll reads the same rows (filled the same way: 8 rows a commit) with the same query, through database/sql (Rows.Scan) and through the driver's rows directly, as the store's read path does (\`read.go\`), with no decoding — the engine's ceiling. Reads are CPU-bound: on a shared machine they vary with the other load." ""
cat "$WORK/read.md" >>"$BODY"
if [[ -n ${RATIO_SQL:-} ]] && gt "$RATIO_SQL" 1; then
	note "The store reads \$all faster than bare database/sql (${RATIO_SQL}×, ${RATIO_SQL_LO}–${RATIO_SQL_HI}). Not a measuring error: the store bypasses database/sql's per-row locking and conversions (it reads the driver's rows through \`Conn.Raw\`), so database/sql is not its ceiling; the driver-level scan is (${RATIO_DRV:-n/a}×)."
fi
store_vs_bare_note "${RATIO_DRV:-}" "${RATIO_DRV_LO:-}" "${RATIO_DRV_HI:-}" "reading \$all against the driver-level scan"

# --- 2. HTTP ---------------------------------------------------------------

# In process: api's BenchmarkHTTP runs the trivial handler and then POST
# /orders in one process, seconds apart; HTTP_ROUNDS rounds give the median
# of their ratios and its range.
LOAD_HTTP=$(loadavg)
HTTP_ROUNDS=5
log "go test -c ./api/, then $HTTP_ROUNDS rounds of BenchmarkHTTP"
(cd "$ROOT" && go test -c -o "$WORK/api.test" ./api/)
: >"$WORK/http.txt"
: >"$WORK/http-default.txt"
for r in $(seq 1 "$HTTP_ROUNDS"); do
	echo "round $r" >>"$WORK/http.txt"
	if ! (cd "$ROOT/api" && "$WORK/api.test" -test.run '^$' -test.bench '^BenchmarkHTTP$' -test.benchtime 20000x) >>"$WORK/http.txt" 2>&1; then
		FAILED+=("api.test -test.bench BenchmarkHTTP (round $r)")
	fi
	# The same with the order path at Go's default GOMAXPROCS, without
	# the P serve adds for its writer (embedded.AddSyncProc).
	echo "round $r" >>"$WORK/http-default.txt"
	if ! (cd "$ROOT/api" && GOMAXPROCS=$(nproc) "$WORK/api.test" -test.run '^$' -test.bench '^BenchmarkHTTP$' -test.benchtime 20000x) >>"$WORK/http-default.txt" 2>&1; then
		FAILED+=("GOMAXPROCS=$(nproc) api.test -test.bench BenchmarkHTTP (round $r)")
	fi
done
python3 "$WORK/rounds.py" http "$WORK/http-default.txt" "$WORK/http-default.env" >"$WORK/http-default.md"
HTTP_DEFAULT_RATIO=$(sed -n 's/^RATIO_HTTP=//p' "$WORK/http-default.env")
HTTP_DEFAULT_LO=$(sed -n 's/^RATIO_HTTP_LO=//p' "$WORK/http-default.env")
HTTP_DEFAULT_HI=$(sed -n 's/^RATIO_HTTP_HI=//p' "$WORK/http-default.env")
python3 "$WORK/rounds.py" http "$WORK/http.txt" "$WORK/http.env" >"$WORK/http.md"
# shellcheck disable=SC1091
source "$WORK/http.env"
md "## HTTP: POST /orders vs a trivial handler" "" \
	"\`go test -c ./api/\`, then $HTTP_ROUNDS rounds of \`api.test -test.run '^\$' -test.bench '^BenchmarkHTTP\$' -test.benchtime 20000x\` (load average at start: $LOAD_HTTP)." "" \
	"64 keep-alive clients over loopback (a Go net/http client in the same process). \`trivial\` reads the body and answers a small JSON 201; \`orders\` is the real API on an embedded store: decode, validate, decide, durable append. Each round runs both, seconds apart. \`orders\` runs as serve runs it, with GOMAXPROCS one more than the cores (embedded.AddSyncProc: a P for the handlers while the writer is blocked in fsync); \`trivial\` at Go's default, GOMAXPROCS = $(nproc), which it cannot use more of." ""
cat "$WORK/http.md" >>"$BODY"
md "Each round also ran both at Go's default (\`GOMAXPROCS=$(nproc) api.test …\`): POST /orders ÷ trivial **${HTTP_DEFAULT_RATIO:-n/a}** (${HTTP_DEFAULT_LO:-n/a}–${HTTP_DEFAULT_HI:-n/a}) without serve's extra P:" "" "$(cat "$WORK/http-default.md")" ""
if [[ -n ${RATIO_HTTP:-} ]] && gt "$RATIO_HTTP" 1; then
	note "POST /orders faster than the trivial handler: impossible for the same requests; check the raw lines."
fi

# What the order path spends its CPU on, now and at PROFILE_BASE (the
# revision before the order path was last profiled and trimmed; set
# PROFILE_BASE= to skip it): a CPU profile and the allocations per request
# of the orders benchmark alone, side by side.
PROFILE_BASE=${PROFILE_BASE-a0caf4f}
profile_http() { # profile_http NAME TESTBINARY DIR
	local name=$1 bin=$2 dir=$3
	(cd "$dir" && "$bin" -test.run '^$' -test.bench '^BenchmarkHTTP$/^orders$' -test.benchtime 40000x -test.benchmem \
		-test.cpuprofile "$WORK/profile-$name.cpu") >"$WORK/profile-$name.txt" 2>&1 || FAILED+=("profile of BenchmarkHTTP/orders ($name)")
	go tool pprof -top -cum -nodecount 2000 "$bin" "$WORK/profile-$name.cpu" 2>/dev/null |
		awk '/Total samples = / { t = $0; sub(/.*Total samples = /, "", t); sub(/ .*/, "", t); print "total\t" t }
			NF >= 6 && $2 ~ /%$/ && $5 ~ /%$/ { sub(/%$/, "", $5); print $5 "\t" $6 }' >"$WORK/profile-$name.tsv"
}
PROFILED=
if [[ -n $PROFILE_BASE ]] && (cd "$ROOT" && git worktree add -q --detach "$WORK/base" "$PROFILE_BASE") 2>/dev/null; then
	log "profiling BenchmarkHTTP/orders at $PROFILE_BASE and now"
	if (cd "$WORK/base" && go test -c -o "$WORK/api-base.test" ./api/); then
		profile_http before "$WORK/api-base.test" "$WORK/base/api"
		PROFILED=before
	fi
	(cd "$ROOT" && git worktree remove --force "$WORK/base") || true
else
	log "profiling BenchmarkHTTP/orders"
fi
profile_http now "$WORK/api.test" "$ROOT/api"
md "### Where POST /orders spends its time" "" \
	"\`api.test -test.run '^\$' -test.bench '^BenchmarkHTTP\$/^orders\$' -test.benchtime 40000x -test.benchmem -test.cpuprofile F\`, then \`go tool pprof -top -cum\`$([[ -n $PROFILED ]] && echo ", at $PROFILE_BASE (before the order path was trimmed) and now"). Cumulative share of the CPU samples of the process, whose in-process client takes its part; the store's writer (\`Store.writeLoop\`) is the one goroutine every append waits for." ""
python3 - "$WORK" "$PROFILED" >>"$BODY" <<'EOF'
import os, re, sys
work, base = sys.argv[1], sys.argv[2]
cols = ([base] if base else []) + ["now"]
shares, total = {}, {}
for c in cols:
    shares[c] = {}
    for line in open(os.path.join(work, f"profile-{c}.tsv")):
        a, b = line.rstrip("\n").split("\t")
        if a == "total":  # e.g. 2.34s or 870ms
            m = re.fullmatch(r"([0-9.]+)(ms|s)", b)
            total[c] = float(m.group(1)) * (1e3 if m.group(2) == "s" else 1) if m else None
        else:
            shares[c].setdefault(b, float(a))
def bench(c, unit):
    for line in open(os.path.join(work, f"profile-{c}.txt")):
        f = line.split()
        if f and f[0].startswith("BenchmarkHTTP/orders"):
            for i in range(2, len(f)):
                if f[i] == unit:
                    return float(f[i - 1])
    return None
# The rows: the order path's own steps and the library work under them.
rows = [
    ("net/http: serve a connection (all of the server side)", r"^net/http\.\(\*conn\)\.serve$"),
    ("gorilla/mux: route", r"^github\.com/gorilla/mux\.\(\*Router\)\.ServeHTTP$"),
    ("api: POST /orders handler", r"^github\.com/orderstore/orderstore/api\.\(\*Server\)\.placeOrder$"),
    ("api: decode the body", r"^github\.com/orderstore/orderstore/api\.decodeJSON$"),
    ("api: write the answer", r"^github\.com/orderstore/orderstore/api\.\(\*Server\)\.writeResult$"),
    ("orders: decide and append", r"^github\.com/orderstore/orderstore/orders\.\(\*Service\)\.Place$"),
    ("domain: encode the events", r"^github\.com/orderstore/orderstore/domain\.Encode$"),
    ("store: Append (validate, queue, wait)", r"^github\.com/orderstore/orderstore/eventstore/embedded\.\(\*Store\)\.Append$"),
    ("store writer: its goroutine (inserts, WAL, fsync)", r"^github\.com/orderstore/orderstore/eventstore/embedded\.\(\*Store\)\.writeLoop$"),
    ("store writer: fsync", r"unixSync$"),
    ("encoding/json: Marshal", r"^encoding/json\.Marshal$"),
    ("encoding/json: Decoder.Decode", r"^encoding/json\.\(\*Decoder\)\.Decode$"),
    ("runtime: allocation (mallocgc)", r"^runtime\.mallocgc$"),
    ("runtime: GC workers", r"^runtime\.gcBgMarkWorker$"),
    ("the in-process client", r"^net/http\.\(\*Client\)\.Do$"),
]
print("| | " + " | ".join(cols) + " |")
print("|---|" + "---:|" * len(cols))
# CPU time per request: the profile's samples over the requests sent.
per = {}
for c in cols:
    n = None
    for line in open(os.path.join(work, f"profile-{c}.txt")):
        f = line.split()
        if f and f[0].startswith("BenchmarkHTTP/orders") and len(f) > 1:
            n = float(f[1])
    per[c] = total.get(c) * 1000 / n if total.get(c) and n else None
for label, unit in (("req/s", "req/s"), ("events per commit (one fsync each)", "events/fsync"), ("allocations per request", "allocs/op"), ("bytes allocated per request", "B/op")):
    vals = [bench(c, unit) for c in cols]
    print(f"| {label} | " + " | ".join("n/a" if v is None else f"{v:,.0f}" for v in vals) + " |")
print("| CPU per request, all goroutines | " + " | ".join("n/a" if per[c] is None else f"{per[c]:.0f} µs" for c in cols) + " |")
for label, pat in rows:
    rx = re.compile(pat)
    cells = []
    for c in cols:
        v = max((p for fn, p in shares[c].items() if rx.search(fn)), default=None)
        if v is None:
            cells.append("—")
        elif per[c] is None:
            cells.append(f"{v:.1f}%")
        else:
            cells.append(f"{v * per[c] / 100:.1f} µs ({v:.0f}%)")
    print(f"| {label} | " + " | ".join(cells) + " |")
print()
EOF

# From outside: wrk (one thread, 64 keep-alive connections) against three
# servers in their own processes: the trivial handler and the API's order
# path as BenchmarkHTTP builds them (scripts/httpref), and orderstore
# serve, which also runs its three projections and writes a log line per
# request at its default level, info.
LOAD_WRK=$(loadavg)
if command -v wrk >/dev/null; then
	log "wrk against scripts/httpref (trivial, orders) and orderstore serve"
	(cd "$ROOT" && go build -o "$WORK/httpref" ./scripts/httpref)
	cat >"$WORK/post.lua" <<'EOF'
wrk.method = "POST"
wrk.body = '{"customer_id":"cust-1","currency":"EUR","lines":[{"sku":"SKU-1","quantity":2,"unit_price":1250},{"sku":"SKU-2","quantity":1,"unit_price":990}]}'
wrk.headers["Content-Type"] = "application/json"
EOF
	"$WORK/httpref" -handler trivial >"$WORK/trivial.addr" &
	TRIVIAL_PID=$!
	"$WORK/httpref" -handler orders -data "$WORK/wrk-ref" >"$WORK/orders.addr" &
	REF_PID=$!
	"$BIN" serve --addr 127.0.0.1:0 --data "$WORK/wrk-serve" --log-format json --stock-policy track 2>"$WORK/wrk-serve.log" >/dev/null &
	SERVE_PID=$!
	T_ADDR= O_ADDR= S_ADDR=
	for _ in $(seq 1 300); do
		T_ADDR=$(head -1 "$WORK/trivial.addr")
		O_ADDR=$(head -1 "$WORK/orders.addr")
		S_ADDR=$(python3 -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try: rec = json.loads(line)
    except ValueError: continue
    if rec.get("msg") == "listening": print(rec["addr"].removeprefix("http://")); break
' "$WORK/wrk-serve.log")
		[[ -n $T_ADDR && -n $O_ADDR && -n $S_ADDR ]] && "$BIN" health --addr "$S_ADDR" >/dev/null 2>&1 && break
		sleep 0.1
	done
	: >"$WORK/wrk.txt"
	if [[ -n $T_ADDR && -n $O_ADDR && -n $S_ADDR ]]; then
		for r in 1 2 3; do
			for target in trivial orders serve; do
				case $target in trivial) addr=$T_ADDR ;; orders) addr=$O_ADDR ;; serve) addr=$S_ADDR ;; esac
				rps=$(wrk -t1 -c64 -d5s -s "$WORK/post.lua" "http://$addr/orders" | tee -a "$WORK/wrk-raw.txt" | awk '/^Requests\/sec:/ { print $2 }')
				echo "round $r $target ${rps:-0}" >>"$WORK/wrk.txt"
			done
		done
	else
		FAILED+=("scripts/httpref or orderstore serve did not start for wrk")
	fi
	kill -TERM "$TRIVIAL_PID" "$REF_PID" "$SERVE_PID" 2>/dev/null || true
	wait "$TRIVIAL_PID" "$REF_PID" "$SERVE_PID" 2>/dev/null || true
	SERVE_PID= TRIVIAL_PID= REF_PID=
	WRK_TABLE=$(python3 - "$WORK/wrk.txt" "$WORK/wrk.env" <<'EOF'
import statistics, sys
rounds = {}
for line in open(sys.argv[1]):
    _, r, target, rps = line.split()
    rounds.setdefault(r, {})[target] = float(rps)
env = open(sys.argv[2], "w")
print("| server | req/s | ÷ trivial |")
print("|---|---:|---:|")
for key, label in (("trivial", "scripts/httpref -handler trivial"),
                   ("orders", "scripts/httpref -handler orders: the order path"),
                   ("serve", "orderstore serve --stock-policy track: the order path, projections, request log")):
    xs = [v[key] for v in rounds.values() if v.get(key)]
    rs = [v[key] / v["trivial"] for v in rounds.values() if v.get(key) and v.get("trivial")]
    cell = "—"
    if key != "trivial" and rs:
        m = statistics.median(rs)
        cell = f"**{m:.2f}** ({min(rs):.2f}–{max(rs):.2f})"
        env.write(f"RATIO_WRK_{key.upper()}={m:.2f}\n")
    print(f"| {label} | {statistics.median(xs) if xs else 0:,.0f} | {cell} |")
print()
print(f"Medians of {len(rounds)} rounds, ratios with their range over the rounds.")
EOF
)
	md "### The same from outside: wrk" "" \
		"\`wrk -t1 -c64 -d5s -s post.lua http://ADDR/orders\` (the body of BenchmarkHTTP), 3 rounds, each against the three servers in turn, all running at once on the same $(nproc) cores as wrk (load average at start: $LOAD_WRK). \`scripts/httpref\` serves BenchmarkHTTP's two handlers with serve's server timeouts (and, for orders, serve's GOMAXPROCS: one more than the cores); \`orderstore serve --data TMP --stock-policy track\` also applies every event to its projections (stock, analytics, the order list, the fulfilment read model) as it comes, and writes a JSON log line per request; under track, the saga has no order to reserve (wrk's orders are for SKUs without stock, which reserve would reject)." "" \
		"$WRK_TABLE" ""
else
	md "### The same from outside" "" "Not measured: wrk is not installed (\`apt-get install wrk\`)." ""
fi

# --- 3. projections: rebuild and live lag ----------------------------------

LOAD_REBUILD=$(loadavg)
REBUILD_CMD="go test -run '^\$' -bench Rebuild -benchtime 3x -count 3 ./projections/"
gobench rebuild -run '^$' -bench Rebuild -benchtime 3x -count 3 ./projections/
R=$WORK/rebuild.txt
md "## Rebuild vs a raw read of \$all" "" \
	"\`$REBUILD_CMD\` (load average at start: $LOAD_REBUILD)" "" \
	"Each iteration reads \$all raw (pages of 1,000) and then rebuilds offline over it, on a store of about 120,000 events written by 64 writers of random commands: x-read = rebuild rate ÷ raw read rate, both in the same iteration. A rebuild reads \$all too, so x-read is at most 1. Medians of 3 rounds (each on a new store), x-read with its range over the rounds." "" \
	"| projection | raw read events/s | rebuild events/s | x-read | cores used |" "|---|---:|---:|---:|---:|"
for p in stock analytics all; do
	XR=$(metrics "$R" "BenchmarkRebuild/$p" x-read | median)
	md "| $p | $(num "$(metrics "$R" "BenchmarkRebuild/$p" read-events/s | median)") | $(num "$(metrics "$R" "BenchmarkRebuild/$p" rebuild-events/s | median)") | **$(dec "$XR" 2)** ($(metrics "$R" "BenchmarkRebuild/$p" x-read | spread)) | $(dec "$(metrics "$R" "BenchmarkRebuild/$p" cores | median)" 2) |"
	if [[ -n $XR ]] && gt "$XR" 1; then
		note "Rebuild of $p faster than the raw read of \$all ($XR×): impossible, as the rebuild reads the same pages; look for a read that is slowed by something else (cold cache in the first iteration, load)."
	fi
done
md ""

gobench decode -run '^$' -bench Decode -count 3 ./domain/
D=$WORK/decode.txt
DF=$(metrics "$D" BenchmarkDecode/Decode ns/op | median)
DJ=$(metrics "$D" BenchmarkDecode/encoding-json ns/op | median)
md "Decoding the payloads, which a replay does for every event (\`go test -run '^\$' -bench Decode -count 3 ./domain/\`, medians of 3): domain.Decode takes $(dec "$DF" 0) ns a payload against $(dec "$DJ" 0) ns for encoding/json on the same payloads, **$(ratio "$DJ" "$DF")×** faster." ""

LOAD_LAG=$(loadavg)
LAG_CMD="go test -run '^\$' -bench LiveLag -benchtime 15000x -count 1 ./projections/"
gobench livelag -run '^$' -bench LiveLag -benchtime 15000x -count 1 ./projections/
L=$WORK/livelag.txt
LRATE=$(metric "$L" BenchmarkLiveLag commands/s)
md "## Projection live lag" "" \
	"\`$LAG_CMD\` (load average at start: $LOAD_LAG)" "" \
	"64 writers send random commands paced at 5,000 commands/s (15,000 commands); lag is the time from an append's acknowledgement until both projections have applied it. The load is open loop: writers do not wait for the projections before their next command, so the rate reached is the offered rate unless appends themselves fall behind." "" \
	"| target commands/s | reached | reached ÷ target | lag p50 | lag p99 |" "|---:|---:|---:|---:|---:|" \
	"| 5,000 | $(num "$LRATE") | **$(ratio "$LRATE" 5000)** | $(dec "$(awk -v x="$(metric "$L" BenchmarkLiveLag p50-µs)" 'BEGIN { if (x != "") print x / 1000 }')" 2) ms | $(dec "$(awk -v x="$(metric "$L" BenchmarkLiveLag p99-µs)" 'BEGIN { if (x != "") print x / 1000 }')" 2) ms |" ""
if [[ -n $LRATE ]] && ! gt "$LRATE" 4750; then
	note "Live lag: the load reached $(num "$LRATE") commands/s, not the 5,000 targeted, so the lag figures hold at that rate. The load is open loop (writers do not wait for the projections), so it is the appends themselves that fell behind the schedule, on $(nproc) cores shared with other work (load average $LOAD_LAG)."
fi

# --- 3b. fulfilment saga ----------------------------------------------------

LOAD_SAGA=$(loadavg)
SAGA_CMD="go test -run '^\$' -bench Fulfilment -benchtime 1x -count 3 ./fulfilment/"
gobench saga -run '^$' -bench Fulfilment -benchtime 1x -count 3 ./fulfilment/
F=$WORK/saga.txt
FT=BenchmarkFulfilment/Throughput
FH=BenchmarkFulfilment/ThroughputHTTP
FL=BenchmarkFulfilment/Latency1000
FRATIO=$(metrics "$F" $FT ratio | median)
FHRATIO=$(metrics "$F" $FH ratio | median)
FP99=$(metrics "$F" $FL p99_ms | median)
# saga_row LABEL BENCH: one row of the throughput table.
saga_row() {
	echo "| $1 | $(num "$(metrics "$F" "$2" track_orders/s | median)") | $(num "$(metrics "$F" "$2" reserve_placed/s | median)") | $(num "$(metrics "$F" "$2" reserved_orders/s | median)") | **$(dec "$(metrics "$F" "$2" ratio | median)" 2)** ($(metrics "$F" "$2" ratio | spread)) | $(num "$(metrics "$F" "$2" "track_cpu_µs/order" | median)") | $(num "$(metrics "$F" "$2" "cpu_µs/order" | median)") | $(dec "$(metrics "$F" "$2" events/commit | median)" 1) |"
}
md "## Fulfilment saga (stock policy reserve)" "" \
	"\`$SAGA_CMD\` (load average at start: $LOAD_SAGA)" "" \
	"Embedded store, 200 SKUs with ample stock, orders of 2 lines on random SKUs. Throughput: 64 clients place 6,000 orders under the track policy (the reference), then 6,000 under reserve with the saga running; a subscriber follows \$all in both phases (as the projections do under serve), and each phase counts from its first placement until that subscriber has seen every order's OrderPlaced (track) or OrderStockReserved (reserve); ratio = reserved orders/s ÷ track orders/s of the same iteration. The clients place orders either through the orders service in process (Throughput), or as clients of serve do, with POST /orders through the API on a loopback server with keep-alive connections (ThroughputHTTP); the projections do not run in either. Latency: orders placed at 1,000/s for 5 s, from each placement's answer to its OrderStockReserved seen by a subscriber. Medians of 3 iterations (each on a new store), ratio with its range." "" \
	"| placed | track placed/s (reference) | reserve placed/s | reserved orders/s | ratio | CPU µs an order, track | CPU µs an order, reserve | events/commit under reserve |" \
	"|---|---:|---:|---:|---:|---:|---:|---:|" \
	"$(saga_row "in process" $FT)" \
	"$(saga_row "over HTTP" $FH)" "" \
	"| OrderPlaced → reserved at 1,000 orders/s: p50 | p99 | max |" \
	"|---:|---:|---:|" \
	"| $(dec "$(metrics "$F" $FL p50_ms | median)" 1) ms | **$(dec "$FP99" 1) ms** | $(dec "$(metrics "$F" $FL max_ms | median)" 1) ms |" "" \
	"CPU µs an order: the process's CPU time (user and system: clients, server, store, saga, follower) in the phase, per order. In process, what bounds the ratio is the embedded store's single writer, which commits about as many events per second in both phases, while an order under reserve costs it four events (OrderPlaced, a StockReserved per line, OrderStockReserved) against one under track. Over HTTP, both phases keep the $(nproc) cores busy, so the ratio is about the track phase's CPU per order over the reserve phase's: a placement costs its request under both policies, and a reserved order adds the saga's work and three more events for the writer. See docs/fulfilment.md, Performance. The targets are ≥ 0.5 and p99 < 50 ms." ""
if [[ -n $FHRATIO ]] && ! gt "$FHRATIO" 0.5; then
	note "Fulfilment: over HTTP, reserved orders/s is $(dec "$FHRATIO" 2)× the track placement rate, below the 0.5× target (in process: $(dec "$FRATIO" 2)×): a reserved order costs the process the saga's work and three more events for the store's writer, see the section."
elif [[ -n $FRATIO ]] && ! gt "$FRATIO" 0.5; then
	note "Fulfilment: in process, reserved orders/s is $(dec "$FRATIO" 2)× the track placement rate ($(dec "$FHRATIO" 2)× over HTTP): the store's single writer takes four events per reserved order against one, see the section."
fi
if [[ -n $FP99 ]] && gt "$FP99" 50; then
	note "Fulfilment: OrderPlaced → reserved p99 is $(dec "$FP99" 1) ms at 1,000 orders/s, above the 50 ms target."
fi

# --- 4. offline rebuild: peak RSS ------------------------------------------

# rebuild_rss DIR LABEL PROJECTION: rebuild under /usr/bin/time -v with
# GODEBUG=gctrace=1 (to tell the Go heap from the rest of the RSS) and print
# a table row.
rebuild_rss() {
	local dir=$1 label=$2 proj=$3 events out
	events=$(cat "$dir.events")
	out=$WORK/rss-$label-$proj.txt
	log "orderstore rebuild --projection $proj on $label"
	local gc=(-u GOGC)
	[[ -z $GOGC_GIVEN ]] || gc=("GOGC=$GOGC_GIVEN")
	env "${gc[@]}" GODEBUG=gctrace=1 \
		/usr/bin/time -v "$BIN" rebuild --data "$dir" --projection "$proj" --log-format json >"$out" 2>&1 &
	local tpid=$! rc=0 child=
	# Sample the rebuild's RSS every 0.2 s, to see whether it levels off,
	# and its open descriptors of events.db: one per SQLite connection,
	# each with its own page cache.
	: >"$out.rss"
	: >"$out.conns"
	while kill -0 "$tpid" 2>/dev/null; do
		[[ -n $child ]] || child=$(cat "/proc/$tpid/task/$tpid/children" 2>/dev/null | awk '{ print $1 }') || true
		if [[ -n $child ]]; then
			awk '/^VmRSS/ { print $2 }' "/proc/$child/status" >>"$out.rss" 2>/dev/null || true
			find "/proc/$child/fd" -lname '*/events.db' 2>/dev/null | wc -l >>"$out.conns" || true
		fi
		sleep 0.2
	done
	wait "$tpid" || rc=$?
	if ((rc != 0)); then
		FAILED+=("orderstore rebuild --projection $proj on $label")
		md "| $label | $proj | $(num "$events") | failed | | | | | |"
		return
	fi
	python3 - "$out" "$events" "$label" "$proj" "$out.rss" "$out.conns" >>"$BODY" <<'EOF'
import json, re, sys
path, events, label, proj = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
samples = [int(x) / 1024 for x in open(sys.argv[5]).read().split()]
conns = max((int(x) for x in open(sys.argv[6]).read().split()), default=None)
half = f"{samples[len(samples) // 2]:,.0f} MiB" if len(samples) >= 4 else "n/a"
rss = wall = None
heap = 0
rate = None
for line in open(path, errors="replace"):
    line = line.strip()
    if line.startswith("Maximum resident set size"):
        rss = int(line.split(":")[1]) / 1024
    elif line.startswith("Elapsed (wall clock)"):
        parts = line.rsplit(" ", 1)[1].split(":")
        wall = sum(float(p) * 60 ** i for i, p in enumerate(reversed(parts)))
    elif line.startswith("gc "):
        m = re.search(r"(\d+)->(\d+)->(\d+) MB", line)
        if m:
            heap = max(heap, int(m.group(1)), int(m.group(2)))
    elif line.startswith("{"):
        try:
            rec = json.loads(line)
        except ValueError:
            continue
        if rec.get("msg") == "rebuild progress" and rec.get("done") == rec.get("total"):
            rate = rec.get("rate")
        elif rec.get("msg") == "rebuild done" and rec.get("events") == rec.get("total"):
            rate = rec.get("rate")  # the rebuild's own summary line, one per projection: the last wins
f = lambda x: f"{x:,.0f}" if x is not None else "n/a"
wall = f"{wall:.1f} s" if wall is not None else "n/a"
print(f"| {label} | {proj} | {events:,} | **{f(rss)} MiB** | {half} | {heap} MB | {f(conns)} | {wall} | {f(rate)} |")
EOF
	tail -n 1 "$BODY" | cut -d'|' -f5 | tr -dc '0-9' >"$WORK/rss-$label-$proj.mib"
	tail -n 1 "$BODY" | cut -d'|' -f6 | tr -dc '0-9' >"$WORK/rss-$label-$proj.half"
	tail -n 1 "$BODY" | cut -d'|' -f8 | tr -dc '0-9' >"$WORK/rss-$label-$proj.conns"
	du -m "$dir/readmodels.db" | cut -f1 >"$WORK/rss-$label-$proj.rmsize"
}

LOAD_RSS=$(loadavg)
md "## Offline rebuild: peak RSS" "" \
	"\`genevents -data DIR -events N\` (the binary of \`go run ./scripts/genevents\`: whole orders from 32 writers), then \`GODEBUG=gctrace=1 /usr/bin/time -v orderstore rebuild --data DIR --projection P\` with GOGC ${GOGC_GIVEN:-unset (the command then keeps the Go default, 100; serve uses 400)} (load average at start: $LOAD_RSS). Peak RSS is \"Maximum resident set size\"; Go heap is the largest heap gctrace saw (at GC start); events.db connections is the most descriptors of events.db seen open at once (the store's writer, with a page cache of up to 64 MiB, and readers, up to 16 MiB each); the Go heap holds the cache of open orders (up to 8 MiB per projection); the rest of the RSS is mostly SQLite's page caches, which modernc.org/sqlite allocates outside the Go heap; events/s is the rebuild's own average (its last progress line)." ""
for n in 100000 1000000; do
	label=$((n / 1000))k
	[[ $n == 1000000 ]] && label=1M
	log "genevents -events $n"
	"$WORK/genevents" -data "$WORK/gen-$label" -events "$n" >"$WORK/gen-$label.out" 2>&1 || FAILED+=("genevents -events $n")
	awk '/^wrote/ { print $2 }' "$WORK/gen-$label.out" >"$WORK/gen-$label.events"
	GEN_RATE[$n]=$(awk '/^wrote/ { gsub(/[()]/, "", $6); print $6 }' "$WORK/gen-$label.out")
done
# 2M: the 1M history and a million more events (another seed).
log "genevents -events 1000000 more, for 2M"
cp -r "$WORK/gen-1M" "$WORK/gen-2M"
"$WORK/genevents" -data "$WORK/gen-2M" -events 1000000 -seed 2 >"$WORK/gen-2M.out" 2>&1 || FAILED+=("genevents 2M")
awk -v before="$(cat "$WORK/gen-1M.events")" '/^wrote/ { print before + $2 }' "$WORK/gen-2M.out" >"$WORK/gen-2M.events"
GEN_RATE[2000000]=$(awk '/^wrote/ { gsub(/[()]/, "", $6); print $6 }' "$WORK/gen-2M.out")
md "| history | projection | events | peak RSS | RSS at half-time | Go heap peak | events.db connections | wall time | rebuild events/s |" "|---|---|---:|---:|---:|---:|---:|---:|---:|"
rebuild_rss "$WORK/gen-100k" 100k all
rebuild_rss "$WORK/gen-1M" 1M all
rebuild_rss "$WORK/gen-2M" 2M all
rebuild_rss "$WORK/gen-1M" 1M stock
md "" "The 2M history is a copy of the 1M one with a million more events (\`genevents -events 1000000 -seed 2\` on it). genevents wrote at $(num "${GEN_RATE[100000]:-}") events/s (100k), $(num "${GEN_RATE[1000000]:-}") events/s (1M) and $(num "${GEN_RATE[2000000]:-}") events/s (the second million); events.db is $(du -m "$WORK/gen-1M/events.db" | cut -f1) MiB at 1M, $(du -m "$WORK/gen-2M/events.db" | cut -f1) MiB at 2M." ""
RSS100=$(cat "$WORK/rss-100k-all.mib" 2>/dev/null || true)
RSS1M=$(cat "$WORK/rss-1M-all.mib" 2>/dev/null || true)
RSS2M=$(cat "$WORK/rss-2M-all.mib" 2>/dev/null || true)
if [[ -n $RSS1M && -n $RSS2M ]]; then
	rmsize() { cat "$WORK/rss-$1-all.rmsize" 2>/dev/null || echo n/a; }
	note "Doubling the history from 1M to 2M events took the rebuild's peak RSS from $(num "$RSS1M") to $(num "$RSS2M") MiB ($(ratio "$RSS2M" "$RSS1M")×; 100k: $(num "$RSS100") MiB). Memory is bounded by caches, not by history: SQLite's page caches (16 MiB for the event-store reader and 16 MiB for the read-model writer; the event store's writer connection is open too, but a rebuild writes nothing through it) and the cache of open orders each projection keeps while replaying (up to 8 MiB each, in the Go heap column, which GOGC=100 lets reach about twice its live size). The read models themselves, which the read-model writer's page cache holds up to its bound, grow with this history: readmodels.db is $(rmsize 1M) MiB at 1M and $(rmsize 2M) MiB at 2M, mostly open orders, because genevents leaves a fifth of its orders open for good (placed or paid, never shipped or cancelled)."
fi

# --- 5. orderstore bench against serve -------------------------------------

LOAD_SERVE=$(loadavg)
log "orderstore serve + orderstore bench --duration 20s --clients 64"
"$BIN" serve --addr 127.0.0.1:0 --data "$WORK/serve" --log-format json --stock-policy track 2>"$WORK/serve.log" &
SERVE_PID=$!
ADDR=
for _ in $(seq 1 300); do
	ADDR=$(python3 -c '
import json, sys
for line in open(sys.argv[1], errors="replace"):
    try: rec = json.loads(line)
    except ValueError: continue
    if rec.get("msg") == "listening": print(rec["addr"].removeprefix("http://")); break
' "$WORK/serve.log")
	[[ -n $ADDR ]] && "$BIN" health --addr "$ADDR" >/dev/null 2>&1 && break
	kill -0 "$SERVE_PID" 2>/dev/null || break
	sleep 0.1
done
BENCH_CMD="orderstore bench --url http://ADDR --duration 20s --clients 64 --json"
BENCH_RC=0
if [[ -z $ADDR ]]; then
	FAILED+=("orderstore serve did not start (serve.log in the appendix)")
	BENCH_RC=1
	echo '{}' >"$WORK/bench.json"
else
	"$BIN" bench --url "http://$ADDR" --duration 20s --clients 64 --json >"$WORK/bench.json" 2>"$WORK/bench.err" || BENCH_RC=$?
	[[ $BENCH_RC == 0 ]] || FAILED+=("orderstore bench exited $BENCH_RC")
fi
SERVE_HWM=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVE_PID/status" 2>/dev/null || true)
kill -TERM "$SERVE_PID" 2>/dev/null || true
wait "$SERVE_PID" 2>/dev/null || true
SERVE_PID=

md "## orderstore bench against orderstore serve" "" \
	"\`orderstore serve --addr 127.0.0.1:0 --data TMP --stock-policy track\` (the bench's mix ships paid orders at once and predicts their versions, which the saga's events would upset) then \`$BENCH_CMD\` (load average at start: $LOAD_SERVE). The default mix: place 30, add 10, remove 5, pay 20, ship 10, cancel 5, receipt 5, reads 15; the bench client runs on the same $(nproc) cores as the server. Exit status of bench: $BENCH_RC." ""
python3 - "$WORK/bench.json" "${SERVE_HWM:-}" >>"$BODY" <<'EOF'
import json, sys
rep = json.load(open(sys.argv[1]))
hwm = sys.argv[2]
if not rep:
    print("No report: the bench did not run.\n")
    sys.exit()
p = rep.get("projections", {})
print("| requests | duration | throughput | unexpected errors | fallbacks to place | projections caught up | catch-up after the load | events written | serve peak RSS |")
print("|---:|---:|---:|---:|---:|---|---:|---:|---:|")
caught = "yes" if p.get("caught_up") else "**no**"
print(f"| {rep['requests']:,} | {rep['elapsed_seconds']:.1f} s | **{rep['throughput']:,.0f} req/s** | {rep['unexpected_errors']} | "
      f"{rep['fallback_places']} | {caught} | {p.get('catch_up_seconds', 0) * 1000:.0f} ms | "
      f"{p.get('target_position', 0) - p.get('start_head', 0):,} | {hwm + ' MiB' if hwm else 'n/a'} |")
print()
print("| operation | count | req/s | p50 | p99 | p99.9 | max | errors |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for o in rep["operations"]:
    l = o["latency_ms"]
    print(f"| {o['op']} | {o['count']:,} | {o['rate']:,.0f} | {l['p50']:.2f} ms | {l['p99']:.2f} ms | {l['p99_9']:.2f} ms | {l['max']:.2f} ms | {o['errors']} |")
print()
if p.get("at_end"):
    lags = ", ".join(f"{s['name']} {s['lag']:,} events" for s in p["at_end"])
    print(f"Projection lag when the load stopped: {lags}.\n")
if rep.get("errors"):
    print("| errors: operation | status | code | count | first detail |")
    print("|---|---:|---|---:|---|")
    for e in rep["errors"]:
        print(f"| {e['op']} | {e['status']} | {e['code']} | {e['count']} | {e['detail'][:120]} |")
    print()
EOF

# --- 6. webhooks -----------------------------------------------------------

# Delivery of a backlog against a trivial client of the same receiver,
# alternated in rounds inside one run (each iteration of BenchmarkDeliver is
# a round of both); latency at a steady 1,000 events/s; memory while a
# receiver is down and 200,000 events pile up, against a control without a
# notifier (BacklogMemory runs each in a child process of its own).
LOAD_WEBHOOKS=$(loadavg)
WH_CMD="go test -run '^\$' -bench Deliver -benchtime 5x ./webhooks/"
WHL_CMD="go test -run '^\$' -bench 'Latency|BacklogMemory' -benchtime 1x -count 3 ./webhooks/"
gobench webhooks -run '^$' -bench Deliver -benchtime 5x ./webhooks/
gobench webhooks-latency -run '^$' -bench 'Latency|BacklogMemory' -benchtime 1x -count 3 ./webhooks/
W=$WORK/webhooks.txt
WL=$WORK/webhooks-latency.txt
md "## Webhooks" "" \
	"\`$WH_CMD\` and \`$WHL_CMD\` (load average at start: $LOAD_WEBHOOKS)" "" \
	"A backlog of 2,000 events (500 orders) delivered to a local receiver with keep-alive, 32 deliveries in flight per endpoint (a slot frees at the answer; at most 96 answered deliveries await their synced commit), against the same receiver taking the same number of POSTs from a trivial client with as many connections; the two alternate, 5 rounds, and ratio is the median of the rounds' deliveries/s ÷ trivial POSTs/s, with its range. CPU per delivery (the process's user + system time over the delivery phase ÷ deliveries, the receiver's share included, as in the trivial figure) is steadier than rates on a shared machine. Latency: 16 appenders at 1,000 events/s for 3 s over 100 orders, from the start of the append to the receiver; 3 runs. Memory: 200,000 events appended (16 appenders, batches of 10) in a child process without a notifier (the control) and in one whose only endpoint's receiver answers 503, each process fresh (a resident set keeps the high-water mark of whatever ran before it), the resident set read before the appends and after 25,000, 50,000, 100,000 and 200,000 events, each time after a collection that returns freed memory to the system; the notifier's share is the second's minus the control's at the same point; 3 runs, medians with the range." "" \
	"| what | figure | reference, same run | ratio |" "|---|---:|---:|---:|"
for e in 1 10; do
	B="BenchmarkDeliver/endpoints=$e"
	EPS="$e endpoint"
	((e == 1)) || EPS+=s
	R=$(metric "$W" "$B" ratio)
	md "| deliveries/s, $EPS | $(num "$(metric "$W" "$B" deliveries/s)") | trivial client, $((32 * e)) connections: $(num "$(metric "$W" "$B" trivial_per_s)") POSTs/s | **$(dec "$R" 2)** ($(dec "$(metric "$W" "$B" ratio_min)" 2)–$(dec "$(metric "$W" "$B" ratio_max)" 2)) |"
	md "| CPU per delivery, $EPS | $(dec "$(metric "$W" "$B" cpu_us/delivery)" 0) µs | per trivial POST: $(dec "$(metric "$W" "$B" cpu_us/trivial)" 0) µs | **$(dec "$(metric "$W" "$B" cpu_ratio)" 2)** ($(dec "$(metric "$W" "$B" cpu_ratio_min)" 2)–$(dec "$(metric "$W" "$B" cpu_ratio_max)" 2)) |"
	if [[ -n $R ]] && ! gt "$R" 0.3; then
		note "Webhooks: with $EPS the deliveries reached $(dec "$R" 2)× the trivial client's rate, not the 0.3× aimed at (load average $LOAD_WEBHOOKS; the CPU-time ratio in the same row is the steadier figure)."
	fi
done
P50=$(metrics "$WL" BenchmarkLatency p50_ms | median)
P99=$(metrics "$WL" BenchmarkLatency p99_ms | median)
md "| append → delivered at 1,000 events/s, 1 endpoint | p50 $(dec "$P50" 1) ms ($(metrics "$WL" BenchmarkLatency p50_ms | spread 1)), p99 **$(dec "$P99" 1) ms** ($(metrics "$WL" BenchmarkLatency p99_ms | spread 1)) | target p99 < 100 ms; appends reached $(num "$(metrics "$WL" BenchmarkLatency events/s | median)") events/s | |"
md "| receiver down, 200,000 events appended: Go heap | $(metrics "$WL" BenchmarkBacklogMemory heap_before_MiB | spread 1) → $(metrics "$WL" BenchmarkBacklogMemory heap_after_MiB | spread 1) MiB | deliveries held: $(num "$(metrics "$WL" BenchmarkBacklogMemory deliveries_held | median)") (the window: 256) | |"
# backlog_rss CASE prints CASE's medians at 0, 25k, 50k, 100k and 200k
# events, joined by arrows.
backlog_rss() {
	local k out=""
	for k in 000k 025k 050k 100k 200k; do
		out+="${out:+ → }$(dec "$(metrics "$WL" BenchmarkBacklogMemory "$1_${k}_MiB" | median)" "${2:-0}")"
	done
	echo "$out"
}
md "| resident set at 0 → 25k → 50k → 100k → 200k events, receiver down | $(backlog_rss down_rss) MiB | control without a notifier, same run: $(backlog_rss none_rss) MiB (the event store's SQLite page caches filling as the events are written) | |"
md "| the notifier's share (receiver down − control) at the same points | $(backlog_rss share 1) MiB | range over the runs at 200k: $(metrics "$WL" BenchmarkBacklogMemory share_200k_MiB | spread 1) MiB; flat if it does not grow with the backlog | |" ""
if [[ -n $P99 ]] && gt "$P99" 100; then
	note "Webhooks: append → delivered p99 $(dec "$P99" 1) ms at 1,000 events/s, above the 100 ms aimed at (load average $LOAD_WEBHOOKS)."
fi

# --- traces and live streams ----------------------------------------------

# The trace and flow reads run on the 1M-event store genevents wrote above
# (its read models built by the rebuild section); the fan-out alternates
# without and with 50 followers, 3 rounds.
LOAD_TRACES=$(loadavg)
TRACE_CMD="ORDERSTORE_BENCH_DATA=DIR go test -run '^\$' -bench . -benchtime 2000x ./traces/"
(cd "$ROOT" && ORDERSTORE_BENCH_DATA="$WORK/gen-1M" go test -run '^$' -bench . -benchtime 2000x ./traces/) >"$WORK/traces.txt" 2>&1 ||
	FAILED+=("$TRACE_CMD on the 1M store (see the raw output in the appendix)")
FANOUT_CMD="go test -run '^\$' -bench '^BenchmarkStreamFanout\$' -benchtime 20000x -count 3 ./api/"
gobench fanout -run '^$' -bench '^BenchmarkStreamFanout$' -benchtime 20000x -count 3 ./api/
T=$WORK/traces.txt
FO=$WORK/fanout.txt
FAN0=$(metrics "$FO" BenchmarkStreamFanout/followers=0 req/s)
FAN50=$(metrics "$FO" BenchmarkStreamFanout/followers=50 req/s)
FANR=$(paste <(echo "$FAN0") <(echo "$FAN50") | awk '$1 > 0 { printf "%.3f\n", $2 / $1 }')
FL50=$(metrics "$T" BenchmarkFlowRead/correlation p50-ms | median)
FS50=$(metrics "$T" BenchmarkFlowRead/stream p50-ms | median)
md "## Traces and live streams" "" \
	"\`$TRACE_CMD\` with DIR the 1M-event store of the rebuild section (one run), and \`$FANOUT_CMD\` (load average at start: $LOAD_TRACES). The fan-out pairs, in each round, the order path's requests/s without followers and with 50 Server-Sent-Events followers of \`/events/stream\`, each checked to receive every event once and in order. The console's first render in a browser is not part of this run (it needs serve's read models of 1M events and Chromium): see docs/traces.md." "" \
	"| what | figure | reference | ratio |" "|---|---|---|---:|" \
	"| trace of an order's flow on 1M events, as \`GET /traces\` builds it (\`BenchmarkTrace/with-projections\`) | p50 $(dec "$(metrics "$T" BenchmarkTrace/with-projections p50-ms | median)" 2) ms, p99 **$(dec "$(metrics "$T" BenchmarkTrace/with-projections p99-ms | median)" 2) ms** | target p99 < 20 ms | |" \
	"| the flow's events alone (\`BenchmarkTrace/events\`) | p50 $(dec "$(metrics "$T" BenchmarkTrace/events p50-ms | median)" 3) ms, p99 $(dec "$(metrics "$T" BenchmarkTrace/events p99-ms | median)" 2) ms | | |" \
	"| a flow's events by correlation ID (\`BenchmarkFlowRead/correlation\`) | p50 $(dec "$FL50" 3) ms | the same order's stream read: p50 $(dec "$FS50" 3) ms | **$(ratio "$FS50" "$FL50")** (target ≥ 0.5) |" \
	"| the order path with 50 live streams following it, 64 clients | $(num "$(echo "$FAN50" | median)") req/s | the same round without followers: $(num "$(echo "$FAN0" | median)") req/s | **$(echo "$FANR" | median)** (rounds: $(echo "$FANR" | tr '\n' ' ')) |" ""

# --- assemble --------------------------------------------------------------

LOAD_END=$(loadavg)
ELAPSED=$(($(date +%s) - T0))
log "writing $OUT"
{
	echo "# Performance"
	echo
	echo "Generated by \`scripts/perf.sh\` on $DATE in $((ELAPSED / 60)) min $((ELAPSED % 60)) s; do not edit by hand. Every figure comes from this one run on this one machine, beside the reference it should be read against: ratios are comparable, absolute figures depend on the machine and on its load (the machine is shared: load averages are given per section)."
	echo
	if ((${#FAILED[@]})); then
		echo "**Incomplete run:**"
		printf -- '- %s\n' "${FAILED[@]}"
		echo
	fi
	echo "## Machine"
	echo
	echo "| | |"
	echo "|---|---|"
	echo "| CPU | $CPU, \`nproc\` = $(nproc) |"
	echo "| memory | $MEM |"
	echo "| kernel | $(uname -sr) |"
	echo "| Go | $(go version | awk '{ print $3, $4 }'), GOGC=$GOGC (the rebuild command: ${GOGC_GIVEN:-the Go default, 100}) |"
	echo "| filesystem of the temp dir | $FS, $MOUNTOPTS |"
	echo "| load average (1, 5, 15 min) | start $LOAD_START; end $LOAD_END |"
	echo "| date | $DATE |"
	echo
	if [[ -s $NOTES ]]; then
		echo "## Read this first"
		echo
		cat "$NOTES"
		echo
	fi
	cat "$BODY"
	echo "## Appendix: raw output"
	echo
	for f in durable read; do
		echo "<details><summary>$f rounds: embedded.test output</summary>"
		echo
		echo '```'
		awk '/^round / { if ($0 != last) print; last = $0; next } /^(Benchmark|FAIL|---|panic)/' "$WORK/$f.txt"
		echo '```'
		echo
		echo "</details>"
		echo
	done
	for f in http profile-now rebuild decode livelag saga webhooks webhooks-latency traces fanout; do
		echo "<details><summary>go test output: $f</summary>"
		echo
		echo '```'
		grep -E '^(Benchmark|goos|goarch|pkg|cpu|ok|FAIL|PASS|---|panic)' "$WORK/$f.txt" || cat "$WORK/$f.txt"
		echo '```'
		echo
		echo "</details>"
		echo
	done
	echo "<details><summary>orderstore bench --json</summary>"
	echo
	echo '```json'
	cat "$WORK/bench.json"
	echo '```'
	echo
	echo "</details>"
	echo
	echo "<details><summary>rebuild: /usr/bin/time -v and the last log lines</summary>"
	echo
	echo '```'
	for f in "$WORK"/rss-*.txt; do
		echo "== $(basename "$f" .txt)"
		grep -E '^\{.*"msg":"rebuilt|rebuilt |Maximum resident|Elapsed|Percent of CPU' "$f" || true
	done
	cat "$WORK"/gen-*.out
	echo '```'
	echo
	echo "</details>"
	if [[ $BENCH_RC != 0 || -z $ADDR ]]; then
		echo
		echo "<details><summary>serve log (tail)</summary>"
		echo
		echo '```'
		tail -n 30 "$WORK/serve.log"
		cat "$WORK/bench.err" 2>/dev/null | tail -n 30
		echo '```'
		echo
		echo "</details>"
	fi
} >"$WORK/performance.md"
mv "$WORK/performance.md" "$OUT"
log "done in ${ELAPSED}s"
((${#FAILED[@]} == 0))
