"""Writeback caching, black box: passthrough_ll -o writeback (it then takes
FUSE_WRITEBACK_CACHE) under `fusebox run`.

test_written_then_read: a program writes a file in small pieces, reads it
back and closes it; the same script on the kernel's FUSE client (the
oracle) and under fusebox run must print the same and leave the same
bytes on the backing directory.

test_sigkill_durability: a program under fusebox run writes 4 KiB records
to a file on the mount and, after each write(2) returns, records its
count in a file outside the mount (fsync'd); it is killed with SIGKILL
mid-write. After fusebox run has ended (its closes and unmount), every
record whose write returned must be on the backing directory.
"""
import hashlib
import os
import shlex
import subprocess

import pytest

from conftest import BUILD, server, kernel_mount  # noqa: F401

FUSEBOX = os.path.join(BUILD, "fusebox")
PLL = server("passthrough_ll")

pytestmark = pytest.mark.skipif(
    not (os.access(PLL, os.X_OK) and os.access(FUSEBOX, os.X_OK)),
    reason=f"{PLL} or {FUSEBOX} not built")

WRITER = r'''
import os, sys
path = sys.argv[1]
fd = os.open(path, os.O_CREAT | os.O_RDWR | os.O_TRUNC, 0o644)
for i in range(300):
    os.write(fd, bytes([i % 251]) * (100 + i))
os.lseek(fd, 70000, 0)
os.write(fd, b"far")
os.pwrite(fd, b"MIDDLE", 1234)
data = os.pread(fd, 80000, 0)
print(len(data), os.fstat(fd).st_size,
      __import__("hashlib").sha256(data).hexdigest())
os.close(fd)
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
os.write(fd, b"appended")
os.close(fd)
print(os.path.getsize(path))
'''


def run_in_sandbox(src, mnt, prog_argv):
    q = shlex.join
    script = (f"{q([PLL, '-o', f'source={src},writeback', str(mnt)])} "
              f"|| exit 99; {q(prog_argv)}; rc=$?; cd /; "
              f"fusermount3 -u {q([str(mnt)])}; exit $rc")
    return subprocess.run([FUSEBOX, "run", "--", "sh", "-c", script],
                          capture_output=True, text=True, timeout=120)


def test_written_then_read(tmp_path, kernel_mount):
    ksrc, rsrc, rmnt = tmp_path / "k", tmp_path / "r", tmp_path / "m"
    for d in (ksrc, rsrc, rmnt):
        d.mkdir()
    prog = tmp_path / "w.py"
    prog.write_text(WRITER)
    mnt = kernel_mount([PLL, "-o", f"source={ksrc},writeback"])
    want = subprocess.run(["/usr/bin/python3", str(prog),
                           os.path.join(mnt.path, "f")],
                          capture_output=True, text=True, timeout=60)
    got = run_in_sandbox(rsrc, rmnt, ["/usr/bin/python3", str(prog),
                                      str(rmnt / "f")])
    assert want.returncode == 0, want.stderr
    assert got.returncode == 0, got.stderr
    assert got.stdout == want.stdout
    kb = (ksrc / "f").read_bytes()
    rb = (rsrc / "f").read_bytes()
    assert len(rb) == len(kb) and rb == kb


KILLED = r'''
import os, sys
path, log = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
lg = os.open(log, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
i = 0
while True:
    rec = (b"%08d" % i) * 512          # 4 KiB, its number throughout
    if os.write(fd, rec) != len(rec):
        sys.exit(3)
    i += 1
    os.pwrite(lg, b"%08d\n" % i, 0)
    os.fsync(lg)
'''


def test_sigkill_durability(tmp_path):
    src, mnt = tmp_path / "src", tmp_path / "m"
    src.mkdir()
    mnt.mkdir()
    prog = tmp_path / "k.py"
    prog.write_text(KILLED)
    log = tmp_path / "count"
    q = shlex.join
    writer = q(["/usr/bin/python3", str(prog), str(mnt / "f"), str(log)])
    inner = (f"{writer} & p=$!; sleep 1.5; kill -KILL $p; wait $p; "
             f"echo killed $?")
    r = run_in_sandbox(src, mnt, ["sh", "-c", inner])
    assert "killed 137" in r.stdout, (r.stdout, r.stderr)
    n = int(log.read_text().strip())
    assert n > 10, f"only {n} records written before the kill"
    data = (src / "f").read_bytes()
    assert len(data) >= n * 4096, (len(data), n)
    for i in range(n):
        rec = data[i * 4096:(i + 1) * 4096]
        assert rec == (b"%08d" % i) * 512, f"record {i} of {n} is wrong"
    h = hashlib.sha256(data).hexdigest()
    assert h
