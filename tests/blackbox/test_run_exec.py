"""exec of programs that live on a mount, under `fusebox run`
(docs/sandbox.md, "exec"): the AppImage case, `squashfuse app.sqfs /m &&
/m/bin/tool`.

A tree built at test time (a static and a dynamic ELF program, the
dynamic one's own shared library beside it, found through
-rpath '$ORIGIN/../lib', an ELF program whose PT_INTERP is a copy of ld.so
on the mount, "#!" scripts whose interpreter is native, an ELF program on
the mount, or a script on the mount, a chain of nested scripts, files that
must not run) is served by squashfuse (from an image made by mksquashfs)
and by passthrough_ll, at one mountpoint path. One shell script runs the
programs every way a shell, bash, python and a PATH search run them, and
prints what they see - argv, exit status, /proc/self/exe and
/proc/self/comm, `readlink -f "$0"` - and the errno of those that fail.
It runs directly as root, where the server mounts through the kernel's
FUSE client (the oracle), and inside `fusebox run` as root and as the
unprivileged user fbtest: stdout and exit status must be equal.

fusebox alone: the fallbacks without ptrace (under strace, which holds
the ptrace slot), exec under a storm of caught signals, and one copy
shared by the processes of one program.
"""
import os
import pwd
import shutil
import signal
import subprocess
import shlex
import tempfile
import time

import pytest

from conftest import BUILD, kernel_fuse_reason, server

FUSEBOX = os.path.join(BUILD, "fusebox")
TIMEOUT = 120
USER = "fbtest"
ENV = dict(os.environ, LC_ALL="C")
ENV.pop("LANG", None)

pytestmark = pytest.mark.skipif(not os.path.exists(FUSEBOX),
                                reason=f"{FUSEBOX} is not built")

PROBE_C = r"""
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* What a program run from a mount sees; exits with argv[1] if a number.
 * "sleep": says "ready" on stdout, then sleeps. */
int main(int argc, char **argv)
{
	char exe[PATH_MAX] = "", comm[64] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f = fopen("/proc/self/comm", "r");

	if (n > 0)
		exe[n] = 0;
	if (f) {
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = 0;
		comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	if (argc > 1 && !strcmp(argv[1], "sleep")) {
		puts("ready");
		fflush(stdout);
		sleep(30);
		return 0;
	}
	printf("argc=%d", argc);
	for (int i = 0; i < argc; i++)
		printf(" [%s]", argv[i]);
	printf(" exe=%s comm=%s\n", exe, comm);
	return argc > 1 ? atoi(argv[1]) : 0;
}
"""

LIB_C = "int fbx_answer(void) { return 42; }\n"

# posix_spawn (glibc: a child sharing the parent's memory, CLONE_VM |
# CLONE_VFORK) of one path string twice: the string must be the same
# after (fusebox must not rewrite it where the parent reads it again).
SPAWN_C = r"""
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv)
{
	for (int i = 0; i < 2; i++) {
		char *av[] = { "spawned", "3", NULL };
		pid_t pid;
		int st, e = posix_spawn(&pid, argv[1], NULL, NULL, av, environ);

		if (e) {
			printf("posix_spawn: %s\n", strerror(e));
			return 1;
		}
		waitpid(pid, &st, 0);
		printf("rc %d\n", WEXITSTATUS(st));
		fflush(stdout);
	}
	printf("path after: %s\n", argv[1]);
	return 0;
}
"""

DYN_C = r"""
#include <limits.h>
#include <stdio.h>
#include <unistd.h>
int fbx_answer(void);
int main(int argc, char **argv)
{
	char exe[PATH_MAX] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n > 0)
		exe[n] = 0;
	printf("dynamic: answer=%d argv0=%s exe=%s\n", fbx_answer(), argv[0],
	       exe);
	return 3;
}
"""

SCRIPT = """#!/bin/sh
echo "script: \\$0=$0 \\$#=$# args=$* comm=$(cat /proc/$$/comm)"
readlink -f "$0"
exit 7
"""

# Nested scripts: c0 is run by /bin/sh, c<k> by c<k-1>. Linux runs five
# levels of "#!" (c4) and refuses a sixth (c5) with ELOOP.
CHAIN = 6

# Run a path with execv in a child: the errno if it fails, else status.
PROBE_PY = r"""
import errno, os, sys
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[1], sys.argv[1:])
    except OSError as e:
        print(sys.argv[1].rstrip("/").rsplit("/", 1)[-1],
              errno.errorcode[e.errno],
              flush=True)
        os._exit(127)
st = os.waitpid(pid, 0)[1]
if os.waitstatus_to_exitcode(st) != 127:
    print("status", os.waitstatus_to_exitcode(st))
"""

