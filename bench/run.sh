#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - runs the workloads of bench/fbbench.c (read-only
# ones on a prepared tree, then write ones, then whole programs) four ways
# and prints one table:
#   fusebox      libfusebox driving libfuse's passthrough_ll (fb_spawn)
#   kernel FUSE  the same server with the same options, mounted by the
#                kernel afresh for every run
#   tmpfs        the source directory itself, plain system calls
#   fusebox run  fbbench's plain system calls (or the programs it starts),
#                unmodified, inside `fusebox run`, where the same server
#                mounts itself and fusebox serves the mount
#                (bench/in-sandbox.sh)
# Each cell is the median of FBBENCH_REPS runs (default 3) of FBBENCH_SECS
# seconds each (default 2). FBBENCH_BIG_MIB (default 1024) sizes the file
# the sequential rows read and write; FBBENCH_TREE (default
# /usr/include/linux) is the tree the untar row extracts and the find and
# git status rows walk; FBBENCH_ONLY, a grep -E pattern, keeps the rows
# whose workload or label matches it. The whole-program rows (find, make,
# git status) run the real programs; make and git status have no
# libfusebox column. The table also goes to BUILD_DIR/bench.md, drawn
# as a bar chart of the ratios to BUILD_DIR/bench.png (with gnuplot, if
# installed), and every run's stderr to BUILD_DIR/bench.log. Without root
# or /dev/fuse the kernel column says n/a and why. Everything it mounts
# or writes is removed on exit, failure included.
set -uo pipefail

build=${1:-build}
build=$(cd "$build" && pwd) || exit 1
fbbench=$build/bench/fbbench
here=$(cd "$(dirname "$0")" && pwd)
server=$build/servers/passthrough_ll
secs=${FBBENCH_SECS:-2}
reps=${FBBENCH_REPS:-3}
big_mib=${FBBENCH_BIG_MIB:-1024}
tree=${FBBENCH_TREE:-/usr/include/linux}
only=${FBBENCH_ONLY:-}
out=$build/bench.md
log=$build/bench.log
png=$build/bench.png

for f in "$fbbench" "$server"; do
	[ -x "$f" ] || { echo "bench: $f is missing; run make first" >&2; exit 1; }
done

work=
data=
data_is_tmpfs=0
kernel_reason=

