/*
 * inotify.c - inotify instances, watches and event queues (inotify.h).
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "fuse/conn.h"
#include "vfs/inotify.h"
#include "vfs/vfs.h"

/* Events Linux reports to a directory's watch about its children. */
#define ON_CHILD                                                     \
	(IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE |        \
	 IN_CLOSE_NOWRITE | IN_OPEN)
#define WATCH_FLAGS (IN_ONESHOT | IN_EXCL_UNLINK)
#define ADD_FLAGS                                                    \
	(IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | IN_MASK_ADD |  \
	 IN_MASK_CREATE | IN_ONESHOT)
#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif
#define EVENT_SIZE sizeof(struct inotify_event)

static void queue_event(struct vfs_inotify *in, int wd, uint32_t mask,
			uint32_t cookie, const char *name);

struct vfs_inotify_event {
	struct vfs_inotify_event *next;
	int wd;
	uint32_t mask, cookie, len; /* len: the padded name's */
	char name[];
};

struct vfs_watch {
	struct vfs_inotify *owner;
	struct vfs_mount *m;
	struct vfs_inode *target; /* referenced: the pin */
	int wd;
	uint32_t mask;		/* events and WATCH_FLAGS */
	bool dead;		/* out of the inode's set */
	unsigned refs;		/* the instance's list, the set's */
	struct vfs_watch *inext; /* the instance's list (in->mu) */
	struct vfs_watch *tnext; /* the inode's set (set->mu) */
};

struct vfs_watches {
	pthread_mutex_t mu;
	struct vfs_watch *list;
};

struct vfs_inotify {
	uint64_t id;
	uid_t uid;
	unsigned refs;
	pthread_mutex_t mu;
	struct vfs_watch *watches;
	int last_wd;
	pthread_mutex_t ev_mu;
	pthread_cond_t ev_cv;
	struct vfs_inotify_event *head, *tail;
	unsigned queued;	/* events, the overflow event included */
	size_t bytes;
	bool overflow_queued;
	int ready[2];		/* a byte in ready[] while head != NULL */
};

/* Lock order check, in debug builds: each thread's held inotify locks
 * must be taken in increasing rank. */
enum { RANK_INSTANCE = 1, RANK_WATCHES = 2, RANK_EVENTS = 4 };
#ifndef NDEBUG
static __thread unsigned held;
static void lock_rank(pthread_mutex_t *mu, unsigned rank)
{
	if (held >= rank) {
		fprintf(stderr, "fusebox: inotify lock order broken "
				"(held %#x, taking %#x)\n", held, rank);
		abort();
	}
	pthread_mutex_lock(mu);
	held |= rank;
}
static void unlock_rank(pthread_mutex_t *mu, unsigned rank)
{
	held &= ~rank;
	pthread_mutex_unlock(mu);
}
#else
static void lock_rank(pthread_mutex_t *mu, unsigned rank)
{
	(void)rank;
	pthread_mutex_lock(mu);
}
static void unlock_rank(pthread_mutex_t *mu, unsigned rank)
{
	(void)rank;
	pthread_mutex_unlock(mu);
}
#endif

/* ---- limits and per-user counts ---- */

static struct vfs_inotify_limits limits;
static pthread_once_t limits_once = PTHREAD_ONCE_INIT;

/* A limit from /proc/sys/fs/inotify/NAME, unless the environment sets
 * FUSEBOX_INOTIFY_NAME (upper case): for tests, which need small limits
 * without changing the host's. */
static unsigned read_limit(const char *name, const char *env, unsigned dflt)
{
	const char *e = getenv(env);
	char p[96], *end;
	unsigned v = dflt;
	FILE *f;

	if (e && *e) {
		unsigned long n = strtoul(e, &end, 10);

		if (!*end && n && n <= UINT_MAX)
			return (unsigned)n;
	}
	snprintf(p, sizeof(p), "/proc/sys/fs/inotify/%s", name);
	f = fopen(p, "re");
	if (f) {
		if (fscanf(f, "%u", &v) != 1)
			v = dflt;
		fclose(f);
	}
	return v;
}

