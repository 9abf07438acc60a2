/*
 * pagecache.c - the buffer cache: file data in blocks of VFS_PC_BLOCK
 * bytes, per inode, in one hash keyed by (inode, block index), on their
 * inode's list (for invalidation and the inode's end) and on one LRU
 * list for the memory bound.
 *
 * A block holds the file's bytes from the block's start for len bytes;
 * len < VFS_PC_BLOCK only where the file ended when the block was filled
 * or written. A reader that needs more than a short block holds goes to
 * the server again (the file may have grown). Storage is allocated in
 * whole 4 KiB pages up to len, so a small file costs little.
 *
 * Changes race with fills: each change bumps the inode's pc_gen, and a
 * fill whose data was asked for before the change is not inserted (the
 * reader still gets it, as a read racing a write may on Linux).
 *
 * With writeback caching a block may hold bytes the server has not got:
 * its dirty range [dlo, dhi), and wb, the writebacks of it in flight.
 * Such a block is "pinned": it is off the LRU list, so eviction never
 * sees it and never waits for anything, and invalidation leaves it (its
 * bytes are newer than the server's). Only a truncation or the inode's
 * end drops it. A block's bytes past len, up to the file's size, are
 * zeros: the file ended there when the block was filled or last
 * written, and every local change of that range goes through the block.
 * Its valid pages are those read or written (Linux's uptodate pages);
 * others hold zeros the file had past its end then. A write that covers
 * part of a page that is not valid and lies below the file's end needs
 * the page from the server first, as on Linux.
 *
 * One mutex (pc.lock) guards everything here. It is a leaf: taken under
 * m->lock (vfs_attr_set) and never the other way round. wb_cv (with it)
 * wakes those waiting for an inode's writebacks to end.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "vfs/pagecache.h"
#include "vfs/vfs.h"

#define PAGE_BYTES 4096u
#define MIN_LIMIT ((size_t)16 << 20)
#define MAX_DEFAULT ((size_t)2 << 30)

struct vfs_pc_block {
	struct vfs_inode *ino;
	uint64_t index;
	uint64_t serial;	/* tells a block from a later one at index */
	size_t len, cap;
	size_t dlo, dhi;	/* dirty bytes: [dlo, dhi), empty when equal */
	unsigned wb;		/* snapshots of it being written back */
	uint32_t valid;		/* 4 KiB pages holding the file's bytes */
	bool pinned;		/* dirty or wb: off the LRU list */
	char *data;
	struct vfs_pc_block *hnext;
	struct vfs_pc_block *iprev, *inext;	/* the inode's blocks */
	struct vfs_pc_block *lprev, *lnext;	/* LRU: lru.lnext is newest */
};

static struct {
	pthread_mutex_t lock;
	pthread_cond_t wb_cv;
	pthread_once_t once;
	struct vfs_pc_block **tab;
	size_t tab_size, n;
	struct vfs_pc_block lru;
	size_t bytes, limit;
	size_t pinned;		/* bytes of pinned blocks */
	uint64_t serial;
	uint64_t hit_bytes, miss_bytes, evicted;
	bool writeback_off;
	/* Freed whole-block buffers kept for reuse (linked through their
	 * first word): memory fresh from the kernel is zeroed and faulted
	 * in page by page, which costs more than the copy that fills it.
	 * Kept only while the blocks and they stay within the bound. */
	void *pool;
	size_t pool_bytes;
} pc = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.wb_cv = PTHREAD_COND_INITIALIZER,
	.once = PTHREAD_ONCE_INIT,
};

int vfs_pc_parse_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (*end == 'i' && shift)
		end++;
	if ((*end == 'B' || *end == 'b') && shift)
		end++;
	if (*end || v > (SIZE_MAX >> shift))
		return -EINVAL;
	*out = (size_t)v << shift;
	return 0;
}

