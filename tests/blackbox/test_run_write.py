"""fusebox run, black box, writes: real tools that write (cp -a, tar x,
rsync, git, sqlite3, python3, the shell and coreutils) behave under
`fusebox run` as they do on the kernel's FUSE client.

For each server (passthrough_ll, passthrough_fh, passthrough, bindfs,
fuse-overlayfs) one shell script runs twice, one run after the other,
with the same paths and environment (LC_ALL=C, a fixed TZ, umask 022):

  * directly as root: the server mounts through /dev/fuse and the
    kernel's FUSE client is the oracle;
  * as `fusebox run -- sh -c SCRIPT`: the same server, started the same
    way, mounts inside fusebox's sandbox.

Each run starts from its own fresh copy of the same initial tree (the
server's backing directory, re-created at the same path; for
fuse-overlayfs the upper directory, over a lower directory both runs
share and must leave alone). Then:

  * stdout must be byte-identical (and the exit status equal);
  * the backing directories left behind must be identical: relative path,
    type, mode, nlink, owner, size (not of directories: ext4 directory
    sizes depend on history), sha256 of contents, symlink target, device
    numbers of overlay whiteouts, and which names share an inode. Not
    times, not inode numbers. The one file whose contents hold inode
    numbers and times, git's .git/index, is compared by size only.

The script runs the workload as sections ("== NAME"), each a separate
`sh` under `timeout`, so a hang in one section shows as "exit 124" and the
other sections still run and are compared. The scripts print only what is
deterministic: listings by a small python helper (lst.py: no times unless
they were set explicitly, by cp -a, tar, rsync -a, touch -d or os.utime),
sha256 sums, tool exit statuses, errno names. A failure lists the
sections that differ, each with a diff, and a diff of the backing trees.

test_kernel_is_deterministic runs the kernel side a second time and
checks that it prints the same and leaves the same tree: the oracle does
not depend on timing, inode numbers or the clock.

test_write_unprivileged runs the python and shell sections as user fbtest
(as test_run.py does; created if missing), whose passthrough_ll serves
the mount in both runs: inside fusebox run the script starts it; on the
kernel root mounts /dev/fuse for fbtest as fusermount3 would and fbtest's
server takes the descriptor (mountpoint /dev/fd/N), since libfuse 3 opens
/dev/fuse itself, which is often root's only.

Section timeouts keep a hang visible ("section NAME exit 124") without
stopping the run; the harness kills a whole run after RUN_TIMEOUT.

Tools: rsync, git and sqlite3 (Debian packages rsync, git, sqlite3) are
needed; the tests skip, naming the package, when one is missing.
"""
import ctypes
import difflib
import os
import pwd
import random
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")
ENV = dict(os.environ, LC_ALL="C", TZ="FBT-5:30")
for _v in ("LANG", "LANGUAGE", "GIT_DIR", "GIT_WORK_TREE"):
    ENV.pop(_v, None)
ENV["PATH"] = ENV.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
RUN_TIMEOUT = 90        # a whole script (the harness kills it after this)
SECTION_TIMEOUT = 20    # one section (timeout(1) in the script)
AFTER_HANG = 5          # each section after one that timed out
MIB = 1024 * 1024
UNPRIV_USER = "fbtest"
# The python the scripts run (also as fbtest: not one under /root).
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) \
    else sys.executable

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

SERVERS = ["passthrough_ll", "passthrough_fh", "passthrough", "bindfs",
           "fuse-overlayfs"]
# Tools the workload uses: binary -> Debian package.
TOOLS = {"rsync": "rsync", "git": "git", "sqlite3": "sqlite3",
         "tar": "tar", "timeout": "coreutils", "setpriv": "util-linux",
         "mountpoint": "util-linux", "fusermount3": "fuse3"}
SERVER_BINS = {"bindfs": "bindfs", "fuse-overlayfs": "fuse-overlayfs"}

q = shlex.quote


# ---------------------------------------------------------------------------
# Files the scripts use, written once per module into PREP (world-readable).

# Canonical listing of a tree: one line per entry, sorted by path.
LST_PY = r'''
import hashlib, os, stat, sys, time

NOW = time.time()


def mtime(s):
    # A time within the last hour was not set by anyone (the server could
    # not set it, or nothing tried): print that, not the time.
    if NOW - 3600 < s.st_mtime < NOW + 60:
        return "mtime=recent"
    return "mtime=%d.%09d" % divmod(s.st_mtime_ns, 10**9)


def main():
    args = sys.argv[1:]
    times = "-t" in args
    owners = "-n" not in args
    root = [a for a in args if not a.startswith("-")][0]
    rels = ["."]
    def err(e):
        print("ERROR", e.filename and os.path.relpath(e.filename, root),
              e.strerror)
    for d, dirs, files in os.walk(root, onerror=err):
        dirs.sort()
        for n in dirs + files:
            rels.append(os.path.relpath(os.path.join(d, n), root))
    groups = {}
    shown = []
    for rel in rels:
        p = os.path.join(root, rel)
        try:
            s = os.lstat(p)
        except OSError:
            shown.append((rel, rel))
            continue
        # fuse-overlayfs leaves whiteouts (0:0 character devices) under
        # random 8-character names: name them by what they are.
        if stat.S_ISCHR(s.st_mode) and s.st_rdev == 0 and \
                not os.path.basename(rel).startswith(".wh."):
            shown.append((os.path.join(os.path.dirname(rel),
                                       "(whiteout)"), rel))
        else:
            shown.append((rel, rel))
    for name, rel in sorted(shown):
        p = os.path.join(root, rel)
        try:
            s = os.lstat(p)
        except OSError as e:
            print(rel, "lstat", e.strerror)
            continue
        m = s.st_mode
        t = ("d" if stat.S_ISDIR(m) else "f" if stat.S_ISREG(m) else
             "l" if stat.S_ISLNK(m) else "c" if stat.S_ISCHR(m) else
             "b" if stat.S_ISBLK(m) else "p" if stat.S_ISFIFO(m) else
             "s" if stat.S_ISSOCK(m) else "?")
        out = [name, t, "%04o" % stat.S_IMODE(m), "n=%d" % s.st_nlink]
        if owners:
            out.append("%d:%d" % (s.st_uid, s.st_gid))
        if t != "d":
            out.append("s=%d" % s.st_size)
        if t == "f":
            # git's index holds inode numbers and times: size only.
            if os.path.basename(rel) == "index" and \
                    os.path.basename(os.path.dirname(rel)) == ".git":
                out.append("(volatile)")
            else:
                h = hashlib.sha256()
                try:
                    with open(p, "rb") as f:
                        for b in iter(lambda: f.read(1 << 20), b""):
                            h.update(b)
                    out.append(h.hexdigest()[:16])
                except OSError as e:
                    out.append("read:" + e.strerror)
        if t in "cb":
            out.append("dev=%d:%d" % (os.major(s.st_rdev),
                                      os.minor(s.st_rdev)))
        if t == "l":
            out.append("-> " + os.readlink(p))
        if t != "d" and s.st_nlink > 1:
            key = (s.st_dev, s.st_ino)
            groups.setdefault(key, len(groups) + 1)
            out.append("ino#%d" % groups[key])
        if times:
            out.append(mtime(s))
        print(" ".join(out))

main()
'''

