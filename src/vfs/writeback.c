/*
 * writeback.c - writeback caching (FUSE_WRITEBACK_CACHE, when the server
 * takes it): write(2) copies into the page cache and marks it dirty; the
 * dirty data goes to the server later, as WRITEs with FUSE_WRITE_CACHE
 * through any open file of the inode that may write (Linux's
 * write_files), split by max_write and max_pages and merged where dirty
 * ranges of neighbouring blocks meet. It goes:
 *
 *  - on fsync/fdatasync and close (FLUSH), before the request itself,
 *    and at the last close of the file (RELEASE);
 *  - when pinned (dirty or in-flight) data passes its share of the cache
 *    bound: the writer that passed it writes its own file back, so the
 *    writer waits for the server and eviction never does;
 *  - before what needs the server to have it: SETATTR, fallocate,
 *    copy_file_range, direct I/O on the file, an atomic O_TRUNC open,
 *    an open without KEEP_CACHE (which then drops the cache); not
 *    SEEK_DATA/SEEK_HOLE: Linux's LSEEK goes without it;
 *  - on syncfs and at unmount (before DESTROY).
 *
 * A failed WRITE drops the blocks it carried (reads then see what the
 * server has) and leaves its error on the inode: the next fsync or close
 * of the file returns it, once.
 *
 * No lock is held across a WRITE: the bytes to send are copied out of
 * the cache first (vfs_pc_flush_begin), and the blocks they came from
 * stay pinned until the WRITEs are answered.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vfs/vfs.h"

#define RMW_TRIES 4
#define PAGE_BYTES 4096u

bool vfs_wb_mount(const struct vfs_mount *m)
{
	return m->conn->lim.flags & FUSE_WRITEBACK_CACHE;
}

bool vfs_wb_on(const struct vfs_file *f)
{
	return vfs_wb_mount(f->m) && S_ISREG(f->inode->type) &&
	       !(f->open_flags & FOPEN_DIRECT_IO);
}

static bool may_write(const struct vfs_file *f)
{
	return S_ISREG(f->inode->type) && !(f->flags & O_PATH) &&
	       (f->flags & O_ACCMODE) != O_RDONLY;
}

void vfs_wb_file_opened(struct vfs_file *f)
{
	struct vfs_inode *ino = f->inode;

	if (!may_write(f))
		return;
	pthread_mutex_lock(&f->m->lock);
	f->wprev = NULL;
	f->wnext = ino->wfiles;
	if (f->wnext)
		f->wnext->wprev = f;
	ino->wfiles = f;
	f->wlisted = true;
	pthread_mutex_unlock(&f->m->lock);
}

/* f leaves its inode's writers; whether none is left. */
static bool writer_gone(struct vfs_file *f)
{
	struct vfs_inode *ino = f->inode;
	bool last;

	pthread_mutex_lock(&f->m->lock);
	if (f->wlisted) {
		if (f->wprev)
			f->wprev->wnext = f->wnext;
		else
			ino->wfiles = f->wnext;
		if (f->wnext)
			f->wnext->wprev = f->wprev;
		f->wlisted = false;
	}
	last = !ino->wfiles;
	pthread_mutex_unlock(&f->m->lock);
	return last;
}

/* A reference to f unless its last one is already gone (it is being
 * released: it must not come back). */
static bool get_live(struct vfs_file *f)
{
	unsigned n = __atomic_load_n(&f->refs, __ATOMIC_RELAXED);

	while (n)
		if (__atomic_compare_exchange_n(&f->refs, &n, n + 1, false,
						__ATOMIC_ACQ_REL,
						__ATOMIC_RELAXED))
			return true;
	return false;
}

/* The open file of ino whose fh writeback uses: as Linux, the newest of
 * its writers (whatever file asked). Referenced, or self itself (on the
 * list, its last reference being dropped by the caller); NULL when there
 * is none. */
static struct vfs_file *writer_of(struct vfs_inode *ino,
				  struct vfs_file *self)
{
	struct vfs_mount *m = ino->mount;
	struct vfs_file *f;

