/*
 * permission.c - the checks Linux makes itself on a FUSE mount with
 * default_permissions (generic_permission on the cached mode bits,
 * may_create, may_delete with the sticky bit, setattr_prepare's owner
 * rules). Without default_permissions they all pass: the server decides,
 * and access(2) is asked of it with ACCESS.
 *
 * Only the caller's uid and primary gid are known here: supplementary
 * groups do not grant group permission (a documented difference).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs.h"

int vfs_mode_permission(const struct fuse_caller *who,
			const struct fuse_attr *a, int mode)
{
	unsigned bits = a->mode;

	if (who->uid == 0) {
		/* CAP_DAC_OVERRIDE: anything but executing a non-directory
		 * that has no x bit at all. */
		if ((mode & X_OK) && !S_ISDIR(a->mode) && !(bits & 0111))
			return -EACCES;
		return 0;
	}
	if (who->uid == a->uid)
		bits >>= 6;
	else if (who->gid == a->gid)
		bits >>= 3;
	return (mode & ~(int)(bits & 7)) ? -EACCES : 0;
}

/* The attributes, refreshed when their timeout has passed. */
static int fresh_attr(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *ino, struct fuse_attr *a)
{
	int err = vfs_getattr(m, who, ino, NULL, false, NULL);

	if (err)
		return err;
	pthread_mutex_lock(&m->lock);
	*a = ino->attr;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int vfs_permission(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *ino, int mode)
{
	struct fuse_attr a;
	int err;

	if (!m->default_permissions || !mode)
		return 0;
	err = fresh_attr(m, who, ino, &a);
	return err ? err : vfs_mode_permission(who, &a, mode);
}

int vfs_may_delete(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *dir, struct vfs_inode *victim)
{
	struct fuse_attr d, v;
	int err;

	if (!m->default_permissions)
		return 0;
	err = vfs_permission(m, who, dir, W_OK | X_OK);
	if (err)
		return err;
	err = fresh_attr(m, who, dir, &d);
	if (!err && (d.mode & S_ISVTX) && who->uid != 0 && who->uid != d.uid) {
		err = fresh_attr(m, who, victim, &v);
		if (!err && who->uid != v.uid)
			err = -EPERM;
	}
	return err;
}

/* Owner or root: chmod, explicit times, a change of group. */
static int owner_or_root(struct vfs_mount *m, const struct fuse_caller *who,
			 struct vfs_inode *ino, struct fuse_attr *a)
{
	int err = fresh_attr(m, who, ino, a);

	if (err)
		return err;
	return who->uid == 0 || who->uid == a->uid ? 0 : -EPERM;
}

int vfs_may_setattr(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *ino, struct fuse_setattr_in *in)
{
	const uint32_t now = FATTR_ATIME_NOW | FATTR_MTIME_NOW;
	struct fuse_attr a;
	int err;

	if (!m->default_permissions)
		return 0;
	if ((in->valid & FATTR_UID)) {
		err = fresh_attr(m, who, ino, &a);
		if (err)
			return err;
		if (who->uid != 0 && (who->uid != a.uid || in->uid != a.uid))
			return -EPERM;
	}
	if (in->valid & FATTR_GID) {
		err = owner_or_root(m, who, ino, &a);
		if (err)
			return err;
		if (who->uid != 0 && in->gid != a.gid && in->gid != who->gid)
			return -EPERM;
	}
	if (in->valid & FATTR_MODE) {
		err = owner_or_root(m, who, ino, &a);
		if (err)
			return err;
		/* Not in the file's group: set-group-ID is dropped. */
		if (who->uid != 0 && who->gid != a.gid)
			in->mode &= ~(uint32_t)S_ISGID;
	}
	if (in->valid & (FATTR_ATIME | FATTR_MTIME)) {
		bool both_now = (in->valid & (FATTR_ATIME | FATTR_MTIME)) ==
					(FATTR_ATIME | FATTR_MTIME) &&
				(in->valid & now) == now;

		err = owner_or_root(m, who, ino, &a);
		if (err && both_now)
			err = vfs_permission(m, who, ino, W_OK);
		if (err)
			return err;
	}
	return 0;
}

int vfs_may_open(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, int flags)
{
	int mode = 0;

	if (flags & O_PATH)
		return 0;
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		mode = R_OK;
		break;
	case O_WRONLY:
		mode = W_OK;
		break;
	case O_RDWR:
		mode = R_OK | W_OK;
		break;
	}
	if (flags & O_TRUNC)
		mode |= W_OK;
	return vfs_permission(m, who, ino, mode);
}
