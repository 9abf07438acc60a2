/*
 * vpoll.c - poll(2), select(2) and epoll on files of a mount, with none
 * of them trapped.
 *
 * BPF cannot see which descriptors a poll, select or epoll_wait names, so
 * trapping them would cost every call of every program a round trip to
 * the supervisor. Instead, the placeholder of a file whose server answers
 * POLL is a pipe (not a memfd) whose readiness the supervisor keeps equal
 * to the file's; the kernel polls it natively, for poll, select, ppoll,
 * pselect and epoll alike. The pipe holds 8 KiB (two slots) and shows:
 *
 *   level 0, empty:                      writable, not readable
 *   level 1, one byte:                   readable and writable
 *   level 2, full (a byte and a page):   readable, not writable
 *
 * A placeholder opened O_RDONLY shows POLLIN only (levels 0 and 1),
 * O_WRONLY POLLOUT only (0 and 2), O_RDWR both; "neither" cannot be shown
 * on O_RDWR and shows as writable. POLLPRI, POLLERR, POLLHUP and
 * POLLRDHUP from the server are not shown (docs/sandbox.md).
 *
 * What the file has is asked with POLL, always with SCHEDULE_NOTIFY: at
 * open (which also finds out, once per mount, whether the server has POLL
 * at all: files of a server without it keep memfd placeholders, which
 * poll as DEFAULT_POLLMASK as Linux gives them), after every read, write
 * and ioctl served on the file before its caller sees the result (so the
 * caller never sees a readiness its own call ended), and after each
 * NOTIFY_POLL, from the mount's vpoll thread (one per mount, started with
 * its first pipe placeholder: a server that does not answer blocks only
 * its own mount's wakeups).
 *
 * Locks: mt->vpoll_lock guards a mount's wakeup queue; it is a leaf,
 * taken on the connection's receiving thread by the VFS hook.
 * sb->vpoll_lock guards every vfile's level and ticket; only non-blocking
 * pipe I/O happens under it. The order is sb->lock -> sb->vpoll_lock. No
 * lock is held across a POLL.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

#define SLOT 4096
/* What the POLL asks: anything poll, select or epoll may want. */
#define ASKED                                                            \
	(POLLIN | POLLPRI | POLLOUT | POLLRDNORM | POLLRDBAND |         \
	 POLLWRNORM | POLLWRBAND)

/* A NOTIFY_POLL waiting for the vpoll thread. f is only compared, never
 * followed: the file may be gone by then. */
struct sbx_vpoll_wake {
	struct sbx_vpoll_wake *next;
	const struct vfs_file *f;
};

static int level_for(int acc, unsigned ev)
{
	bool in = ev & (POLLIN | POLLRDNORM);
	bool out = ev & (POLLOUT | POLLWRNORM);

	switch (acc) {
	case O_RDONLY:
		return in ? 1 : 0;
	case O_WRONLY:
		return out ? 0 : 2;
	default:
		return in ? (out ? 1 : 2) : 0;
	}
}

/* Move v's pipe to level want; sb->vpoll_lock held. Reads only take
 * from the front, so 2 -> 1 is one read of a page (the byte and all but
 * one byte of the page), and a page written after the byte fills a
 * second slot of its own (whole pages are never merged). */
static void set_level(struct sbx_vfile *v, int want)
{
	static const char page[SLOT];
	char sink[2 * SLOT];
	ssize_t r = 0;

	if (v->level == want)
		return;
	if (want == 0)
		r = read(v->ctl, sink, sizeof(sink));
	else if (want == 1 && v->level == 2)
		r = read(v->ctl, sink, SLOT);
	else {
		if (v->level == 0)
			r = write(v->ctl, page, 1);
		if (want == 2 && r >= 0)
			r = write(v->ctl, page, SLOT);
	}
	if (r < 0) {
		fprintf(stderr, "fusebox: poll placeholder: %m\n");
		return;
	}
	v->level = want;
}

/* Show ev, the answer to the POLL numbered ticket, on every placeholder
 * of f that has not shown a later answer. */
