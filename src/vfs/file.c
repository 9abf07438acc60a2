/*
 * file.c - open file descriptions: OPEN/RELEASE (with O_TRUNC), FLUSH on
 * close, READ split into requests of at most min(max_read, max_pages
 * pages), and lseek including SEEK_DATA/SEEK_HOLE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vfs/vfs.h"

#define PAGE_SZ 4096u
#define MAX_RW_COUNT (0x7ffff000u) /* Linux's cap on one read(2) */
#define READ_PIPELINE 16	   /* READs in flight for one read(2) */

int vfs_open_check(const struct vfs_inode *ino, int flags)
{
	int acc = flags & O_ACCMODE;

	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return -EEXIST;
	/* Linux's do_open: ENOTDIR before may_open's ELOOP. */
	if ((flags & O_DIRECTORY) && !S_ISDIR(ino->type))
		return -ENOTDIR;
	if (S_ISLNK(ino->type) && !(flags & O_PATH))
		return -ELOOP; /* O_NOFOLLOW on a symlink */
	if (S_ISDIR(ino->type) && !(flags & O_PATH) &&
	    (acc != O_RDONLY || (flags & (O_CREAT | O_TRUNC))))
		return -EISDIR;
	return 0;
}

int vfs_file_new(struct vfs_mount *m, struct vfs_inode *ino, int flags,
		 bool has_fh, const struct fuse_open_out *oo,
		 struct vfs_file **out)
{
	struct vfs_file *f = calloc(1, sizeof(*f));

	if (!f) {
		if (has_fh)
			fuse_op_release(m->conn, ino->nodeid,
					S_ISDIR(ino->type), oo->fh, flags, 0,
					0, NULL, NULL);
		return -ENOMEM;
	}
	f->m = m;
	f->inode = ino;
	pthread_mutex_lock(&m->lock);
	vfs_inode_get(ino);
	/* Opened by the name just walked (Linux's f_path.dentry). */
	f->alias = ino->alias;
	if (f->alias)
		f->alias->refs++;
	pthread_mutex_unlock(&m->lock);
	f->flags = flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC);
	f->has_fh = has_fh;
	f->fh = has_fh ? oo->fh : 0;
	f->open_flags = has_fh ? oo->open_flags : 0;
	f->refs = 1;
	f->native_fd = -1;
	pthread_mutex_init(&f->pos_lock, NULL);
	vfs_wb_file_opened(f);
	/* As Linux's open: without KEEP_CACHE the server may have changed
	 * the file behind our back, so what is cached of it goes - dirty
	 * data written back first, as its invalidation launders pages. */
	if (has_fh && S_ISREG(ino->type) &&
	    !(oo->open_flags & FOPEN_KEEP_CACHE)) {
		vfs_wb_settle(ino, NULL);
		vfs_pc_invalidate(ino, 0, UINT64_MAX);
	}
	*out = f;
	return 0;
}

/* O_TRUNC where the server does not take it in OPEN: SETATTR of the
 * size with the new handle, as Linux's handle_truncate. */
static int open_truncate(struct vfs_mount *m, const struct fuse_caller *who,
			 struct vfs_file *f)
{
	struct fuse_setattr_in in = { .valid = FATTR_SIZE, .size = 0 };

	return vfs_setattr(m, who, f->inode, f, &in);
}

/* exec: the caller's MAY_EXEC was checked (as Linux's do_open_execat
 * asks no MAY_READ: a program with --x runs). */
static int open_file(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, int flags, bool exec,
		     struct vfs_file **out)
{
	struct fuse_open_out oo = { 0 };
	bool dir = S_ISDIR(ino->type);
	bool trunc = (flags & O_TRUNC) && S_ISREG(ino->type) &&
		     !(flags & O_PATH);
	bool atomic = m->conn->lim.flags & FUSE_ATOMIC_O_TRUNC;
	int r = 1, err;

