"""FUSE_IOCTL and FUSE_POLL with libfuse's own examples: `ioctl` (fioc)
driven by `ioctl_client` and by a Python client that tries the cases
Linux treats specially, and `poll` (fsel) driven by `poll_client`
(select) and by a Python client (poll, epoll). The same script runs on a
kernel FUSE mount (the oracle, as root) and under `fusebox run`, and each
run must give the output written here, which the kernel run vouches for.

fsel fills its 16 files one byte at a time from a thread, every 250 ms,
and sends NOTIFY_POLL for files somebody polled: a select or poll that
never sees those wakeups hangs (the runs have a timeout), and one that
sees a file ready when it is not reads 0 bytes from it."""
import os
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")
PYTHON = "/usr/bin/python3"

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

# Mount SERVER in the foreground (fsel's producer thread would not
# survive daemonizing), wait for it, run the body, unmount, wait.
FRAME = r"""
set -u
M=$1; S=$2; shift 2
"$S" -f "$M" >/dev/null 2>&1 & srv=$!
i=0; while ! mountpoint -q "$M"; do
    i=$((i+1)); [ $i -gt 200 ] && { echo "never mounted"; exit 1; }
    sleep 0.05
done
%s
cd /
fusermount3 -u "$M"
wait $srv
"""

IOCTL_BODY = r"""
C=$1; P=$2
for args in "" 4096 "" 3 ""; do
    "$C" "$M/fioc" $args 2>&1; echo "ioctl_client $args: $?"
done
"$C" "$M" 2>&1; echo "ioctl_client on the directory: $?"
"$PY" "$P" "$M" 2>&1
"""

IOCTL_CLIENT = r'''
import errno, fcntl, os, struct, sys

M = sys.argv[1]


def IOC(d, t, nr, size):
    return (d << 30) | (size << 16) | (ord(t) << 8) | nr


GET, SET = IOC(2, "E", 0, 8), IOC(1, "E", 1, 8)
FIONREAD, FIONBIO, FIOASYNC = 0x541B, 0x5421, 0x5452
FIBMAP, FIGETBSZ, FIOQSIZE = 1, 2, 0x5460
FS_IOC_GETFLAGS, FS_IOC_FIEMAP = IOC(2, "f", 1, 8), IOC(3, "f", 11, 32)


def show(label, fn):
    try:
        print(label, fn())
    except OSError as e:
        print(label, errno.errorcode.get(e.errno, e.errno))


def size(fd):
    b = bytearray(8)
    r = fcntl.ioctl(fd, GET, b, True)
    return r, struct.unpack("Q", b)[0]


def setsize(fd, n):
    return fcntl.ioctl(fd, SET, bytearray(struct.pack("Q", n)), True)


def intarg(fd, cmd, v=0):
    b = bytearray(struct.pack("i", v))
    r = fcntl.ioctl(fd, cmd, b, True)
    return r, struct.unpack("i", b)[0]


fd = os.open(M + "/fioc", os.O_RDWR)
show("get", lambda: size(fd))
show("set 10", lambda: setsize(fd, 10))
show("get", lambda: size(fd))
show("unknown command", lambda: fcntl.ioctl(fd, IOC(3, "E", 7, 8),
                                            bytearray(8), True))
show("FIOC_READ (no size encoded)", lambda: fcntl.ioctl(fd, IOC(0, "E", 2, 0)))
show("get into a bad address", lambda: fcntl.ioctl(fd, GET, 8))
show("set from a bad address", lambda: fcntl.ioctl(fd, SET, 8))
show("get", lambda: size(fd))
show("FIGETBSZ", lambda: intarg(fd, FIGETBSZ))
show("FIOQSIZE", lambda: fcntl.ioctl(fd, FIOQSIZE, bytearray(8), True))
show("FIONBIO", lambda: intarg(fd, FIONBIO, 1))
show("FIOASYNC", lambda: intarg(fd, FIOASYNC, 1))
show("FIBMAP", lambda: intarg(fd, FIBMAP, 0))
show("FS_IOC_FIEMAP", lambda: fcntl.ioctl(fd, FS_IOC_FIEMAP, bytearray(32), True))
show("FS_IOC_GETFLAGS", lambda: intarg(fd, FS_IOC_GETFLAGS))
d = os.open(M, os.O_RDONLY | os.O_DIRECTORY)
show("directory: get", lambda: size(d))
show("directory: FIONREAD", lambda: intarg(d, FIONREAD))
p = os.open(M + "/fioc", os.O_PATH)
show("O_PATH: get", lambda: size(p))
'''

IOCTL_WANT = """\
0
ioctl_client : 0
ioctl_client 4096: 0
4096
ioctl_client : 0
ioctl_client 3: 0
3
ioctl_client : 0
open: Is a directory
ioctl_client on the directory: 1
get (0, 3)
set 10 0
get (0, 10)
unknown command EINVAL
FIOC_READ (no size encoded) EINVAL
get into a bad address EFAULT
set from a bad address EFAULT
get (0, 10)
FIGETBSZ (0, 4096)
FIOQSIZE 0
FIONBIO (0, 1)
FIOASYNC ENOTTY
FIBMAP (0, 0)
FS_IOC_FIEMAP ENOTSUP
FS_IOC_GETFLAGS EINVAL
directory: get EINVAL
directory: FIONREAD EINVAL
O_PATH: get EBADF
"""

POLL_BODY = r"""
C=$1; P=$2
( cd "$M" && exec "$C" ); echo "poll_client: $?"
"$PY" "$P" "$M" 2>&1
"""

