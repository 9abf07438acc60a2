#!/usr/bin/env bash
# bench/in-sandbox.sh SERVER DATA CACHE MNT FBBENCH ARGS... - run inside
# `fusebox run`: the server mounts DATA at MNT as it would on a kernel
# (here fusebox serves the mount), then fbbench - an ordinary program
# using system calls - runs its workload on MNT, then MNT is unmounted.
set -u
server=$1 data=$2 cache=$3 mnt=$4
shift 4
"$server" -o source="$data",cache="$cache" "$mnt" || exit 1
"$@" native "$mnt"
rc=$?
fusermount3 -u "$mnt"
exit $rc
