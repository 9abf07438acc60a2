/*
 * sys_exec.c - execve(2) and execveat(2) of programs that live on a
 * mount.
 *
 * The kernel cannot open such a file, so fusebox does what Linux's
 * do_open_execat would (a regular file, x permission, a mount without
 * noexec, not open for writing), copies the file into a sealed memfd
 * (exec_copies.c keeps the newest copies, given again while the file is
 * unchanged), gives the caller that memfd at its lowest free descriptor
 * N and makes the call run on it, by a path named after the program
 * (exec_links.c: DIR/SLOT/tool -> /proc/self/fd/N, so that the process
 * is called "tool", not "N"; "/dev/fd/N" if that cannot be made):
 *
 *  - in place: the caller's path string is overwritten (through
 *    /proc/TID/mem, which can write a read-only literal) when it is long
 *    enough, no argv or envp string shares its bytes and no parent
 *    shares the caller's memory (vfork, posix_spawn), and the call goes
 *    on (CONTINUE);
 *  - otherwise the call is run again with a path written below the
 *    caller's stack pointer, by ptrace (ptrace.c).
 *
 * An ELF program's memfd is close-on-exec (the kernel opens it before it
 * closes those); one whose PT_INTERP lies on a mount gets the loader's
 * copy too, its PT_INTERP rewritten to "/dev/fd/M". Shared libraries need
 * nothing here: ld.so opens and maps them with trapped calls.
 *
 * A "#!" script, when ptrace is available, is not copied: the call is run
 * again as Linux's binfmt_script leaves it - the interpreter, with argv
 * [interpreter, optional argument, script path, args...] - so $0 is the
 * script's path and the interpreter reads the script through the mount.
 * Scripts whose interpreter is a script are followed the same way, at
 * most MAX_SCRIPTS deep; the first interpreter that is an ELF program on
 * a mount is copied as above. Without ptrace, the script's copy runs
 * from "/dev/fd/N", kept open across exec so that its interpreter can
 * read it (as fexecve of a script), its first line naming the
 * interpreter's copy when that lives on a mount.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/exec.h"

/* The trapped call. */
struct exec_args {
	int dirfd;
	int flags;
	uint64_t path_addr, argv, envp;
	char path[PATH_MAX];
	/* The script path an interpreter gets (Linux's bprm->filename),
	 * and whether it dies with a close-on-exec dirfd. */
	char filename[PATH_MAX + 32];
	bool inaccessible;
};

/* Whether a string of the array at vec (argv or envp) shares a byte
 * with [addr, addr + len): overwriting the path would change it. */
static bool shares_bytes(struct sbx_call *c, uint64_t vec, uint64_t addr,
			 size_t len)
{
	for (size_t i = 0; vec; i += 64) {
		uint64_t p[64];
		size_t got = 64;

		if (sbx_read_mem(c, vec + i * 8, p, sizeof(p))) {
			got = 1; /* the array may end before a hole */
			if (sbx_read_mem(c, vec + i * 8, p, 8))
				return true;
		}
		for (size_t j = 0; j < got; j++) {
			char buf[256];
			uint64_t at = p[j];

			if (!p[j])
				return false;
			if (p[j] >= addr + len)
				continue;
			if (p[j] >= addr)
				return true;
			/* Starts before: does it end before addr? */
			while (at < addr) {
				size_t n = addr - at < sizeof(buf)
						   ? addr - at
						   : sizeof(buf);

				if (sbx_read_mem(c, at, buf, n))
					return true;
				if (memchr(buf, '\0', n))
					break;
				at += n;
			}
			if (at >= addr)
				return true;
		}
		if (i > (1u << 20))
			return true;
	}
	return false;
}

/* Whether the caller shares its memory with its parent - a vfork(2)
 * or posix_spawn(3) child, whose parent would find the rewritten string
 * when it resumes: 1, 0, or -1 when that cannot be told. */
static int shares_parent_mm(pid_t tid)
{
	char p[64], line[128];
	pid_t ppid = 0;
	FILE *f;
	long r;

	snprintf(p, sizeof(p), "/proc/%d/status", tid);
	f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &ppid) == 1)
			break;
	if (f)
		fclose(f);
	if (ppid <= 0)
		return -1;
	r = syscall(SYS_kcmp, tid, ppid, KCMP_VM, 0, 0);
	return r < 0 ? -1 : r == 0;
}

