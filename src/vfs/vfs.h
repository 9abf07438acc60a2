/*
 * vfs.h - the VFS over one FUSE connection: inodes keyed by nodeid with
 * lookup counts, dentries with entry timeouts, path walk, and open file
 * descriptions.
 *
 * Locking: m->lock guards the inode and dentry tables, every inode's
 * fields and every dentry. It is never held across a request to the
 * server: look, unlock, ask, lock, install. The one lock that may be held
 * across a request is an open file's pos_lock (as Linux's f_pos_lock), and
 * only by users of that same open file. Order: pos_lock -> m->lock ->
 * conn->lock.
 */
#ifndef FUSEBOX_VFS_H
#define FUSEBOX_VFS_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include "fuse/ops.h"

#define VFS_MAX_SYMLINKS 40

struct vfs_inode {
	uint64_t nodeid;
	uint64_t generation;
	uint64_t nlookup;	/* lookups the server counted: sent in FORGET */
	unsigned refs;		/* dentries, files, walks, child dirs */
	mode_t type;		/* S_IFMT bits; fixed for the inode's life */
	bool hashed;
	bool advise_rdplus;	/* a lookup happened in this directory */
	struct fuse_attr attr;
	uint64_t attr_expiry;	/* CLOCK_MONOTONIC ns */
	struct vfs_inode *parent; /* directories: for "..", ref held */
	char *link;		/* cached target (CACHE_SYMLINKS) */
	size_t link_len;
	struct vfs_inode *hnext;
};

struct vfs_dentry {
	struct vfs_inode *dir;	/* ref held */
	struct vfs_inode *inode; /* ref held; NULL: negative entry */
	uint64_t expiry;
	uint64_t hash;
	struct vfs_dentry *hnext;
	struct vfs_dentry *lru_prev, *lru_next;
	size_t namelen;
	char name[];
};

struct vfs_mount {
	pthread_mutex_t lock;
	struct fuse_conn *conn;
	struct vfs_inode *root;
	dev_t dev;
	uint64_t lock_owner;

	struct vfs_inode **itab;
	size_t itab_size, n_inodes;
	struct vfs_dentry **dtab;
	size_t dtab_size, n_dentries, max_dentries;
	struct vfs_dentry lru;	/* list head: lru.next is the newest */

	/* FORGETs found under the lock, sent after it is dropped. */
	struct fuse_forget_one *forgets;
	size_t n_forgets, cap_forgets;
};

struct vfs_file {
	struct vfs_mount *m;
	struct vfs_inode *inode;
	int flags;		/* open(2) flags */
	bool has_fh;		/* the server gave an fh: RELEASE it */
	uint64_t fh;
	uint32_t open_flags;	/* FOPEN_* */
	unsigned refs;
	pthread_mutex_t pos_lock;
	off_t pos;
	/* Directory records fetched but not yet returned by getdents. */
	char *dbuf;
	size_t dbuf_len, dbuf_pos;
	off_t dbuf_start;	/* pos the buffered records start at */
	bool dbuf_plus;		/* dbuf holds READDIRPLUS records */
};

/* mount.c */
int vfs_mount_new(struct fuse_conn *conn, size_t max_dentries,
		  struct vfs_mount **out);
void vfs_mount_free(struct vfs_mount *m);
void vfs_unlock(struct vfs_mount *m); /* unlock, then send FORGETs */
uint64_t vfs_now(void);

/* inode.c */
void vfs_inode_get(struct vfs_inode *ino);
void vfs_inode_put_locked(struct vfs_mount *m, struct vfs_inode *ino);
void vfs_inode_put(struct vfs_mount *m, struct vfs_inode *ino);
/* Give back lookups; sent by vfs_unlock(). */
void vfs_forget_queue(struct vfs_mount *m, uint64_t nodeid, uint64_t nlookup);
/* Install what the server said about a node it counted a lookup for.
 * Returns a new reference, or NULL (the lookup is forgotten). */
struct vfs_inode *vfs_inode_install(struct vfs_mount *m,
				    const struct fuse_entry_out *e,
				    uint64_t now);
void vfs_attr_set(struct vfs_inode *ino, const struct fuse_attr *a,
		  uint64_t valid, uint32_t valid_nsec, uint64_t now);
void vfs_fill_stat(struct vfs_mount *m, const struct vfs_inode *ino,
		   struct stat *st);
int vfs_getattr(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, struct vfs_file *f, bool force,
		struct stat *st);

/* dentry.c */
void vfs_dentry_set(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, struct vfs_inode *ino,
		    uint64_t expiry);
void vfs_dentry_drop(struct vfs_mount *m, struct vfs_inode *dir,
		     const char *name, size_t namelen);
/* 1 = cached positive (*out referenced), 0 = cached negative,
 * -1 = not cached or expired. */
int vfs_dentry_find(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, uint64_t now,
		    struct vfs_inode **out);
void vfs_dentry_evict(struct vfs_mount *m);
void vfs_dentry_clear(struct vfs_mount *m);

/* walk.c */
#define VFS_FOLLOW 1	 /* follow a symlink in the last component */
#define VFS_EMPTY_PATH 2 /* "" names start itself */
int vfs_lookup(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const char *name,
	       struct vfs_inode **out);
int vfs_walk(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *start, const char *path, int flags,
	     struct vfs_inode **out);
/* A walk for the sandbox, where a mount sits inside a larger tree. With
 * escape set, ".." at the root and an absolute symlink leave the mount:
 * the walk returns 1, no inode, and rest (malloc'd) is the path still to
 * walk - from the mountpoint's parent when dotdot, else from "/". With
 * canon set, it holds the path of start below the root ("" for the root)
 * and is kept as the path of the inode walked to. */
struct vfs_walk_ext {
	bool escape;
	char *canon;
	size_t canon_size;
	bool dotdot;	/* out */
	char *rest;	/* out */
};
int vfs_walk_ext(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *start, const char *path, int flags,
		 struct vfs_inode **out, struct vfs_walk_ext *x);
ssize_t vfs_readlink(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, char *buf, size_t size);

/* file.c */
/* The errors open(2) gives for flags on ino before any request: EEXIST,
 * ELOOP, ENOTDIR, EISDIR, EROFS (this version writes nothing). */
int vfs_open_check(const struct vfs_inode *ino, int flags);
int vfs_open(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *ino, int flags, struct vfs_file **out);
void vfs_file_get(struct vfs_file *f);
/* Drops a reference; the last one sends RELEASE (without waiting). */
void vfs_file_put(struct vfs_file *f);
/* What close(2) of one descriptor does: FLUSH; its error is close's. */
int vfs_file_flush(struct vfs_file *f, const struct fuse_caller *who);
ssize_t vfs_pread(struct vfs_file *f, const struct fuse_caller *who,
		  void *buf, size_t count, off_t off);
ssize_t vfs_read(struct vfs_file *f, const struct fuse_caller *who,
		 void *buf, size_t count);
off_t vfs_lseek(struct vfs_file *f, const struct fuse_caller *who, off_t off,
		int whence);

/* dir.c */
ssize_t vfs_getdents64(struct vfs_file *f, const struct fuse_caller *who,
		       void *buf, size_t count);

/* attr.c */
int vfs_statfs(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, struct statfs *out);
int vfs_access(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, int mode);
ssize_t vfs_getxattr(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, const char *name, void *buf,
		     size_t size);
ssize_t vfs_listxattr(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *ino, char *buf, size_t size);

#endif
