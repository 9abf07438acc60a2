/*
 * lock.c - POSIX record locks (process- and OFD-owned) and flock locks.
 *
 * Where the server negotiated POSIX_LOCKS (FLOCK_LOCKS for flock) the
 * requests go to it: GETLK, SETLK, SETLKW. Otherwise the locks live
 * here, per inode, with the semantics Linux's local lock code gives a
 * FUSE mount without them: an owner's POSIX locks split and merge by
 * range, a conflict is any overlap with a write lock of another owner,
 * and flock locks are a separate whole-file set owned by open files.
 *
 * m->lock guards every inode's lock list; blocked waiters sleep on
 * m->lock_cv, woken at every unlock, and give up with EINTR when their
 * caller is gone (a signal in the sandbox).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>

#include "vfs/vfs.h"

#define OFFSET_MAX INT64_MAX
#define WAIT_POLL_NS (10 * 1000 * 1000)

struct vfs_lock {
	uint64_t owner;
	bool flock;
	short type;		/* F_RDLCK, F_WRLCK */
	int64_t start, end;	/* inclusive; end OFFSET_MAX: to EOF */
	int32_t pid;
	struct vfs_lock *next;	/* sorted by start */
};

static bool overlap(const struct vfs_lock *a, int64_t s, int64_t e)
{
	return a->start <= e && s <= a->end;
}

static struct vfs_lock *conflict(struct vfs_inode *ino, uint64_t owner,
				 bool flock, short type, int64_t s, int64_t e)
{
	for (struct vfs_lock *l = ino->locks; l; l = l->next) {
		if (l->flock != flock || l->owner == owner)
			continue;
		if (!overlap(l, s, e))
			continue;
		if (l->type == F_WRLCK || type == F_WRLCK)
			return l;
	}
	return NULL;
}

/* F_GETLK with F_UNLCK asks (Linux 6.7 on) for the caller's own lock
 * over the range. */
static struct vfs_lock *own_lock(struct vfs_inode *ino, uint64_t owner,
				 bool flock, int64_t s, int64_t e)
{
	for (struct vfs_lock *l = ino->locks; l; l = l->next)
		if (l->flock == flock && l->owner == owner && overlap(l, s, e))
			return l;
	return NULL;
}

static void insert_sorted(struct vfs_inode *ino, struct vfs_lock *n)
{
	struct vfs_lock **p = &ino->locks;

	while (*p && (*p)->start <= n->start)
		p = &(*p)->next;
	n->next = *p;
	*p = n;
}

/* Owner's locks on [s, e] are replaced by one of type (F_UNLCK: none).
 * The new lock absorbs overlapping and adjacent locks of its type.
 * Returns -ENOMEM before changing anything if a split cannot be had. */
static int replace_range(struct vfs_inode *ino, uint64_t owner, bool flock,
			 short type, int64_t s, int64_t e, int32_t pid)
{
	struct vfs_lock *n = NULL, *spare = NULL, **p;

	if (type != F_UNLCK && !(n = calloc(1, sizeof(*n))))
		return -ENOMEM;
	if (!(spare = calloc(1, sizeof(*spare)))) {
		free(n);
		return -ENOMEM;
	}
	if (n) {
		*n = (struct vfs_lock){ .owner = owner, .flock = flock,
					.type = type, .start = s, .end = e,
					.pid = pid };
	}
	for (p = &ino->locks; *p;) {
		struct vfs_lock *l = *p;
		bool adjacent = n && l->type == type &&
				((e < OFFSET_MAX && l->start == e + 1) ||
				 (s > 0 && l->end == s - 1));

		if (l->owner != owner || l->flock != flock ||
		    (!overlap(l, s, e) && !adjacent)) {
			p = &l->next;
			continue;
		}
		if (n && l->type == type) {
			/* Same type: merge into the new lock. */
			if (l->start < n->start)
				n->start = l->start;
			if (l->end > n->end)
				n->end = l->end;
			*p = l->next;
			free(l);
			continue;
		}
		if (adjacent) {
			p = &l->next;
			continue;
		}
		if (l->start < s && l->end > e) {
			/* The range is inside l: split it in two. */
			*spare = *l;
			spare->start = e + 1;
			l->end = s - 1;
			spare->next = l->next;
			l->next = spare;
			spare = NULL;
			break;
		}
		if (l->start < s) {
			l->end = s - 1;
			p = &l->next;
		} else if (l->end > e) {
			*p = l->next;
			l->start = e + 1;
			insert_sorted(ino, l);
			/* l moved later in the list; continue from p. */
		} else {
			*p = l->next;
			free(l);
		}
	}
	free(spare);
	if (n) {
		s = n->start;
		insert_sorted(ino, n);
	}
	return 0;
}

