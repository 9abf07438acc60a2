"""Run as a program (not a test module): inotify's rules on DIR, printed
so that two runs - a kernel FUSE mount watched by the kernel's inotify,
and fusebox run - can be compared line by line. Uses ctypes for the
calls Python's os module lacks."""
import ctypes, errno, fcntl, os, select, struct, sys, termios
libc = ctypes.CDLL(None, use_errno=True)
IN = dict(ACCESS=1, MODIFY=2, ATTRIB=4, CLOSE_WRITE=8, CLOSE_NOWRITE=0x10,
          OPEN=0x20, MOVED_FROM=0x40, MOVED_TO=0x80, CREATE=0x100,
          DELETE=0x200, DELETE_SELF=0x400, MOVE_SELF=0x800, UNMOUNT=0x2000,
          Q_OVERFLOW=0x4000, IGNORED=0x8000, ISDIR=0x40000000)
ALL = 0xfff
ONLYDIR, DONT_FOLLOW, EXCL_UNLINK, MASK_CREATE, MASK_ADD, ONESHOT = (
    0x01000000, 0x02000000, 0x04000000, 0x10000000, 0x20000000, 0x80000000)
def call(name, *a):
    r = getattr(libc, name)(*a)
    return r if r >= 0 else "-" + errno.errorcode[ctypes.get_errno()]
def names(m):
    return "|".join(k for k, v in IN.items() if m & v) or hex(m)
d = sys.argv[1]
fd = call("inotify_init1", os.O_NONBLOCK)
labels = {}
def watch(path, mask, label):
    wd = call("inotify_add_watch", fd, path.encode(), ctypes.c_uint32(mask))
    if isinstance(wd, int):
        labels.setdefault(wd, label)
        return labels[wd]
    return wd
def drain(tag):
    out = []
    r, _, _ = select.select([fd], [], [], 0)
    n = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0\0\0\0"))[0]
    while True:
        try:
            b = os.read(fd, 65536)
        except BlockingIOError:
            break
        i = 0
        while i < len(b):
            wd, mask, cookie, ln = struct.unpack_from("iIII", b, i)
            name = b[i + 16:i + 16 + ln].rstrip(b"\0").decode()
            out.append("%s %s %s%s" % (labels.get(wd, wd), names(mask),
                                       name, " cookie" if cookie else ""))
            i += 16 + ln
    print(tag, "select=%s fionread>0=%s" % (bool(r), n > 0), out, flush=True)
print("root", watch(d, ALL, "root"))
os.mkdir(d + "/sub")
print("sub", watch(d + "/sub", ALL | ONLYDIR, "sub"))
print("onlydir on file", (open(d + "/f", "w").close(), watch(d + "/f", ALL | ONLYDIR, "x"))[1])
print("f", watch(d + "/f", ALL, "f"))
os.link(d + "/f", d + "/sub/hard")
print("hard link same wd", watch(d + "/sub/hard", IN["MODIFY"], "hard"))
print("mask_create", watch(d + "/f", ALL | MASK_CREATE, "y"))
print("add|create", watch(d + "/f", ALL | MASK_CREATE | MASK_ADD, "y"))
print("no events", watch(d + "/f", ONLYDIR, "y"))
print("missing", watch(d + "/nothing", ALL, "y"))
drain("setup")
with open(d + "/f", "a") as f:
    f.write("x")
drain("append")
os.chmod(d + "/f", 0o600)
os.utime(d + "/f", (1, 2))
drain("attrs")
os.rename(d + "/f", d + "/sub/g")
drain("rename")
print("oneshot", watch(d + "/sub/g", ALL | ONESHOT, "g1"))
os.truncate(d + "/sub/g", 0)
os.truncate(d + "/sub/g", 1)
drain("oneshot")
try:
    os.read(fd, 4)
except OSError as e:
    print("empty read", errno.errorcode[e.errno])
open(d + "/sub/long-name-for-a-small-buffer", "w").close()
try:
    os.read(fd, 20)
except OSError as e:
    print("small buffer", errno.errorcode[e.errno])
drain("after small buffer")
os.unlink(d + "/sub/g")
os.unlink(d + "/sub/hard")
drain("unlink both links")
print("rm_watch sub", call("inotify_rm_watch", fd, labels and [k for k, v in labels.items() if v == "sub"][0]))
print("rm_watch again", call("inotify_rm_watch", fd, [k for k, v in labels.items() if v == "sub"][0]))
drain("rm_watch")
os.unlink(d + "/sub/long-name-for-a-small-buffer")
os.rmdir(d + "/sub")
drain("rmdir")
for i in range(3):
    with open(d + "/c", "w") as f:
        f.write("y")
drain("coalesce")
os.unlink(d + "/c")
drain("end")
