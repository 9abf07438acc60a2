/*
 * sys_modify.c - path syscalls that change the filesystem: mkdir, mknod,
 * symlink, link, unlink, rmdir, rename, chmod, chown, truncate, the
 * utime family and the xattr setters.
 *
 * Calls that make or remove a name resolve the directory that holds it
 * (following symlinks) and hand the last name to the VFS; a native
 * directory goes back to the kernel, except that a name which is a
 * fusebox mountpoint gets the error Linux gives for a mountpoint (the
 * kernel cannot know it is one). Two names on different sides, or on two
 * mounts, are EXDEV. A read-only mount's EROFS comes from the VFS, in
 * Linux's order (EEXIST before EROFS for calls that create, EROFS first
 * for calls that remove).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <utime.h>

#include "sandbox/sandbox.h"

#define XATTR_NAME_MAX_ 255
#define XATTR_SIZE_MAX_ 65536


void sbx_named_put(struct sbx *sb, struct sbx_named *nm)
{
	sbx_target_put(sb, &nm->dir);
}

long sbx_parent_of_path(struct sbx_call *c, int dirfd, const char *path,
			struct sbx_named *nm)
{
	char parent[PATH_MAX];
	size_t len, end, begin;
	long err;

	memset(&nm->dir, 0, sizeof(nm->dir));
	nm->mountpoint = false;
	len = strlen(path);
	if (!len)
		return SBX_CONTINUE; /* ENOENT, the kernel's */
	end = len;
	while (end > 0 && path[end - 1] == '/')
		end--;
	nm->last.slash = end < len;
	begin = end;
	while (begin > 0 && path[begin - 1] != '/')
		begin--;
	memcpy(nm->last.name, path + begin, end - begin);
	nm->last.name[end - begin] = '\0';
	nm->last.type = end == 0 ? VFS_LAST_ROOT
			: !strcmp(nm->last.name, ".")  ? VFS_LAST_DOT
			: !strcmp(nm->last.name, "..") ? VFS_LAST_DOTDOT
						       : VFS_LAST_NORM;
	if (end == 0)
		snprintf(parent, sizeof(parent), "/");
	else if (begin == 0)
		snprintf(parent, sizeof(parent), ".");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)begin, path);
	err = sbx_resolve(c, dirfd, parent, SBX_FOLLOW, &nm->dir);
	if (err)
		return err;
	if (nm->dir.where == SBX_VIRTUAL) {
		if (!S_ISDIR(nm->dir.ino->type)) {
			sbx_named_put(c->sb, nm);
			return -ENOTDIR;
		}
		if (nm->last.type == VFS_LAST_DOTDOT &&
		    nm->dir.ino == nm->dir.mnt->fs->m->root) {
			/* ".." of a mount's root is outside it. */
			sbx_named_put(c->sb, nm);
			return -EXDEV;
		}
		return 0;
	}
	if (nm->dir.rewrite)
		return -EXDEV; /* see docs/sandbox.md: virtual cwd */
	if (nm->last.type == VFS_LAST_NORM) {
		struct sbx_target full;

		if (sbx_resolve(c, dirfd, path, 0, &full) == 0 &&
		    full.where == SBX_VIRTUAL) {
			nm->mountpoint = full.ino == full.mnt->fs->m->root;
			sbx_target_put(c->sb, &full);
		}
	}
	return 0;
}

/* 0 with nm filled, or the errno: EFAULT or ENAMETOOLONG for the path
 * itself, as Linux's getname() gives before any lookup (and before the
 * kernel, from a cwd inside a mount, would look up another path). */
static long parent_of(struct sbx_call *c, int dirfd, uint64_t addr,
		      struct sbx_named *nm)
{
	char path[PATH_MAX];
	int err;

	memset(&nm->dir, 0, sizeof(nm->dir));
	nm->mountpoint = false;
	err = sbx_read_str(c, addr, path, sizeof(path));
	if (err < 0)
		return err;
	return sbx_parent_of_path(c, dirfd, path, nm);
}

/* The caller with the umask it creates with. */
static const struct fuse_caller *creator(struct sbx_call *c)
{
	return sbx_who_umask(c);
}

