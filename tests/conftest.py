"""Shared fixtures: where the build is, the test servers, and kernel FUSE
mounts of a server used as the oracle."""
import os
import shutil
import subprocess
import sys
import tempfile
import time
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BUILD = os.environ.get("FUSEBOX_BUILD", os.path.join(ROOT, "build"))
sys.path.insert(0, HERE)


def server(name):
    """Path of a test server built from libfuse's examples (or fbdemo)."""
    if name == "fbdemo":
        return os.path.join(BUILD, "fbdemo")
    return os.path.join(BUILD, "servers", name)


def keep_outputs(base, got, want):
    """Save two outputs a differential test compared, as BASE.got and
    BASE.want under BUILD/differential/ (or a temporary directory when
    that cannot be written), for a closer look; returns the path prefix."""
    for d in (os.path.join(BUILD, "differential"), None):
        try:
            d = d or tempfile.mkdtemp(prefix="fbdiff-out-")
            os.makedirs(d, exist_ok=True)
            path = os.path.join(d, base)
            for suffix, text in (("got", got), ("want", want)):
                with open(f"{path}.{suffix}", "w") as f:
                    f.write(text)
            return path
        except OSError:
            continue
    return "(nowhere: cannot write)"


def run_parallel(runs, timeout, tool):
    """Run (what, argv) pairs of a test tool at once; their stdout texts.
    A run that fails or outlives timeout fails the test with its stderr."""
    procs = [(what, subprocess.Popen(argv, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE,
                                     stdin=subprocess.DEVNULL))
             for what, argv in runs]
    outs = []
    for what, p in procs:
        try:
            out, err = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            for _, q in procs:
                q.kill()
            out, err = p.communicate()
            pytest.fail(f"{what}: {tool} timed out after {timeout}s\n"
                        f"{err.decode(errors='replace')[-3000:]}")
        text = out.decode("utf-8", errors="backslashreplace")
        assert p.returncode == 0, (
            f"{what}: {tool} exit {p.returncode}\n"
            f"{err.decode(errors='replace')[-3000:]}\n{text[-2000:]}")
        outs.append(text)
    return outs


def kernel_fuse_reason():
    """None if this machine can make kernel FUSE mounts, else why not."""
    if os.geteuid() != 0:
        return "kernel FUSE oracle needs root"
    if not os.path.exists("/dev/fuse"):
        return "kernel FUSE oracle needs /dev/fuse"
    try:
        fd = os.open("/dev/fuse", os.O_RDWR)
        os.close(fd)
    except OSError as e:
        return f"cannot open /dev/fuse: {e}"
    return None


def wait_mounted(path, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if os.path.ismount(path):
            return True
        time.sleep(0.02)
    return False


class KernelMount:
    """A server mounted through the kernel's FUSE client at self.path."""

    def __init__(self, argv_before_mnt, argv_after_mnt=()):
        self.path = tempfile.mkdtemp(prefix="fbk-")
        argv = list(argv_before_mnt) + [self.path] + list(argv_after_mnt)
        self.proc = subprocess.Popen(argv + ["-f"],
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        if not wait_mounted(self.path):
            self.proc.kill()
            err = self.proc.stderr.read().decode(errors="replace")
            raise RuntimeError(f"kernel mount of {argv} failed: {err}")

    def close(self):
        subprocess.run(["fusermount3", "-u", "-z", self.path],
                       stderr=subprocess.DEVNULL)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.rmdir(self.path)


@pytest.fixture
def kernel_mount():
    """Factory: kernel_mount([server, opts...]) -> KernelMount; skips the
    test with a clear message when kernel FUSE is not usable here."""
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    mounts = []

    def make(argv_before, argv_after=()):
        m = KernelMount(argv_before, argv_after)
        mounts.append(m)
        return m
    yield make
    for m in mounts:
        m.close()
