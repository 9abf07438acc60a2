"""inotify under fusebox run, against the kernel: the same script runs as
root on a kernel FUSE mount of passthrough_ll (the kernel's inotify is the
oracle) and inside `fusebox run`, where the same server mounts through
fusebox and every inotify call is fusebox's. Outputs must be identical:
events (mask, name, cookie pairing, order), errors, poll readiness.
One instance watches a path on the mount and one outside it (issue 5:
"one instance for every path")."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")
HERE = os.path.dirname(os.path.abspath(__file__))
TIMEOUT = 120


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            pytest.skip(f"{t} is not installed (scripts/deps.sh)")


@pytest.fixture
def dirs():
    d = tempfile.mkdtemp(prefix="fbino-")
    os.chmod(d, 0o755)
    paths = {k: os.path.join(d, k) for k in ("src", "mnt", "nat")}
    for p in paths.values():
        os.mkdir(p)
    yield paths
    subprocess.run(["fusermount3", "-u", "-q", paths["mnt"]],
                   capture_output=True)
    shutil.rmtree(d)


def both(dirs, body):
    """body(mnt, nat) is a shell script run after the server mounted; the
    outputs of the kernel run and the fusebox run."""
    reason = kernel_fuse_reason()
    if reason:
        pytest.skip(reason)
    mnt, nat, src = dirs["mnt"], dirs["nat"], dirs["src"]
    script = (f"{server('passthrough_ll')} -o source={src} {mnt} || exit 9\n"
              f"{body(mnt, nat)}\nrc=$?\ncd /\nfusermount3 -u {mnt}\n"
              "exit $rc\n")
    outs = []
    for argv in (["sh", "-c", script],
                 [FUSEBOX, "run", "--", "sh", "-c", script]):
        for d in (src, nat):
            for e in os.listdir(d):
                p = os.path.join(d, e)
                shutil.rmtree(p) if os.path.isdir(p) else os.unlink(p)
        r = subprocess.run(argv, capture_output=True, text=True,
                           timeout=TIMEOUT)
        outs.append(r)
    return outs


def test_inotify_rules_match_kernel(dirs):
    """Watches, masks and their errors, hard links (one wd), IN_ONESHOT,
    IN_MASK_CREATE/ADD, IN_ONLYDIR, rm_watch, EAGAIN, EINVAL for a small
    buffer, FIONREAD, select, coalescing, rename cookies, unlink."""
    prog = os.path.join(HERE, "inotify_rules.py")
    k, f = both(dirs, lambda mnt, nat: f"python3 {prog} {mnt}")
    assert k.returncode == 0, k.stderr
    assert "rename" in k.stdout
    assert f.returncode == 0, f.stderr
    assert f.stdout == k.stdout


WORKLOAD = """
inotifywait -m -r {mnt} {nat} > {out} 2>&1 & w=$!
i=0; until grep -q established {out}; do
    i=$((i+1)); [ $i -gt 300 ] && break; sleep 0.05