enum make_kind { MAKE_DIR, MAKE_NODE, MAKE_LINK };

static long make_name(struct sbx_call *c, int dirfd, uint64_t addr,
		      enum make_kind k, mode_t mode, dev_t dev,
		      const char *target)
{
	struct sbx_named nm;
	struct vfs_mount *m;
	long err = parent_of(c, dirfd, addr, &nm);

	if (err)
		return err;
	if (nm.dir.where == SBX_NATIVE)
		return nm.mountpoint ? -EEXIST : SBX_CONTINUE;
	m = nm.dir.mnt->fs->m;
	if (k == MAKE_DIR) {
		err = vfs_mkdir(m, creator(c), nm.dir.ino, &nm.last, mode);
	} else if (k == MAKE_NODE) {
		err = vfs_mknod(m, creator(c), nm.dir.ino, &nm.last, mode, dev,
				NULL);
	} else {
		err = vfs_symlink(m, creator(c), nm.dir.ino, &nm.last, target);
	}
	sbx_named_put(c->sb, &nm);
	return err;
}

static long sys_symlink(struct sbx_call *c, uint64_t target, int dirfd,
			uint64_t addr)
{
	char t[PATH_MAX];

	if (sbx_read_str(c, target, t, sizeof(t)) < 0)
		return SBX_CONTINUE;
	return make_name(c, dirfd, addr, MAKE_LINK, 0, 0, t);
}

static long remove_name(struct sbx_call *c, int dirfd, uint64_t addr,
			bool dir)
{
	struct sbx_named nm;
	struct vfs_mount *m;
	long err = parent_of(c, dirfd, addr, &nm);

	if (err)
		return err;
	if (nm.dir.where == SBX_NATIVE) {
		if (!nm.mountpoint)
			return SBX_CONTINUE;
		return dir ? -EBUSY : -EISDIR;
	}
	m = nm.dir.mnt->fs->m;
	if (dir)
		err = vfs_rmdir(m, sbx_who(c), nm.dir.ino, &nm.last);
	else
		err = vfs_unlink(m, sbx_who(c), nm.dir.ino, &nm.last);
	sbx_named_put(c->sb, &nm);
	return err;
}

static long sys_rename(struct sbx_call *c, int od, uint64_t op, int nd,
		       uint64_t np, unsigned flags)
{
	struct sbx_named o, n;
	long err = parent_of(c, od, op, &o);

	if (err)
		return err;
	err = parent_of(c, nd, np, &n);
	if (err) {
		sbx_named_put(c->sb, &o);
		return err;
	}
	if (o.dir.where == SBX_NATIVE && n.dir.where == SBX_NATIVE)
		err = o.mountpoint || n.mountpoint ? -EBUSY : SBX_CONTINUE;
	else if (o.dir.where != n.dir.where || o.dir.mnt != n.dir.mnt)
		err = -EXDEV;
	else
		err = vfs_rename(o.dir.mnt->fs->m, sbx_who(c), o.dir.ino,
				 &o.last, n.dir.ino, &n.last, flags);
	sbx_named_put(c->sb, &n);
	sbx_named_put(c->sb, &o);
	return err;
}

static long sys_link(struct sbx_call *c, int od, uint64_t op, int nd,
		     uint64_t np, int flags)
{
	char path[PATH_MAX];
	struct sbx_target t;
	struct sbx_named n;
	long err;

	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	err = sbx_read_str(c, op, path, sizeof(path));
	if (err < 0)
		return err;
	err = sbx_resolve(c, od, path,
			  ((flags & AT_SYMLINK_FOLLOW) ? SBX_FOLLOW : 0) |
				  ((flags & AT_EMPTY_PATH) ? SBX_EMPTY_PATH : 0),
			  &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE && t.rewrite)
		return -EXDEV;
	err = parent_of(c, nd, np, &n);
	if (err) {
		sbx_target_put(c->sb, &t);
		return err;
	}
	if (t.where == SBX_NATIVE && n.dir.where == SBX_NATIVE)
		err = n.mountpoint ? -EEXIST : SBX_CONTINUE;
	else if (t.where != n.dir.where || t.mnt != n.dir.mnt)
		err = -EXDEV;
	else
		err = vfs_link(t.mnt->fs->m, creator(c), t.ino, n.dir.ino,
			       &n.last);
	sbx_named_put(c->sb, &n);
	sbx_target_put(c->sb, &t);
	return err;
}

