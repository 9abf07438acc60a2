/*
 * vfd.c - descriptors of files on a mount, as a sandboxed process holds
 * them.
 *
 * The process gets a placeholder: a memfd re-opened through /proc (a
 * description of the memfd_create'd one would raise no inotify events),
 * read-only, at a number of the trapped window. The vfile is found again
 * by the placeholder's inode. When the last descriptor on the
 * placeholder goes - close, exit, exec with O_CLOEXEC, in whichever
 * process it travelled to - inotify reports IN_CLOSE_NOWRITE and the
 * vfile's reference on the open file (FLUSH, RELEASE) is dropped.
 *
 * The memfd stays empty while every access is trapped. It is filled with
 * the file's data only for mmap (materialize), which then runs natively,
 * and is from then on a mapping of the file in the VFS (sys_mmap.c).
 * A file whose server answers POLL gets a pipe instead (vpoll.c), so that
 * poll, select and epoll on it run natively and see the file's state;
 * such a file cannot be mapped (ENODEV).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define FILL_CHUNK (1024 * 1024)
#define RELEASE_WAIT_MS 1000

static void vfile_free(struct sbx *sb, struct sbx_vfile *v)
{
	struct sbx_mount *mt = v->mnt;

	if (v->f && v->fifo) {
		vfs_file_put(v->f); /* never opened on the server */
	} else if (v->f) {
		/* Its mappings are gone with it: their stores reach the
		 * server before the FLUSH (a failure is logged: no call is
		 * left to return it to). */
		if (v->map)
			vfs_map_put(v->map, &v->who);
		/* The processes that took record locks through it and did
		 * not close(2) it (they exited, or closed by close_range)
		 * lose them now, each as its own close would. */
		for (unsigned i = 0; i < v->n_lock_owners; i++)
			vfs_file_flush(v->f, &v->who, v->lock_owners[i]);
		if (!v->n_lock_owners)
			vfs_file_flush(v->f, &v->who, v->mnt->fs->m->lock_owner);
		/* Until the server has answered the RELEASE (at most
		 * RELEASE_WAIT_MS): the program's next call on a mount waits
		 * for this (sbx_vfile_settle), so a rename or unlink after a
		 * close finds the file released, not hidden as still open
		 * (.fuse_hidden) by a server that took the two at once. */
		vfs_file_put_wait(v->f, RELEASE_WAIT_MS);
	}
	if (v->wd >= 0)
		inotify_rm_watch(sb->inotify, v->wd);
	if (v->memfd >= 0)
		close(v->memfd);
	if (v->ctl >= 0)
		close(v->ctl);
	free(v->path);
	free(v);
	sbx_mount_put(sb, mt);
}

void sbx_vfile_put(struct sbx *sb, struct sbx_vfile *v)
{
	if (!__atomic_sub_fetch(&v->refs, 1, __ATOMIC_ACQ_REL))
		vfile_free(sb, v);
}

/* Take v out of the table; returns whether it was there. */
static bool vfile_unlink(struct sbx *sb, struct sbx_vfile *v)
{
	bool found = false;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_vfile **pp = &sb->vfiles; *pp; pp = &(*pp)->next)
		if (*pp == v) {
			*pp = v->next;
			found = true;
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	if (found)
		sbx_vfile_settle(sb);
	return found;
}

struct sbx_vfile *sbx_vfile_of(struct sbx_call *c, int fd)
{
	struct sbx *sb = c->sb;
	struct stat st;
	char p[64];

	if ((fd < SBX_VFD_LO && (fd < 0 || fd >= SBX_LOW_HI)) ||
	    fd >= SBX_VFD_HI ||
	    (!sb->memfd_dev && !sb->pipe_dev && !sb->fifo_dev))
		return NULL;
	snprintf(p, sizeof(p), "/proc/%d/fd/%d", c->tid, fd);
	if (stat(p, &st) < 0 ||
	    (st.st_dev != sb->memfd_dev && st.st_dev != sb->pipe_dev &&
	     st.st_dev != sb->fifo_dev))
		return NULL;
	return sbx_vfile_by_placeholder(sb, st.st_dev, st.st_ino);
}