# execveat forms through ctypes: fexecve of a program and of a script
# opened on the mount (ENOENT: its descriptor is close-on-exec, Linux's
# BINPRM_FLAGS_PATH_INACCESSIBLE), and a name relative to a directory fd.
EXECVEAT_PY = r"""
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
NR_execveat, AT_EMPTY_PATH = 322, 0x1000
def run(dirfd, name, argv, flags):
    pid = os.fork()
    if pid == 0:
        av = (ctypes.c_char_p * (len(argv) + 1))(*argv, None)
        ev = (ctypes.c_char_p * 1)(None)
        libc.syscall(NR_execveat, dirfd, name, av, ev, flags)
        print(name.decode() or "fd", errno.errorcode[ctypes.get_errno()])
        sys.stdout.flush()
        os._exit(127)
    st = os.waitpid(pid, 0)[1]
    print("status", os.waitstatus_to_exitcode(st), flush=True)
b = sys.argv[1]
fd = os.open(b + "/static", os.O_RDONLY)
run(fd, b"", [b"fexec", b"11"], AT_EMPTY_PATH)
fd = os.open(b + "/script.sh", os.O_RDONLY)
run(fd, b"", [b"fexec"], AT_EMPTY_PATH)
d = os.open(b, os.O_RDONLY | os.O_DIRECTORY)
run(d, b"static", [b"at", b"12"], 0)
run(d, b"missing", [b"at"], 0)
run(d, b"static", [b"at"], 0x100)  # AT_SYMLINK_NOFOLLOW: a file, runs
"""


def compile_c(src, out, *flags):
    with tempfile.NamedTemporaryFile("w", suffix=".c", delete=False) as f:
        f.write(src)
    try:
        r = subprocess.run(["cc", "-O1", "-o", out, f.name, *flags],
                           capture_output=True, text=True)
    finally:
        os.unlink(f.name)
    if r.returncode != 0:
        pytest.fail(f"cc {' '.join(flags)} failed:\n{r.stderr}")


def write(path, text, mode=0o755):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


class World:
    """The tree, its squashfs image and the mountpoint (one path for
    every run, as the scripts and PT_INTERP name it)."""

    def __init__(self):
        if not shutil.which("cc"):
            pytest.skip("no C compiler (cc)")
        self.base = tempfile.mkdtemp(prefix="fbexec-", dir="/tmp")
        os.chmod(self.base, 0o755)
        self.mnt = os.path.join(self.base, "mnt")
        os.mkdir(self.mnt)
        os.chmod(self.mnt, 0o755)
        self.src = os.path.join(self.base, "src")
        b, lib = os.path.join(self.src, "bin"), os.path.join(self.src, "lib")
        os.makedirs(b)
        os.makedirs(lib)
        m = self.mnt
        compile_c(PROBE_C, os.path.join(b, "static"), "-static")
        compile_c(LIB_C, os.path.join(lib, "libfbx.so"), "-shared", "-fPIC")
        compile_c(DYN_C, os.path.join(b, "dynamic"), "-L" + lib, "-lfbx",
                  "-Wl,-rpath,$ORIGIN/../lib")
        ld = "/lib64/ld-linux-x86-64.so.2"
        self.ownld = os.path.exists(ld)
        if self.ownld:
            shutil.copyfile(ld, os.path.join(lib, "ld.so"))
            os.chmod(os.path.join(lib, "ld.so"), 0o755)
            compile_c(PROBE_C, os.path.join(b, "ownld"),
                      f"-Wl,--dynamic-linker={m}/lib/ld.so")
        self.spawn = os.path.join(self.base, "spawn2")
        compile_c(SPAWN_C, self.spawn)
        write(os.path.join(b, "script.sh"), SCRIPT)
        write(os.path.join(b, "script-arg"),
              '#!/bin/sh -eu\necho "script-arg: $0 $-"\n')
        write(os.path.join(b, "via-static"),
              f"#!{m}/bin/static  one two \nnot read by static\n")
        write(os.path.join(b, "via-script"), f"#!{m}/bin/script.sh\n")
        write(os.path.join(b, "c0"), '#!/bin/sh\necho "c0: $0 $*"\n')
        for k in range(1, CHAIN):
            write(os.path.join(b, f"c{k}"), f"#!{m}/bin/c{k - 1} a{k}\n")
        write(os.path.join(b, "text.txt"), "echo not executable\n", 0o644)
        write(os.path.join(b, "garbage"), "\x01\x02 no program here\n")
        write(os.path.join(b, "nointerp"), f"#!{m}/bin/missing\n")
        subprocess.run(["chmod", "-R", "a+rX", self.src], check=True)
        self._img = None
        try:
            pw = pwd.getpwnam(USER)
            os.chown(self.mnt, pw.pw_uid, pw.pw_gid)
        except (KeyError, PermissionError):
            pass

    def img(self):
        if self._img is None:
            if not shutil.which("mksquashfs"):
                pytest.skip("mksquashfs is not installed")
            self._img = os.path.join(self.base, "src.sqfs")
            subprocess.run(["mksquashfs", self.src, self._img, "-noappend",
                            "-quiet", "-no-progress"], check=True,
                           capture_output=True)
            os.chmod(self._img, 0o644)
        return self._img

    def mount_cmd(self, name, rw=False, extra=""):
        m = self.mnt
        if name == "squashfuse":
            if not shutil.which("squashfuse"):
                pytest.skip("squashfuse is not installed")
            return f"squashfuse -o {'rw' if rw else 'ro'}{extra} " \
                   f"{self.img()} {m}"
        exe = server(name)
        if not os.access(exe, os.X_OK):
            pytest.skip(f"{exe} is not built")
        src = getattr(self, "rw_src", self.src) if rw else self.src
        return f"{exe} -o {'rw' if rw else 'ro'},source={src}{extra} {m}"