	pthread_mutex_lock(&m->lock);
	for (f = ino->wfiles; f && f != self && !get_live(f); f = f->wnext)
		;
	pthread_mutex_unlock(&m->lock);
	return f;
}

static uint64_t ext_start(const struct vfs_pc_extent *x)
{
	return x->index * VFS_PC_BLOCK + x->from;
}

static uint64_t ext_end(const struct vfs_pc_extent *x)
{
	return x->index * VFS_PC_BLOCK + x->to;
}

/* WRITEs in flight at once during a writeback, as background requests
 * (max_background bounds what the server has, as for Linux's writeback). */
#define WB_WINDOW 16

/* One WRITE of a writeback: the extents [first, last] it carries, from
 * their own memory or, when it gathers several, a buffer of its own. */
struct wb_piece {
	struct fuse_write_req r;
	char *own;
	size_t first, last;
};

/* Builds the next WRITE from extent *i, byte *at of it: as much as runs
 * contiguously, up to chunk bytes. */
static int next_piece(struct vfs_file *f, const struct fuse_caller *who,
		      struct vfs_pc_extent *x, size_t n, size_t *i,
		      size_t *at, uint32_t chunk, struct wb_piece *p)
{
	uint64_t start = ext_start(&x[*i]) + *at;
	size_t avail = x[*i].to - x[*i].from - *at, len = 0;
	const char *buf;

	p->first = *i;
	p->own = NULL;
	if (avail >= chunk || *i + 1 >= n ||
	    ext_start(&x[*i + 1]) != ext_end(&x[*i])) {
		len = avail < chunk ? avail : chunk;
		buf = x[*i].data + *at;
		p->last = *i;
		*at += len;
	} else {
		p->own = malloc(chunk);
		if (!p->own)
			return -ENOMEM;
		while (len < chunk && *i < n) {
			size_t take = x[*i].to - x[*i].from - *at;

			if (take > chunk - len)
				take = chunk - len;
			memcpy(p->own + len, x[*i].data + *at, take);
			len += take;
			*at += take;
			p->last = *i;
			if (*at < x[*i].to - x[*i].from)
				break;
			if (*i + 1 >= n ||
			    ext_start(&x[*i + 1]) != ext_end(&x[*i]))
				break;
			(*i)++;
			*at = 0;
		}
		buf = p->own;
	}
	if (*i < n && *at == x[*i].to - x[*i].from) {
		(*i)++;
		*at = 0;
	}
	fuse_op_write_prepare(&p->r, who, f->inode->nodeid, f->fh, start, buf,
			      (uint32_t)len, f->flags, FUSE_WRITE_CACHE);
	p->r.req.background = true;
	return 0;
}

/* Sends the extents, WB_WINDOW WRITEs at a time, and marks each with
 * the error of a WRITE that carried it (a short WRITE is one: the bytes
 * were reported written long ago). */
static void send_all(struct vfs_file *f, const struct fuse_caller *who,
		     struct vfs_pc_extent *x, size_t n)
{
	struct fuse_conn *c = f->m->conn;
	uint32_t chunk = vfs_write_chunk(c);
	struct wb_piece *p = calloc(WB_WINDOW, sizeof(*p));
	size_t i = 0, at = 0;

	if (!p) {
		for (size_t k = 0; k < n; k++)
			x[k].err = -ENOMEM;
		return;
	}
	while (i < n) {
		unsigned np = 0;

		while (np < WB_WINDOW && i < n) {
			size_t from = i;

			if (next_piece(f, who, x, n, &i, &at, chunk, &p[np])) {
				x[from].err = -ENOMEM;
				i = from + 1;
				at = 0;
				continue;
			}
			np++;
		}
		for (unsigned k = 0; k < np; k++)
			fuse_submit(c, &p[k].r.req);
		for (unsigned k = 0; k < np; k++) {
			ssize_t w;
			int err = 0;

			fuse_wait(c, &p[k].r.req);
			w = fuse_op_write_result(c, &p[k].r);
			if (w < 0)
				err = (int)w;
			else if ((uint32_t)w < p[k].r.in.size)
				err = -EIO;
			for (size_t e = p[k].first; err && e <= p[k].last; e++)
				if (!x[e].err)
					x[e].err = err;
			free(p[k].own);
		}
	}
	free(p);
}

