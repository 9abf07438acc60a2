/*
 * sys_path.c - syscalls that name a path. Each resolves the path; a
 * native result goes back to the kernel (CONTINUE) and a node of a mount
 * is served by the VFS with the caller's ids.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "sandbox/mountinfo.h"
#include "sandbox/sandbox.h"

#define XATTR_MAX (64 * 1024)
/* statfs's f_flags says its flags are valid (Linux's internal ST_VALID). */
#define SBX_ST_VALID 0x0020

/* Read a path argument. A bad pointer or an overlong path is the
 * kernel's to report: SBX_CONTINUE. */
static long path_arg(struct sbx_call *c, uint64_t addr, char *buf)
{
	return sbx_read_str(c, addr, buf, PATH_MAX) < 0 ? SBX_CONTINUE : 0;
}

/* open(2) with O_CREAT of a name that is not there (or is a dangling
 * symlink): made in the directory that holds it when that is in a mount;
 * EROFS there on a read-only mount. SBX_CONTINUE when the directory is
 * native. */
static long open_create(struct sbx_call *c, int dirfd, const char *path,
			int flags, mode_t mode, struct vfs_file **f,
			struct sbx_target *where)
{
	char copy[PATH_MAX], *slash;
	const char *last = path, *parent = ".";
	long err;

	snprintf(copy, sizeof(copy), "%s", path);
	/* The last name keeps a trailing slash (EISDIR from the VFS). */
	for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = '\0';
	slash = strrchr(copy, '/');
	if (slash) {
		last = path + (slash - copy) + 1;
		*slash = '\0';
		parent = copy[0] ? copy : "/";
	}
	err = sbx_resolve(c, dirfd, parent, SBX_FOLLOW, where);
	if (err)
		return err;
	if (where->where == SBX_NATIVE)
		return where->rewrite ? -EXDEV : SBX_CONTINUE;
	if (!S_ISDIR(where->ino->type))
		err = -ENOTDIR;
	else
		err = vfs_open_create(where->mnt->fs->m, sbx_who_umask(c),
				      where->ino, last,
				      flags & ~(O_NOCTTY | O_CLOEXEC), mode, f);
	if (err) {
		sbx_target_put(c->sb, where);
		return err;
	}
	/* The new file's path, for /proc/PID/fd/N (cut if too long). */
	{
		size_t n = strlen(where->path);

		if (n > 1 && n + 1 < sizeof(where->path))
			where->path[n++] = '/';
		snprintf(where->path + n, sizeof(where->path) - n, "%.*s",
			 (int)(sizeof(where->path) - n - 1), last);
	}
	return 0;
}

/* /proc/PID/mountinfo, /proc/PID/mounts and their aliases. */
static int mounts_file(const char *p, pid_t tid, bool *info, pid_t *pid)
{
	const char *q;
	char *end;

	*pid = tid;
	if (!strcmp(p, "/proc/mounts") || !strcmp(p, "/etc/mtab")) {
		*info = false;
		return 1;
	}
	if (strncmp(p, "/proc/", 6))
		return 0;
	q = p + 6;
	if (!strncmp(q, "self/", 5)) {
		q += 5;
	} else if (!strncmp(q, "thread-self/", 12)) {
		q += 12;
	} else {
		long n = strtol(q, &end, 10);

		if (end == q || *end != '/')
			return 0;
		*pid = (pid_t)n;
		q = end + 1;
		if (!strncmp(q, "task/", 5)) {
			n = strtol(q + 5, &end, 10);
			if (*end != '/')
				return 0;
			q = end + 1;
		}
	}
	if (!strcmp(q, "mountinfo")) {
		*info = true;
		return 1;
	}
	if (!strcmp(q, "mounts")) {
		*info = false;
		return 1;
	}
	return 0;
}