static size_t default_limit(void)
{
	const char *env = getenv("FUSEBOX_CACHE_SIZE");
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	size_t v;

	if (env && !vfs_pc_parse_size(env, &v))
		return v < VFS_PC_BLOCK ? VFS_PC_BLOCK : v;
	if (env)
		fprintf(stderr, "fusebox: FUSEBOX_CACHE_SIZE=%s is not a size "
			"(like 64M); using the default\n", env);
	if (pages <= 0 || psize <= 0)
		return MIN_LIMIT;
	v = (size_t)pages / 16 * (size_t)psize;
	return v < MIN_LIMIT ? MIN_LIMIT : v > MAX_DEFAULT ? MAX_DEFAULT : v;
}

/* FUSEBOX_WRITEBACK=0 (or off, no, false) turns writeback caching off
 * by default; anything else leaves it on. */
static bool writeback_off_by_env(void)
{
	const char *env = getenv("FUSEBOX_WRITEBACK");

	return env && (!strcmp(env, "0") || !strcasecmp(env, "off") ||
		       !strcasecmp(env, "no") || !strcasecmp(env, "false"));
}

static void pc_init(void)
{
	pc.lru.lnext = pc.lru.lprev = &pc.lru;
	pc.limit = default_limit();
	pc.writeback_off = pc.writeback_off || writeback_off_by_env();
}

static void pc_lock(void)
{
	pthread_once(&pc.once, pc_init);
	pthread_mutex_lock(&pc.lock);
}

static size_t bucket(const struct vfs_inode *ino, uint64_t index)
{
	uint64_t h = ((uint64_t)(uintptr_t)ino >> 4) * 0x9e3779b97f4a7c15ull;

	h ^= index * 0xc2b2ae3d27d4eb4full;
	return (size_t)(h ^ (h >> 29)) & (pc.tab_size - 1);
}

static struct vfs_pc_block *find(struct vfs_inode *ino, uint64_t index)
{
	struct vfs_pc_block *b;

	if (!pc.tab_size)
		return NULL;
	for (b = pc.tab[bucket(ino, index)]; b; b = b->hnext)
		if (b->ino == ino && b->index == index)
			return b;
	return NULL;
}

static void tab_grow(void)
{
	size_t size = pc.tab_size ? pc.tab_size * 2 : 1024;
	struct vfs_pc_block **tab = calloc(size, sizeof(*tab));
	struct vfs_pc_block **old = pc.tab;
	size_t old_size = pc.tab_size;

	if (!tab)
		return; /* longer chains */
	pc.tab = tab;
	pc.tab_size = size;
	for (size_t i = 0; i < old_size; i++) {
		struct vfs_pc_block *b = old[i], *next;

		for (; b; b = next) {
			size_t k = bucket(b->ino, b->index);

			next = b->hnext;
			b->hnext = tab[k];
			tab[k] = b;
		}
	}
	free(old);
}

/* Under pc.lock. */
static char *buf_get_locked(size_t cap)
{
	if (cap == VFS_PC_BLOCK && pc.pool) {
		char *p = pc.pool;

		pc.pool = *(void **)p;
		pc.pool_bytes -= VFS_PC_BLOCK;
		return p;
	}
	return malloc(cap);
}

static void buf_put_locked(char *p, size_t cap)
{
	if (p && cap == VFS_PC_BLOCK &&
	    pc.bytes + pc.pool_bytes + cap <= pc.limit) {
		*(void **)p = pc.pool;
		pc.pool = p;
		pc.pool_bytes += cap;
		return;
	}
	free(p);
}

/* The pool gives back what the blocks now need. */
static void pool_trim(void)
{
	while (pc.pool && pc.bytes + pc.pool_bytes > pc.limit) {
		void *p = pc.pool;

		pc.pool = *(void **)p;
		pc.pool_bytes -= VFS_PC_BLOCK;
		free(p);
	}
}

static void lru_unlink(struct vfs_pc_block *b)
{
	b->lprev->lnext = b->lnext;
	b->lnext->lprev = b->lprev;
}

