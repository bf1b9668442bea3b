#!/bin/sh
# tests/repeat.sh N OUTDIR TEST...: run each test N times (rounds of
# the whole list, so that tests interleave as in a suite run), with
# prove, and print per test how many runs passed and failed.  A race
# shows itself as a test that fails now and then: the output of each
# failed run is kept in OUTDIR.  Exit status 1 if any run failed.
# Used by `make check-repeat`; PKS_BUILD must name the build to test.

set -u
n=$1 out=$2
shift 2
[ "$n" -ge 1 ] 2>/dev/null || { echo "repeat.sh: N must be >= 1" >&2; exit 2; }
[ $# -ge 1 ] || { echo "repeat.sh: no test given" >&2; exit 2; }
mkdir -p "$out" || exit 2
rm -f "$out"/*.fail.* "$out"/counts

i=1
while [ "$i" -le "$n" ]; do
	for t in "$@"; do
		name=$(basename "$t")
		if prove -v -e '' "$t" >"$out/$name.last" 2>&1; then
			echo "$name pass" >>"$out/counts"
			r=pass
		else
			mv "$out/$name.last" "$out/$name.fail.$i"
			echo "$name fail" >>"$out/counts"
			r="FAIL (output in $out/$name.fail.$i)"
		fi
		echo "round $i/$n: $name: $r"
	done
	i=$((i + 1))
done
rm -f "$out"/*.last

echo "--- $n round(s):"
for t in "$@"; do
	name=$(basename "$t")
	p=$(grep -c "^$name pass\$" "$out/counts")
	f=$(grep -c "^$name fail\$" "$out/counts")
	printf '%-28s %3d passed, %3d failed\n' "$name" "$p" "$f"
done
p=$(grep -c ' pass$' "$out/counts")
f=$(grep -c ' fail$' "$out/counts")
printf '%-28s %3d passed, %3d failed\n' "total" "$p" "$f"
[ "$f" -eq 0 ]
