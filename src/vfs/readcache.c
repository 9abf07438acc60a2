/*
 * readcache.c - read(2) of a file opened without FOPEN_DIRECT_IO, through
 * the page cache: what is cached is copied; what is not is read from the
 * server a block at a time (several READs in flight with ASYNC_READ),
 * handed to the reader and kept. A read that starts where the last one on
 * the same open file ended also reads max_readahead bytes ahead.
 *
 * A fill stops before the next cached block: that one may hold our
 * writes, newer than the server's bytes. With writeback caching the size
 * is ours, so a short READ below it is a hole the server has not seen
 * written yet (zeros), not the end of the file (as Linux's
 * fuse_short_read).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vfs/vfs.h"

#define FILL_BLOCKS 16	  /* blocks one fill asks for, at most */
#define READ_WINDOW 16	  /* READs submitted at once (max_background
			   * bounds how many the server sees) */

struct fill_block {
	char *data;
	size_t want;	/* bytes of the file in it (to the size we know) */
	size_t got;	/* contiguous bytes received from its start */
	bool done;	/* got is final: a short READ or all received */
	int err;
};

struct fill_piece {
	struct fuse_read_req r;
	unsigned blk;
	size_t at;	/* offset in the block */
};

/* Sends the pieces [from, to) and waits for them; fills their blocks. */
static void run_pieces(struct vfs_file *f, struct fill_piece *p, size_t from, size_t to,
		       struct fill_block *b)
{
	for (size_t i = from; i < to; i++)
		fuse_submit(f->m->conn, &p[i].r.req);
	for (size_t i = from; i < to; i++) {
		struct fill_block *blk = &b[p[i].blk];
		int e = fuse_wait(f->m->conn, &p[i].r.req);

		if (blk->done || p[i].at != blk->got)
			continue; /* after a short or failed piece */
		if (e) {
			blk->err = e;
			blk->done = true;
			continue;
		}
		blk->got += p[i].r.req.out_len;
		if (p[i].r.req.out_len < p[i].r.in.size || blk->got == blk->want)
			blk->done = true;
	}
}

/* Reads the blocks from pos's on (at least to pos + want, more when
 * reading ahead, never past size) into dst and the cache. Returns the
 * bytes of [pos, pos + want) it could give, or an error for none. */
static ssize_t fill(struct vfs_file *f, const struct fuse_caller *who,
		    char *dst, size_t want, uint64_t pos, uint64_t size,
		    bool ahead, bool *eof)
{
	struct fuse_conn *c = f->m->conn;
	struct vfs_inode *ino = f->inode;
	uint32_t chunk = vfs_read_chunk(c);
	uint64_t first = pos / VFS_PC_BLOCK, end = pos + want, last;
	uint64_t gen = vfs_pc_gen(ino);
	struct fill_block b[FILL_BLOCKS] = { { 0 } };
	struct fill_piece *p;
	size_t n_pieces = 0, window, given = 0;
	unsigned n_blocks;
	int err = 0;
	bool stop = false, broken = false, holes = vfs_wb_mount(f->m);

	if (ahead)
		end += c->lim.max_readahead;
	if (end > size)
		end = size;
	last = (end - 1) / VFS_PC_BLOCK;
	if (last > first) {
		uint64_t cached = vfs_pc_first_cached(ino, first + 1, last);

		if (cached != UINT64_MAX)
			last = cached - 1;
	}
	n_blocks = last - first + 1 > FILL_BLOCKS ? FILL_BLOCKS
						  : (unsigned)(last - first + 1);
	for (unsigned i = 0; i < n_blocks; i++) {
		uint64_t bs = (first + i) * VFS_PC_BLOCK;
		uint64_t be = bs + VFS_PC_BLOCK < size ? bs + VFS_PC_BLOCK : size;

		b[i].want = (size_t)(be - bs);
		n_pieces += (b[i].want + chunk - 1) / chunk;
		b[i].data = vfs_pc_buf_get((b[i].want + 4095) / 4096 * 4096);
		if (!b[i].data) {
			n_blocks = i;
			break;
		}
	}
	p = calloc(n_pieces ? n_pieces : 1, sizeof(*p));
	if (!p || !n_blocks) {
		for (unsigned i = 0; i < n_blocks; i++)
			vfs_pc_buf_put(b[i].data,
				       (b[i].want + 4095) / 4096 * 4096);
		free(p);
		return -ENOMEM;
	}
	n_pieces = 0;
	for (unsigned i = 0; i < n_blocks; i++) {
		uint64_t bs = (first + i) * VFS_PC_BLOCK;

		for (size_t at = 0; at < b[i].want; at += chunk) {
			uint32_t len = b[i].want - at < chunk
					       ? (uint32_t)(b[i].want - at)
					       : chunk;

			fuse_op_read_prepare(&p[n_pieces].r, who, ino->nodeid,
					     f->fh, bs + at, b[i].data + at,
					     len, f->flags);
			/* As Linux's readahead: asynchronous READs, which
			 * max_background bounds (the rest wait queued). */
			p[n_pieces].r.req.background =
				c->lim.flags & FUSE_ASYNC_READ;
			p[n_pieces].blk = i;
			p[n_pieces].at = at;
			n_pieces++;
		}
	}
	window = (c->lim.flags & FUSE_ASYNC_READ) ? READ_WINDOW : 1;
	for (size_t i = 0; i < n_pieces && !stop; i += window) {
		size_t to = i + window < n_pieces ? i + window : n_pieces;

		run_pieces(f, p, i, to, b);
		/* Nothing past a failed block is worth asking, nor past a
		 * short one (but a hole, with writeback caching). */
		for (unsigned k = 0; k <= p[to - 1].blk; k++)
			if (b[k].done &&
			    (b[k].err || (b[k].got < b[k].want && !holes)))
				stop = true;
	}
	free(p);
	if (holes)
		for (unsigned i = 0; i < n_blocks; i++)
			if (b[i].done && !b[i].err && b[i].got < b[i].want) {
				memset(b[i].data + b[i].got, 0,
				       b[i].want - b[i].got);
				b[i].got = b[i].want;
			}
	/* Hand out and keep the blocks in order, up to the first that
	 * failed or ended early (the file ended there). */
	for (unsigned i = 0; i < n_blocks; i++) {
		uint64_t bs = (first + i) * VFS_PC_BLOCK;

		if (broken || b[i].err) {
			vfs_pc_buf_put(b[i].data,
				       (b[i].want + 4095) / 4096 * 4096);
		} else {
			if (given < want && bs + b[i].got > pos + given) {
				size_t from = (size_t)(pos + given - bs);
				size_t n = b[i].got - from;

				if (n > want - given)
					n = want - given;
				memcpy(dst + given, b[i].data + from, n);
				given += n;
			}
			vfs_pc_insert(ino, gen, first + i, b[i].data, b[i].got,
				      (b[i].want + 4095) / 4096 * 4096);
		}
		if (b[i].err && !err)
			err = b[i].err;
		if (b[i].err || b[i].got < b[i].want)
			broken = true;
	}
	*eof = broken;
	if (!given && err)
		return err;
	return (ssize_t)given;
}