cleanup() {
	local m
	# A kernel mount of a run that was cut short: its server exits once
	# it is unmounted.
	for m in "$work"/mnt-*; do
		if [ -n "$work" ] && mountpoint -q "$m" 2>/dev/null; then
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	if [ -n "$data" ]; then
		if [ $data_is_tmpfs = 1 ]; then
			umount "$data" 2>/dev/null || umount -l "$data" 2>/dev/null
		else
			rm -rf "$data"
		fi
	fi
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

: >"$log"
work=$(mktemp -d /tmp/fusebox-bench.XXXXXX) || exit 1

# The tree: a fresh tmpfs as root, else a directory in /dev/shm. The write
# workloads write there too (through each column's filesystem): room for
# big, a second file of its size, and 64 MiB files.
if [ "$(id -u)" = 0 ]; then
	data=$work/src
	mkdir "$data"
	if mount -t tmpfs -o size=$((2 * big_mib + 512))m,mode=0755 fusebox-bench "$data" 2>>"$log"; then
		data_is_tmpfs=1
	else
		rmdir "$data"
		data=
	fi
fi
if [ -z "$data" ]; then
	data=$(mktemp -d /dev/shm/fusebox-bench.XXXXXX) || exit 1
fi
echo "bench: preparing $data (10,000-entry directory, stat files, ${big_mib} MiB file)" >&2
"$fbbench" prepare "$data" "$big_mib" 2>>"$log" || { echo "bench: prepare failed, see $log" >&2; exit 1; }

# The untar row's archive, outside the tested filesystems: ustar, which
# fbbench's own extractor (the libfusebox column) reads too.
[ -d "$tree" ] || { echo "bench: $tree (FBBENCH_TREE) is not a directory" >&2; exit 1; }
tree=$(cd "$tree" && pwd)
tar --format=ustar -cf "$work/tree.tar" -C "$(dirname "$tree")" "$(basename "$tree")" 2>>"$log" ||
	{ echo "bench: cannot archive $tree, see $log" >&2; exit 1; }
tree_entries=$(tar -tf "$work/tree.tar" | wc -l)
tree_mb=$(du -s --apparent-size --block-size=1 "$tree" | awk '{ printf "%.1f", $1 / 1e6 }')
tree_files=$(tar -tvf "$work/tree.tar" | grep -c '^-')

# The whole-program rows' trees, made natively before any column runs:
# tree/ (find), repo/ (git status: the same tree in a repository, all
# committed) and proj/ (make: bench/mkproject.sh, and proj/expected,
# what its program prints when built here, outside the tested paths).
echo "bench: preparing tree/, repo/ (git) and proj/ (C project) for the whole-program rows" >&2
prepare_programs() {
	local g=(git -C "$data/repo" -c user.name=fbbench -c user.email=fbbench@localhost)
	mkdir "$data/tree" "$data/repo" &&
	tar -xf "$work/tree.tar" -C "$data/tree" &&
	tar -xf "$work/tree.tar" -C "$data/repo" &&
	"${g[@]}" -c init.defaultBranch=main init -q &&
	"${g[@]}" add -A &&
	"${g[@]}" commit -q -m "$(basename "$tree")" &&
	[ -z "$("${g[@]}" status --porcelain)" ] &&
	bash "$here/mkproject.sh" "$data/proj" &&
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -j2 -C "$data/proj" OUT="$work/proj-out" &&
	"$work/proj-out/prog" >"$data/proj/expected"
}
prepare_programs 2>>"$log" || { echo "bench: preparing the whole-program rows failed, see $log" >&2; exit 1; }
proj_files=$(find "$data/proj/src" -name '*.c' | wc -l)

# Kernel FUSE: the same server with the same options as the fusebox
# columns, mounted by the kernel afresh for every run (kmount, kumount),
# as every fusebox run starts a fresh server with a fresh cache: a mount
# kept up would carry its dentries, and passthrough_ll an open descriptor
# and a list entry for each inode it was asked about (it looks inodes up
# by walking that list), from one row into the next.
kmnt() { echo "$work/mnt-$1"; }
kpid=

# kmount CACHE: mounts the tree on kmnt CACHE; fails if it does not come up.
kmount() {
	local m
	m=$(kmnt "$1")
	mkdir -p "$m"
	"$server" -f -o source="$data",cache="$1" "$m" >>"$log" 2>&1 &
	kpid=$!
	for _ in $(seq 50); do
		mountpoint -q "$m" && return 0
		kill -0 "$kpid" 2>/dev/null || break
		sleep 0.1
	done
	kumount "$1"
	return 1
}

# kumount CACHE: unmounts it and waits (at most 5 s) for the server to end.
kumount() {
	local m
	m=$(kmnt "$1")
	if mountpoint -q "$m"; then
		umount "$m" 2>>"$log" || umount -l "$m" 2>>"$log"
	fi
	for _ in $(seq 50); do
		kill -0 "$kpid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$kpid" 2>/dev/null
	wait "$kpid" 2>/dev/null
	kpid=
}

if [ "$(id -u)" != 0 ]; then
	kernel_reason="not root"
elif [ ! -c /dev/fuse ]; then
	kernel_reason="no /dev/fuse"
elif kmount never; then
	kumount never
else
	kernel_reason="passthrough_ll did not mount (see $log)"
fi
[ -n "$kernel_reason" ] && echo "bench: kernel FUSE column n/a: $kernel_reason" >&2

# One measurement: prints "rate=R,rate2=R2" from fbbench's result line,
# or "error"/"hang" (details in the log). $1 backend (lib|run|kernel|tmpfs),
# $2 cache mode, $3 seconds allowed beyond the usual limit, rest: fbbench
# options and workload.
measure() {
	local backend=$1 cache=$2 extra=$3 line rc left
	shift 3
	local what="$*"
	local limit=$(( ${secs%.*} * 5 + 25 + extra ))
	local cmd=("$fbbench" -t "$secs")
	case $backend in
	lib)	set -- -v "$@" lib -- "$server" -f -o source="$data",cache="$cache" '{}' ;;
	kernel)	set -- "$@" native "$(kmnt "$cache")"
		if ! kmount "$cache"; then
			echo "- kernel, cache=$cache, $what: passthrough_ll did not mount" >>"$work/notes"
			echo error
			return
		fi ;;
	tmpfs)	set -- "$@" native "$data" ;;
	run)	mkdir -p "$work/run-mnt"
		cmd=("$build/fusebox" run -- bash "$here/in-sandbox.sh" "$server" "$data" "$cache" "$work/run-mnt" "$fbbench" -t "$secs") ;;
	esac
	echo "+ $backend: fbbench -t $secs $*" >>"$log"
	line=$(timeout -k 5 "$limit" "${cmd[@]}" "$@" 2>"$work/stderr")
	rc=$?
	[ "$backend" = kernel ] && kumount "$cache"
	cat "$work/stderr" >>"$log"
	echo "$line" >>"$log"
	if [ $rc = 124 ] || [ $rc = 137 ]; then
		echo "  (killed after ${limit}s)" >>"$log"
		echo "- $backend, cache=$cache, $what: no result after ${limit} s, killed" >>"$work/notes"
		echo hang
	elif [ $rc != 0 ] || [ -z "$line" ]; then
		echo "  (exit status $rc)" >>"$log"
		echo "- $backend, cache=$cache, $what: exit status $rc: $(grep '^fbbench: \(error\|connection\)' "$work/stderr" | sed 's/^fbbench: //' | paste -sd' ' | grep . || tail -n1 "$work/stderr")" >>"$work/notes"
		echo error
	else
		tr ' ' '\n' <<<"$line" | grep -E '^rate2?=' | paste -sd,
	fi
	# A write workload removes its write.PID before it reports; one
	# that stopped early leaves it, and the next run must not see it.
	left=$(cd "$data" && ls -d write.* 2>/dev/null | paste -sd' ')
	if [ -n "$left" ]; then
		[ $rc = 0 ] && [ -n "$line" ] &&
			echo "- $backend, cache=$cache, $what: finished but left $left behind" >>"$work/notes"
		(cd "$data" && rm -rf write.*)
	fi
}