@pytest.fixture(scope="module")
def world():
    w = World()
    yield w
    subprocess.run(["fusermount3", "-u", "-q", w.mnt], capture_output=True)
    shutil.rmtree(w.base, ignore_errors=True)


def script(w, mount, body):
    return f"""set -u
M={w.mnt}
{mount} || exit 90
i=0
until mountpoint -q "$M"; do
	i=$((i + 1)); [ $i -gt 400 ] && exit 91; sleep 0.05
done
probe() {{ python3 -c '{PROBE_PY}' "$@"; }}
SPAWN={w.spawn}
{body}
cd /
fusermount3 -u "$M"; echo "unmount $?"
"""


WORKLOAD = r"""
echo "== static"
"$M"/bin/static 5 a 'b c'; echo "rc=$?"
echo "== dynamic, its library on the mount"
"$M"/bin/dynamic x; echo "rc=$?"
echo "== ELF program whose PT_INTERP is on the mount"
[ -e "$M"/bin/ownld ] && { "$M"/bin/ownld 6; echo "rc=$?"; }
echo "== scripts"
"$M"/bin/script.sh q 'r s'; echo "rc=$?"
"$M"/bin/script-arg; echo "rc=$?"
"$M"/bin/via-static z; echo "rc=$?"
"$M"/bin/via-script w; echo "rc=$?"
"$M"/bin/c4 end; echo "rc=$?"
probe "$M"/bin/c5 end
probe "$M"/bin/nointerp
echo "== relative, from a cwd in the mount"
(cd "$M"/bin && ./static 2 rel; echo "rc=$?"; ./script.sh rel; echo "rc=$?"
 ../bin/dynamic; echo "rc=$?"; ./via-static; echo "rc=$?")
echo "== PATH search"
PATH="$M/bin:$PATH" static 4; echo "rc=$?"
PATH="$M/bin:$PATH" script.sh p; echo "rc=$?"
echo "== bash"
bash -c '"$0" 1 b; echo "rc=$?"; exec -a NAME "$0" 8' "$M"/bin/static
echo "rc=$?"
bash -c 'cd "$0" && ./static 9; echo "rc=$?"' "$M"/bin
echo "== posix_spawn"
"$SPAWN" "$M"/bin/static
"$SPAWN" "$M"/bin/script.sh
echo "== python"
python3 -c 'import subprocess, sys
for argv in ([sys.argv[1] + "/static", "9"], [sys.argv[1] + "/script.sh"]):
    print("rc", subprocess.run(argv).returncode, flush=True)' "$M"/bin
echo "== execveat"
python3 -c '__EXECVEAT__' "$M"/bin
echo "== /proc/PID/exe and comm of a running program"
"$M"/bin/static sleep > /tmp/fbexec-ready.$$ &
pid=$!
i=0; until [ -s /tmp/fbexec-ready.$$ ] || [ $i -gt 200 ]; do
	i=$((i + 1)); sleep 0.05; done
readlink /proc/$pid/exe; cat /proc/$pid/comm; readlink -f /proc/$pid/exe
kill $pid; wait $pid; rm -f /tmp/fbexec-ready.$$
echo "== errors"
probe "$M"/bin/text.txt
probe "$M"/bin
probe "$M"/bin/missing
probe "$M"/bin/garbage
probe "$M"/bin/static/
"$M"/bin/text.txt; echo "rc=$?"
"$M"/bin; echo "rc=$?"
"$M"/bin/missing; echo "rc=$?"
""".replace("__EXECVEAT__", EXECVEAT_PY)