static long serve_mounts(struct sbx_call *c, bool info, pid_t pid, int flags)
{
	struct sbx *sb = c->sb;
	struct sbx_mount_desc d[64];
	char src[PATH_MAX], host_path[64], opts[64][256];
	char *host = NULL, *out;
	size_t host_len = 0, cap = 0, len;
	int n = 0, fd;
	long r;

	snprintf(host_path, sizeof(host_path), "/proc/%d/%s", pid,
		 info ? "mountinfo" : "mounts");
	fd = open(host_path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t k;

		if (host_len + 4096 > cap) {
			char *nh = realloc(host, cap = cap * 2 + 65536);

			if (!nh) {
				free(host);
				close(fd);
				return -ENOMEM;
			}
			host = nh;
		}
		k = read(fd, host + host_len, cap - host_len - 1);
		if (k <= 0)
			break;
		host_len += (size_t)k;
	}
	close(fd);
	(void)src;
	pthread_mutex_lock(&sb->lock);
	/* The table lists the newest first; the file lists the oldest. */
	for (struct sbx_mount *mt = sb->mounts; mt && n < 64; mt = mt->next)
		n++;
	{
		int i = n;

		for (struct sbx_mount *mt = sb->mounts; mt && i > 0;
		     mt = mt->next) {
			struct sbx_mount_desc *e = &d[--i];

			e->mnt_id = mt->id;
			e->major = major(mt->fs->m->dev);
			e->minor = minor(mt->fs->m->dev);
			e->mountpoint = mt->path;
			e->source = mt->opts.source;
			e->fstype = mt->fstype;
			e->flags = mt->flags;
			e->sb_flags = mt->opts.sb_flags;
			sbx_fuse_opts_show(&mt->opts, opts[i], sizeof(opts[i]));
			e->super_opts = opts[i];
		}
	}
	out = info ? sbx_mountinfo_render(host ? host : "", host_len, d,
					  (size_t)n, &len)
		   : sbx_mounts_render(host ? host : "", host_len, d,
				       (size_t)n, &len);
	pthread_mutex_unlock(&sb->lock);
	free(host);
	if (!out)
		return -ENOMEM;
	r = sbx_serve_text(c, info ? "mountinfo" : "mounts", out, len, flags);
	free(out);
	return r;
}

