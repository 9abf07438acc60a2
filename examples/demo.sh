#!/usr/bin/env bash
# demo.sh - the fusebox tour that `make demo` runs: explores the demo
# server (examples/fbdemo.c) and libfuse's hello_ll with the fusebox
# command, printing each command before its output. Nothing is mounted.
# Exits non-zero as soon as a step fails.
# Usage: examples/demo.sh BUILD_DIR
set -euo pipefail

build=${1:?usage: demo.sh BUILD_DIR}
build=$(cd "$build" && pwd)
fusebox=$build/fusebox
fbdemo=$build/fbdemo
hello_ll=$build/servers/hello_ll
passthrough_ll=$build/servers/passthrough_ll

for f in "$fusebox" "$fbdemo" "$hello_ll"; do
	if [ ! -x "$f" ]; then
		echo "demo.sh: $f is missing; run 'make all' first" >&2
		exit 1
	fi
done

step=0
bold='' plain=''
if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; fi

# Prints a header naming a command as a user would type it (the build
# dir shortened to build/).
header() {
	step=$((step + 1))
	printf '\n%s[%d] $ %s%s\n' "$bold" "$step" "${1//$build/build}" "$plain"
}

run() {
	header "$*"
	"$@"
}

echo "fusebox demo: each command below starts a FUSE server, talks FUSE to"
echo "it from user space through /dev/fd/N, and stops it. Nothing is mounted."
echo "The last one runs a shell in 'fusebox run', where the server mounts"
echo "itself as usual - served by fusebox, not by the kernel."

run "$fusebox" tree / -- "$fbdemo"
run "$fusebox" ls /docs -- "$fbdemo"
run "$fusebox" ls -a / -- "$fbdemo"
run "$fusebox" cat /README -- "$fbdemo"
run "$fusebox" stat /big.bin /link -- "$fbdemo"

# 1 MiB read in READ requests of at most 64 KiB each.
header "$fusebox --max-read=65536 cat /big.bin -- $fbdemo | cksum"
"$fusebox" --max-read=65536 cat /big.bin -- "$fbdemo" | cksum

# An unmodified server from libfuse's examples.
header "$fusebox cat /hello -- $hello_ll"
out=$("$fusebox" cat /hello -- "$hello_ll")
printf '%s\n' "$out"
if [ "$out" != "Hello World!" ]; then
	echo "demo.sh: hello_ll said '$out', not 'Hello World!'" >&2
	exit 1
fi

# fusebox's main job: a sandbox where the server mounts itself with no
# privileges and no kernel FUSE, and ordinary programs use the mount.
mnt=$(mktemp -d /tmp/fbdemo-mnt.XXXXXX)
trap 'rmdir "$mnt" 2>/dev/null || true' EXIT
script="$fbdemo $mnt && ls -l $mnt && cat $mnt/README | head -3 && \
cd $mnt/docs && pwd && ls && grep -c . /proc/self/mountinfo >/dev/null && \
findmnt -n -o FSTYPE,TARGET $mnt && cd / && fusermount3 -u $mnt"
header "$fusebox run -- sh -c '$script'"
"$fusebox" run -- sh -c "$script"
if grep -q " $mnt " /proc/self/mountinfo; then
	echo "demo.sh: $mnt is mounted outside the sandbox" >&2
	exit 1
fi

# Writing: libfuse's passthrough_ll serves a scratch directory; tools write
# through fusebox, and the files land in the directory on the host.
src=$(mktemp -d /tmp/fbdemo-src.XXXXXX)
trap 'rmdir "$mnt" 2>/dev/null || true; rm -rf "$src"' EXIT
script="$passthrough_ll -o source=$src $mnt && cd $mnt && mkdir docs && \
echo 'written through fusebox' > docs/note && mv docs/note docs/NOTE && \
cat docs/NOTE && ls -l docs | cut -c1-10 && cd / && fusermount3 -u $mnt"
header "$fusebox run -- sh -c '$script'"
"$fusebox" run -- sh -c "$script"
if [ "$(cat "$src/docs/NOTE" 2>/dev/null)" != "written through fusebox" ]; then
	echo "demo.sh: $src/docs/NOTE did not reach the server's directory" >&2
	exit 1
fi

echo
echo "demo finished: all $step steps worked."
