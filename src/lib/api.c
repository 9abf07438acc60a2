/*
 * api.c - the *at()-shaped calls of libfusebox: resolve the starting
 * directory, walk, and hand over to the VFS. Errors are negative errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fs.h"

/* The inode a path is resolved from, referenced. */
int fb_start_inode(struct fb_fs *fs, int dirfd, const char *path,
		       struct vfs_inode **out)
{
	struct vfs_file *f;

	if (!path)
		return -EFAULT;
	if (path[0] == '/' || dirfd == FB_AT_FDCWD) {
		*out = fs->m->root;
	} else {
		f = fb_fd_get(fs, dirfd);
		if (!f)
			return -EBADF;
		*out = f->inode;
		if (!S_ISDIR(f->inode->type) && path[0]) {
			vfs_file_put(f);
			return -ENOTDIR;
		}
		pthread_mutex_lock(&fs->m->lock);
		vfs_inode_get(*out);
		pthread_mutex_unlock(&fs->m->lock);
		vfs_file_put(f);
		return 0;
	}
	pthread_mutex_lock(&fs->m->lock);
	vfs_inode_get(*out);
	pthread_mutex_unlock(&fs->m->lock);
	return 0;
}

int fb_resolve(struct fb_fs *fs, const struct fuse_caller *who, int dirfd,
	       const char *path, int walk_flags, struct vfs_inode **out)
{
	struct vfs_inode *start;
	int err = fb_start_inode(fs, dirfd, path, &start);

	if (err)
		return err;
	err = vfs_walk(fs->m, who, start, path, walk_flags, out);
	vfs_inode_put(fs->m, start);
	return err;
}

int fb_parent(struct fb_fs *fs, const struct fuse_caller *who, int dirfd,
	      const char *path, struct vfs_inode **dir, struct vfs_last *last)
{
	struct vfs_inode *start;
	int err = fb_start_inode(fs, dirfd, path, &start);

	if (err)
		return err;
	err = vfs_walk_parent(fs->m, who, start, path, dir, last);
	vfs_inode_put(fs->m, start);
	return err;
}

/* open(2) with O_CREAT: the last name may be made. */
static int open_create(struct fb_fs *fs, struct fuse_caller *who, int dirfd,
		       const char *path, int flags, mode_t mode,
		       struct vfs_file **f)
{
	struct vfs_inode *start;
	int err = fb_start_inode(fs, dirfd, path, &start);

	if (err)
		return err;
	fb_caller_umask(who);
	err = vfs_open_create(fs->m, who, start, path, flags, mode, f);
	vfs_inode_put(fs->m, start);
	return err;
}

static int impl_fb_openat(struct fb_fs *fs, int dirfd, const char *path, int flags,
	      mode_t mode)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	struct vfs_file *f;
	int walk = VFS_FOLLOW, err, fd;

	fb_caller(&who, 0);
	if ((flags & O_CREAT) && (flags & O_DIRECTORY))
		return -EINVAL; /* as Linux since 6.4 */
	if ((flags & O_TMPFILE) == O_TMPFILE) {
		/* path names the directory the file is made in. */
		if ((flags & O_ACCMODE) == O_RDONLY)
			return -EINVAL;
		fb_caller_umask(&who);
		err = fb_resolve(fs, &who, dirfd, path, VFS_FOLLOW, &ino);
		if (err)
			return err;
		err = vfs_tmpfile(fs->m, &who, ino, flags & ~O_DIRECTORY, mode,
				  &f);
		vfs_inode_put(fs->m, ino);
	} else if (flags & O_CREAT) {
		err = open_create(fs, &who, dirfd, path, flags, mode, &f);
	} else {
		if (flags & O_NOFOLLOW)
			walk = 0;
		err = fb_resolve(fs, &who, dirfd, path, walk, &ino);
		if (err)
			return err;
		err = vfs_open_check(ino, flags);
		if (!err)
			err = vfs_open(fs->m, &who, ino, flags & ~O_NOCTTY,
				       &f);
		vfs_inode_put(fs->m, ino);
	}
	if (err)
		return err;
	fd = fb_fd_install(fs, f);
	if (fd < 0) {
		vfs_file_put(f);
		return fd;
	}
	return fd;
}

static int impl_fb_open(struct fb_fs *fs, const char *path, int flags)
{
	return impl_fb_openat(fs, FB_AT_FDCWD, path, flags, 0);
}