# File operations from python: results, errno names, deterministic stat
# fields (mtime only where set explicitly).
OPS_PY = r'''
import errno, fcntl, hashlib, os, shutil, stat, sys, time

d = sys.argv[1]
os.mkdir(d)
os.chdir(d)          # relative paths from a cwd on the mount from here on


def st(p, follow=False):
    """Mode, size (not of directories: the backing filesystem's) and
    nlink."""
    s = os.stat(p) if follow else os.lstat(p)
    size = "" if stat.S_ISDIR(s.st_mode) else " size=%d" % s.st_size
    return "%s %04o%s nlink=%d" % (stat.filemode(s.st_mode),
                                   stat.S_IMODE(s.st_mode), size, s.st_nlink)


def uidgid(p):
    s = os.lstat(p)
    return "%d:%d" % (s.st_uid, s.st_gid)


NOW = time.time()


def mtime(p, follow=False):
    """The mtime if it was set (by os.utime, ...), "recent" if it is within
    the last hour (set by the clock: the server could not set it)."""
    s = os.stat(p) if follow else os.lstat(p)
    if NOW - 3600 < s.st_mtime < NOW + 60:
        return "mtime=recent"
    return "mtime=%d.%09d" % divmod(s.st_mtime_ns, 10**9)


def closing(path, flags, fn=None, mode=0o644):
    """Open path, call fn(fd) and close it again."""
    fd = os.open(path, flags, mode)
    try:
        return fn(fd) if fn else None
    finally:
        os.close(fd)


def data(p):
    with open(p, "rb") as f:
        return f.read()


def sha(p):
    return hashlib.sha256(data(p)).hexdigest()[:16]


def step(name, fn):
    try:
        r = fn()
    except OSError as e:
        r = "error " + errno.errorcode.get(e.errno, str(e.errno))
    print("%s: %s" % (name, "ok" if r is None else r), flush=True)


def w(p, b, mode="wb"):
    with open(p, mode) as f:
        f.write(b)


# open modes
def o_w():
    with open("f", "w") as f:
        f.write("hello\n")
    return "%s %r" % (st("f"), data("f"))
step("open w", o_w)


def o_a():
    with open("f", "a") as f:
        f.write("world\n")
    return "%s %r" % (st("f"), data("f"))
step("open a", o_a)


def o_rplus():
    with open("f", "r+") as f:
        f.seek(3)
        f.write("XY")
        f.seek(0)
        first = f.read(4)
    return "%r %r" % (first, data("f"))
step("open r+ seek write", o_rplus)


def o_wplus():
    with open("g", "w+b") as f:
        f.write(b"abcdef")
        f.seek(2)
        r = f.read(2)
        f.seek(0, os.SEEK_END)
        f.write(b"!")
    return "%r %r" % (r, data("g"))
step("open w+", o_wplus)


def hole():
    with open("holey", "wb") as f:
        f.write(b"start")
        f.seek(100000)
        f.write(b"end")
    b = data("holey")
    return "%s zeros=%d tail=%r" % (st("holey"), b.count(0), b[-3:])
step("seek past end and write", hole)


def trunc():
    with open("f", "r+b") as f:
        f.truncate(4)
    a = data("f")
    os.truncate("f", 10)
    b = data("f")
    fd = os.open("f", os.O_RDWR)
    os.ftruncate(fd, 2)
    os.close(fd)
    return "%r %r %r %s" % (a, b, data("f"), st("f"))
step("truncate", trunc)


def o_trunc():
    w("t", b"0123456789")
    fd = os.open("t", os.O_WRONLY | os.O_TRUNC)
    os.write(fd, b"ab")
    os.close(fd)
    return "%r" % data("t")
step("O_TRUNC", o_trunc)


def o_append():
    w("ap", b"12345")
    fd = os.open("ap", os.O_WRONLY | os.O_APPEND)
    os.lseek(fd, 0, os.SEEK_SET)
    os.write(fd, b"A")
    os.pwrite(fd, b"P", 0)      # Linux: appends under O_APPEND
    pos = os.lseek(fd, 0, os.SEEK_CUR)
    os.close(fd)
    return "%r pos=%d" % (data("ap"), pos)
step("O_APPEND", o_append)


def pwrite_pread():
    fd = os.open("pp", os.O_RDWR | os.O_CREAT, 0o644)
    os.pwrite(fd, b"x" * 10, 0)
    os.pwrite(fd, b"yy", 4)
    r = os.pread(fd, 6, 2)
    n = os.write(fd, b"zz")     # the offset is still 0
    os.fsync(fd)
    os.fdatasync(fd)
    os.close(fd)
    return "%r n=%d %r" % (r, n, data("pp"))
step("pwrite pread fsync", pwrite_pread)


def odd_chunks():
    want = hashlib.sha256()
    with open("chunks", "wb") as f:
        i = 0
        total = 0
        while total < 1500000:
            n = (i * 7919) % 70000 + 1
            b = bytes((i + j) % 251 for j in range(256)) * (n // 256 + 1)
            b = b[:n]
            f.write(b)
            want.update(b)
            total += n
            i += 1
    return "%s ok=%s" % (st("chunks"),
                         want.hexdigest()[:16] == sha("chunks"))
step("odd sized writes", odd_chunks)


def two_fds():
    a = os.open("two", os.O_RDWR | os.O_CREAT, 0o644)
    b = os.open("two", os.O_RDONLY)
    os.write(a, b"seen by the other fd")
    r = os.read(b, 100)
    size = os.fstat(b).st_size
    os.close(a)
    os.close(b)
    return "%r size=%d" % (r, size)
step("write one fd, read another", two_fds)


def modes():
    out = []
    for m in (0o600, 0o640, 0o755, 0o777):
        n = "m%o" % m
        fd = os.open(n, os.O_WRONLY | os.O_CREAT | os.O_EXCL, m)
        os.close(fd)
        out.append("%s=%s" % (n, st(n).split()[1]))
    return " ".join(out)
step("create modes under umask 022", modes)


def excl():
    closing("f", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
step("O_EXCL on an existing file", excl)


def rename_over():
    w("r1", b"one")
    w("r2", b"two")
    os.rename("r1", "r2")
    return "r1=%s r2=%r" % (os.path.lexists("r1"), data("r2"))
step("rename over existing", rename_over)


def replace():
    w("p1", b"new")
    w("p2", b"old")
    os.replace("p1", "p2")
    os.mkdir("rd1")
    os.mkdir("rd2")
    os.replace("rd1", "rd2")    # over an empty directory
    return "%r %s %s" % (data("p2"), os.path.exists("rd1"), st("rd2"))
step("os.replace", replace)


def link():
    w("l1", b"linked")
    os.link("l1", "l2")
    s = "%s %s same=%s" % (st("l1"), st("l2"), os.path.samefile("l1", "l2"))
    with open("l2", "ab") as f:
        f.write(b"+")
    os.unlink("l1")
    return "%s then %r %s" % (s, data("l2"), st("l2"))
step("os.link", link)


def symlink():
    os.symlink("l2", "sl")
    os.symlink("nowhere", "dangling")
    os.symlink("/etc/hostname", "abs")
    return "%s %s %r %s" % (os.readlink("sl"), st("sl"), data("sl"),
                            st("dangling"))
step("os.symlink", symlink)


def unlink():
    w("u", b"x")
    os.unlink("u")
    return "exists=%s" % os.path.lexists("u")
step("os.unlink", unlink)


def dirs():
    os.mkdir("d1")
    os.mkdir("d1/d2", 0o700)
    os.makedirs("d1/a/b/c")
    r = "%s %s" % (st("d1"), st("d1/d2"))
    os.rmdir("d1/d2")
    return "%s then %s" % (r, sorted(os.listdir("d1")))
step("mkdir rmdir", dirs)


def chmod():
    os.chmod("g", 0o600)
    a = st("g")
    os.chmod("g", 0o4755)
    b = st("g")
    os.chmod("d1", 0o1777)
    return "%s | %s | %s" % (a, b, st("d1"))
step("chmod", chmod)


def fchmod():
    fd = os.open("g", os.O_RDONLY)
    os.fchmod(fd, 0o640)
    os.close(fd)
    return st("g")
step("fchmod", fchmod)


def chown():
    os.chown("g", 1234, 5678)
    return uidgid("g")
step("chown", chown)


def utime():
    os.utime("g", ns=(1000000001123456789, 1100000000987654321))
    a = mtime("g")
    os.utime("d1", (1200000000, 1300000000))
    b = mtime("d1")
    os.utime("sl", ns=(5 * 10**17, 6 * 10**17), follow_symlinks=False)
    c = mtime("sl")
    return "%s %s %s" % (a, b, c)
step("os.utime", utime)


def utime_fd():
    fd = os.open("t", os.O_RDWR)
    os.utime(fd, ns=(10**18, 1234567890 * 10**9))
    os.close(fd)
    return mtime("t")
step("os.utime fd", utime_fd)


def copy2():
    shutil.copy2("g", "g.copy")
    return "%s %s %s" % (st("g.copy"), mtime("g.copy"), sha("g.copy"))
step("shutil.copy2", copy2)


def copyfile():
    shutil.copyfile("chunks", "chunks.copy")
    return "%s %s" % (st("chunks.copy"), sha("chunks.copy") == sha("chunks"))
step("shutil.copyfile", copyfile)


def copytree_rmtree():
    shutil.copytree("d1", "d1.copy", symlinks=True)
    w("d1.copy/a/b/c/file", b"x" * 5000)
    n = sum(len(f) + len(d) for _, d, f in os.walk("d1.copy"))
    shutil.rmtree("d1.copy")
    return "entries=%d exists=%s" % (n, os.path.exists("d1.copy"))
step("shutil.copytree rmtree", copytree_rmtree)


def fifo():
    os.mkfifo("fifo", 0o644)
    return st("fifo")
step("os.mkfifo", fifo)


def fifo_use():
    """The FIFO's descriptors: data through the pipe, metadata from the
    server's node, across two opens and a reopen after both closed."""
    out = []
    for _ in range(2):
        r = os.open("fifo", os.O_RDONLY | os.O_NONBLOCK)
        w_ = os.open("fifo", os.O_WRONLY)
        os.write(w_, b"through the pipe")
        data = os.read(r, 100)
        fs, ps = os.fstat(r), os.lstat("fifo")
        os.fchmod(w_, 0o600)
        out.append("%s same_ino=%s %s after_fchmod=%s" % (
            data, fs.st_ino == ps.st_ino, stat.filemode(fs.st_mode),
            st("fifo")))
        os.close(w_)
        os.close(r)
        os.chmod("fifo", 0o644)
    return " | ".join(out)
step("FIFO open, write, read, fstat, fchmod", fifo_use)


def locks():
    fd = os.open("pp", os.O_RDWR)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 4, 0)
    fcntl.flock(fd, fcntl.LOCK_SH)
    fcntl.flock(fd, fcntl.LOCK_UN)
    fcntl.lockf(fd, fcntl.LOCK_UN, 4, 0)
    os.close(fd)
step("fcntl and flock locks", locks)


def stat_dir_nlink():
    return "%s %s" % (st("."), st("d1"))
step("directory nlink", stat_dir_nlink)


# Calls that must fail.
def fail(name, fn):
    step("fails: " + name, fn)


os.mkdir("full")
w("full/x", b"x")
os.mkdir("full/sub")
fail("rmdir non-empty", lambda: os.rmdir("full"))
fail("rename dir into its own subdir", lambda: os.rename("full",
                                                          "full/sub/in"))
fail("unlink a directory", lambda: os.unlink("full"))
fail("rmdir a file", lambda: os.rmdir("full/x"))
fail("O_EXCL create of an existing file",
     lambda: closing("full/x", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
fail("mkdir existing", lambda: os.mkdir("full"))
fail("rename file over a dir", lambda: os.rename("full/x", "full/sub"))
fail("rename dir over a file", lambda: os.rename("full/sub", "full/x"))
fail("rename dir over non-empty dir", lambda: os.rename("d1", "full"))
fail("rename missing", lambda: os.rename("nothing", "full/y"))
fail("rename into missing dir", lambda: os.rename("full/x", "no/y"))
fail("link a directory", lambda: os.link("full", "full2"))
fail("link over existing", lambda: os.link("full/x", "g"))
fail("symlink over existing", lambda: os.symlink("x", "g"))
fail("open a directory for writing", lambda: closing("full", os.O_WRONLY))
fail("open missing without O_CREAT", lambda: closing("nothing", os.O_RDWR))
fail("create in a missing dir", lambda: closing("no/f", os.O_CREAT |
                                                os.O_WRONLY))
fail("truncate a directory", lambda: os.truncate("full", 0))
fail("file as a directory", lambda: closing("full/x/y", os.O_CREAT |
                                            os.O_WRONLY))
fail("rmdir .", lambda: os.rmdir("."))
fail("write on O_RDONLY", lambda: closing("full/x", os.O_RDONLY,
                                          lambda fd: os.write(fd, b"x")))
fail("ftruncate on O_RDONLY", lambda: closing("full/x", os.O_RDONLY,
                                              lambda fd: os.ftruncate(fd, 0)))

shutil.rmtree("full")
print("after rmtree:", os.path.exists("full"))
print("listing:", sorted(os.listdir(".")))
print("types:", sorted((e.name, e.is_dir(follow_symlinks=False),
                        e.is_symlink()) for e in os.scandir(".")))
'''