	if (m->read_only && !(flags & O_PATH) && S_ISREG(ino->type) &&
	    ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)))
		return -EROFS;
	err = exec ? 0 : vfs_may_open(m, who, ino, flags);
	if (err)
		return err;
	if (!(flags & O_PATH)) {
		/* Device nodes, FIFOs and sockets on a FUSE mount are
		 * served by the local kernel, never by the server. */
		if (S_ISFIFO(ino->type))
			return vfs_fifo_open(m, ino, flags, out);
		if (!dir && !S_ISREG(ino->type))
			return -ENXIO;
		/* The server truncates: our writes must not land after. */
		if (trunc && atomic)
			vfs_wb_settle(ino, who);
		r = fuse_op_open(m->conn, who, ino->nodeid, dir,
				 trunc && atomic ? flags : flags & ~O_TRUNC,
				 &oo);
		if (r < 0)
			return r;
	}
	err = vfs_file_new(m, ino, flags, r == 0, &oo, out);
	if (err)
		return err;
	/* Linux's do_open: the file is open (IN_OPEN) before O_TRUNC
	 * truncates it (handle_truncate, IN_MODIFY), and a failed truncate
	 * closes it again (IN_CLOSE_WRITE). */
	vfs_file_opened(*out);
	if (trunc && atomic) {
		/* The server truncated: the size we hold is stale. Linux's
		 * FUSE client still runs notify_change (its fuse_setattr
		 * sends nothing for ATTR_OPEN), which raises IN_MODIFY. */
		pthread_mutex_lock(&m->lock);
		ino->attr.size = 0;
		ino->attr_expiry = 0;
		pthread_mutex_unlock(&m->lock);
		vfs_pc_truncate(ino, 0);
		vfs_map_truncate(ino, 0);
		vfs_fsnotify_file(*out, IN_MODIFY, false);
	} else if (trunc) {
		err = open_truncate(m, who, *out);
		if (err) {
			vfs_file_put(*out);
			*out = NULL;
			return err;
		}
	}
	return 0;
}

int vfs_open(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *ino, int flags, struct vfs_file **out)
{
	return open_file(m, who, ino, flags, false, out);
}

int vfs_open_exec(struct vfs_mount *m, const struct fuse_caller *who,
		  struct vfs_inode *ino, struct vfs_file **out)
{
	return open_file(m, who, ino, O_RDONLY, true, out);
}

void vfs_file_opened(struct vfs_file *f)
{
	if (f->flags & O_PATH)
		return;
	pthread_mutex_lock(&f->m->lock);
	f->inode->opens++;
	pthread_mutex_unlock(&f->m->lock);
	f->notified = true;
	vfs_fsnotify_file(f, IN_OPEN, true);
}

void vfs_file_reach(struct vfs_file *f)
{
	struct vfs_inode *ino = f->inode;

	if (!f->alias)
		return;
	pthread_mutex_lock(&f->m->lock);
	f->alias->refs++;
	vfs_alias_put(ino, ino->alias);
	ino->alias = f->alias;
	pthread_mutex_unlock(&f->m->lock);
}

/* Linux's __fput: IN_CLOSE_WRITE or IN_CLOSE_NOWRITE (not for O_PATH),
 * then the file's name is let go: IN_DELETE_SELF for what was removed
 * and kept by it. */
static void file_closed(struct vfs_file *f)
{
	struct vfs_mount *m = f->m;
	struct vfs_inode *gone[8];
	size_t n;

	if (f->notified)
		vfs_fsnotify_file(f, (f->flags & O_ACCMODE) == O_RDONLY
					     ? IN_CLOSE_NOWRITE
					     : IN_CLOSE_WRITE,
				  true);
	pthread_mutex_lock(&m->lock);
	if (f->notified)
		f->inode->opens--;
	n = vfs_alias_release(f->inode, f->alias, gone, 8);
	f->alias = NULL;
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		vfs_fsnotify_gone(m, gone[i]);
		vfs_inode_put(m, gone[i]);
	}
}

void vfs_file_get(struct vfs_file *f)
{
	__atomic_add_fetch(&f->refs, 1, __ATOMIC_RELAXED);
}

/* A RELEASE that vfs_file_put_wait waits for; freed by the last of the
 * answer and the waiter (under m->lock). */
struct release_wait {
	struct vfs_inode *ino;
	bool done;
	unsigned refs;
};

/* RELEASE answered (or the connection is gone). The FORGET this may
 * cause goes out now, as Linux forgets an unlinked file at its last
 * close (the server frees its space then); the transport tolerates a
 * send from inside its own send path. It is sent while releases still
 * counts this RELEASE, so that vfs_mount_free (and the connection's
 * end after it) waits; nothing of m is touched after the last unlock. */
