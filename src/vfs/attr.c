/*
 * attr.c - statfs, access and extended attributes of an inode.
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "vfs/vfs.h"

#define FUSE_SUPER_MAGIC 0x65735546

int vfs_statfs(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, struct statfs *out)
{
	struct fuse_kstatfs k;
	int err = fuse_op_statfs(m->conn, who, ino->nodeid, &k);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	out->f_type = FUSE_SUPER_MAGIC;
	out->f_bsize = k.bsize;
	/* As Linux's statfs: a zero fragment size is the block size. */
	out->f_frsize = k.frsize ? k.frsize : k.bsize;
	out->f_blocks = k.blocks;
	out->f_bfree = k.bfree;
	out->f_bavail = k.bavail;
	out->f_files = k.files;
	out->f_ffree = k.ffree;
	out->f_namelen = k.namelen;
	/* Writes are refused in this version: say so. */
	out->f_flags = ST_RDONLY;
	return 0;
}

/* Linux's generic_permission on the cached mode bits (root may read and
 * write anything, and execute what has any x bit). */
static int mode_permission(const struct fuse_caller *who,
			   const struct fuse_attr *a, int mode)
{
	unsigned bits = a->mode;

	if (who->uid == 0) {
		if ((mode & X_OK) && !(bits & 0111))
			return -EACCES;
		return 0;
	}
	if (who->uid == a->uid)
		bits >>= 6;
	else if (who->gid == a->gid)
		bits >>= 3;
	return (mode & ~(int)(bits & 7)) ? -EACCES : 0;
}

int vfs_access(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, int mode)
{
	struct fuse_attr a;
	int err;

	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	/* As on a read-only mount. */
	if ((mode & W_OK) && (S_ISREG(ino->type) || S_ISDIR(ino->type) ||
			      S_ISLNK(ino->type)))
		return -EROFS;
	if (S_ISLNK(ino->type)) {
		/* Linux's FUSE symlinks have no permission hook: the mode
		 * bits decide and the server is never asked. */
		err = vfs_getattr(m, who, ino, NULL, false, NULL);
		if (err)
			return err;
		pthread_mutex_lock(&m->lock);
		a = ino->attr;
		pthread_mutex_unlock(&m->lock);
		return mode_permission(who, &a, mode);
	}
	/* Without default_permissions the server decides; Linux asks it
	 * even for F_OK (mask 0). */
	return fuse_op_access(m->conn, who, ino->nodeid, mode);
}

ssize_t vfs_getxattr(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, const char *name, void *buf,
		     size_t size)
{
	/* user.* exists only on regular files and directories (Linux's
	 * xattr_permission). */
	if (!strncmp(name, "user.", 5) && !S_ISREG(ino->type) &&
	    !S_ISDIR(ino->type))
		return -ENODATA;
	return fuse_op_getxattr(m->conn, who, ino->nodeid, name, buf, size);
}

ssize_t vfs_listxattr(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *ino, char *buf, size_t size)
{
	return fuse_op_listxattr(m->conn, who, ino->nodeid, buf, size);
}