# Each section is a separate sh under timeout(1): MNT, W (where the tree
# is), P (this directory), N (a native scratch directory), PY are in the
# environment.
SECTIONS = {}

SECTIONS["cp"] = r'''
lst() { "$PY" "$P/lst.py" "$@"; }
cp -a "$P/tree" "$W/cp"; echo "cp -a $?"
lst -t "$W/cp"
(cd "$W/cp" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
diff -r --no-dereference "$P/tree" "$W/cp"; echo "diff -r $?"
# Again, over the copy: existing files are truncated and rewritten.
cp -a "$P/tree/." "$W/cp" 2>&1; echo "cp -a again $?"
lst -t "$W/cp" | sha256sum
cp "$P/tree/big.bin" "$W/cp/sub/mid.txt"; echo "cp over $?"
sha256sum "$W/cp/sub/mid.txt"
cp -r "$W/cp/sub" "$W/cp-r"; echo "cp -r from the mount $?"
lst "$W/cp-r"
'''

SECTIONS["tar"] = r'''
lst() { "$PY" "$P/lst.py" "$@"; }
names() { tar -tvf "$1" --numeric-owner | awk '{ $4 = ""; $5 = ""; print }'; }
mkdir "$W/tar" && tar -xf "$P/tree.tar" -C "$W/tar"; echo "tar x $?"
lst -t "$W/tar"
tar -C "$W/tar" -cf "$N/back.tar" --sort=name --format=gnu --numeric-owner .
echo "tar c $?"
names "$N/back.tar"
names "$P/tree.tar" > "$N/orig.tvf"
names "$N/back.tar" | cmp -s - "$N/orig.tvf"; echo "same listing $?"
cmp -s "$N/back.tar" "$P/tree.tar"; echo "same tarball $?"
# Extract again over the tree, then into the mount from a pipe.
tar -xf "$P/tree.tar" -C "$W/tar"; echo "tar x again $?"
mkdir "$W/tar2" && tar -C "$W/tar" -cf - . | tar -xf - -C "$W/tar2"
echo "tar pipe $?"
diff -r --no-dereference "$W/tar" "$W/tar2"; echo "diff -r $?"
tar -C "$W" -czf "$W/tar.tgz" --sort=name --mtime=@0 --owner=0 --group=0 \
	--numeric-owner tar; echo "tar cz into the mount $?"
tar -tzvf "$W/tar.tgz" --numeric-owner | awk '{ $4 = ""; $5 = ""; print }' \
	| sha256sum
'''