class Result:
    def __init__(self, rc, out, err, timed_out=False):
        self.rc, self.out, self.err, self.timed_out = rc, out, err, timed_out


def run_argv(argv, env=ENV):
    """stdout and stderr into files (a server may keep pipes open), in
    its own session, killed on timeout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=err, env=env, start_new_session=True,
                             cwd="/")
        timed_out = False
        try:
            p.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        out.seek(0)
        err.seek(0)
        return Result(p.returncode, out.read().decode(errors="replace"),
                      err.read().decode(errors="replace"), timed_out)


def as_user(argv, user):
    if not user:
        return argv, ENV
    env = dict(ENV, USER=user, LOGNAME=user, HOME="/tmp")
    return ["setpriv", f"--reuid={user}", f"--regid={user}",
            "--init-groups"] + argv, env


def in_fusebox(text, user=None, wrap=()):
    argv, env = as_user([FUSEBOX, "run", "--", *wrap, "sh", "-c", text],
                        user)
    return run_argv(argv, env)


_kernel = {}


def on_kernel(text):
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    if text not in _kernel:
        r = run_argv(["sh", "-c", text])
        if r.rc != 0 or r.timed_out or "unmount 0" not in r.out:
            pytest.fail(f"the kernel run (oracle) failed: {r.rc}\n"
                        f"{r.out[-3000:]}\n{r.err[-3000:]}")
        _kernel[text] = r
    return _kernel[text]


def same(got, want, what):
    assert not got.timed_out, f"{what}: fusebox timed out\n{got.err[-2000:]}"
    if got.out == want.out and got.rc == want.rc:
        return
    import difflib
    diff = "\n".join(difflib.unified_diff(want.out.splitlines(),
                                          got.out.splitlines(), "kernel",
                                          "fusebox", lineterm=""))
    pytest.fail(f"{what}: fusebox differs from the kernel (exit "
                f"{got.rc} vs {want.rc})\n{diff}\n--- fusebox stderr\n"
                f"{got.err[-2000:]}")


def need_user():
    if os.geteuid() != 0:
        pytest.skip("switching to another user needs root")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        subprocess.run(["useradd", "--no-create-home", "--user-group",
                        "--shell", "/bin/sh", USER], check=True)


SERVERS = ["squashfuse", "passthrough_ll"]


@pytest.mark.parametrize("name", SERVERS)
def test_exec_matches_kernel(name, world):
    text = script(world, world.mount_cmd(name), WORKLOAD)
    want = on_kernel(text)
    assert "rc=5" in want.out and "answer=42" in want.out  # the oracle ran
    same(in_fusebox(text), want, f"{name} as root")


@pytest.mark.parametrize("name", SERVERS)
def test_exec_unprivileged_matches_kernel(name, world):
    need_user()
    text = script(world, world.mount_cmd(name), WORKLOAD)
    want = on_kernel(text)
    same(in_fusebox(text, user=USER), want, f"{name} as {USER}")


def test_noexec_mount(world):
    """-o noexec: EACCES before anything is read, as Linux."""
    body = 'probe "$M"/bin/static; grep -c noexec /proc/self/mountinfo'
    text = script(world, world.mount_cmd("squashfuse", extra=",noexec"),
                  body)
    want = on_kernel(text)
    assert "static EACCES" in want.out
    same(in_fusebox(text), want, "noexec")


RW_BODY = r"""
cp "$M"/bin/static "$M"/bin/new; echo "cp $?"
"$M"/bin/new 3; echo "rc=$?"
cp "$M"/bin/dynamic "$M"/bin/new; echo "cp $?"
"$M"/bin/new; echo "rc=$?"
exec 5>>"$M"/bin/new
probe "$M"/bin/new
exec 5>&-
chmod 644 "$M"/bin/new
probe "$M"/bin/new
rm "$M"/bin/new
"""


def test_rewritten_program_and_etxtbsy(world):
    """A program rewritten through the mount runs in its new version (the
    kept copy is not given again); one open for writing gives ETXTBSY; a
    mode without x bits, EACCES. passthrough_ll, read-write, on a fresh
    copy of the tree for each run."""
    def run_on(fn):
        world.rw_src = tempfile.mkdtemp(prefix="rw-", dir=world.base)
        shutil.copytree(world.src, world.rw_src, symlinks=True,
                        dirs_exist_ok=True)
        text = script(world, world.mount_cmd("passthrough_ll", rw=True),
                      RW_BODY)
        try:
            return fn(text)
        finally:
            shutil.rmtree(world.rw_src, ignore_errors=True)
            del world.rw_src
    want = run_on(on_kernel)
    assert "new ETXTBSY" in want.out and "answer=42" in want.out
    same(run_on(in_fusebox), want, "rewritten program")


def test_exec_native_from_cwd_in_mount(world):
    """A native program named relative to a cwd inside the mount (the
    kernel cannot walk ".." out of a mount it does not know): run by its
    absolute path."""
    native = os.path.join(world.base, "native-static")
    shutil.copyfile(os.path.join(world.src, "bin", "static"), native)
    os.chmod(native, 0o755)
    body = ('cd "$M"/bin && ../../native-static 4 n; echo "rc=$?"\n'
            'cd "$M" && probe ../no-such-program')
    text = script(world, world.mount_cmd("squashfuse"), body)
    want = on_kernel(text)
    assert "rc=4" in want.out
    same(in_fusebox(text), want, "native program from a cwd in the mount")


def test_without_ptrace(world):
    """Under strace (which holds the ptrace slot fusebox would take), the
    documented fallbacks: a path long enough is rewritten in place; a
    script runs from its copy as /dev/fd/N (readlink -f "$0" still gives
    its path); an interpreter on the mount is named by its copy; a short
    relative path cannot be rewritten: EACCES."""
    if not shutil.which("strace"):
        pytest.skip("strace is not installed")
    body = r"""
