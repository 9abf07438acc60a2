/*
 * attrs.c - libfusebox calls that change attributes: chmod, chown,
 * truncate, utimensat and extended attributes, by path or descriptor.
 */
#include <errno.h>
#include <fcntl.h>

#include "lib/fs.h"

static int walk_flags(int flags)
{
	return ((flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_FOLLOW) |
	       ((flags & AT_EMPTY_PATH) ? VFS_EMPTY_PATH : 0);
}

/* The open file behind fd, unless it is an O_PATH one; its inode is
 * reached through it (inotify names it as the file was opened). */
static int file_of(struct fb_fs *fs, int fd, struct vfs_file **f)
{
	*f = fb_fd_get(fs, fd);
	if (!*f)
		return -EBADF;
	if ((*f)->flags & O_PATH) {
		vfs_file_put(*f);
		return -EBADF;
	}
	vfs_file_reach(*f);
	return 0;
}

static int impl_fb_fchmodat(struct fb_fs *fs, int dirfd, const char *path,
			    mode_t mode, int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, dirfd, path, walk_flags(flags), &ino);
	if (err)
		return err;
	/* A symlink's mode cannot be changed (fchmodat2). */
	err = S_ISLNK(ino->type) ? -EOPNOTSUPP
				 : vfs_chmod(fs->m, &who, ino, mode);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_fchmod(struct fb_fs *fs, int fd, mode_t mode)
{
	struct fuse_caller who;
	struct vfs_file *f;
	int err = file_of(fs, fd, &f);

	if (err)
		return err;
	fb_caller(&who, 0);
	err = vfs_chmod(fs->m, &who, f->inode, mode);
	vfs_file_put(f);
	return err;
}

static int impl_fb_fchownat(struct fb_fs *fs, int dirfd, const char *path,
			    uid_t uid, gid_t gid, int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, dirfd, path, walk_flags(flags), &ino);
	if (err)
		return err;
	err = vfs_chown(fs->m, &who, ino, uid, gid);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_fchown(struct fb_fs *fs, int fd, uid_t uid, gid_t gid)
{
	struct fuse_caller who;
	struct vfs_file *f;
	int err = file_of(fs, fd, &f);

	if (err)
		return err;
	fb_caller(&who, 0);
	err = vfs_chown(fs->m, &who, f->inode, uid, gid);
	vfs_file_put(f);
	return err;
}

static int impl_fb_truncate(struct fb_fs *fs, const char *path, off_t length)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (length < 0)
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, FB_AT_FDCWD, path, VFS_FOLLOW, &ino);
	if (err)
		return err;
	err = vfs_truncate(fs->m, &who, ino, NULL, length);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_ftruncate(struct fb_fs *fs, int fd, off_t length)
{
	struct fuse_caller who;
	struct vfs_file *f = fb_fd_get(fs, fd);
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if (f->flags & O_PATH)
		err = -EBADF;
	else
		err = vfs_truncate(fs->m, &who, f->inode, f, length);
	vfs_file_put(f);
	return err;
}

static int impl_fb_utimensat(struct fb_fs *fs, int dirfd, const char *path,
			     const struct timespec times[2], int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	err = vfs_utimens_early(times);
	if (err)
		return err < 0 ? err : 0;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, dirfd, path, walk_flags(flags), &ino);
	if (err)
		return err;
	err = vfs_utimens(fs->m, &who, ino, times);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_futimens(struct fb_fs *fs, int fd,
			    const struct timespec times[2])
{
	struct fuse_caller who;
	struct vfs_file *f;
	int err = vfs_utimens_early(times);

	if (err)
		return err < 0 ? err : 0;
	err = file_of(fs, fd, &f);
	if (err)
		return err;
	fb_caller(&who, 0);
	err = vfs_utimens(fs->m, &who, f->inode, times);
	vfs_file_put(f);
	return err;
}

