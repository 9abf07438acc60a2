/*
 * permission.c - the checks Linux makes itself before it asks a FUSE
 * server. With default_permissions: generic_permission on the cached mode
 * bits (asked again on fresh ones when they refuse), may_create,
 * may_delete with the sticky bit, setattr_prepare's owner rules and the
 * read/write and sticky-directory rules of xattr_permission. With or
 * without it, the VFS's own: the victim's type in may_delete, trusted.*
 * for root only, user.* on regular files and directories only, O_NOATIME
 * for the owner, fs.protected_hardlinks. The rest is the server's without
 * default_permissions: access(2) is asked of it with ACCESS.
 *
 * Only the caller's uid and primary gid are known here: supplementary
 * groups do not grant group permission (a documented difference), and
 * uid 0 stands for every capability.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs.h"

bool vfs_in_group(const struct fuse_caller *who, uint32_t gid)
{
	if (fuse_caller_ids(who)->gid == gid)
		return true;
	if (who->ngroups < 0) {
		/* The caller's own record, filled once (a cache, though
		 * the caller is passed as const everywhere). */
		struct fuse_caller *w = (struct fuse_caller *)who;
		char p[48], line[1024];
		FILE *f;

		w->ngroups = 0;
		snprintf(p, sizeof(p), "/proc/%u/status", fuse_caller_ids(who)->pid);
		f = fopen(p, "re");
		while (f && fgets(line, sizeof(line), f)) {
			char *q = line + 7, *end;

			if (strncmp(line, "Groups:", 7))
				continue;
			while (w->ngroups < FUSE_CALLER_GROUPS) {
				unsigned long g = strtoul(q, &end, 10);

				if (end == q)
					break;
				w->groups[w->ngroups++] = (uint32_t)g;
				q = end;
			}
			break;
		}
		if (f)
			fclose(f);
	}
	for (int i = 0; i < who->ngroups; i++)
		if (who->groups[i] == gid)
			return true;
	return false;
}

int vfs_mode_permission(const struct fuse_caller *who,
			const struct fuse_attr *a, int mode)
{
	unsigned bits = a->mode;

	if (fuse_caller_ids(who)->uid == 0) {
		/* CAP_DAC_OVERRIDE: anything but executing a non-directory
		 * that has no x bit at all. */
		if ((mode & X_OK) && !S_ISDIR(a->mode) && !(bits & 0111))
			return -EACCES;
		return 0;
	}
	if (fuse_caller_ids(who)->uid == a->uid)
		bits >>= 6;
	else if (vfs_in_group(who, a->gid))
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
	bool cached;
	int err;

	if (!m->default_permissions || !mode)
		return 0;
	pthread_mutex_lock(&m->lock);
	cached = ino->attr_expiry > vfs_now();
	pthread_mutex_unlock(&m->lock);
	err = fresh_attr(m, who, ino, &a);
	if (!err)
		err = vfs_mode_permission(who, &a, mode);
	/* As Linux: refused on cached attributes, asked again on fresh
	 * ones (the mode may have changed on the server). */
	if (err == -EACCES && cached) {
		err = vfs_getattr(m, who, ino, NULL, true, NULL);
		if (err)
			return err;
		pthread_mutex_lock(&m->lock);
		a = ino->attr;
		pthread_mutex_unlock(&m->lock);
		err = vfs_mode_permission(who, &a, mode);
	}
	return err;
}

/* Linux's may_delete: write and search permission on the directory,
 * then the sticky bit (EPERM unless the caller owns the victim or the
 * directory), then the victim's type (isdir: rmdir, or rename of a
 * directory) - in that order, so that a name in a directory the caller
 * may not change gives EACCES whatever it names. The type checks are
 * made with or without default_permissions; without it Linux's FUSE
 * hides the sticky bit from the VFS too. */
int vfs_may_delete(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *dir, struct vfs_inode *victim,
		   bool isdir)
{
	struct fuse_attr d, v;
	int err = 0;

	if (m->default_permissions && fuse_caller_ids(who)->uid != 0) {
		err = vfs_permission(m, who, dir, W_OK | X_OK);
		if (!err)
			err = fresh_attr(m, who, dir, &d);
		if (!err && (d.mode & S_ISVTX) && fuse_caller_ids(who)->uid != d.uid) {
			err = fresh_attr(m, who, victim, &v);
			if (!err && fuse_caller_ids(who)->uid != v.uid)
				err = -EPERM;
		}
		if (err)
			return err;
	}
	if (isdir && !S_ISDIR(victim->type))
		return -ENOTDIR;
	if (isdir && victim == m->root)
		return -EBUSY;
	if (!isdir && S_ISDIR(victim->type))
		return -EISDIR;
	return 0;
}