static void limits_init(void)
{
	limits.max_user_instances =
		read_limit("max_user_instances",
			   "FUSEBOX_INOTIFY_MAX_USER_INSTANCES", 128);
	limits.max_user_watches = read_limit(
		"max_user_watches", "FUSEBOX_INOTIFY_MAX_USER_WATCHES", 8192);
	limits.max_queued_events =
		read_limit("max_queued_events",
			   "FUSEBOX_INOTIFY_MAX_QUEUED_EVENTS", 16384);
}

const struct vfs_inotify_limits *vfs_inotify_limits(void)
{
	pthread_once(&limits_once, limits_init);
	return &limits;
}

struct user_count {
	struct user_count *next;
	uid_t uid;
	unsigned instances, watches;
};
static pthread_mutex_t users_mu = PTHREAD_MUTEX_INITIALIZER; /* a leaf */
static struct user_count *users;
static uint64_t next_id;

/* Count one more (delta > 0) or fewer of what for uid, within limit. */
static int user_charge(uid_t uid, bool watches, int delta)
{
	const struct vfs_inotify_limits *l = vfs_inotify_limits();
	struct user_count *u;
	int err = 0;

	pthread_mutex_lock(&users_mu);
	for (u = users; u && u->uid != uid; u = u->next)
		;
	if (!u && (u = calloc(1, sizeof(*u)))) {
		u->uid = uid;
		u->next = users;
		users = u;
	}
	if (!u) {
		err = -ENOMEM;
	} else if (watches) {
		if (delta > 0 && u->watches >= l->max_user_watches)
			err = -ENOSPC;
		else
			u->watches += (unsigned)delta;
	} else {
		if (delta > 0 && u->instances >= l->max_user_instances)
			err = -EMFILE;
		else
			u->instances += (unsigned)delta;
	}
	pthread_mutex_unlock(&users_mu);
	return err;
}

/* ---- instances ---- */

int vfs_inotify_new(uid_t uid, int flags, struct vfs_inotify **out)
{
	struct vfs_inotify *in;
	int pflags = O_NONBLOCK | ((flags & IN_CLOEXEC) ? O_CLOEXEC : 0);
	int err;

	if (flags & ~(IN_CLOEXEC | IN_NONBLOCK))
		return -EINVAL;
	err = user_charge(uid, false, 1);
	if (err)
		return err;
	in = calloc(1, sizeof(*in));
	if (!in || pipe2(in->ready, pflags) < 0) {
		err = in ? -errno : -ENOMEM;
		free(in);
		user_charge(uid, false, -1);
		return err;
	}
	/* The read end blocks or not as the instance was asked. */
	if (!(flags & IN_NONBLOCK))
		fcntl(in->ready[0], F_SETFL, 0);
	in->id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
	in->uid = uid;
	in->refs = 1;
	pthread_mutex_init(&in->mu, NULL);
	pthread_mutex_init(&in->ev_mu, NULL);
	pthread_cond_init(&in->ev_cv, NULL);
	*out = in;
	return 0;
}

void vfs_inotify_get(struct vfs_inotify *in)
{
	__atomic_add_fetch(&in->refs, 1, __ATOMIC_RELAXED);
}

uint64_t vfs_inotify_id(const struct vfs_inotify *in)
{
	return in->id;
}

int vfs_inotify_ready_fd(const struct vfs_inotify *in)
{
	return in->ready[0];
}

/* ---- the queue ---- */

static size_t padded(size_t namelen)
{
	return namelen ? (namelen + 1 + EVENT_SIZE - 1) / EVENT_SIZE *
				 EVENT_SIZE
		       : 0;
}

static bool same_event(const struct vfs_inotify_event *a, int wd,
		       uint32_t mask, uint32_t cookie, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (a->wd != wd || a->mask != mask || a->cookie != cookie ||
	    a->len != padded(n))
		return false;
	return !n || !strcmp(a->name, name);
}

/* Queue one event (in->ev_mu taken here): merged with an identical last
 * one; past the limit, a single IN_Q_OVERFLOW (wd -1) ends the queue. */
