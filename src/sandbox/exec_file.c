/*
 * exec_file.c - a file of a mount opened to be run (sys_exec.c): Linux's
 * checks before exec, the first bytes that say what it is (ELF, "#!"),
 * and its sealed memfd copy given to the caller - an ELF program's with
 * its loader's when PT_INTERP lies on a mount.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#include "sandbox/exec.h"

#ifndef MFD_EXEC
#define MFD_EXEC 0x0010U	/* Linux 6.3: executable even under
				 * vm.memfd_noexec=1 */
#endif

#define COPY_CHUNK (1024 * 1024)

bool sbx_exec_is_script(const char *head)
{
	return head[0] == '#' && head[1] == '!';
}

bool sbx_exec_is_elf(const char *head)
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

void sbx_exec_close(struct sbx *sb, struct sbx_exec_file *x)
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
static int file_key(struct sbx_call *c, struct sbx_exec_file *x,
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
 * SBX_EXEC_HEAD bytes. */
int sbx_exec_open(struct sbx_call *c, const struct sbx_target *t,
		  struct sbx_exec_file *x)
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
	err = vfs_open_exec(t->mnt->fs->m, sbx_who(c), ino, &x->f);
	if (err)
		return err;
	x->mnt = t->mnt;
	sbx_mount_get(x->mnt);
	snprintf(x->path, sizeof(x->path), "%s", t->path);
	n = vfs_pread(x->f, sbx_who(c), x->head, sizeof(x->head), 0);
	if (n >= 0)
		n = file_key(c, x, &x->key);
	if (n < 0) {
		sbx_exec_close(c->sb, x);
		return (int)n;
	}
	return 0;
}

int sbx_exec_open_path(struct sbx_call *c, const char *path,
		       struct sbx_exec_file *x, struct sbx_target *t)
{
	int err = sbx_resolve(c, AT_FDCWD, path, SBX_FOLLOW, t);

	if (err)
		return err;
	if (t->where == SBX_NATIVE)
		return 0;
	err = sbx_exec_open(c, t, x);
	sbx_target_put(c->sb, t);
	return err ? err : 1;
}

/* A memfd holding first (if any), then the file from offset skip. */
static int copy_out(struct sbx_call *c, struct sbx_exec_file *x,
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
static long hand_over(struct sbx_call *c, int fd,
		      const struct sbx_exec_file *x, bool keep, bool cloexec)
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
		off_t at = (off_t)(phoff + i * phsize);
		uint64_t type, poff, psize;

		if (head[EI_CLASS] == ELFCLASS64) {
			Elf64_Phdr p;

			if (pread(fd, &p, sizeof(p), at) != sizeof(p))
				return 0;
			type = p.p_type;
			poff = p.p_offset;
			psize = p.p_filesz;
		} else {
			Elf32_Phdr p;

			if (pread(fd, &p, sizeof(p), at) != sizeof(p))
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
	struct sbx_exec_file ix;
	struct sbx_target t;
	size_t size;
	off_t off;
	int r, lfd;
	long n;

	r = elf_interp(fd, head, &off, &size, interp);
	if (r <= 0)
		return r;
	r = sbx_exec_open_path(c, interp, &ix, &t);
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
		if (c->sb->opts.debug)
			fprintf(stderr, "fusebox: exec: PT_INTERP %s is too "
					"short to name its copy\n", ix.path);
		n = -ENOEXEC;
	}
	sbx_exec_close(c->sb, &ix);
	if (n < 0)
		return (int)n;
	memset(interp, 0, size);
	memcpy(interp, name, strlen(name));
	return pwrite(fd, interp, size, off) == (ssize_t)size ? 1 : -errno;
}

/* The ELF program x in the caller: the descriptor number. The copy is
 * the one made last time while the file is unchanged, unless its loader
 * now lies on a mount (then it needs a rewritten PT_INTERP). */
long sbx_exec_load_elf(struct sbx_call *c, struct sbx_exec_file *x)
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

long sbx_exec_load_copy(struct sbx_call *c, struct sbx_exec_file *x,
			const char *first, off_t skip)
{
	int fd, err = copy_out(c, x, first, skip, &fd);

	return err ? err : hand_over(c, fd, x, false, false);
}

#define BLANK(ch) ((ch) == ' ' || (ch) == '\t')

/*
 * The "#!" line as Linux's binfmt_script reads it, from the first
 * SBX_EXEC_HEAD bytes only. The line ends at the first newline; without one
 * it is taken to the end of the buffer less one byte, but only if the
 * name is followed by a blank or NUL somewhere in the buffer (else it
 * could be cut short: ENOEXEC). Trailing blanks go. The name is the
 * first word; the argument, if a blank follows the name, is everything
 * from the next non-blank to the end of the line (blanks included). A
 * NUL ends either.
 */
int sbx_exec_parse_shebang(const char *head, struct sbx_shebang *sh)
{
	const size_t last = SBX_EXEC_HEAD - 1;
	const char *nl = memchr(head, '\n', SBX_EXEC_HEAD);
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
