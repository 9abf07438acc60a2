/*
 * fifo.c - FIFOs on a mount. Linux never sends OPEN, READ or WRITE for a
 * FIFO on a FUSE mount: the node is the server's, the pipe is the local
 * kernel's, shared by every opener of that node. Here each FIFO node gets
 * a real FIFO in a private directory (made on first use, removed with the
 * mount), and an open of the node opens it with the caller's flags, so
 * the kernel gives the real pipe semantics: blocking opens wait for the
 * other end, O_WRONLY|O_NONBLOCK without a reader is ENXIO, and so on.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfs/vfs.h"

static int fifo_dir(struct vfs_mount *m, char *out, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	int err = 0;

	pthread_mutex_lock(&m->lock);
	if (!m->fifo_dir) {
		char tmpl[PATH_MAX];

		snprintf(tmpl, sizeof(tmpl), "%s/fusebox-fifo-XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		if (mkdtemp(tmpl))
			m->fifo_dir = strdup(tmpl);
		if (!m->fifo_dir)
			err = -errno ? -errno : -ENOMEM;
	}
	if (!err)
		snprintf(out, size, "%s", m->fifo_dir);
	pthread_mutex_unlock(&m->lock);
	return err;
}

int vfs_fifo_open(struct vfs_mount *m, struct vfs_inode *ino, int flags,
		  struct vfs_file **out)
{
	char dir[PATH_MAX], path[PATH_MAX + 64];
	int fd, err = fifo_dir(m, dir, sizeof(dir));

	if (err)
		return err;
	snprintf(path, sizeof(path), "%s/%llu.%llu", dir,
		 (unsigned long long)ino->nodeid,
		 (unsigned long long)ino->generation);
	if (mkfifo(path, 0600) < 0 && errno != EEXIST)
		return -errno;
	/* May block until the other end opens, as open(2) of a FIFO. */
	fd = open(path, (flags & (O_ACCMODE | O_NONBLOCK)) | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = vfs_file_new(m, ino, flags, false, NULL, out);
	if (err) {
		close(fd);
		return err;
	}
	(*out)->native_fd = fd;
	return 0;
}

void vfs_fifo_cleanup(struct vfs_mount *m)
{
	DIR *d;
	struct dirent *e;

	if (!m->fifo_dir)
		return;
	d = opendir(m->fifo_dir);
	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.')
			unlinkat(dirfd(d), e->d_name, 0);
	if (d)
		closedir(d);
	rmdir(m->fifo_dir);
	free(m->fifo_dir);
	m->fifo_dir = NULL;
}