# field NAME RESULT: the value of NAME in a result of measure().
field() {
	case $2 in
	error|hang) echo "$2" ;;
	*) tr ',' '\n' <<<"$2" | sed -n "s/^$1=//p" ;;
	esac
}

median() {
	printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"
}

fmt() {
	case $1 in
	''|error|hang|n/a) echo "${1:-n/a}" ;;
	*) awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }' ;;
	esac
}

# ratio X KERNEL: how many times faster than the kernel X is. X and KERNEL
# are rates (higher is better), so the ratio is X / KERNEL; for the
# whole-program rows too, whose cells show the time per run instead.
ratio() {
	case "$1$2" in
	*error*|*hang*|*n/a*|'') echo n/a ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }' ;;
	esac
}

# cell RATE UNIT: what the table shows for a median rate: the rate, or
# for a row in time per run (ms/run, s/run) the time that rate means.
cell() {
	case "$1" in
	''|error|hang|n/a) fmt "$1"; return ;;
	esac
	case $2 in
	ms/run) fmt "$(awk -v r="$1" 'BEGIN { print 1000 / r }')" ;;
	s/run) fmt "$(awk -v r="$1" 'BEGIN { print 1 / r }')" ;;
	*) fmt "$1" ;;
	esac
}

# Rows: label | short name for the chart ("-": not drawn, the same runs as
# the row before) | unit | cache mode (passthrough_ll's cache=, where
# "auto,writeback" also gives it -o writeback: FUSE_WRITEBACK_CACHE) | field | fbbench options and
# workload | seconds allowed beyond the usual limit (the rows of fixed
# work) | "nolib" for a whole program that libfusebox cannot run.
tree_name=$(basename "$tree")
rows=(
	"stat, uncached (1,000 files in turn)|stat uncached|ops/s|never|rate|stat-uncached"
	"stat, cached (one file again and again)|stat cached|ops/s|always|rate|stat-cached"
	"readdir, 10,000 entries (getdents64, 32 KiB buffer)|readdir|entries/s|never|rate|readdir"
	"readdir, 10,000 entries: full listings|-|listings/s|never|rate2|readdir"
	"readdir, 10,000 entries, cached|readdir cached|entries/s|always|rate|readdir"
	"readdir + stat, 10,000 entries (getdents64, fstatat of each name)|readdir+stat|entries/s|never|rate|readdir-stat"
	"readdir + stat, 10,000 entries, cached|readdir+stat cached|entries/s|always|rate|readdir-stat"
	"sequential read ${big_mib} MiB, 1 MiB blocks|seq read|MB/s|never|rate|seqread"
	"sequential re-read ${big_mib} MiB, 1 MiB blocks, after one warm pass|seq re-read cached|MB/s|always|rate|-w seqread"
	"random 4 KiB pread over ${big_mib} MiB|rand 4K read|ops/s|never|rate|randread"
	"create 10,000 files of 100 B (open O_CREAT, write, close)|create|files/s|never|rate|create-delete|120"
	"delete them (unlink)|delete|files/s|never|rate2|create-delete|120"
	"sequential write ${big_mib} MiB, 1 MiB writes, fsync|seq write|MB/s|never|rate|-b $big_mib seqwrite|$((big_mib / 10))"
	"random 4 KiB pwrite over 64 MiB|rand 4K write|ops/s|never|rate|randwrite|20"
	"random 4 KiB pwrite over 64 MiB|-|MB/s|never|rate2|randwrite|20"
	"untar $tree ($tree_entries entries, $tree_mb MB)|untar|files/s|never|rate|-a $work/tree.tar untar|60"
	"create 10,000 files of 100 B, writeback caching|create wb|files/s|auto,writeback|rate|create-delete|120"
	"delete them (unlink), writeback caching|-|files/s|auto,writeback|rate2|create-delete|120"
	"sequential write ${big_mib} MiB, 1 MiB writes, fsync, writeback caching|seq write wb|MB/s|auto,writeback|rate|-b $big_mib seqwrite|$((big_mib / 10))"
	"random 4 KiB pwrite over 64 MiB, writeback caching|rand 4K write wb|ops/s|auto,writeback|rate|randwrite|20"
	"untar $tree, writeback caching|untar wb|files/s|auto,writeback|rate|-a $work/tree.tar untar|60"
	"re-read 64 MiB just written and read once, 1 MiB reads|re-read written cached|MB/s|always|rate|reread|20"
	"find -type f over the untarred $tree_name ($tree_files files)|find|ms/run|never|rate|-a $work/tree.tar find|30"
	"find -type f over the untarred $tree_name, cached|find cached|ms/run|always|rate|-a $work/tree.tar find|30"
	"make -j2: clean build of a C project ($proj_files .c files)|make|s/run|never|rate|make|120|nolib"
	"make -j2: clean build of a C project, cached|make cached|s/run|always|rate|make|120|nolib"
	"git status in a repository of the untarred $tree_name (clean)|git status|ms/run|never|rate|git-status|30|nolib"
	"git status in a repository of the untarred $tree_name, cached|git status cached|ms/run|always|rate|git-status|30|nolib"
)

