#!/usr/bin/env bash
# benchcmp.sh compares the benchmarks of the working tree with those of an
# earlier commit, in one run: the machine is shared, so only figures taken
# side by side compare. It builds both trees' benchmark binaries, then runs
# them in alternating rounds (base, new, base, new, …) and prints each
# benchmark's figures per round, base beside new.
#
#	scripts/benchcmp.sh BASE [ROUNDS]    # e.g. scripts/benchcmp.sh HEAD~3 3
#
# Benchmarks: the embedded store's appends and $all read, the projections'
# rebuild and live lag, and POST /orders over HTTP (those perf.sh reports).
# Requires: go, git.
set -euo pipefail

base=${1:?usage: scripts/benchcmp.sh BASE [ROUNDS]}
rounds=${2:-3}
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d -t orderstore-benchcmp.XXXXXX)
cleanup() {
	git -C "$root" worktree remove --force "$work/base" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

git worktree add --detach -q "$work/base" "$base"
for tree in base new; do
	src=$work/base
	[[ $tree == new ]] && src=$root
	for pkg in eventstore/embedded projections api; do
		(cd "$src" && go test -c -o "$work/$tree-${pkg//\//-}.test" "./$pkg/")
	done
done

# run TREE: one round of every benchmark of TREE, from its package directory.
run() {
	local tree=$1 src=$work/base
	[[ $tree == new ]] && src=$root
	(cd "$src/eventstore/embedded" && GOGC=400 TMPDIR=$work "$work/$tree-eventstore-embedded.test" \
		-test.run '^$' -test.bench '^Benchmark(Append|ReadAll)$' -test.benchtime 1s)
	(cd "$src/projections" && GOGC=400 TMPDIR=$work "$work/$tree-projections.test" \
		-test.run '^$' -test.bench 'Rebuild' -test.benchtime 3x)
	(cd "$src/projections" && GOGC=400 TMPDIR=$work "$work/$tree-projections.test" \
		-test.run '^$' -test.bench 'LiveLag' -test.benchtime 15000x)
	(cd "$src/api" && GOGC=400 TMPDIR=$work "$work/$tree-api.test" \
		-test.run '^$' -test.bench 'HTTP' -test.benchtime 20000x)
}

for ((r = 1; r <= rounds; r++)); do
	for tree in base new; do
		run "$tree" | grep '^Benchmark' | sed "s/^/$tree round $r: /"
	done
done | sort -s -k4,4 | awk '{ key = $4; if (key != last) { print ""; last = key } print }'
