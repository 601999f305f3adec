# lib.sh: helpers of sluice's benchmarks (sourced). Every benchmark runs inside a private
# network namespace with loopback only (run.sh makes it): no packet leaves this machine.

BIN=${BIN:-build/bench}
SLUICE=${SLUICE:-./sluice}

# stats: numbers on stdin -> "median min max" (one decimal).
stats() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "- - -"; exit }
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.1f %.1f %.1f\n", m, v[1], v[NR] }'
}

# row LABEL "median min max" REF_MEDIAN COMMAND: one markdown table row; the ratio is this
# row's median over the reference's (or "1.00" for the reference itself).
row() {
	set -- "$1" "$2" "$3" "$4"
	med=${2%% *}
	ratio=$(awk -v a="$med" -v b="$3" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }')
	echo "$2" | awk -v l="$1" -v r="$ratio" -v c="$4" \
		'{ printf "| %s | %s | %s | %s | %s | `%s` |\n", l, $1, $2, $3, r, c }'
}