static void show(struct sbx *sb, const struct vfs_file *f, unsigned ev,
		 uint64_t ticket)
{
	pthread_mutex_lock(&sb->lock);
	pthread_mutex_lock(&sb->vpoll_lock);
	for (struct sbx_vfile *v = sb->vfiles; v; v = v->next)
		if (v->f == f && v->ctl >= 0 && v->ticket < ticket) {
			set_level(v, level_for(v->ph_acc, ev));
			v->ticket = ticket;
		}
	pthread_mutex_unlock(&sb->vpoll_lock);
	pthread_mutex_unlock(&sb->lock);
}

static unsigned ask(struct sbx *sb, struct vfs_file *f,
		    const struct fuse_caller *who, uint64_t *ticket)
{
	*ticket = __atomic_add_fetch(&sb->vpoll_ticket, 1, __ATOMIC_SEQ_CST);
	return vfs_poll(f, who, ASKED, true);
}

void sbx_vpoll_refresh(struct sbx *sb, struct sbx_vfile *v,
		       const struct fuse_caller *who)
{
	uint64_t ticket;
	unsigned ev;

	if (v->ctl < 0)
		return;
	ev = ask(sb, v->f, who, &ticket);
	show(sb, v->f, ev, ticket);
}

bool sbx_vpoll_probe(struct sbx_call *c, struct vfs_file *f,
		     struct sbx_vpoll_probe *p)
{
	struct fuse_conn *conn = f->m->conn;

	if (!S_ISREG(f->inode->type) || (f->flags & O_PATH) ||
	    __atomic_load_n(&conn->no_poll, __ATOMIC_RELAXED))
		return false;
	p->seq = vfs_poll_seq(f->m);
	p->events = ask(c->sb, f, sbx_who(c), &p->ticket);
	return !__atomic_load_n(&conn->no_poll, __ATOMIC_RELAXED);
}

/* Set when a mount's thread dropped the mount's last reference itself:
 * the mount is gone, and the thread must end without looking at it. */
static __thread bool vpoll_mount_gone;

static void *vpoll_thread(void *arg)
{
	struct sbx_mount *mt = arg;
	struct sbx *sb = mt->sb;

	for (;;) {
		struct sbx_vpoll_wake *w;
		struct sbx_vfile *v;
		struct fuse_caller who;

		pthread_mutex_lock(&mt->vpoll_lock);
		while (!mt->vpoll_queue && !mt->vpoll_stop)
			pthread_cond_wait(&mt->vpoll_cv, &mt->vpoll_lock);
		if (mt->vpoll_stop) {
			pthread_mutex_unlock(&mt->vpoll_lock);
			return NULL;
		}
		w = mt->vpoll_queue;
		mt->vpoll_queue = w->next;
		pthread_mutex_unlock(&mt->vpoll_lock);

		/* Any placeholder of the file will do: the answer is shown
		 * on all of them. Its reference keeps file and mount. */
		pthread_mutex_lock(&sb->lock);
		for (v = sb->vfiles; v; v = v->next)
			if (v->f == w->f && v->ctl >= 0) {
				__atomic_add_fetch(&v->refs, 1,
						   __ATOMIC_RELAXED);
				who = v->who;
				break;
			}
		pthread_mutex_unlock(&sb->lock);
		free(w);
		if (v) {
			sbx_vpoll_refresh(sb, v, &who);
			sbx_vfile_put(sb, v);
			if (vpoll_mount_gone)
				return NULL;
		}
	}
}

/* The first pipe placeholder of a mount starts its thread. */
static void start_thread(struct sbx_mount *mt)
{
	pthread_mutex_lock(&mt->vpoll_lock);
	if (!mt->vpoll_started &&
	    pthread_create(&mt->vpoll_thread, NULL, vpoll_thread, mt) == 0)
		mt->vpoll_started = true;
	pthread_mutex_unlock(&mt->vpoll_lock);
}

