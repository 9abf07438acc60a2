#!/usr/bin/env bash
# bench/run.sh BUILD_DIR - runs the workloads of bench/fbbench.c (read-only
# ones on a prepared tree, then write ones) four ways and prints one table:
#   fusebox      libfusebox driving libfuse's passthrough_ll (fb_spawn)
#   kernel FUSE  the same server with the same options, mounted by the kernel
#   tmpfs        the source directory itself, plain system calls
#   fusebox run  fbbench's plain system calls, unmodified, inside
#                `fusebox run`, where the same server mounts itself and
#                fusebox serves the mount (bench/in-sandbox.sh)
# Each cell is the median of FBBENCH_REPS runs (default 3) of FBBENCH_SECS
# seconds each (default 2). FBBENCH_BIG_MIB (default 1024) sizes the file
# the sequential rows read and write; FBBENCH_TREE (default
# /usr/include/linux) is the tree the untar row extracts; FBBENCH_ONLY, a
# grep -E pattern, keeps the rows whose workload or label matches it.
# The table also goes to BUILD_DIR/bench.md and
# every run's stderr to BUILD_DIR/bench.log. Without root or /dev/fuse the
# kernel column says n/a and why. Everything it mounts or writes is removed
# on exit, failure included.
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

for f in "$fbbench" "$server"; do
	[ -x "$f" ] || { echo "bench: $f is missing; run make first" >&2; exit 1; }
done

work=
data=
data_is_tmpfs=0
declare -A kpid kmnt
kernel_reason=

cleanup() {
	local c
	for c in "${!kmnt[@]}"; do
		if mountpoint -q "${kmnt[$c]}" 2>/dev/null; then
			umount "${kmnt[$c]}" 2>/dev/null || umount -l "${kmnt[$c]}" 2>/dev/null
		fi
	done
	for c in "${!kpid[@]}"; do
		kill "${kpid[$c]}" 2>/dev/null
		wait "${kpid[$c]}" 2>/dev/null
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

# Kernel FUSE: one mount per cache mode, the same server and options the
# fusebox column uses.
if [ "$(id -u)" != 0 ]; then
	kernel_reason="not root"
elif [ ! -c /dev/fuse ]; then
	kernel_reason="no /dev/fuse"
else
	for c in never always; do
		kmnt[$c]=$work/mnt-$c
		mkdir "${kmnt[$c]}"
		"$server" -f -o source="$data",cache=$c "${kmnt[$c]}" 2>>"$log" &
		kpid[$c]=$!
		for _ in $(seq 50); do
			mountpoint -q "${kmnt[$c]}" && break
			kill -0 "${kpid[$c]}" 2>/dev/null || break
			sleep 0.1
		done
		if ! mountpoint -q "${kmnt[$c]}"; then
			kernel_reason="passthrough_ll did not mount (see $log)"
			break
		fi
	done
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
	kernel)	set -- "$@" native "${kmnt[$cache]}" ;;
	tmpfs)	set -- "$@" native "$data" ;;
	run)	mkdir -p "$work/run-mnt"
		cmd=("$build/fusebox" run -- bash "$here/in-sandbox.sh" "$server" "$data" "$cache" "$work/run-mnt" "$fbbench" -t "$secs") ;;
	esac
	echo "+ $backend: fbbench -t $secs $*" >>"$log"
	line=$(timeout -k 5 "$limit" "${cmd[@]}" "$@" 2>"$work/stderr")
	rc=$?
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

ratio() {
	case "$1$2" in
	*error*|*hang*|*n/a*|'') echo n/a ;;
	*) awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }' ;;
	esac
}