done
mkdir {mnt}/a
sleep 1  # inotifywait -r adds its watch for a new directory
mkdir {mnt}/a/b
sleep 1
echo one > {mnt}/a/b/f
cp {mnt}/a/b/f {mnt}/a/g
mv {mnt}/a/g {mnt}/a/b/h
chmod 600 {mnt}/a/b/h
touch -d @5 {mnt}/a/b/f
ln {mnt}/a/b/f {mnt}/a/l
ln -s f {mnt}/a/b/s
echo two >> {mnt}/a/b/f
echo n > {nat}/n
cat {mnt}/a/b/f > /dev/null
mv {mnt}/a/b {mnt}/c
sleep 0.3
rm -r {mnt}/a {mnt}/c
sleep 0.5
kill $w
cat {out}
"""


def test_inotifywait_recursive_matches_kernel(dirs):
    """inotifywait -m -r on the mount and on a native directory, one
    instance, through a shell workload: the same event stream."""
    need("inotifywait")
    out = os.path.join(os.path.dirname(dirs["mnt"]), "events")
    k, f = both(dirs, lambda mnt, nat: WORKLOAD.format(mnt=mnt, nat=nat,
                                                        out=out))
    assert k.returncode == 0 and "CREATE" in k.stdout, k.stderr
    assert f.stdout == k.stdout, f.stderr


def test_inotifywatch_counts_match_kernel(dirs):
    need("inotifywatch")
    body = ("inotifywatch -t 2 -r {mnt} > {mnt}/../w.out 2>/dev/null & "
            "w=$!\nsleep 0.7\nfor i in 1 2 3; do echo $i > {mnt}/f$i; "
            "cat {mnt}/f$i >/dev/null; done\nrm {mnt}/f1\nwait $w\n"
            "cat {mnt}/../w.out")
    k, f = both(dirs, lambda mnt, nat: body.format(mnt=mnt))
    assert k.returncode == 0 and "total" in k.stdout, k.stderr
    assert f.stdout == k.stdout, f.stderr


def test_entr_reruns_on_change(dirs):
    """entr runs its command when a watched file on the mount changes."""
    need("entr")
    body = ("echo 1 > {mnt}/f\n"
            "(sleep 1; echo 2 >> {mnt}/f) &\n"
            "echo {mnt}/f | timeout 20 entr -n -p -z cat {mnt}/f\n"
            "echo entr=$?")
    k, f = both(dirs, lambda mnt, nat: body.format(mnt=mnt))
    assert "entr=0" in k.stdout and "2" in k.stdout, k.stdout + k.stderr
    assert f.stdout == k.stdout, f.stderr


UNMOUNT_PROG = r"""
import ctypes, os, re, select, struct, subprocess, sys
libc = ctypes.CDLL(None, use_errno=True)
mnt = sys.argv[1]
fd = libc.inotify_init1(os.O_CLOEXEC)
os.mkdir(mnt + "/d")
print("wds", libc.inotify_add_watch(fd, mnt.encode(), 0xfff),
      libc.inotify_add_watch(fd, (mnt + "/d").encode(), 0x200))
print("link", os.readlink("/proc/self/fd/%d" % fd))
info = open("/proc/self/fdinfo/%d" % fd).read()
print("fdinfo flags", re.search(r"flags:\s*(\S+)", info).group(1))
print("fdinfo", sorted(re.findall(r"inotify wd:(\S+) .*\smask:(\S+)", info)))
os.rmdir(mnt + "/d")
subprocess.run(["fusermount3", "-u", mnt], check=True)
out = []
while select.select([fd], [], [], 2)[0]:
    b = os.read(fd, 4096)
    i = 0
    while i < len(b):
        wd, mask, cookie, ln = struct.unpack_from("iIII", b, i)
        out.append((wd, hex(mask), b[i + 16:i + 16 + ln].rstrip(b"\0")))
        i += 16 + ln
    if any(m == hex(0x2000) for _, m, _ in out) and out[-1][1] == hex(0x8000) and out[-1][0] == 1:
        break
print("events", out)
print("unmount seen", any(int(m, 16) & 0x2000 for _, m, _ in out))
"""


def test_unmount_fdinfo_readlink_match_kernel(dirs):
    """IN_UNMOUNT then IN_IGNORED when the mount goes; /proc/self/fdinfo
    lists the watches; /proc/self/fd/N reads anon_inode:inotify."""
    prog = os.path.join(os.path.dirname(dirs["mnt"]), "unmount.py")
    with open(prog, "w") as f:
        f.write(UNMOUNT_PROG)
    k, f = both(dirs, lambda mnt, nat: f"python3 {prog} {mnt}")
    assert "unmount seen True" in k.stdout, k.stdout + k.stderr
    assert f.stdout == k.stdout, f.stderr
