/*
 * pagecache.h - file data cached per inode, shared by every open file of
 * it, within one memory bound for the whole process (pagecache.c).
 *
 * Writes go through to the server before they reach the cache, so every
 * cached byte is also on the server and dropping a block never loses
 * data: eviction and invalidation are pure memory work and never wait
 * for a server.
 *
 * The cache's lock is a leaf: these functions take no other lock and may
 * be called with m->lock held. The inode must be referenced.
 */
#ifndef FUSEBOX_VFS_PAGECACHE_H
#define FUSEBOX_VFS_PAGECACHE_H

#include <stddef.h>
#include <stdint.h>

struct vfs_inode;
struct vfs_pc_block;

/* Bytes per cache block: one READ of the default max_pages fills one. */
#define VFS_PC_BLOCK (128u * 1024)

struct vfs_pc_stats {
	size_t bytes, limit;	/* held now, the bound */
	uint64_t hit_bytes;	/* read(2) bytes served from the cache */
	uint64_t miss_bytes;	/* bytes read from the server into it */
	uint64_t evicted;	/* blocks dropped for the bound */
};

/* The bound, in bytes (at least one block). Lowering it evicts at once.
 * The default is FUSEBOX_CACHE_SIZE from the environment (bytes, or with
 * a K, M or G suffix), else a sixteenth of RAM between 16 MiB and 2 GiB. */
void vfs_pc_set_limit(size_t bytes);
void vfs_pc_get_stats(struct vfs_pc_stats *s);
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

#endif
