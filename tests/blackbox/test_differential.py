"""Differential tests: libfusebox against the kernel's FUSE client.

The same unmodified server is walked twice by build/tools/fbdump: once
through libfusebox ("fbdump lib -- SERVER ... {}") and once through a kernel
FUSE mount of another instance of it ("fbdump native MOUNTPOINT"). Both
print the same canonical lines (see tests/tools/fbdump.c), so the outputs
must be equal line for line; a failure shows the diff.

The kernel mount is made read-only (-o ro): libfusebox is read-only, and a
read-only kernel mount is the oracle for what a read-only client answers to
O_WRONLY, O_TRUNC, O_CREAT and access(W_OK) (EROFS where the VFS says so,
the server's answer elsewhere).

Where kernel FUSE is not usable those tests skip, and test_lib_vs_source
still compares the libfusebox walk with a native walk of the source tree on
the fields any correct client must reproduce (type, mode, size, content,
listing, symlink targets, xattrs).

A failed comparison leaves both full outputs in BUILD/differential/.
"""
import difflib
import os
import random
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, keep_outputs, server, kernel_mount  # noqa: F401 (fixture)

FBDUMP = os.path.join(BUILD, "tools", "fbdump")
TIMEOUT = 90

pytestmark = pytest.mark.skipif(not os.path.exists(FBDUMP),
                                reason=f"{FBDUMP} not built")

MIB = 1024 * 1024
SIZES = {"empty": 0, "one": 1, "f4095": 4095, "f4096": 4096, "f4097": 4097,
         "f128k": 131072, "f128k1": 131073, "big3m": 3 * MIB}
MANY = 2000


def make_tree(top):
    """The source tree every test walks (deterministic content). Files
    whose content matters are in data/, so the max_read tests can walk just
    that."""
    rnd = random.Random(1234)
    data = os.path.join(top, "data")
    os.makedirs(data)
    for name, size in SIZES.items():
        with open(os.path.join(data, name), "wb") as f:
            f.write(rnd.randbytes(size))
    # Holes around one block of data: a hole at 0, data at 1 MiB, a hole
    # up to the end (3 MiB + 100).
    with open(os.path.join(data, "sparse"), "wb") as f:
        f.seek(MIB)
        f.write(rnd.randbytes(4096))
        f.truncate(3 * MIB + 100)
    sub = os.path.join(top, "sub")
    os.makedirs(os.path.join(sub, "deeper", "deepest"))
    with open(os.path.join(sub, "deeper", "deepest", "leaf"), "wb") as f:
        f.write(b"leaf\n")
    with open(os.path.join(sub, "small"), "wb") as f:
        f.write(rnd.randbytes(100))
    os.mkdir(os.path.join(top, "emptydir"))
    # Symlinks: relative, to a directory, absolute (resolved inside the
    # filesystem's root by both walkers), dangling, looping, up past the
    # root, long.
    links = {"rel": "data/f4096", "reldir": "sub", "abs": "/data/f4097",
             "absdir": "/sub/deeper", "dangling": "no/such/target",
             "loop1": "loop2", "loop2": "loop1", "self": "self",
             "up": "../../../..", "sub/uplink": "../data/one",
             "sub/deeper/chain": "../../rel", "through": "data/one/x",
             "long": "x" * 200}
    for name, target in links.items():
        os.symlink(target, os.path.join(top, name))
    many = os.path.join(top, "many")
    os.mkdir(many)
    for i in range(MANY):
        # Names of varying length so records pack unevenly into the small
        # getdents buffers.
        name = f"e{i:04d}" + "x" * (i % 41)
        with open(os.path.join(many, name), "wb") as f:
            f.write(name.encode()[: i % 7])
    for name in ("with space", " lead", "trail ", "ünïcödé-名前", "é",
                 "new\nline", "back\\slash", "a=b,c"):
        with open(os.path.join(top, name), "wb") as f:
            f.write(name.encode() + b"\n")
    os.mkfifo(os.path.join(top, "fifo"))
    for name, mode in (("mode000", 0o000), ("setuid", 0o4755),
                       ("exec", 0o755), ("wonly", 0o200)):
        p = os.path.join(data, name)
        with open(p, "wb") as f:
            f.write(name.encode() * 3)
        os.chmod(p, mode)
    os.link(os.path.join(data, "f4097"), os.path.join(data, "hard"))
    os.link(os.path.join(data, "f4097"), os.path.join(sub, "hard"))
    x = os.path.join(data, "xattrs")
    with open(x, "wb") as f:
        f.write(b"xattrs\n")
    try:
        os.setxattr(x, "user.plain", b"hello")
    except OSError:
        pass  # no user xattrs here: the walks still compare the lists
    else:
        os.setxattr(x, "user.empty", b"")
        os.setxattr(x, "user.one", b"1")
        os.setxattr(x, "user.binary", bytes(range(256)))
        os.setxattr(x, "user.big", rnd.randbytes(3000))
        os.setxattr(sub, "user.dir", b"a directory")
        os.setxattr(os.path.join(data, "big3m"), "user.k", b"v")
    # Fixed times, so a source walk is comparable with an image of it.
    for root, dirs, files in os.walk(top, topdown=False):
        for n in dirs + files:
            os.utime(os.path.join(root, n), ns=(10**18, 1234567890123456789),
                     follow_symlinks=False)
    os.utime(top, ns=(10**18, 1234567890123456789))


