/*
 * names.c - libfusebox calls that make, link, remove and rename names:
 * walk to the parent directory, then hand the last name to the VFS.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>

#include "lib/fs.h"

/* The parent of path in *dir (referenced) and its last name in a heap
 * struct vfs_last (freed by the caller), with the umask for creating. */
static int parent_for(struct fb_fs *fs, struct fuse_caller *who, int dirfd,
		      const char *path, struct vfs_inode **dir,
		      struct vfs_last **last)
{
	int err;

	*last = malloc(sizeof(**last));
	if (!*last)
		return -ENOMEM;
	fb_caller(who, 0);
	fb_caller_umask(who);
	err = fb_parent(fs, who, dirfd, path, dir, *last);
	if (err) {
		free(*last);
		*last = NULL;
	}
	return err;
}

static int impl_fb_mkdirat(struct fb_fs *fs, int dirfd, const char *path,
			   mode_t mode)
{
	struct fuse_caller who;
	struct vfs_inode *dir;
	struct vfs_last *last;
	int err = parent_for(fs, &who, dirfd, path, &dir, &last);

	if (err)
		return err;
	err = vfs_mkdir(fs->m, &who, dir, last, mode);
	vfs_inode_put(fs->m, dir);
	free(last);
	return err;
}

static int impl_fb_mknodat(struct fb_fs *fs, int dirfd, const char *path,
			   mode_t mode, dev_t dev)
{
	struct fuse_caller who;
	struct vfs_inode *dir;
	struct vfs_last *last;
	int err = parent_for(fs, &who, dirfd, path, &dir, &last);

	if (err)
		return err;
	err = vfs_mknod(fs->m, &who, dir, last, mode, dev, NULL);
	vfs_inode_put(fs->m, dir);
	free(last);
	return err;
}

static int impl_fb_symlinkat(struct fb_fs *fs, const char *target,
			     int newdirfd, const char *linkpath)
{
	struct fuse_caller who;
	struct vfs_inode *dir;
	struct vfs_last *last;
	int err;

	if (!target)
		return -EFAULT;
	err = parent_for(fs, &who, newdirfd, linkpath, &dir, &last);
	if (err)
		return err;
	err = vfs_symlink(fs->m, &who, dir, last, target);
	vfs_inode_put(fs->m, dir);
	free(last);
	return err;
}

static int impl_fb_linkat(struct fb_fs *fs, int olddirfd, const char *oldpath,
			  int newdirfd, const char *newpath, int flags)
{
	struct fuse_caller who;
	struct vfs_inode *ino, *dir;
	struct vfs_last *last;
	int err;

	if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
		return -EINVAL;
	fb_caller(&who, 0);
	err = fb_resolve(fs, &who, olddirfd, oldpath,
			 ((flags & AT_SYMLINK_FOLLOW) ? VFS_FOLLOW : 0) |
				 ((flags & AT_EMPTY_PATH) ? VFS_EMPTY_PATH : 0),
			 &ino);
	if (err)
		return err;
	err = parent_for(fs, &who, newdirfd, newpath, &dir, &last);
	if (!err) {
		err = vfs_link(fs->m, &who, ino, dir, last);
		vfs_inode_put(fs->m, dir);
		free(last);
	}
	vfs_inode_put(fs->m, ino);
	return err;
}

static int impl_fb_unlinkat(struct fb_fs *fs, int dirfd, const char *path,
			    int flags)
{
	struct fuse_caller who;
	struct vfs_inode *dir;
	struct vfs_last *last;
	int err;

	if (flags & ~AT_REMOVEDIR)
		return -EINVAL;
	err = parent_for(fs, &who, dirfd, path, &dir, &last);
	if (err)
		return err;
	if (flags & AT_REMOVEDIR)
		err = vfs_rmdir(fs->m, &who, dir, last);
	else
		err = vfs_unlink(fs->m, &who, dir, last);
	vfs_inode_put(fs->m, dir);
	free(last);
	return err;
}

static int impl_fb_renameat2(struct fb_fs *fs, int olddirfd,
			     const char *oldpath, int newdirfd,
			     const char *newpath, unsigned int flags)
{
	struct fuse_caller who;
	struct vfs_inode *odir, *ndir;
	struct vfs_last *ol, *nl;
	int err = parent_for(fs, &who, olddirfd, oldpath, &odir, &ol);

	if (err)
		return err;
	err = parent_for(fs, &who, newdirfd, newpath, &ndir, &nl);
	if (!err) {
		err = vfs_rename(fs->m, &who, odir, ol, ndir, nl, flags);
		vfs_inode_put(fs->m, ndir);
		free(nl);
	}
	vfs_inode_put(fs->m, odir);
	free(ol);
	return err;
}

static int impl_fb_renameat(struct fb_fs *fs, int olddirfd,
			    const char *oldpath, int newdirfd,
			    const char *newpath)
{
	return impl_fb_renameat2(fs, olddirfd, oldpath, newdirfd, newpath, 0);
}

FB_GUARDED(int, fb_mkdirat, (struct fb_fs *fs, int dirfd, const char *path, mode_t mode),
	   (fs, dirfd, path, mode))
FB_GUARDED(int, fb_mknodat, (struct fb_fs *fs, int dirfd, const char *path, mode_t mode, dev_t dev),
	   (fs, dirfd, path, mode, dev))
FB_GUARDED(int, fb_symlinkat, (struct fb_fs *fs, const char *target, int newdirfd, const char *linkpath),
	   (fs, target, newdirfd, linkpath))
FB_GUARDED(int, fb_linkat, (struct fb_fs *fs, int olddirfd, const char *oldpath, int newdirfd, const char *newpath, int flags),
	   (fs, olddirfd, oldpath, newdirfd, newpath, flags))
FB_GUARDED(int, fb_unlinkat, (struct fb_fs *fs, int dirfd, const char *path, int flags),
	   (fs, dirfd, path, flags))
FB_GUARDED(int, fb_renameat2, (struct fb_fs *fs, int olddirfd, const char *oldpath, int newdirfd, const char *newpath, unsigned int flags),
	   (fs, olddirfd, oldpath, newdirfd, newpath, flags))
FB_GUARDED(int, fb_renameat, (struct fb_fs *fs, int olddirfd, const char *oldpath, int newdirfd, const char *newpath),
	   (fs, olddirfd, oldpath, newdirfd, newpath))
