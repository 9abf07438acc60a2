/*
 * pagecache.h - file data cached per inode, shared by every open file of
 * it, within one memory bound for the whole process (pagecache.c).
 *
 * Without writeback caching, writes go through to the server before they
 * reach the cache, so every cached byte is also on the server. With it
 * (writeback.c), a block may hold dirty bytes; such a block is pinned:
 * eviction and invalidation pass it by. Either way eviction and
 * invalidation are pure memory work and never wait for a server.
 *
 * The cache's lock is a leaf: these functions take no other lock and may
 * be called with m->lock held. The inode must be referenced.
 */
#ifndef FUSEBOX_VFS_PAGECACHE_H
#define FUSEBOX_VFS_PAGECACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfs_inode;
struct vfs_pc_block;

/* Bytes per cache block: one READ of the default max_pages fills one. */
#define VFS_PC_BLOCK (128u * 1024)
/* Dirty (and in-flight) data may fill 1/this of the bound before a
 * writer must write its file's dirty data back itself. */
#define VFS_PC_DIRTY_SHARE 2

struct vfs_pc_stats {
	size_t bytes, limit;	/* held now, the bound */
	uint64_t hit_bytes;	/* read(2) bytes served from the cache */
	uint64_t miss_bytes;	/* bytes read from the server into it */
	uint64_t evicted;	/* blocks dropped for the bound */
	size_t dirty;		/* bytes of blocks holding unacknowledged data */
};

/* Memory for cache data (cap bytes; whole blocks come from a pool of
 * freed ones), and back: what vfs_pc_insert is given comes from here. */
char *vfs_pc_buf_get(size_t cap);
void vfs_pc_buf_put(char *p, size_t cap);
/* The bound, in bytes (at least one block). Lowering it evicts at once.
 * The default is FUSEBOX_CACHE_SIZE from the environment (bytes, or with
 * a K, M or G suffix), else a sixteenth of RAM between 16 MiB and 2 GiB. */
void vfs_pc_set_limit(size_t bytes);
void vfs_pc_get_stats(struct vfs_pc_stats *s);
/* Whether new mounts offer FUSE_WRITEBACK_CACHE: on, unless
 * FUSEBOX_WRITEBACK is 0, off, no or false, or this said otherwise. */
void vfs_pc_set_writeback(bool on);
bool vfs_pc_writeback_default(void);
/* Parses "64M"-style sizes; -EINVAL when s is not one. */
int vfs_pc_parse_size(const char *s, size_t *out);

/* The inode's change count: read it before asking the server for data,
 * give it to vfs_pc_insert, which drops data a change has overtaken. */
uint64_t vfs_pc_gen(struct vfs_inode *ino);
/* Copies the cached bytes of ino from off on, as far as they run
 * without a gap; returns how many (0: off is not cached). */
size_t vfs_pc_read(struct vfs_inode *ino, uint64_t off, void *buf,
		   size_t count);
/* Block index of ino now holds len bytes (len < VFS_PC_BLOCK: the file
 * ended there). Takes data (malloc'd, cap bytes); frees it instead when
 * ino changed since gen was read, or it does not fit the bound. */
void vfs_pc_insert(struct vfs_inode *ino, uint64_t gen, uint64_t index,
		   char *data, size_t len, size_t cap);
/* The server has buf at off now (a WRITE it acknowledged, or its STORE);
 * the file is size bytes long after it. Cached blocks take the bytes;
 * a block the range covers from its start to its end (or to size) is
 * made. */
void vfs_pc_write(struct vfs_inode *ino, uint64_t off, const void *buf,
		  size_t len, uint64_t size);
/* Drops what is cached of [off, end) (end UINT64_MAX: to the end). */
void vfs_pc_invalidate(struct vfs_inode *ino, uint64_t off, uint64_t end);
/* The file is size bytes long now: nothing beyond it stays cached. */
void vfs_pc_truncate(struct vfs_inode *ino, uint64_t size);
/* ino is being freed. */
void vfs_pc_inode_free(struct vfs_inode *ino);
/* The first block index in [from, to] cached for ino, or UINT64_MAX. */
uint64_t vfs_pc_first_cached(struct vfs_inode *ino, uint64_t from,
			     uint64_t to);

/* Writeback caching. */
/* buf (len bytes, within one block) at off is ino's now, not yet the
 * server's: the block takes it and is dirty. size is the file's size
 * before the write. -EAGAIN: the server's bytes of the block are needed
 * first (not cached: those before the write; cached: pages the write
 * covers in part that are not valid) - read them in, then try again;
 * -ENOMEM. */
int vfs_pc_dirty(struct vfs_inode *ino, uint64_t off, const void *buf,
		 size_t len, uint64_t size);
/* The server's bytes of block index (len of them, from its start) fill
 * the pages of the cached block that are not valid (for a write that
 * covers them in part). -EAGAIN when the block is gone or ino changed
 * since gen was read. */
int vfs_pc_merge(struct vfs_inode *ino, uint64_t gen, uint64_t index,
		 const char *data, size_t len);
/* The valid 4 KiB pages of block index (bit i: page i), 0 if uncached. */
uint32_t vfs_pc_valid_pages(struct vfs_inode *ino, uint64_t index);
/* One dirty range taken for writeback: a copy of its bytes. */
struct vfs_pc_extent {
	uint64_t index, serial;
	size_t from, to;	/* within the block */
	char *data;
	int err;		/* set by the writer: the WRITE failed */
};
/* Takes every dirty range of ino, sorted by offset: the blocks are
 * clean, and pinned until vfs_pc_flush_end. 0 with *n 0: none. */
int vfs_pc_flush_begin(struct vfs_inode *ino, struct vfs_pc_extent **x,
		       size_t *n);
/* The WRITEs of x are answered (x[i].err for those that failed: the
 * first error is kept for vfs_pc_take_error and the block is dropped
 * unless written again since). Frees x. */
void vfs_pc_flush_end(struct vfs_inode *ino, struct vfs_pc_extent *x,
		      size_t n);
/* Until no writeback of ino is in flight. */
void vfs_pc_wait_writeback(struct vfs_inode *ino);
/* The error a writeback of ino met since the last call (0: none). */
int vfs_pc_take_error(struct vfs_inode *ino);
/* ino has dirty data or writebacks in flight / has dirty data. */
bool vfs_pc_pending(struct vfs_inode *ino);
bool vfs_pc_has_dirty(struct vfs_inode *ino);
/* Pinned data is over its share of the bound. */
bool vfs_pc_over_dirty_limit(void);
/* Drops ino's dirty blocks (nobody is left to write them). */
void vfs_pc_discard_dirty(struct vfs_inode *ino);

#endif
