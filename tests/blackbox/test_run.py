"""Black-box tests of `fusebox run [OPTIONS] -- PROGRAM [ARGS...]`.

The core comparison: one shell script that starts an unmodified FUSE
server on a mountpoint, waits for the mount, runs a workload on it,
unmounts and prints what it saw is run twice with the same environment
(LC_ALL=C, a fixed TZ):

  * directly, as root ("sh -c SCRIPT"): the server mounts through the real
    /dev/fuse and the kernel's FUSE client is the oracle;
  * as "BUILD/fusebox run -- sh -c SCRIPT": the same server, started the
    same way, inside fusebox's sandbox.

stdout and the exit status must be equal. Both runs use the same
mountpoint path, one after the other, so no path needs rewriting. stderr
is not compared (servers print warnings, fusebox may log) but is shown
when a comparison fails. The script prints "== NAME" before each workload
and a failure lists the workloads that differ, each with a diff.

Nothing is normalized; instead the workloads leave out what legitimately
differs between two mounts of one server:
  * st_dev (stat %d/%D, mountpoint -d): the kernel gives each mount an
    anonymous device number, fusebox has its own;
  * st_ino (stat %i, ls -i): libfuse's high-level servers (hello,
    passthrough*, sshfs, bindfs) number inodes in the order lookups
    arrive, and the two clients look up in different orders. That hard
    links share one inode is still checked, within one run, with test -ef
    and tar's hard-link detection;
  * atime and birth time (stat %x/%w): the kernel's atime policy
    (relatime/noatime) is the kernel mount's, and btime is not in
    FUSE_GETATTR;
  * per-mount flags other than ro/rw (nosuid, nodev, relatime) and the
    superblock options (user_id=, max_read=) in /proc/self/mountinfo, and
    statfs free counts (a live backing filesystem moves between runs).

Every server is mounted read-only ("-o ro" or its own flag) in both runs,
so that the write workloads (which expect EROFS) leave the shared source
tree alone. Writes on a read-write mount of a server without write ops
are compared with a read-write kernel mount
(test_writes_on_rw_mount_match_kernel); servers that write, in
test_run_write.py, each run on its own copy of the source.

The unprivileged runs (fusebox as user fbtest, created if missing) are
compared with the root kernel run: every workload here is uid-independent
(all files are root's and world-readable, errors are EROFS before any
permission check), except sshfs, whose mountinfo source names the login
user, so its oracle logs in as fbtest too.

Tests that need no oracle (exit status, no server left behind, no kernel
FUSE used by the sandbox) run wherever fusebox is built.
"""
import difflib
import os
import pwd
import random
import shlex
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import BUILD, server, kernel_fuse_reason
import sshd as sshd_helper

FUSEBOX = os.path.join(BUILD, "fusebox")
ENV = dict(os.environ, LC_ALL="C", TZ="FBT-5:30")
for _v in ("LANG", "LANGUAGE"):
    ENV.pop(_v, None)