SECTIONS["rsync"] = r'''
lst() { "$PY" "$P/lst.py" "$@"; }
cp -a "$P/tree" "$N/rs"
rsync -aH -i "$N/rs/" "$W/rs/"; echo "rsync $?"
lst -t "$W/rs"
printf 'changed\n' >> "$N/rs/sub/mid.txt"
touch -d @1200000000 "$N/rs/sub/mid.txt"
dd if=/dev/zero of="$N/rs/big.bin" bs=4096 count=2 seek=100 conv=notrunc \
	status=none
touch -d @1200000001 "$N/rs/big.bin"
rm "$N/rs/one"
echo new > "$N/rs/sub/new"
touch -d @1200000002 "$N/rs/sub/new" "$N/rs/sub" "$N/rs"
rsync -aH -i --delete "$N/rs/" "$W/rs/"; echo "rsync again $?"
rsync -aH -i --delete "$N/rs/" "$W/rs/"; echo "rsync nothing to do $?"
rsync -aH -i --inplace -I "$N/rs/big.bin" "$W/rs/big.bin"
echo "rsync --inplace $?"
lst -t "$W/rs"
diff -r --no-dereference "$N/rs" "$W/rs"; echo "diff -r $?"
rsync -a -i "$W/rs/sub/" "$N/back/"; echo "rsync from the mount $?"
diff -r --no-dereference "$N/rs/sub" "$N/back"; echo "diff -r back $?"
'''

SECTIONS["git"] = r'''
mkdir "$W/repo" && cd "$W/repo" || exit 1
git -c init.defaultBranch=main init -q; echo "git init $?"
cp -a "$P/tree/sub" "$P/tree/run.sh" "$P/tree/page" "$P/tree/link" \
	"$P/tree/with space" .
git add -A; echo "git add $?"
git commit -q -m first; echo "git commit $?"
git rev-parse HEAD
echo more >> page
git rm -q run.sh; echo "git rm $?"
git mv "with space" renamed; echo "git mv $?"
mkdir new && echo file > new/file && git add new
git commit -q -a -m second; echo "git commit -a $?"
git rev-parse HEAD
git fsck --strict --no-progress 2>&1; echo "git fsck $?"
git status --porcelain; echo "git status $?"
git log --format='%H %an %ad %s' --date=raw
git ls-files -s
git cat-file -p HEAD^{tree}
git config --local --list | sort
git checkout -q HEAD~1 -- run.sh; echo "git checkout file $?"
git stash -q; echo "git stash $?"
git status --porcelain
git branch side && git checkout -q side; echo "git checkout branch $?"
git tag -a -m tag v1; echo "git tag $?"
git rev-parse v1
git reset -q --hard HEAD~1; echo "git reset --hard $?"
git status --porcelain
ls -A
'''

