"""Black-box tests of the fusebox command (src/cli/).

fusebox ls/cat/stat/tree must print byte for byte what ls -l, cat, stat
and tree print for the same files on a kernel FUSE mount of the same
server. Each comparison starts two instances of one unmodified server: one
mounted through the kernel (the oracle, conftest.kernel_mount), one
started by fusebox itself. Both sides run with the same LC_ALL=C and TZ.

Only what must differ is normalized, each place says why: the mountpoint
path the real tools print, and stat's Device line.

The error tests (bad paths, servers that are missing or die, bad usage,
--help) need no kernel mount.
"""
import difflib
import os
import re
import socket
import stat
import subprocess
import time

import pytest

from conftest import BUILD, server, kernel_mount  # noqa: F401 (fixture)

FUSEBOX = os.path.join(BUILD, "fusebox")
# A zone with a half-hour offset, so stat's "%z" and ls's local dates are
# checked for more than UTC's zeros.
ENV = dict(os.environ, LC_ALL="C", TZ="FBT-5:30")
ENV.pop("LANG", None)
ENV.pop("LANGUAGE", None)
TIMEOUT = 60

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")


def fusebox(*args, env=ENV, timeout=TIMEOUT):
    try:
        return subprocess.run([FUSEBOX, *args], capture_output=True,
                              env=env, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"")[-200:]
        pytest.fail(f"fusebox {' '.join(args)} hung for {timeout} s "
                    f"(last output: {out!r})")


def real(argv, env=ENV):
    return subprocess.run(argv, capture_output=True, env=env,
                          timeout=TIMEOUT)


# ---------------------------------------------------------------------------
# The servers and the paths each command is compared on.

FBDEMO_FILES = ["/README", "/.hidden", "/docs/intro.txt", "/docs/usage.txt",
                "/docs/nested/deep.txt", "/link", "/big.bin", "/tagged.txt",
                "/empty"]
FBDEMO = {
    # (options, path); ls -a is not compared on "/": its ".." is the
    # directory the kernel mount sits in, which fusebox cannot know.
    "ls": [([], "/"), ([], "/docs"), (["-a"], "/docs"),
           ([], "/docs/nested"), (["-a"], "/docs/nested"), ([], "/README"),
           ([], "/link"), ([], "/nested"), ([], "/nested/"), ([], "/empty"),
           ([], "/big.bin"), ([], "docs")],
    "cat": FBDEMO_FILES,
    "stat": ["/", "/docs", "/docs/nested", "/nested"] + FBDEMO_FILES,
    "tree": ["/", "/docs", "/docs/nested", "/nested", "/link", "/README"],
}
HELLO = {
    "ls": [([], "/"), ([], "/hello")],
    "cat": ["/hello"],
    "stat": ["/", "/hello"],
    "tree": ["/"],
}
PASSTHROUGH = {
    "ls": [([], "/"), ([], "/sub"), (["-a"], "/sub"), ([], "/sub/deeper"),
           (["-a"], "/sub/deeper/deepest"), ([], "/file.txt"),
           ([], "/hard1"), ([], "/link"), ([], "/dirlink"),
           ([], "/dirlink/"), ([], "/dangling"), ([], "/fifo"),
           ([], "/suid"), ([], "/sticky"), ([], "/chardev"),
           ([], "/with space")],
    "cat": ["/file.txt", "/big.dat", "/empty", "/hard2", "/link",
            "/sub/inner.txt", "/.dotfile", "/with space"],
    "stat": ["/", "/file.txt", "/big.dat", "/empty", "/hard1", "/hard2",
             "/sub", "/link", "/dirlink", "/dangling", "/fifo", "/suid",
             "/sgid", "/sticky", "/nobody", "/unnamed", "/old", "/future",
             "/chardev", "/socket", "/with space"],
    "tree": ["/", "/sub", "/dirlink", "/dangling", "/file.txt"],
}