# Rows: label | unit | cache mode | field | fbbench options and workload |
# seconds allowed beyond the usual limit (the rows of fixed work).
rows=(
	"stat, uncached (1,000 files in turn)|ops/s|never|rate|stat-uncached"
	"stat, cached (one file again and again)|ops/s|always|rate|stat-cached"
	"readdir, 10,000 entries (getdents64, 32 KiB buffer)|entries/s|never|rate|readdir"
	"readdir, 10,000 entries: full listings|listings/s|never|rate2|readdir"
	"readdir, 10,000 entries, cached|entries/s|always|rate|readdir"
	"sequential read ${big_mib} MiB, 1 MiB blocks|MB/s|never|rate|seqread"
	"sequential re-read ${big_mib} MiB, 1 MiB blocks, after one warm pass|MB/s|always|rate|-w seqread"
	"random 4 KiB pread over ${big_mib} MiB|ops/s|never|rate|randread"
	"create 10,000 files of 100 B (open O_CREAT, write, close)|files/s|never|rate|create-delete|120"
	"delete them (unlink)|files/s|never|rate2|create-delete|120"
	"sequential write ${big_mib} MiB, 1 MiB writes, fsync|MB/s|never|rate|-b $big_mib seqwrite|$((big_mib / 10))"
	"random 4 KiB pwrite over 64 MiB|ops/s|never|rate|randwrite|20"
	"random 4 KiB pwrite over 64 MiB|MB/s|never|rate2|randwrite|20"
	"untar $tree ($tree_entries entries, $tree_mb MB)|files/s|never|rate|-a $work/tree.tar untar|60"
	"re-read 64 MiB just written and read once, 1 MiB reads|MB/s|always|rate|reread|20"
)

# Runs are keyed by backend, cache mode and workload, so the listings/s
# row reads the same runs as the entries/s row before it. The backends
# take turns within each repetition so that a noisy moment on the machine
# does not land on one column only.
declare -A runs_of
table=()
start=$(date +%s)
for row in "${rows[@]}"; do
	IFS='|' read -r label unit cache fname wl extra <<<"$row"
	if [ -n "$only" ] && ! grep -qE -- "$only" <<<"$wl|$label"; then
		continue
	fi
	backends=(lib run tmpfs)
	[ -z "$kernel_reason" ] && backends=(lib run kernel tmpfs)
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
	declare -A med=([kernel]=n/a [run]=n/a)
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
	table+=("| $label | $unit | $cache | $(fmt "${med[lib]}") | $(fmt "${med[run]}") | $(fmt "${med[kernel]}") | $(fmt "${med[tmpfs]}") | $(ratio "${med[lib]}" "${med[kernel]}") | $(ratio "${med[run]}" "${med[kernel]}") |")
	unset med
done
elapsed=$(( $(date +%s) - start ))

{
	echo "fusebox benchmark, $(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs"
	echo
	echo "Server: libfuse example passthrough_ll -f -o source=DIR,cache=MODE (the"
	echo "same binary and options for the fusebox and kernel FUSE columns);"
	echo "DIR is $([ $data_is_tmpfs = 1 ] && echo "a fresh tmpfs" || echo "a directory in /dev/shm"), which the tmpfs column reads directly;"
	echo "the write rows write into a fresh directory in it, through each column's path."
	echo "Each cell: median of $reps runs of ${secs} s (the create/delete, sequential"
	echo "write and untar rows: whole rounds, at least one). Higher is better;"
	echo "fusebox/kernel above 1 means fusebox is faster. The fusebox run column"
	echo "is fbbench's own system calls (as on the kernel mount) inside"
	echo "\`fusebox run\`, where the server mounts itself; its time includes"
	echo "the trap of every syscall on the mount."
	[ -n "$kernel_reason" ] && echo "Kernel FUSE: n/a ($kernel_reason)."
	echo
	echo "| workload | unit | cache= | libfusebox | fusebox run | kernel FUSE | tmpfs | libfusebox/kernel | run/kernel |"
	echo "|---|---|---|---:|---:|---:|---:|---:|---:|"
	printf '%s\n' "${table[@]}"
	if [ -s "$work/notes" ]; then
		echo
		echo "Failed runs:"
		cat "$work/notes"
	fi
	echo
	echo "(${elapsed} s of measuring; per-run output in $log)"
} | tee "$out"
