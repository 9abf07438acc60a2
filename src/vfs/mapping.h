/*
 * mapping.h - files mapped into memory (mmap), kept coherent with
 * read/write through the VFS and written back to the server (mapping.c).
 *
 * A mapping is a memfd that holds the whole file: programs map the memfd
 * (libfusebox's fb_mmap maps it itself; `fusebox run` lets the kernel map
 * the placeholder memfd). Stores into the mapping cannot be seen as they
 * happen, so a mapping keeps a copy of what the server has as far as
 * fusebox knows ("clean"); a page that differs from it is dirty and is
 * written back (WRITE through the mapping's open file) when the mapping
 * is synced: msync, fsync, a read of that range through the VFS, and the
 * mapping's end (munmap in libfusebox, the last close or exit under run).
 *
 * Locks: the inode's list of mappings is under m->lock. A mapping's
 * wb_lock serializes its write-backs and is held across their WRITEs
 * (as Linux's writeback bit makes a second writer of the page wait);
 * nothing but another sync of the same mapping waits on it. Its
 * state_lock guards the clean copy and the memfd's size; it is held
 * across a new mapping's fill (READs), so that bytes applied to it
 * meanwhile land after the fill. Order: wb_lock -> state_lock -> m->lock.
 */
#ifndef FUSEBOX_VFS_MAPPING_H
#define FUSEBOX_VFS_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fuse_caller;
struct vfs_file;
struct vfs_inode;
struct vfs_mapping;

/* Whether f may be mapped with prot and flags (mmap(2)'s): 0 or the
 * errno Linux gives (EACCES for the open file's mode, ENODEV for direct
 * I/O's shared mappings). */
int vfs_map_check(const struct vfs_file *f, int prot, int flags);
/* A new mapping of f's file in memfd (the mapping keeps a descriptor
 * of its own): the memfd is filled with the file's data. */
int vfs_map_attach(struct vfs_file *f, const struct fuse_caller *who,
		   int memfd, struct vfs_mapping **out);
/* The mapping of f's inode shared by every caller of this function
 * (libfusebox's: one per inode), made on first use; a reference is
 * taken. A writable f becomes the one it writes back through. */
int vfs_map_shared(struct vfs_file *f, const struct fuse_caller *who,
		   struct vfs_mapping **out);
int vfs_map_fd(const struct vfs_mapping *mp);
void vfs_map_ref(struct vfs_mapping *mp);
/* Writes back what is dirty, then drops a reference (the last frees it
 * and its file reference). Returns the write-back's error. */
int vfs_map_put(struct vfs_mapping *mp, const struct fuse_caller *who);

/* Writes back the dirty pages of [off, end) of one mapping, or of every
 * mapping of ino. 0 or the first error (the pages then stay dirty). */
int vfs_map_sync(struct vfs_mapping *mp, const struct fuse_caller *who,
		 uint64_t off, uint64_t end);
int vfs_map_sync_inode(struct vfs_inode *ino, const struct fuse_caller *who,
		       uint64_t off, uint64_t end);
/* Whether ino is mapped (a hint, read without a lock). */
bool vfs_map_any(const struct vfs_inode *ino);

/* The server has buf at off now, by write(2) through the VFS: every
 * mapping shows it. */
void vfs_map_apply(struct vfs_inode *ino, const void *buf, size_t len,
		   uint64_t off);
/* The file is size bytes long now (our truncate): so are the memfds. */
void vfs_map_truncate(struct vfs_inode *ino, uint64_t size);
/* [off, end) reads as zeros on the server now (punch, zero range). */
void vfs_map_zero(struct vfs_inode *ino, uint64_t off, uint64_t end);

#endif
