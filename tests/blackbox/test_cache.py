"""The page cache's memory bound under `fusebox run`: an unmodified
passthrough_ll serves a sparse 4 GiB file (a tmpfs hole: no memory on the
server's side), an unmodified dd reads it all through the mount in 1 MiB
reads, and the supervisor's peak resident memory (VmHWM, read from inside
the sandbox through /proc/$PPID) must stay near the bound given with
--cache-size. The same read of a 1 GiB file with a bound large enough to
hold it shows the contrast: the cache does grow when allowed, so the small
peak is the bound's doing. Every byte read is checked (cmp against
/dev/zero)."""
import os
import re
import shlex
import subprocess

import pytest

from conftest import BUILD, server

FUSEBOX = os.path.join(BUILD, "fusebox")

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

MIB = 1 << 20


def read_under_run(tmp_path, size, bound):
    """Read a sparse file of size bytes through a mount inside `fusebox
    run --cache-size=bound`; the supervisor's VmHWM in bytes."""
    src, mnt = tmp_path / "src", tmp_path / "mnt"
    src.mkdir(parents=True)
    mnt.mkdir()
    with open(src / "big", "wb") as f:
        f.truncate(size)
    q = shlex.quote
    script = (
        f"{q(server('passthrough_ll'))} -o source={q(str(src))} "
        f"{q(str(mnt))} || exit 99\n"
        f"dd if={q(str(mnt))}/big bs=1M status=none | "
        f"cmp -n {size} - /dev/zero || exit 98\n"
        "grep VmHWM /proc/$PPID/status\n"
        f"cd /; fusermount3 -u {q(str(mnt))}\n")
    env = dict(os.environ)
    # A sanitizer build keeps freed memory in quarantine; keep it small so
    # that the peak shows what fusebox holds.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") +
                           ":quarantine_size_mb=8").lstrip(":")
    r = subprocess.run([FUSEBOX, "run", f"--cache-size={bound}", "--",
                        "sh", "-c", script], capture_output=True,
                       text=True, timeout=600, env=env)
    assert r.returncode == 0, (f"exit {r.returncode}\nstdout:\n{r.stdout}"
                               f"\nstderr:\n{r.stderr[-3000:]}")
    m = re.search(r"VmHWM:\s+(\d+) kB", r.stdout)
    assert m, r.stdout
    return int(m.group(1)) * 1024


def test_4gib_read_within_a_64mib_bound(tmp_path):
    if not os.access(server("passthrough_ll"), os.X_OK):
        pytest.skip("passthrough_ll not built")
    small = read_under_run(tmp_path / "a", 4 << 30, "64M")
    big = read_under_run(tmp_path / "b", 1 << 30, "2G")
    # The bound plus what the supervisor needs besides (its code, the
    # sanitizers' shadow and allocator in a sanitizer build).
    assert small < 64 * MIB + 160 * MIB, f"peak {small // MIB} MiB"
    assert big > small + 600 * MIB, (
        f"peak {big // MIB} MiB with room for 1 GiB, "
        f"{small // MIB} MiB with 64 MiB")
