"""mmap of files on a mount: the same scenarios (tests/tools/fbmmap.c)
through the kernel's FUSE client (the oracle), through `fusebox run`
(plain mmap/msync/munmap on the mount, trapped and served by fusebox) and
through libfusebox (fb_mmap, fb_msync, fb_munmap), on libfuse's
unmodified passthrough_ll in each of its cache modes and with writeback
caching. Each scenario
prints what the program sees (the mapping after write(2), read(2) after
stores, another open's view, msync/fsync/munmap/close effects, MAP_PRIVATE
isolation, EACCES/ENODEV refusals, truncation under a mapping, a process
killed with stores never synced); the outputs must be identical line for
line, and so must the files left in the server's backing directory.

libfusebox runs in the test's own process, so the killed-process scenario
is for the kernel and `fusebox run` only (the lib run says so, and that
line is the one allowed difference)."""
import os
import shlex
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, keep_outputs, server

FUSEBOX = os.path.join(BUILD, "fusebox")
FBMMAP = os.path.join(BUILD, "tools", "fbmmap")
# passthrough_ll options: its cache modes, and writeback caching.
MODES = ["cache=auto", "cache=never", "cache=always", "writeback"]
KILLED = "== stores of a killed process"

pytestmark = pytest.mark.skipif(
    not os.access(FBMMAP, os.X_OK) or
    not os.access(server("passthrough_ll"), os.X_OK),
    reason="fbmmap or passthrough_ll is not built")


def tree(d):
    """Name -> contents of the files the scenarios left."""
    return {n: open(os.path.join(d, n), "rb").read()
            for n in sorted(os.listdir(d))}


def kernel_run(src, mode):
    mnt = tempfile.mkdtemp(prefix="fbmm-k-")
    try:
        subprocess.run([server("passthrough_ll"), "-o",
                        f"source={src},{mode}", mnt], check=True,
                       timeout=30)
        r = subprocess.run([FBMMAP, "native", mnt], capture_output=True,
                           text=True, timeout=120)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt],
                       stderr=subprocess.DEVNULL)
        os.rmdir(mnt)
    assert r.returncode == 0, r.stderr
    return r.stdout


def sandbox_run(src, mode):
    mnt = tempfile.mkdtemp(prefix="fbmm-r-")
    q = shlex.quote
    script = (f"{q(server('passthrough_ll'))} -o "
              f"source={q(src)},{mode} {q(mnt)} || exit 99\n"
              f"{q(FBMMAP)} native {q(mnt)}; s=$?\n"
              f"fusermount3 -u {q(mnt)}; exit $s\n")
    try:
        r = subprocess.run([FUSEBOX, "run", "--", "sh", "-c", script],
                           capture_output=True, text=True, timeout=120)
    finally:
        os.rmdir(mnt)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stderr[-3000:]}"
    return r.stdout


def lib_run(src, mode):
    r = subprocess.run([FBMMAP, "lib", "--", server("passthrough_ll"),
                        "-f", "-o", f"source={src},{mode}", "{}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-3000:]
    # passthrough_ll itself writes a warning on the shared stdout.
    return "\n".join(l for l in r.stdout.splitlines()
                     if not l.startswith("Ignoring invalid max threads")
                     ) + "\n"


def before_killed(out):
    return out.split(KILLED)[0]


def compare(name, got, want):
    if got != want:
        where = keep_outputs(name, got, want)
        pytest.fail(f"{name}: outputs differ (saved as {where}.got/.want)"
                    f"\n--- kernel\n{want}\n--- fusebox\n{got}")


@pytest.mark.parametrize("mode", MODES)
def test_mmap_run_vs_kernel(mode, tmp_path):
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    ksrc, rsrc = tmp_path / "k", tmp_path / "r"
    ksrc.mkdir()
    rsrc.mkdir()
    want = kernel_run(str(ksrc), mode)
    got = sandbox_run(str(rsrc), mode)
    compare(f"mmap-run-{mode}", got, want)
    assert tree(str(rsrc)) == tree(str(ksrc))
    if mode != "cache=never":
        # Not vacuous: the scenarios did map and store.
        assert "pread after store: [HELLO world]" in want
        assert tree(str(ksrc))["killed"].startswith(b"stored before")


@pytest.mark.parametrize("mode", MODES)
def test_mmap_lib_vs_kernel(mode, tmp_path):
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    ksrc, lsrc = tmp_path / "k", tmp_path / "l"
    ksrc.mkdir()
    lsrc.mkdir()
    want = kernel_run(str(ksrc), mode)
    got = lib_run(str(lsrc), mode)
    assert KILLED + "\n(native only)" in got
    compare(f"mmap-lib-{mode}", before_killed(got), before_killed(want))
    k = tree(str(ksrc))
    k.pop("killed")
    assert tree(str(lsrc)) == k


# SQLite in WAL mode shares its wal-index (the -shm file) between
# processes through MAP_SHARED mappings guarded by fcntl locks: each
# process opens and maps it itself. One long-lived connection inserts 30
# rows while 30 short-lived sqlite3 processes insert one each.
WAL_SCRIPT = r"""
set -e
M=$1
sql() { sqlite3 -cmd ".timeout 20000" "$M/db" "$@"; }
sql "PRAGMA journal_mode=WAL; CREATE TABLE t(x INTEGER);" >/dev/null
( for i in $(seq 1 30); do echo "INSERT INTO t VALUES($i);"; sleep 0.02
  done ) | sql &
for i in $(seq 101 130); do sql "INSERT INTO t VALUES($i);"; done
wait
sql "SELECT count(*), sum(x) FROM t; PRAGMA integrity_check;"
"""


def test_sqlite_wal_processes_share_the_index(tmp_path):
    import shutil
    if not shutil.which("sqlite3"):
        pytest.skip("sqlite3 is not installed (Debian package sqlite3)")
    why = kernel_fuse_reason()
    script = tmp_path / "wal.sh"
    script.write_text(WAL_SCRIPT)
    want = "60|3930\nok\n"
    if not why:
        src = tmp_path / "k"
        src.mkdir()
        mnt = tempfile.mkdtemp(prefix="fbmm-k-")
        try:
            subprocess.run([server("passthrough_ll"), "-o",
                            f"source={src}", mnt], check=True, timeout=30)
            r = subprocess.run(["sh", str(script), mnt],
                               capture_output=True, text=True, timeout=120)
        finally:
            subprocess.run(["fusermount3", "-u", "-z", mnt],
                           stderr=subprocess.DEVNULL)
            os.rmdir(mnt)
        assert (r.returncode, r.stdout) == (0, want), r.stderr
    src = tmp_path / "r"
    src.mkdir()
    mnt = tempfile.mkdtemp(prefix="fbmm-r-")
    q = shlex.quote
    try:
        r = subprocess.run(
            [FUSEBOX, "run", "--", "sh", "-c",
             f"{q(server('passthrough_ll'))} -o source={q(str(src))} "
             f"{q(mnt)} || exit 99\nsh {q(str(script))} {q(mnt)}; s=$?\n"
             f"fusermount3 -u {q(mnt)}; exit $s\n"],
            capture_output=True, text=True, timeout=180)
    finally:
        os.rmdir(mnt)
    assert (r.returncode, r.stdout) == (0, want), r.stderr[-3000:]
