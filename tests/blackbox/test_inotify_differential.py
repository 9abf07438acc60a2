"""Seeded inotify differential: fb_inotify on a libfusebox mount against
the kernel's inotify on tmpfs, event by event.

build/tools/fbinotify (tests/tools/fbinotify.c) sets up watches (on a
directory, subdirectories and files; IN_ALL_EVENTS, subsets, IN_ONESHOT,
IN_EXCL_UNLINK, IN_MASK_ADD, IN_ONLYDIR, IN_MASK_CREATE) and runs random
sequences of calls - opens with O_CREAT and O_TRUNC, reads, writes,
truncates, chmod, chown, utimensat, xattrs, mkdir, rmdir, unlink, rename
across directories and over existing names, link, symlink, getdents,
rm_watch and add_watch again - printing every call and every event read
after it (watches by label, masks by name, cookies renumbered). Each
sequence is a pure function of its seed. It runs twice, on fresh empty
directories:

  - "fbinotify native DIR": system calls and the kernel's inotify on a
    tmpfs directory (the oracle);
  - "fbinotify lib -- SERVER ...": libfusebox and fb_inotify over a server
    serving another directory.

The outputs must be equal line for line. Servers: passthrough_ll (which
answers EINVAL to renameat2 flags and ENOSYS to fallocate: the generator
skips those calls on both sides) and fuse-overlayfs (which does
RENAME_NOREPLACE, RENAME_EXCHANGE and fallocate). fuse-overlayfs sends
NOTIFY_INVAL_INODE after some of its own changes; fusebox raises
IN_MODIFY or IN_ATTRIB for those, beyond Linux (whose FUSE client raises
nothing), so the server runs with them switched off (an LD_PRELOAD made
here with cc); without that the two differ exactly there. It also
refuses a few calls tmpfs does (EXDEV for RENAME_EXCHANGE with a file of
several links, ENOENT for fchmod of an unlinked FIFO): a seed that first
differs by such a call is set aside (named in the output; at most 1%, or
2).

FBINOTIFY_SEEDS=A:B (default 0:1000) and FBINOTIFY_OPS=N (default 40)
change the sequences run. A failure names the first seed that differs,
its first differing lines and the commands that replay it; both outputs
are kept in BUILD/differential/.
"""
import difflib
import os
import shlex
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, keep_outputs, run_parallel, server

FBINOTIFY = os.path.join(BUILD, "tools", "fbinotify")
TIMEOUT = 300

pytestmark = pytest.mark.skipif(not os.path.exists(FBINOTIFY),
                                reason=f"{FBINOTIFY} not built")

NOINVAL_C = r"""
#include <sys/types.h>
struct fuse_session;
int fuse_lowlevel_notify_inval_inode(struct fuse_session *se,
                                     unsigned long ino, off_t off, off_t len)
{
	(void)se; (void)ino; (void)off; (void)len;
	return 0;
}
"""


def seeds_and_ops():
    seeds = os.environ.get("FBINOTIFY_SEEDS", "0:1000")
    if ":" not in seeds:
        seeds = f"{seeds}:{int(seeds) + 1}"
    return seeds, os.environ.get("FBINOTIFY_OPS", "40")


@pytest.fixture
def tmpfs_dir():
    """A fresh directory on tmpfs (/dev/shm), where the kernel is the
    oracle; elsewhere a plain temporary directory (the kernel's inotify
    raises the same events on any local file system)."""
    base = None
    try:
        with open("/proc/self/mounts") as f:
            if any(l.split()[1:3] == ["/dev/shm", "tmpfs"] for l in f):
                base = "/dev/shm"
    except OSError:
        pass
    d = tempfile.mkdtemp(prefix="fbinotify-", dir=base)
    os.chmod(d, 0o755)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def noinval_preload(where):
    """Build the LD_PRELOAD that stops a libfuse 3 server's INVAL_INODE
    notifications; its path, or None without a C compiler."""
    cc = shutil.which(os.environ.get("CC", "cc")) or shutil.which("gcc")
    if not cc:
        return None
    src = os.path.join(where, "noinval.c")
    so = os.path.join(where, "noinval.so")
    with open(src, "w") as f:
        f.write(NOINVAL_C)
    r = subprocess.run([cc, "-shared", "-fPIC", "-O2", "-o", so, src],
                       capture_output=True, text=True)
    return so if r.returncode == 0 else None


def server_argv(name, base, preload=None):
    """(argv for fbinotify lib, extra fbinotify flags): server name over
    fresh directories under base."""
    if name == "passthrough_ll":
        src = os.path.join(base, "src")
        os.mkdir(src)
        return ([server(name), "-f", "-o", f"source={src},xattr", "{}"],
                ["--no-rename-flags", "--no-fallocate"])
    lo, up, wk = (os.path.join(base, d) for d in ("lo", "up", "wk"))
    for d in (lo, up, wk):
        os.mkdir(d)
    return (["env", f"LD_PRELOAD={preload}", "fuse-overlayfs", "-f", "-o",
             f"lowerdir={lo},upperdir={up},workdir={wk}", "{}"], [])