/* Owner or root: chmod, explicit times, a change of group. */
static int owner_or_root(struct vfs_mount *m, const struct fuse_caller *who,
			 struct vfs_inode *ino, struct fuse_attr *a)
{
	int err = fresh_attr(m, who, ino, a);

	if (err)
		return err;
	return fuse_caller_ids(who)->uid == 0 || fuse_caller_ids(who)->uid == a->uid ? 0 : -EPERM;
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
		if (fuse_caller_ids(who)->uid != 0 && (fuse_caller_ids(who)->uid != a.uid || in->uid != a.uid))
			return -EPERM;
	}
	if (in->valid & FATTR_GID) {
		err = owner_or_root(m, who, ino, &a);
		if (err)
			return err;
		if (fuse_caller_ids(who)->uid != 0 && in->gid != a.gid &&
		    !vfs_in_group(who, in->gid))
			return -EPERM;
	}
	if (in->valid & FATTR_MODE) {
		uint32_t gid;

		err = owner_or_root(m, who, ino, &a);
		if (err)
			return err;
		/* Not in the file's group (the new one, for a chown that
		 * also kills set-user-ID): set-group-ID is dropped. */
		gid = (in->valid & FATTR_GID) ? in->gid : a.gid;
		if (fuse_caller_ids(who)->uid != 0 && !vfs_in_group(who, gid))
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
	struct fuse_attr a;
	int mode = 0, err;

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
	err = vfs_permission(m, who, ino, mode);
	if (err || !(flags & O_NOATIME))
		return err;
	/* Only the owner (or root) may open with O_NOATIME, with or
	 * without default_permissions. */
	return owner_or_root(m, who, ino, &a);
}

/* fs.protected_hardlinks, read as Linux reads it: at each link. */
static bool protected_hardlinks(void)
{
	char c = '0';
	int fd = open("/proc/sys/fs/protected_hardlinks",
		      O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (read(fd, &c, 1) != 1)
		c = '0';
	close(fd);
	return c != '0';
}

/* Linux's may_linkat: with fs.protected_hardlinks, only the owner (or
 * root) may link to a file that is not a "safe" source: a regular file,
 * not set-user-ID, not set-group-ID and group-executable, that the caller
 * may read and write (with or without default_permissions: without it
 * the read and write checks pass). */
int vfs_may_link(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino)
{
	const unsigned sgid_x = S_ISGID | S_IXGRP;
	struct fuse_attr a;
	int err;

	if (fuse_caller_ids(who)->uid == 0 || !protected_hardlinks())
		return 0;
	err = fresh_attr(m, who, ino, &a);
	if (err)
		return err;
	if (fuse_caller_ids(who)->uid == a.uid)
		return 0;
	if (!S_ISREG(a.mode) || (a.mode & S_ISUID) ||
	    (a.mode & sgid_x) == sgid_x)
		return -EPERM;
	return vfs_permission(m, who, ino, R_OK | W_OK) ? -EPERM : 0;
}

/* Linux's xattr_permission: security.* and system.* are the server's to
 * judge; trusted.* is root's (invisible to others); user.* belongs to
 * regular files and directories only, and on a sticky directory only its
 * owner may write them; then read or write permission on the node (under
 * default_permissions, like the sticky bit). */
int vfs_may_xattr(struct vfs_mount *m, const struct fuse_caller *who,
		  struct vfs_inode *ino, const char *name, bool write)
{
	struct fuse_attr a;
	int err;

	if (!strncmp(name, "security.", 9) || !strncmp(name, "system.", 7))
		return 0;
	if (!strncmp(name, "trusted.", 8))
		return fuse_caller_ids(who)->uid == 0 ? 0 : write ? -EPERM : -ENODATA;
	if (!strncmp(name, "user.", 5)) {
		if (!S_ISREG(ino->type) && !S_ISDIR(ino->type))
			return write ? -EPERM : -ENODATA;
		/* The sticky bit, as above, only with default_permissions. */
		if (write && S_ISDIR(ino->type) && m->default_permissions &&
		    fuse_caller_ids(who)->uid != 0) {
			err = fresh_attr(m, who, ino, &a);
			if (err)
				return err;
			if ((a.mode & S_ISVTX) && fuse_caller_ids(who)->uid != a.uid)
				return -EPERM;
		}
	}
	return vfs_permission(m, who, ino, write ? W_OK : R_OK);
}
