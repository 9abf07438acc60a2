/*
 * fdtable.c - libfusebox's descriptor numbers: the lowest free number, as
 * POSIX gives them. A lookup takes a reference, so a descriptor closed by
 * one thread stays valid for a call already running in another.
 */
#include <errno.h>
#include <stdlib.h>

#include "lib/fs.h"

int fb_fd_install(struct fb_fs *fs, struct vfs_file *f)
{
	int fd;

	pthread_mutex_lock(&fs->fd_lock);
	for (fd = 0; fd < fs->n_fds && fs->fds[fd]; fd++)
		;
	if (fd == fs->n_fds) {
		int n = fs->n_fds ? fs->n_fds * 2 : 16;
		struct vfs_file **nf = realloc(fs->fds, (size_t)n * sizeof(*nf));

		if (!nf) {
			pthread_mutex_unlock(&fs->fd_lock);
			return -ENOMEM;
		}
		for (int i = fs->n_fds; i < n; i++)
			nf[i] = NULL;
		fs->fds = nf;
		fs->n_fds = n;
	}
	fs->fds[fd] = f;
	pthread_mutex_unlock(&fs->fd_lock);
	return fd;
}

struct vfs_file *fb_fd_get(struct fb_fs *fs, int fd)
{
	struct vfs_file *f = NULL;

	pthread_mutex_lock(&fs->fd_lock);
	if (fd >= 0 && fd < fs->n_fds && fs->fds[fd]) {
		f = fs->fds[fd];
		vfs_file_get(f);
	}
	pthread_mutex_unlock(&fs->fd_lock);
	return f;
}

struct vfs_file *fb_fd_remove(struct fb_fs *fs, int fd)
{
	struct vfs_file *f = NULL;

	pthread_mutex_lock(&fs->fd_lock);
	if (fd >= 0 && fd < fs->n_fds) {
		f = fs->fds[fd];
		fs->fds[fd] = NULL;
	}
	pthread_mutex_unlock(&fs->fd_lock);
	return f;
}