/* Writes back what is dirty of f's inode now, through f (referenced or
 * being released by the caller). The error of this writeback, also left
 * on the inode. */
static int flush_with(struct vfs_file *f, const struct fuse_caller *who)
{
	static const struct fuse_caller nobody = { 0 };
	struct vfs_inode *ino = f->inode;
	struct vfs_pc_extent *x;
	size_t n, i = 0;
	int err = vfs_pc_flush_begin(ino, &x, &n);

	if (err || !n)
		return err;
	if (!who)
		who = &nobody;
	send_all(f, who, x, n);
	for (i = 0; i < n && !err; i++)
		err = x[i].err;
	vfs_pc_flush_end(ino, x, n);
	/* The server's mtime, ctime and blocks moved; the size we hold
	 * stays ours while anything is pending (inode.c). */
	vfs_attr_expire(f->m, ino);
	return err;
}

int vfs_wb_flush(struct vfs_inode *ino, struct vfs_file *hint,
		 const struct fuse_caller *who)
{
	struct vfs_file *f;
	int err;

	if (!vfs_pc_has_dirty(ino))
		return 0;
	f = writer_of(ino, NULL);
	if (!f && hint && may_write(hint) && get_live(hint))
		f = hint;
	if (!f)
		return -EBADF; /* none left: vfs_wb_file_closing dropped it */
	err = flush_with(f, who);
	vfs_file_put(f);
	return err;
}

int vfs_wb_sync(struct vfs_inode *ino, struct vfs_file *hint,
		const struct fuse_caller *who)
{
	if (!vfs_wb_mount(ino->mount) || !S_ISREG(ino->type))
		return 0;
	vfs_wb_flush(ino, hint, who);
	/* Writebacks begun by others carry data written before this. */
	vfs_pc_wait_writeback(ino);
	return vfs_pc_take_error(ino);
}

int vfs_wb_settle(struct vfs_inode *ino, const struct fuse_caller *who)
{
	if (!vfs_wb_mount(ino->mount) || !S_ISREG(ino->type) ||
	    !vfs_pc_pending(ino))
		return 0;
	vfs_wb_flush(ino, NULL, who);
	vfs_pc_wait_writeback(ino);
	return 0;
}

void vfs_wb_file_closing(struct vfs_file *f)
{
	struct vfs_file *w;
	bool last;

	if (!vfs_wb_mount(f->m) || !may_write(f)) {
		writer_gone(f);
		return;
	}
	/* As Linux's release with writeback caching: what is dirty is
	 * written now, while this file is still one of the writers. */
	if (vfs_pc_has_dirty(f->inode)) {
		w = writer_of(f->inode, f);
		flush_with(w ? w : f, NULL);
		if (w && w != f)
			vfs_file_put(w);
	}
	last = writer_gone(f);
	if (last && vfs_pc_has_dirty(f->inode)) {
		/* Written since, and no file left to write it through. */
		pthread_mutex_lock(&f->m->lock);
		last = !f->inode->wfiles;
		pthread_mutex_unlock(&f->m->lock);
		if (last)
			vfs_pc_discard_dirty(f->inode);
	}
}

/* Of a write of n bytes at pos into a block that could not be read
 * (valid: its pages cached), the part Linux takes without reading: pages
 * it covers whole, valid ones, and those from the file's old end on, up
 * to the first page it would have had to read (its write stops there,
 * with the read's error if at once). */
static size_t unread_prefix(uint64_t pos, size_t n, uint64_t size,
			    uint32_t valid)
{
	uint64_t end = pos + n, p = pos;

	while (p < end) {
		uint64_t ps = p / PAGE_BYTES * PAGE_BYTES;
		uint64_t pe = ps + PAGE_BYTES < end ? ps + PAGE_BYTES : end;
		bool whole = p == ps && pe == ps + PAGE_BYTES;
		unsigned page = (unsigned)(ps % VFS_PC_BLOCK / PAGE_BYTES);

		if (!whole && ps < size && !(valid & (1u << page)))
			break;
		p = pe;
	}
	return (size_t)(p - pos);
}

