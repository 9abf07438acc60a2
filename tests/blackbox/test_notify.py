"""Server notifications (INVAL_ENTRY with and without EXPIRE_ONLY,
INVAL_INODE, STORE and RETRIEVE) with libfuse's own examples: the same script runs on a kernel
FUSE mount (the oracle, as root) and under `fusebox run`, and each run must
show the effect the example's documentation describes.

The examples change their tree once a second (--update-interval=1) and
give long timeouts, so only a notification can make a change visible
before the timeout; with --no-notify the cached state must stay."""
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

# Mount (the server daemonizes), wait for it, run the body, unmount.
FRAME = r"""
set -u
M=$1; shift
"$@" "$M" || { echo "mount failed"; exit 1; }
i=0; while ! mountpoint -q "$M"; do
    i=$((i+1)); [ $i -gt 200 ] && { echo "never mounted"; exit 1; }
    sleep 0.05
done
%s
cd /
fusermount3 -u "$M"
"""

# The name of the only time-named file: stat works, then, once the server
# renamed it, stat by the old name must fail at once (notify) or still
# work from the entry cache (no notify, 30 s timeout).
# The example asserts that every notification succeeds, and Linux fails
# one for a name it has not cached (ENOENT), which kills the server: a
# background loop looks up each new name so that the kernel oracle lives.
ENTRY_BODY = r"""
( while :; do for n in $(ls "$M" 2>/dev/null); do stat "$M/$n" >/dev/null 2>&1; done; sleep 0.1; done ) &
looker=$!
f=$(ls "$M" | grep Time_is)
stat -c 'first %F' "$M/$f" 2>&1 | sed "s|$f|NAME|"
sleep 2.2
stat -c 'later %F' "$M/$f" 2>&1 | sed "s|$f|NAME|; s|$M|MNT|"
kill $looker; wait $looker 2>/dev/null
"""

# 'growing' gains one byte per update; its attributes never time out.
GROWING_BODY = r"""
a=$(stat -c %s "$M/growing"); sleep 2.2; b=$(stat -c %s "$M/growing")
[ "$b" -gt "$a" ] && echo "size grew" || echo "size stayed"
"""

# current_time's content changes each second; attributes never time out.
CONTENT_BODY = r"""
a=$(cat "$M/current_time"); sleep 2.2; b=$(cat "$M/current_time")
[ -n "$a" ] && [ "$a" != "$b" ] && echo "content changed" || echo "content same: $a / $b"
"""

# notify_store_retrieve pushes current_time's new content into the cache
# (STORE) each second and asks it back (RETRIEVE), asserting that the
# answer holds what it stored: a wrong or missing answer kills the server.
# Its open sets keep_cache, so without notifications the first content
# stays.
STORE_BODY = r"""
a=$(cat "$M/current_time"); sleep 2.2; b=$(cat "$M/current_time")
sleep 1.1; c=$(cat "$M/current_time")
[ -n "$a" ] && [ "$a" != "$b" ] && [ "$b" != "$c" ] && echo "content changed" || echo "content same"
stat -c %s "$M/current_time" >/dev/null 2>&1 && echo "server alive"
"""

CASES = {
    "store-notify": ("notify_store_retrieve", ["--update-interval=1"],
                     STORE_BODY, "content changed\nserver alive\n"),
    "store-no-notify": ("notify_store_retrieve",
                        ["--update-interval=1", "--no-notify"],
                        STORE_BODY, "content same\nserver alive\n"),
    "entry-notify": ("notify_inval_entry",
                     ["--update-interval=1", "--timeout=30"], ENTRY_BODY,
                     "first regular empty file\n"
                     "stat: cannot statx 'MNT/NAME': No such file or directory\n"),
    "entry-expire": ("notify_inval_entry",
                     ["--update-interval=1", "--timeout=30",
                      "--only-expire"], ENTRY_BODY,
                     "first regular empty file\n"
                     "stat: cannot statx 'MNT/NAME': No such file or directory\n"),
    "entry-no-notify": ("notify_inval_entry",
                        ["--update-interval=1", "--timeout=30",
                         "--no-notify"], ENTRY_BODY,
                        "first regular empty file\n"
                        "later regular empty file\n"),
    "path-growing-notify": ("invalidate_path", ["--update-interval=1"],
                            GROWING_BODY, "size grew\n"),
    "path-growing-no-notify": ("invalidate_path",
                               ["--update-interval=1", "--no-notify"],
                               GROWING_BODY, "size stayed\n"),
    "inode-content-notify": ("notify_inval_inode", ["--update-interval=1"],
                             CONTENT_BODY, "content changed\n"),
}


def run_case(sandboxed, name, opts, body):
    mnt = tempfile.mkdtemp(prefix="fbnotify-")
    script = FRAME % body
    argv = ["bash", "-c", script, "frame", mnt, server(name)] + opts
    if sandboxed:
        argv = [FUSEBOX, "run", "--"] + argv
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    finally:
        subprocess.run(["fusermount3", "-u", "-z", mnt],
                       stderr=subprocess.DEVNULL)
        shutil.rmtree(mnt, ignore_errors=True)
    return r


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("where", ["kernel", "fusebox"])
def test_notification_effect(case, where):
    name, opts, body, want = CASES[case]
    if where == "kernel":
        why = kernel_fuse_reason()
        if why:
            pytest.skip(why)
    r = run_case(where == "fusebox", name, opts, body)
    assert r.stdout == want, (
        f"{where} run of {name} {' '.join(opts)}: exit {r.returncode}\n"
        f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}")


# Beyond the kernel (docs/inotify.md): a server's INVAL_INODE reaches
# inotify as IN_MODIFY. notify_inval_inode changes current_time each
# second and says so; inotifywait waits for the change.
INOTIFY_BODY = r"""
cat "$M/current_time" > /dev/null
timeout 10 inotifywait -q -e modify -t 5 "$M/current_time" | sed "s|$M|MNT|"
echo "inotifywait=${PIPESTATUS[0]}"
"""


@pytest.mark.parametrize("where", ["kernel", "fusebox"])
def test_server_inval_inode_raises_in_modify(where):
    """Under fusebox run a watcher sees the server's change (IN_MODIFY);
    on the kernel's FUSE client it sees nothing (timeout, status 2)."""
    if not shutil.which("inotifywait"):
        pytest.skip("inotifywait is not installed (scripts/deps.sh)")
    if where == "kernel":
        why = kernel_fuse_reason()
        if why:
            pytest.skip(why)
    r = run_case(where == "fusebox", "notify_inval_inode",
                 ["--update-interval=1"], INOTIFY_BODY)
    want = ("MNT/current_time MODIFY \ninotifywait=0\n" if where == "fusebox"
            else "inotifywait=2\n")
    assert r.stdout == want, r.stdout + r.stderr
