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
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/kcmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U	/* Linux 6.3: executable even under
				 * vm.memfd_noexec=1 */
#endif

#define HEAD_SIZE 256		/* what Linux reads first: BINPRM_BUF_SIZE */
#define MAX_SCRIPTS 5		/* a sixth nested "#!" gives ELOOP */
#define COPY_CHUNK (1024 * 1024)

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

/* A file of a mount opened to be run. */
struct exec_file {
	struct sbx_mount *mnt;	/* referenced */
	struct vfs_file *f;
	char path[PATH_MAX];	/* absolute */
	char head[HEAD_SIZE];	/* zero-padded past the end of the file */
	struct sbx_exec_key key;
};

/* A "#!" line, parsed. */
struct shebang {
	char name[HEAD_SIZE];
	char arg[HEAD_SIZE];
	bool has_arg;
	size_t name_end;	/* where the line goes on after the name */
};

static bool debug(struct sbx_call *c)
{
	return c->sb->opts.debug;
}

static bool is_script(const char *head)
{
	return head[0] == '#' && head[1] == '!';
}

static bool is_elf(const char *head)
{
	return !memcmp(head, ELFMAG, SELFMAG);
}

/* Whether any process holds ino open for writing (Linux: ETXTBSY). */
static bool open_for_write(struct sbx *sb, struct vfs_inode *ino)
{
	bool busy = false;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_vfile *v = sb->vfiles; v && !busy; v = v->next)
		busy = v->f && !v->fifo && v->f->inode == ino &&
		       (v->f->flags & O_ACCMODE) != O_RDONLY;
	pthread_mutex_unlock(&sb->lock);
	return busy;
}

/* MAY_EXEC as Linux's FUSE asks it: the mode bits under
 * default_permissions (root needs one x bit); without it the server
 * decides nothing here, but a file with no x bit at all (asked again on
 * fresh attributes) does not run. */
static int may_exec(struct sbx_call *c, struct sbx_mount *mt,
		    struct vfs_inode *ino)
{
	struct vfs_mount *m = mt->fs->m;
	struct stat st;
	int err;

	if (m->default_permissions)
		return vfs_permission(m, sbx_who(c), ino, X_OK);
	err = vfs_getattr(m, sbx_who(c), ino, NULL, false, &st);
	if (!err && !(st.st_mode & 0111)) {
		err = vfs_getattr(m, sbx_who(c), ino, NULL, true, &st);
		if (!err && !(st.st_mode & 0111))
			err = -EACCES;
	}
	return err;
}

static void exec_close(struct sbx *sb, struct exec_file *x)
{
	if (x->f)
		vfs_file_put(x->f);
	if (x->mnt)
		sbx_mount_put(sb, x->mnt);
	x->f = NULL;
	x->mnt = NULL;
}

/* What a copy of the file open in x must match to be given again:
 * attributes as fresh as the mount's timeouts keep them. */
static int file_key(struct sbx_call *c, struct exec_file *x,
		    struct sbx_exec_key *k)
{
	struct stat st;
	int err = vfs_getattr(x->mnt->fs->m, sbx_who(c), x->f->inode, x->f,
			      false, &st);

	if (err)
		return err;
	memset(k, 0, sizeof(*k));
	k->mnt_id = x->mnt->id;
	k->nodeid = x->f->inode->nodeid;
	k->generation = x->f->inode->generation;
	k->size = (uint64_t)st.st_size;
	k->mtime = st.st_mtim.tv_sec;
	k->mtimensec = (uint32_t)st.st_mtim.tv_nsec;
	k->ctime = st.st_ctim.tv_sec;
	k->ctimensec = (uint32_t)st.st_ctim.tv_nsec;
	return 0;
}

/* Linux's do_open_execat and may_open, in their order, then the first
 * HEAD_SIZE bytes. */
static int exec_open(struct sbx_call *c, const struct sbx_target *t,
		     struct exec_file *x)
{
	struct vfs_inode *ino = t->ino;
	ssize_t n;
	int err;

	memset(x, 0, sizeof(*x));
	if (S_ISLNK(ino->type))
		return -ELOOP; /* AT_SYMLINK_NOFOLLOW */
	if (!S_ISREG(ino->type))
		return -EACCES;
	if (t->mnt->flags & MS_NOEXEC)
		return -EACCES;
	err = may_exec(c, t->mnt, ino);
	if (err)
		return err;
	if (open_for_write(c->sb, ino))
		return -ETXTBSY;
	err = vfs_open(t->mnt->fs->m, sbx_who(c), ino, O_RDONLY, &x->f);
	if (err)
		return err;
	x->mnt = t->mnt;
	sbx_mount_get(x->mnt);
	snprintf(x->path, sizeof(x->path), "%s", t->path);
	n = vfs_pread(x->f, sbx_who(c), x->head, sizeof(x->head), 0);
	if (n >= 0)
		n = file_key(c, x, &x->key);
	if (n < 0) {
		exec_close(c->sb, x);
		return (int)n;
	}
	return 0;
}