/* What a call that changes attributes does on one node. */
enum change_kind { CH_MODE, CH_OWNER, CH_SIZE, CH_TIMES, CH_SETX, CH_RMX };

struct change {
	enum change_kind k;
	mode_t mode;
	uid_t uid;
	gid_t gid;
	off_t size;
	bool times_null;
	struct timespec times[2];
	char name[XATTR_NAME_MAX_ + 2];
	char *value;
	size_t value_size;
	int xflags;
};

static long change_node(struct sbx_call *c, struct sbx_mount *mt,
			struct vfs_inode *ino, struct vfs_file *f,
			const struct change *ch)
{
	struct vfs_mount *m = mt->fs->m;
	const struct fuse_caller *w = sbx_who(c);

	if (ch->k == CH_SIZE && f &&
	    ((f->flags & O_ACCMODE) == O_RDONLY || S_ISDIR(ino->type)))
		return -EINVAL; /* ftruncate of a file not open to write */
	switch (ch->k) {
	case CH_MODE:
		return vfs_chmod(m, w, ino, ch->mode);
	case CH_OWNER:
		return vfs_chown(m, w, ino, ch->uid, ch->gid);
	case CH_SIZE:
		return vfs_truncate(m, w, ino, f, ch->size);
	case CH_TIMES:
		return vfs_utimens(m, w, ino, ch->times_null ? NULL : ch->times);
	case CH_SETX:
		return vfs_setxattr(m, w, ino, ch->name, ch->value,
				    ch->value_size, ch->xflags);
	case CH_RMX:
		return vfs_removexattr(m, w, ino, ch->name);
	}
	return -EINVAL;
}

static long change_path(struct sbx_call *c, int dirfd, uint64_t addr,
			int rflags, const struct change *ch)
{
	char path[PATH_MAX];
	struct sbx_target t;
	long err;

	if (sbx_read_str(c, addr, path, sizeof(path)) < 0)
		return SBX_CONTINUE;
	err = sbx_resolve(c, dirfd, path, rflags, &t);
	if (err)
		return err;
	if (t.where == SBX_NATIVE)
		return t.rewrite ? -EXDEV : SBX_CONTINUE;
	if (ch->k == CH_MODE && S_ISLNK(t.ino->type))
		err = -EOPNOTSUPP; /* a symlink's mode is fixed */
	else if (ch->k == CH_SIZE && S_ISDIR(t.ino->type))
		err = -EISDIR;
	else
		err = change_node(c, t.mnt, t.ino, NULL, ch);
	sbx_target_put(c->sb, &t);
	return err;
}

/* The same on the open file behind a descriptor of the window. */
static long change_fd(struct sbx_call *c, int fd, const struct change *ch)
{
	struct sbx_vfile *v = sbx_vfile_of(c, fd);
	long err;

	if (!v)
		return SBX_CONTINUE;
	if (v->f->flags & O_PATH) {
		err = -EBADF;
	} else {
		vfs_file_reach(v->f); /* inotify: the name it was opened by */
		err = change_node(c, v->mnt, v->f->inode, v->f, ch);
	}
	sbx_vfile_put(c->sb, v);
	return err;
}

/* The times of utime, utimes, futimesat and utimensat as timespecs.
 * 0, SBX_CONTINUE (bad pointer: the kernel's EFAULT) or an errno. */
static long times_arg(struct sbx_call *c, int nr, uint64_t addr,
		      struct change *ch)
{
	ch->times_null = !addr;
	if (!addr)
		return 0;
	if (nr == __NR_utime) {
		struct utimbuf u;

		if (sbx_read_mem(c, addr, &u, sizeof(u)))
			return SBX_CONTINUE;
		ch->times[0] = (struct timespec){ u.actime, 0 };
		ch->times[1] = (struct timespec){ u.modtime, 0 };
	} else if (nr == __NR_utimes || nr == __NR_futimesat) {
		struct timeval tv[2];

		if (sbx_read_mem(c, addr, tv, sizeof(tv)))
			return SBX_CONTINUE;
		for (int i = 0; i < 2; i++) {
			if (tv[i].tv_usec < 0 || tv[i].tv_usec >= 1000000)
				return -EINVAL;
			ch->times[i] = (struct timespec){
				tv[i].tv_sec, tv[i].tv_usec * 1000 };
		}
	} else if (sbx_read_mem(c, addr, ch->times, sizeof(ch->times))) {
		return SBX_CONTINUE;
	}
	return 0;
}