void vfs_inotify_queue(struct vfs_inotify *in, int wd, uint32_t mask,
		       uint32_t cookie, const char *name)
{
	queue_event(in, wd, mask, cookie, name);
}

int vfs_inotify_new_wd(struct vfs_inotify *in)
{
	int wd;

	lock_rank(&in->mu, RANK_INSTANCE);
	wd = ++in->last_wd;
	unlock_rank(&in->mu, RANK_INSTANCE);
	return wd;
}

static void queue_event(struct vfs_inotify *in, int wd, uint32_t mask,
			uint32_t cookie, const char *name)
{
	size_t n = name ? strlen(name) : 0, len = padded(n);
	struct vfs_inotify_event *e;
	bool was_empty;

	lock_rank(&in->ev_mu, RANK_EVENTS);
	if (in->queued >= vfs_inotify_limits()->max_queued_events) {
		if (in->overflow_queued) {
			unlock_rank(&in->ev_mu, RANK_EVENTS);
			return;
		}
		wd = -1;
		mask = IN_Q_OVERFLOW;
		cookie = 0;
		n = len = 0;
		in->overflow_queued = true;
	} else if (in->tail && !(mask & IN_IGNORED) &&
		   same_event(in->tail, wd, mask, cookie, name)) {
		unlock_rank(&in->ev_mu, RANK_EVENTS);
		return;
	}
	e = calloc(1, sizeof(*e) + len);
	if (!e) {
		unlock_rank(&in->ev_mu, RANK_EVENTS);
		return;
	}
	e->wd = wd;
	e->mask = mask;
	e->cookie = cookie;
	e->len = (uint32_t)len;
	if (n)
		memcpy(e->name, name, n);
	was_empty = !in->head;
	if (in->tail)
		in->tail->next = e;
	else
		in->head = e;
	in->tail = e;
	in->queued++;
	in->bytes += EVENT_SIZE + len;
	if (was_empty) {
		char b = 1;

		if (write(in->ready[1], &b, 1) < 0) {
			/* the pipe holds one byte: cannot be full */
		}
	}
	pthread_cond_broadcast(&in->ev_cv);
	unlock_rank(&in->ev_mu, RANK_EVENTS);
}

#define READ_POLL_NS (10 * 1000 * 1000)

ssize_t vfs_inotify_read(struct vfs_inotify *in, void *buf, size_t count,
			 bool nonblock)
{
	size_t done = 0;

	lock_rank(&in->ev_mu, RANK_EVENTS);
	while (!in->head) {
		struct timespec ts;

		if (nonblock) {
			unlock_rank(&in->ev_mu, RANK_EVENTS);
			return -EAGAIN;
		}
		fuse_waiter_block();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += READ_POLL_NS;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&in->ev_cv, &in->ev_mu, &ts);
		if (!in->head && fuse_caller_gone()) {
			unlock_rank(&in->ev_mu, RANK_EVENTS);
			return -EINTR;
		}
	}
	if (count < EVENT_SIZE + in->head->len) {
		unlock_rank(&in->ev_mu, RANK_EVENTS);
		return -EINVAL;
	}
	while (in->head && done + EVENT_SIZE + in->head->len <= count) {
		struct vfs_inotify_event *e = in->head;
		struct inotify_event h = { .wd = e->wd, .mask = e->mask,
					   .cookie = e->cookie,
					   .len = e->len };

		memcpy((char *)buf + done, &h, EVENT_SIZE);
		memcpy((char *)buf + done + EVENT_SIZE, e->name, e->len);
		done += EVENT_SIZE + e->len;
		in->head = e->next;
		if (!in->head)
			in->tail = NULL;
		in->queued--;
		in->bytes -= EVENT_SIZE + e->len;
		if (e->mask == IN_Q_OVERFLOW && e->wd == -1)
			in->overflow_queued = false;
		free(e);
	}
	if (!in->head) {
		char b;

		if (read(in->ready[0], &b, 1) < 0) {
			/* nothing was there: fine */
		}
	}
	unlock_rank(&in->ev_mu, RANK_EVENTS);
	return (ssize_t)done;
}

