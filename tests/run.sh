#!/usr/bin/env bash
# Runs every fusebox test with pytest and ends with "N passed, N failed,
# N skipped". Usage: tests/run.sh BUILD_DIR [pytest args...]
set -uo pipefail
build=${1:-build}; shift || true
here=$(cd "$(dirname "$0")" && pwd)
export FUSEBOX_BUILD=$(cd "$here/.." && cd "$build" && pwd)
xml="$FUSEBOX_BUILD/junit.xml"
rm -f "$xml"
# Debian's python3-pytest lives in /usr/bin/python3; another python3 may
# come first in PATH.
py=python3
$py -c 'import pytest' 2>/dev/null || py=/usr/bin/python3
export PATH="$(dirname "$(command -v $py)"):$PATH"
$py -m pytest -q -rs -p no:cacheprovider --junitxml="$xml" "$here" "$@"
rc=$?
$py - "$xml" <<'PY'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print(f"no test report ({e})")
    print("0 passed, 1 failed")
    sys.exit(0)
suites = [root] if root.tag == "testsuite" else list(root)
t = sum(int(s.get("tests", 0)) for s in suites)
f = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
s = sum(int(s.get("skipped", 0)) for s in suites)
print(f"{t - f - s} passed, {f} failed, {s} skipped")
PY
# pytest exits 5 when it collected nothing: that is a failure here.
[ $rc -eq 0 ] || exit 1