int sbx_vpoll_placeholder(struct sbx_vfile *v,
			  const struct sbx_vpoll_probe *p)
{
	char path[64];
	int fds[2], ph;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	/* Opens through /proc make descriptions that raise inotify
	 * events (pipe2's own raise none), as memfd placeholders. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fds[0]);
	v->ctl = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	close(fds[0]);
	close(fds[1]);
	if (v->ctl < 0)
		return -errno;
	/* Shrinking a pipe always succeeds; check anyway, as the levels
	 * depend on it. */
	if (fcntl(v->ctl, F_SETPIPE_SZ, 2 * SLOT) < 0 ||
	    fcntl(v->ctl, F_GETPIPE_SZ) != 2 * SLOT)
		return -ENOMEM;
	v->ph_acc = v->f->flags & O_ACCMODE;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", v->ctl);
	ph = open(path, v->ph_acc | O_NONBLOCK | O_CLOEXEC);
	if (ph < 0)
		return -errno;
	/* Not in the table yet: nobody else sets its level. */
	set_level(v, level_for(v->ph_acc, p->events));
	v->ticket = p->ticket;
	start_thread(v->mnt);
	return ph;
}

void sbx_vpoll_installed(struct sbx_call *c, struct sbx_vfile *v,
			 const struct sbx_vpoll_probe *p)
{
	/* A NOTIFY_POLL between the probe and now found no placeholder
	 * to show its answer on: ask again. */
	if (v->ctl >= 0 && vfs_poll_seq(v->f->m) != p->seq)
		sbx_vpoll_refresh(c->sb, v, sbx_who(c));
}

void sbx_vpoll_after(struct sbx_call *c, struct sbx_vfile *v)
{
	if (v->ctl >= 0)
		sbx_vpoll_refresh(c->sb, v, sbx_who(c));
}

void sbx_vpoll_wake(void *ctx, struct vfs_file *f)
{
	struct sbx_mount *mt = ctx;
	struct sbx_vpoll_wake *w;

	pthread_mutex_lock(&mt->vpoll_lock);
	for (w = mt->vpoll_queue; w && w->f != f; w = w->next)
		;
	if (!w && (w = malloc(sizeof(*w)))) {
		w->f = f;
		w->next = mt->vpoll_queue;
		mt->vpoll_queue = w;
		pthread_cond_signal(&mt->vpoll_cv);
	}
	pthread_mutex_unlock(&mt->vpoll_lock);
	if (!w)
		fprintf(stderr, "fusebox: out of memory: a poll wakeup is lost\n");
}

void sbx_vpoll_mount_init(struct sbx *sb, struct sbx_mount *mt)
{
	mt->sb = sb;
	pthread_mutex_init(&mt->vpoll_lock, NULL);
	pthread_cond_init(&mt->vpoll_cv, NULL);
	vfs_poll_set_hook(mt->fs->m, sbx_vpoll_wake, mt);
}

void sbx_vpoll_mount_end(struct sbx_mount *mt)
{
	/* The mount's last reference is gone, so no placeholder of it is
	 * left: the thread is waiting, about to find nothing to refresh,
	 * or (below) is the caller, whose put ended the mount. Once the
	 * hook is cleared no wakeup can come (it runs under poll_lock). */
	vfs_poll_set_hook(mt->fs->m, NULL, NULL);
	pthread_mutex_lock(&mt->vpoll_lock);
	mt->vpoll_stop = true;
	pthread_cond_signal(&mt->vpoll_cv);
	pthread_mutex_unlock(&mt->vpoll_lock);
	if (mt->vpoll_started &&
	    pthread_equal(mt->vpoll_thread, pthread_self())) {
		/* The thread's own put of a placeholder ends the mount. */
		pthread_detach(mt->vpoll_thread);
		vpoll_mount_gone = true;
	} else if (mt->vpoll_started) {
		pthread_join(mt->vpoll_thread, NULL);
	}
	while (mt->vpoll_queue) {
		struct sbx_vpoll_wake *w = mt->vpoll_queue;

		mt->vpoll_queue = w->next;
		free(w);
	}
	pthread_cond_destroy(&mt->vpoll_cv);
	pthread_mutex_destroy(&mt->vpoll_lock);
}
