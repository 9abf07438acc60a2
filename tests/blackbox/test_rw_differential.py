"""Seeded read-write differential: libfusebox against the kernel's FUSE
client, operation by operation.

build/tools/fbops (tests/tools/fbops.c) runs random sequences of file system
calls - opens with every flag combination, writes past EOF, truncates,
renames with flags, links, xattrs, utimensat, fallocate, copy_file_range,
OFD locks, flock, ... - each a pure function of its seed. For each server it
runs them twice, each time on a fresh empty source directory of its own:

  - "fbops native MOUNTPOINT": system calls on a kernel FUSE mount of the
    server (the oracle);
  - "fbops lib -- SERVER ...": through libfusebox on another instance.

Both print one canonical line per call and a dump of each seed's tree, so
the outputs must be equal line for line. A failure names the first seed
that differs, the commands that reproduce just that seed, and the diff
around it; both full outputs are kept in BUILD/differential/.

FBOPS_SEEDS=A:B (default 0:1000) and FBOPS_OPS=N (default 40) change the
sequences run for every server.

test_native_deterministic needs no kernel FUSE: two native runs on two
plain directories must be equal, or the generator itself is not
deterministic and no comparison means anything.
"""
import difflib
import os
import shlex

import pytest

from conftest import BUILD, keep_outputs, server, kernel_mount, run_parallel  # noqa: F401

FBOPS = os.path.join(BUILD, "tools", "fbops")
FUSEBOX = os.path.join(BUILD, "fusebox")
TIMEOUT = 120

pytestmark = pytest.mark.skipif(not os.path.exists(FBOPS),
                                reason=f"{FBOPS} not built")


def seeds_and_ops():
    seeds = os.environ.get("FBOPS_SEEDS", "0:1000")
    if ":" not in seeds:
        seeds = f"{seeds}:{int(seeds) + 1}"
    return seeds, os.environ.get("FBOPS_OPS", "40")


def server_argv(name, src, lib):
    """(argv, root): how to run server name over source directory src,
    under libfusebox (lib: "{}" is the mountpoint) or under the kernel
    (the mountpoint goes after argv), and where src is inside the file
    system it serves."""
    name, _, cache = name.partition("@")
    exe = server(name)
    if name == "passthrough_ll":
        opts = ["-o", f"source={src},xattr,flock" +
                (f",{cache}" if cache else "")]
        return ([exe, "-f"] + opts + ["{}"] if lib else [exe] + opts), "/"
    # passthrough and passthrough_fh serve the whole "/".
    return ([exe, "-f", "{}"] if lib else [exe]), src


def fbops_argv(mode, seeds, ops, root, where, extra=()):
    """where: the mountpoint (native) or the server's argv (lib)."""
    argv = [FBOPS, f"--root={root}", *extra, mode]
    if mode == "native":
        return argv + [where, "--seeds", seeds, "--ops", ops]
    return argv + ["--seeds", seeds, "--ops", ops, "--"] + list(where)


def fbops_extra(name):
    return ["--create-rdwr"] if name.endswith("@writeback") else []


def run_fbops(runs):
    """Run (what, argv) pairs at once; their stdout texts."""
    return run_parallel(runs, TIMEOUT, "fbops")


def repro(name, seed, ops):
    """Shell lines that run just one seed both ways."""
    q = shlex.join
    one = f"{seed}:{int(seed) + 1}"
    kargv, kroot = server_argv(name, "/tmp/fbops-r/k", lib=False)
    largv, lroot = server_argv(name, "/tmp/fbops-r/l", lib=True)
    return "\n".join([
        "    rm -rf /tmp/fbops-r; mkdir -p /tmp/fbops-r/k /tmp/fbops-r/l "
        "/tmp/fbops-r/m",
        f"    {q(kargv + ['/tmp/fbops-r/m'])}",
        f"    {q(fbops_argv('native', one, ops, kroot, '/tmp/fbops-r/m'))}"
        " > /tmp/fbops-r/want",
        "    fusermount3 -u /tmp/fbops-r/m",
        f"    {q(fbops_argv('lib', one, ops, lroot, largv))}"
        " > /tmp/fbops-r/got",
        "    diff -u /tmp/fbops-r/want /tmp/fbops-r/got"])


def assert_same(name, got, want, ops, who="libfusebox"):
    __tracebackhide__ = True  # the message says it all
    a, b = got.splitlines(), want.splitlines()
    if a == b:
        return
    base = keep_outputs(f"rw_{who.replace(' ', '_')}_{name}", got, want)
    first = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y),
                 min(len(a), len(b)))
    line = (b if first < len(b) else a)[first]
    seed = line.split(" ", 1)[0]
    # The diff of that seed's lines only: later seeds repeat its story.
    mine = [x for x in a if x.split(" ", 1)[0] == seed]
    theirs = [x for x in b if x.split(" ", 1)[0] == seed]
    diff = list(difflib.unified_diff(theirs, mine, f"kernel/{name}",
                                     f"{who}/{name}", lineterm="",
                                     n=4))
    shown = "\n".join(diff[:80])
    more = f"\n... {len(diff) - 80} more lines" if len(diff) > 80 else ""
    seeds_bad = sorted({x.split(" ", 1)[0] for x in
                        set(a).symmetric_difference(b)}, key=int)
    pytest.fail(
        f"{who}/{name} differs from kernel/{name} first at seed "
        f"{seed} (line {first + 1}); {len(seeds_bad)} seeds differ: "
        f"{' '.join(seeds_bad[:20])}{' ...' if len(seeds_bad) > 20 else ''}"
        f"\nfull outputs: {base}.got and {base}.want\n"
        + (f"reproduce seed {seed} (as root):\n{repro(name, seed, ops)}\n"
           if who == "libfusebox" else
           f"reproduce: the same fbops native line inside "
           f"`{FUSEBOX} run`, with --seeds {seed}:{int(seed) + 1}\n") +
        f"{shown}{more}")