/* Open what path names, as the caller would, to be run: 1 with x
 * filled, 0 when it is not on a mount (the kernel's), or an error. */
static int exec_open_path(struct sbx_call *c, const char *path,
			  struct exec_file *x, struct sbx_target *t)
{
	int err = sbx_resolve(c, AT_FDCWD, path, SBX_FOLLOW, t);

	if (err)
		return err;
	if (t->where == SBX_NATIVE)
		return 0;
	err = exec_open(c, t, x);
	sbx_target_put(c->sb, t);
	return err ? err : 1;
}

/* A memfd holding first (if any), then the file from offset skip. */
static int copy_out(struct sbx_call *c, struct exec_file *x,
		    const char *first, off_t skip, int *out)
{
	const char *base = strrchr(x->path, '/');
	char *buf = malloc(COPY_CHUNK);
	off_t at = 0;
	int fd, err = 0;

	if (!buf)
		return -ENOMEM;
	base = base ? base + 1 : x->path;
	fd = memfd_create(base, MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_EXEC);
	if (fd < 0 && errno == EINVAL)
		fd = memfd_create(base, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		free(buf);
		return -errno;
	}
	if (first) {
		at = (off_t)strlen(first);
		if (pwrite(fd, first, (size_t)at, 0) != at)
			err = -errno;
	}
	while (!err) {
		ssize_t n = vfs_pread(x->f, sbx_who(c), buf, COPY_CHUNK, skip);

		if (n <= 0) {
			err = (int)n;
			break;
		}
		if (pwrite(fd, buf, (size_t)n, at) != n)
			err = -ENOMEM;
		skip += n;
		at += n;
	}
	free(buf);
	if (err) {
		close(fd);
		return err;
	}
	*out = fd;
	return 0;
}

/* The copy can no longer change: what the kernel runs is what was read. */
static int seal(int fd)
{
	return fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW |
					      F_SEAL_SHRINK | F_SEAL_SEAL) < 0
		       ? -errno
		       : 0;
}

/* Give the caller fd at its lowest free number: the number. */
static long install(struct sbx_call *c, int fd, bool cloexec)
{
	struct seccomp_notif_addfd a = {
		.id = c->n->id,
		.srcfd = (uint32_t)fd,
		.newfd_flags = cloexec ? O_CLOEXEC : 0,
	};
	int r = ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a);

	return r < 0 ? -errno : r;
}

/* Seal fd, remember it as a copy of x (to be given again: keep), hand
 * it to the caller; fd is closed. */
static long hand_over(struct sbx_call *c, int fd, const struct exec_file *x,
		      bool keep, bool cloexec)
{
	long n = seal(fd);

	if (!n) {
		sbx_exec_copy_add(fd, x->path, keep ? &x->key : NULL);
		n = install(c, fd, cloexec);
	}
	close(fd);
	return n;
}

/* PT_INTERP of the ELF image in fd: 1 with its offset, size and string,
 * 0 without one (or an image the kernel will judge), -ENOEXEC for one
 * Linux refuses. */
static int elf_interp(int fd, const char *head, off_t *off, size_t *size,
		      char *interp)
{
	uint64_t phoff;
	unsigned phnum, phsize;

	if (head[EI_DATA] != ELFDATA2LSB)
		return 0;
	if (head[EI_CLASS] == ELFCLASS64) {
		Elf64_Ehdr e;

		memcpy(&e, head, sizeof(e));
		phoff = e.e_phoff;
		phnum = e.e_phnum;
		phsize = e.e_phentsize;
		if (phsize != sizeof(Elf64_Phdr))
			return 0;
	} else if (head[EI_CLASS] == ELFCLASS32) {
		Elf32_Ehdr e;

		memcpy(&e, head, sizeof(e));
		phoff = e.e_phoff;
		phnum = e.e_phnum;
		phsize = e.e_phentsize;
		if (phsize != sizeof(Elf32_Phdr))
			return 0;
	} else {
		return 0;
	}
	for (unsigned i = 0; i < phnum; i++) {
		uint64_t type, poff, psize;

		if (head[EI_CLASS] == ELFCLASS64) {
			Elf64_Phdr p;

			if (pread(fd, &p, sizeof(p), (off_t)(phoff + i * phsize)) !=
			    sizeof(p))
				return 0;
			type = p.p_type;
			poff = p.p_offset;
			psize = p.p_filesz;
		} else {
			Elf32_Phdr p;

			if (pread(fd, &p, sizeof(p), (off_t)(phoff + i * phsize)) !=
			    sizeof(p))
				return 0;
			type = p.p_type;
			poff = p.p_offset;
			psize = p.p_filesz;
		}
		if (type != PT_INTERP)
			continue;
		if (psize > PATH_MAX || psize < 2 ||
		    pread(fd, interp, psize, (off_t)poff) != (ssize_t)psize ||
		    interp[psize - 1])
			return -ENOEXEC;
		*off = (off_t)poff;
		*size = psize;
		return 1;
	}
	return 0;
}