# Runs are keyed by backend, cache mode and workload, so the listings/s
# row reads the same runs as the entries/s row before it. The backends
# take turns within each repetition so that a noisy moment on the machine
# does not land on one column only.
declare -A runs_of
table=()
chart=()
start=$(date +%s)
for row in "${rows[@]}"; do
	IFS='|' read -r label short unit cache fname wl extra flags <<<"$row"
	if [ -n "$only" ] && ! grep -qE -- "$only" <<<"$wl|$label"; then
		continue
	fi
	backends=(lib run tmpfs)
	[ -z "$kernel_reason" ] && backends=(lib run kernel tmpfs)
	[ "${flags:-}" = nolib ] && backends=("${backends[@]:1}")
	todo=()
	for backend in "${backends[@]}"; do
		[ -z "${runs_of[$backend|$cache|$wl]:-}" ] && todo+=("$backend")
	done
	[ ${#todo[@]} -gt 0 ] && echo "bench: $label ($unit, cache=$cache)" >&2
	for _ in $(seq "$reps"); do
		for backend in "${todo[@]}"; do
			key="$backend|$cache|$wl"
			case ${runs_of[$key]:-} in *error*|*hang*) continue ;; esac
			# shellcheck disable=SC2086
			runs_of[$key]="${runs_of[$key]:-} $(measure "$backend" "$cache" "${extra:-0}" $wl)"
		done
	done
	declare -A med=([lib]=n/a [run]=n/a [kernel]=n/a)
	for backend in "${backends[@]}"; do
		vals=()
		bad=
		for r in ${runs_of[$backend|$cache|$wl]}; do
			v=$(field "$fname" "$r")
			case $v in error|hang) bad=$v ;; esac
			vals+=("$v")
		done
		if [ -n "$bad" ]; then
			med[$backend]=$bad
		else
			med[$backend]=$(median "${vals[@]}")
		fi
	done
	lib_cell=$(cell "${med[lib]}" "$unit")
	[ "${flags:-}" = nolib ] && lib_cell="n/a (whole program)"
	r_lib=$(ratio "${med[lib]}" "${med[kernel]}")
	r_run=$(ratio "${med[run]}" "${med[kernel]}")
	r_tmpfs=$(ratio "${med[tmpfs]}" "${med[kernel]}")
	table+=("| $label | $unit | $cache | $lib_cell | $(cell "${med[run]}" "$unit") | $(cell "${med[kernel]}" "$unit") | $(cell "${med[tmpfs]}" "$unit") | $r_lib | $r_run | $r_tmpfs |")
	if [ "$short" != - ]; then
		chart+=("$(printf '"%s"\t%s\t%s\t%s' "$short" "${r_lib/n\/a/-}" "${r_run/n\/a/-}" "${r_tmpfs/n\/a/-}")")
	fi
	unset med