long sbx_serve_text(struct sbx_call *c, const char *name, const char *text,
		    size_t len, int flags)
{
	struct sbx *sb = c->sb;
	int fd = memfd_create(name, MFD_CLOEXEC);
	long r;

	if (fd < 0 || write(fd, text, len) != (ssize_t)len ||
	    lseek(fd, 0, SEEK_SET) < 0) {
		if (fd >= 0)
			close(fd);
		return -ENOMEM;
	}
	{
		/* Read-only, as the real file. */
		char p[64];
		int ro;

		snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
		ro = open(p, O_RDONLY | O_CLOEXEC);
		close(fd);
		if (ro < 0)
			return -errno;
		fd = ro;
	}
	{
		struct seccomp_notif_addfd a = {
			.id = c->n->id,
			.flags = SECCOMP_ADDFD_FLAG_SEND,
			.srcfd = (uint32_t)fd,
			.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0,
		};

		r = ioctl(sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0
			    ? -errno
			    : SBX_SENT;
	}
	close(fd);
	return r;
}

/* A native path reached from inside a mount: we open it for the caller
 * (the kernel cannot resolve the caller's relative path the same way). */
static long open_native(struct sbx_call *c, const char *path, int flags,
			mode_t mode)
{
	struct seccomp_notif_addfd a = { .id = c->n->id,
					 .flags = SECCOMP_ADDFD_FLAG_SEND };
	int fd = open(path, flags | O_CLOEXEC, mode);
	long r;

	if (fd < 0)
		return -errno;
	a.srcfd = (uint32_t)fd;
	a.newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0;
	r = ioctl(c->sb->listener, SECCOMP_IOCTL_NOTIF_ADDFD, &a) < 0 ? -errno
								     : SBX_SENT;
	close(fd);
	return r;
}

long sbx_sys_open(struct sbx_call *c, int dirfd, uint64_t addr, int flags)
{
	const __u64 *a = c->n->data.args;
	mode_t mode = 0;
	char path[PATH_MAX];
	struct sbx_target t;
	struct vfs_file *f;
	bool info;
	pid_t pid;
	long err;
	int rflags = SBX_FOLLOW;

	if ((flags & O_CREAT) && (flags & O_DIRECTORY) &&
	    c->sb->creat_dir_einval)
		return -EINVAL;
	if (path_arg(c, addr, path))
		return SBX_CONTINUE;
	if (c->n->data.nr == __NR_openat)
		mode = (mode_t)a[3];
	else if (c->n->data.nr == __NR_open || c->n->data.nr == __NR_creat)
		mode = (mode_t)a[c->n->data.nr == __NR_open ? 2 : 1];
	if (!strcmp(path, "/dev/fuse"))
		return sbx_dev_open(c, flags);
	if (__atomic_load_n(&c->sb->n_mounts, __ATOMIC_RELAXED) &&
	    mounts_file(path, c->tid, &info, &pid) &&
	    (flags & O_ACCMODE) == O_RDONLY)
		return serve_mounts(c, info, pid, flags);
	if (__atomic_load_n(&c->sb->inotifies, __ATOMIC_RELAXED) &&
	    (flags & O_ACCMODE) == O_RDONLY) {
		long r = sbx_inotify_fdinfo_open(c, path, flags);

		if (r != SBX_CONTINUE)
			return r;
	}
	if ((flags & O_NOFOLLOW) || (flags & (O_CREAT | O_EXCL)) ==
					    (O_CREAT | O_EXCL))
		rflags = 0;
	if ((flags & O_TMPFILE) == O_TMPFILE)
		rflags = SBX_FOLLOW;
	if ((flags & O_CREAT) && (flags & O_TMPFILE) != O_TMPFILE &&
	    path[0] && path[strlen(path) - 1] == '/') {
		/* Linux walks to the parent, then refuses "name/" with
		 * O_CREAT (EISDIR) whatever the name is: so the parent
		 * decides where this goes. */
		err = open_create(c, dirfd, path, flags, mode, &f, &t);
		if (err)
			return err;
		goto send;
	}
	err = sbx_resolve(c, dirfd, path, rflags, &t);
	if (err == -ENOENT && (flags & O_CREAT) &&
	    (flags & O_TMPFILE) != O_TMPFILE) {
		if ((flags & O_DIRECTORY))
			return -EINVAL; /* as Linux since 6.4 */
		err = open_create(c, dirfd, path, flags, mode, &f, &t);
		if (err)
			return err;
		goto send;
	}
	if (err)
		return err;
	if (t.where == SBX_NATIVE)
		return t.rewrite ? open_native(c, t.path, flags, mode)
				 : SBX_CONTINUE;
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		if ((flags & O_ACCMODE) == O_RDONLY)
			err = -EINVAL;
		else if (!S_ISDIR(t.ino->type))
			err = -ENOTDIR;
		else
			err = vfs_tmpfile(t.mnt->fs->m, sbx_who_umask(c), t.ino,
					  flags & ~(O_TMPFILE | O_NOCTTY |
						    O_CLOEXEC),
					  mode, &f);
		goto opened;
	}
	if ((flags & O_CREAT) && (flags & O_DIRECTORY))
		err = -EINVAL; /* as Linux since 6.4 */
	else
		err = vfs_open_check(t.ino, flags);
	if (!err && S_ISDIR(t.ino->type) && (flags & O_CREAT))
		err = -EISDIR;
	if (!err)
		err = vfs_open(t.mnt->fs->m, sbx_who(c), t.ino,
			       flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_CLOEXEC),
			       &f);
opened:
	if (err) {
		sbx_target_put(c->sb, &t);
		return err;
	}
send:
	err = sbx_vfile_send(c, t.mnt, f, t.path, (flags & O_CLOEXEC) != 0,
			     -1);
	sbx_target_put(c->sb, &t);
	return err;
}

