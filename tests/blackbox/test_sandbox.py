"""fusebox run, black box: one shell script run twice - directly as root,
where the server mounts through the kernel's FUSE client (the oracle), and
inside `fusebox run`, where the same unmodified server mounts through
fusebox - must print the same thing and exit the same way.

The scripts print only what both worlds must agree on: listings, contents,
hashes, mountpoint checks. The mountpoint path is the same in both runs."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")
TIMEOUT = 120


def run(argv, user=None, **kw):
    if user:
        argv = ["setpriv", "--reuid", str(user), "--regid", str(user),
                "--clear-groups"] + argv
    return subprocess.run(argv, capture_output=True, timeout=TIMEOUT,
                          text=True, **kw)


def in_sandbox(script, user=None):
    return run([FUSEBOX, "run", "--", "sh", "-c", script], user=user)


def on_kernel(script):
    reason = kernel_fuse_reason()
    if reason:
        pytest.skip(reason)
    return run(["sh", "-c", script])


@pytest.fixture(scope="module")
def tree():
    """A source tree readable by everyone: nested directories, small and
    3 MiB files, an empty file, relative and absolute symlinks."""
    d = tempfile.mkdtemp(prefix="fbsbx-src-")
    os.chmod(d, 0o755)
    os.makedirs(os.path.join(d, "a/b/c"))
    for i in range(20):
        with open(os.path.join(d, "a", f"f{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * (i + 1))
    with open(os.path.join(d, "a/b/big.bin"), "wb") as f:
        f.write(bytes(range(256)) * (3 * 4096))
    open(os.path.join(d, "a/b/c/empty"), "w").close()
    os.symlink("../f1.txt", os.path.join(d, "a/b/rel"))
    os.symlink("/etc/hostname", os.path.join(d, "abs"))
    subprocess.run(["chmod", "-R", "a+rX", d], check=True)
    yield d
    shutil.rmtree(d)


@pytest.fixture(scope="module")
def sqfs(tree):
    if not shutil.which("mksquashfs"):
        pytest.skip("mksquashfs is not installed")
    d = tempfile.mkdtemp(prefix="fbsbx-sq-")
    os.chmod(d, 0o755)
    img = os.path.join(d, "t.sqfs")
    subprocess.run(["mksquashfs", tree, img, "-quiet", "-noappend"],
                   check=True, capture_output=True)
    os.chmod(img, 0o644)
    yield img
    shutil.rmtree(d)


@pytest.fixture
def mnt():
    d = tempfile.mkdtemp(prefix="fbsbx-mnt-")
    os.chmod(d, 0o777)
    yield d
    subprocess.run(["fusermount3", "-u", "-q", d], capture_output=True)
    os.rmdir(d)


# Read-only workload: every line must be the same on both sides.
WORKLOAD = """
ls -lR {m} | sed 's/ [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]*//'
find {m} | sort
(cd {m} && find . -type f | sort | xargs sha256sum)
cat {m}/a/b/rel
wc -c < {m}/a/b/big.bin
python3 -c 'import os; print(sorted((r, sorted(d), sorted(f)) for r, d, f in os.walk("{m}")))'
cd {m}/a/b && pwd && ls && cat rel && cd ../.. && ls
readlink -f {m}/a/b/rel
stat -c '%n %s %F %a' {m}/a/b/big.bin {m}/a/b/rel
stat -L -c '%n %s %F' {m}/a/b/rel
tar c -C {m} --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner a | sha256sum
mountpoint {m}
stat -f -c %T {m}
grep -c " {m} " /proc/self/mountinfo
findmnt -n -o TARGET {m}
"""


def servers(tree, sqfs):
    """name -> (shell command that mounts at {m}, unmount command)."""
    ex = lambda n: server(n)
    return {
        "hello": (f"{ex('hello')} {{m}}", None),
        "hello_ll": (f"{ex('hello_ll')} {{m}}", None),
        "passthrough": (f"{ex('passthrough')} {{m}}", f"{tree}"),
        "passthrough_ll": (f"{ex('passthrough_ll')} -o source={tree} {{m}}",
                           ""),
        "passthrough_fh": (f"{ex('passthrough_fh')} {{m}}", f"{tree}"),
        "squashfuse": (f"squashfuse {sqfs} {{m}}", ""),
        "bindfs": (f"bindfs -o ro {tree} {{m}}", ""),
        "fuse-overlayfs": (f"fuse-overlayfs -o lowerdir={tree} {{m}}", ""),
    }


def script_for(name, tree, sqfs, m, workload=WORKLOAD):
    mount, sub = servers(tree, sqfs)[name]
    root = m + (sub if sub else "")
    if name.startswith("hello"):
        work = (f"ls -l {m} | sed 's/ [A-Z][a-z][a-z] [ 0-9][0-9] [0-9:]*//'"
                f"\ncat {m}/hello\nwc -c < {m}/hello\nmountpoint {m}\n"
                f"cd {m} && pwd && cat hello && cd /\n"
                f"grep -c ' {m} ' /proc/self/mountinfo\n")
    else:
        work = workload.format(m=root)
    return (f"set -u\n{mount.format(m=m)} || exit 9\n{work}\n"
            f"cd /; fusermount3 -u {m}; echo unmounted=$?\n")


NEED = {"squashfuse": "squashfuse", "bindfs": "bindfs",
        "fuse-overlayfs": "fuse-overlayfs"}
NAMES = ["hello", "hello_ll", "passthrough", "passthrough_ll",
         "passthrough_fh", "squashfuse", "bindfs", "fuse-overlayfs"]


def need(name):
    prog = NEED.get(name)
    if prog and not shutil.which(prog):
        pytest.skip(f"{prog} is not installed")


@pytest.mark.parametrize("name", NAMES)
def test_same_as_kernel(name, tree, sqfs, mnt):
    need(name)
    script = script_for(name, tree, sqfs, mnt)
    want = on_kernel(script)
    got = in_sandbox(script)
    assert want.returncode == 0, want.stderr
    assert got.stdout == want.stdout, got.stderr
    assert got.returncode == want.returncode, got.stderr


@pytest.mark.parametrize("name", ["hello", "passthrough_ll", "squashfuse"])
def test_unprivileged(name, tree, sqfs, mnt):
    """As a user with no capabilities the sandbox mounts all the same."""
    need(name)
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    # uid/gid 65534 (nobody/nogroup on Debian): no capabilities, no
    # /dev/fuse access needed. hello reports its own ids as the files'
    # owner, so ids are left out of the comparison.
    script = script_for(name, tree, sqfs, mnt).replace("ls -l", "ls -ln")
    got = in_sandbox(script, user=65534)
    want = on_kernel(script)
    assert got.returncode == want.returncode, got.stderr
    norm = lambda t: t.replace(" 65534 65534 ", " 0 0 ")
    assert norm(got.stdout) == want.stdout, got.stderr


@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_status_is_programs(code):
    assert in_sandbox(f"exit {code}").returncode == code


def test_killed_program_status():
    assert in_sandbox("kill -TERM $$").returncode == 128 + 15


def test_missing_program():
    r = run([FUSEBOX, "run", "--", "/nonexistent/prog"])
    assert r.returncode == 127
    assert "/nonexistent/prog" in r.stderr


def test_no_kernel_mount_and_cleanup(tree, mnt):
    """While the sandbox's server is mounted, the host sees no mount; when
    PROGRAM exits with the mount left, the server is ended (it got ENODEV
    and exited: no process of the run is left)."""
    script = (f"{server('passthrough_ll')} -o source={tree} {mnt} || exit 9\n"
              f"cat {mnt}/a/f3.txt\nsleep 1\n")
    p = subprocess.Popen([FUSEBOX, "run", "--", "sh", "-c", script],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    import time
    time.sleep(0.5)
    with open("/proc/self/mountinfo") as f:
        assert f" {mnt} " not in f.read()
    out, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0, err
    assert out == "file 3\n" * 4
    left = subprocess.run(["pgrep", "-f", f"source={tree} {mnt}"],
                          capture_output=True, text=True)
    assert left.stdout == "", "server left running"


def test_writes_fail_with_erofs(tree, mnt):
    """A read-only mount (-o ro): EROFS, after the errors Linux gives
    first (EEXIST for mkdir of an existing name)."""
    script = (f"{server('passthrough_ll')} -o ro -o source={tree} {mnt} "
              f"|| exit 9\n"
              f"touch {mnt}/a/new 2>&1 | sed 's/.*: //'\n"
              f"mkdir {mnt}/a 2>&1 | sed 's/.*: //'\n"
              f"rm {mnt}/a/f1.txt 2>&1 | sed 's/.*: //'\n"
              f"echo x >> {mnt}/a/f1.txt\necho append=$?\n"
              f"ls {mnt}/a/new 2>&1 | sed 's/.*: //'\n"
              f"fusermount3 -u {mnt}\n")
    got = in_sandbox(script)
    assert got.stdout.splitlines() == [
        "Read-only file system", "File exists", "Read-only file system",
        "append=2", "No such file or directory"], got.stderr


def test_signal_interrupts_call_on_hung_server(mnt):
    """A program blocked on a stopped server is interrupted by a signal
    (its handler runs; the server gets FUSE_INTERRUPT), and the mount
    works again once the server continues."""
    prog = ("import os, signal, sys, time\n"
            "def h(s, f): raise KeyboardInterrupt\n"
            "signal.signal(signal.SIGALRM, h)\n"
            "signal.alarm(1)\n"
            "t = time.time()\n"
            "try:\n"
            "    os.stat(sys.argv[1])\n"
            "    print('not blocked')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', round(time.time() - t))\n")
    script = (f"{server('hello')} {mnt} || exit 9\n"
              f"pid=$(pgrep -n -x hello)\nkill -STOP $pid\n"
              f"python3 -c \"$P\" {mnt}/hello\n"
              f"kill -CONT $pid\ncat {mnt}/hello\nfusermount3 -u {mnt}\n")
    got = run([FUSEBOX, "run", "--", "sh", "-c", script],
              env=dict(os.environ, P=prog))
    assert got.stdout == "interrupted 1\nHello World!\n", got.stderr


SIGSTORM = os.path.join(BUILD, "tools", "sigstorm")


def test_close_is_never_interrupted():
    """close(2) of pipe ends right after fork, while SIGCHLD (a handler
    without SA_RESTART, as dash has) comes in: never EINTR, never a
    descriptor left open (a shell would then wait forever on the pipe)."""
    got = run([FUSEBOX, "run", "--", SIGSTORM, "2000"])
    assert got.returncode == 0, got.stdout + got.stderr
    assert got.stdout.startswith("close_eintr=0 left_open=0"), got.stdout


def test_sa_restart_calls_on_mount_survive_a_signal_storm(tree, mnt):
    """stat/open/read/close on a mount while SIGALRM (SA_RESTART) comes
    every 200 us and SIGCHLD with each fork: no call fails, as on a kernel
    FUSE mount of a prompt server."""
    script = (f"{server('passthrough_ll')} -o source={tree} {mnt} "
              f"|| exit 9\nSIGSTORM_RESTART=1 {SIGSTORM} 500 "
              f"{mnt}/a/f1.txt 200; rc=$?\nfusermount3 -u {mnt}\n"
              "exit $rc\n")
    got = in_sandbox(script)
    assert got.returncode == 0, got.stdout + got.stderr
    assert got.stdout == ("close_eintr=0 left_open=0 file_eintr=0 "
                          "other_errors=0\n"), got.stdout


def test_signal_interrupts_blocking_fifo_open(tree, mnt):
    """A blocking open of a FIFO on a mount (no writer ever comes) ends
    when a caught signal arrives, as on Linux; the mount then unmounts."""
    prog = ("import os, signal, sys, time\n"
            "def h(s, f): raise KeyboardInterrupt\n"
            "signal.signal(signal.SIGALRM, h)\n"
            "signal.alarm(1)\n"
            "t = time.time()\n"
            "try:\n"
            "    os.open(sys.argv[1], os.O_RDONLY)\n"
            "    print('opened')\n"
            "except KeyboardInterrupt:\n"
            "    print('interrupted', round(time.time() - t))\n")
    work = tempfile.mkdtemp(prefix="fbsbx-fifo-")
    os.chmod(work, 0o777)
    try:
        script = (f"{server('passthrough_ll')} -o source={work} {mnt} "
                  f"|| exit 9\nmkfifo {mnt}/p\n"
                  f"python3 -c \"$P\" {mnt}/p\n"
                  f"fusermount3 -u {mnt}; echo umount=$?\n")
        got = run([FUSEBOX, "run", "--", "sh", "-c", script],
                  env=dict(os.environ, P=prog))
    finally:
        shutil.rmtree(work)
    assert got.stdout == "interrupted 1\numount=0\n", got.stderr


def test_dev_fuse_read_gives_enodev_after_unmount(mnt):
    """The emulated /dev/fuse ends as Linux's: after `fusermount3 -u` the
    server's read fails with ENODEV and libfuse exits with status 0."""
    script = (f"{server('hello_ll')} -f {mnt} & pid=$!\n"
              f"for i in $(seq 100); do mountpoint -q {mnt} && break; "
              f"sleep 0.05; done\n"
              f"cat {mnt}/hello\nfusermount3 -u {mnt}\nwait $pid\n"
              f"echo server=$?\n")
    got = in_sandbox(script)
    assert got.stdout == "Hello World!\nserver=0\n", got.stderr