def make_hello_tree(top):
    """What libfuse's hello and hello_ll serve, as a real tree."""
    os.makedirs(top)
    p = os.path.join(top, "hello")
    with open(p, "w") as f:
        f.write("Hello World!\n")
    os.chmod(p, 0o444)
    os.chmod(top, 0o755)


@pytest.fixture(scope="module")
def trees():
    base = tempfile.mkdtemp(prefix="fbdiff-")
    src = os.path.join(base, "src")
    make_tree(src)
    hello = os.path.join(base, "hello")
    make_hello_tree(hello)
    img = os.path.join(base, "src.sqfs")
    sqfs_err = None
    if shutil.which("mksquashfs") and shutil.which("squashfuse"):
        r = subprocess.run(["mksquashfs", src, img, "-noappend", "-quiet",
                            "-no-progress"], capture_output=True, text=True)
        if r.returncode != 0:
            sqfs_err = f"mksquashfs failed: {r.stderr}"
    else:
        sqfs_err = "mksquashfs/squashfuse not installed"
    yield {"base": base, "src": src, "hello": hello, "img": img,
           "sqfs_err": sqfs_err}
    shutil.rmtree(base, ignore_errors=True)


class Server:
    """How to run one server under libfusebox and under the kernel."""

    def __init__(self, name, lib_argv, kernel_argv, root, source,
                 volatile_free=False, xattrs=True, dtypes=True,
                 source_ignore=()):
        self.name = name
        self.lib_argv = lib_argv        # with "{}" for the mountpoint
        self.kernel_argv = kernel_argv  # the mountpoint goes after these
        self.root = root                # walk root inside the filesystem
        self.source = source            # the real tree it serves
        # statfs free counts of a live backing filesystem move.
        self.volatile_free = volatile_free
        # Whether the server implements xattrs and fills in d_type; a
        # source-tree comparison can only ask for what the server serves.
        self.xattrs = xattrs
        self.dtypes = dtypes
        # Lines (by substring) a source comparison skips: what the server
        # cannot express, not what fusebox gets wrong.
        self.source_ignore = source_ignore


def make_server(name, t, ll_opts=""):
    exe = server(name)
    if name in ("hello", "hello_ll"):
        return Server(name, [exe, "-f", "{}"], [exe, "-o", "ro"], "/",
                      t["hello"], xattrs=False, dtypes=False)
    if name in ("passthrough", "passthrough_fh"):
        # These serve the whole "/" (built without xattr support); walk
        # our tree inside it.
        return Server(name, [exe, "-f", "{}"], [exe, "-o", "ro"], t["src"],
                      t["src"], volatile_free=True, xattrs=False)
    if name == "passthrough_ll":
        opts = f"source={t['src']},xattr" + (f",{ll_opts}" if ll_opts
                                              else "")
        return Server(name, [exe, "-f", "-o", opts, "{}"],
                      [exe, "-o", f"ro,{opts}"], "/", t["src"],
                      volatile_free=True)
    if name == "squashfuse":
        if t["sqfs_err"]:
            pytest.skip(t["sqfs_err"])
        # squashfuse answers getxattr of an empty value with ENODATA (the
        # kernel gets the same), so the source comparison skips that one.
        return Server(name, ["squashfuse", "-f", t["img"], "{}"],
                      ["squashfuse", "-o", "ro", t["img"]], "/", t["src"],
                      source_ignore=("\txattr\tname=user.empty ",))
    raise ValueError(name)