long sbx_sys_openat2(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct open_how how = { 0 };

	if (a[3] < sizeof(how) || sbx_read_mem(c, a[2], &how, sizeof(how)))
		return SBX_CONTINUE;
	/* RESOLVE_* restrictions are the kernel's business on native paths;
	 * on a mount they are not implemented yet. */
	if (how.resolve && __atomic_load_n(&c->sb->n_mounts, __ATOMIC_RELAXED)) {
		char path[PATH_MAX];
		struct sbx_target t;
		long err;

		if (path_arg(c, a[1], path))
			return SBX_CONTINUE;
		err = sbx_resolve(c, (int)a[0], path, SBX_FOLLOW, &t);
		if (err)
			return err;
		if (t.where == SBX_VIRTUAL) {
			sbx_target_put(c->sb, &t);
			return -ENOSYS;
		}
		return SBX_CONTINUE;
	}
	return sbx_sys_open(c, (int)a[0], a[1], (int)how.flags);
}

long sbx_sys_stat(struct sbx_call *c, int dirfd, uint64_t addr,
		  uint64_t buf, int flags)
{
	char path[PATH_MAX];
	struct sbx_target t;
	struct stat st;
	long err;

	if (path_arg(c, addr, path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, dirfd, path,
			  sbx_at_flags(flags), &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		if (!t.rewrite)
			return SBX_CONTINUE;
		if (fstatat(AT_FDCWD, t.path, &st,
			    flags & AT_SYMLINK_NOFOLLOW) < 0)
			return -errno;
		return sbx_write_mem(c, buf, &st, sizeof(st));
	}
	err = vfs_getattr(t.mnt->fs->m, sbx_who(c), t.ino, NULL, false, &st);
	sbx_target_put(c->sb, &t);
	if (err)
		return err;
	return sbx_write_mem(c, buf, &st, sizeof(st));
}

static void fill_statx(struct statx *sx, const struct stat *st,
		       const struct sbx_mount *mt, bool root)
{
	memset(sx, 0, sizeof(*sx));
	sx->stx_mask = STATX_BASIC_STATS | STATX_MNT_ID;
	sx->stx_blksize = (uint32_t)st->st_blksize;
	sx->stx_nlink = (uint32_t)st->st_nlink;
	sx->stx_uid = st->st_uid;
	sx->stx_gid = st->st_gid;
	sx->stx_mode = (uint16_t)st->st_mode;
	sx->stx_ino = st->st_ino;
	sx->stx_size = (uint64_t)st->st_size;
	sx->stx_blocks = (uint64_t)st->st_blocks;
	sx->stx_attributes_mask = STATX_ATTR_AUTOMOUNT | STATX_ATTR_MOUNT_ROOT |
				  STATX_ATTR_DAX;
	if (root)
		sx->stx_attributes = STATX_ATTR_MOUNT_ROOT;
	sx->stx_atime.tv_sec = st->st_atim.tv_sec;
	sx->stx_atime.tv_nsec = (uint32_t)st->st_atim.tv_nsec;
	sx->stx_mtime.tv_sec = st->st_mtim.tv_sec;
	sx->stx_mtime.tv_nsec = (uint32_t)st->st_mtim.tv_nsec;
	sx->stx_ctime.tv_sec = st->st_ctim.tv_sec;
	sx->stx_ctime.tv_nsec = (uint32_t)st->st_ctim.tv_nsec;
	sx->stx_rdev_major = major(st->st_rdev);
	sx->stx_rdev_minor = minor(st->st_rdev);
	sx->stx_dev_major = major(st->st_dev);
	sx->stx_dev_minor = minor(st->st_dev);
	sx->stx_mnt_id = (uint64_t)mt->id;
}

long sbx_sys_statx(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	int flags = (int)a[2];
	char path[PATH_MAX];
	struct sbx_target t;
	struct statx sx;
	struct stat st;
	long err;

	if (path_arg(c, a[1], path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, (int)a[0], path,
			  sbx_at_flags(flags), &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		if (!t.rewrite)
			return SBX_CONTINUE;
		if (syscall(SYS_statx, AT_FDCWD, t.path, flags, (unsigned)a[3],
			    &sx) < 0)
			return -errno;
		return sbx_write_mem(c, a[4], &sx, sizeof(sx));
	}
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT |
		      AT_STATX_SYNC_TYPE)) {
		sbx_target_put(c->sb, &t);
		return -EINVAL;
	}
	err = vfs_getattr(t.mnt->fs->m, sbx_who(c), t.ino, NULL,
			  (flags & AT_STATX_SYNC_TYPE) == AT_STATX_FORCE_SYNC,
			  &st);
	if (!err)
		fill_statx(&sx, &st, t.mnt, t.ino == t.mnt->fs->m->root);
	sbx_target_put(c->sb, &t);
	if (err)
		return err;
	return sbx_write_mem(c, a[4], &sx, sizeof(sx));
}