/* Overwrite the caller's path with path (through /proc/TID/mem, which
 * writes a read-only string as a debugger would): SBX_CONTINUE, or
 * -EAGAIN when that cannot be done, or should not: a string too short,
 * one an argv or envp string shares bytes with, or memory shared with a
 * parent that outlives the exec (last_resort: unless known to be). */
static long in_place(struct sbx_call *c, const struct exec_args *ea,
		     const char *path, bool last_resort)
{
	size_t need = strlen(path) + 1, have = strlen(ea->path) + 1;
	char mem[64];
	ssize_t n;
	int fd, shared;

	/* AT_SYMLINK_NOFOLLOW would refuse /proc's magic link. */
	if (have < need || (ea->flags & AT_SYMLINK_NOFOLLOW) ||
	    (shared = shares_parent_mm(c->tid)) == 1 ||
	    (shared < 0 && !last_resort) ||
	    shares_bytes(c, ea->argv, ea->path_addr, have) ||
	    shares_bytes(c, ea->envp, ea->path_addr, have))
		return -EAGAIN;
	snprintf(mem, sizeof(mem), "/proc/%d/mem", c->tid);
	fd = open(mem, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -EAGAIN;
	/* The caller still waits: fd is its memory, not a reused pid's. */
	if (!sbx_call_valid(c)) {
		close(fd);
		return -EINTR;
	}
	n = pwrite(fd, path, need, (off_t)ea->path_addr);
	close(fd);
	if (n != (ssize_t)need)
		return -EAGAIN;
	/* Gone meanwhile (a signal): it restarts on the new path, which
	 * is trapped again and let through. */
	return sbx_call_valid(c) ? SBX_CONTINUE : -EINTR;
}

/* What the kernel is to run instead. */
struct exec_run {
	long fd;		/* a copy given to the caller, or -1 */
	char path[PATH_MAX + 16]; /* else a native path */
	/* The process's name: run through a symlink of that name
	 * (exec_links.c). NULL when path goes to an interpreter as $0. */
	const char *name;
	const char *pre[2 * SBX_EXEC_MAX_SCRIPTS + 1]; /* before argv[1...] */
	size_t n_pre;
};

/* Whether the native file at path is a "#!" script (as far as fusebox
 * can tell): its interpreter would get the symlink as $0. */
static bool native_script(const char *path)
{
	char two[2] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return true;
	if (read(fd, two, 2) < 0)
		two[0] = '#', two[1] = '!';
	close(fd);
	return two[0] == '#' && two[1] == '!';
}

/* Make the call run what er says: in place when possible, else by
 * ptrace (traced: begun already). */
static long run_as(struct sbx_call *c, const struct exec_args *ea,
		   struct exec_run *er, bool traced)
{
	struct sbx_redirect rd = { .pre = er->pre, .n_pre = er->n_pre };
	char target[PATH_MAX + 16], link[PATH_MAX + 64];
	long r;
	int err;

	if (er->fd >= 0) {
		snprintf(er->path, sizeof(er->path), "/dev/fd/%ld", er->fd);
		snprintf(target, sizeof(target), "/proc/self/fd/%ld", er->fd);
	} else {
		snprintf(target, sizeof(target), "%s", er->path);
		if (er->path[0] != '/' || native_script(er->path))
			er->name = NULL;
	}
	rd.path = er->path;
	if (er->name && !sbx_exec_link(er->name, target, link, sizeof(link)))
		rd.path = link;
	if (!traced && !er->n_pre) {
		r = in_place(c, ea, rd.path, false);
		if (r != -EAGAIN)
			return r;
		err = sbx_trace_begin(c);
		if (err) {
			/* Without ptrace, in place after all: the symlink,
			 * else the shorter /dev/fd/N. */
			r = in_place(c, ea, rd.path, true);
			if (r == -EAGAIN && rd.path != er->path)
				r = in_place(c, ea, er->path, true);
			if (r != -EAGAIN)
				return r;
			/* Documented in docs/sandbox.md: EACCES, "this
			 * program cannot be run here". */
			if (c->sb->opts.debug)
				fprintf(stderr, "fusebox: exec %s: the path "
					"cannot be rewritten in place and "
					"ptrace is refused (%s): EACCES\n",
					ea->path, strerror(-err));
			return -EACCES;
		}
	}
	return sbx_trace_end(c, &rd, 0);
}

/* Without ptrace: the script x as a copy in the caller that stays open
 * across exec (its interpreter reads it by /dev/fd/N), its "#!" line
 * naming the interpreter's copy when that is on a mount. The number. */
static long load_script(struct sbx_call *c, struct sbx_exec_file *x, int depth)
{
	struct sbx_shebang sh;
	struct sbx_exec_file ix;
	struct sbx_target t;
	char first[32] = "";
	long n;
	int r;

	r = sbx_exec_parse_shebang(x->head, &sh);
	if (r)
		return r;
	r = sbx_exec_open_path(c, sh.name, &ix, &t);
	if (r < 0)
		return r;
	if (r == 1) {
		if (sbx_exec_is_script(ix.head))
			n = depth + 1 < SBX_EXEC_MAX_SCRIPTS
				    ? load_script(c, &ix, depth + 1)
				    : -ELOOP;
		else if (sbx_exec_is_elf(ix.head))
			n = sbx_exec_load_elf(c, &ix);
		else
			n = -ENOEXEC;
		sbx_exec_close(c->sb, &ix);
		if (n < 0)
			return n;
		snprintf(first, sizeof(first), "#!/dev/fd/%ld", n);
	}
	return sbx_exec_load_copy(c, x, first[0] ? first : NULL,
				  first[0] ? (off_t)sh.name_end : 0);
}

/* A script run as binfmt_script leaves it: its interpreter, with
 * [interpreter, argument, script path] before argv[1...], each nested
 * script's the same way. */
static int plan_script(struct sbx_call *c, const struct exec_args *ea,
		       struct sbx_exec_file *x, struct sbx_shebang *sh,
		       struct exec_run *er)
{
	struct sbx_exec_file cur = *x, next;
	struct sbx_target t;
	int n = 0, r;

	er->fd = -1;
	for (;;) {
		r = sbx_exec_parse_shebang(cur.head, &sh[n]);
		if (cur.f != x->f)
			sbx_exec_close(c->sb, &cur);
		if (r)
			return r;
		n++;
		r = sbx_exec_open_path(c, sh[n - 1].name, &next, &t);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Native: the kernel opens it (and runs any further
			 * "#!" itself). */
			snprintf(er->path, sizeof(er->path), "%s",
				 t.rewrite ? t.path : sh[n - 1].name);
			break;
		}
		if (sbx_exec_is_script(next.head) && n < SBX_EXEC_MAX_SCRIPTS) {
			cur = next;
			continue;
		}
		if (sbx_exec_is_script(next.head))
			er->fd = -ELOOP;
		else if (sbx_exec_is_elf(next.head))
			er->fd = sbx_exec_load_elf(c, &next);
		else
			er->fd = -ENOEXEC;
		sbx_exec_close(c->sb, &next);
		if (er->fd < 0)
			return (int)er->fd;
		break;
	}
	/* The innermost interpreter comes first. */
	for (int i = n - 1; i >= 0; i--) {
		er->pre[er->n_pre++] = sh[i].name;
		if (sh[i].has_arg)
			er->pre[er->n_pre++] = sh[i].arg;
	}
	er->pre[er->n_pre++] = ea->filename;
	return 0;
}