done
elapsed=$(( $(date +%s) - start ))
stamp="$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs"

# The chart: the three ratios of every row as grouped bars on a log
# scale, with the kernel (1.0) drawn across.
draw_chart() {
	local dat=$work/chart.dat
	printf '%s\n' "${chart[@]}" >"$dat"
	gnuplot 2>>"$log" <<EOF
set terminal pngcairo size 1600,800 font "sans,10"
set output "$png"
set title "fusebox benchmark, $stamp\nhow many times faster than the kernel's FUSE client (log scale; 1 = as fast; n/a cells have no bar)"
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set logscale y
set yrange [0.01:200]
set ylabel "ratio to kernel FUSE (higher: faster)"
set grid ytics
set xtics rotate by -40 scale 0 nomirror
set key top left
set bmargin 9
set rmargin 6
set arrow from graph 0, first 1 to graph 1, first 1 nohead lw 2 lc rgb "black" front
plot "$dat" using 2:xtic(1) title "libfusebox / kernel" lc rgb "#1f77b4", \
     "" using 3 title "fusebox run / kernel" lc rgb "#ff7f0e", \
     "" using 4 title "tmpfs / kernel" lc rgb "#999999"
EOF
}
if [ -n "$kernel_reason" ]; then
	chart_note="Chart skipped: there is no kernel column to divide by."
elif ! command -v gnuplot >/dev/null; then
	chart_note="Chart skipped: gnuplot is not installed (Debian: gnuplot-nox)."
elif [ ${#chart[@]} -eq 0 ]; then
	chart_note="Chart skipped: no rows."
elif rm -f "$png" && draw_chart && [ -s "$png" ]; then
	chart_note="Chart: $png"
else
	chart_note="Chart skipped: gnuplot failed (see $log)."
fi

{
	echo "fusebox benchmark, $stamp"
	echo
	echo "Server: libfuse example passthrough_ll -f -o source=DIR,cache=MODE (the"
	echo "same binary and options for the fusebox and kernel FUSE columns);"
	echo "DIR is $([ $data_is_tmpfs = 1 ] && echo "a fresh tmpfs" || echo "a directory in /dev/shm"), which the tmpfs column reads directly;"
	echo "the write rows write into a fresh directory in it, through each column's path."
	echo "Each cell: median of $reps runs of ${secs} s (the create/delete, sequential"
	echo "write, untar and whole-program rows: whole rounds, at least one)."
	echo "Cells are rates, higher is better, except the whole-program rows (find,"
	echo "make, git status): time per run, lower is better. Every ratio says how"
	echo "many times faster than kernel FUSE a column is (above 1: faster, below"
	echo "1: slower): X/kernel for a rate, kernel/X for a time per run."
	echo "The fusebox run column is fbbench's own system calls (as on the kernel"
	echo "mount), or the real find, make and git, inside \`fusebox run\`, where"
	echo "the server mounts itself; its time includes the trap of every syscall"
	echo "on the mount. libfusebox's find is fbbench's own walk (GNU find's"
	echo "calls, no exec); make and git status are programs it cannot run."
	[ -n "$kernel_reason" ] && echo "Kernel FUSE: n/a ($kernel_reason)."
	echo
	echo "| workload | unit | cache= | libfusebox | fusebox run | kernel FUSE | tmpfs | libfusebox/kernel | run/kernel | tmpfs/kernel |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${table[@]}"
	if [ -s "$work/notes" ]; then
		echo
		echo "Failed runs:"
		cat "$work/notes"
	fi
	echo
	echo "$chart_note"
	echo "(${elapsed} s of measuring; per-run output in $log)"
} | tee "$out"
