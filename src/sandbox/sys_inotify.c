/*
 * sys_inotify.c - inotify under fusebox run: one instance for every path.
 *
 * inotify_init/inotify_init1 make a VFS instance (vfs/inotify.c) and give
 * the caller, in the descriptor window, a description of the instance's
 * ready pipe: readable while events are queued, so poll, select and
 * epoll run natively, and inherited across fork and dup as any
 * descriptor. read(2) and ioctl(FIONREAD) on it are trapped and served
 * from the instance's queue. inotify_add_watch on a path inside a mount
 * watches the VFS inode; on a path outside, the instance's own kernel
 * inotify descriptor watches it, and a forwarding thread moves the
 * kernel's events into the same queue (their wds renumbered into the
 * instance's numbering), so the program reads both through one fd, in
 * the order they reached the supervisor.
 *
 * The record goes when the last description is closed (the supervisor's
 * inotify sees it close, as for placeholders; sbx_inotify_closed).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "sandbox/sandbox.h"

struct kmap {
	int kwd, wd;
};

struct sbx_inotify {
	struct sbx_inotify *next;
	struct sbx *sb;
	dev_t ph_dev;
	ino_t ph_ino;
	int close_wd;		/* sb->inotify's watch for its last close */
	struct vfs_inotify *in;	/* referenced */
	unsigned refs;
	pthread_mutex_t lock;	/* kfd and the map */
	int kfd;		/* the kernel's inotify, for native paths */
	struct kmap *map;
	size_t n_map;
};

