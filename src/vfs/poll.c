/*
 * poll.c - poll(2) on an open file of a mount: FUSE_POLL, and the
 * wakeups a server sends as NOTIFY_POLL, as Linux's fuse_file_poll and
 * fuse_notify_poll_wakeup do it.
 *
 * Each open file gets a kh, unique in its mount, at its first poll. A
 * file polled with SCHEDULE_NOTIFY joins m->polled and stays there until
 * its last reference goes (Linux keeps a polled file in fc->polled_files
 * until release, "a file polled once is likely to be polled again"). A
 * NOTIFY_POLL naming a kh of that list bumps m->poll_seq, wakes every
 * waiter of the mount and calls the mount's hook; one naming any other kh
 * is ignored, as in Linux.
 *
 * m->poll_lock guards m->polled, next_kh, poll_seq, the hook, and each
 * file's kh, polled and poll_next. It is a leaf lock taken on the
 * connection's receiving thread: never held across anything but the
 * hook, which may only take leaf locks of its own.
 */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "vfs/vfs.h"

/* What Linux gives a file whose server has no POLL (and directories,
 * which have no poll at all on a FUSE mount). */
#define DEFAULT_POLLMASK (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM)
/* The bits Linux keeps from a server's answer (demangle_poll). */
#define KNOWN_EVENTS                                                    \
	(POLLIN | POLLPRI | POLLOUT | POLLERR | POLLHUP | POLLNVAL |    \
	 POLLRDNORM | POLLRDBAND | POLLWRNORM | POLLWRBAND | POLLMSG |  \
	 POLLRDHUP)
/* Waiters look this often whether their caller is gone or the
 * connection ended (Linux wakes every poller when it aborts). */
#define WAIT_SLICE_NS (10 * 1000 * 1000ull)

static uint64_t file_kh(struct vfs_file *f, bool notify)
{
	struct vfs_mount *m = f->m;
	uint64_t kh;

	pthread_mutex_lock(&m->poll_lock);
	if (!f->kh)
		f->kh = ++m->next_kh;
	if (notify && !f->polled) {
		f->polled = true;
		f->poll_next = m->polled;
		m->polled = f;
	}
	kh = f->kh;
	pthread_mutex_unlock(&m->poll_lock);
	return kh;
}

unsigned vfs_poll(struct vfs_file *f, const struct fuse_caller *who,
		  unsigned events, bool notify)
{
	struct fuse_conn *c = f->m->conn;
	uint32_t revents = 0;
	uint64_t kh;
	int err;

	if (f->flags & O_PATH)
		return POLLNVAL; /* poll(2) does not see O_PATH files */
	if (f->native_fd >= 0) {
		struct pollfd p = { .fd = f->native_fd,
				    .events = (short)events };

		return poll(&p, 1, 0) < 0 ? POLLERR : (unsigned)p.revents;
	}
	if (!S_ISREG(f->inode->type) ||
	    __atomic_load_n(&c->no_poll, __ATOMIC_RELAXED))
		return DEFAULT_POLLMASK;
	/* Registered before the request, so that a NOTIFY_POLL that
	 * overtakes the answer is not lost. */
	kh = file_kh(f, notify);
	err = fuse_op_poll(c, who, f->inode->nodeid, f->fh, kh, notify,
			   events, &revents);
	if (err == -ENOSYS)
		return DEFAULT_POLLMASK;
	if (err)
		return POLLERR;
	return revents & KNOWN_EVENTS;
}

void vfs_poll_forget(struct vfs_file *f)
{
	struct vfs_mount *m = f->m;

	/* Only holders of a reference register a file: at the last one,
	 * polled cannot change under us. */
	if (!f->polled)
		return;
	pthread_mutex_lock(&m->poll_lock);
	for (struct vfs_file **p = &m->polled; *p; p = &(*p)->poll_next)
		if (*p == f) {
			*p = f->poll_next;
			break;
		}
	f->polled = false;
	pthread_mutex_unlock(&m->poll_lock);
}

void vfs_poll_wakeup(struct vfs_mount *m, uint64_t kh)
{
	struct vfs_file *f;

	/* A list walk: files polled with SCHEDULE_NOTIFY are few. */
	pthread_mutex_lock(&m->poll_lock);
	for (f = m->polled; f && f->kh != kh; f = f->poll_next)
		;
	if (f) {
		m->poll_seq++;
		pthread_cond_broadcast(&m->poll_cv);
		if (m->poll_hook)
			m->poll_hook(m->poll_hook_ctx, f);
	}
	pthread_mutex_unlock(&m->poll_lock);
}

void vfs_poll_set_hook(struct vfs_mount *m, vfs_poll_hook_fn fn, void *ctx)
{
	pthread_mutex_lock(&m->poll_lock);
	m->poll_hook = fn;
	m->poll_hook_ctx = ctx;
	pthread_mutex_unlock(&m->poll_lock);
}

uint64_t vfs_poll_seq(struct vfs_mount *m)
{
	uint64_t seq;

	pthread_mutex_lock(&m->poll_lock);
	seq = m->poll_seq;
	pthread_mutex_unlock(&m->poll_lock);
	return seq;
}

/* poll(2)'s timeout wants the precise clock, not the cache's. */
static uint64_t precise_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int vfs_poll_wait(struct vfs_mount *m, uint64_t seq, int timeout_ms)
{
	uint64_t end = timeout_ms < 0 ? UINT64_MAX
				      : precise_now() + (uint64_t)timeout_ms *
							    1000000ull;
	int err = 0;

	fuse_waiter_block();
	pthread_mutex_lock(&m->poll_lock);
	while (m->poll_seq == seq) {
		uint64_t now = precise_now(), slice = WAIT_SLICE_NS;
		struct timespec ts;
		bool gone, up;

		if (now >= end) {
			err = -ETIMEDOUT;
			break;
		}
		if (end - now < slice)
			slice = end - now;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += (long)slice;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&m->poll_cv, &m->poll_lock, &ts);
		if (m->poll_seq != seq)
			break;
		pthread_mutex_unlock(&m->poll_lock);
		gone = fuse_caller_gone();
		up = fuse_conn_ready(m->conn);
		pthread_mutex_lock(&m->poll_lock);
		if (gone) {
			err = -EINTR;
			break;
		}
		if (!up)
			break; /* polling again gives POLLERR */
	}
	pthread_mutex_unlock(&m->poll_lock);
	return err;
}