UNIX_SOCKET_PROG = r"""
import os, socket, stat, sys
d = sys.argv[1]
p = os.path.join(d, "s.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(p)
srv.listen(1)
st = os.lstat(p)
print("socket node:", stat.S_ISSOCK(st.st_mode), oct(stat.S_IMODE(st.st_mode)))
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect(p)
conn, _ = srv.accept()
cli.sendall(b"ping")
print("got:", conn.recv(10))
for what, fn in (("bind again", lambda: socket.socket(socket.AF_UNIX).bind(p)),
                 ("connect to a file", lambda: socket.socket(socket.AF_UNIX)
                  .connect(os.path.join(d, "plain"))),
                 ("connect to nothing", lambda: socket.socket(socket.AF_UNIX)
                  .connect(os.path.join(d, "none")))):
    try:
        fn()
        print(what, "ok")
    except OSError as e:
        print(what, e.strerror)
os.unlink(p)
print("listing:", sorted(os.listdir(d)))
"""


def test_unix_socket_named_on_a_mount(mnt):
    """bind(2) of a Unix socket on a mount makes the socket node on the
    server (not a file in the directory under the mountpoint), and
    connect(2) by that path reaches the socket: as on the kernel's FUSE
    mount of the same server."""
    work = tempfile.mkdtemp(prefix="fbsbx-sock-")
    os.chmod(work, 0o777)
    try:
        def script():
            return (f"umask 022; {server('passthrough_ll')} -o source={work} "
                    f"{mnt} || exit 9\necho x > {mnt}/plain\n"
                    f"python3 -c \"$P\" {mnt}\nrm {mnt}/plain\n"
                    f"fusermount3 -u {mnt}\necho under: $(ls -A {mnt})\n")
        env = dict(os.environ, P=UNIX_SOCKET_PROG)
        want = on_kernel_env(script(), env)
        got = run([FUSEBOX, "run", "--", "sh", "-c", script()], env=env)
    finally:
        shutil.rmtree(work)
    assert "got: b'ping'" in want.stdout, want.stderr
    assert got.stdout == want.stdout, got.stderr