static int impl_fb_close(struct fb_fs *fs, int fd)
{
	struct vfs_file *f = fb_fd_remove(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	err = vfs_file_flush(f, &who, fs->m->lock_owner);
	vfs_file_put(f);
	return err;
}

static ssize_t impl_fb_read(struct fb_fs *fs, int fd, void *buf, size_t count)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	ssize_t n;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	/* An O_PATH descriptor is EBADF first, as Linux's fdget. */
	n = (f->flags & O_PATH)		? -EBADF
	    : S_ISDIR(f->inode->type) ? -EISDIR
				      : vfs_read(f, &who, buf, count);
	vfs_file_put(f);
	return n;
}

static ssize_t impl_fb_pread(struct fb_fs *fs, int fd, void *buf, size_t count,
		 off_t offset)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	ssize_t n;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if (f->open_flags & (FOPEN_NONSEEKABLE | FOPEN_STREAM))
		n = -ESPIPE;
	else
		n = vfs_pread(f, &who, buf, count, offset);
	vfs_file_put(f);
	return n;
}

static off_t impl_fb_lseek(struct fb_fs *fs, int fd, off_t offset, int whence)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	off_t r;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	r = vfs_lseek(f, &who, offset, whence);
	vfs_file_put(f);
	return r;
}

static ssize_t impl_fb_getdents64(struct fb_fs *fs, int fd, void *buf, size_t count)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	ssize_t n;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	n = vfs_getdents64(f, &who, buf, count);
	vfs_file_put(f);
	return n;
}

static int impl_fb_fstat(struct fb_fs *fs, int fd, struct stat *st)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	err = vfs_getattr(fs->m, &who, f->inode, f, false, st);
	vfs_file_put(f);
	return err;
}

static int impl_fb_fstatat(struct fb_fs *fs, int dirfd, const char *path, struct stat *st,
	       int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, dirfd, path,
		      ((flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_FOLLOW) |
			      ((flags & AT_EMPTY_PATH) ? VFS_EMPTY_PATH : 0),
		      &ino);
	if (err)
		return err;
	err = vfs_getattr(fs->m, &who, ino, NULL, false, st);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_stat(struct fb_fs *fs, const char *path, struct stat *st)
{
	return impl_fb_fstatat(fs, FB_AT_FDCWD, path, st, 0);
}

static int impl_fb_lstat(struct fb_fs *fs, const char *path, struct stat *st)
{
	return impl_fb_fstatat(fs, FB_AT_FDCWD, path, st, AT_SYMLINK_NOFOLLOW);
}

static ssize_t impl_fb_readlinkat(struct fb_fs *fs, int dirfd, const char *path,
		      char *buf, size_t size)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	ssize_t n;
	int err;

	if ((ssize_t)size <= 0)
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, dirfd, path, VFS_EMPTY_PATH, &ino);
	if (err)
		return err;
	n = vfs_readlink(fs->m, &who, ino, buf, size);
	vfs_inode_put(fs->m, ino);
	return n;
}

static int impl_fb_statfs(struct fb_fs *fs, const char *path, struct statfs *sfs)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, FB_AT_FDCWD, path, VFS_FOLLOW, &ino);
	if (err)
		return err;
	err = vfs_statfs(fs->m, &who, ino, sfs);
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_fstatfs(struct fb_fs *fs, int fd, struct statfs *sfs)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	err = vfs_statfs(fs->m, &who, f->inode, sfs);
	vfs_file_put(f);
	return err;
}

static int impl_fb_faccessat(struct fb_fs *fs, int dirfd, const char *path, int mode,
		 int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	if (mode & ~(R_OK | W_OK | X_OK))
		return -EINVAL;
	fb_caller(&who, !(flags & AT_EACCESS));
	err = fb_resolve(fs, &who, dirfd, path,
		      ((flags & AT_SYMLINK_NOFOLLOW) ? 0 : VFS_FOLLOW) |
			      ((flags & AT_EMPTY_PATH) ? VFS_EMPTY_PATH : 0),
		      &ino);
	if (err)
		return err;
	err = vfs_access(fs->m, &who, ino, mode);
	vfs_inode_put(fs->m, ino);
	return err;
}

static ssize_t xattr_at(struct fb_fs *fs, const char *path, int follow,
			const char *name, void *value, size_t size, int list)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	ssize_t n;
	int err;

	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, FB_AT_FDCWD, path, follow ? VFS_FOLLOW : 0,
		      &ino);
	if (err)
		return err;
	n = list ? vfs_listxattr(fs->m, &who, ino, value, size)
		 : vfs_getxattr(fs->m, &who, ino, name, value, size);
	vfs_inode_put(fs->m, ino);
	return n;
}

static ssize_t xattr_fd(struct fb_fs *fs, int fd, const char *name,
			void *value, size_t size, int list)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	ssize_t n;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if (f->flags & O_PATH)
		n = -EBADF;
	else
		n = list ? vfs_listxattr(fs->m, &who, f->inode, value, size)
			 : vfs_getxattr(fs->m, &who, f->inode, name, value,
					size);
	vfs_file_put(f);
	return n;
}