static void ino_put(struct sbx_inotify *r)
{
	if (__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (r->kfd >= 0)
		close(r->kfd);
	vfs_inotify_put(r->in);
	pthread_mutex_destroy(&r->lock);
	free(r->map);
	free(r);
}

/* The record behind the caller's descriptor fd, referenced, or NULL. */
static struct sbx_inotify *ino_of(struct sbx_call *c, int fd)
{
	struct sbx *sb = c->sb;
	struct sbx_inotify *found = NULL;
	struct stat st;
	char p[64];

	if (!__atomic_load_n(&sb->inotifies, __ATOMIC_ACQUIRE))
		return NULL;
	snprintf(p, sizeof(p), "/proc/%d/fd/%d", c->tid, fd);
	if (stat(p, &st) < 0 || !S_ISFIFO(st.st_mode))
		return NULL;
	pthread_mutex_lock(&sb->lock);
	for (struct sbx_inotify *r = sb->inotifies; r; r = r->next)
		if (r->ph_ino == st.st_ino && r->ph_dev == st.st_dev) {
			found = r;
			__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
			break;
		}
	pthread_mutex_unlock(&sb->lock);
	return found;
}

long sbx_sys_inotify_init(struct sbx_call *c, int flags)
{
	struct sbx *sb = c->sb;
	struct sbx_inotify *r;
	struct stat st;
	char p[64];
	int ph, err;
	long sent;

	if (flags & ~(IN_NONBLOCK | IN_CLOEXEC))
		return -EINVAL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	err = vfs_inotify_new(sbx_who(c)->uid, 0, &r->in);
	if (err) {
		free(r);
		return err;
	}
	r->refs = 1;
	r->kfd = -1;
	r->sb = sb;
	pthread_mutex_init(&r->lock, NULL);
	/* A description opened through /proc raises inotify close events
	 * (pipe2's own raise none): the caller's. */
	snprintf(p, sizeof(p), "/proc/self/fd/%d",
		 vfs_inotify_ready_fd(r->in));
	ph = open(p, O_RDONLY | O_CLOEXEC |
			     ((flags & IN_NONBLOCK) ? O_NONBLOCK : 0));
	if (ph < 0 || fstat(ph, &st) < 0) {
		err = -errno;
		if (ph >= 0)
			close(ph);
		ino_put(r);
		return err;
	}
	r->ph_dev = st.st_dev;
	r->ph_ino = st.st_ino;
	snprintf(p, sizeof(p), "/proc/self/fd/%d", ph);
	r->close_wd = inotify_add_watch(sb->inotify, p, IN_CLOSE_NOWRITE);
	pthread_mutex_lock(&sb->lock);
	r->next = sb->inotifies;
	__atomic_store_n(&sb->inotifies, r, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&sb->lock);
	sent = sbx_send_fd(c, ph, SBX_VFD_LO, SBX_VFD_HI, flags & IN_CLOEXEC);
	/* The caller holds the description now; its last close is the
	 * close event. Sending failed: ours is the last. */
	close(ph);
	if (sent != SBX_SENT) {
		struct sbx_inotify *gone;

		pthread_mutex_lock(&sb->lock);
		gone = sbx_inotify_unlink_locked(sb, r->close_wd);
		pthread_mutex_unlock(&sb->lock);
		if (gone)
			sbx_inotify_closed(sb, gone);
	}
	return sent;
}

struct sbx_inotify *sbx_inotify_unlink_locked(struct sbx *sb, int wd)
{
	for (struct sbx_inotify **pp = &sb->inotifies; *pp;
	     pp = &(*pp)->next)
		if ((*pp)->close_wd == wd) {
			struct sbx_inotify *gone = *pp;

			*pp = gone->next;
			return gone;
		}
	return NULL;
}

void sbx_inotify_closed(struct sbx *sb, struct sbx_inotify *gone)
{
	inotify_rm_watch(sb->inotify, gone->close_wd);
	if (gone->kfd >= 0)
		epoll_ctl(sb->ino_epoll, EPOLL_CTL_DEL, gone->kfd, NULL);
	ino_put(gone);
}

/* Move what the kernel queued on r->kfd into the instance. */
static void forward(struct sbx_inotify *r)
{
	char buf[16 * 1024]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;

	/* Closes of mount files seen before these events go first: a
	 * program's close(2) below 10 is not trapped, so its IN_CLOSE_*
	 * comes from the close events the supervisor has queued. */
	sbx_vfile_drain(r->sb, true);
	pthread_mutex_lock(&r->lock);
	while (r->kfd >= 0 && (n = read(r->kfd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (struct inotify_event *)p;
			int wd = -1;

			p += sizeof(*e) + e->len;
			for (size_t i = 0; i < r->n_map; i++)
				if (r->map[i].kwd == e->wd) {
					wd = r->map[i].wd;
					if (e->mask & IN_IGNORED)
						r->map[i] = r->map[--r->n_map];
					break;
				}
			if (wd < 0 && !(e->mask & IN_Q_OVERFLOW))
				continue;
			vfs_inotify_queue(r->in, wd, e->mask, e->cookie,
					  e->len ? e->name : NULL);
		}
	}
	pthread_mutex_unlock(&r->lock);
}

void *sbx_inotify_forwarder(void *arg)
{
	struct sbx *sb = arg;
	struct epoll_event ev[16];

	for (;;) {
		int n = epoll_wait(sb->ino_epoll, ev, 16, 500);

		if (__atomic_load_n(&sb->stopping, __ATOMIC_ACQUIRE))
			break;
		for (int i = 0; i < n; i++) {
			struct sbx_inotify *found = NULL;

			pthread_mutex_lock(&sb->lock);
			for (struct sbx_inotify *r = sb->inotifies; r;
			     r = r->next)
				if (r == ev[i].data.ptr) {
					found = r;
					__atomic_add_fetch(&r->refs, 1,
							   __ATOMIC_RELAXED);
				}
			pthread_mutex_unlock(&sb->lock);
			if (found) {
				forward(found);
				ino_put(found);
			}
		}
	}
	return NULL;
}

/* A native path: watched by the kernel on r's own inotify. */
static long native_watch(struct sbx_call *c, struct sbx_inotify *r,
			 const char *path, uint32_t mask)
{
	char full[PATH_MAX + 64];
	int kwd, wd = -1;
	long err = 0;

	if (path[0] == '/')
		snprintf(full, sizeof(full), "%s", path);
	else
		snprintf(full, sizeof(full), "/proc/%d/cwd/%s", c->tid, path);
	pthread_mutex_lock(&r->lock);
	if (r->kfd < 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = r };

		r->kfd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
		if (r->kfd < 0 ||
		    epoll_ctl(c->sb->ino_epoll, EPOLL_CTL_ADD, r->kfd, &ev)) {
			err = -errno;
			if (r->kfd >= 0)
				close(r->kfd);
			r->kfd = -1;
		}
	}
	kwd = err ? -1 : inotify_add_watch(r->kfd, full, mask);
	if (!err && kwd < 0)
		err = -errno;
	for (size_t i = 0; !err && i < r->n_map; i++)
		if (r->map[i].kwd == kwd)
			wd = r->map[i].wd; /* the same inode again */
	if (!err && wd < 0) {
		struct kmap *m = realloc(r->map, (r->n_map + 1) * sizeof(*m));

		if (!m) {
			err = -ENOMEM;
		} else {
			r->map = m;
			wd = vfs_inotify_new_wd(r->in);
			m[r->n_map++] = (struct kmap){ kwd, wd };
		}
	}
	pthread_mutex_unlock(&r->lock);
	return err ? err : wd;
}

long sbx_sys_inotify_add_watch(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	uint32_t mask = (uint32_t)a[2];
	struct sbx_inotify *r = ino_of(c, (int)a[0]);
	struct sbx_target t;
	char path[PATH_MAX];
	long err;

	if (!r)
		return SBX_CONTINUE; /* not ours: the kernel's errors */
	if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE))
		err = -EINVAL;
	else if (!(mask & VFS_INOTIFY_VALID_BITS))
		err = -EINVAL;
	else if (sbx_read_str(c, a[1], path, sizeof(path)) < 0)
		err = -EFAULT;
	else
		err = sbx_resolve(c, AT_FDCWD, path,
				  (mask & IN_DONT_FOLLOW) ? 0 : SBX_FOLLOW,
				  &t);
	if (err) {
		ino_put(r);
		return err;
	}
	if (t.where == SBX_VIRTUAL) {
		struct vfs_mount *m = t.mnt->fs->m;

		if ((mask & IN_ONLYDIR) && !S_ISDIR(t.ino->type))
			err = -ENOTDIR;
		if (!err)
			err = vfs_permission(m, sbx_who(c), t.ino, R_OK);
		if (!err)
			err = vfs_inotify_add_watch(r->in, m, t.ino, mask);
	} else {
		err = native_watch(c, r, t.rewrite ? t.path : path, mask);
	}
	sbx_target_put(c->sb, &t);
	ino_put(r);
	return err;
}