static long run_script(struct sbx_call *c, const struct exec_args *ea,
		       struct sbx_exec_file *x, struct exec_run *er)
{
	struct sbx_shebang *sh;
	long r;

	if (ea->inaccessible)
		return -ENOENT; /* as Linux: its interpreter could not
				 * open it */
	if (sbx_trace_begin(c) < 0) {
		/* $0 is /dev/fd/N: no symlink (exec_links.c). */
		er->fd = load_script(c, x, 0);
		er->name = NULL;
		return er->fd < 0 ? er->fd : run_as(c, ea, er, false);
	}
	sh = calloc(SBX_EXEC_MAX_SCRIPTS, sizeof(*sh));
	r = sh ? plan_script(c, ea, x, sh, er) : -ENOMEM;
	r = r ? sbx_trace_end(c, NULL, r) : run_as(c, ea, er, true);
	free(sh);
	return r;
}

static long run_virtual(struct sbx_call *c, const struct exec_args *ea,
			const struct sbx_target *t)
{
	struct exec_run *er = calloc(1, sizeof(*er));
	struct sbx_exec_file x;
	const char *base;
	long r;

	if (!er)
		return -ENOMEM;
	r = sbx_exec_open(c, t, &x);
	if (r) {
		free(er);
		return r;
	}
	/* Linux names the process after the path it was run by, or (for
	 * execveat of a descriptor) after the file. */
	base = strrchr(ea->path[0] ? ea->path : x.path, '/');
	er->name = base ? base + 1 : ea->path;
	if (sbx_exec_is_script(x.head)) {
		r = run_script(c, ea, &x, er);
	} else if (sbx_exec_is_elf(x.head)) {
		er->fd = sbx_exec_load_elf(c, &x);
		r = er->fd < 0 ? er->fd : run_as(c, ea, er, false);
	} else {
		/* No binfmt_misc for files on a mount. */
		r = -ENOEXEC;
	}
	sbx_exec_close(c->sb, &x);
	free(er);
	return r;
}