@pytest.fixture
def umask022():
    """Servers inherit the umask: the kernel mount's from pytest, the lib
    one's from fbops (which sets 022). Make them equal."""
    old = os.umask(0o022)
    yield
    os.umask(old)


SERVERS = ["passthrough_ll", "passthrough_fh", "passthrough"]
# passthrough_ll's cache modes: never (DIRECT_IO, timeouts 0), always
# (KEEP_CACHE, day-long timeouts); the default one above is in between.
# writeback: the server takes FUSE_WRITEBACK_CACHE, so both clients keep
# written data in their page cache and write it back later. fbops runs
# with --create-rdwr there: libfuse 3.14's passthrough_ll keeps O_WRONLY
# and O_APPEND on the handle of a file it CREATEs (its OPEN drops them
# for writeback), which a writeback cannot use correctly on any client.
CACHE_MODES = ["passthrough_ll@cache=never", "passthrough_ll@cache=always",
               "passthrough_ll@writeback"]


@pytest.mark.parametrize("name", SERVERS + CACHE_MODES)
def test_rw_lib_vs_kernel(name, tmp_path, kernel_mount, umask022):
    exe = server(name.partition("@")[0])
    if not os.access(exe, os.X_OK):
        pytest.skip(f"{exe} not built")
    seeds, ops = seeds_and_ops()
    ksrc, lsrc = tmp_path / "kernel", tmp_path / "lib"
    ksrc.mkdir()
    lsrc.mkdir()
    kargv, kroot = server_argv(name, str(ksrc), lib=False)
    largv, lroot = server_argv(name, str(lsrc), lib=True)
    mnt = kernel_mount(kargv)
    x = fbops_extra(name)
    want, got = run_fbops([
        (f"native {name}", fbops_argv("native", seeds, ops, kroot,
                                      mnt.path, x)),
        (f"lib {name}", fbops_argv("lib", seeds, ops, lroot, largv, x))])
    assert want.strip(), "fbops native printed nothing"
    assert_same(name, got, want, ops)


@pytest.mark.parametrize("name", SERVERS + CACHE_MODES)
def test_rw_run_vs_kernel(name, tmp_path, kernel_mount, umask022):
    """The same sequences by the same unmodified fbops, system call by
    system call, inside `fusebox run` where the server mounts itself:
    the sandbox's write path against the kernel's client."""
    exe = server(name.partition("@")[0])
    if not os.access(exe, os.X_OK) or not os.access(FUSEBOX, os.X_OK):
        pytest.skip(f"{exe} or {FUSEBOX} not built")
    seeds, ops = seeds_and_ops()
    ksrc, rsrc = tmp_path / "kernel", tmp_path / "run"
    rmnt = tmp_path / "mnt"
    for d in (ksrc, rsrc, rmnt):
        d.mkdir()
    kargv, kroot = server_argv(name, str(ksrc), lib=False)
    rargv, rroot = server_argv(name, str(rsrc), lib=False)
    mnt = kernel_mount(kargv)
    x = fbops_extra(name)
    q = shlex.join
    script = (f"{q(rargv + [str(rmnt)])} || exit 99; "
              f"{q(fbops_argv('native', seeds, ops, rroot, str(rmnt), x))}; "
              f"rc=$?; cd /; fusermount3 -u {q([str(rmnt)])}; exit $rc")
    want, got = run_fbops([
        (f"native {name}", fbops_argv("native", seeds, ops, kroot,
                                      mnt.path, x)),
        (f"fusebox run {name}", [FUSEBOX, "run", "--", "sh", "-c",
                                 script])])
    assert want.strip(), "fbops native printed nothing"
    assert_same(name, got, want, ops, who="fusebox run")


def test_native_deterministic(tmp_path):
    """The generator: the same seeds on two plain directories print the
    same lines (a nondeterministic generator would make every comparison
    above meaningless)."""
    seeds, ops = seeds_and_ops()
    dirs = [tmp_path / "one", tmp_path / "two"]
    for d in dirs:
        d.mkdir()
    one, two = run_fbops([
        (f"native {d.name}", fbops_argv("native", seeds, ops, "/", str(d)))
        for d in dirs])
    assert one.count("\n") > int(ops), "fbops native printed too little"
    assert one == two, "\n".join(list(difflib.unified_diff(
        one.splitlines(), two.splitlines(), "one", "two", lineterm=""))[:60])