def make_source_tree(root):
    """Files of every kind for passthrough_ll to serve. Times are set so
    that reading through either mount cannot move an atime (relatime only
    updates an atime older than mtime or ctime), since stat shows it."""
    now = time.time()

    def write(name, data):
        with open(os.path.join(os.fsencode(root), os.fsencode(name)),
                  "wb") as f:
            f.write(data)

    write("file.txt", b"hello from the source tree\n")
    write("big.dat", bytes((i * 7 + (i >> 10)) & 0xff
                           for i in range(300 * 1024 + 123)))
    write("empty", b"")
    write(".dotfile", b"hidden\n")
    write("with space", b"a name with a space\n")
    write(b"caf\xc3\xa9", b"utf-8 name\n")
    write(b"bad\xffbyte", b"not utf-8\n")
    write("tab\tname", b"control character\n")
    write("hard1", b"two names\n")
    os.link(os.path.join(root, "hard1"), os.path.join(root, "hard2"))
    os.makedirs(os.path.join(root, "sub", "deeper", "deepest"))
    os.mkdir(os.path.join(root, "sub", "empty-dir"))
    write("sub/inner.txt", b"inner\n")
    write("sub/.inner-hidden", b"x\n")
    write("sub/deeper/leaf", b"leaf\n")
    os.symlink("file.txt", os.path.join(root, "link"))
    os.symlink("sub", os.path.join(root, "dirlink"))
    os.symlink("nowhere", os.path.join(root, "dangling"))
    os.symlink("../../file.txt", os.path.join(root, "sub", "deeper", "up"))
    os.mkfifo(os.path.join(root, "fifo"))
    for name, mode in (("suid", 0o4755), ("sgid", 0o2640),
                       ("nobody", 0o600), ("unnamed", 0o640),
                       ("old", 0o644), ("future", 0o644),
                       ("recent", 0o644)):
        write(name, b"")
        os.chmod(os.path.join(root, name), mode)
    os.mkdir(os.path.join(root, "sticky"))
    os.chmod(os.path.join(root, "sticky"), 0o1777)
    os.chown(os.path.join(root, "nobody"), 65534, 65534)
    # An id with no name here: ls and stat print the number.
    os.chown(os.path.join(root, "unnamed"), 12345, 54321)
    try:
        os.mknod(os.path.join(root, "chardev"), 0o644 | stat.S_IFCHR,
                 os.makedev(1, 3))
    except OSError:
        pass
    sock = socket.socket(socket.AF_UNIX)
    try:
        sock.bind(os.path.join(root, "socket"))
    finally:
        sock.close()

    # Bottom-up, so setting a child's times is not undone by anything.
    later = now + 3600
    mtimes = {"old": 978307200.25,             # 2001: shown with a year
              "future": now + 365 * 86400,     # future: shown with a year
              "recent": now - 150 * 86400}     # five months: with a time
    for dirpath, dirnames, filenames in os.walk(os.fsencode(root),
                                                topdown=False):
        for name in filenames + dirnames:
            p = os.path.join(dirpath, name)
            m = mtimes.get(os.fsdecode(name), now - 120)
            os.utime(p, (max(later, m + 60), m), follow_symlinks=False)
    os.utime(root, (later, now - 120))


@pytest.fixture(scope="module")
def source_tree(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("fbcli-src"))
    make_source_tree(root)
    return root


def server_spec(name, source_tree):
    """(server argv, paths per command) for one test server."""
    if name == "fbdemo":
        return [server("fbdemo")], FBDEMO
    if name in ("hello", "hello_ll"):
        return [server(name)], HELLO
    return ([server("passthrough_ll"), "-o", "source=" + source_tree],
            PASSTHROUGH)


SERVERS = ["fbdemo", "hello", "hello_ll", "passthrough_ll"]


def need_server(argv):
    if not os.path.exists(argv[0]):
        pytest.skip(f"{argv[0]} is not built")


# ---------------------------------------------------------------------------
# Normalization.

def unmount_path(out, mnt):
    """The real tools print the path they were given, MNT/PATH; fusebox
    prints PATH. Only the mountpoint prefix is removed."""
    return out.replace(mnt.encode(), b"")


DEVICE_LINE = re.compile(rb"^Device: \d+,\d+\t", re.M)