bash -c '"$0"/static 5 x; echo "rc=$?"' "$M"/bin
bash -c '"$0"/script.sh a; echo "rc=$?"' "$M"/bin
bash -c '"$0"/via-static; echo "rc=$?"' "$M"/bin
bash -c 'cd "$0" && ./static; echo "rc=$?"' "$M"/bin
"""
    text = script(world, world.mount_cmd("squashfuse"), body)
    r = in_fusebox(text, wrap=("strace", "-f", "-qq", "-o", "/dev/null"))
    assert r.rc == 0, r.err
    m = world.mnt
    lines = r.out.splitlines()
    assert f"argc=3 [{m}/bin/static] [5] [x] exe={m}/bin/static" \
        in "\n".join(lines), r.out
    assert "rc=5" in lines
    script_line = [ln for ln in lines if ln.startswith("script: ")]
    assert script_line and script_line[0].startswith("script: $0=/dev/fd/")
    assert f"{m}/bin/script.sh" in lines and "rc=7" in lines
    via = [ln for ln in lines if "exe=" in ln and "[one two]" in ln]
    assert via and via[0].startswith("argc=3 [/dev/fd/"), r.out
    assert "Permission denied" in r.err and "rc=126" in lines, r.out


STORM_C = r"""
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void nothing(int sig) { (void)sig; }

/* execstorm DIR NAME RUNS: each run forks a child that catches SIGCHLD
 * (SA_RESTART: a signal in the microseconds before the supervisor takes
 * a trapped call ends it by seccomp's rule, EINTR without it; see
 * docs/sandbox.md) and runs ./NAME from DIR - a short path, rerun by
 * ptrace - while the parent sends it SIGCHLD without pause. The program
 * must run every time. */