static void release_done(struct vfs_inode *ino, struct release_wait *w)
{
	struct vfs_mount *m = ino->mount;
	struct fuse_forget_one *forgets = NULL;
	size_t n;
	bool wake;

	pthread_mutex_lock(&m->lock);
	vfs_inode_put_locked(m, ino);
	n = m->n_forgets;
	if (n) {
		forgets = m->forgets;
		m->forgets = NULL;
		m->n_forgets = m->cap_forgets = 0;
	}
	pthread_mutex_unlock(&m->lock);
	if (n)
		fuse_op_forget_batch(m->conn, forgets, n);
	free(forgets);
	pthread_mutex_lock(&m->lock);
	wake = --m->releases == 0;
	if (w) {
		w->done = wake = true;
		if (--w->refs == 0)
			free(w);
	}
	if (wake)
		pthread_cond_broadcast(&m->lock_cv);
	pthread_mutex_unlock(&m->lock);
}

static void released(void *ctx)
{
	release_done(ctx, NULL);
}

static void released_waited(void *ctx)
{
	struct release_wait *w = ctx;

	release_done(w->ino, w);
}

static void file_put(struct vfs_file *f, int wait_ms)
{
	struct vfs_mount *m = f->m;
	struct release_wait *w = NULL;

	if (__atomic_sub_fetch(&f->refs, 1, __ATOMIC_ACQ_REL))
		return;
	file_closed(f);
	/* OFD and flock locks belong to the open file and end with it. */
	vfs_locks_release(f, (uint64_t)(uintptr_t)f);
	vfs_poll_forget(f);
	/* Dirty data is written back while this fh is still open. */
	vfs_wb_file_closing(f);
	if (f->has_fh) {
		/* As Linux: the server drops flock locks it holds for this
		 * open file with the RELEASE (owner = the open file). */
		bool flock = __atomic_load_n(&f->remote_flock, __ATOMIC_RELAXED);

		/* The inode (and its lookup) lives until the server has
		 * answered RELEASE: the FORGET must not overtake it. */
		pthread_mutex_lock(&m->lock);
		m->releases++;
		pthread_mutex_unlock(&m->lock);
		if (wait_ms > 0 && (w = calloc(1, sizeof(*w)))) {
			w->ino = f->inode;
			w->refs = 2;
		}
		fuse_op_release(m->conn, f->inode->nodeid,
				S_ISDIR(f->inode->type), f->fh, f->flags,
				flock ? FUSE_RELEASE_FLOCK_UNLOCK : 0,
				flock ? (uint64_t)(uintptr_t)f : 0,
				w ? released_waited : released,
				w ? (void *)w : (void *)f->inode);
	} else {
		vfs_inode_put(m, f->inode);
	}
	if (f->native_fd >= 0)
		close(f->native_fd);
	pthread_mutex_destroy(&f->pos_lock);
	free(f->dbuf);
	free(f);
	if (w) {
		struct timespec ts;

		fuse_waiter_block();
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&m->lock);
		while (!w->done &&
		       pthread_cond_timedwait(&m->lock_cv, &m->lock, &ts) !=
			       ETIMEDOUT)
			;
		if (--w->refs == 0)
			free(w);
		pthread_mutex_unlock(&m->lock);
	}
}

void vfs_file_put(struct vfs_file *f)
{
	file_put(f, 0);
}

void vfs_file_put_wait(struct vfs_file *f, int timeout_ms)
{
	file_put(f, timeout_ms);
}

int vfs_file_flush(struct vfs_file *f, const struct fuse_caller *who,
		   uint64_t owner)
{
	/* close(2) drops the closer's record locks on the file: fusebox's
	 * own here, the server's through FLUSH's lock_owner. */
	int err;

	vfs_locks_release(f, owner);
	if ((f->flags & O_PATH) || !S_ISREG(f->inode->type))
		return 0;
	/* As Linux's fuse_flush: the inode's dirty data goes first (also
	 * with NOFLUSH), and a writeback error is close's, once; FLUSH is
	 * not sent then. */
	err = vfs_wb_sync(f->inode, f, who);
	if (err)
		return err;
	if (f->open_flags & FOPEN_NOFLUSH)
		return 0;
	return fuse_op_flush(f->m->conn, who, f->inode->nodeid, f->fh, owner);
}

int vfs_file_drop_locks(struct vfs_file *f, const struct fuse_caller *who,
			uint64_t owner)
{
	if (f->m->conn->lim.flags & FUSE_POSIX_LOCKS)
		return vfs_file_flush(f, who, owner);
	vfs_locks_release(f, owner);
	return 0;
}

uint32_t vfs_read_chunk(struct fuse_conn *c)
{
	uint32_t by_pages = c->lim.max_pages * PAGE_SZ;

	return c->lim.max_read < by_pages ? c->lim.max_read : by_pages;
}