size_t vfs_inotify_nread(struct vfs_inotify *in)
{
	size_t n;

	lock_rank(&in->ev_mu, RANK_EVENTS);
	n = in->bytes;
	unlock_rank(&in->ev_mu, RANK_EVENTS);
	return n;
}

/* ---- watches ---- */

/* The inode's watch set, made on first use (m->lock taken here). */
static struct vfs_watches *watches_of(struct vfs_mount *m,
				      struct vfs_inode *ino, bool make)
{
	struct vfs_watches *w;

	pthread_mutex_lock(&m->lock);
	w = ino->watches;
	if (!w && make && (w = calloc(1, sizeof(*w)))) {
		pthread_mutex_init(&w->mu, NULL);
		ino->watches = w;
	}
	pthread_mutex_unlock(&m->lock);
	return w;
}

void vfs_inotify_inode_free(struct vfs_inode *ino)
{
	if (ino->watches) {
		pthread_mutex_destroy(&ino->watches->mu);
		free(ino->watches);
	}
	/* Files hold their inode: only the last walked name is left. */
	vfs_alias_put(ino, ino->alias);
	assert(!ino->aliases);
}

static void watch_put(struct vfs_watch *w)
{
	if (__atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL))
		return;
	user_charge(w->owner->uid, true, -1);
	vfs_inode_put(w->m, w->target); /* the pin */
	free(w);
}

/* Take w out of its inode's set (set->mu held); the set's reference is
 * the caller's to put once no watch set lock is held. */
static void unlink_from_set(struct vfs_watches *set, struct vfs_watch *w)
{
	for (struct vfs_watch **p = &set->list; *p; p = &(*p)->tnext)
		if (*p == w) {
			*p = w->tnext;
			break;
		}
	w->dead = true;
}

/* Drop the instance's dead watches (in->mu held). */
static void reap_dead(struct vfs_inotify *in, struct vfs_watch **puts)
{
	for (struct vfs_watch **p = &in->watches; *p;) {
		struct vfs_watch *w = *p;

		if (__atomic_load_n(&w->dead, __ATOMIC_ACQUIRE)) {
			*p = w->inext;
			w->inext = *puts;
			*puts = w;
		} else {
			p = &w->inext;
		}
	}
}

static void put_list(struct vfs_watch *w)
{
	while (w) {
		struct vfs_watch *next = w->inext;

		watch_put(w);
		w = next;
	}
}

int vfs_inotify_add_watch(struct vfs_inotify *in, struct vfs_mount *m,
			  struct vfs_inode *ino, uint32_t mask)
{
	uint32_t events = mask & IN_ALL_EVENTS;
	struct vfs_watch *w, *dead = NULL;
	struct vfs_watches *set;
	int wd;

	if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE))
		return -EINVAL;
	if (!(mask & VFS_INOTIFY_VALID_BITS))
		return -EINVAL;
	if ((mask & IN_ONLYDIR) && !S_ISDIR(ino->type))
		return -ENOTDIR;
	set = watches_of(m, ino, true);
	if (!set)
		return -ENOMEM;
	lock_rank(&in->mu, RANK_INSTANCE);
	reap_dead(in, &dead);
	lock_rank(&set->mu, RANK_WATCHES);
	for (w = set->list; w && w->owner != in; w = w->tnext)
		;
	if (w) {
		if (mask & IN_MASK_CREATE) {
			wd = -EEXIST;
		} else {
			uint32_t keep = (mask & IN_MASK_ADD) ? w->mask : 0;

			w->mask = keep | events | (mask & WATCH_FLAGS);
			wd = w->wd;
		}
		unlock_rank(&set->mu, RANK_WATCHES);
		unlock_rank(&in->mu, RANK_INSTANCE);
		put_list(dead);
		return wd;
	}
	wd = user_charge(in->uid, true, 1);
	if (!wd && !(w = calloc(1, sizeof(*w)))) {
		user_charge(in->uid, true, -1);
		wd = -ENOMEM;
	}
	if (wd) {
		unlock_rank(&set->mu, RANK_WATCHES);
		unlock_rank(&in->mu, RANK_INSTANCE);
		put_list(dead);
		return wd;
	}
	w->owner = in;
	w->m = m;
	w->target = ino;
	pthread_mutex_lock(&m->lock);
	vfs_inode_get(ino);
	pthread_mutex_unlock(&m->lock);
	/* Linux hands out increasing numbers from 1 (an idr, cyclic). */
	w->wd = ++in->last_wd;
	w->mask = events | (mask & WATCH_FLAGS);
	w->refs = 2;
	w->tnext = set->list;
	set->list = w;
	w->inext = in->watches;
	in->watches = w;
	wd = w->wd;
	unlock_rank(&set->mu, RANK_WATCHES);
	unlock_rank(&in->mu, RANK_INSTANCE);
	put_list(dead);
	return wd;
}