ssize_t vfs_read_cached(struct vfs_file *f, const struct fuse_caller *who,
			void *buf, size_t count, uint64_t off, uint64_t size)
{
	uint64_t ra = __atomic_load_n(&f->ra_next, __ATOMIC_RELAXED);
	bool ahead = off == ra, eof = false;
	size_t done = 0;

	while (done < count) {
		ssize_t n = (ssize_t)vfs_pc_read(f->inode, off + done,
						 (char *)buf + done,
						 count - done);

		done += (size_t)n;
		if (done == count)
			break;
		n = fill(f, who, (char *)buf + done, count - done, off + done,
			 size, ahead, &eof);
		if (n <= 0) {
			if (!done && n < 0)
				return n;
			break;
		}
		done += (size_t)n;
		if (eof)
			break; /* the file ended sooner than the size we knew */
	}
	__atomic_store_n(&f->ra_next, off + done, __ATOMIC_RELAXED);
	return (ssize_t)done;
}

int vfs_read_block(struct vfs_file *f, const struct fuse_caller *who,
		   uint64_t index, uint64_t size)
{
	struct fuse_conn *c = f->m->conn;
	uint64_t bs = index * VFS_PC_BLOCK, gen = vfs_pc_gen(f->inode);
	uint32_t chunk = vfs_read_chunk(c);
	size_t want, cap, got = 0;
	char *data;

	if (size <= bs)
		return 0;
	want = size - bs < VFS_PC_BLOCK ? (size_t)(size - bs) : VFS_PC_BLOCK;
	cap = (want + 4095) / 4096 * 4096;
	data = vfs_pc_buf_get(cap);
	if (!data)
		return -ENOMEM;
	while (got < want) {
		uint32_t len = want - got < chunk ? (uint32_t)(want - got)
						  : chunk;
		ssize_t n = fuse_op_read(c, who, f->inode->nodeid, f->fh,
					 bs + got, data + got, len, f->flags);

		if (n < 0) {
			vfs_pc_buf_put(data, cap);
			return (int)n;
		}
		got += (size_t)n;
		if ((uint32_t)n < len)
			break;
	}
	/* Short: the server has not seen the rest written (a hole). */
	memset(data + got, 0, want - got);
	/* Cached already (with our writes): its pages not yet valid. */
	if (!vfs_pc_merge(f->inode, gen, index, data, want))
		vfs_pc_buf_put(data, cap);
	else
		vfs_pc_insert(f->inode, gen, index, data, want, cap);
	return 0;
}