struct sbx_vfile *sbx_vfile_by_placeholder(struct sbx *sb, dev_t dev,
					   ino_t ino)
{
	struct sbx_vfile *found = NULL;

	pthread_mutex_lock(&sb->lock);
	for (struct sbx_vfile *v = sb->vfiles; v; v = v->next)
		if (v->ph_ino == ino && v->ph_dev == dev) {
			found = v;
			__atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

static struct sbx_vfile *fifo_find(struct sbx *sb, const struct stat *st)
{
	for (struct sbx_vfile *v = sb->vfiles; v; v = v->next)
		if (v->fifo && v->ph_ino == st->st_ino &&
		    v->ph_dev == st->st_dev)
			return v;
	return NULL;
}

/* The record of the FIFO node behind st (fusebox's private FIFO),
 * made on first use. */
static int fifo_record(struct sbx_call *c, struct sbx_mount *mt,
		       struct vfs_file *f, const char *path,
		       const struct stat *st)
{
	struct sbx *sb = c->sb;
	struct sbx_vfile *v, *made;
	struct vfs_file *pf;

	pthread_mutex_lock(&sb->lock);
	v = fifo_find(sb, st);
	pthread_mutex_unlock(&sb->lock);
	if (v)
		return 0;
	made = calloc(1, sizeof(*made));
	if (!made)
		return -ENOMEM;
	/* A file the server never opened (no fh): the node's metadata
	 * only. Not O_PATH, which fchmod and friends refuse. */
	if (vfs_file_new(mt->fs->m, f->inode, O_RDONLY, false, NULL, &pf)) {
		free(made);
		return -ENOMEM;
	}
	made->fifo = true;
	made->f = pf;
	made->mnt = mt;
	sbx_mount_get(mt);
	made->who = *sbx_who(c);
	made->path = strdup(path);
	made->refs = 1;
	made->memfd = made->ctl = made->wd = -1;
	made->ph_dev = st->st_dev;
	made->ph_ino = st->st_ino;
	pthread_mutex_lock(&sb->lock);
	v = fifo_find(sb, st);
	if (!v) {
		made->next = sb->vfiles;
		sb->vfiles = made;
		sb->fifo_dev = st->st_dev;
	}
	pthread_mutex_unlock(&sb->lock);
	if (v)
		sbx_vfile_put(sb, made); /* another opener made it meanwhile */
	return 0;
}

/* Whether any process we can see holds the FIFO (dev, ino) open. */
static bool fifo_held(dev_t dev, ino_t ino)
{
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	bool held = false;

	while (proc && !held && (pe = readdir(proc))) {
		char p[64];
		DIR *fds;
		struct dirent *fe;

		if (pe->d_name[0] < '1' || pe->d_name[0] > '9' ||
		    atoi(pe->d_name) == getpid())
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fd", atoi(pe->d_name));
		fds = opendir(p);
		while (fds && !held && (fe = readdir(fds))) {
			struct stat st;

			if (fe->d_name[0] == '.')
				continue;
			/* stat, not open: no reader or writer appears. */
			if (!fstatat(dirfd(fds), fe->d_name, &st, 0) &&
			    S_ISFIFO(st.st_mode) && st.st_dev == dev &&
			    st.st_ino == ino)
				held = true;
		}
		if (fds)
			closedir(fds);
	}
	if (proc)
		closedir(proc);
	return held;
}

void sbx_fifo_gc(struct sbx *sb, struct sbx_mount *mt, bool all)
{
	for (;;) {
		struct sbx_vfile *v = NULL;

		pthread_mutex_lock(&sb->lock);
		for (struct sbx_vfile **pp = &sb->vfiles; *pp;
		     pp = &(*pp)->next) {
			struct sbx_vfile *x = *pp;

			if (!x->fifo || x->gc_seen || (mt && x->mnt != mt))
				continue;
			x->gc_seen = true;
			v = x;
			__atomic_add_fetch(&v->refs, 1, __ATOMIC_RELAXED);
			break;
		}
		pthread_mutex_unlock(&sb->lock);
		if (!v)
			break;
		if ((all || !fifo_held(v->ph_dev, v->ph_ino)) &&
		    vfile_unlink(sb, v))
			sbx_vfile_put(sb, v); /* the table's reference */
		sbx_vfile_put(sb, v);
	}
	pthread_mutex_lock(&sb->lock);
	for (struct sbx_vfile *x = sb->vfiles; x; x = x->next)
		x->gc_seen = false;
	pthread_mutex_unlock(&sb->lock);
}

/* A FIFO: the process gets the local pipe itself, in the window, so
 * that its metadata calls (fstat, fchmod, ...) reach the server's node
 * while reads and writes stay the kernel's. Our copy is closed before
 * the call returns: a pipe end left open here would count as a reader
 * or writer (O_NONBLOCK opens, EOF). */
static long fifo_send(struct sbx_call *c, struct sbx_mount *mt,
		      struct vfs_file *f, const char *path, bool cloexec,
		      int at_fd)
{
	struct stat st;
	long r;

	r = fstat(f->native_fd, &st) < 0 ? -errno
		: fifo_record(c, mt, f, path, &st);
	if (!r)
		r = sbx_install_fd(c, f->native_fd, at_fd, cloexec);
	vfs_file_put(f);
	return r;
}

long sbx_vfile_send(struct sbx_call *c, struct sbx_mount *mt,
		    struct vfs_file *f, const char *path, bool cloexec,
		    int at_fd)
{
	struct sbx *sb = c->sb;
	struct sbx_vfile *v = calloc(1, sizeof(*v));
	const char *base = strrchr(path, '/');
	struct sbx_vpoll_probe probe;
	char p[64], name[80];
	struct stat st;
	int ph = -1;
	long r;

	if (f->native_fd >= 0) {
		free(v);
		return fifo_send(c, mt, f, path, cloexec, at_fd);
	}
	if (!v) {
		vfs_file_put(f);
		return -ENOMEM;
	}
	v->wd = -1;
	v->memfd = v->ctl = -1;
	pthread_mutex_init(&v->map_lock, NULL);
	v->f = f;
	v->mnt = mt;
	sbx_mount_get(mt);
	v->who = *sbx_who(c);
	v->path = strdup(path);
	v->refs = 1;
	if (!v->path) {
		r = -ENOMEM;
		goto fail;
	}
	if (sbx_vpoll_probe(c, f, &probe)) {
		/* The server polls: a pipe shows what the file has. */
		ph = sbx_vpoll_placeholder(v, &probe);
		if (ph < 0) {
			r = ph;
			goto fail;
		}
	} else {
		snprintf(name, sizeof(name), "fusebox:%s",
			 base ? base + 1 : path);
		v->memfd = memfd_create(name, MFD_CLOEXEC);
		if (v->memfd < 0) {
			r = -errno;
			goto fail;
		}
		snprintf(p, sizeof(p), "/proc/self/fd/%d", v->memfd);
		/* Writable when the file is read-write, so that the kernel
		 * maps it MAP_SHARED with PROT_WRITE (sys_mmap.c decides
		 * who may); every read and write on it is trapped. */
		ph = open(p, ((f->flags & O_ACCMODE) == O_RDWR ? O_RDWR
							       : O_RDONLY) |
				     O_CLOEXEC);
	}
	if (ph < 0 || fstat(ph, &st) < 0) {
		r = -errno;
		goto fail;
	}
	v->ph_dev = st.st_dev;
	v->ph_ino = st.st_ino;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", ph);
	v->wd = inotify_add_watch(sb->inotify, p, IN_CLOSE_NOWRITE |
						     IN_CLOSE_WRITE);
	if (v->wd < 0) {
		r = -errno;
		goto fail;
	}
	pthread_mutex_lock(&sb->lock);
	if (v->ctl >= 0)
		sb->pipe_dev = st.st_dev;
	else
		sb->memfd_dev = st.st_dev;
	v->next = sb->vfiles;
	sb->vfiles = v;
	pthread_mutex_unlock(&sb->lock);
	if (v->ctl >= 0)
		sbx_vpoll_installed(c, v, &probe);
	if (at_fd >= 0)
		r = sbx_send_fd_at(c, ph, at_fd, cloexec);
	else
		r = sbx_send_fd(c, ph, SBX_VFD_LO, SBX_VFD_HI, cloexec);
	if (r != SBX_SENT) {
		/* Our close of ph below raises an event nobody wants. */
		vfile_unlink(sb, v);
		close(ph);
		sbx_vfile_put(sb, v);
		return r;
	}
	close(ph); /* the target holds it now */
	return r;
fail:
	if (ph >= 0)
		close(ph);
	sbx_vfile_put(sb, v);
	return r;
}

/* Copy the whole file into fd (a memfd), from the server. */
static int fill(struct sbx_call *c, struct vfs_file *f, int fd)
{
	char *buf = malloc(FILL_CHUNK);
	off_t off = 0;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n = vfs_pread(f, sbx_who(c), buf, FILL_CHUNK, off);

		if (n < 0) {
			free(buf);
			return (int)n;
		}
		if (n == 0)
			break;
		if (pwrite(fd, buf, (size_t)n, off) != n) {
			free(buf);
			return -errno;
		}
		off += n;
	}
	free(buf);
	return 0;
}

int sbx_vfile_materialize(struct sbx_call *c, struct sbx_vfile *v)
{
	int err = 0;

	if (v->memfd < 0)
		return -ENODEV; /* a pipe placeholder (vpoll.c) */
	pthread_mutex_lock(&v->map_lock);
	if (!v->map)
		err = vfs_map_attach(v->f, sbx_who(c), v->memfd, &v->map);
	pthread_mutex_unlock(&v->map_lock);
	return err;
}

/* A detached copy of the file (data and offset) for a descriptor that
 * leaves the window, e.g. dup2(fd, 0) for `cmd < /mnt/file`. */
int sbx_vfile_copy(struct sbx_call *c, struct sbx_vfile *v)
{
	const char *base = strrchr(v->path, '/');
	char name[80];
	off_t pos;
	int fd, err;

	snprintf(name, sizeof(name), "fusebox:%s", base ? base + 1 : v->path);
	fd = memfd_create(name, MFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	err = fill(c, v->f, fd);
	pthread_mutex_lock(&v->f->pos_lock);
	pos = v->f->pos;
	pthread_mutex_unlock(&v->f->pos_lock);
	if (!err && lseek(fd, pos, SEEK_SET) < 0)
		err = -errno;
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

#define DRAIN_WAIT_NS (1000 * 1000 * 1000LL)

/* Take the close events queued so far and end their vfiles (FLUSH,
 * RELEASE). With wait, return only once every event taken so far, by
 * anyone, has been handled (at most a second: a hung server's FLUSH must
 * not stall everything): a program's close(2) is then seen by the server
 * before the program's next call, as with Linux's synchronous RELEASE
 * queueing. */
void sbx_vfile_drain(struct sbx *sb, bool wait)
{
	char buf[16 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	struct sbx_vfile *gone = NULL, **tail = &gone;
	struct sbx_inotify *ended[64];
	unsigned n_ended = 0;
	uint64_t target, count = 0;
	ssize_t n;

	pthread_mutex_lock(&sb->ino_lock);
	while ((n = read(sb->inotify, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;

			p += sizeof(*e) + e->len;
			if (!(e->mask & (IN_CLOSE_NOWRITE | IN_CLOSE_WRITE)))
				continue;
			pthread_mutex_lock(&sb->lock);
			for (struct sbx_vfile **pp = &sb->vfiles; *pp;
			     pp = &(*pp)->next)
				if ((*pp)->wd == e->wd) {
					struct sbx_vfile *v = *pp;

					/* Released in the order closed
					 * (IN_CLOSE_* events in order). */
					*pp = v->next;
					v->next = NULL;
					*tail = v;
					tail = &v->next;
					count++;
					break;
				}
			/* Or a program's inotify instance (sys_inotify.c). */
			if (n_ended < sizeof(ended) / sizeof(ended[0]) &&
			    (ended[n_ended] =
				     sbx_inotify_unlink_locked(sb, e->wd)))
				n_ended++;
			pthread_mutex_unlock(&sb->lock);
		}
		if (n_ended == sizeof(ended) / sizeof(ended[0]))
			break; /* the rest on the next round */
	}
	sb->ino_taken += count;
	target = sb->ino_taken;
	pthread_mutex_unlock(&sb->ino_lock);

	for (unsigned i = 0; i < n_ended; i++)
		sbx_inotify_closed(sb, ended[i]);
	while (gone) {
		struct sbx_vfile *v = gone;

		gone = v->next;
		sbx_vfile_put(sb, v);
	}
	pthread_mutex_lock(&sb->ino_lock);
	sb->ino_done += count;
	if (count)
		pthread_cond_broadcast(&sb->ino_cv);
	if (wait && sb->ino_done < target) {
		struct timespec ts;

		fuse_waiter_block();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += DRAIN_WAIT_NS / 1000000000LL;
		while (sb->ino_done < target &&
		       pthread_cond_timedwait(&sb->ino_cv, &sb->ino_lock,
					      &ts) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&sb->ino_lock);
}

/* Only calls that reach a mount wait: a server's own calls (its FLUSH
 * handler's close(dup(fd)), say) must never wait for the release that
 * the server itself is answering. */
void sbx_vfile_settle(struct sbx *sb)
{
	bool busy;

	/* Placeholders exist, or closes another thread took are still
	 * being handled: the last placeholder leaves the table before its
	 * FLUSH and RELEASE go out. Both change together under ino_lock. */
	pthread_mutex_lock(&sb->ino_lock);
	busy = __atomic_load_n(&sb->vfiles, __ATOMIC_RELAXED) ||
	       sb->ino_taken != sb->ino_done;
	pthread_mutex_unlock(&sb->ino_lock);
	if (busy)
		sbx_vfile_drain(sb, true);
}

void *sbx_inotify_thread(void *arg)
{
	struct sbx *sb = arg;
	struct pollfd p = { .fd = sb->inotify, .events = POLLIN };

	for (;;) {
		int r = poll(&p, 1, -1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 || (p.revents & (POLLERR | POLLHUP | POLLNVAL)))
			break;
		sbx_vfile_drain(sb, false);
	}
	return NULL;
}

bool sbx_vfile_is(struct sbx_call *c, int fd)
{
	struct sbx_vfile *v = sbx_vfile_of(c, fd);
	bool is = v && !v->fifo; /* a FIFO's data is the kernel's */

	if (v)
		sbx_vfile_put(c->sb, v);
	return is;
}

/* close(2) of a placeholder: the kernel closes it (CONTINUE). The
 * process's record locks on the file go now, whichever descriptor took
 * them, as Linux drops them at a process's first close of the file.
 * An error of the FLUSH this may send cannot reach the caller (the
 * kernel's close has no way to carry it), nor can the last close's. */
long sbx_sys_close(struct sbx_call *c)
{
	struct sbx_vfile *v = sbx_vfile_of(c, (int)c->n->data.args[0]);
	uint64_t owner;

	if (!v || v->fifo) {
		if (v)
			sbx_vfile_put(c->sb, v);
		return SBX_CONTINUE;
	}
	owner = ((uint64_t)sbx_tgid(c) << 1) | 1;
	pthread_mutex_lock(&c->sb->lock);
	for (unsigned i = 0; i < v->n_lock_owners; i++)
		if (v->lock_owners[i] == owner) {
			v->lock_owners[i] = v->lock_owners[--v->n_lock_owners];
			break;
		}
	pthread_mutex_unlock(&c->sb->lock);
	vfs_file_drop_locks(v->f, sbx_who(c), owner);
	sbx_vfile_put(c->sb, v);
	return SBX_CONTINUE;
}

uint64_t sbx_lock_owner(struct sbx_call *c, struct sbx_vfile *v)
{
	uint64_t owner = ((uint64_t)sbx_tgid(c) << 1) | 1; /* never a pointer;
							     * as sbx_sys_close */
	bool known = false;

	pthread_mutex_lock(&c->sb->lock);
	for (unsigned i = 0; i < v->n_lock_owners; i++)
		known |= v->lock_owners[i] == owner;
	if (!known && v->n_lock_owners < SBX_LOCK_OWNERS)
		v->lock_owners[v->n_lock_owners++] = owner;
	pthread_mutex_unlock(&c->sb->lock);
	return owner;
}
