/*
 * readonly.c - the calls that would change the filesystem. Writing comes
 * with the read-write work; until then each gives the errno Linux gives
 * first on a read-only mount (ENOENT, EEXIST, EBADF ... before EROFS).
 */
#include <errno.h>
#include <fcntl.h>

#include "lib/fs.h"

static int exists_then_erofs(struct fb_fs *fs, int dirfd, const char *path,
			     int follow)
{
	struct fuse_caller who;
	struct vfs_inode *start, *ino;
	int err;

	fb_caller(&who, 0);
	if (!path)
		return -EFAULT;
	if (path[0] == '/' || dirfd == FB_AT_FDCWD) {
		start = fs->m->root;
		pthread_mutex_lock(&fs->m->lock);
		vfs_inode_get(start);
		pthread_mutex_unlock(&fs->m->lock);
	} else {
		struct vfs_file *f = fb_fd_get(fs, dirfd);

		if (!f)
			return -EBADF;
		start = f->inode;
		pthread_mutex_lock(&fs->m->lock);
		vfs_inode_get(start);
		pthread_mutex_unlock(&fs->m->lock);
		vfs_file_put(f);
	}
	err = vfs_walk(fs->m, &who, start, path, follow ? VFS_FOLLOW : 0,
		       &ino);
	vfs_inode_put(fs->m, start);
	if (err)
		return err;
	vfs_inode_put(fs->m, ino);
	return -EROFS;
}

static int fd_not_writable(struct fb_fs *fs, int fd, int err)
{
	struct vfs_file *f = fb_fd_get(fs, fd);

	if (!f)
		return -EBADF;
	vfs_file_put(f);
	return err; /* every descriptor is open read-only */
}

static ssize_t impl_fb_write(struct fb_fs *fs, int fd, const void *buf, size_t count)
{
	return fd_not_writable(fs, fd, -EBADF);
}

static ssize_t impl_fb_pwrite(struct fb_fs *fs, int fd, const void *buf, size_t count,
		  off_t offset)
{
	return fd_not_writable(fs, fd, -EBADF);
}

static int impl_fb_ftruncate(struct fb_fs *fs, int fd, off_t length)
{
	return fd_not_writable(fs, fd, -EINVAL);
}

static int impl_fb_mkdirat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode)
{
	int err = exists_then_erofs(fs, dirfd, path, 0);

	return err == -EROFS ? -EEXIST : err == -ENOENT ? -EROFS : err;
}

static int impl_fb_symlinkat(struct fb_fs *fs, const char *target, int newdirfd,
		 const char *linkpath)
{
	return impl_fb_mkdirat(fs, newdirfd, linkpath, 0);
}

static int impl_fb_unlinkat(struct fb_fs *fs, int dirfd, const char *path, int flags)
{
	return exists_then_erofs(fs, dirfd, path, 0);
}

static int impl_fb_renameat(struct fb_fs *fs, int olddirfd, const char *oldpath,
		int newdirfd, const char *newpath)
{
	return exists_then_erofs(fs, olddirfd, oldpath, 0);
}

static int impl_fb_fchmodat(struct fb_fs *fs, int dirfd, const char *path, mode_t mode,
		int flags)
{
	return exists_then_erofs(fs, dirfd, path,
				 !(flags & AT_SYMLINK_NOFOLLOW));
}

/* Public entry points: each counts as a call in progress, so that
 * fb_unmount() waits for it before freeing the handle. */
FB_GUARDED(ssize_t, fb_write, (struct fb_fs *fs, int fd, const void *buf, size_t count),
	   (fs, fd, buf, count))
FB_GUARDED(ssize_t, fb_pwrite, (struct fb_fs *fs, int fd, const void *buf, size_t count, off_t offset),
	   (fs, fd, buf, count, offset))
FB_GUARDED(int, fb_ftruncate, (struct fb_fs *fs, int fd, off_t length),
	   (fs, fd, length))
FB_GUARDED(int, fb_mkdirat, (struct fb_fs *fs, int dirfd, const char *path, mode_t mode),
	   (fs, dirfd, path, mode))
FB_GUARDED(int, fb_symlinkat, (struct fb_fs *fs, const char *target, int newdirfd, const char *linkpath),
	   (fs, target, newdirfd, linkpath))
FB_GUARDED(int, fb_unlinkat, (struct fb_fs *fs, int dirfd, const char *path, int flags),
	   (fs, dirfd, path, flags))
FB_GUARDED(int, fb_renameat, (struct fb_fs *fs, int olddirfd, const char *oldpath, int newdirfd, const char *newpath),
	   (fs, olddirfd, oldpath, newdirfd, newpath))
FB_GUARDED(int, fb_fchmodat, (struct fb_fs *fs, int dirfd, const char *path, mode_t mode, int flags),
	   (fs, dirfd, path, mode, flags))