int vfs_inotify_rm_watch(struct vfs_inotify *in, int wd)
{
	struct vfs_watch *w, *dead = NULL;
	struct vfs_watches *set;
	bool unlinked = false;

	lock_rank(&in->mu, RANK_INSTANCE);
	reap_dead(in, &dead);
	for (w = in->watches; w && w->wd != wd; w = w->inext)
		;
	if (!w) {
		unlock_rank(&in->mu, RANK_INSTANCE);
		put_list(dead);
		return -EINVAL;
	}
	set = w->target->watches;
	lock_rank(&set->mu, RANK_WATCHES);
	if (!w->dead) { /* else a one-shot watch fired meanwhile */
		unlink_from_set(set, w);
		queue_event(in, w->wd, IN_IGNORED, 0, NULL);
		unlinked = true;
	}
	unlock_rank(&set->mu, RANK_WATCHES);
	/* Off the instance too: the set's and the list's references. */
	reap_dead(in, &dead);
	unlock_rank(&in->mu, RANK_INSTANCE);
	if (unlinked)
		watch_put(w);
	put_list(dead);
	return unlinked ? 0 : -EINVAL;
}

void vfs_inotify_put(struct vfs_inotify *in)
{
	struct vfs_watch *w, *sets = NULL;

	if (__atomic_sub_fetch(&in->refs, 1, __ATOMIC_ACQ_REL))
		return;
	lock_rank(&in->mu, RANK_INSTANCE);
	for (w = in->watches; w; w = w->inext) {
		struct vfs_watches *set = w->target->watches;

		lock_rank(&set->mu, RANK_WATCHES);
		if (!w->dead) {
			unlink_from_set(set, w);
			w->tnext = sets;
			sets = w; /* its set reference, put below */
		}
		unlock_rank(&set->mu, RANK_WATCHES);
	}
	w = in->watches;
	in->watches = NULL;
	unlock_rank(&in->mu, RANK_INSTANCE);
	while (sets) {
		struct vfs_watch *next = sets->tnext;

		watch_put(sets);
		sets = next;
	}
	put_list(w);
	while (in->head) {
		struct vfs_inotify_event *e = in->head;

		in->head = e->next;
		free(e);
	}
	close(in->ready[0]);
	close(in->ready[1]);
	pthread_mutex_destroy(&in->mu);
	pthread_mutex_destroy(&in->ev_mu);
	pthread_cond_destroy(&in->ev_cv);
	user_charge(in->uid, false, -1);
	free(in);
}

size_t vfs_inotify_fdinfo(struct vfs_inotify *in, char *buf, size_t size)
{
	size_t n = 0;

	lock_rank(&in->mu, RANK_INSTANCE);
	for (struct vfs_watch *w = in->watches; w && n < size; w = w->inext) {
		int r;

		if (__atomic_load_n(&w->dead, __ATOMIC_ACQUIRE))
			continue;
		/* As Linux's inotify_fdinfo: mask without the flags it keeps
		 * privately; ignored_mask 0; no file handle (FUSE nodes have
		 * none to give). */
		r = snprintf(buf + n, size - n,
			     "inotify wd:%x ino:%llx sdev:%x mask:%x "
			     "ignored_mask:0\n",
			     w->wd,
			     /* Linux's FUSE root is inode 1 */
			     w->target == w->m->root
				     ? 1ULL
				     : (unsigned long long)w->target->attr.ino,
			     /* the kernel's encoding of s_dev */
			     (unsigned)(major(w->m->dev) << 20 |
					minor(w->m->dev)),
			     w->mask & (IN_ALL_EVENTS | IN_ONESHOT |
					IN_EXCL_UNLINK));
		if (r < 0)
			break;
		n += (size_t)r < size - n ? (size_t)r : size - n;
	}
	unlock_rank(&in->mu, RANK_INSTANCE);
	return n;
}