static void lru_front(struct vfs_pc_block *b)
{
	b->lnext = pc.lru.lnext;
	b->lprev = &pc.lru;
	pc.lru.lnext->lprev = b;
	pc.lru.lnext = b;
}

static void touch(struct vfs_pc_block *b)
{
	if (b->pinned)
		return;
	lru_unlink(b);
	lru_front(b);
}

/* The pages of a block that [from, to) touches. */
static uint32_t pages_of(size_t from, size_t to)
{
	size_t first = from / PAGE_BYTES, last = (to - 1) / PAGE_BYTES;
	uint32_t all = last - first + 1 >= 32 ? UINT32_MAX
				: ((1u << (last - first + 1)) - 1);

	return to <= from ? 0 : all << first;
}

static bool dirty(const struct vfs_pc_block *b)
{
	return b->dhi > b->dlo;
}

/* Off the LRU list while it holds bytes the server may not have; back at
 * its front when they are all acknowledged. */
static void settle(struct vfs_pc_block *b)
{
	bool busy = dirty(b) || b->wb;

	if (busy && !b->pinned) {
		lru_unlink(b);
		b->pinned = true;
		pc.pinned += b->cap;
	} else if (!busy && b->pinned) {
		b->pinned = false;
		pc.pinned -= b->cap;
		lru_front(b);
	}
}

static void clean(struct vfs_pc_block *b)
{
	if (!dirty(b))
		return;
	b->dlo = b->dhi = 0;
	b->ino->pc_dirty--;
}

static void mark_dirty(struct vfs_pc_block *b, size_t from, size_t to)
{
	if (!dirty(b)) {
		b->dlo = from;
		b->dhi = to;
		b->ino->pc_dirty++;
	} else {
		if (from < b->dlo)
			b->dlo = from;
		if (to > b->dhi)
			b->dhi = to;
	}
	settle(b);
}

/* b's capacity becomes cap (larger); false when there is no memory. */
static bool grow(struct vfs_pc_block *b, size_t cap)
{
	char *d = realloc(b->data, cap);

	if (!d)
		return false;
	pc.bytes += cap - b->cap;
	if (b->pinned)
		pc.pinned += cap - b->cap;
	b->data = d;
	b->cap = cap;
	return true;
}

static void drop(struct vfs_pc_block *b)
{
	struct vfs_pc_block **p = &pc.tab[bucket(b->ino, b->index)];

	while (*p != b)
		p = &(*p)->hnext;
	*p = b->hnext;
	if (b->iprev)
		b->iprev->inext = b->inext;
	else
		b->ino->pc_blocks = b->inext;
	if (b->inext)
		b->inext->iprev = b->iprev;
	clean(b);
	if (b->pinned)
		pc.pinned -= b->cap;
	else
		lru_unlink(b);
	pc.bytes -= b->cap;
	pc.n--;
	buf_put_locked(b->data, b->cap);
	free(b);
}

/* false: no table to hold it, and b is freed. */
static bool add(struct vfs_pc_block *b)
{
	size_t k;

	if (pc.n + 1 > pc.tab_size / 2 || !pc.tab_size)
		tab_grow();
	if (!pc.tab_size) {
		buf_put_locked(b->data, b->cap);
		free(b);
		return false;
	}
	k = bucket(b->ino, b->index);
	b->serial = ++pc.serial;
	b->hnext = pc.tab[k];
	pc.tab[k] = b;
	b->iprev = NULL;
	b->inext = b->ino->pc_blocks;
	if (b->inext)
		b->inext->iprev = b;
	b->ino->pc_blocks = b;
	lru_front(b);
	pc.bytes += b->cap;
	pc.n++;
	return true;
}

static void evict(void)
{
	pool_trim();
	while (pc.bytes > pc.limit && pc.lru.lprev != &pc.lru) {
		drop(pc.lru.lprev);
		pc.evicted++;
	}
}