def normalize_stat(out, mnt):
    """stat's Device line shows st_dev: the kernel gives each mount its own
    anonymous device number and fusebox has its own, neither comes from the
    server. The rest of that line (Inode, Links, Device type) is kept."""
    return DEVICE_LINE.sub(b"Device: -\t", unmount_path(out, mnt))


def mismatch(what, got, want):
    diff = difflib.unified_diff(
        want.decode(errors="backslashreplace").splitlines(),
        got.decode(errors="backslashreplace").splitlines(),
        "kernel", "fusebox", lineterm="")
    return f"{what}:\n" + "\n".join(diff)


def run_pair(fb_args, real_argv, normalize, mnt):
    fb = fusebox(*fb_args)
    ref = real(real_argv)
    assert ref.returncode == 0, \
        f"{real_argv} failed on the kernel mount: {ref.stderr!r}"
    if fb.returncode != 0:
        return (f"fusebox {fb_args} exit {fb.returncode}: "
                f"{fb.stderr.decode(errors='replace')}")
    # fusebox's output never holds the mountpoint: normalizing it too only
    # blanks its Device line.
    got, want = normalize(fb.stdout, mnt), normalize(ref.stdout, mnt)
    if got != want:
        return mismatch(f"fusebox {' '.join(fb_args)}", got, want)
    return None


def check_all(problems):
    problems = [p for p in problems if p]
    assert not problems, "\n\n".join(problems)


# ---------------------------------------------------------------------------
# fusebox against the kernel mount.

@pytest.mark.parametrize("name", SERVERS)
def test_ls_matches_kernel(name, kernel_mount, source_tree):
    argv, paths = server_spec(name, source_tree)
    need_server(argv)
    mnt = kernel_mount(argv).path
    problems = []
    for opts, path in paths["ls"]:
        # A relative PATH is resolved from the root.
        real_path = mnt + (path if path.startswith("/") else "/" + path)
        problems.append(run_pair(["ls", *opts, path, "--", *argv],
                                 ["ls", "-la" if opts else "-l", real_path],
                                 unmount_path, mnt))
    check_all(problems)


@pytest.mark.parametrize("name", SERVERS)
def test_cat_matches_kernel(name, kernel_mount, source_tree):
    argv, paths = server_spec(name, source_tree)
    need_server(argv)
    mnt = kernel_mount(argv).path
    files = paths["cat"]
    problems = [run_pair(["cat", *files, "--", *argv],
                         ["cat", *[mnt + p for p in files]],
                         lambda out, m: out, mnt)]
    # One file at a time, and with small READs so each file takes many.
    for p in files:
        problems.append(run_pair(["--max-read=4096", "cat", p, "--", *argv],
                                 ["cat", mnt + p], lambda out, m: out, mnt))
    check_all(problems)


@pytest.mark.parametrize("name", SERVERS)
def test_stat_matches_kernel(name, kernel_mount, source_tree):
    argv, paths = server_spec(name, source_tree)
    need_server(argv)
    mnt = kernel_mount(argv).path
    # /chardev exists only where mknod worked.
    files = [p for p in paths["stat"] if os.path.lexists(mnt + p)]
    check_all([run_pair(["stat", *files, "--", *argv],
                        ["stat", *[mnt + p for p in files]],
                        normalize_stat, mnt)])


@pytest.mark.parametrize("name", SERVERS)
def test_tree_matches_kernel(name, kernel_mount, source_tree):
    argv, paths = server_spec(name, source_tree)
    need_server(argv)
    mnt = kernel_mount(argv).path
    problems = []
    for path in paths["tree"]:
        problems.append(run_pair(["tree", path, "--", *argv],
                                 ["tree", mnt + path], unmount_path, mnt))
    # With no PATH, fusebox draws "/"; tree draws the directory it is
    # given the same way.
    problems.append(run_pair(["tree", "--", *argv], ["tree", mnt + "/"],
                             unmount_path, mnt))
    check_all(problems)