def need_server(argv0):
    if os.path.sep in argv0:
        if not os.access(argv0, os.X_OK):
            pytest.skip(f"{argv0} not built")
    elif not shutil.which(argv0):
        pytest.skip(f"{argv0} not installed")


def start_fbdump(args, root="/", pause=False):
    argv = [FBDUMP]
    if root != "/":
        argv.append(f"--root={root}")
    if pause:
        argv.append("--pause")
    return subprocess.Popen(argv + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE,
                            stdin=subprocess.PIPE if pause else
                            subprocess.DEVNULL)


def start_lib(srv, opts=(), root=None, server_argv=None, pause=False):
    return start_fbdump(list(opts) + ["lib", "--"] +
                        (server_argv or srv.lib_argv),
                        root or srv.root, pause)


def start_native(top, root="/", pause=False):
    return start_fbdump(["native", top], root, pause)


def finish(proc, what, input=None):
    """Wait for one fbdump; returns (stdout text, stderr text)."""
    try:
        out, err = proc.communicate(input, timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"{what}: fbdump timed out after {TIMEOUT}s\n"
                    f"{err.decode(errors='replace')[-3000:]}")
    text = out.decode("utf-8", errors="backslashreplace")
    errtext = err.decode("utf-8", errors="replace")
    assert proc.returncode == 0, (
        f"{what}: fbdump exit {proc.returncode}\n{errtext[-3000:]}\n"
        f"{text[-2000:]}")
    return text, errtext


def run_all(procs):
    """Finish fbdump runs started in parallel; their stdout texts."""
    return [finish(p, what)[0] for what, p in procs]


def meta(text):
    """The '#' lines as a dict of key=value: the run, not the fs."""
    d = {}
    for line in text.splitlines():
        if line.startswith("#"):
            for tok in line[1:].split():
                if "=" in tok:
                    k, v = tok.split("=", 1)
                    d[k] = v
    return d


def fs_lines(text, volatile_free=False):
    out = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if volatile_free and "\tstatfs-free\t" in line:
            continue
        out.append(line)
    return out


def keep_name():
    """This test's name, as a file name."""
    name = os.environ.get("PYTEST_CURRENT_TEST", "run").split(" ")[0]
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def assert_same(got, want, what_got, what_want, volatile_free=False):
    a = fs_lines(got, volatile_free)
    b = fs_lines(want, volatile_free)
    if a == b:
        return
    base = keep_outputs(keep_name(), got, want)
    diff = list(difflib.unified_diff(b, a, what_want, what_got,
                                     lineterm="", n=1))
    shown = "\n".join(diff[:300])
    more = (f"\n... {len(diff) - 300} more diff lines"
            if len(diff) > 300 else "")
    pytest.fail(f"{what_got} differs from {what_want} "
                f"({len(diff)} diff lines; full outputs in {base}.got and "
                f"{base}.want):\n{shown}{more}")


SERVERS = ["hello", "hello_ll", "passthrough", "passthrough_fh",
           "passthrough_ll", "squashfuse"]


@pytest.mark.parametrize("name", SERVERS)
def test_lib_vs_kernel(name, trees, kernel_mount):
    srv = make_server(name, trees)
    need_server(srv.lib_argv[0])
    mnt = kernel_mount(srv.kernel_argv)
    lib, ref = run_all([
        (f"lib {name}", start_lib(srv)),
        (f"kernel {name}", start_native(mnt.path, srv.root))])
    assert_same(lib, ref, f"libfusebox/{name}", f"kernel/{name}",
                srv.volatile_free)


# What any correct client must reproduce from the source tree itself,
# whatever the server does with inode numbers, times, link counts or
# statfs: kind -> fields to keep (None: the whole line).
SOURCE_KINDS = {"lstat": ("type", "mode", "size"), "dirent": ("type",),
                "content": None, "pread": None, "readlink": None,
                "readlink-small": None, "content-mismatch": None,
                "content-error": None, "dirent-duplicate": None,
                "dirent-corrupt": None, "dirent-badreclen": None,
                "getdents-again": None, "lseek": None}