def run_both(runs):
    """Run (what, argv) pairs at once; their stdout texts."""
    return run_parallel(runs, TIMEOUT, "fbinotify")


def by_seed(lines):
    seeds = {}
    for x in lines:
        seeds.setdefault(x.split(" ", 1)[0], []).append(x)
    return seeds


def server_refused(mine, theirs):
    """Whether a seed first differs where fuse-overlayfs refused a call
    that tmpfs did (EXDEV for RENAME_EXCHANGE with a file of several
    links, ENOENT for fchmod of an unlinked FIFO): from there on the trees
    differ, whatever inotify does, and the seed is set aside."""
    i = next((i for i, (x, y) in enumerate(zip(mine, theirs)) if x != y),
             None)
    return (i is not None and " -> -E" in mine[i] and
            theirs[i].endswith(" -> 0") and
            mine[i].rsplit(" -> ", 1)[0] == theirs[i].rsplit(" -> ", 1)[0])


def assert_same(name, got, want, native_argv, lib_argv):
    __tracebackhide__ = True
    a, b = by_seed(got.splitlines()), by_seed(want.splitlines())
    aside = [s for s in b if a.get(s) != b[s] and
             name == "fuse-overlayfs" and server_refused(a.get(s, []), b[s])]
    if aside:
        print(f"{name}: seeds set aside (the server refused a call "
              f"tmpfs did): {' '.join(aside)}")
    bad = [s for s in dict.fromkeys(list(b) + list(a))
           if a.get(s) != b.get(s) and s not in aside]
    if not bad:
        assert len(aside) <= max(2, len(b) // 100), (
            f"{len(aside)} of {len(b)} seeds set aside: over 1%")
        return
    base = keep_outputs(f"inotify_{name}", got, want)
    seed = bad[0]
    mine, theirs = a.get(seed, []), b.get(seed, [])
    first = next((i for i, (x, y) in enumerate(zip(mine, theirs))
                  if x != y), min(len(mine), len(theirs)))
    diff = list(difflib.unified_diff(theirs, mine, "kernel inotify",
                                     f"fb_inotify/{name}", lineterm="",
                                     n=6))
    shown = "\n".join(diff[:80])
    more = f"\n... {len(diff) - 80} more lines" if len(diff) > 80 else ""

    def one(argv):
        argv = list(argv)
        i = argv.index("--seeds")
        argv[i + 1] = f"{seed}:{int(seed) + 1}"
        return shlex.join(argv)
    pytest.fail(
        f"fb_inotify over {name} differs from the kernel's inotify first "
        f"at seed {seed} (its line {first + 1}); {len(bad)} seeds differ: "
        f"{' '.join(bad[:20])}{' ...' if len(bad) > 20 else ''}\n"
        f"  kernel:  {theirs[first] if first < len(theirs) else '(end)'}\n"
        f"  fusebox: {mine[first] if first < len(mine) else '(end)'}\n"
        f"full outputs: {base}.got and {base}.want\n"
        f"reproduce on fresh empty directories (the server's too):\n"
        f"    {one(native_argv)} > want\n    {one(lib_argv)} > got\n"
        f"{shown}{more}")


@pytest.mark.parametrize("name", ["passthrough_ll", "fuse-overlayfs"])
def test_inotify_lib_vs_kernel(name, tmpfs_dir):
    preload = None
    if name == "fuse-overlayfs":
        if not shutil.which("fuse-overlayfs"):
            pytest.skip("fuse-overlayfs is not installed (scripts/deps.sh)")
        preload = noinval_preload(tmpfs_dir)
        if not preload:
            pytest.skip("no C compiler for the INVAL_INODE preload")
    elif not os.access(server(name), os.X_OK):
        pytest.skip(f"{server(name)} not built")
    seeds, ops = seeds_and_ops()
    nat, lib = (os.path.join(tmpfs_dir, d) for d in ("native", "lib"))
    os.mkdir(nat)
    os.mkdir(lib)
    sargv, flags = server_argv(name, lib, preload)
    native_argv = [FBINOTIFY] + flags + ["native", nat, "--seeds", seeds,
                                         "--ops", ops]
    lib_argv = [FBINOTIFY] + flags + ["lib", "--seeds", seeds, "--ops",
                                      ops, "--"] + sargv
    want, got = run_both([("native", native_argv), (f"lib {name}",
                                                     lib_argv)])
    assert " ev " in want, "fbinotify native saw no event"
    assert_same(name, got, want, native_argv, lib_argv)


def test_native_deterministic(tmpfs_dir):
    """Two native runs on two fresh directories print the same: else the
    generator (or the oracle) is not deterministic and no comparison
    means anything."""
    seeds = "0:50"
    outs = []
    for d in ("a", "b"):
        path = os.path.join(tmpfs_dir, d)
        os.mkdir(path)
        outs.append(run_both([(f"native {d}", [FBINOTIFY, "native", path,
                                               "--seeds", seeds])])[0])
    assert outs[0] == outs[1]