ENV["PATH"] = ENV.get("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin"
TIMEOUT = 90
MIB = 1024 * 1024
UNPRIV_USER = "fbtest"

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

SERVERS = ["hello", "hello_ll", "passthrough", "passthrough_fh",
           "passthrough_ll", "squashfuse", "bindfs", "fuse-overlayfs",
           "gocryptfs", "sshfs"]
# Binaries each server needs (besides the shell tools every script uses).
NEEDS = {"squashfuse": ["squashfuse", "mksquashfs"], "bindfs": ["bindfs"],
         "fuse-overlayfs": ["fuse-overlayfs"], "gocryptfs": ["gocryptfs"],
         "sshfs": ["sshfs"]}


# ---------------------------------------------------------------------------
# The source tree, the images made of it, and the servers.

def make_tree(src):
    """Nested directories, small, empty and 3 MiB files, relative,
    absolute and dangling symlinks, a hard link, xattrs, an executable
    script and binary. All world-readable (the unprivileged runs read it).
    Fixed mtimes; atimes in the future, so that reading through the
    kernel mount (relatime) never moves anything."""
    rnd = random.Random(4321)
    os.makedirs(os.path.join(src, "sub", "deeper"))
    os.makedirs(os.path.join(src, "sub", "emptydir"))
    os.makedirs(os.path.join(src, "bin"))

    def write(rel, data, mode=0o644):
        p = os.path.join(src, rel)
        with open(p, "wb") as f:
            f.write(data)
        os.chmod(p, mode)

    write("small.txt", b"hello from the source tree\n")
    write("with space.txt", b"a name with a space\n")
    write("empty", b"")
    write("big.bin", rnd.randbytes(3 * MIB + 123))
    write("readonly.txt", b"mode 0444\n", 0o444)
    write("exec.sh", b"#!/bin/sh\necho \"exec.sh ran with $# args: $*\"\n",
          0o755)
    shutil.copyfile("/bin/true", os.path.join(src, "bin", "true"))
    os.chmod(os.path.join(src, "bin", "true"), 0o755)
    write("sub/inner.txt", b"inner file\n")
    write("sub/.hidden", b"hidden\n")
    write("sub/deeper/leaf.txt", b"leaf\n" * 1000)
    write("sub/deeper/empty2", b"")
    write("hard1", b"one inode, two names\n")
    os.link(os.path.join(src, "hard1"), os.path.join(src, "sub", "hard2"))
    write("xattr.txt", b"has xattrs\n")
    x = os.path.join(src, "xattr.txt")
    os.setxattr(x, "user.fusebox", b"test value")
    os.setxattr(x, "user.binary", bytes(range(1, 32)))
    os.setxattr(os.path.join(src, "sub"), "user.dir", b"on a directory")
    links = {"rel": "small.txt", "reldir": "sub/deeper",
             "sub/up": "../small.txt", "abs": os.path.join(src, "small.txt"),
             "dangling": "no/such/target"}
    for name, target in links.items():
        os.symlink(target, os.path.join(src, name))
    now = int(time.time())
    future = now + 400 * 86400
    for i, (root, dirs, files) in enumerate(sorted(os.walk(src))):
        for j, n in enumerate(sorted(dirs + files)):
            mtime = 1600000000 + i * 86400 + j * 61
            if n == "small.txt":
                mtime = now - 86400   # ls shows a time, not a year
            os.utime(os.path.join(root, n), (future, mtime),
                     follow_symlinks=False)
    for root, dirs, files in os.walk(src, topdown=False):
        os.chmod(root, 0o755)
        os.utime(root, (future, 1600000000 + len(root)))


class World:
    """Everything the servers serve, made once per module, under a
    world-readable directory in /tmp (pytest's tmp_path is 0700)."""

    def __init__(self):
        self.base = tempfile.mkdtemp(prefix="fbrun-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.src = os.path.join(self.base, "src")
        make_tree(self.src)
        self.top = os.path.join(self.base, "top")   # overlay's upper lower
        os.mkdir(self.top)
        with open(os.path.join(self.top, "from-top.txt"), "w") as f:
            f.write("only in the top layer\n")
        os.utime(os.path.join(self.top, "from-top.txt"), (2e9, 1.6e9))
        os.utime(self.top, (2e9, 1.6e9))
        self.mnts = os.path.join(self.base, "mnt")
        self.into = os.path.join(self.base, "into")
        os.mkdir(self.mnts)
        os.mkdir(self.into)
        os.chmod(self.mnts, 0o755)
        self._img = None
        self._cipher = None

    def img(self):
        """A squashfs image of src (mksquashfs)."""
        if self._img is None:
            img = os.path.join(self.base, "src.sqfs")
            r = subprocess.run(["mksquashfs", self.src, img, "-noappend",
                                "-quiet", "-no-progress"],
                               capture_output=True, text=True)
            if r.returncode != 0:
                pytest.fail(f"mksquashfs failed: {r.stderr}")
            os.chmod(img, 0o644)
            self._img = img
        return self._img

    def cipher(self):
        """A gocryptfs cipher directory holding a copy of src. Filling it
        needs a writable mount, so a kernel one."""
        if self._cipher is None:
            why = kernel_fuse_reason()
            if why:
                pytest.skip(f"gocryptfs setup: {why}")
            cipher = os.path.join(self.base, "cipher")
            self.pw = os.path.join(self.base, "password")
            with open(self.pw, "w") as f:
                f.write("fusebox test password\n")
            os.chmod(self.pw, 0o644)
            os.mkdir(cipher)
            ext = ["-extpass", f"cat {self.pw}"]
            # A low scrypt cost: only the mount's start-up time.
            subprocess.run(["gocryptfs", "-init", "-q", "-scryptn", "10",
                            *ext, cipher], check=True, capture_output=True)
            setup = os.path.join(self.base, "gocryptfs-setup")
            os.mkdir(setup)
            # Not capture_output: the daemon would keep the pipes open.
            subprocess.run(["gocryptfs", "-q", "-nosyslog", *ext, cipher,
                            setup], check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            try:
                subprocess.run(["cp", "-a", self.src + "/.", setup],
                               check=True, capture_output=True)
            finally:
                subprocess.run(["fusermount3", "-u", setup], check=True)
            os.rmdir(setup)
            # gocryptfs.conf is 0400; the unprivileged runs read it.
            subprocess.run(["chmod", "-R", "a+rX", cipher], check=True)
            self._cipher = cipher
        return self._cipher


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    for mnt in os.listdir(w.mnts):
        cleanup(os.path.join(w.mnts, mnt))
    shutil.rmtree(w.base, ignore_errors=True)


@pytest.fixture(scope="module")
def root_sshd():
    why = sshd_helper.missing()
    if why:
        pytest.skip(f"sshfs tests: {why}")
    with sshd_helper.Sshd() as d:
        yield d


@pytest.fixture(scope="module")
def unpriv_user():
    """The account the unprivileged runs use; created if missing (with
    password "*", not "!": sshd with UsePAM no refuses locked accounts)."""
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


@pytest.fixture(scope="module")
def unpriv_sshd(unpriv_user):
    why = sshd_helper.missing()
    if why:
        pytest.skip(f"sshfs tests: {why}")
    with sshd_helper.Sshd(user=unpriv_user) as d:
        yield d


def need(name):
    """Skip when a server's binary is missing (the only reason a server's
    test skips, besides the kernel oracle)."""
    if name in NEEDS:
        for b in NEEDS[name]:
            if not shutil.which(b, path=ENV["PATH"]):
                pytest.skip(f"{b} is not installed (scripts/deps.sh)")
    else:
        exe = server(name)
        if not os.access(exe, os.X_OK):
            pytest.skip(f"{exe} is not built")


def need_kernel():
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)


q = shlex.quote


class Srv:
    """One server as the scripts start it.

    start(fg): the shell command mounting it at "$MNT" (read-only unless
    rw), in the foreground (-f, to be put in the background) or
    daemonizing (the default). w: where the tree is, relative to the mount
    root ("" or a path for the passthroughs, which serve "/"). kind: "tree"
    (serves src) or "hello"."""

    def __init__(self, name, start, kind="tree", w=""):
        self.name, self.start, self.kind, self.w = name, start, kind, w


def make_srv(name, world, sshd=None, rw=False):
    need(name)
    ro = "" if rw else "ro"

    def opt(*parts):
        s = ",".join(p for p in parts if p)
        return f"-o {q(s)} " if s else ""

    if name in ("hello", "hello_ll"):
        exe = q(server(name))
        return Srv(name, lambda fg: f'{exe} {opt(ro)}"$MNT"'
                   + (" -f" if fg else ""), kind="hello")
    if name in ("passthrough", "passthrough_fh"):
        exe = q(server(name))
        return Srv(name, lambda fg: f'{exe} {opt(ro)}"$MNT"'
                   + (" -f" if fg else ""), w=world.src)
    if name == "passthrough_ll":
        exe = q(server(name))
        o = opt(ro, "xattr", "source=" + world.src)
        return Srv(name, lambda fg: f'{exe} {o}"$MNT"'
                   + (" -f" if fg else ""))
    if name == "squashfuse":
        img = q(world.img())
        return Srv(name, lambda fg: f'squashfuse {"-f " if fg else ""}'
                   f'{opt(ro)}{img} "$MNT"')
    if name == "bindfs":
        # bindfs adds allow_other, which fusermount refuses an unprivileged
        # user without user_allow_other in /etc/fuse.conf: leave it out in
        # every run, so one script serves root and fbtest.
        return Srv(name, lambda fg: f'bindfs {"-f " if fg else ""}'
                   f'--no-allow-other {opt(ro)}{q(world.src)} "$MNT"')
    if name == "fuse-overlayfs":
        o = opt(ro, f"lowerdir={world.top}:{world.src}")
        return Srv(name, lambda fg: f'fuse-overlayfs {"-f " if fg else ""}'
                   f'{o}"$MNT"')
    if name == "gocryptfs":
        cipher = world.cipher()
        # Go's flag parsing: every flag before the positional arguments.
        ext = q(f"cat {world.pw}")
        return Srv(name, lambda fg: f'gocryptfs {"-fg " if fg else ""}'
                   f'{"" if rw else "-ro "}-nosyslog -q -extpass {ext} '
                   f'{q(cipher)} "$MNT"')
    if name == "sshfs":
        assert sshd is not None
        o = opt(ro, sshd.ssh_options())
        remote = q(f"{sshd.user}@127.0.0.1:{world.src}")
        return Srv(name, lambda fg: f'sshfs {o}{remote} "$MNT"'
                   + (" -f" if fg else ""))
    raise ValueError(name)


def srv_for(name, world, request, user=None, rw=False):
    sshd = None
    if name == "sshfs":
        need(name)
        sshd = request.getfixturevalue("unpriv_sshd" if user
                                       else "root_sshd")
    return make_srv(name, world, sshd, rw)


# ---------------------------------------------------------------------------
# The scripts.

def at(rel):
    """A path under the tree root "$W", quoted for sh."""
    return '"$W"' if rel in ("", ".") else '"$W"/' + q(rel)


# Files and directories each kind of tree has.
KINDS = {
    "tree": dict(
        cat=["small.txt", "with space.txt", "empty", "sub/inner.txt",
             "sub/deeper/leaf.txt", "rel", "sub/up", "hard1", "sub/hard2",
             "abs", "readonly.txt", "reldir/leaf.txt"],
        big="big.bin", cd="sub", cdfile="inner.txt", xattr="xattr.txt",
        links=["rel", "reldir", "sub/up", "abs", "dangling",
               "reldir/../inner.txt"],
        hard=("hard1", "sub/hard2"), subdir="sub", newfile="new",
        victim="small.txt", emptydir="sub/emptydir"),
    "hello": dict(
        cat=["hello"], big="hello", cd="", cdfile="hello", xattr="hello",
        links=["hello"], hard=("hello", "hello"), subdir="",
        newfile="new", victim="hello", emptydir="nodir"),
}

STAT_FMT = "%n|%F|%A|%s|%b|%o|%h|%U|%G|%N|%y|%z"


def workloads(kind, mnt, w):
    """(name, shell text) for every workload on one mounted tree."""
    k = KINDS[kind]
    cats = " ".join(at(p) for p in k["cat"])
    big = at(k["big"])
    # From the mountpoint's parent, a relative path to a file in the tree.
    rel_from_parent = os.path.join(os.path.basename(mnt), w.lstrip("/"),
                                   k["cat"][0])
    links = "\n".join(f"readlink {at(p)}; readlink -f {at(p)}; "
                      f'echo "readlink {p}: $?"' for p in k["links"])
    h1, h2 = (at(p) for p in k["hard"])
    victim, new = at(k["victim"]), at(k["newfile"])
    x = at(k["xattr"])
    writes = [
        ("touch", f"touch {new}"),
        ("touch-existing", f"touch {victim}"),
        ("mkdir", f"mkdir {at('newdir')}"),
        ("redirect", f"echo x > {victim}"),
        ("append", f"echo x >> {victim}"),
        ("create", f": > {new}"),
        ("rm", f"rm -f {victim}"),
        ("rmdir", f"rmdir {at(k['emptydir'])}"),
        ("symlink", f"ln -s target {at('newlink')}"),
        ("link", f"ln {victim} {at('newhard')}"),
        ("mv", f"mv {victim} {at('moved')}"),
        ("chmod", f"chmod 600 {victim}"),
        ("chown", f"chown 0:0 {victim}"),
        ("utime", f"touch -d @0 {victim}"),
        ("truncate", f"truncate -s 0 {victim}"),
        ("setfattr", f"setfattr -n user.new -v 1 {x}"),
        ("removexattr", f"setfattr -x user.fusebox {x}"),
        ("O_RDWR", "python3 -c 'import os, sys\ntry:\n"
                   "    os.open(sys.argv[1], os.O_RDWR)\n"
                   "except OSError as e:\n    print(e.strerror)' "
                   f"{victim}"),
    ]
    write_text = "\n".join(f"({cmd}) 2>&1; echo \"{name} $?\""
                           for name, cmd in writes)
    return [
        ("ls -lR", 'ls -lR "$W"; echo "exit $?"'),
        ("ls -f", f'ls -f "$W"; ls -f {at(k["subdir"])}'),
        ("find", 'find "$W" | sort; '
                 "find \"$W\" -printf '%y %m %n %s %u %g %P -> %l\\n' "
                 "| sort"),
        ("stat", f"find \"$W\" -print0 | sort -z | "
                 f"xargs -0 stat -c '{STAT_FMT}'"),
        ("hard links", f'[ {h1} -ef {h2} ]; echo "same inode $?"; '
                       f'[ {h1} -ef "$W" ]; echo "not the root $?"'),
        ("tar", 'tar -C "$W" -cf - --sort=name --format=gnu . | tar -tvf -; '
                'tar -C "$W" -cf - --sort=name --format=gnu . | sha256sum'),
        ("sha256sum", 'find "$W" -type f -print0 | sort -z | '
                      'xargs -0 sha256sum'),
        ("cat", f'cat {cats}; echo "cat $?"'),
        ("reads", f"wc -c < {big}\n"
                  f"read -r line < {at(k['cat'][0])}; echo \"$line\"\n"
                  f"dd if={big} bs=4096 skip=100 count=3 2>/dev/null "
                  "| sha256sum\n"
                  f"tail -c 100 {big} | od -An -tx1 | head -3\n"
                  f"head -c 1000000 {big} | sha256sum\n"
                  "python3 -c 'import os, sys\n"
                  "fd = os.open(sys.argv[1], os.O_RDONLY)\n"
                  "end = os.lseek(fd, 0, os.SEEK_END)\n"
                  "print(end, os.pread(fd, 16, max(0, end - 10)),"
                  " os.pread(fd, 5, end + 100))' " + big),
        ("os.walk", "python3 -c 'import os, sys; "
                    "print(sorted(os.walk(sys.argv[1])))' \"$W\""),
        ("cd", f"(cd {at(k['cd'])} && pwd && pwd -P && /bin/pwd && ls -a "
               f"&& cat {q(k['cdfile'])} && cd .. && pwd -P); "
               f'echo "cd $?"\n'
               f'(cd "$MNT"/.. && cat {q(rel_from_parent)}); '
               f'echo "relative $?"'),
        ("links", f'readlink -f "$INTO"/{q(k["cdfile"])}; '
                  f'cat "$INTO"/{q(k["cdfile"])}; ls "$INTO"/; '
                  f'realpath "$INTO"\n{links}'),
        ("xattr", f"getfattr -h -d -m - --absolute-names {x} 2>&1; "
                  f'echo "getfattr $?"\n'
                  f"getfattr -n user.fusebox --absolute-names {x} 2>&1; "
                  f'echo "getfattr $?"\n'
                  f"getfattr -n user.nope --absolute-names {x} 2>&1; "
                  f'echo "getfattr $?"\n'
                  f"getfattr -d --absolute-names {at(k['subdir'])} 2>&1; "
                  f'echo "getfattr $?"'),
        ("mount", 'mountpoint "$MNT"; echo "mountpoint $?"\n'
                  'grep -c " $MNT " /proc/self/mountinfo\n'
                  "awk -v m=\"$MNT\" '$5 == m { for (i = 7; $i != \"-\"; "
                  "i++) ; split($6, o, \",\"); "
                  "print $5, o[1], $(i + 1), $(i + 2) }' "
                  "/proc/self/mountinfo\n"
                  'findmnt -n -o TARGET,FSTYPE,SOURCE -T "$W"\n'
                  "stat -f -c '%T %s %S %l' \"$MNT\"\n"
                  'df --output=fstype,source,target "$MNT"\n'
                  f"stat -c %m {at(k['cat'][0])}"),
        ("writes", write_text),
    ]


PRELUDE = r'''set -u
wait_mount() {
	i=0
	until mountpoint -q "$1"; do
		i=$((i + 1))
		if [ $i -gt 400 ]; then
			echo "$1 not mounted after 20 s"
			exit 99
		fi
		sleep 0.05
	done
	echo mounted
}
'''


def make_script(srv, mnt, into, fg=False, sections=None,
                unmount='fusermount3 -u "$MNT"'):
    """The whole script for one server: start, wait, workloads (all, or
    the named ones), unmount, and what is left after it."""
    w = srv.w
    lines = [PRELUDE, f"MNT={q(mnt)}",
             "W=" + ('"$MNT"' + (q(w) if w else "")), f"INTO={q(into)}",
             "echo == start"]
    if fg:
        lines += [f"{srv.start(True)} &", "pid=$!"]
    else:
        lines += [srv.start(False), 'echo "server start $?"']
    lines.append('wait_mount "$MNT"')
    for name, text in workloads(srv.kind, mnt, w):
        if sections is None or name in sections:
            lines += [f"echo '== {name}'", text]
    lines += ["echo == unmount", f"{unmount}",
              'echo "unmount $?"']
    if fg:
        lines += ['wait "$pid"', 'echo "server exit $?"']
    lines += ['mountpoint -q "$MNT"; echo "mountpoint after unmount $?"',
              'ls -A "$MNT" | wc -l',
              '! mountpoint -q "$MNT"']
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Running scripts, and cleaning up after them.

def procs_with(text):
    """pids of processes whose command line contains text."""
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


def cleanup(mnt, grace=5.0):
    """After a run: wait for the servers of mnt (their argv holds it) to
    exit, kill those that do not (they are this test's), and detach a
    kernel mount left behind."""
    end = time.time() + grace
    while procs_with(mnt) and time.time() < end:
        time.sleep(0.05)
    for pid in procs_with(mnt):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if host_mounted(mnt) and os.geteuid() == 0:
        subprocess.run(["umount", "-l", mnt], stderr=subprocess.DEVNULL)


class Result:
    def __init__(self, rc, out, err, timed_out=False):
        self.rc, self.out, self.err, self.timed_out = rc, out, err, timed_out


def run_argv(argv, env=ENV, timeout=TIMEOUT, cwd=None):
    """Run argv with stdout and stderr in files (not pipes: a daemonized
    server or its ssh may keep inherited descriptors open long after the
    script ends), in its own session; on timeout kill that session."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, env=env, cwd=cwd,
                             start_new_session=True)
        timed_out = False
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except OSError:
                pass
            p.wait()
        out.seek(0)
        err.seek(0)
        return Result(p.returncode,
                      out.read().decode(errors="backslashreplace"),
                      err.read().decode(errors="backslashreplace"),
                      timed_out)


def user_env(user):
    pw = pwd.getpwnam(user)
    env = dict(ENV, USER=user, LOGNAME=user, HOME="/tmp")
    return env, pw


def fusebox_argv(script, user=None):
    argv = [FUSEBOX, "run", "--", "sh", "-c", script]
    if user:
        argv = ["setpriv", f"--reuid={user}", f"--regid={user}",
                "--init-groups"] + argv
    return argv


_kernel_cache = {}


def run_kernel(script, mnt):
    """The oracle: the script run as root, mounting through /dev/fuse.
    Cached by script text (the unprivileged tests reuse it)."""
    need_kernel()
    if script not in _kernel_cache:
        r = run_argv(["sh", "-c", script])
        cleanup(mnt)
        if r.timed_out or "\nmounted\n" not in r.out or r.rc != 0:
            pytest.fail(f"the kernel run (oracle) failed: exit {r.rc}"
                        f"{' (timed out)' if r.timed_out else ''}\n"
                        f"--- stdout\n{r.out[-3000:]}\n"
                        f"--- stderr\n{r.err[-3000:]}")
        _kernel_cache[script] = r
    return _kernel_cache[script]


def run_fusebox(script, mnt, user=None):
    env = user_env(user)[0] if user else ENV
    r = run_argv(fusebox_argv(script, user), env=env)
    cleanup(mnt)
    return r


def sections_of(out):
    """{name: text} of the '== NAME' sections of a script's stdout."""
    secs, name, cur = {}, "(before any section)", []
    for line in out.splitlines(keepends=True):
        if line.startswith("== "):
            secs[name] = "".join(cur)
            name, cur = line[3:].rstrip("\n"), []
        else:
            cur.append(line)
    secs[name] = "".join(cur)
    return secs


def compare(got, want, what):
    """Fail, naming each differing workload with a diff, when fusebox's
    run differs from the kernel's in stdout or exit status."""
    if got.out == want.out and got.rc == want.rc and not got.timed_out:
        return
    g, w = sections_of(got.out), sections_of(want.out)
    parts = []
    if got.timed_out:
        parts.append(f"fusebox run timed out after {TIMEOUT} s")
    if got.rc != want.rc:
        parts.append(f"exit status: fusebox {got.rc}, kernel {want.rc}")
    names = list(w) + [n for n in g if n not in w]
    bad = [n for n in names if g.get(n) != w.get(n)]
    for n in bad:
        diff = difflib.unified_diff(
            w.get(n, "(missing)\n").splitlines(),
            g.get(n, "(missing)\n").splitlines(),
            "kernel", "fusebox", lineterm="", n=1)
        lines = list(diff)
        more = f"\n... {len(lines) - 60} more" if len(lines) > 60 else ""
        parts.append(f"== {n}\n" + "\n".join(lines[:60]) + more)
    if bad:
        parts.insert(0, "workloads that differ: " + ", ".join(bad))
    parts.append(f"--- fusebox stderr (end)\n{got.err[-2000:]}")
    parts.append(f"--- kernel stderr (end)\n{want.err[-1000:]}")
    pytest.fail(f"{what}: fusebox run differs from the kernel run\n"
                + "\n\n".join(parts))


def fresh_mnt(world, key, user=None):
    """The mountpoint (and the outside symlink into the tree) for one
    test: the same path for both runs."""
    mnt = os.path.join(world.mnts, key)
    os.makedirs(mnt, exist_ok=True)
    if user:
        # fusermount3 wants an unprivileged user's mountpoint writable by
        # them; the owner of the empty directory is never printed.
        pw = pwd.getpwnam(user)
        os.chown(mnt, pw.pw_uid, pw.pw_gid)
    return mnt


def set_into(world, key, srv, mnt):
    into = os.path.join(world.into, key)
    target = mnt + srv.w
    sub = KINDS[srv.kind]["cd"]
    if sub:
        target = os.path.join(target, sub)
    if os.path.lexists(into):
        os.unlink(into)
    os.symlink(target, into)
    return into


def pair(name, world, request, key, fg=False, sections=None, user=None,
         unmount='fusermount3 -u "$MNT"'):
    """Run one server's script under the kernel, then under fusebox (as
    user if given); compare."""
    srv = srv_for(name, world, request, user=user if name == "sshfs"
                  else None)
    need_kernel()
    mnt = fresh_mnt(world, key, user)
    into = set_into(world, key, srv, mnt)
    script = make_script(srv, mnt, into, fg=fg, sections=sections,
                         unmount=unmount)
    want = run_kernel(script, mnt)
    got = run_fusebox(script, mnt, user)
    compare(got, want, f"{name} ({key})")


# ---------------------------------------------------------------------------
# Kernel oracle comparisons.

@pytest.mark.parametrize("name", SERVERS)
def test_run_matches_kernel(name, world, request):
    """Every workload, the server daemonizing (its default)."""
    pair(name, world, request, name)


FG_SECTIONS = ("ls -lR", "sha256sum", "mount", "writes")


@pytest.mark.parametrize("name", SERVERS)
def test_run_foreground_server(name, world, request):
    """The server started with -f in the background (&): the script waits
    for the mount, and for the server to exit after the unmount (its exit
    status is compared too)."""
    pair(name, world, request, name + "-fg", fg=True, sections=FG_SECTIONS)


@pytest.mark.parametrize("unmount", [
    'fusermount3 -u "$MNT"', 'fusermount -u "$MNT"', 'fusermount3 -uz "$MNT"',
    'umount "$MNT"', 'umount -l "$MNT"', 'kill -TERM "$pid"',
    'kill -HUP "$pid"'])
def test_unmount_ways(unmount, world, request):
    """The ways a script ends a mount: fusermount(3) -u (-z), umount(8)
    (umount2, MNT_DETACH with -l), or signalling the server, which
    unmounts itself as it exits (not SIGINT: sh starts background jobs
    with SIGINT ignored, and libfuse keeps an ignored signal ignored)."""
    key = "unmount-" + "".join(c for c in unmount if c.isalnum())
    pair("hello_ll", world, request, key, fg=True, sections=("cat",),
         unmount=unmount)


@pytest.mark.parametrize("name", ["passthrough_ll", "squashfuse"])
def test_exec_and_mmap(name, world, request):
    """Programs executed from the mount (a script with #!, an ELF binary)
    and a file mapped with mmap read what the kernel mount gives."""
    srv = srv_for(name, world, request)
    need_kernel()
    key = name + "-exec"
    mnt = fresh_mnt(world, key)
    into = set_into(world, key, srv, mnt)
    body = "\n".join([
        "echo '== exec'",
        '"$W"/exec.sh one two; echo "exec.sh $?"',
        'sh "$W"/exec.sh; echo "sh exec.sh $?"',
        '"$W"/bin/true; echo "true $?"',
        '(cd "$W" && ./exec.sh here); echo "relative exec $?"',
        "echo '== mmap'",
        "python3 -c 'import hashlib, mmap, sys\n"
        "for p in sys.argv[1:]:\n"
        "    with open(p, \"rb\") as f:\n"
        "        m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\n"
        "        print(len(m), hashlib.sha256(m).hexdigest(), m[:12])' "
        '"$W"/big.bin "$W"/small.txt "$W"/sub/deeper/leaf.txt',
    ])
    script = make_script(srv, mnt, into, sections=())
    script = script.replace("echo == unmount", body + "\necho == unmount", 1)
    want = run_kernel(script, mnt)
    got = run_fusebox(script, mnt)
    compare(got, want, f"{name} exec/mmap")


# ---------------------------------------------------------------------------
# fusebox run as an unprivileged user, against the root kernel run.

UNPRIV_SERVERS = ["hello", "passthrough", "passthrough_ll", "squashfuse",
                  "bindfs", "fuse-overlayfs", "gocryptfs", "sshfs"]


@pytest.mark.parametrize("name", UNPRIV_SERVERS)
def test_run_unprivileged(name, world, request, unpriv_user):
    # sshfs logs in as fbtest in both runs (its mountinfo source names the
    # user), so it has its own oracle; the others reuse the root run of
    # test_run_matches_kernel (same script, same mountpoint).
    key = name + "-user" if name == "sshfs" else name
    pair(name, world, request, key, user=unpriv_user)


# ---------------------------------------------------------------------------
# fusebox only: what has no kernel counterpart.

@pytest.mark.parametrize("code", [0, 1, 7, 255])
def test_exit_status_is_programs(code):
    r = run_argv(fusebox_argv(f"exit {code}"), timeout=30)
    assert not r.timed_out, "fusebox run hung"
    assert r.rc == code, r.err


def test_exit_status_with_mount_left(world):
    """PROGRAM exits 7 with a server still mounted: fusebox unmounts,
    ends the server, and exits 7."""
    need("hello")
    mnt = fresh_mnt(world, "exit-left")
    script = (PRELUDE + f"MNT={q(mnt)}\n{q(server('hello'))} \"$MNT\"\n"
              'wait_mount "$MNT"\ncat "$MNT"/hello\nexit 7\n')
    r = run_argv(fusebox_argv(script), timeout=60)
    cleanup(mnt)
    assert not r.timed_out, "fusebox run hung"
    assert (r.rc, r.out) == (7, "mounted\nHello World!\n"), r.err


def test_program_io_passes_through():
    r = subprocess.run([FUSEBOX, "run", "--", "sh", "-c",
                        'cat; echo err >&2; printf "%s|" "$@"', "sh",
                        "a b", "", "c"],
                       input=b"from stdin\n", capture_output=True,
                       env=ENV, timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"from stdin\na b||c|"
    assert r.stderr.endswith(b"err\n")


def descendants(root_pid):
    """pid -> command line of root_pid and every process below it."""
    parent = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/stat") as f:
                    parent[int(pid)] = int(f.read().rsplit(")", 1)[1]
                                           .split()[1])
            except (OSError, IndexError, ValueError):
                pass
    found, todo = set(), [root_pid]
    while todo:
        p = todo.pop()
        found.add(p)
        todo += [c for c, pp in parent.items() if pp == p and c not in found]
    return found


def proc_ident(pid):
    """(start time, state) of a live process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return fields[19], fields[0]
    except (OSError, IndexError):
        return None


def hold_script(world, key, servers, request, unmount):
    """A script mounting several servers (some daemonizing, some -f &),
    touching READY, waiting for GO (bounded), then unmounting them or
    not. Returns (script, dir, mountpoints)."""
    d = os.path.join(world.mnts, key)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    lines = [PRELUDE]
    mnts = []
    for i, name in enumerate(servers):
        srv = srv_for(name, world, request)
        mnt = os.path.join(d, name)
        os.mkdir(mnt)
        mnts.append(mnt)
        fg = i % 2 == 1
        lines += [f"MNT={q(mnt)}", srv.start(fg) + (" &" if fg else ""),
                  'wait_mount "$MNT"']
    lines += [f"cat {q(mnts[0])}/hello",
              f": > {q(d)}/READY",
              "i=0",
              f"while [ ! -e {q(d)}/GO ] && [ $i -lt 1200 ]; do",
              "\tsleep 0.05; i=$((i + 1))", "done"]
    if unmount:
        lines += [f"fusermount3 -u {q(m)}" for m in mnts] + ["wait"]
    return "\n".join(lines) + "\n", d, mnts


def start_held(script, d):
    p = subprocess.Popen(fusebox_argv(script), stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=ENV, start_new_session=True)
    end = time.time() + 60
    while not os.path.exists(os.path.join(d, "READY")):
        if p.poll() is not None or time.time() > end:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
            out, err = p.communicate()
            pytest.fail(f"the servers did not all mount under fusebox "
                        f"(exit {p.returncode}):\n{out.decode()}\n"
                        f"{err.decode()[-3000:]}")
        time.sleep(0.05)
    return p


def finish_held(p, d):
    open(os.path.join(d, "GO"), "w").close()
    try:
        out, err = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        pytest.fail(f"fusebox run did not end: {err.decode()[-3000:]}")
    return p.returncode, out.decode(), err.decode()


HELD = ["hello", "hello_ll", "passthrough_ll", "squashfuse"]


def test_sandbox_uses_no_kernel_fuse(world, request):
    """While servers are mounted inside the sandbox, neither the host nor
    the mount namespace of any process of the run has a kernel mount
    under the test's directory, and no process of the run holds the real
    /dev/fuse. (As root, a fusebox that let the servers open /dev/fuse
    would pass every kernel comparison: this test tells them apart.)"""
    for name in HELD:
        need(name)
    script, d, mnts = hold_script(world, "nokernel", HELD, request, True)
    p = start_held(script, d)
    try:
        with open("/proc/self/mountinfo") as f:
            ours = [line for line in f if d in line]
        pids = set()
        for r in [p.pid] + [x for m in mnts for x in procs_with(m)]:
            pids |= descendants(r)
        holders, ns_mounts = [], []
        for pid in pids:
            # The mount table of the process's own mount namespace, read
            # from outside (the sandbox cannot rewrite what we read): a
            # kernel mount in a private namespace would show here.
            try:
                with open(f"/proc/{pid}/mountinfo") as f:
                    ns_mounts += [f"pid {pid}: {line.strip()}" for line in f
                                  if d in line]
            except OSError:
                pass
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == "/dev/fuse":
                        holders.append(f"pid {pid} fd {fd}")
                except OSError:
                    pass
    finally:
        rc, out, err = finish_held(p, d)
        for m in mnts:
            cleanup(m)
    assert not ours, f"kernel mounts appeared on the host: {ours}"
    assert not ns_mounts, f"kernel mounts in the run's namespace: {ns_mounts}"
    assert not holders, f"processes of the run hold /dev/fuse: {holders}"
    assert rc == 0, err
    assert "Hello World!" in out


def test_no_server_left_after_run(world, request):
    """PROGRAM exits with servers still mounted (daemonized and -f in the
    background): when fusebox run returns, none of the run's processes
    is left."""
    names = list(HELD)
    for extra in ("bindfs", "fuse-overlayfs", "sshfs"):
        try:
            need(extra)
        except pytest.skip.Exception:
            continue
        if extra != "sshfs" or not sshd_helper.missing():
            names.append(extra)
    for name in HELD:
        need(name)
    script, d, mnts = hold_script(world, "leftover", names, request, False)
    p = start_held(script, d)
    try:
        # Daemonized servers may have left fusebox's tree: they are found
        # by their mountpoint argument, their children (sshfs's ssh) under
        # them.
        roots = {p.pid}
        for m in mnts:
            found = procs_with(m)
            assert found, f"no server process found for {m}"
            roots.update(found)
        pids = set()
        for r in roots:
            pids |= descendants(r)
        pids.discard(p.pid)
        snapshot = {}
        for pid in pids:
            ident = proc_ident(pid)
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().replace(b"\0", b" ").decode(
                        errors="replace")
            except OSError:
                continue
            # The script's own sleep ends on its own.
            if ident and not cmd.startswith("sleep "):
                snapshot[pid] = (ident[0], cmd)
    finally:
        rc, out, err = finish_held(p, d)
    left = []
    for pid, (start, cmd) in snapshot.items():
        ident = proc_ident(pid)
        # A zombie is dead; reaping it is its parent's business.
        if ident and ident[0] == start and ident[1] != "Z":
            left.append(f"{pid}: {cmd}")
    for m in mnts:
        cleanup(m)
    assert rc == 0, err
    assert not left, "processes left after fusebox run returned:\n" + \
        "\n".join(left)


@pytest.mark.parametrize("name", ["hello", "hello_ll"])
def test_writes_on_rw_mount_match_kernel(name, world, request):
    """Mounted read-write, a server without write ops (hello) answers
    every write itself (ENOSYS, EACCES, ...): the programs see what they
    see on a read-write kernel mount. Servers that write are compared in
    test_run_write.py, each run on its own copy of the source."""
    srv = srv_for(name, world, request, rw=True)
    need_kernel()
    key = name + "-rw"
    mnt = fresh_mnt(world, key)
    into = set_into(world, key, srv, mnt)
    script = make_script(srv, mnt, into, sections=("writes",))
    want = run_kernel(script, mnt)
    got = run_fusebox(script, mnt)
    compare(got, want, f"{name} read-write")