/* An ELF loader on a mount: its copy in the caller, and PT_INTERP of
 * the program's copy (fd) rewritten to name it: 1. 0: nothing to do. */
static int relink_interp(struct sbx_call *c, int fd, const char *head)
{
	char interp[PATH_MAX], name[32];
	struct exec_file ix;
	struct sbx_target t;
	size_t size;
	off_t off;
	int r, lfd;
	long n;

	r = elf_interp(fd, head, &off, &size, interp);
	if (r <= 0)
		return r;
	r = exec_open_path(c, interp, &ix, &t);
	if (r <= 0)
		return r; /* native: the kernel opens it */
	lfd = sbx_exec_copy_find(&ix.key);
	if (lfd >= 0) {
		n = install(c, lfd, true);
		close(lfd);
	} else {
		r = copy_out(c, &ix, NULL, 0, &lfd);
		n = r ? r : hand_over(c, lfd, &ix, true, true);
	}
	if (n >= 0 && (size_t)snprintf(name, sizeof(name), "/dev/fd/%ld", n) >=
			      size) {
		if (debug(c))
			fprintf(stderr, "fusebox: exec: PT_INTERP %s is too "
					"short to name its copy\n", ix.path);
		n = -ENOEXEC;
	}
	exec_close(c->sb, &ix);
	if (n < 0)
		return (int)n;
	memset(interp, 0, size);
	memcpy(interp, name, strlen(name));
	return pwrite(fd, interp, size, off) == (ssize_t)size ? 1 : -errno;
}

/* The ELF program x in the caller: the descriptor number. The copy is
 * the one made last time while the file is unchanged, unless its loader
 * now lies on a mount (then it needs a rewritten PT_INTERP). */
static long load_elf(struct sbx_call *c, struct exec_file *x)
{
	int fd = sbx_exec_copy_find(&x->key), err;

	if (fd >= 0) {
		char interp[PATH_MAX];
		struct sbx_target t;
		size_t size;
		off_t off;

		err = elf_interp(fd, x->head, &off, &size, interp);
		if (err == 1 && !sbx_resolve(c, AT_FDCWD, interp, SBX_FOLLOW,
					     &t)) {
			err = t.where == SBX_VIRTUAL;
			sbx_target_put(c->sb, &t);
		}
		if (err == 0) {
			long n = install(c, fd, true);

			close(fd);
			return n;
		}
		close(fd);
	}
	err = copy_out(c, x, NULL, 0, &fd);
	if (err)
		return err;
	err = relink_interp(c, fd, x->head);
	if (err < 0) {
		close(fd);
		return err;
	}
	/* A rewritten PT_INTERP names a descriptor of this caller only. */
	return hand_over(c, fd, x, err == 0, true);
}

#define BLANK(ch) ((ch) == ' ' || (ch) == '\t')

/*
 * The "#!" line as Linux's binfmt_script reads it, from the first
 * HEAD_SIZE bytes only. The line ends at the first newline; without one
 * it is taken to the end of the buffer less one byte, but only if the
 * name is followed by a blank or NUL somewhere in the buffer (else it
 * could be cut short: ENOEXEC). Trailing blanks go. The name is the
 * first word; the argument, if a blank follows the name, is everything
 * from the next non-blank to the end of the line (blanks included). A
 * NUL ends either.
 */