XATTR_KINDS = ("xattr-list", "xattr-list-small", "xattr", "xattr-small",
               "xattr-missing")


def source_view(text, srv):
    out = []
    for line in fs_lines(text):
        parts = line.split("\t")
        if len(parts) != 3:
            out.append(line)
            continue
        path, kind, fields = parts
        if any(sub in line for sub in srv.source_ignore):
            continue
        if kind in XATTR_KINDS and srv.xattrs:
            out.append(line)
            continue
        if kind not in SOURCE_KINDS:
            continue
        keep = SOURCE_KINDS[kind]
        if kind == "dirent":
            # Whether "." and ".." are listed, and the d_ino of every
            # entry, are the server's business.
            name, rest = fields.split(" type=", 1)
            if name in (".", ".."):
                continue
            fields = name + (" type=" + rest.split(" ")[0]
                             if srv.dtypes else "")
        elif kind == "lseek" and srv.name == "squashfuse":
            # squashfs keeps no holes: SEEK_DATA/SEEK_HOLE see a full file.
            continue
        elif keep and "=" in fields:
            toks = dict(t.split("=", 1) for t in fields.split(" ")
                        if "=" in t)
            if toks.get("type") == "dir":
                # A directory's size is the backing filesystem's choice.
                toks.pop("size", None)
            fields = " ".join(f"{k}={toks[k]}" for k in keep if k in toks)
        out.append(f"{path}\t{kind}\t{fields}")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", SERVERS)
def test_lib_vs_source(name, trees):
    """Needs no kernel FUSE: the libfusebox walk against a native walk of
    the tree the server serves, on the fields that must agree."""
    srv = make_server(name, trees)
    need_server(srv.lib_argv[0])
    lib, ref = run_all([
        (f"lib {name}", start_lib(srv)),
        (f"source {name}", start_native(srv.source))])
    assert_same(source_view(lib, srv), source_view(ref, srv),
                f"libfusebox/{name}", f"source tree of {name}")


def read_sizes(log):
    """Sizes of the READ requests a libfuse high-level server logged with
    -d: "read[0] 4096 bytes from 0 flags: 0x8000"."""
    sizes = []
    for line in log.splitlines():
        if line.startswith("read[") and " bytes from " in line:
            sizes.append(int(line.split()[1]))
    return sizes


@pytest.mark.parametrize("max_read", [4096, 5000])
def test_max_read(max_read, trees):
    """READs split to max_read bytes (page sized or not) give the same
    content, and the server never sees a larger READ."""
    srv = make_server("passthrough", trees)
    need_server(srv.lib_argv[0])
    data = os.path.join(trees["src"], "data")
    debug_argv = [srv.lib_argv[0], "-d", "-f", "{}"]
    ref_p = start_lib(srv, root=data)
    small_p = start_lib(srv, [f"--max-read={max_read}"], root=data,
                        server_argv=debug_argv)
    small, log = finish(small_p, f"lib max_read={max_read}")
    ref, _ = finish(ref_p, "lib default max_read")
    assert_same(small, ref, f"max_read={max_read}", "default max_read",
                volatile_free=True)
    assert meta(small).get("max_read") == str(max_read), \
        f"fb_conn_info: {meta(small)}"
    sizes = read_sizes(log)
    assert sizes, "the server logged no READ requests"
    assert max(sizes) <= max_read, \
        f"READ sizes the server saw: {sorted(set(sizes))}"
    assert max_read in sizes, \
        f"no READ used the whole max_read: {sorted(set(sizes))}"


@pytest.mark.parametrize("cache", ["never", "always"])
def test_cache_modes(cache, trees, kernel_mount):
    """passthrough_ll with cache=never (entry/attr timeouts 0, direct_io)
    and cache=always (a day, keep_cache): the same walk as the kernel."""
    srv = make_server("passthrough_ll", trees, f"cache={cache}")
    need_server(srv.lib_argv[0])
    mnt = kernel_mount(srv.kernel_argv)
    lib, ref = run_all([
        (f"lib cache={cache}", start_lib(srv)),
        (f"kernel cache={cache}", start_native(mnt.path, srv.root))])
    assert_same(lib, ref, f"libfusebox/cache={cache}",
                f"kernel/cache={cache}", volatile_free=True)