/* Whether the caller's fd is close-on-exec (/proc/TID/fdinfo). */
static bool fd_cloexec(pid_t tid, int fd)
{
	char p[64], line[128];
	unsigned flags = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", tid, fd);
	f = fopen(p, "re");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "flags: %o", &flags) == 1)
			break;
	if (f)
		fclose(f);
	return (flags & O_CLOEXEC) != 0;
}

long sbx_sys_execve(struct sbx_call *c, int dirfd, uint64_t addr, int flags)
{
	const __u64 *a = c->n->data.args;
	bool at = c->n->data.nr == __NR_execveat;
	struct exec_args *ea;
	struct sbx_target t;
	long r;

	if (flags & ~(AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW))
		return SBX_CONTINUE; /* EINVAL, from the kernel */
	ea = malloc(sizeof(*ea));
	if (!ea)
		return -ENOMEM;
	ea->dirfd = dirfd;
	ea->flags = flags;
	ea->path_addr = addr;
	ea->argv = at ? a[2] : a[1];
	ea->envp = at ? a[3] : a[2];
	if (sbx_read_str(c, addr, ea->path, sizeof(ea->path)) < 0) {
		free(ea);
		return SBX_CONTINUE; /* EFAULT, ENAMETOOLONG: the kernel's */
	}
	/* The call run again on one of our symlinks (exec_links.c): its
	 * target would resolve here, in the supervisor, to something else. */
	if (sbx_exec_link_is(ea->path)) {
		free(ea);
		return SBX_CONTINUE;
	}
	r = sbx_resolve(c, dirfd, ea->path, sbx_at_flags(flags), &t);
	if (r || t.where == SBX_NATIVE) {
		if (!r && t.rewrite) {
			/* A native file named relative to a directory in a
			 * mount: the kernel runs it by its absolute path. */
			struct exec_run er = { .fd = -1 };

			snprintf(er.path, sizeof(er.path), "%s", t.path);
			r = sbx_trace_begin(c) < 0 ? -EXDEV
						   : run_as(c, ea, &er, true);
		} else if (!r) {
			r = SBX_CONTINUE;
		}
		free(ea);
		return r;
	}
	ea->inaccessible = false;
	if (dirfd == AT_FDCWD || ea->path[0] == '/') {
		snprintf(ea->filename, sizeof(ea->filename), "%s", ea->path);
	} else {
		if (ea->path[0])
			snprintf(ea->filename, sizeof(ea->filename),
				 "/dev/fd/%d/%s", dirfd, ea->path);
		else
			snprintf(ea->filename, sizeof(ea->filename),
				 "/dev/fd/%d", dirfd);
		ea->inaccessible = fd_cloexec(c->tid, dirfd);
	}
	r = run_virtual(c, ea, &t);
	sbx_target_put(c->sb, &t);
	free(ea);
	return r;
}