SECTIONS["sqlite3"] = r'''
mkdir "$W/db"
sqlite3 "$W/db/test.db" "
CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000)
INSERT INTO t(a, b) SELECT x, printf('row %04d', x) FROM c;
COMMIT;"
echo "sqlite3 create $?"
sqlite3 "$W/db/test.db" "
SELECT count(*), sum(a), sum(length(b)) FROM t;
PRAGMA integrity_check;
PRAGMA journal_mode;
UPDATE t SET b = 'seven' WHERE a % 7 = 0;
DELETE FROM t WHERE a > 990;
SELECT count(*), sum(a), sum(b = 'seven') FROM t;
CREATE INDEX tb ON t(b);
VACUUM;
PRAGMA integrity_check;"
echo "sqlite3 update $?"
sqlite3 "$W/db/test.db" "SELECT count(*), sum(a) FROM t;"
ls -A "$W/db"
'''

SECTIONS["python"] = r'''
"$PY" "$P/ops.py" "$W/py"; echo "ops.py $?"
"$PY" "$P/lst.py" -n "$W/py"
'''

SECTIONS["shell"] = r'''
lst() { "$PY" "$P/lst.py" "$@"; }
S="$W/sh"
mkdir -p "$S/a/b/c"; echo "mkdir -p $?"
mkdir -p "$S/a/b/c"; echo "mkdir -p again $?"
echo data > "$S/f"; echo "redirect $?"
echo more >> "$S/f"; echo "append $?"
cat "$S/f"
echo over > "$S/f"; cat "$S/f"
(umask 077; echo private > "$S/private"); echo "umask 077 $?"
(set -C; echo clobber > "$S/f") 2>&1; echo "noclobber $?"
cat > "$S/heredoc" <<EOF
line one
line two
EOF
echo "heredoc $?"
exec 5>> "$S/fd5"; echo one >&5; echo two >&5; exec 5>&-
cat "$S/fd5"
mv "$S/f" "$S/a/g"; echo "mv $?"
mv "$S/heredoc" "$S/a/g"; echo "mv over $?"
mv "$S/a/b" "$S/moved"; echo "mv dir $?"
mv "$S/moved" "$S/moved/c" 2>&1; echo "mv into itself $?"
ln "$S/a/g" "$S/hard"; echo "ln $?"
ln -s a/g "$S/soft"; echo "ln -s $?"
ln -sf moved "$S/soft"; echo "ln -sf $?"
ln -sn a/g "$S/soft" 2>&1; echo "ln -sn existing $?"
cat "$S/hard"
touch -d @1000000000 "$S/a/g"; echo "touch -d $?"
touch -h -d @1000000001 "$S/soft"; echo "touch -h $?"
touch "$S/new" && touch -r "$S/a/g" "$S/new"; echo "touch -r $?"
touch -m -d '2004-02-29 12:34:56.789' "$S/new"; echo "touch -m $?"
chmod 0751 "$S/a/g"; echo "chmod $?"
chmod -R go-rwx "$S/moved"; echo "chmod -R $?"
chmod u+s,g+s "$S/hard"; echo "chmod u+s $?"
printf 'abcdefghij' > "$S/tr"
truncate -s 10000 "$S/tr"; echo "truncate up $?"
truncate -s 3 "$S/tr"; echo "truncate down $?"
truncate -s +5 "$S/tr"; echo "truncate +5 $?"
od -An -c "$S/tr"
printf '0123456789' > "$S/dd"
dd if=/dev/zero of="$S/dd" bs=1 count=4 seek=2 conv=notrunc status=none
echo "dd notrunc $?"
od -An -c "$S/dd"
dd if="$P/tree/big.bin" of="$S/big" bs=65536 status=none; echo "dd $?"
printf 'XXXX' | dd of="$S/big" bs=4096 seek=300 conv=notrunc status=none
echo "dd seek $?"
printf 'YYYY' | dd of="$S/big" bs=1 seek=5000000 conv=notrunc status=none
echo "dd seek past end $?"
dd if="$S/big" bs=16 skip=76800 count=2 status=none | od -An -c
sha256sum "$S/big"
printf 'a b\nc d\n' > "$S/sed"; sed -i 's/b/B/' "$S/sed"; echo "sed -i $?"
cat "$S/sed"
sort -o "$S/sorted" "$S/sed" "$S/a/g"; echo "sort -o $?"
sync "$S/sorted"; echo "sync $?"
rm "$S/a" 2>&1; echo "rm dir $?"
rmdir "$S/a" 2>&1; echo "rmdir non-empty $?"
rm -r "$S/moved"; echo "rm -r $?"
rm -f "$S/nothing"; echo "rm -f missing $?"
stat -c '%n %F %a %s %h' "$S/a/g" "$S/hard" "$S/soft" "$S/new" \
	"$S/private" "$S/tr" "$S/dd"
lst -t "$S"
rm -r "$S/a"; echo "rm -r again $?"
ls -A "$S"
'''

SECTIONS["existing"] = r'''
lst() { "$PY" "$P/lst.py" "$@"; }
# The initial tree: change, move and remove what was there before the mount
# (fuse-overlayfs copies up and whites out).
echo appended >> "$W/existing.txt"; echo "append $?"
chmod 600 "$W/ro.txt"; echo "chmod $?"
mv "$W/dir/inner.txt" "$W/inner-moved"; echo "mv $?"
rm "$W/hard1"; echo "rm hard link $?"
rm -r "$W/victim"; echo "rm -r $?"
mv "$W/dir" "$W/dir2"; echo "mv dir $?"
ln -sf existing.txt "$W/link"; echo "ln -sf $?"
mkdir "$W/victim" && echo again > "$W/victim/file"; echo "recreate $?"
lst "$W/dir2"
cat "$W/existing.txt" "$W/sub/hard2" "$W/victim/file"
'''

SECTIONS["final"] = r'''
cd "$W" && "$PY" "$P/lst.py" .
'''

SECTION_ORDER = ["cp", "tar", "rsync", "git", "sqlite3", "python", "shell",
                 "existing", "final"]