/* The name (and value) of the xattr setters. */
static long xattr_args(struct sbx_call *c, uint64_t name, uint64_t value,
		       size_t size, int flags, struct change *ch)
{
	int n = sbx_read_str(c, name, ch->name, sizeof(ch->name));

	if (n == -ENAMETOOLONG || (n >= 0 && strlen(ch->name) >
						     XATTR_NAME_MAX_))
		return -ERANGE;
	if (n < 0)
		return SBX_CONTINUE;
	if (!ch->name[0])
		return -ERANGE;
	ch->xflags = flags;
	if (ch->k != CH_SETX)
		return 0;
	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (size > XATTR_SIZE_MAX_)
		return -E2BIG;
	ch->value_size = size;
	ch->value = malloc(size ? size : 1);
	if (!ch->value)
		return -ENOMEM;
	if (size && sbx_read_mem(c, value, ch->value, size))
		return -EFAULT;
	return 0;
}

static long sys_change(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	int nr = c->n->data.nr;
	struct change ch = { 0 };
	int dirfd = AT_FDCWD, rflags = SBX_FOLLOW;
	uint64_t path = a[0];
	long err = 0;

	switch (nr) {
	case __NR_chmod:
	case __NR_fchmodat:
		ch.k = CH_MODE;
		if (nr == __NR_fchmodat) {
			dirfd = (int)a[0];
			path = a[1];
		}
		ch.mode = (mode_t)a[nr == __NR_chmod ? 1 : 2];
		break;
	case __NR_chown:
	case __NR_lchown:
		ch.k = CH_OWNER;
		ch.uid = (uid_t)a[1];
		ch.gid = (gid_t)a[2];
		if (nr == __NR_lchown)
			rflags = 0;
		break;
	case __NR_fchownat:
		ch.k = CH_OWNER;
		if ((int)a[4] & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
			return -EINVAL;
		dirfd = (int)a[0];
		path = a[1];
		ch.uid = (uid_t)a[2];
		ch.gid = (gid_t)a[3];
		rflags = sbx_at_flags((int)a[4]);
		break;
	case __NR_truncate:
		ch.k = CH_SIZE;
		ch.size = (off_t)a[1];
		if (ch.size < 0)
			return -EINVAL;
		break;
	case __NR_utime:
	case __NR_utimes:
		ch.k = CH_TIMES;
		err = times_arg(c, nr, a[1], &ch);
		break;
	case __NR_futimesat:
	case __NR_utimensat:
		ch.k = CH_TIMES;
		dirfd = (int)a[0];
		path = a[1];
		err = times_arg(c, nr, a[2], &ch);
		if (nr == __NR_utimensat) {
			if ((int)a[3] & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
				return -EINVAL;
			rflags = sbx_at_flags((int)a[3]);
		}
		break;
	case __NR_setxattr:
	case __NR_lsetxattr:
		ch.k = CH_SETX;
		rflags = nr == __NR_setxattr ? SBX_FOLLOW : 0;
		err = xattr_args(c, a[1], a[2], (size_t)a[3], (int)a[4], &ch);
		break;
	case __NR_removexattr:
	case __NR_lremovexattr:
		ch.k = CH_RMX;
		rflags = nr == __NR_removexattr ? SBX_FOLLOW : 0;
		err = xattr_args(c, a[1], 0, 0, 0, &ch);
		break;
	default:
		return SBX_CONTINUE;
	}
	if (!err && ch.k == CH_TIMES) {
		err = vfs_utimens_early(ch.times_null ? NULL : ch.times);
		if (err == 1) {
			/* Nothing to do: Linux answers before the path. A
			 * native one is still the kernel's. */
			err = SBX_CONTINUE;
		}
	}
	if (!err) {
		if (nr == __NR_utimensat && !path)
			err = change_fd(c, dirfd, &ch); /* futimens */
		else
			err = change_path(c, dirfd, path, rflags, &ch);
	}
	free(ch.value);
	return err;
}

long sbx_sys_fchange(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct change ch = { 0 };
	long err = 0;

	switch (c->n->data.nr) {
	case __NR_fchmod:
		ch.k = CH_MODE;
		ch.mode = (mode_t)a[1];
		break;
	case __NR_fchown:
		ch.k = CH_OWNER;
		ch.uid = (uid_t)a[1];
		ch.gid = (gid_t)a[2];
		break;
	case __NR_ftruncate:
		ch.k = CH_SIZE;
		ch.size = (off_t)a[1];
		if (ch.size < 0)
			return sbx_vfile_is(c, (int)a[0]) ? -EINVAL
							   : SBX_CONTINUE;
		break;
	case __NR_fsetxattr:
		ch.k = CH_SETX;
		err = xattr_args(c, a[1], a[2], (size_t)a[3], (int)a[4], &ch);
		break;
	case __NR_fremovexattr:
		ch.k = CH_RMX;
		err = xattr_args(c, a[1], 0, 0, 0, &ch);
		break;
	default:
		return SBX_CONTINUE;
	}
	if (!err)
		err = change_fd(c, (int)a[0], &ch);
	else if (!sbx_vfile_is(c, (int)a[0]))
		err = SBX_CONTINUE; /* a native descriptor: the kernel's */
	free(ch.value);
	return err;
}

long sbx_sys_modify(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;

	switch (c->n->data.nr) {
	case __NR_mkdir:
		return make_name(c, AT_FDCWD, a[0], MAKE_DIR, (mode_t)a[1], 0,
				 NULL);
	case __NR_mkdirat:
		return make_name(c, (int)a[0], a[1], MAKE_DIR, (mode_t)a[2], 0,
				 NULL);
	case __NR_mknod:
		return make_name(c, AT_FDCWD, a[0], MAKE_NODE, (mode_t)a[1],
				 (dev_t)a[2], NULL);
	case __NR_mknodat:
		return make_name(c, (int)a[0], a[1], MAKE_NODE, (mode_t)a[2],
				 (dev_t)a[3], NULL);
	case __NR_symlink:
		return sys_symlink(c, a[0], AT_FDCWD, a[1]);
	case __NR_symlinkat:
		return sys_symlink(c, a[0], (int)a[1], a[2]);
	case __NR_unlink:
		return remove_name(c, AT_FDCWD, a[0], false);
	case __NR_rmdir:
		return remove_name(c, AT_FDCWD, a[0], true);
	case __NR_unlinkat:
		if ((int)a[2] & ~AT_REMOVEDIR)
			return -EINVAL;
		return remove_name(c, (int)a[0], a[1],
				   (int)a[2] & AT_REMOVEDIR);
	case __NR_link:
		return sys_link(c, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
	case __NR_linkat:
		return sys_link(c, (int)a[0], a[1], (int)a[2], a[3],
				(int)a[4]);
	case __NR_rename:
		return sys_rename(c, AT_FDCWD, a[0], AT_FDCWD, a[1], 0);
	case __NR_renameat:
		return sys_rename(c, (int)a[0], a[1], (int)a[2], a[3], 0);
	case __NR_renameat2:
		return sys_rename(c, (int)a[0], a[1], (int)a[2], a[3],
				  (unsigned)a[4]);
	case __NR_name_to_handle_at: {
		char path[PATH_MAX];
		struct sbx_target t;
		long err;

		if (sbx_read_str(c, a[1], path, sizeof(path)) < 0)
			return SBX_CONTINUE;
		err = sbx_resolve(c, (int)a[0], path, sbx_at_flags((int)a[4]),
				  &t);
		if (err || t.where == SBX_NATIVE)
			return err ? err : SBX_CONTINUE;
		sbx_target_put(c->sb, &t);
		return -EOPNOTSUPP;
	}
	}
	return sys_change(c);
}