def on_kernel_env(script, env):
    reason = kernel_fuse_reason()
    if reason:
        pytest.skip(reason)
    return run(["sh", "-c", script], env=env)


REUSE_PROG = r"""
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
bad = 0
for i in range(60):
    s = socket.socket(socket.AF_UNIX)
    s.bind("s%d" % i)
    s.close()
    os.unlink("s%d" % i)
    os.mkfifo("f%d" % i)
    try:
        os.close(os.open("f%d" % i, os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        bad += 1
    os.unlink("f%d" % i)
print("fifo opens failed:", bad)
libc.link.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
open("a", "w").close()
for what, new in (("NULL", None), ("PATH_MAX", ctypes.c_char_p(b"x" * 4096))):
    r = libc.link(b"a", new if new is None else ctypes.cast(new, ctypes.c_void_p))
    print("link to", what, r, errno.errorcode.get(ctypes.get_errno()))
os.unlink("a")
"""


def test_fifo_after_socket_and_link_errors(mnt):
    """From a cwd inside a mount of a server that reuses node ids
    (passthrough_ll): a FIFO made where a socket's node id was is a FIFO;
    link() with a bad or too long new path gives EFAULT/ENAMETOOLONG, as
    on the kernel's FUSE mount."""
    work = tempfile.mkdtemp(prefix="fbsbx-reuse-")
    os.chmod(work, 0o777)
    try:
        script = (f"{server('passthrough_ll')} -o source={work} {mnt} "
                  f"|| exit 9\ncd {mnt} && python3 -c \"$P\"\ncd /\n"
                  f"fusermount3 -u {mnt}\n")
        env = dict(os.environ, P=REUSE_PROG)
        want = on_kernel_env(script, env)
        got = run([FUSEBOX, "run", "--", "sh", "-c", script], env=env)
    finally:
        shutil.rmtree(work)
    assert "fifo opens failed: 0" in want.stdout, want.stdout + want.stderr
    assert got.stdout == want.stdout, got.stderr