static int parse_shebang(const char *head, struct shebang *sh)
{
	const size_t last = HEAD_SIZE - 1;
	const char *nl = memchr(head, '\n', HEAD_SIZE);
	size_t end, name, sep, arg;

	memset(sh, 0, sizeof(*sh));
	if (nl) {
		end = (size_t)(nl - head);
	} else {
		size_t i = 2;

		while (i <= last && BLANK(head[i]))
			i++;
		while (i <= last && !BLANK(head[i]) && head[i])
			i++;
		if (i > last)
			return -ENOEXEC;
		end = last;
	}
	while (BLANK(head[end - 1])) /* head[1] is '!' */
		end--;
	for (name = 2; name < end && BLANK(head[name]); name++)
		;
	if (name >= end)
		return -ENOEXEC;
	for (sep = name; sep < end && !BLANK(head[sep]) && head[sep]; sep++)
		;
	memcpy(sh->name, head + name, sep - name);
	sh->name_end = sep;
	if (sep < end && BLANK(head[sep])) {
		/* Stops before end: head[end - 1] is no blank. */
		for (arg = sep; BLANK(head[arg]); arg++)
			;
		memcpy(sh->arg, head + arg, end - arg);
		sh->has_arg = true;
	}
	return 0;
}

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
	const char *pre[2 * MAX_SCRIPTS + 1]; /* before argv[1...] */
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
			if (debug(c))
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
static long load_script(struct sbx_call *c, struct exec_file *x, int depth)
{
	struct shebang sh;
	struct exec_file ix;
	struct sbx_target t;
	char first[32] = "";
	long n;
	int fd, r;

	r = parse_shebang(x->head, &sh);
	if (r)
		return r;
	r = exec_open_path(c, sh.name, &ix, &t);
	if (r < 0)
		return r;
	if (r == 1) {
		if (is_script(ix.head))
			n = depth + 1 < MAX_SCRIPTS ? load_script(c, &ix, depth + 1)
						    : -ELOOP;
		else if (is_elf(ix.head))
			n = load_elf(c, &ix);
		else
			n = -ENOEXEC;
		exec_close(c->sb, &ix);
		if (n < 0)
			return n;
		snprintf(first, sizeof(first), "#!/dev/fd/%ld", n);
	}
	r = copy_out(c, x, first[0] ? first : NULL,
		     first[0] ? (off_t)sh.name_end : 0, &fd);
	if (r)
		return r;
	return hand_over(c, fd, x, false, false);
}

/* A script run as binfmt_script leaves it: its interpreter, with
 * [interpreter, argument, script path] before argv[1...], each nested
 * script's the same way. */
static int plan_script(struct sbx_call *c, const struct exec_args *ea,
		       struct exec_file *x, struct shebang *sh,
		       struct exec_run *er)
{
	struct exec_file cur = *x, next;
	struct sbx_target t;
	int n = 0, r;

	er->fd = -1;
	for (;;) {
		r = parse_shebang(cur.head, &sh[n]);
		if (cur.f != x->f)
			exec_close(c->sb, &cur);
		if (r)
			return r;
		n++;
		r = exec_open_path(c, sh[n - 1].name, &next, &t);
		if (r < 0)
			return r;
		if (r == 0) {
			/* Native: the kernel opens it (and runs any further
			 * "#!" itself). */
			snprintf(er->path, sizeof(er->path), "%s",
				 t.rewrite ? t.path : sh[n - 1].name);
			break;
		}
		if (is_script(next.head) && n < MAX_SCRIPTS) {
			cur = next;
			continue;
		}
		er->fd = is_script(next.head) ? -ELOOP
			 : is_elf(next.head)  ? load_elf(c, &next)
					      : -ENOEXEC;
		exec_close(c->sb, &next);
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
		       struct exec_file *x, struct exec_run *er)
{
	struct shebang *sh;
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
	sh = calloc(MAX_SCRIPTS, sizeof(*sh));
	r = sh ? plan_script(c, ea, x, sh, er) : -ENOMEM;
	r = r ? sbx_trace_end(c, NULL, r) : run_as(c, ea, er, true);
	free(sh);
	return r;
}

static long run_virtual(struct sbx_call *c, const struct exec_args *ea,
			const struct sbx_target *t)
{
	struct exec_run *er = calloc(1, sizeof(*er));
	struct exec_file x;
	const char *base;
	long r;

	if (!er)
		return -ENOMEM;
	r = exec_open(c, t, &x);
	if (r) {
		free(er);
		return r;
	}
	/* Linux names the process after the path it was run by, or (for
	 * execveat of a descriptor) after the file. */
	base = strrchr(ea->path[0] ? ea->path : x.path, '/');
	er->name = base ? base + 1 : ea->path;
	if (is_script(x.head)) {
		r = run_script(c, ea, &x, er);
	} else if (is_elf(x.head)) {
		er->fd = load_elf(c, &x);
		r = er->fd < 0 ? er->fd : run_as(c, ea, er, false);
	} else {
		/* No binfmt_misc for files on a mount. */
		r = -ENOEXEC;
	}
	exec_close(c->sb, &x);
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