def make_tree(d):
    """The prepared tree copied, extracted and synced into the mounts:
    files of several sizes (0 to 3 MiB), modes 0600/0644/0755/0700,
    symlinks, a hard link pair, an empty directory, a name with a space.
    Fixed mtimes everywhere."""
    rnd = random.Random(20261124)
    os.makedirs(os.path.join(d, "sub", "deeper"))
    os.makedirs(os.path.join(d, "sub", "emptydir"))

    def wr(rel, b, mode=0o644):
        p = os.path.join(d, rel)
        with open(p, "wb") as f:
            f.write(b)
        os.chmod(p, mode)

    wr("empty", b"")
    wr("one", b"1")
    wr("page", rnd.randbytes(4096))
    wr("page1", rnd.randbytes(4097), 0o600)
    wr("odd", rnd.randbytes(65537), 0o640)
    wr("big.bin", rnd.randbytes(3 * MIB))
    wr("run.sh", b"#!/bin/sh\necho ran\n", 0o755)
    wr("with space", b"a name with a space\n")
    wr("sub/mid.txt", b"middle\n" * 100)
    wr("sub/deeper/leaf", b"leaf\n", 0o600)
    wr("hard1", b"two names\n")
    os.link(os.path.join(d, "hard1"), os.path.join(d, "sub", "hard2"))
    os.chmod(os.path.join(d, "sub", "emptydir"), 0o700)
    os.symlink("sub/mid.txt", os.path.join(d, "link"))
    os.symlink("sub", os.path.join(d, "dirlink"))
    os.symlink("no/such/target", os.path.join(d, "dangling"))
    fix_times(d, 1500000000)


def fix_times(d, base):
    for i, (root, dirs, files) in enumerate(sorted(os.walk(d))):
        for j, n in enumerate(sorted(dirs + files)):
            t = base + i * 86400 + j * 61
            os.utime(os.path.join(root, n), (t, t), follow_symlinks=False)
    for root, dirs, files in os.walk(d, topdown=False):
        t = base + 7 * len(os.path.relpath(root, d))
        os.utime(root, (t, t))


def make_initial(d):
    """The server's backing directory as each run starts it (for
    fuse-overlayfs: the lower directory)."""
    os.makedirs(os.path.join(d, "dir"))
    os.makedirs(os.path.join(d, "victim", "deep"))
    os.makedirs(os.path.join(d, "sub"))
    for rel, b in [("existing.txt", b"was here\n"), ("dir/inner.txt", b"in\n"),
                   ("ro.txt", b"read only\n"), ("victim/a", b"a\n"),
                   ("victim/deep/b", b"b\n"), ("hard1", b"hard\n")]:
        with open(os.path.join(d, rel), "wb") as f:
            f.write(b)
    os.chmod(os.path.join(d, "ro.txt"), 0o444)
    os.link(os.path.join(d, "hard1"), os.path.join(d, "sub", "hard2"))
    os.symlink("dir/inner.txt", os.path.join(d, "link"))
    fix_times(d, 1400000000)
    for root, dirs, files in os.walk(d):
        os.chmod(root, 0o755)


class Prep:
    """Module-wide: PREP (scripts, tree, tarball, the initial tree),
    world-readable, in a directory of its own in /tmp."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="fbwrite-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.p = os.path.join(self.base, "prep")
        os.mkdir(self.p)
        make_tree(os.path.join(self.p, "tree"))
        make_initial(os.path.join(self.p, "initial"))
        subprocess.run(["tar", "-C", os.path.join(self.p, "tree"), "-cf",
                        os.path.join(self.p, "tree.tar"), "--sort=name",
                        "--format=gnu", "--numeric-owner", "--owner=0",
                        "--group=0", "."], check=True)
        for name, text in (("lst.py", LST_PY), ("ops.py", OPS_PY)):
            with open(os.path.join(self.p, name), "w") as f:
                f.write(text)
        os.mkdir(os.path.join(self.p, "sec"))
        for name, text in SECTIONS.items():
            with open(os.path.join(self.p, "sec", name + ".sh"), "w") as f:
                f.write("set -u\n" + text)
        os.chmod(self.p, 0o755)


@pytest.fixture(scope="module")
def prep():
    pr = Prep()
    yield pr
    shutil.rmtree(pr.base, ignore_errors=True)


@pytest.fixture(scope="module")
def unpriv_user():
    """As in test_run.py: the unprivileged account, created if missing."""
    try:
        pwd.getpwnam(UNPRIV_USER)
    except KeyError:
        if os.geteuid() != 0:
            pytest.skip(f"no user {UNPRIV_USER} and not root to add it")
        subprocess.run(["useradd", "--no-create-home", "--user-group",
                        "--shell", "/bin/sh", UNPRIV_USER], check=True)
        subprocess.run(["usermod", "-p", "*", UNPRIV_USER], check=True)
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    return UNPRIV_USER


def need_tools(names):
    for b in names:
        if not shutil.which(b, path=ENV["PATH"]):
            pytest.skip(f"{b} is not installed (Debian package "
                        f"{TOOLS.get(b, b)}; scripts/deps.sh)")


def need_server(name):
    if name in SERVER_BINS:
        need_tools([SERVER_BINS[name]])
    elif not os.access(server(name), os.X_OK):
        pytest.skip(f"{server(name)} is not built")


def need_kernel():
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)


# ---------------------------------------------------------------------------
# One server's set-up: the same paths for both runs.

class Setup:
    """Directories of one test under PREP's base: mnt (the mountpoint),
    back (the backing directory the server writes to), lower and work
    (fuse-overlayfs), nat (native scratch, also HOME)."""

    def __init__(self, prep, name, key, user=None):
        self.prep, self.name, self.user = prep, name, user
        self.d = os.path.join(prep.base, key)
        shutil.rmtree(self.d, ignore_errors=True)
        os.makedirs(self.d)
        os.chmod(self.d, 0o755)
        self.mnt = os.path.join(self.d, "mnt")
        self.back = os.path.join(self.d, "back")
        self.lower = os.path.join(self.d, "lower")
        self.work = os.path.join(self.d, "work")
        self.nat = os.path.join(self.d, "nat")
        os.mkdir(self.mnt)
        if name == "fuse-overlayfs":
            subprocess.run(["cp", "-a", os.path.join(prep.p, "initial"),
                            self.lower], check=True)
        self.pw = pwd.getpwnam(user) if user else None
        if self.pw:
            os.chown(self.mnt, self.pw.pw_uid, self.pw.pw_gid)

    def start(self):
        """The shell command that mounts the server at "$MNT"."""
        n = self.name
        if n == "passthrough_ll":
            return f'{q(server(n))} -o source={q(self.back)} "$MNT"'
        if n in ("passthrough", "passthrough_fh"):
            return f'{q(server(n))} "$MNT"'
        if n == "bindfs":
            # libfuse 2's high-level library without use_ino gives each
            # name of a hard link its own inode, and bindfs keeps the 1 s
            # attribute and entry timeouts: what the kernel shows of the
            # other name of a link just made would depend on timing.
            o = "attr_timeout=0,entry_timeout=0,negative_timeout=0"
            return f'bindfs --no-allow-other -o {o} {q(self.back)} "$MNT"'
        if n == "fuse-overlayfs":
            o = (f"lowerdir={self.lower},upperdir={self.back},"
                 f"workdir={self.work}")
            return f'fuse-overlayfs -o {q(o)} "$MNT"'
        raise ValueError(n)

    def w(self):
        """Where the backing tree is seen, relative to the mount's root."""
        return self.back if self.name in ("passthrough",
                                          "passthrough_fh") else ""

    def reset(self):
        """Fresh backing (and overlay work) directory and native scratch
        directory, at the same paths for each run."""
        for p in (self.back, self.work, self.nat):
            if os.path.lexists(p):
                subprocess.run(["rm", "-rf", p], check=True)
        if self.name == "fuse-overlayfs":
            os.mkdir(self.back)
            os.mkdir(self.work)
        else:
            # cp -a: hard links and times as they are in PREP.
            subprocess.run(["cp", "-a", os.path.join(self.prep.p, "initial"),
                            self.back], check=True)
        os.makedirs(os.path.join(self.nat, "home"))
        if self.pw:
            for p in (self.back, self.work, self.nat):
                if os.path.exists(p):
                    subprocess.run(["chown", "-R", f"{self.pw.pw_uid}:"
                                    f"{self.pw.pw_gid}", p], check=True)

    def script(self, sections, start=None):
        """The script: start the server (or the given command), wait for
        the mount, run the sections, unmount."""
        lines = [
            "set -u", "umask 022",
            f"MNT={q(self.mnt)}", f'W="$MNT"{q(self.w())}',
            f"P={q(self.prep.p)}", f"N={q(self.nat)}", f"PY={q(PY)}",
            'HOME="$N/home"',
            "export MNT W P N PY HOME",
            "export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null",
            "export GIT_AUTHOR_NAME=Author GIT_AUTHOR_EMAIL=a@example.org",
            "export GIT_COMMITTER_NAME=Committer "
            "GIT_COMMITTER_EMAIL=c@example.org",
            "export GIT_AUTHOR_DATE='1500000000 +0200' "
            "GIT_COMMITTER_DATE='1500000100 +0200'",
            "export GIT_TEMPLATE_DIR=/usr/share/git-core/templates",
            "echo == start",
            start or self.start(), 'echo "server start $?"',
            "i=0",
            'until mountpoint -q "$MNT"; do',
            "\ti=$((i + 1))",
            '\t[ $i -gt 400 ] && { echo "not mounted after 20 s"; exit 99; }',
            "\tsleep 0.05",
            "done",
            "echo mounted",
        ]
        # After a section timed out (the mount hangs, most likely) the
        # next ones get AFTER_HANG seconds, so the run ends soon.
        lines.append(f"T={SECTION_TIMEOUT}")
        for s in sections:
            lines += [f"echo '== {s}'",
                      f'timeout -k 3 "$T" sh "$P/sec/{s}.sh"',
                      "rc=$?",
                      f'echo "section {s} exit $rc"',
                      f"[ $rc -lt 124 ] || T={AFTER_HANG}"]
        lines += ["echo == unmount", "cd /",
                  f'timeout -k 3 {AFTER_HANG} fusermount3 -u "$MNT"',
                  'echo "unmount $?"',
                  f'timeout -k 3 {AFTER_HANG} mountpoint -q "$MNT"',
                  'echo "mountpoint after $?"']
        return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Running scripts and cleaning up.