/* READs one after another; a short one is end of file. */
static ssize_t read_serial(struct vfs_file *f, const struct fuse_caller *who,
			   char *buf, size_t count, off_t off, uint32_t chunk)
{
	size_t done = 0;

	while (done < count) {
		uint32_t want = count - done < chunk ? (uint32_t)(count - done)
						     : chunk;
		ssize_t n = fuse_op_read(f->m->conn, who, f->inode->nodeid,
					 f->fh, (uint64_t)off + done,
					 buf + done, want, f->flags);

		if (n < 0)
			return done ? (ssize_t)done : n;
		done += (size_t)n;
		if ((uint32_t)n < want)
			break;
	}
	return (ssize_t)done;
}

/* With ASYNC_READ, up to READ_PIPELINE READs are in flight at once. The
 * result is what the serial loop would give: bytes up to the first short
 * or failed READ. */
static ssize_t read_pipelined(struct vfs_file *f,
			      const struct fuse_caller *who, char *buf,
			      size_t count, off_t off, uint32_t chunk)
{
	struct fuse_read_req *r = calloc(READ_PIPELINE, sizeof(*r));
	size_t done = 0;
	int err = 0;
	bool eof = false;

	if (!r)
		return read_serial(f, who, buf, count, off, chunk);
	while (done < count && !eof && !err) {
		size_t pos = done;
		int n = 0;

		for (; n < READ_PIPELINE && pos < count; n++) {
			uint32_t want = count - pos < chunk
						? (uint32_t)(count - pos)
						: chunk;

			fuse_op_read_prepare(&r[n], who, f->inode->nodeid,
					     f->fh, (uint64_t)off + pos,
					     buf + pos, want, f->flags);
			fuse_submit(f->m->conn, &r[n].req);
			pos += want;
		}
		for (int i = 0; i < n; i++) {
			int e = fuse_wait(f->m->conn, &r[i].req);
			size_t want = r[i].in.size;

			if (eof || err)
				continue;
			if (e) {
				err = e;
				continue;
			}
			done += r[i].req.out_len;
			if (r[i].req.out_len < want)
				eof = true;
		}
	}
	free(r);
	if (err && !done)
		return err;
	return (ssize_t)done;
}

ssize_t vfs_pread(struct vfs_file *f, const struct fuse_caller *who,
		  void *buf, size_t count, off_t off)
{
	ssize_t n = vfs_pread_quiet(f, who, buf, count, off);

	if (n > 0)
		vfs_fsnotify_file(f, IN_ACCESS, true);
	return n;
}

ssize_t vfs_pread_quiet(struct vfs_file *f, const struct fuse_caller *who,
			void *buf, size_t count, off_t off)
{
	uint32_t chunk = vfs_read_chunk(f->m->conn);

	/* Linux's pread64: the offset, the descriptor, whether the file
	 * has positions (a FIFO has none), then its access mode. */
	if (off < 0)
		return -EINVAL;
	if (f->flags & O_PATH)
		return -EBADF;
	if (f->native_fd >= 0)
		return -ESPIPE;
	if (S_ISDIR(f->inode->type))
		return -EISDIR;
	if ((f->flags & O_ACCMODE) == O_WRONLY)
		return -EBADF;
	if (count > MAX_RW_COUNT)
		count = MAX_RW_COUNT;
	if (!count)
		return 0;
	/* Stores through a mapping of the range reach the server first, so
	 * the read shows them, as Linux's shared page cache would. A
	 * failure leaves them dirty for fsync to report. */
	if (vfs_map_any(f->inode))
		vfs_map_sync_inode(f->inode, who, (uint64_t)off,
				   (uint64_t)off + count);
	if (!(f->open_flags & FOPEN_DIRECT_IO)) {
		/* Cached I/O, as Linux: the file's size (refreshed when the
		 * read runs past it, or always with AUTO_INVAL_DATA) ends
		 * the read; no READ is sent beyond it. */
		struct stat st;
		uint64_t size;
		int err;

		pthread_mutex_lock(&f->m->lock);
		size = f->inode->attr.size;
		pthread_mutex_unlock(&f->m->lock);
		if ((f->m->conn->lim.flags & FUSE_AUTO_INVAL_DATA) ||
		    (uint64_t)off + count > size) {
			err = vfs_getattr(f->m, who, f->inode, f, false, &st);
			if (err)
				return err;
			size = (uint64_t)st.st_size;
		}
		if ((uint64_t)off >= size)
			return 0;
		if ((uint64_t)off + count > size)
			count = (size_t)(size - (uint64_t)off);
		return vfs_read_cached(f, who, buf, count, (uint64_t)off,
				       size);
	}
	/* Direct I/O reads what the server has: our writes first. */
	vfs_wb_settle(f->inode, who);
	if ((f->m->conn->lim.flags & FUSE_ASYNC_READ) && count > chunk)
		return read_pipelined(f, who, buf, count, off, chunk);
	return read_serial(f, who, buf, count, off, chunk);
}

