#!/bin/sh
# The long fuzzing run (`make fuzz-long`): each target until RUNS executions
# or SECONDS seconds, whichever comes first, from its seed corpus plus what
# earlier runs found (build/fuzz/corpus-<name>). Prints one line per target:
#   name  executions  seconds  coverage(edges)  features  crashes
# and keeps each target's log as build/fuzz/<name>.long.log and any crash
# input as build/fuzz/<name>-crash-*. Exits 1 if any target crashed.
#
# usage: tests/fuzz/long.sh RUNS SECONDS FUZZER...
set -u
runs=$1 seconds=$2
shift 2
status=0
printf '%-26s %12s %8s %9s %9s %8s\n' target executions seconds coverage features crashes
for f in "$@"; do
	n=$(basename "$f")
	log=build/fuzz/$n.long.log
	mkdir -p "build/fuzz/corpus-$n"
	start=$(date +%s)
	"$f" -runs="$runs" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="build/fuzz/$n-" \
		"build/fuzz/corpus-$n" "tests/fuzz/corpus/$n" >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	# The last status line ("#N DONE cov: C ft: F ..." or "#N pulse ...").
	last=$(grep -E '^#[0-9]+[[:space:]]' "$log" | tail -n 1)
	cov=$(printf '%s\n' "$last" | sed -n 's/.* cov: \([0-9]*\).*/\1/p')
	ft=$(printf '%s\n' "$last" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	crashes=$(ls "build/fuzz/$n-"crash-* "build/fuzz/$n-"leak-* "build/fuzz/$n-"timeout-* \
		"build/fuzz/$n-"oom-* 2>/dev/null | wc -l)
	if [ "$rc" -ne 0 ]; then
		status=1
		[ "$crashes" -gt 0 ] || crashes="rc=$rc"
	fi
	printf '%-26s %12s %8s %9s %9s %8s\n' "$n" "${execs:-?}" "$took" "${cov:-?}" "${ft:-?}" "$crashes"
done
exit $status