@pytest.mark.parametrize("name", ["fbdemo", "passthrough_ll"])
def test_tree_utf8_matches_kernel(name, kernel_mount, source_tree):
    """In a UTF-8 locale tree draws with box-drawing characters and
    escapes names differently; fusebox follows the locale too."""
    utf8 = dict(ENV, LC_ALL="C.UTF-8")
    if real(["locale", "-a"]).stdout.lower().find(b"c.utf8") < 0:
        pytest.skip("no C.UTF-8 locale here")
    argv, _ = server_spec(name, source_tree)
    need_server(argv)
    mnt = kernel_mount(argv).path
    fb = fusebox("tree", "/", "--", *argv, env=utf8)
    ref = real(["tree", mnt + "/"], env=utf8)
    assert fb.returncode == 0, fb.stderr
    assert fb.stdout == unmount_path(ref.stdout, mnt), \
        mismatch("fusebox tree / (C.UTF-8)", fb.stdout,
                 unmount_path(ref.stdout, mnt))


def test_ls_a_root_lists_dot_files(kernel_mount):
    """ls -a / is not compared whole (see FBDEMO), but every entry but
    ".." must still have the kernel's line, in the kernel's order."""
    argv = [server("fbdemo")]
    need_server(argv)
    mnt = kernel_mount(argv).path
    fb = fusebox("ls", "-a", "/", "--", *argv)
    ref = real(["ls", "-la", mnt + "/"])
    assert fb.returncode == 0, fb.stderr

    def fields(out):
        # The ".." line sets the column widths, so compare the fields of
        # every other line, not its spacing.
        return [line.split() for line in out.splitlines()
                if not line.endswith(b" ..")]
    assert fields(fb.stdout)[1:] == fields(ref.stdout)[1:]
    assert b".hidden" in fb.stdout