static bool timed_wait(struct vfs_mount *m)
{
	struct timespec ts;

	fuse_waiter_block();
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += WAIT_POLL_NS;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&m->lock_cv, &m->lock, &ts);
	return !fuse_caller_gone();
}

static int local_lock(struct vfs_file *f, int cmd, uint64_t owner,
		      bool flock, short type, int64_t s, int64_t e,
		      int32_t pid, struct flock *fl)
{
	struct vfs_mount *m = f->m;
	struct vfs_inode *ino = f->inode;
	struct vfs_lock *c;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	for (;;) {
		if (cmd == F_GETLK && type == F_UNLCK)
			c = own_lock(ino, owner, flock, s, e);
		else if (type == F_UNLCK)
			c = NULL;
		else
			c = conflict(ino, owner, flock, type, s, e);
		if (cmd == F_GETLK) {
			if (!c) {
				fl->l_type = F_UNLCK;
			} else {
				fl->l_type = c->type;
				fl->l_whence = SEEK_SET;
				fl->l_start = c->start;
				fl->l_len = c->end == OFFSET_MAX
						    ? 0
						    : c->end - c->start + 1;
				fl->l_pid = c->pid;
			}
			break;
		}
		if (!c) {
			err = replace_range(ino, owner, flock, type, s, e, pid);
			if (type == F_UNLCK || flock)
				pthread_cond_broadcast(&m->lock_cv);
			break;
		}
		if (cmd != F_SETLKW) {
			err = -EAGAIN;
			break;
		}
		if (!timed_wait(m)) {
			err = -EINTR;
			break;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return err;
}

static int remote_lock(struct vfs_file *f, const struct fuse_caller *who,
		       int cmd, uint64_t owner, bool flock, short type,
		       int64_t s, int64_t e, int32_t pid, struct flock *fl)
{
	struct fuse_file_lock lk = { .start = (uint64_t)s, .end = (uint64_t)e,
				     .type = (uint32_t)type,
				     .pid = (uint32_t)pid };
	uint32_t op = cmd == F_GETLK ? FUSE_GETLK
		      : cmd == F_SETLKW ? FUSE_SETLKW : FUSE_SETLK;
	int err = fuse_op_lock(f->m->conn, who, op, f->inode->nodeid, f->fh,
			       owner, flock, &lk);

	if (err || cmd != F_GETLK)
		return err == -EINTR ? -EINTR : err;
	fl->l_type = (short)lk.type;
	if (lk.type != F_UNLCK) {
		if (lk.start > (uint64_t)OFFSET_MAX ||
		    lk.end > (uint64_t)OFFSET_MAX || lk.end < lk.start) {
			fuse_log_bad(f->m->conn, "bad reply to GETLK: range");
			return -EIO;
		}
		fl->l_whence = SEEK_SET;
		fl->l_start = (off_t)lk.start;
		fl->l_len = lk.end == (uint64_t)OFFSET_MAX
				    ? 0
				    : (off_t)(lk.end - lk.start + 1);
		fl->l_pid = (pid_t)lk.pid;
	}
	return 0;
}

/* struct flock to an absolute inclusive range, as Linux's
 * flock_to_posix_lock. */
static int lock_range(struct vfs_file *f, const struct fuse_caller *who,
		      const struct flock *fl, int64_t *s, int64_t *e)
{
	int64_t base, start, end;
	struct stat st;
	int err;

	switch (fl->l_whence) {
	case SEEK_SET:
		base = 0;
		break;
	case SEEK_CUR:
		pthread_mutex_lock(&f->pos_lock);
		base = f->pos;
		pthread_mutex_unlock(&f->pos_lock);
		break;
	case SEEK_END:
		err = vfs_getattr(f->m, who, f->inode, f, false, &st);
		if (err)
			return err;
		base = st.st_size;
		break;
	default:
		return -EINVAL;
	}
	if (__builtin_add_overflow(base, (int64_t)fl->l_start, &start))
		return -EOVERFLOW;
	if (start < 0)
		return -EINVAL;
	if (fl->l_len > 0) {
		if (fl->l_len - 1 > OFFSET_MAX - start)
			return -EOVERFLOW;
		end = start + fl->l_len - 1;
	} else if (fl->l_len < 0) {
		end = start - 1;
		start += fl->l_len;
		if (start < 0)
			return -EINVAL;
	} else {
		end = OFFSET_MAX;
	}
	*s = start;
	*e = end;
	return 0;
}

/* Programs that share memory through a mapped file (SQLite's WAL index)
 * guard it with locks on that file. Its mappings are synced at every
 * lock and unlock: what one process stored before it unlocked is on the
 * server, and in the other processes' mappings, when the next one has
 * its lock (mapping.c: separate opens meet only at sync points). */
static void publish_stores(struct vfs_file *f, const struct fuse_caller *who)
{
	if (vfs_map_any(f->inode))
		vfs_map_sync_inode(f->inode, who, 0, UINT64_MAX);
}

int vfs_lock(struct vfs_file *f, const struct fuse_caller *who, int cmd,
	     uint64_t owner, struct flock *fl)
{
	int acc = f->flags & O_ACCMODE;
	/* Linux's FUSE directory operations have no lock method: locks on
	 * a directory stay local whatever was negotiated. */
	bool remote = (f->m->conn->lim.flags & FUSE_POSIX_LOCKS) &&
		      !S_ISDIR(f->inode->type);
	int64_t s, e;
	int err;

	if (f->flags & O_PATH)
		return -EBADF;
	if (fl->l_type != F_RDLCK && fl->l_type != F_WRLCK &&
	    fl->l_type != F_UNLCK)
		return -EINVAL;
	if (cmd != F_GETLK) {
		if (fl->l_type == F_RDLCK && acc == O_WRONLY)
			return -EBADF;
		if (fl->l_type == F_WRLCK && acc == O_RDONLY)
			return -EBADF;
	}
	err = lock_range(f, who, fl, &s, &e);
	if (err)
		return err;
	if (cmd != F_GETLK)
		publish_stores(f, who);
	if (remote)
		return remote_lock(f, who, cmd, owner, false, fl->l_type, s, e,
				   (int32_t)fuse_caller_ids(who)->pid, fl);
	return local_lock(f, cmd, owner, false, fl->l_type, s, e,
			  (int32_t)fuse_caller_ids(who)->pid, fl);
}

int vfs_flock(struct vfs_file *f, const struct fuse_caller *who, int op)
{
	uint64_t owner = (uint64_t)(uintptr_t)f;
	int cmd = (op & LOCK_NB) ? F_SETLK : F_SETLKW;
	short type;

	if (f->flags & O_PATH)
		return -EBADF;
	switch (op & ~LOCK_NB) {
	case LOCK_SH:
		type = F_RDLCK;
		break;
	case LOCK_EX:
		type = F_WRLCK;
		break;
	case LOCK_UN:
		type = F_UNLCK;
		break;
	default:
		return -EINVAL;
	}
	publish_stores(f, who);
	if ((f->m->conn->lim.flags & FUSE_FLOCK_LOCKS) &&
	    !S_ISDIR(f->inode->type)) {
		__atomic_store_n(&f->remote_flock, true, __ATOMIC_RELAXED);
		return remote_lock(f, who, cmd, owner, true, type, 0,
				   OFFSET_MAX, 0, NULL);
	}
	/* Linux converts a held flock by dropping it first. */
	if (type != F_UNLCK)
		local_lock(f, F_SETLK, owner, true, F_UNLCK, 0, OFFSET_MAX, 0,
			   NULL);
	return local_lock(f, cmd, owner, true, type, 0, OFFSET_MAX,
			  (int32_t)fuse_caller_ids(who)->pid, NULL);
}

void vfs_locks_release(struct vfs_file *f, uint64_t owner)
{
	struct vfs_mount *m = f->m;
	struct vfs_lock **p;
	bool any = false;

	pthread_mutex_lock(&m->lock);
	for (p = &f->inode->locks; *p;) {
		if ((*p)->owner == owner) {
			struct vfs_lock *l = *p;

			*p = l->next;
			free(l);
			any = true;
		} else {
			p = &(*p)->next;
		}
	}
	if (any)
		pthread_cond_broadcast(&m->lock_cv);
	pthread_mutex_unlock(&m->lock);
}

void vfs_locks_free(struct vfs_inode *ino)
{
	while (ino->locks) {
		struct vfs_lock *l = ino->locks;

		ino->locks = l->next;
		free(l);
	}
}