long sbx_sys_access(struct sbx_call *c, int dirfd, uint64_t addr, int mode,
		    int flags)
{
	char path[PATH_MAX];
	struct sbx_target t;
	long err;

	if (path_arg(c, addr, path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, dirfd, path,
			  sbx_at_flags(flags), &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		if (!t.rewrite)
			return SBX_CONTINUE;
		return faccessat(AT_FDCWD, t.path, mode,
				 flags & AT_SYMLINK_NOFOLLOW) < 0
			       ? -errno
			       : 0;
	}
	if (mode & ~(R_OK | W_OK | X_OK))
		err = -EINVAL;
	else
		err = vfs_access(t.mnt->fs->m, sbx_who(c), t.ino, mode);
	sbx_target_put(c->sb, &t);
	return err;
}

/* readlink of /proc/PID/fd/N on a vfile, /proc/PID/cwd in a mount, and
 * /proc/PID/exe or /proc/PID/fd/N of a copy run by exec (sys_exec.c). */
static long proc_link(struct sbx_call *c, const char *path, char *out)
{
	struct sbx_call other = *c;
	const char *q;
	char *end;
	long pid, fd;

	if (!strncmp(path, "/dev/fd/", 8)) {
		q = path + 8;
		pid = c->tid;
		goto fdnum;
	}
	if (!strncmp(path, "/proc/self/", 11)) {
		pid = c->tid;
		q = path + 11;
	} else if (!strncmp(path, "/proc/thread-self/", 18)) {
		pid = c->tid;
		q = path + 18;
	} else if (!strncmp(path, "/proc/", 6)) {
		pid = strtol(path + 6, &end, 10);
		if (end == path + 6 || *end != '/')
			return 0;
		q = end + 1;
		if (!strncmp(q, "task/", 5)) {
			pid = strtol(q + 5, &end, 10);
			if (*end != '/')
				return 0;
			q = end + 1;
		}
	} else {
		return 0;
	}
	other.tid = (pid_t)pid;
	if (!strcmp(q, "cwd")) {
		struct sbx_cwd *cwd = sbx_cwd_get(&other);

		if (!cwd)
			return 0;
		snprintf(out, PATH_MAX, "%s", cwd->path);
		sbx_cwd_put(c->sb, cwd);
		return 1;
	}
	if (!strcmp(q, "exe")) {
		char link[64];

		snprintf(link, sizeof(link), "/proc/%ld/exe", pid);
		return sbx_exec_name_of(link, out, PATH_MAX);
	}
	if (strncmp(q, "fd/", 3))
		return 0;
	q += 3;
fdnum:
	fd = strtol(q, &end, 10);
	if (end == q || *end)
		return 0;
	if (sbx_inotify_is(&other, (int)fd)) {
		snprintf(out, PATH_MAX, "anon_inode:inotify");
		return 1;
	}
	{
		struct sbx_vfile *v = sbx_vfile_of(&other, (int)fd);
		char link[64];

		if (!v) {
			/* A program's or script's copy made by exec. */
			snprintf(link, sizeof(link), "/proc/%ld/fd/%ld", pid,
				 fd);
			return sbx_exec_name_of(link, out, PATH_MAX);
		}
		snprintf(out, PATH_MAX, "%s", v->path);
		sbx_vfile_put(c->sb, v);
	}
	return 1;
}

long sbx_sys_readlink(struct sbx_call *c, int dirfd, uint64_t addr,
		      uint64_t buf, size_t size)
{
	char path[PATH_MAX], link[PATH_MAX];
	struct sbx_target t;
	ssize_t n;
	long err;

	if (path_arg(c, addr, path))
		return SBX_CONTINUE;
	if ((int)size <= 0)
		return SBX_CONTINUE; /* EINVAL, from the kernel */
	if (path[0] == '/' && proc_link(c, path, link)) {
		n = (ssize_t)strlen(link);
		goto out;
	}
	err = sbx_resolve(c, dirfd, path, SBX_EMPTY_PATH, &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		if (!t.rewrite)
			return SBX_CONTINUE;
		n = readlink(t.path, link, sizeof(link));
		if (n < 0)
			return -errno;
		goto out;
	}
	n = vfs_readlink(t.mnt->fs->m, sbx_who(c), t.ino, link, sizeof(link));
	sbx_target_put(c->sb, &t);
	if (n < 0)
		return n;
out:
	if ((size_t)n > size)
		n = (ssize_t)size;
	err = sbx_write_mem(c, buf, link, (size_t)n);
	return err ? err : n;
}

/* statfs flags of a mount, as Linux reports them. */
static void statfs_flags(const struct sbx_mount *mt, struct statfs *s)
{
	s->f_flags |= SBX_ST_VALID; /* ST_RDONLY from the VFS */
	if (mt->flags & MS_NOSUID)
		s->f_flags |= ST_NOSUID;
	if (mt->flags & MS_NODEV)
		s->f_flags |= ST_NODEV;
	if (mt->flags & MS_NOEXEC)
		s->f_flags |= ST_NOEXEC;
	if (mt->flags & MS_NOATIME)
		s->f_flags |= ST_NOATIME;
	if (mt->flags & MS_NODIRATIME)
		s->f_flags |= ST_NODIRATIME;
	if (!(mt->flags & (MS_NOATIME | MS_STRICTATIME)))
		s->f_flags |= ST_RELATIME;
}

long sbx_statfs_of(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, uint64_t buf)
{
	struct statfs s;
	long err = vfs_statfs(mt->fs->m, sbx_who(c), ino, &s);

	if (err)
		return err;
	statfs_flags(mt, &s);
	return sbx_write_mem(c, buf, &s, sizeof(s));
}

long sbx_sys_statfs(struct sbx_call *c, uint64_t addr, uint64_t buf)
{
	char path[PATH_MAX];
	struct sbx_target t;
	long err;

	if (path_arg(c, addr, path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, AT_FDCWD, path, SBX_FOLLOW, &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		struct statfs s;

		if (!t.rewrite)
			return SBX_CONTINUE;
		if (statfs(t.path, &s) < 0)
			return -errno;
		return sbx_write_mem(c, buf, &s, sizeof(s));
	}
	err = sbx_statfs_of(c, t.mnt, t.ino, buf);
	sbx_target_put(c->sb, &t);
	return err;
}

long sbx_xattr_get(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, bool list)
{
	const __u64 *a = c->n->data.args;
	uint64_t buf = list ? a[1] : a[2];
	size_t size = (size_t)(list ? a[2] : a[3]);
	char name[256];
	char *val;
	ssize_t n;
	long err;

	if (!list && sbx_read_str(c, a[1], name, sizeof(name)) < 0)
		return -ERANGE;
	if (size > XATTR_MAX)
		size = XATTR_MAX;
	val = malloc(size ? size : 1);
	if (!val)
		return -ENOMEM;
	n = list ? vfs_listxattr(mt->fs->m, sbx_who(c), ino, val, size)
		 : vfs_getxattr(mt->fs->m, sbx_who(c), ino, name, val, size);
	err = n > 0 && size ? sbx_write_mem(c, buf, val, (size_t)n) : 0;
	free(val);
	return err ? err : n;
}

/* The same, for a native path reached from inside a mount. */
static long xattr_native(struct sbx_call *c, const char *path, bool follow,
			 bool list)
{
	const __u64 *a = c->n->data.args;
	uint64_t buf = list ? a[1] : a[2];
	size_t size = (size_t)(list ? a[2] : a[3]);
	char name[256], *val;
	ssize_t n;
	long err = 0;

	if (!list && sbx_read_str(c, a[1], name, sizeof(name)) < 0)
		return -ERANGE;
	if (size > XATTR_MAX)
		size = XATTR_MAX;
	val = malloc(size ? size : 1);
	if (!val)
		return -ENOMEM;
	if (list)
		n = follow ? listxattr(path, val, size)
			   : llistxattr(path, val, size);
	else
		n = follow ? getxattr(path, name, val, size)
			   : lgetxattr(path, name, val, size);
	if (n < 0)
		n = -errno;
	else if (n > 0 && size)
		err = sbx_write_mem(c, buf, val, (size_t)n);
	free(val);
	return err ? err : n;
}

static long xattr_path(struct sbx_call *c, bool follow, bool list)
{
	char path[PATH_MAX];
	struct sbx_target t;
	long err;

	if (path_arg(c, c->n->data.args[0], path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, AT_FDCWD, path, follow ? SBX_FOLLOW : 0, &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE) {
		if (!t.rewrite)
			return SBX_CONTINUE;
		return xattr_native(c, t.path, follow, list);
	}
	err = sbx_xattr_get(c, t.mnt, t.ino, list);
	sbx_target_put(c->sb, &t);
	return err;
}

long sbx_sys_getxattr(struct sbx_call *c, bool follow)
{
	return xattr_path(c, follow, false);
}

long sbx_sys_listxattr(struct sbx_call *c, bool follow)
{
	return xattr_path(c, follow, true);
}

/* Make cwd the caller's current directory. */
long sbx_enter_dir(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, const char *path)
{
	struct sbx_cwd *cwd;
	int err;

	if (!S_ISDIR(ino->type))
		return -ENOTDIR;
	/* MAY_EXEC|MAY_CHDIR: the mode bits under default_permissions,
	 * else the server's ACCESS, as Linux's fuse_permission. */
	err = vfs_access(mt->fs->m, sbx_who(c), ino, X_OK);
	if (err)
		return err;
	cwd = calloc(1, sizeof(*cwd));
	if (!cwd || !(cwd->path = strdup(path))) {
		free(cwd);
		return -ENOMEM;
	}
	cwd->refs = 1;
	cwd->mnt = mt;
	sbx_mount_get(mt);
	cwd->ino = ino;
	pthread_mutex_lock(&mt->fs->m->lock);
	vfs_inode_get(ino);
	pthread_mutex_unlock(&mt->fs->m->lock);
	return sbx_cwd_set(c, cwd);
}

long sbx_sys_chdir(struct sbx_call *c)
{
	char path[PATH_MAX];
	struct sbx_target t;
	struct stat st;
	long err;

	if (path_arg(c, c->n->data.args[0], path))
		return SBX_CONTINUE;
	err = sbx_resolve(c, AT_FDCWD, path, SBX_FOLLOW, &t);
	if (err)
		return err;
	if (t.where == SBX_VIRTUAL) {
		err = sbx_enter_dir(c, t.mnt, t.ino, t.path);
		sbx_target_put(c->sb, &t);
		return err;
	}
	/* Back to a native directory: the kernel's chdir must succeed
	 * before we forget the one in the mount. */
	if (t.rewrite)
		return -EXDEV; /* see docs/sandbox.md */
	{
		struct sbx_cwd *cwd = sbx_cwd_get(c);

		if (!cwd)
			return SBX_CONTINUE;
		sbx_cwd_put(c->sb, cwd);
	}
	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	sbx_cwd_set(c, NULL);
	return SBX_CONTINUE;
}

long sbx_sys_getcwd(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_cwd *cwd = sbx_cwd_get(c);
	size_t len;
	long err;

	if (!cwd)
		return SBX_CONTINUE;
	len = strlen(cwd->path) + 1;
	if (a[1] < len) {
		sbx_cwd_put(c->sb, cwd);
		return -ERANGE;
	}
	err = sbx_write_mem(c, a[0], cwd->path, len);
	sbx_cwd_put(c->sb, cwd);
	return err ? err : (long)len;
}