def procs_with(text):
    text = os.fsencode(text)
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if text in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def host_mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def cleanup(st):
    """Wait for the servers of this set-up (their argv holds the
    mountpoint) to exit, kill those that do not (they are this test's),
    and detach a kernel mount left behind."""
    end = time.time() + 5
    while procs_with(st.mnt) and time.time() < end:
        time.sleep(0.05)
    for pid in procs_with(st.mnt):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if host_mounted(st.mnt):
        subprocess.run(["umount", "-l", st.mnt], stderr=subprocess.DEVNULL)


class Result:
    def __init__(self, rc, out, err, timed_out, secs, tree):
        self.rc, self.out, self.err = rc, out, err
        self.timed_out, self.secs, self.tree = timed_out, secs, tree


def run_script(st, script, fusebox, premount=None):
    """Run the script (in fusebox or directly, as st.user if set) on a
    fresh backing directory; return its output and the backing tree's
    canonical listing. premount(st), if given, mounts the server before
    the script starts and returns its process."""
    st.reset()
    server_proc = premount(st) if premount else None
    argv = ["sh", "-c", script]
    if fusebox:
        argv = [FUSEBOX, "run", "--"] + argv
    env = dict(ENV)
    if st.pw:
        argv = ["setpriv", f"--reuid={st.pw.pw_uid}",
                f"--regid={st.pw.pw_gid}", "--init-groups"] + argv
        env.update(USER=st.user, LOGNAME=st.user)
    t0 = time.time()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, env=env, cwd="/",
                             start_new_session=True)
        timed_out = False
        try:
            p.wait(timeout=RUN_TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        secs = time.time() - t0
        if server_proc:
            try:
                server_proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                server_proc.kill()
                server_proc.wait()
        cleanup(st)
        out.seek(0)
        err.seek(0)
        o = out.read().decode(errors="backslashreplace")
        e = err.read().decode(errors="backslashreplace")
    return Result(p.returncode, o, e, timed_out, secs,
                  listing(st.prep, st.back))


def listing(prep, d):
    r = subprocess.run([PY, os.path.join(prep.p, "lst.py"), d],
                       capture_output=True, text=True, timeout=60)
    return r.stdout + (f"lst.py failed: {r.stderr}" if r.returncode else "")


def sections_of(out):
    secs, name, cur = {}, "(before any section)", []
    for line in out.splitlines(keepends=True):
        if line.startswith("== "):
            secs[name] = "".join(cur)
            name, cur = line[3:].rstrip("\n"), []
        else:
            cur.append(line)
    secs[name] = "".join(cur)
    return secs


def diff(a, b, na, nb, limit=80):
    lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), na, nb,
                                      lineterm="", n=1))
    more = f"\n... {len(lines) - limit} more lines" if len(lines) > limit \
        else ""
    return "\n".join(lines[:limit]) + more