/* value NULL: remove name. */
static int xattr_change_at(struct fb_fs *fs, const char *path, int follow,
			   const char *name, const void *value, size_t size,
			   int flags, bool remove)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (!name)
		return -EFAULT;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, FB_AT_FDCWD, path, follow ? VFS_FOLLOW : 0,
			 &ino);
	if (err)
		return err;
	err = remove ? vfs_removexattr(fs->m, &who, ino, name)
		     : vfs_setxattr(fs->m, &who, ino, name, value, size,
				    flags);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int xattr_change_fd(struct fb_fs *fs, int fd, const char *name,
			   const void *value, size_t size, int flags,
			   bool remove)
{
	struct fuse_caller who;
	struct vfs_file *f;
	int err;

	if (!name)
		return -EFAULT;
	err = file_of(fs, fd, &f);
	if (err)
		return err;
	fb_caller(&who, 0);
	err = remove ? vfs_removexattr(fs->m, &who, f->inode, name)
		     : vfs_setxattr(fs->m, &who, f->inode, name, value, size,
				    flags);
	vfs_file_put(f);
	return err;
}

static int impl_fb_setxattr(struct fb_fs *fs, const char *path,
			    const char *name, const void *value, size_t size,
			    int flags)
{
	return xattr_change_at(fs, path, 1, name, value, size, flags, false);
}

static int impl_fb_lsetxattr(struct fb_fs *fs, const char *path,
			     const char *name, const void *value, size_t size,
			     int flags)
{
	return xattr_change_at(fs, path, 0, name, value, size, flags, false);
}

static int impl_fb_fsetxattr(struct fb_fs *fs, int fd, const char *name,
			     const void *value, size_t size, int flags)
{
	return xattr_change_fd(fs, fd, name, value, size, flags, false);
}

static int impl_fb_removexattr(struct fb_fs *fs, const char *path,
			       const char *name)
{
	return xattr_change_at(fs, path, 1, name, NULL, 0, 0, true);
}

static int impl_fb_lremovexattr(struct fb_fs *fs, const char *path,
				const char *name)
{
	return xattr_change_at(fs, path, 0, name, NULL, 0, 0, true);
}

static int impl_fb_fremovexattr(struct fb_fs *fs, int fd, const char *name)
{
	return xattr_change_fd(fs, fd, name, NULL, 0, 0, true);
}

FB_GUARDED(int, fb_fchmodat, (struct fb_fs *fs, int dirfd, const char *path, mode_t mode, int flags),
	   (fs, dirfd, path, mode, flags))
FB_GUARDED(int, fb_fchmod, (struct fb_fs *fs, int fd, mode_t mode),
	   (fs, fd, mode))
FB_GUARDED(int, fb_fchownat, (struct fb_fs *fs, int dirfd, const char *path, uid_t uid, gid_t gid, int flags),
	   (fs, dirfd, path, uid, gid, flags))
FB_GUARDED(int, fb_fchown, (struct fb_fs *fs, int fd, uid_t uid, gid_t gid),
	   (fs, fd, uid, gid))
FB_GUARDED(int, fb_truncate, (struct fb_fs *fs, const char *path, off_t length),
	   (fs, path, length))
FB_GUARDED(int, fb_ftruncate, (struct fb_fs *fs, int fd, off_t length),
	   (fs, fd, length))
FB_GUARDED(int, fb_utimensat, (struct fb_fs *fs, int dirfd, const char *path, const struct timespec times[2], int flags),
	   (fs, dirfd, path, times, flags))
FB_GUARDED(int, fb_futimens, (struct fb_fs *fs, int fd, const struct timespec times[2]),
	   (fs, fd, times))
FB_GUARDED(int, fb_setxattr, (struct fb_fs *fs, const char *path, const char *name, const void *value, size_t size, int flags),
	   (fs, path, name, value, size, flags))
FB_GUARDED(int, fb_lsetxattr, (struct fb_fs *fs, const char *path, const char *name, const void *value, size_t size, int flags),
	   (fs, path, name, value, size, flags))
FB_GUARDED(int, fb_fsetxattr, (struct fb_fs *fs, int fd, const char *name, const void *value, size_t size, int flags),
	   (fs, fd, name, value, size, flags))
FB_GUARDED(int, fb_removexattr, (struct fb_fs *fs, const char *path, const char *name),
	   (fs, path, name))
FB_GUARDED(int, fb_lremovexattr, (struct fb_fs *fs, const char *path, const char *name),
	   (fs, path, name))
FB_GUARDED(int, fb_fremovexattr, (struct fb_fs *fs, int fd, const char *name),
	   (fs, fd, name))
