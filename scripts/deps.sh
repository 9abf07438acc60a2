#!/usr/bin/env bash
# Installs the Debian packages fusebox needs to build and test, when they
# are missing. As root it runs apt-get; otherwise it prints the command.
set -euo pipefail
pkgs=(build-essential pkg-config libfuse3-dev fuse3 squashfuse squashfs-tools
      python3 python3-pytest attr tree libseccomp-dev procps util-linux
      # Real FUSE servers and tools for the fusebox run tests
      # (tests/blackbox/test_run.py, tests/blackbox/sshd.py).
      sshfs openssh-server openssh-client bindfs gocryptfs fuse-overlayfs
      inotify-tools entr
      # Tools that write, for tests/blackbox/test_run_write.py.
      rsync git sqlite3 tar
      # make bench draws its table as a chart (bench/run.sh).
      gnuplot-nox)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "fusebox needs: ${missing[*]}" >&2
	echo "run: sudo apt-get install -y ${missing[*]}" >&2
	exit 1
fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q "${missing[@]}" >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q "${missing[@]}" >/dev/null
}
