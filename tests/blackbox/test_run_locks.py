"""Record locks and flock under `fusebox run` follow Linux's rules on a
kernel FUSE mount of the same server (the oracle, as root):

  * a process's POSIX locks on a file go at its first close(2) of any
    descriptor of that file, even one it did not lock through;
  * OFD locks and flock locks belong to the open file and go with its
    last close, not with another descriptor's close;
  * locks conflict between processes and between open files.

passthrough_ll keeps no locks itself (fusebox or the kernel keep them);
passthrough_fh takes POSIX_LOCKS and FLOCK_LOCKS, so the server holds
them and must be told at close (FLUSH's lock_owner, RELEASE's
FLOCK_UNLOCK)."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

PROBE = r'''
import errno, fcntl, os, sys
p = sys.argv[1]

def probe(tag, kind="posix"):
    """Another process tries a non-blocking exclusive lock."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        fd = os.open(p, os.O_RDWR)
        try:
            if kind == "posix":
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            else:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            print(tag, kind, "free")
        except OSError as e:
            print(tag, kind, "held", errno.errorcode[e.errno])
        sys.stdout.flush()
        os._exit(0)
    os.waitpid(pid, 0)

a = os.open(p, os.O_RDWR | os.O_CREAT, 0o644)
b = os.open(p, os.O_RDWR)
fcntl.lockf(a, fcntl.LOCK_EX, 10, 0)
probe("posix lock through a:")
os.close(b)
probe("after closing b:")
os.close(a)

a = os.open(p, os.O_RDWR)
b = os.open(p, os.O_RDWR)
fcntl.flock(a, fcntl.LOCK_EX)
probe("flock through a:", "flock")
try:
    fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
    print("flock through b: free")
except OSError as e:
    print("flock through b: held", errno.errorcode[e.errno])
os.close(b)
probe("after closing b:", "flock")
c = os.dup(a)
os.close(a)
probe("after closing a, a dup left:", "flock")
os.close(c)
probe("after closing the dup:", "flock")

a = os.open(p, os.O_RDWR)
b = os.open(p, os.O_RDWR)
ofd = (fcntl.F_OFD_SETLK if hasattr(fcntl, "F_OFD_SETLK") else 37)
import struct
fl = struct.pack("hhqqi", fcntl.F_WRLCK, 0, 0, 0, 0)
fcntl.fcntl(a, ofd, fl)
probe("ofd lock through a:")
os.close(b)
probe("after closing b:")
os.close(a)
probe("after closing a:")
'''

FRAME = r"""
set -u
M=$1; D=$2; shift 2
"$@" || { echo "mount failed"; exit 1; }
i=0; while ! mountpoint -q "$M"; do
    i=$((i+1)); [ $i -gt 200 ] && { echo "never mounted"; exit 1; }
    sleep 0.05
done
python3 -c "$PROBE" "$D/locked"
echo "exit $?"
fusermount3 -u "$M"
"""

SERVERS = ["passthrough_ll", "passthrough_fh"]


def run(sandboxed, name):
    mnt = tempfile.mkdtemp(prefix="fblock-m-")
    src = tempfile.mkdtemp(prefix="fblock-s-")
    if name == "passthrough_ll":
        argv = [server(name), "-o", f"source={src}", mnt]
        where = mnt
    else:
        argv = [server(name), mnt]
        where = mnt + src
    cmd = ["bash", "-c", FRAME, "frame", mnt, where] + argv
    if sandboxed:
        cmd = [FUSEBOX, "run", "--"] + cmd
    env = dict(os.environ, PROBE=PROBE)
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=60, env=env)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt],
                       stderr=subprocess.DEVNULL)
        os.rmdir(mnt)
        shutil.rmtree(src, ignore_errors=True)


@pytest.mark.parametrize("name", SERVERS)
def test_lock_lifetimes_match_kernel(name):
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    want = run(False, name)
    assert "exit 0" in want.stdout, want.stdout + want.stderr
    got = run(True, name)
    assert got.stdout == want.stdout, (
        f"kernel:\n{want.stdout}\nfusebox run:\n{got.stdout}\n"
        f"stderr:\n{got.stderr}")
