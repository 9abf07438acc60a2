/*
 * fifo.c - FIFOs (and the local side of sockets) on a mount. Linux never sends OPEN, READ or WRITE for a
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
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
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

/* A blocking open of a FIFO waits for the other end, and a caller that
 * is signalled meanwhile must stop waiting, as on Linux. The open runs
 * in its own thread, which a signal with a do-nothing handler (no
 * SA_RESTART) knocks out of open(2) once the caller is gone. */
struct fifo_opener {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	const char *path;
	int flags, fd, err;
	bool done;
};

#define FIFO_KICK_SIGNAL (SIGRTMIN + 3)
#define FIFO_POLL_NS (10 * 1000 * 1000)

static void kick_handler(int sig)
{
	(void)sig;
}

static void kick_install(void)
{
	struct sigaction sa = { .sa_handler = kick_handler };

	sigemptyset(&sa.sa_mask);
	sigaction(FIFO_KICK_SIGNAL, &sa, NULL);
}

static void *opener_main(void *arg)
{
	struct fifo_opener *o = arg;
	int fd = open(o->path, o->flags);

	pthread_mutex_lock(&o->lock);
	o->fd = fd;
	o->err = fd < 0 ? -errno : 0;
	o->done = true;
	pthread_cond_signal(&o->cv);
	pthread_mutex_unlock(&o->lock);
	return NULL;
}

static int open_interruptible(const char *path, int flags)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	struct fifo_opener o = { .path = path, .flags = flags, .fd = -1 };
	bool gone = false;
	pthread_t t;
	int fd;

	if ((flags & O_NONBLOCK) || !fuse_has_waiter()) {
		fd = open(path, flags);
		return fd < 0 ? -errno : fd;
	}
	fuse_waiter_block();
	pthread_once(&once, kick_install);
	pthread_mutex_init(&o.lock, NULL);
	pthread_cond_init(&o.cv, NULL);
	if (pthread_create(&t, NULL, opener_main, &o)) {
		fd = open(path, flags);
		return fd < 0 ? -errno : fd;
	}
	pthread_mutex_lock(&o.lock);
	while (!o.done) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += FIFO_POLL_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		if (pthread_cond_timedwait(&o.cv, &o.lock, &ts) != ETIMEDOUT)
			continue;
		pthread_mutex_unlock(&o.lock);
		/* Asked once; then kicked until it leaves open(2) (a kick
		 * that lands before open(2) starts is lost). */
		if (!gone)
			gone = fuse_caller_gone();
		if (gone)
			pthread_kill(t, FIFO_KICK_SIGNAL);
		pthread_mutex_lock(&o.lock);
	}
	pthread_mutex_unlock(&o.lock);
	pthread_join(t, NULL);
	pthread_cond_destroy(&o.cv);
	pthread_mutex_destroy(&o.lock);
	if (gone && o.fd >= 0) {
		close(o.fd); /* the caller has gone on without it */
		return -EINTR;
	}
	return o.fd >= 0 ? o.fd : o.err;
}

int vfs_local_path(struct vfs_mount *m, struct vfs_inode *ino, char *out,
		   size_t size)
{
	char dir[PATH_MAX];
	int err = fifo_dir(m, dir, sizeof(dir));

	if (err)
		return err;
	if ((size_t)snprintf(out, size, "%s/%llu.%llu", dir,
			     (unsigned long long)ino->nodeid,
			     (unsigned long long)ino->generation) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int vfs_fifo_open(struct vfs_mount *m, struct vfs_inode *ino, int flags,
		  struct vfs_file **out)
{
	char path[PATH_MAX + 64];
	int fd, err = vfs_local_path(m, ino, path, sizeof(path));

	if (err)
		return err;
	/* A node id the server reused may find the local object of a dead
	 * node of another type (a socket's): replace it. */
	if (mkfifo(path, 0600) < 0) {
		struct stat st;

		if (errno != EEXIST)
			return -errno;
		if (lstat(path, &st) == 0 && !S_ISFIFO(st.st_mode) &&
		    (unlink(path) < 0 || mkfifo(path, 0600) < 0))
			return -errno;
	}
	/* May block until the other end opens, as open(2) of a FIFO. */
	fd = open_interruptible(path, (flags & (O_ACCMODE | O_NONBLOCK)) |
					      O_CLOEXEC);
	if (fd < 0)
		return fd;
	err = vfs_file_new(m, ino, flags, false, NULL, out);
	if (err) {
		close(fd);
		return err;
	}
	(*out)->native_fd = fd;
	vfs_file_opened(*out);
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