def test_big_file_bytes(kernel_mount):
    """fbdemo's 1 MiB pattern file, read in 4 KiB READs, equals the
    pattern it is made of (examples/fbdemo.c)."""
    argv = [server("fbdemo")]
    need_server(argv)
    want = bytes((i % 251) ^ ((i // 4096) & 0xff) for i in range(1 << 20))
    for opts in ([], ["--max-read=4096"], ["--max-read=12345"]):
        r = fusebox(*opts, "cat", "/big.bin", "--", *argv)
        assert r.returncode == 0, r.stderr
        assert r.stdout == want, f"big.bin differs with {opts}"


# ---------------------------------------------------------------------------
# Behaviour of the command itself.

def fbdemo_argv():
    argv = [server("fbdemo")]
    need_server(argv)
    return argv


@pytest.mark.parametrize("cmd,expect", [
    ("ls", b"fusebox: ls: cannot access '/nope': No such file or directory"),
    ("stat", b"fusebox: stat: cannot stat '/nope': No such file or "
             b"directory"),
    ("cat", b"fusebox: cat: /nope: No such file or directory"),
    ("tree", b"fusebox: tree: cannot access '/nope': No such file or "
             b"directory"),
])
def test_missing_path(cmd, expect):
    r = fusebox(cmd, "/nope", "--", *fbdemo_argv())
    assert r.returncode == 1
    assert expect in r.stderr
    assert r.stdout == b""


def test_missing_path_among_good_ones():
    """A bad PATH is reported, the others still printed, exit 1."""
    r = fusebox("cat", "/docs/intro.txt", "/nope", "/empty", "--",
                *fbdemo_argv())
    assert r.returncode == 1
    assert r.stdout == b"fusebox is a FUSE client that lives in user space.\n"
    assert b"/nope: No such file or directory" in r.stderr


def test_cat_directory():
    r = fusebox("cat", "/docs", "--", *fbdemo_argv())
    assert r.returncode == 1
    assert b"fusebox: cat: /docs: Is a directory" in r.stderr


def test_not_a_directory_in_path():
    r = fusebox("ls", "/README/x", "--", *fbdemo_argv())
    assert r.returncode == 1
    assert b"Not a directory" in r.stderr


def test_missing_server_binary():
    r = fusebox("ls", "/", "--", "/nonexistent/fusebox-no-such-server")
    assert r.returncode == 1
    assert b"cannot run server '/nonexistent/fusebox-no-such-server'" \
        in r.stderr
    r = fusebox("ls", "/", "--", "fusebox-no-such-server-in-path")
    assert r.returncode == 1
    assert b"fusebox-no-such-server-in-path" in r.stderr
    assert b"not found" in r.stderr


@pytest.mark.parametrize("prog", ["false", "true"])
def test_server_exits_at_once(prog):
    """A server that dies before answering INIT: a clear message, exit 1,
    and no hang (the timeout turns a hang into a failure)."""
    r = fusebox("ls", "/", "--", prog, timeout=30)
    assert r.returncode == 1
    assert f"server '{prog}' did not start".encode() in r.stderr
    assert b"/dev/fd/N" in r.stderr
    assert r.stdout == b""


def test_server_exit_status_does_not_leak():
    """The server's exit status after a successful run is not ours."""
    argv = ["sh", "-c", '"$@"; exit 3', "sh", server("hello_ll")]
    need_server(argv[4:])
    r = fusebox("cat", "/hello", "--", *argv)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello World!\n"


def test_placeholder_argument():
    """'{}' in the server's arguments is where /dev/fd/N goes."""
    argv = [server("hello_ll")]
    need_server(argv)
    r = fusebox("cat", "/hello", "--", *argv, "{}", "-s")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"Hello World!\n"


def test_debug_logs_on_stderr_only():
    plain = fusebox("cat", "/README", "--", *fbdemo_argv())
    debug = fusebox("--debug", "cat", "/README", "--", *fbdemo_argv())
    assert plain.returncode == 0 and debug.returncode == 0, debug.stderr
    assert debug.stdout == plain.stdout
    assert len(debug.stderr) > len(plain.stderr)


def test_options_anywhere_before_separator():
    a = fusebox("ls", "-a", "/docs", "--", *fbdemo_argv())
    b = fusebox("--max-read=8192", "ls", "/docs", "-a", "--debug", "--",
                *fbdemo_argv())
    assert a.returncode == 0 and b.returncode == 0
    assert a.stdout == b.stdout
    assert b"intro.txt" in a.stdout and b"\n" in a.stdout


@pytest.mark.parametrize("args", [
    [],
    ["ls"],
    ["ls", "/"],                      # no -- SERVER
    ["ls", "/", "--"],                # nothing after --
    ["frob", "/", "--", "true"],      # unknown command
    ["cat", "--", "true"],            # cat needs a PATH
    ["stat", "--", "true"],
    ["ls", "/a", "/b", "--", "true"],  # ls takes one PATH
    ["tree", "/a", "/b", "--", "true"],
    ["cat", "-a", "/x", "--", "true"],  # -a is for ls
    ["--bogus", "ls", "--", "true"],
    ["ls", "-l", "--", "true"],
    ["--max-read=abc", "ls", "--", "true"],
    ["--max-read=0", "ls", "--", "true"],
    ["--max-read", "--", "true"],
])
def test_bad_usage(args):
    r = fusebox(*args, timeout=10)
    assert r.returncode == 2, (args, r.stderr)
    assert b"usage: fusebox" in r.stderr
    assert r.stdout == b""


def test_bad_usage_starts_no_server(tmp_path):
    """Usage errors are found before the server is started."""
    marker = tmp_path / "started"
    r = fusebox("cat", "--", "sh", "-c", f"touch {marker}")
    assert r.returncode == 2
    assert not marker.exists()


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(flag):
    r = fusebox(flag)
    assert r.returncode == 0
    out = r.stdout
    for word in (b"ls [-a]", b"cat PATH", b"stat PATH", b"tree [PATH]",
                 b"/dev/fd/N", b"libfuse 3", b"Nothing is mounted",
                 b"--debug", b"--max-read", b"Exit status", b"  0 ",
                 b"  1 ", b"  2 "):
        assert word in out, word
    # --help wins wherever it is, even in an otherwise bad command line.
    assert fusebox("ls", "/a", "/b", flag, "--", "x").returncode == 0


def test_version():
    r = fusebox("--version")
    assert r.returncode == 0
    assert r.stdout.startswith(b"fusebox ")