/* ---- events ---- */

uint32_t vfs_fsnotify_cookie(void)
{
	/* Far from the kernel's own counter, whose cookies may share an
	 * instance with ours under fusebox run. */
	static uint32_t cookie = 0x40000000;

	return __atomic_add_fetch(&cookie, 1, __ATOMIC_RELAXED);
}

/* Deliver (mask, cookie, name) to the watches of set that want it. With
 * self, the event is the inode's own (IN_DELETE_SELF...); unlinked says
 * the subject was unlinked from the directory (IN_EXCL_UNLINK). */
static void deliver(struct vfs_watches *set, uint32_t mask, uint32_t extra,
		    uint32_t cookie, const char *name, bool unlinked)
{
	struct vfs_watch *gone = NULL;

	lock_rank(&set->mu, RANK_WATCHES);
	for (struct vfs_watch **p = &set->list; *p;) {
		struct vfs_watch *w = *p;

		if (!(w->mask & mask) ||
		    (unlinked && (w->mask & IN_EXCL_UNLINK))) {
			p = &w->tnext;
			continue;
		}
		queue_event(w->owner, w->wd, mask | extra, cookie, name);
		if (!(w->mask & IN_ONESHOT)) {
			p = &w->tnext;
			continue;
		}
		queue_event(w->owner, w->wd, IN_IGNORED, 0, NULL);
		*p = w->tnext;
		w->dead = true;
		w->tnext = gone;
		gone = w;
	}
	unlock_rank(&set->mu, RANK_WATCHES);
	while (gone) {
		struct vfs_watch *next = gone->tnext;

		watch_put(gone); /* the set's reference */
		gone = next;
	}
}

/* An event on ino: its parent's watches see it under the name a (the
 * inode's last walked when NULL), then its own. path: an event of an
 * open file's own (Linux's path events: open, read, write, close), which
 * watches with IN_EXCL_UNLINK, the parent's and its own, drop once that
 * name is unlinked; changes of attributes through a file are not. */
static void notify(struct vfs_mount *m, struct vfs_inode *ino,
		   struct vfs_alias *a, uint32_t mask, bool path)
{
	uint32_t isdir = S_ISDIR(ino->type) ? IN_ISDIR : 0;
	struct vfs_inode *parent = NULL;
	struct vfs_watches *pset = NULL, *set;
	char *name = NULL;
	bool unlinked = false;

	pthread_mutex_lock(&m->lock);
	set = ino->watches;
	if (!a)
		a = ino->alias;
	if (a && path)
		unlinked = a->unlinked;
	if ((mask & ON_CHILD) && a && (parent = vfs_inode_find(m, a->dir)) &&
	    parent->watches) {
		vfs_inode_get(parent);
		pset = parent->watches;
		name = strdup(a->name);
	} else {
		parent = NULL;
	}
	pthread_mutex_unlock(&m->lock);
	/* The parent's watch first, with the name; then the inode's own:
	 * Linux's order for one event seen by both. */
	if (pset && name)
		deliver(pset, mask, isdir, 0, name, unlinked);
	if (set)
		deliver(set, mask, isdir, 0, NULL, unlinked);
	free(name);
	if (parent)
		vfs_inode_put(m, parent);
}

void vfs_fsnotify(struct vfs_mount *m, struct vfs_inode *ino, uint32_t mask)
{
	notify(m, ino, NULL, mask, false);
}

void vfs_fsnotify_file(struct vfs_file *f, uint32_t mask, bool path)
{
	notify(f->m, f->inode, f->alias, mask, path);
}