static size_t round_page(size_t n)
{
	return (n + PAGE_BYTES - 1) / PAGE_BYTES * PAGE_BYTES;
}

char *vfs_pc_buf_get(size_t cap)
{
	char *p;

	pc_lock();
	p = buf_get_locked(cap);
	pthread_mutex_unlock(&pc.lock);
	return p;
}

void vfs_pc_buf_put(char *p, size_t cap)
{
	pc_lock();
	buf_put_locked(p, cap);
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_set_limit(size_t bytes)
{
	pc_lock();
	pc.limit = bytes < VFS_PC_BLOCK ? VFS_PC_BLOCK : bytes;
	evict();
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_get_stats(struct vfs_pc_stats *s)
{
	pc_lock();
	s->bytes = pc.bytes;
	s->limit = pc.limit;
	s->hit_bytes = pc.hit_bytes;
	s->miss_bytes = pc.miss_bytes;
	s->evicted = pc.evicted;
	s->dirty = pc.pinned;
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_set_writeback(bool on)
{
	pc_lock();
	pc.writeback_off = !on;
	pthread_mutex_unlock(&pc.lock);
}

bool vfs_pc_writeback_default(void)
{
	bool on;

	pc_lock();
	on = !pc.writeback_off;
	pthread_mutex_unlock(&pc.lock);
	return on;
}

uint64_t vfs_pc_gen(struct vfs_inode *ino)
{
	uint64_t g;

	pc_lock();
	g = ino->pc_gen;
	pthread_mutex_unlock(&pc.lock);
	return g;
}

size_t vfs_pc_read(struct vfs_inode *ino, uint64_t off, void *buf,
		   size_t count)
{
	size_t done = 0;

	pc_lock();
	while (done < count) {
		uint64_t pos = off + done;
		struct vfs_pc_block *b = find(ino, pos / VFS_PC_BLOCK);
		size_t in = (size_t)(pos % VFS_PC_BLOCK), n;

		if (!b || in >= b->len)
			break;
		n = b->len - in;
		if (n > count - done)
			n = count - done;
		memcpy((char *)buf + done, b->data + in, n);
		done += n;
		touch(b);
		if (b->len < VFS_PC_BLOCK)
			break; /* the file ended here when it was cached */
	}
	pc.hit_bytes += done;
	pthread_mutex_unlock(&pc.lock);
	return done;
}

void vfs_pc_insert(struct vfs_inode *ino, uint64_t gen, uint64_t index,
		   char *data, size_t len, size_t cap)
{
	struct vfs_pc_block *b, *old;

	pc_lock();
	pc.miss_bytes += len;
	if (ino->pc_gen != gen || !len || cap > pc.limit ||
	    !(b = calloc(1, sizeof(*b)))) {
		buf_put_locked(data, cap);
		pthread_mutex_unlock(&pc.lock);
		return;
	}
	old = find(ino, index);
	if (old && old->pinned) {
		/* It holds our writes, newer than what was read. */
		buf_put_locked(data, cap);
		pthread_mutex_unlock(&pc.lock);
		free(b);
		return;
	}
	if (old)
		drop(old);
	b->ino = ino;
	b->index = index;
	b->len = len;
	b->cap = cap;
	b->data = data;
	b->valid = pages_of(0, len);
	add(b);
	evict();
	pthread_mutex_unlock(&pc.lock);
}

/* b takes [from, to) of its block from src, when that leaves its valid
 * bytes without a gap; else it goes. */
static void patch(struct vfs_pc_block *b, size_t from, size_t to,
		  const char *src)
{
	/* A pinned block is never dropped here: what lies between its end
	 * and from is zeros (see the top of this file). */
	if (from > b->len && !b->pinned) {
		drop(b);
		return;
	}
	if (to > b->cap && !grow(b, round_page(to))) {
		if (!b->pinned)
			drop(b);
		return;
	}
	if (from > b->len)
		memset(b->data + b->len, 0, from - b->len);
	memcpy(b->data + from, src, to - from);
	b->valid |= pages_of(from, to);
	if (to > b->len)
		b->len = to;
	touch(b);
}

void vfs_pc_write(struct vfs_inode *ino, uint64_t off, const void *buf,
		  size_t len, uint64_t size)
{
	uint64_t end = off + len;

	if (!len)
		return;
	pc_lock();
	ino->pc_gen++;
	for (uint64_t i = off / VFS_PC_BLOCK; i <= (end - 1) / VFS_PC_BLOCK;
	     i++) {
		uint64_t bs = i * VFS_PC_BLOCK;
		uint64_t lo = off > bs ? off : bs;
		uint64_t hi = end < bs + VFS_PC_BLOCK ? end : bs + VFS_PC_BLOCK;
		const char *src = (const char *)buf + (lo - off);
		struct vfs_pc_block *b = find(ino, i);

		if (b) {
			patch(b, (size_t)(lo - bs), (size_t)(hi - bs), src);
			continue;
		}
		/* A new block only when it is whole: from its start to its
		 * end, or to the end of the file. */
		if (lo != bs || (hi != bs + VFS_PC_BLOCK && hi < size))
			continue;
		b = calloc(1, sizeof(*b));
		if (!b)
			continue;
		b->cap = round_page((size_t)(hi - bs));
		b->data = buf_get_locked(b->cap);
		if (!b->data) {
			free(b);
			continue;
		}
		memcpy(b->data, src, (size_t)(hi - bs));
		b->len = (size_t)(hi - bs);
		b->valid = pages_of(0, b->len);
		b->ino = ino;
		b->index = i;
		add(b);
	}
	evict();
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_invalidate(struct vfs_inode *ino, uint64_t off, uint64_t end)
{
	struct vfs_pc_block *b, *next;

	pc_lock();
	ino->pc_gen++;
	for (b = ino->pc_blocks; b; b = next) {
		uint64_t bs = b->index * VFS_PC_BLOCK;

		next = b->inext;
		if (bs < end && bs + VFS_PC_BLOCK > off && !b->pinned)
			drop(b);
	}
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_truncate(struct vfs_inode *ino, uint64_t size)
{
	struct vfs_pc_block *b, *next;

	pc_lock();
	ino->pc_gen++;
	for (b = ino->pc_blocks; b; b = next) {
		uint64_t bs = b->index * VFS_PC_BLOCK;

		next = b->inext;
		if (bs >= size) {
			drop(b);
		} else if (bs + b->len > size) {
			b->len = (size_t)(size - bs);
			if (b->dhi > b->len)
				b->dhi = b->len;
			if (b->dlo >= b->dhi)
				clean(b);
			settle(b);
		}
	}
	pthread_mutex_unlock(&pc.lock);
}

void vfs_pc_inode_free(struct vfs_inode *ino)
{
	pc_lock();
	while (ino->pc_blocks)
		drop(ino->pc_blocks);
	pthread_mutex_unlock(&pc.lock);
}

uint64_t vfs_pc_first_cached(struct vfs_inode *ino, uint64_t from,
			     uint64_t to)
{
	uint64_t i = from;

	pc_lock();
	for (; i <= to && !find(ino, i); i++)
		;
	pthread_mutex_unlock(&pc.lock);
	return i <= to ? i : UINT64_MAX;
}

/* Pages of b (NULL: not cached) that a write of [from, to) covers only
 * in part, that are not valid, and that hold bytes of the file (of size
 * bytes): those the server must give first. */
static uint32_t to_read(const struct vfs_pc_block *b, uint64_t bs,
			size_t from, size_t to, uint64_t size)
{
	size_t first = from / PAGE_BYTES * PAGE_BYTES;
	size_t last = (to - 1) / PAGE_BYTES * PAGE_BYTES;
	uint32_t need = 0;

	if ((from != first || to < first + PAGE_BYTES) && bs + first < size)
		need |= 1u << (first / PAGE_BYTES);
	if (last != first && to != last + PAGE_BYTES && bs + last < size)
		need |= 1u << (last / PAGE_BYTES);
	return b ? need & ~b->valid : need;
}

int vfs_pc_dirty(struct vfs_inode *ino, uint64_t off, const void *buf,
		 size_t len, uint64_t size)
{
	uint64_t index = off / VFS_PC_BLOCK, bs = index * VFS_PC_BLOCK;
	size_t from = (size_t)(off - bs), to = from + len;
	struct vfs_pc_block *b;

	pc_lock();
	b = find(ino, index);
	if (!b) {
		/* The file's bytes in this block now: a block holds them
		 * all from its start, so those before the write come from
		 * the server first, as do pages it covers in part. */
		size_t have = size <= bs ? 0
			      : size - bs < VFS_PC_BLOCK ? (size_t)(size - bs)
							 : VFS_PC_BLOCK;

		if ((have && from) || to_read(NULL, bs, from, to, size)) {
			pthread_mutex_unlock(&pc.lock);
			return -EAGAIN;
		}
		b = calloc(1, sizeof(*b));
		if (b)
			b->data = buf_get_locked(round_page(to));
		if (!b || !b->data) {
			free(b);
			pthread_mutex_unlock(&pc.lock);
			return -ENOMEM;
		}
		b->cap = round_page(to);
		memset(b->data, 0, from); /* past the old end: zeros */
		b->ino = ino;
		b->index = index;
		if (!add(b)) {
			pthread_mutex_unlock(&pc.lock);
			return -ENOMEM;
		}
	} else if (to_read(b, bs, from, to, size)) {
		pthread_mutex_unlock(&pc.lock);
		return -EAGAIN;
	} else if (to > b->cap && !grow(b, round_page(to))) {
		pthread_mutex_unlock(&pc.lock);
		return -ENOMEM;
	}
	if (from > b->len)
		memset(b->data + b->len, 0, from - b->len);
	memcpy(b->data + from, buf, len);
	b->valid |= pages_of(from, to);
	if (to > b->len)
		b->len = to;
	ino->pc_gen++;
	mark_dirty(b, from, to);
	evict();
	pthread_mutex_unlock(&pc.lock);
	return 0;
}

int vfs_pc_merge(struct vfs_inode *ino, uint64_t gen, uint64_t index,
		 const char *data, size_t len)
{
	struct vfs_pc_block *b;
	int r = -EAGAIN;

	pc_lock();
	b = find(ino, index);
	if (ino->pc_gen == gen && b &&
	    (len <= b->cap || grow(b, round_page(len)))) {
		for (size_t ps = 0; ps < len; ps += PAGE_BYTES) {
			size_t n = len - ps < PAGE_BYTES ? len - ps : PAGE_BYTES;

			if (b->valid & (1u << (ps / PAGE_BYTES)))
				continue;
			if (ps + n > b->len && ps > b->len)
				memset(b->data + b->len, 0, ps - b->len);
			memcpy(b->data + ps, data + ps, n);
			b->valid |= 1u << (ps / PAGE_BYTES);
			if (ps + n > b->len)
				b->len = ps + n;
		}
		r = 0;
	}
	pthread_mutex_unlock(&pc.lock);
	return r;
}

uint32_t vfs_pc_valid_pages(struct vfs_inode *ino, uint64_t index)
{
	struct vfs_pc_block *b;
	uint32_t v;

	pc_lock();
	b = find(ino, index);
	v = b ? b->valid : 0;
	pthread_mutex_unlock(&pc.lock);
	return v;
}

static int extent_order(const void *a, const void *b)
{
	const struct vfs_pc_extent *x = a, *y = b;

	return x->index < y->index ? -1 : x->index > y->index;
}

int vfs_pc_flush_begin(struct vfs_inode *ino, struct vfs_pc_extent **out,
		       size_t *n_out)
{
	struct vfs_pc_extent *x;
	struct vfs_pc_block *b;
	size_t n = 0, max;

	*out = NULL;
	*n_out = 0;
	pc_lock();
	if (!ino->pc_dirty) {
		pthread_mutex_unlock(&pc.lock);
		return 0;
	}
	max = ino->pc_dirty;
	x = calloc(max, sizeof(*x));
	if (!x) {
		pthread_mutex_unlock(&pc.lock);
		return -ENOMEM;
	}
	for (b = ino->pc_blocks; b && n < max; b = b->inext) {
		if (!dirty(b))
			continue;
		x[n].data = buf_get_locked(b->dhi - b->dlo);
		if (!x[n].data)
			break; /* the rest stays dirty for the next flush */
		memcpy(x[n].data, b->data + b->dlo, b->dhi - b->dlo);
		x[n].index = b->index;
		x[n].serial = b->serial;
		x[n].from = b->dlo;
		x[n].to = b->dhi;
		clean(b);
		b->wb++;
		settle(b);
		n++;
	}
	if (n)
		ino->pc_wb++;
	pthread_mutex_unlock(&pc.lock);
	if (!n) {
		free(x);
		return -ENOMEM;
	}
	qsort(x, n, sizeof(*x), extent_order);
	*out = x;
	*n_out = n;
	return 0;
}

void vfs_pc_flush_end(struct vfs_inode *ino, struct vfs_pc_extent *x,
		      size_t n)
{
	pc_lock();
	for (size_t i = 0; i < n; i++) {
		struct vfs_pc_block *b = find(ino, x[i].index);

		if (x[i].err && !ino->pc_wb_err)
			ino->pc_wb_err = x[i].err;
		if (b && b->serial == x[i].serial) {
			b->wb--;
			/* The server has not got these bytes: the block goes
			 * (unless written again since), so that what is read
			 * is what the server has. */
			if (x[i].err && !dirty(b) && !b->wb)
				drop(b);
			else
				settle(b);
		}
		buf_put_locked(x[i].data, x[i].to - x[i].from);
	}
	if (n && !--ino->pc_wb)
		pthread_cond_broadcast(&pc.wb_cv);
	pthread_mutex_unlock(&pc.lock);
	free(x);
}

void vfs_pc_wait_writeback(struct vfs_inode *ino)
{
	pc_lock();
	while (ino->pc_wb)
		pthread_cond_wait(&pc.wb_cv, &pc.lock);
	pthread_mutex_unlock(&pc.lock);
}

int vfs_pc_take_error(struct vfs_inode *ino)
{
	int err;

	pc_lock();
	err = ino->pc_wb_err;
	ino->pc_wb_err = 0;
	pthread_mutex_unlock(&pc.lock);
	return err;
}

bool vfs_pc_pending(struct vfs_inode *ino)
{
	bool r;

	pc_lock();
	r = ino->pc_dirty || ino->pc_wb;
	pthread_mutex_unlock(&pc.lock);
	return r;
}

bool vfs_pc_has_dirty(struct vfs_inode *ino)
{
	bool r;

	pc_lock();
	r = ino->pc_dirty != 0;
	pthread_mutex_unlock(&pc.lock);
	return r;
}

bool vfs_pc_over_dirty_limit(void)
{
	bool r;

	pc_lock();
	r = pc.pinned > pc.limit / VFS_PC_DIRTY_SHARE;
	pthread_mutex_unlock(&pc.lock);
	return r;
}

void vfs_pc_discard_dirty(struct vfs_inode *ino)
{
	struct vfs_pc_block *b, *next;

	pc_lock();
	ino->pc_gen++;
	for (b = ino->pc_blocks; b; b = next) {
		next = b->inext;
		if (dirty(b))
			drop(b);
	}
	pthread_mutex_unlock(&pc.lock);
}