def read_until_pause(proc, count=1):
    """Read fbdump --pause output up to its count-th "#pause" line."""
    got = []
    while count:
        line = proc.stdout.readline()
        if not line:
            proc.kill()
            err = proc.communicate()[1].decode(errors="replace")
            pytest.fail(f"fbdump ended before pausing:\n{err[-3000:]}")
        got.append(line)
        if line == b"#pause\n":
            count -= 1
    return b"".join(got).decode("utf-8", errors="backslashreplace")


def walks(text):
    """The walks of a --pause run after the first, by root, in order."""
    out = []
    for part in text.split("#walk ")[1:]:
        root, _, body = part.partition("\n")
        out.append((root, body))
    return out


def test_cache_never_sees_changes(tmp_path):
    """With timeouts 0 nothing may come from a cache: after the tree
    changed under the server, walks that reach each path by lookup alone
    (no listing of its directory first, which would refresh it) equal
    walks of the changed tree."""
    src = str(tmp_path / "live")
    os.makedirs(os.path.join(src, "d"))
    for n in ("a", "b", "d/c"):
        with open(os.path.join(src, n), "w") as f:
            f.write(n * 10)
    os.symlink("a", os.path.join(src, "l"))
    exe = server("passthrough_ll")
    need_server(exe)
    srv = Server("passthrough_ll", [exe, "-f", "-o",
                                    f"source={src},xattr,cache=never", "{}"],
                 None, "/", src)
    lib = start_lib(srv, pause=True)
    # Look everything up once, so a cache would have it all.
    lib.stdin.write(b"/a\n/b\n/d/c\n/l\n")
    lib.stdin.flush()
    read_until_pause(lib, 5)
    # Change what a cache could keep: content and size, a file that is
    # now a directory, a renamed entry, a retargeted link, a mode.
    with open(os.path.join(src, "a"), "w") as f:
        f.write("changed and longer")
    os.unlink(os.path.join(src, "b"))
    os.mkdir(os.path.join(src, "b"))
    os.rename(os.path.join(src, "d", "c"), os.path.join(src, "d", "e"))
    os.unlink(os.path.join(src, "l"))
    os.symlink("d/e", os.path.join(src, "l"))
    os.chmod(os.path.join(src, "d"), 0o700)
    roots = b"/a\n/b\n/d/c\n/d/e\n/l\n/\n"
    after, _ = finish(lib, "lib cache=never after the change", roots)
    ref = subprocess.run([FBDUMP, "--pause", "native", src], input=roots,
                         capture_output=True, timeout=TIMEOUT)
    assert ref.returncode == 0, ref.stderr.decode(errors="replace")
    got = walks(after)
    want = walks(ref.stdout.decode("utf-8", errors="backslashreplace"))
    assert [r for r, _ in got] == [r for r, _ in want]
    for (root, a), (_, b) in zip(got, want):
        assert_same(source_view(a, srv), source_view(b, srv),
                    f"libfusebox walk of {root} after the change",
                    f"the changed tree at {root}")


@pytest.mark.parametrize("name", SERVERS)
def test_unmount_ends_server(name, trees):
    """fb_unmount returns the server's waitpid() status, and the server
    ended by itself after DESTROY and the end of its channel, not by the
    SIGKILL fusebox keeps for servers that hang. (A libfuse server exits
    0 only when /dev/fuse says ENODEV, which a socket cannot say; after
    EOF it reports a failed loop, 1 or 8, and after SIGTERM too.)"""
    srv = make_server(name, trees)
    need_server(srv.lib_argv[0])
    # A leaf as the walk root keeps the walk short: this is about the end.
    leaf = "/hello" if name.startswith("hello") else \
        os.path.join(srv.root, "emptydir")
    text, err = finish(start_lib(srv, root=leaf), f"lib {name}")
    status = meta(text).get("unmount")
    assert status is not None, f"no #unmount line:\n{text[-1000:]}"
    status = int(status)
    assert status >= 0, f"fb_unmount failed: {status}"
    assert status & 0x7f == 0, (
        f"the server was killed by signal {status & 0x7f}; it said:\n"
        f"{err[-2000:]}")