void vfs_fsnotify_pipe(struct vfs_file *f, uint32_t mask)
{
	struct vfs_watches *set;
	bool unlinked;

	pthread_mutex_lock(&f->m->lock);
	set = f->inode->watches;
	unlinked = f->alias && f->alias->unlinked;
	pthread_mutex_unlock(&f->m->lock);
	if (set)
		deliver(set, mask, 0, 0, NULL, unlinked);
}

void vfs_fsnotify_self(struct vfs_mount *m, struct vfs_inode *ino,
		       uint32_t mask)
{
	struct vfs_watches *set;

	pthread_mutex_lock(&m->lock);
	set = ino->watches;
	pthread_mutex_unlock(&m->lock);
	/* Linux shows IN_ISDIR on a directory's own IN_ATTRIB, not on
	 * IN_MOVE_SELF or IN_DELETE_SELF. */
	if (set)
		deliver(set, mask,
			S_ISDIR(ino->type) && !(mask & IN_MOVE_SELF) ? IN_ISDIR
								     : 0,
			0, NULL, false);
}

void vfs_fsnotify_dir(struct vfs_mount *m, struct vfs_inode *dir,
		      uint32_t mask, const char *name, bool isdir,
		      uint32_t cookie)
{
	struct vfs_watches *set;

	pthread_mutex_lock(&m->lock);
	set = dir->watches;
	pthread_mutex_unlock(&m->lock);
	if (set)
		deliver(set, mask, isdir ? IN_ISDIR : 0, cookie, name, false);
}

/* Every watch of set gets mask if it asked (IN_UNMOUNT always), then
 * IN_IGNORED, and goes at once, pin and all: each owner drops it from
 * its list now (no lock is held here, so the owner's lock may be taken),
 * so the inode can be forgotten or the mount freed. */
static void end_watches(struct vfs_watches *set, uint32_t mask, bool isdir)
{
	struct vfs_watch *gone = NULL;

	lock_rank(&set->mu, RANK_WATCHES);
	while (set->list) {
		struct vfs_watch *w = set->list;

		set->list = w->tnext;
		/* Linux shows IN_ISDIR with IN_UNMOUNT, not with
		 * IN_DELETE_SELF. */
		if (mask == IN_UNMOUNT || (w->mask & mask))
			queue_event(w->owner, w->wd,
				    mask | (mask == IN_UNMOUNT && isdir
						    ? IN_ISDIR
						    : 0),
				    0, NULL);
		queue_event(w->owner, w->wd, IN_IGNORED, 0, NULL);
		w->dead = true;
		vfs_inotify_get(w->owner);
		w->tnext = gone;
		gone = w;
	}
	unlock_rank(&set->mu, RANK_WATCHES);
	while (gone) {
		struct vfs_watch *next = gone->tnext, *dead = NULL;
		struct vfs_inotify *in = gone->owner;

		lock_rank(&in->mu, RANK_INSTANCE);
		reap_dead(in, &dead);
		unlock_rank(&in->mu, RANK_INSTANCE);
		watch_put(gone); /* the set's reference */
		put_list(dead);
		vfs_inotify_put(in);
		gone = next;
	}
}

void vfs_fsnotify_gone(struct vfs_mount *m, struct vfs_inode *ino)
{
	struct vfs_watches *set;

	pthread_mutex_lock(&m->lock);
	set = ino->watches;
	pthread_mutex_unlock(&m->lock);
	if (set)
		end_watches(set, IN_DELETE_SELF, false);
}

void vfs_fsnotify_unmount(struct vfs_mount *m)
{
	for (;;) {
		struct vfs_inode *ino = NULL;

		pthread_mutex_lock(&m->lock);
		/* The root is not in the table. */
		if (m->root && m->root->watches && m->root->watches->list) {
			ino = m->root;
			vfs_inode_get(ino);
		}
		for (size_t b = 0; !ino && b < m->itab_size; b++)
			for (struct vfs_inode *i = m->itab[b]; i; i = i->hnext)
				if (i->watches && i->watches->list) {
					ino = i;
					vfs_inode_get(ino);
					break;
				}
		pthread_mutex_unlock(&m->lock);
		if (!ino)
			break;
		end_watches(ino->watches, IN_UNMOUNT, S_ISDIR(ino->type));
		vfs_inode_put(m, ino);
	}
}