ssize_t vfs_wb_write(struct vfs_file *f, const struct fuse_caller *who,
		     const char *buf, size_t count, uint64_t off)
{
	struct vfs_inode *ino = f->inode;
	struct timespec now;
	size_t done = 0;

	while (done < count) {
		uint64_t pos = off + done, size = 0;
		size_t n = VFS_PC_BLOCK - (size_t)(pos % VFS_PC_BLOCK);
		int r = -EAGAIN;

		if (n > count - done)
			n = count - done;
		for (int tries = 0; r == -EAGAIN && tries < RMW_TRIES;
		     tries++) {
			pthread_mutex_lock(&f->m->lock);
			size = ino->attr.size;
			pthread_mutex_unlock(&f->m->lock);
			r = vfs_pc_dirty(ino, pos, buf + done, n, size);
			/* A part of the block: the rest of it first. */
			if (r == -EAGAIN) {
				int e = vfs_read_block(f, who,
						       pos / VFS_PC_BLOCK,
						       size);

				if (e < 0) {
					r = e;
					break;
				}
			}
		}
		if (r < 0 && r != -EAGAIN && r != -ENOMEM) {
			/* The server would not give the rest of the block
			 * (a write-only fh): as Linux, the pages that need
			 * no read are written, and the write ends at the
			 * first that does. */
			size_t take = unread_prefix(
				pos, n, size,
				vfs_pc_valid_pages(ino, pos / VFS_PC_BLOCK));
			ssize_t w = take ? vfs_write_through(f, who,
							     buf + done, take,
							     pos, 0)
					 : r;

			if (w <= 0)
				return done ? (ssize_t)done : w;
			return (ssize_t)(done + (size_t)w);
		}
		if (r < 0) {
			/* The cache could not take it: straight through. */
			ssize_t w = vfs_write_through(f, who, buf + done, n,
						      pos, 0);

			if (w <= 0)
				return done ? (ssize_t)done : w;
			done += (size_t)w;
			if ((size_t)w < n)
				break;
			continue;
		}
		done += n;
		/* Ours: the size grows and the times move now, not when the
		 * server hears (Linux's file_update_time). */
		clock_gettime(CLOCK_REALTIME, &now);
		pthread_mutex_lock(&f->m->lock);
		if (pos + n > ino->attr.size)
			ino->attr.size = pos + n;
		ino->attr.mtime = ino->attr.ctime = (uint64_t)now.tv_sec;
		ino->attr.mtimensec = ino->attr.ctimensec =
			(uint32_t)now.tv_nsec;
		pthread_mutex_unlock(&f->m->lock);
		if (vfs_pc_over_dirty_limit())
			flush_with(f, who);
	}
	return (ssize_t)done;
}

int vfs_wb_sync_mount(struct vfs_mount *m, const struct fuse_caller *who)
{
	struct vfs_inode **list = NULL;
	size_t n = 0, cap = 0;

	if (!vfs_wb_mount(m))
		return 0;
	pthread_mutex_lock(&m->lock);
	for (size_t b = 0; b < m->itab_size; b++)
		for (struct vfs_inode *ino = m->itab[b]; ino;
		     ino = ino->hnext) {
			if (!S_ISREG(ino->type) || !vfs_pc_pending(ino))
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct vfs_inode **nl =
					realloc(list, nc * sizeof(*nl));

				if (!nl)
					break;
				list = nl;
				cap = nc;
			}
			vfs_inode_get(ino);
			list[n++] = ino;
		}
	pthread_mutex_unlock(&m->lock);
	for (size_t i = 0; i < n; i++) {
		vfs_wb_flush(list[i], NULL, who);
		vfs_pc_wait_writeback(list[i]);
		vfs_inode_put(m, list[i]);
	}
	free(list);
	return 0;
}