# One fsel file: drained, it must not poll ready; the producer's next
# byte must wake poll(2) and epoll. Opens retry EBUSY: fsel allows one
# open per file and the previous close's RELEASE may still be on its way.
POLL_CLIENT = r'''
import errno, os, select, sys, time

M = sys.argv[1]


def open_file(name):
    for _ in range(100):
        try:
            return os.open(M + "/" + name, os.O_RDONLY)
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            time.sleep(0.05)
    raise RuntimeError("still busy")


def drained_not_ready(fd, poller):
    # The producer may add a byte between the read and the poll: the
    # same answer three times running is not a coincidence.
    for _ in range(3):
        os.read(fd, 4096)
        if not poller(0):
            return True
    return False


fd = open_file("7")
p = select.poll()
p.register(fd, select.POLLIN)
print("poll: not ready once drained:", drained_not_ready(fd, p.poll))
ev = p.poll(15000)
print("poll: woken with POLLIN:", [bool(e & select.POLLIN) for _, e in ev])
print("poll: a byte to read:", len(os.read(fd, 4096)) >= 1)
q = select.poll()
q.register(fd, select.POLLOUT)
print("poll: POLLOUT on a read-only file:", q.poll(0))
ep = select.epoll()
ep.register(fd, select.EPOLLIN)
print("epoll: not ready once drained:",
      drained_not_ready(fd, lambda t: ep.poll(t)))
ev = ep.poll(15)
print("epoll: woken with EPOLLIN:", [bool(e & select.EPOLLIN) for _, e in ev])
print("epoll: a byte to read:", len(os.read(fd, 4096)) >= 1)
os.close(fd)
'''

POLL_TAIL_WANT = """\
poll_client: 0
poll: not ready once drained: True
poll: woken with POLLIN: [True]
poll: a byte to read: True
poll: POLLOUT on a read-only file: []
epoll: not ready once drained: True
epoll: woken with EPOLLIN: [True]
epoll: a byte to read: True
"""

CELL = re.compile(r"(_:   |[0-9A-F]:\d\d )")


def check_poll_client(lines):
    """poll_client prints one line per select(2): for each of the 16
    files `_:` when it was not ready, else `X:NN` with the bytes read.
    Every select must have found something, and every file it found
    ready must have had data."""
    assert len(lines) == 16, f"{len(lines)} select rounds, 16 expected"
    for n, line in enumerate(lines):
        cells = CELL.findall(line)
        assert "".join(cells) == line, f"round {n}: odd line {line!r}"
        assert len(cells) == 16, f"round {n}: {len(cells)} files"
        ready = [c for c in cells if not c.startswith("_")]
        assert ready, f"round {n}: select returned with nothing ready"
        for i, c in enumerate(cells):
            if c.startswith("_"):
                continue
            assert c[0] == "0123456789ABCDEF"[i], f"round {n}: {c!r}"
            assert int(c[2:4]) >= 1, (
                f"round {n}: file {c[0]} was ready but read {c[2:4]} "
                "bytes")


def run_case(where, name, body, client_src, client_bin):
    if where == "kernel":
        why = kernel_fuse_reason()
        if why:
            pytest.skip(why)
    tmp = tempfile.mkdtemp(prefix="fbiop-")
    mnt = os.path.join(tmp, "mnt")
    os.mkdir(mnt)
    client = os.path.join(tmp, "client.py")
    with open(client, "w") as f:
        f.write(client_src)
    argv = ["bash", "-c", FRAME % body, "frame", mnt, server(name),
            server(client_bin), client]
    if where == "fusebox":
        argv = [FUSEBOX, "run", "--"] + argv
    env = dict(os.environ, PY=PYTHON)
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=90,
                           env=env)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt],
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(tmp, ignore_errors=True)
    return r


@pytest.mark.parametrize("where", ["kernel", "fusebox"])
def test_ioctl_example(where):
    r = run_case(where, "ioctl", IOCTL_BODY, IOCTL_CLIENT, "ioctl_client")
    assert r.stdout == IOCTL_WANT, (
        f"{where}: exit {r.returncode}\nstdout:\n{r.stdout}\n"
        f"stderr:\n{r.stderr}")
    assert r.returncode == 0, r.stderr


@pytest.mark.parametrize("where", ["kernel", "fusebox"])
def test_poll_example(where):
    r = run_case(where, "poll", POLL_BODY, POLL_CLIENT, "poll_client")
    lines = r.stdout.splitlines()
    rounds = [line for line in lines if CELL.match(line)]
    tail = "".join(line + "\n" for line in lines if not CELL.match(line))
    msg = f"{where}: exit {r.returncode}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert tail == POLL_TAIL_WANT, msg
    check_poll_client([line.rstrip("\n") for line in rounds])
    assert r.returncode == 0, msg


FBPOLL = os.path.join(BUILD, "tools", "fbpoll")


def run_lib(mode, name):
    if not os.path.exists(FBPOLL):
        pytest.skip(f"{FBPOLL} is not built")
    return subprocess.run([FBPOLL, mode, "--", server(name), "-f"],
                          capture_output=True, text=True, timeout=60)


def test_lib_ioctl_example():
    """fb_ioctl gives what ioctl_client prints on a kernel mount."""
    r = run_lib("ioctl", "ioctl")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "0\n4096\n3\n", r.stdout + r.stderr


def test_lib_poll_example():
    """fb_poll in poll_client's loop: woken by fsel's NOTIFY_POLL, and
    never reporting a file that has nothing to read. (fsel's own
    output, inherited from fb_spawn, is dropped.)"""
    r = run_lib("poll", "poll")
    assert r.returncode == 0, r.stdout + r.stderr
    rounds = [line for line in r.stdout.splitlines() if CELL.match(line)]
    check_poll_client(rounds)