def differences(got, want, gname, wname, err_tail=True):
    """Human-readable differences between two runs ([] when equal)."""
    parts = []
    if got.timed_out:
        if "\nmountpoint after " in got.out:
            parts.append(f"{gname} timed out after {RUN_TIMEOUT} s: the "
                         "script had ended, the run did not")
        else:
            parts.append(f"{gname} timed out after {RUN_TIMEOUT} s")
    if got.rc != want.rc:
        parts.append(f"exit status: {gname} {got.rc}, {wname} {want.rc}")
    g, w = sections_of(got.out), sections_of(want.out)
    names = list(w) + [n for n in g if n not in w]
    bad = [n for n in names if g.get(n) != w.get(n)]
    if bad:
        parts.append("sections that differ: " + ", ".join(bad))
    for n in bad:
        parts.append(f"== {n}\n" + diff(w.get(n, "(missing)\n"),
                                        g.get(n, "(missing)\n"), wname,
                                        gname))
    if got.tree != want.tree:
        parts.append("backing trees differ:\n" +
                     diff(want.tree, got.tree, wname + " tree",
                          gname + " tree"))
    if parts and err_tail:
        parts.append(f"--- {gname} stderr\n{head_tail(got.err, 1500, 2500)}")
        parts.append(f"--- {wname} stderr\n{head_tail(want.err, 500, 1000)}")
    return parts


def head_tail(text, head, tail):
    """The start and the end of a long text (a first error and a last)."""
    if len(text) <= head + tail:
        return text
    return f"{text[:head]}\n[... {len(text) - head - tail} characters ...]" \
        f"\n{text[-tail:]}"


_kernel = {}


def kernel_run(st, sections, key, premount=None):
    """The oracle, cached per test key (the determinism test reuses it).
    With premount, the script's start line is `true`: premount mounted
    the server already."""
    need_kernel()
    if key not in _kernel:
        script = st.script(sections, start="true" if premount else None)
        r = run_script(st, script, False, premount)
        if r.timed_out or "\nmounted\n" not in r.out or r.rc != 0:
            pytest.fail(f"the kernel run (oracle) failed: exit {r.rc}"
                        f"{' (timed out)' if r.timed_out else ''}\n"
                        f"--- stdout\n{r.out[-4000:]}\n"
                        f"--- stderr\n{r.err[-3000:]}")
        bad = [line for line in r.out.splitlines()
               if line.startswith("section ") and
               not line.endswith(" exit 0")]
        if bad:
            pytest.fail("a section failed on the kernel mount (the oracle "
                        "must run every tool to the end):\n" +
                        "\n".join(bad) + f"\n--- stdout\n{r.out[-4000:]}"
                        f"\n--- stderr\n{r.err[-3000:]}")
        _kernel[key] = r
    return _kernel[key]


WORKLOAD_TOOLS = ["rsync", "git", "sqlite3", "tar", "timeout", "mountpoint",
                  "fusermount3"]


def setup_for(prep, name, key, user=None):
    need_server(name)
    need_tools(WORKLOAD_TOOLS + (["setpriv"] if user else []))
    return Setup(prep, name, key, user)


def check_lower_unchanged(st, when):
    if st.name == "fuse-overlayfs":
        want = listing(st.prep, os.path.join(st.prep.p, "initial"))
        got = listing(st.prep, st.lower)
        if got != want:
            pytest.fail(f"{when}: the overlay's lower directory changed:\n"
                        + diff(want, got, "initial", "lower"))


# ---------------------------------------------------------------------------
# The tests.

@pytest.mark.parametrize("name", SERVERS)
def test_write_matches_kernel(name, prep):
    """The whole workload as root: fusebox run prints what the kernel run
    prints and leaves the same backing tree."""
    st = setup_for(prep, name, name)
    want = kernel_run(st, SECTION_ORDER, name)
    check_lower_unchanged(st, "kernel run")
    got = run_script(st, st.script(SECTION_ORDER), True)
    check_lower_unchanged(st, "fusebox run")
    parts = differences(got, want, "fusebox", "kernel")
    if parts:
        pytest.fail(f"{name}: fusebox run differs from the kernel run "
                    f"(kernel {want.secs:.1f} s, fusebox {got.secs:.1f} s)"
                    "\n" + "\n\n".join(parts))


@pytest.mark.parametrize("name", SERVERS)
def test_kernel_is_deterministic(name, prep):
    """The oracle itself: a second kernel run prints the same and leaves
    the same tree (nothing printed depends on the clock, inode numbers or
    timing)."""
    st = setup_for(prep, name, name)
    first = kernel_run(st, SECTION_ORDER, name)
    second = run_script(st, st.script(SECTION_ORDER), False)
    parts = differences(second, first, "kernel again", "kernel")
    assert not parts, "\n\n".join(parts)


UNPRIV_SECTIONS = ["python", "shell"]
MS_NOSUID, MS_NODEV = 2, 4


def mount_for_user(st):
    """The kernel oracle's mount for an unprivileged user, made as
    fusermount3 makes it (libfuse 3 itself opens /dev/fuse first, which is
    often root's only): root opens /dev/fuse and mounts with the user's
    user_id/group_id; the server runs as the user, in the foreground, on
    the mountpoint /dev/fd/N (libfuse >= 3.3). The user can unmount it
    with fusermount3 -u."""
    fd = os.open("/dev/fuse", os.O_RDWR)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        opts = (f"fd={fd},rootmode=40000,user_id={st.pw.pw_uid},"
                f"group_id={st.pw.pw_gid}")
        if libc.mount(b"passthrough_ll", os.fsencode(st.mnt),
                      b"fuse.passthrough_ll", MS_NOSUID | MS_NODEV,
                      opts.encode()) != 0:
            e = ctypes.get_errno()
            pytest.skip(f"mount(2) of a fuse fd for {st.user}: "
                        f"{os.strerror(e)}")
        return subprocess.Popen(
            [server("passthrough_ll"), "-f", "-o", f"source={st.back}",
             f"/dev/fd/{fd}"], pass_fds=(fd,), user=st.pw.pw_uid,
            group=st.pw.pw_gid, extra_groups=[], cwd="/",
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
    finally:
        os.close(fd)


def test_write_unprivileged(prep, unpriv_user):
    """The python and shell sections as an unprivileged user (fbtest),
    whose passthrough_ll serves the mount in both runs: on the kernel
    mounted for it as fusermount3 would (mount_for_user), in fusebox run
    started by the script. Files are the user's; chown to another id
    fails, in both."""
    need_kernel()
    st = setup_for(prep, "passthrough_ll", "unpriv", user=unpriv_user)
    want = kernel_run(st, UNPRIV_SECTIONS, "unpriv", mount_for_user)
    assert f" {st.pw.pw_uid}:{st.pw.pw_gid} " in want.tree, want.tree
    got = run_script(st, st.script(UNPRIV_SECTIONS), True)
    parts = differences(got, want, "fusebox", "kernel")
    if parts:
        pytest.fail(f"as {unpriv_user}: fusebox run differs from the "
                    f"kernel run\n" + "\n\n".join(parts))
