/*
 * inotify.c - libfusebox's inotify calls (fb_inotify_*): an instance of
 * the VFS's inotify (vfs/inotify.c), its watches placed by path on any
 * fb_fs.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/fs.h"

struct fb_inotify {
	struct vfs_inotify *in;
	int flags;
};

int fb_inotify_init1(int flags, struct fb_inotify **out)
{
	struct fb_inotify *fi = calloc(1, sizeof(*fi));
	int err;

	if (!fi)
		return -ENOMEM;
	err = vfs_inotify_new(geteuid(), flags, &fi->in);
	if (err) {
		free(fi);
		return err;
	}
	fi->flags = flags;
	*out = fi;
	return 0;
}

void fb_inotify_close(struct fb_inotify *fi)
{
	if (!fi)
		return;
	vfs_inotify_put(fi->in);
	free(fi);
}

static int impl_add_watch(struct fb_inotify *fi, struct fb_fs *fs,
			  const char *path, uint32_t mask)
{
	struct fuse_caller who;
	struct vfs_inode *ino;
	int err;

	/* Linux checks the mask before it looks at the path. */
	if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE))
		return -EINVAL;
	if (!(mask & VFS_INOTIFY_VALID_BITS))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, FB_AT_FDCWD, path,
			 (mask & IN_DONT_FOLLOW) ? 0 : VFS_FOLLOW, &ino);
	if (err)
		return err;
	if ((mask & IN_ONLYDIR) && !S_ISDIR(ino->type))
		err = -ENOTDIR;
	if (!err)
		err = vfs_permission(fs->m, &who, ino, R_OK);
	if (!err)
		err = vfs_inotify_add_watch(fi->in, fs->m, ino, mask);
	vfs_inode_put(fs->m, ino);
	return err;
}

int fb_inotify_add_watch(struct fb_inotify *fi, struct fb_fs *fs,
			 const char *path, uint32_t mask)
{
	int r;

	if (!fi || !fs || !path)
		return -EFAULT;
	r = fb_enter(fs);
	if (r)
		return r;
	r = impl_add_watch(fi, fs, path, mask);
	fb_leave(fs);
	return r;
}

int fb_inotify_rm_watch(struct fb_inotify *fi, int wd)
{
	return vfs_inotify_rm_watch(fi->in, wd);
}

ssize_t fb_inotify_read(struct fb_inotify *fi, void *buf, size_t count)
{
	return vfs_inotify_read(fi->in, buf, count, fi->flags & IN_NONBLOCK);
}

int fb_inotify_nread(struct fb_inotify *fi)
{
	return (int)vfs_inotify_nread(fi->in);
}

int fb_inotify_fd(const struct fb_inotify *fi)
{
	return vfs_inotify_ready_fd(fi->in);
}