static bool nonseekable(const struct vfs_file *f)
{
	return f->open_flags & (FOPEN_NONSEEKABLE | FOPEN_STREAM);
}

ssize_t vfs_read(struct vfs_file *f, const struct fuse_caller *who,
		 void *buf, size_t count)
{
	ssize_t n;

	if (f->native_fd >= 0 && !(f->flags & O_PATH)) {
		if ((f->flags & O_ACCMODE) == O_WRONLY)
			return -EBADF;
		n = read(f->native_fd, buf, count);
		if (n > 0)
			vfs_fsnotify_pipe(f, IN_ACCESS);
		return n < 0 ? -errno : n;
	}
	/* Held across the READs, as Linux holds f_pos_lock: only users
	 * of this same open file wait on it. */
	pthread_mutex_lock(&f->pos_lock);
	n = vfs_pread(f, who, buf, count, nonseekable(f) ? 0 : f->pos);
	if (n > 0 && !nonseekable(f))
		f->pos += n;
	pthread_mutex_unlock(&f->pos_lock);
	return n;
}

/* SEEK_DATA/SEEK_HOLE when the server has no LSEEK: the whole file is
 * data, as Linux's generic code says. */
static off_t seek_data_hole(struct vfs_file *f, const struct fuse_caller *who,
			    off_t off, int whence)
{
	struct stat st;
	int err = vfs_getattr(f->m, who, f->inode, f, true, &st);

	if (err)
		return err;
	if (off < 0 || off >= st.st_size)
		return -ENXIO;
	return whence == SEEK_DATA ? off : st.st_size;
}

off_t vfs_lseek(struct vfs_file *f, const struct fuse_caller *who, off_t off,
		int whence)
{
	struct stat st;
	off_t np = 0;
	int err = 0;

	if (nonseekable(f) || f->native_fd >= 0)
		return -ESPIPE;
	pthread_mutex_lock(&f->pos_lock);
	switch (whence) {
	case SEEK_SET:
		np = off;
		break;
	case SEEK_CUR:
		if (__builtin_add_overflow(f->pos, off, &np))
			err = -EOVERFLOW;
		break;
	case SEEK_END:
		/* Directories too: Linux's FUSE directories seek as files,
		 * from their size. */
		err = vfs_getattr(f->m, who, f->inode, f, true, &st);
		if (!err && __builtin_add_overflow(st.st_size, off, &np))
			err = -EOVERFLOW;
		break;
	case SEEK_DATA:
	case SEEK_HOLE:
		if (S_ISDIR(f->inode->type)) {
			/* Linux's generic llseek on the cached size: data up
			 * to it, the hole at it, ENXIO from it on. */
			err = vfs_getattr(f->m, who, f->inode, f, false, &st);
			if (!err && (uint64_t)off >= (uint64_t)st.st_size)
				err = -ENXIO;
			np = whence == SEEK_DATA ? off : st.st_size;
			break;
		}
		if (!S_ISREG(f->inode->type)) {
			err = -EINVAL;
			break;
		}
		np = -ENOSYS;
		/* The server answers from what it has: dirty data is not
		 * written back first, as Linux's fuse_lseek does not. */
		if (f->has_fh)
			np = fuse_op_lseek(f->m->conn, who, f->inode->nodeid,
					   f->fh, off, whence);
		if (np == -ENOSYS)
			np = seek_data_hole(f, who, off, whence);
		if (np < 0)
			err = (int)np;
		break;
	default:
		err = -EINVAL;
	}
	if (!err && np < 0)
		err = -EINVAL;
	if (!err && np != f->pos) {
		f->pos = np;
		free(f->dbuf);
		f->dbuf = NULL;
		f->dbuf_len = f->dbuf_pos = 0;
	}
	pthread_mutex_unlock(&f->pos_lock);
	return err ? err : np;
}