long sbx_sys_inotify_rm_watch(struct sbx_call *c)
{
	const __u64 *a = c->n->data.args;
	struct sbx_inotify *r = ino_of(c, (int)a[0]);
	int wd = (int)a[1], kwd = -1;
	long err;

	if (!r)
		return SBX_CONTINUE;
	pthread_mutex_lock(&r->lock);
	for (size_t i = 0; i < r->n_map; i++)
		if (r->map[i].wd == wd)
			kwd = r->map[i].kwd;
	pthread_mutex_unlock(&r->lock);
	/* The kernel's IN_IGNORED comes through the forwarder. */
	if (kwd >= 0)
		err = inotify_rm_watch(r->kfd, kwd) < 0 ? -errno : 0;
	else
		err = vfs_inotify_rm_watch(r->in, wd);
	ino_put(r);
	return err;
}

/* Whether the caller's description is non-blocking. */
static bool nonblocking(struct sbx_call *c, int fd)
{
	char p[64], line[128];
	unsigned flags = 0;
	FILE *f;

	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", c->tid, fd);
	f = fopen(p, "re");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags:", 6))
			flags = (unsigned)strtoul(line + 6, NULL, 8);
	fclose(f);
	return flags & O_NONBLOCK;
}

long sbx_inotify_fd_call(struct sbx_call *c, bool *mine)
{
	const __u64 *a = c->n->data.args;
	struct sbx_inotify *r = ino_of(c, (int)a[0]);
	long n;

	*mine = r != NULL;
	if (!r)
		return 0;
	/* Closes of mount files the program made before this call have
	 * their IN_CLOSE_* queued first, as Linux's synchronous close. */
	sbx_vfile_settle(c->sb);
	if (c->n->data.nr == __NR_ioctl) {
		int v;

		if ((unsigned long)a[1] != FIONREAD) {
			ino_put(r);
			return -ENOTTY;
		}
		v = (int)vfs_inotify_nread(r->in);
		n = sbx_write_mem(c, a[2], &v, sizeof(v));
	} else if (c->n->data.nr == __NR_read) {
		size_t count = (size_t)a[2];
		char *buf = malloc(count ? count : 1);

		forward(r); /* what the kernel has queued so far */
		n = buf ? vfs_inotify_read(r->in, buf, count,
					   nonblocking(c, (int)a[0]))
			: -ENOMEM;
		if (n > 0 && sbx_write_mem(c, a[1], buf, (size_t)n) < 0)
			n = -EFAULT; /* the events are lost, as Linux's */
		free(buf);
	} else {
		n = -EINVAL; /* readv etc.: Linux's inotify has no read_iter */
	}
	ino_put(r);
	return n;
}

