/*
 * attr.c - statfs, syncfs, access and extended attributes of an inode.
 */
#include <errno.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
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
	/* Mount flags (ST_RDONLY, ...) are the caller's to add. */
	out->f_flags = m->read_only ? ST_RDONLY : 0;
	return 0;
}

int vfs_access(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, int mode)
{
	struct fuse_attr a;
	int err;

	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	if ((mode & W_OK) && m->read_only &&
	    (S_ISREG(ino->type) || S_ISDIR(ino->type) || S_ISLNK(ino->type)))
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
		return vfs_mode_permission(who, &a, mode);
	}
	if (m->default_permissions)
		return vfs_permission(m, who, ino, mode);
	/* Without default_permissions the server decides; Linux asks it
	 * even for F_OK (mask 0). */
	return fuse_op_access(m->conn, who, ino->nodeid, mode);
}

ssize_t vfs_getxattr(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, const char *name, void *buf,
		     size_t size)
{
	int err = vfs_may_xattr(m, who, ino, name, false);

	if (err)
		return err;
	return fuse_op_getxattr(m->conn, who, ino->nodeid, name, buf, size);
}

ssize_t vfs_listxattr(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *ino, char *buf, size_t size)
{
	return fuse_op_listxattr(m->conn, who, ino->nodeid, buf, size);
}


int vfs_setxattr(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, const char *name, const void *value,
		 size_t size, int flags)
{
	int err;

	if (flags & ~(XATTR_CREATE | XATTR_REPLACE))
		return -EINVAL;
	if (m->read_only)
		return -EROFS;
	err = vfs_may_xattr(m, who, ino, name, true);
	if (!err)
		err = fuse_op_setxattr(m->conn, who, ino->nodeid, name, value,
				       size, flags);
	if (!err) {
		vfs_attr_expire(m, ino); /* ctime */
		vfs_fsnotify(m, ino, IN_ATTRIB);
	}
	return err;
}

int vfs_removexattr(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *ino, const char *name)
{
	int err = m->read_only ? -EROFS
			       : vfs_may_xattr(m, who, ino, name, true);

	if (!err)
		err = fuse_op_removexattr(m->conn, who, ino->nodeid, name);
	if (!err) {
		vfs_attr_expire(m, ino);
		vfs_fsnotify(m, ino, IN_ATTRIB);
	}
	return err;
}

int vfs_syncfs(struct vfs_mount *m, const struct fuse_caller *who)
{
	/* As Linux's sync_filesystem: the dirty data, then SYNCFS. */
	vfs_wb_sync_mount(m, who);
	return fuse_op_syncfs(m->conn, who);
}