int main(int argc, char **argv)
{
	int runs = atoi(argv[3]), bad = 0;

	for (int i = 0; i < runs; i++) {
		int p[2], st;
		char c;
		pid_t pid;

		if (pipe(p))
			return 2;
		pid = fork();
		if (pid == 0) {
			struct sigaction sa;
			char rel[300];

			memset(&sa, 0, sizeof(sa));
			sa.sa_handler = nothing;
			sa.sa_flags = SA_RESTART;
			sigaction(SIGCHLD, &sa, NULL);
			if (chdir(argv[1]))
				_exit(3);
			snprintf(rel, sizeof(rel), "./%s", argv[2]);
			close(p[0]);
			if (write(p[1], "x", 1) != 1)
				_exit(4);
			execl(rel, rel, "3", (char *)NULL);
			dprintf(2, "exec: %s\n", strerror(errno));
			_exit(5);
		}
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			return 6;
		close(p[0]);
		while (waitpid(pid, &st, WNOHANG) == 0)
			kill(pid, SIGCHLD);
		if (!WIFEXITED(st) || WEXITSTATUS(st) != 3) {
			dprintf(2, "run %d: status %#x\n", i, st);
			bad++;
		}
	}
	printf("%d runs, %d bad\n", runs, bad);
	return bad != 0;
}
"""


def test_exec_under_signal_storm(world):
    """A caught signal arriving all the time while a short path is rerun
    by ptrace (a stop that finds one pending lets the call restart as it
    was, to be trapped anew after the handler): the program still runs,
    every time, as on Linux."""
    tool = os.path.join(world.base, "execstorm")
    if not os.path.exists(tool):
        compile_c(STORM_C, tool)
    body = f'{tool} "$M"/bin static 40; echo "storm $?"'
    r = in_fusebox(script(world, world.mount_cmd("squashfuse"), body))
    assert "40 runs, 0 bad" in r.out and "storm 0" in r.out, \
        r.out + r.err[-2000:]


def test_one_copy_per_program(world):
    """Processes of one unchanged program run one copy (they share its
    pages, as on Linux): /proc/PID/exe of two of them, started one after
    the other, is one inode."""
    body = r"""
"$M"/bin/static sleep > /tmp/fbexec-1.$$ & a=$!
i=0; until [ -s /tmp/fbexec-1.$$ ] || [ $i -gt 200 ]; do
	i=$((i + 1)); sleep 0.05; done
"$M"/bin/static sleep > /tmp/fbexec-2.$$ & b=$!
i=0; until [ -s /tmp/fbexec-2.$$ ] || [ $i -gt 200 ]; do
	i=$((i + 1)); sleep 0.05; done
[ "$(stat -L -c %i /proc/$a/exe)" = "$(stat -L -c %i /proc/$b/exe)" ]
echo "same copy $?"
kill $a $b; wait; rm -f /tmp/fbexec-[12].$$
"""
    r = in_fusebox(script(world, world.mount_cmd("squashfuse"), body))
    assert "same copy 0" in r.out, r.out + r.err[-2000:]


def test_exec_only_program():
    """A program with mode 0711 (no read for others) on a mount served by
    root's passthrough_ll with default_permissions: another user may run
    it but not read it, as on the kernel (Linux's exec asks MAY_EXEC,
    not MAY_READ)."""
    why = kernel_fuse_reason()
    if why:
        pytest.skip(why)
    if not os.access(server("passthrough_ll"), os.X_OK):
        pytest.skip("passthrough_ll not built")
    try:
        pwd.getpwnam(USER)
    except KeyError:
        pytest.skip(f"user {USER} does not exist")
    # Not under pytest's own (0700) directory: the user must reach it.
    base = tempfile.mkdtemp(prefix="fbx-xonly-")
    os.chmod(base, 0o755)
    src, mnt = os.path.join(base, "src"), os.path.join(base, "mnt")
    os.mkdir(src, 0o755)
    os.mkdir(mnt)
    shutil.copy("/bin/echo", os.path.join(src, "prog"))
    os.chmod(os.path.join(src, "prog"), 0o711)
    q = shlex.quote
    body = (f"{q(server('passthrough_ll'))} -o source={q(src)},"
            f"default_permissions,allow_other {q(mnt)} || exit 90\n"
            f"runuser -u {USER} -- {q(mnt)}/prog ran; echo exec $?\n"
            f"runuser -u {USER} -- cat {q(mnt)}/prog >/dev/null "
            f"2>&1; echo read $?\n"
            f"fusermount3 -u {q(mnt)}\n")
    try:
        want = subprocess.run(["sh", "-c", body], capture_output=True,
                              text=True, timeout=TIMEOUT, env=ENV)
        got = subprocess.run([FUSEBOX, "run", "--", "sh", "-c", body],
                             capture_output=True, text=True,
                             timeout=TIMEOUT, env=ENV)
    finally:
        subprocess.run(["fusermount3", "-u", "-q", mnt],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    assert want.stdout == "ran\nexec 0\nread 1\n", want.stderr
    assert (got.returncode, got.stdout) == (want.returncode, want.stdout), \
        got.stderr[-3000:]