bool sbx_inotify_is(struct sbx_call *c, int fd)
{
	struct sbx_inotify *r = ino_of(c, fd);

	if (r)
		ino_put(r);
	return r != NULL;
}

/* /proc/PID/fdinfo/N (or self, thread-self): the pid and N, or false. */
static bool fdinfo_path(struct sbx_call *c, const char *path, pid_t *pid,
			int *fd)
{
	const char *q;
	char *end;

	if (!strncmp(path, "/proc/self/fdinfo/", 18)) {
		*pid = c->tid;
		q = path + 18;
	} else if (!strncmp(path, "/proc/thread-self/fdinfo/", 25)) {
		*pid = c->tid;
		q = path + 25;
	} else if (!strncmp(path, "/proc/", 6)) {
		long n = strtol(path + 6, &end, 10);

		if (end == path + 6 || strncmp(end, "/fdinfo/", 8))
			return false;
		*pid = (pid_t)n;
		q = end + 8;
	} else {
		return false;
	}
	*fd = (int)strtol(q, &end, 10);
	return end != q && !*end;
}

long sbx_inotify_fdinfo_open(struct sbx_call *c, const char *path,
			     int flags)
{
	struct sbx_call other = *c;
	struct sbx_inotify *r;
	char head[256], p[64], line[512], *text;
	size_t len, cap = 64 * 1024;
	pid_t pid;
	int fd;
	FILE *f;
	long ret;

	if (!fdinfo_path(c, path, &pid, &fd))
		return SBX_CONTINUE;
	other.tid = pid;
	r = ino_of(&other, fd);
	if (!r)
		return SBX_CONTINUE;
	text = malloc(cap);
	if (!text) {
		ino_put(r);
		return -ENOMEM;
	}
	/* The descriptor's own lines (pos, flags, mnt_id, ino) are the
	 * pipe's; then one line per watch: fusebox's, then the kernel's
	 * with their wds renumbered. */
	len = 0;
	snprintf(p, sizeof(p), "/proc/%d/fdinfo/%d", pid, fd);
	f = fopen(p, "re");
	while (f && fgets(head, sizeof(head), f) && len + strlen(head) < cap) {
		unsigned fl;

		/* The pipe was opened through /proc: O_LARGEFILE, which an
		 * inotify descriptor does not show. */
		if (sscanf(head, "flags: %o", &fl) == 1)
			snprintf(head, sizeof(head), "flags:\t0%o\n",
				 fl & ~0100000u);
		len += (size_t)snprintf(text + len, cap - len, "%s", head);
	}
	if (f)
		fclose(f);
	len += vfs_inotify_fdinfo(r->in, text + len, cap - len);
	pthread_mutex_lock(&r->lock);
	snprintf(p, sizeof(p), "/proc/self/fdinfo/%d", r->kfd);
	f = r->kfd >= 0 ? fopen(p, "re") : NULL;
	while (f && fgets(line, sizeof(line), f)) {
		int kwd, wd = -1;
		char *rest;

		if (sscanf(line, "inotify wd:%x", &kwd) != 1)
			continue;
		for (size_t i = 0; i < r->n_map; i++)
			if (r->map[i].kwd == kwd)
				wd = r->map[i].wd;
		rest = strchr(line, ' ');
		rest = rest ? strchr(rest + 1, ' ') : NULL;
		if (wd >= 0 && rest && len + 32 + strlen(rest) < cap)
			len += (size_t)snprintf(text + len, cap - len,
						"inotify wd:%x%s", wd, rest);
	}
	if (f)
		fclose(f);
	pthread_mutex_unlock(&r->lock);
	ino_put(r);
	ret = sbx_serve_text(c, "fdinfo", text, len, flags);
	free(text);
	return ret;
}