static ssize_t impl_fb_getxattr(struct fb_fs *fs, const char *path, const char *name,
		    void *value, size_t size)
{
	return xattr_at(fs, path, 1, name, value, size, 0);
}

static ssize_t impl_fb_lgetxattr(struct fb_fs *fs, const char *path, const char *name,
		     void *value, size_t size)
{
	return xattr_at(fs, path, 0, name, value, size, 0);
}

static ssize_t impl_fb_fgetxattr(struct fb_fs *fs, int fd, const char *name, void *value,
		     size_t size)
{
	return xattr_fd(fs, fd, name, value, size, 0);
}

static ssize_t impl_fb_listxattr(struct fb_fs *fs, const char *path, char *list,
		     size_t size)
{
	return xattr_at(fs, path, 1, NULL, list, size, 1);
}

static ssize_t impl_fb_llistxattr(struct fb_fs *fs, const char *path, char *list,
		      size_t size)
{
	return xattr_at(fs, path, 0, NULL, list, size, 1);
}

static ssize_t impl_fb_flistxattr(struct fb_fs *fs, int fd, char *list, size_t size)
{
	return xattr_fd(fs, fd, NULL, list, size, 1);
}

/* Public entry points: each counts as a call in progress, so that
 * fb_unmount() waits for it before freeing the handle. */
FB_GUARDED(int, fb_openat, (struct fb_fs *fs, int dirfd, const char *path, int flags, mode_t mode),
	   (fs, dirfd, path, flags, mode))
FB_GUARDED(int, fb_open, (struct fb_fs *fs, const char *path, int flags),
	   (fs, path, flags))
FB_GUARDED(int, fb_close, (struct fb_fs *fs, int fd),
	   (fs, fd))
FB_GUARDED(ssize_t, fb_read, (struct fb_fs *fs, int fd, void *buf, size_t count),
	   (fs, fd, buf, count))
FB_GUARDED(ssize_t, fb_pread, (struct fb_fs *fs, int fd, void *buf, size_t count, off_t offset),
	   (fs, fd, buf, count, offset))
FB_GUARDED(off_t, fb_lseek, (struct fb_fs *fs, int fd, off_t offset, int whence),
	   (fs, fd, offset, whence))
FB_GUARDED(ssize_t, fb_getdents64, (struct fb_fs *fs, int fd, void *buf, size_t count),
	   (fs, fd, buf, count))
FB_GUARDED(int, fb_fstat, (struct fb_fs *fs, int fd, struct stat *st),
	   (fs, fd, st))
FB_GUARDED(int, fb_fstatat, (struct fb_fs *fs, int dirfd, const char *path, struct stat *st, int flags),
	   (fs, dirfd, path, st, flags))
FB_GUARDED(int, fb_stat, (struct fb_fs *fs, const char *path, struct stat *st),
	   (fs, path, st))
FB_GUARDED(int, fb_lstat, (struct fb_fs *fs, const char *path, struct stat *st),
	   (fs, path, st))
FB_GUARDED(ssize_t, fb_readlinkat, (struct fb_fs *fs, int dirfd, const char *path, char *buf, size_t size),
	   (fs, dirfd, path, buf, size))
FB_GUARDED(int, fb_statfs, (struct fb_fs *fs, const char *path, struct statfs *sfs),
	   (fs, path, sfs))
FB_GUARDED(int, fb_fstatfs, (struct fb_fs *fs, int fd, struct statfs *sfs),
	   (fs, fd, sfs))
FB_GUARDED(int, fb_faccessat, (struct fb_fs *fs, int dirfd, const char *path, int mode, int flags),
	   (fs, dirfd, path, mode, flags))
FB_GUARDED(ssize_t, fb_getxattr, (struct fb_fs *fs, const char *path, const char *name, void *value, size_t size),
	   (fs, path, name, value, size))
FB_GUARDED(ssize_t, fb_lgetxattr, (struct fb_fs *fs, const char *path, const char *name, void *value, size_t size),
	   (fs, path, name, value, size))
FB_GUARDED(ssize_t, fb_fgetxattr, (struct fb_fs *fs, int fd, const char *name, void *value, size_t size),
	   (fs, fd, name, value, size))
FB_GUARDED(ssize_t, fb_listxattr, (struct fb_fs *fs, const char *path, char *list, size_t size),
	   (fs, path, list, size))
FB_GUARDED(ssize_t, fb_llistxattr, (struct fb_fs *fs, const char *path, char *list, size_t size),
	   (fs, path, list, size))
FB_GUARDED(ssize_t, fb_flistxattr, (struct fb_fs *fs, int fd, char *list, size_t size),
	   (fs, fd, list, size))
