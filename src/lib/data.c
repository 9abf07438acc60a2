/*
 * data.c - libfusebox calls on an open file's data: write, the syncs,
 * fallocate, copy_file_range, and record and flock locks.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>

#include "lib/fs.h"

static ssize_t impl_fb_write(struct fb_fs *fs, int fd, const void *buf,
			     size_t count)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	ssize_t n;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	n = vfs_write(f, &who, buf, count);
	vfs_file_put(f);
	return n;
}

static ssize_t impl_fb_pwrite(struct fb_fs *fs, int fd, const void *buf,
			      size_t count, off_t offset)
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
		n = vfs_pwrite(f, &who, buf, count, offset);
	vfs_file_put(f);
	return n;
}

static int sync_fd(struct fb_fs *fs, int fd, int how)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if (how == 2)
		err = (f->flags & O_PATH) ? -EBADF : vfs_syncfs(fs->m, &who);
	else
		err = vfs_fsync(f, &who, how == 1);
	vfs_file_put(f);
	return err;
}

static int impl_fb_fsync(struct fb_fs *fs, int fd)
{
	return sync_fd(fs, fd, 0);
}

static int impl_fb_fdatasync(struct fb_fs *fs, int fd)
{
	return sync_fd(fs, fd, 1);
}

static int impl_fb_syncfs(struct fb_fs *fs, int fd)
{
	return sync_fd(fs, fd, 2);
}

static int impl_fb_fallocate(struct fb_fs *fs, int fd, int mode,
			     off_t offset, off_t len)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	err = vfs_fallocate(f, &who, mode, offset, len);
	vfs_file_put(f);
	return err;
}

static ssize_t impl_fb_copy_file_range(struct fb_fs *fs, int fd_in,
				       off_t *off_in, int fd_out,
				       off_t *off_out, size_t len,
				       unsigned int flags)
{
	struct vfs_file *in = fb_fd_get(fs, fd_in);
	struct vfs_file *out = fb_fd_get(fs, fd_out);
	struct fuse_caller who;
	ssize_t n = -EBADF;

	fb_caller(&who, 0);
	if (in && out)
		n = vfs_copy_file_range(in, off_in, out, off_out, len, flags,
					&who);
	if (in)
		vfs_file_put(in);
	if (out)
		vfs_file_put(out);
	return n;
}

static int impl_fb_fcntl_lock(struct fb_fs *fs, int fd, int cmd,
			      struct flock *lk)
{
	struct vfs_file *f;
	struct fuse_caller who;
	uint64_t owner;
	int vcmd, err;

	switch (cmd) {
	case F_GETLK:
	case F_OFD_GETLK:
		vcmd = F_GETLK;
		break;
	case F_SETLK:
	case F_OFD_SETLK:
		vcmd = F_SETLK;
		break;
	case F_SETLKW:
	case F_OFD_SETLKW:
		vcmd = F_SETLKW;
		break;
	default:
		return -EINVAL;
	}
	if (!lk)
		return -EFAULT;
	f = fb_fd_get(fs, fd);
	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	if (cmd == F_OFD_GETLK || cmd == F_OFD_SETLK || cmd == F_OFD_SETLKW) {
		/* OFD locks belong to the open file; l_pid must be 0. */
		if (lk->l_pid != 0) {
			vfs_file_put(f);
			return -EINVAL;
		}
		owner = (uint64_t)(uintptr_t)f;
	} else {
		owner = fs->m->lock_owner;
	}
	err = vfs_lock(f, &who, vcmd, owner, lk);
	if (!err && vcmd == F_GETLK && lk->l_type != F_UNLCK &&
	    (cmd == F_OFD_GETLK || lk->l_pid == 0))
		lk->l_pid = -1; /* held by an open file, not a process */
	vfs_file_put(f);
	return err;
}

static int impl_fb_flock(struct fb_fs *fs, int fd, int op)
{
	struct vfs_file *f = fb_fd_get(fs, fd);
	struct fuse_caller who;
	int err;

	if (!f)
		return -EBADF;
	fb_caller(&who, 0);
	err = vfs_flock(f, &who, op);
	vfs_file_put(f);
	return err;
}

FB_GUARDED(ssize_t, fb_write, (struct fb_fs *fs, int fd, const void *buf, size_t count),
	   (fs, fd, buf, count))
FB_GUARDED(ssize_t, fb_pwrite, (struct fb_fs *fs, int fd, const void *buf, size_t count, off_t offset),
	   (fs, fd, buf, count, offset))
FB_GUARDED(int, fb_fsync, (struct fb_fs *fs, int fd), (fs, fd))
FB_GUARDED(int, fb_fdatasync, (struct fb_fs *fs, int fd), (fs, fd))
FB_GUARDED(int, fb_syncfs, (struct fb_fs *fs, int fd), (fs, fd))
FB_GUARDED(int, fb_fallocate, (struct fb_fs *fs, int fd, int mode, off_t offset, off_t len),
	   (fs, fd, mode, offset, len))
FB_GUARDED(ssize_t, fb_copy_file_range, (struct fb_fs *fs, int fd_in, off_t *off_in, int fd_out, off_t *off_out, size_t len, unsigned int flags),
	   (fs, fd_in, off_in, fd_out, off_out, len, flags))
FB_GUARDED(int, fb_fcntl_lock, (struct fb_fs *fs, int fd, int cmd, struct flock *lk),
	   (fs, fd, cmd, lk))
FB_GUARDED(int, fb_flock, (struct fb_fs *fs, int fd, int op), (fs, fd, op))
