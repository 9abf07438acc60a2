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
 * conn->lock. m->poll_lock (poll.c) is a leaf: nothing is taken under it
 * but the poll hook's own leaf lock.
 */
#ifndef FUSEBOX_VFS_H
#define FUSEBOX_VFS_H

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>

#include "fuse/ops.h"
#include "vfs/inotify.h"
#include "vfs/pagecache.h"
#include "vfs/mapping.h"

#define VFS_MAX_SYMLINKS 40

struct vfs_inode {
	struct vfs_mount *mount;
	uint64_t nodeid;
	uint64_t generation;
	uint64_t nlookup;	/* lookups the server counted: sent in FORGET */
	unsigned refs;		/* dentries, files, walks, child dirs */
	mode_t type;		/* S_IFMT bits; fixed for the inode's life */
	bool hashed;
	bool advise_rdplus;	/* a lookup happened in this directory */
	struct fuse_attr attr;
	bool attr_known;	/* attr came from the server once */
	uint64_t attr_expiry;	/* CLOCK_MONOTONIC ns */
	uint64_t attr_gen;	/* bumped by each server invalidation */
	struct vfs_inode *parent; /* directories: for "..", ref held */
	char *link;		/* cached target (CACHE_SYMLINKS) */
	struct vfs_lock *locks;	/* lock.c: held here without POSIX_LOCKS */
	size_t link_len;
	/* inotify.c: the watches on it (made on first watch, read under
	 * m->lock). Its names in use (dentry.c), and the one it was last
	 * reached by (referenced), for events its parent's watches see. */
	struct vfs_watches *watches;
	struct vfs_alias *aliases;
	struct vfs_alias *alias;
	unsigned opens;		/* open files that raised IN_OPEN */
	bool unlinked;		/* its last known name went (IN_DELETE_SELF) */
	/* pagecache.c, under its own lock: the cached blocks, and a count
	 * of changes that makes a fill begun before one stale; the dirty
	 * blocks, the writebacks in flight, and the first error one met
	 * (for the next fsync or close). */
	struct vfs_pc_block *pc_blocks;
	uint64_t pc_gen;
	/* mapping.c: the mappings of it (under m->lock; each holds a file
	 * reference, so the inode outlives them). */
	struct vfs_mapping *mappings;
	unsigned pc_dirty, pc_wb;
	int pc_wb_err;
	/* The files open for writing (m->lock): writeback uses their fh. */
	struct vfs_file *wfiles;
	struct vfs_inode *hnext;
};

/* A name of an inode as inotify sees it, Linux's dentry as far as events
 * go: the directory (by nodeid) and the name, unlinked once that name was
 * removed. Held by its inode while the name is the last one walked, and
 * by the files opened by it, whose events stay with it across renames and
 * after an unlink (IN_EXCL_UNLINK), whatever name the inode is reached by
 * meanwhile. m->lock guards it; it is on its inode's aliases list. */
struct vfs_alias {
	struct vfs_alias *next;
	unsigned refs;
	bool unlinked;
	uint64_t dir;
	char *name;
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

struct vfs_file;
/* poll.c: called on the receiving thread, with m->poll_lock held, for a
 * NOTIFY_POLL that names f; must not block or take any lock but a leaf
 * of its own, and may not keep f (it may be going away). */
typedef void (*vfs_poll_hook_fn)(void *ctx, struct vfs_file *f);

struct vfs_mount {
	pthread_mutex_t lock;
	struct fuse_conn *conn;
	struct vfs_inode *root;
	pthread_cond_t lock_cv;	/* lock.c: waiters for a record lock */
	bool read_only;		/* mounted ro: changes give EROFS */
	bool default_permissions; /* permission.c: checked here */
	unsigned releases;	/* RELEASEs not yet answered (lock_cv) */
	char *fifo_dir;		/* fifo.c: private FIFOs, made on demand */
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

	/* poll.c: files the server may wake with NOTIFY_POLL, and their
	 * waiters. poll_lock is a leaf lock (see poll.c). */
	pthread_mutex_t poll_lock;
	pthread_cond_t poll_cv;
	struct vfs_file *polled;
	uint64_t next_kh, poll_seq;
	vfs_poll_hook_fn poll_hook;
	void *poll_hook_ctx;
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
	int native_fd;		/* a FIFO: the local pipe (fifo.c), else -1 */
	/* poll.c, under m->poll_lock: the kh of POLL requests (0 before
	 * the first), and membership of m->polled. */
	uint64_t kh;
	bool polled;
	struct vfs_file *poll_next;
	bool remote_flock;	/* the server holds a flock lock of it */
	bool notified;		/* raised IN_OPEN: IN_CLOSE_* at the end */
	struct vfs_alias *alias; /* the name it was opened by, or NULL */
	/* Where the last cached read ended: a read starting there is
	 * sequential and reads ahead (a hint: read and set unlocked). */
	uint64_t ra_next;
	/* On inode->wfiles (m->lock). */
	bool wlisted;
	struct vfs_file *wprev, *wnext;
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
/* The hashed inode of nodeid, or NULL; m->lock held, no reference. */
struct vfs_inode *vfs_inode_find(struct vfs_mount *m, uint64_t nodeid);
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
/* ino's name odir/oname is ndir/nname now, and the one it was last
 * reached by (m->lock held): the files opened by the old name follow. */
void vfs_alias_moved(struct vfs_inode *ino, const struct vfs_inode *odir,
		     const char *oname, const struct vfs_inode *ndir,
		     const char *nname);
/* ino's name dir/name was removed (m->lock held). Whether Linux would
 * still hold that dentry (a file open by it, or below it for a
 * directory): IN_DELETE_SELF waits for vfs_alias_release then. */
bool vfs_alias_unlinked(struct vfs_inode *ino, const struct vfs_inode *dir,
			const char *name);
/* An open file's name a of ino is let go (m->lock held). Into gone, at
 * most max and referenced, the inodes whose IN_DELETE_SELF waited for it:
 * ino, with no link left, when a was removed, then removed directories
 * above it. Returns how many. */
size_t vfs_alias_release(struct vfs_inode *ino, struct vfs_alias *a,
			 struct vfs_inode **gone, size_t max);
/* ino's alias a (or the reference to it) is dropped (m->lock held). */
void vfs_alias_put(struct vfs_inode *ino, struct vfs_alias *a);
void vfs_dentry_drop(struct vfs_mount *m, struct vfs_inode *dir,
		     const char *name, size_t namelen);
/* 1 = cached positive (*out referenced), 0 = cached negative,
 * -1 = not cached or expired. */
int vfs_dentry_find(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, uint64_t now,
		    struct vfs_inode **out);
void vfs_dentry_evict(struct vfs_mount *m);
/* The cached entry, expired or not: 1 with *ino (no reference; NULL for
 * a negative entry) or 0 when the name is not cached. */
int vfs_dentry_peek(struct vfs_mount *m, struct vfs_inode *dir,
		    const char *name, size_t namelen, struct vfs_inode **ino);
void vfs_dentry_expire(struct vfs_mount *m, struct vfs_inode *dir,
		       const char *name, size_t namelen);
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

/* namei.c: calls on the last name of a path. */
enum vfs_last_type { VFS_LAST_NORM, VFS_LAST_DOT, VFS_LAST_DOTDOT,
		     VFS_LAST_ROOT };
struct vfs_last {
	enum vfs_last_type type;
	bool slash;		/* the path ended in '/' */
	char name[PATH_MAX];
};
/* Walk to the directory that holds path's last component (referenced in
 * *dir) and say what that component is. */
int vfs_walk_parent(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *start, const char *path,
		    struct vfs_inode **dir, struct vfs_last *last);
void vfs_attr_expire(struct vfs_mount *m, struct vfs_inode *ino);
/* mode carries the type (0 = S_IFREG); *out (may be NULL) referenced. */
int vfs_mknod(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last, mode_t mode,
	      dev_t rdev, struct vfs_inode **out);
int vfs_mkdir(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last,
	      mode_t mode);
int vfs_symlink(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *dir, const struct vfs_last *last,
		const char *target);
int vfs_link(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *ino, struct vfs_inode *dir,
	     const struct vfs_last *last);
int vfs_unlink(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const struct vfs_last *last);
int vfs_rmdir(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *dir, const struct vfs_last *last);
int vfs_rename(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *odir, const struct vfs_last *ol,
	       struct vfs_inode *ndir, const struct vfs_last *nl,
	       unsigned flags);
/* open(2) with O_CREAT of dir/last: CREATE, or MKNOD+OPEN without it;
 * an existing file is opened as open(2) would. */
int vfs_create(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *dir, const struct vfs_last *last, int flags,
	       mode_t mode, struct vfs_file **out);

/* The whole of open(2) with O_CREAT from start: a symlink in the last
 * place is followed (unless O_EXCL or O_NOFOLLOW) and the file made
 * where it leads. */
int vfs_open_create(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *start, const char *path, int flags,
		    mode_t mode, struct vfs_file **out);
/* O_TMPFILE in dir: TMPFILE, -EOPNOTSUPP where the server has none. */
int vfs_tmpfile(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *dir, int flags, mode_t mode,
		struct vfs_file **out);

/* file.c */
/* The errors open(2) gives for flags on ino before any request: EEXIST,
 * ELOOP, ENOTDIR, EISDIR. */
int vfs_open_check(const struct vfs_inode *ino, int flags);
/* OPEN(DIR), then for O_TRUNC without ATOMIC_O_TRUNC a SETATTR. */
int vfs_open(struct vfs_mount *m, const struct fuse_caller *who,
	     struct vfs_inode *ino, int flags, struct vfs_file **out);
/* Open for exec, whose permission (MAY_EXEC) the caller checked: read
 * access is not asked, as Linux's do_open_execat does not ask it. */
int vfs_open_exec(struct vfs_mount *m, const struct fuse_caller *who,
		  struct vfs_inode *ino, struct vfs_file **out);
/* An open file for ino (referenced anew) with what OPEN or CREATE
 * answered; has_fh false for a zero-message open. */
int vfs_file_new(struct vfs_mount *m, struct vfs_inode *ino, int flags,
		 bool has_fh, const struct fuse_open_out *oo,
		 struct vfs_file **out);
/* An open(2) done (not O_PATH): IN_OPEN, and IN_CLOSE_* at its end. */
void vfs_file_opened(struct vfs_file *f);
/* ino of f is reached through f (fchmod, fsetxattr, ...): until the next
 * walk its events go under the name f was opened by, as Linux's go under
 * the file's dentry. */
void vfs_file_reach(struct vfs_file *f);
/* fifo.c: open(2) of a FIFO node: a local pipe shared by its openers. */
int vfs_fifo_open(struct vfs_mount *m, struct vfs_inode *ino, int flags,
		  struct vfs_file **out);
void vfs_fifo_cleanup(struct vfs_mount *m);
/* The path of ino's local object (a FIFO, or the socket bound for a
 * socket node) in the mount's private directory, made on demand. */
int vfs_local_path(struct vfs_mount *m, struct vfs_inode *ino, char *out,
		   size_t size);
/* setattr.c: Linux's removal of set-user-ID/set-group-ID when a caller
 * without CAP_FSETID writes or truncates: into in (the same SETATTR),
 * or, in NULL, as a SETATTR of its own. */
int vfs_kill_privs(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *ino, struct vfs_file *f,
		   struct fuse_setattr_in *in);
/* Data reached the server up to end (a WRITE, a STORE, ...): the size
 * we hold grows to cover it and the attributes are asked again. Returns
 * the file's size after it. */
uint64_t vfs_data_reached(struct vfs_mount *m, struct vfs_inode *ino,
			  uint64_t end);
/* WRITE requests carry at most this many bytes: max_write, max_pages. */
uint32_t vfs_write_chunk(struct fuse_conn *c);
/* WRITEs of buf at off now (a short one ends them); the size we hold
 * grows and the cache takes the bytes (or, for direct I/O, drops the
 * range). What the server took, or an error for nothing. */
ssize_t vfs_write_through(struct vfs_file *f, const struct fuse_caller *who,
			  const char *buf, size_t count, uint64_t off,
			  uint32_t write_flags);
/* A mapping's stores (mapping.c), written as a pwrite would be (through
 * the cache with writeback caching), with no event and nothing applied
 * to the mappings. */
ssize_t vfs_write_stores(struct vfs_file *f, const struct fuse_caller *who,
			 const void *buf, size_t count, uint64_t off);
/* WRITE split by max_write and max_pages; a short WRITE ends it. */
ssize_t vfs_pwrite(struct vfs_file *f, const struct fuse_caller *who,
		   const void *buf, size_t count, off_t off);
/* At the file position (at the end with O_APPEND), which it advances. */
ssize_t vfs_write(struct vfs_file *f, const struct fuse_caller *who,
		  const void *buf, size_t count);
int vfs_fsync(struct vfs_file *f, const struct fuse_caller *who,
	      bool datasync);
int vfs_fallocate(struct vfs_file *f, const struct fuse_caller *who,
		  int mode, off_t off, off_t len);
/* COPY_FILE_RANGE, or READ+WRITE where the server has none. */
ssize_t vfs_copy_file_range(struct vfs_file *in, off_t *off_in,
			    struct vfs_file *out, off_t *off_out, size_t len,
			    unsigned flags, const struct fuse_caller *who);

/* setattr.c. f (may be NULL) is the open file of ftruncate. */
int vfs_setattr(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, struct vfs_file *f,
		struct fuse_setattr_in *in);
int vfs_chmod(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *ino, mode_t mode);
int vfs_chown(struct vfs_mount *m, const struct fuse_caller *who,
	      struct vfs_inode *ino, uid_t uid, gid_t gid);
int vfs_truncate(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, struct vfs_file *f, off_t len);
/* times NULL: now; tv_nsec UTIME_NOW / UTIME_OMIT as utimensat(2). */
int vfs_utimens(struct vfs_mount *m, const struct fuse_caller *who,
		struct vfs_inode *ino, const struct timespec *times);
/* What utimensat(2) decides before it looks at the path: -EINVAL for a
 * bad tv_nsec, 1 when both are UTIME_OMIT (nothing to do: 0 at once). */
int vfs_utimens_early(const struct timespec *times);
void vfs_file_get(struct vfs_file *f);
/* Drops a reference; the last one sends RELEASE (without waiting). */
void vfs_file_put(struct vfs_file *f);
/* As vfs_file_put, but when it sends RELEASE, waits at most timeout_ms
 * for the server's answer. */
void vfs_file_put_wait(struct vfs_file *f, int timeout_ms);
/* What close(2) of one descriptor does: FLUSH; its error is close's. */
/* A close(2) by the process whose record locks are owner's. */
int vfs_file_flush(struct vfs_file *f, const struct fuse_caller *who,
		   uint64_t owner);
/* Only the record-lock part of a close: owner's locks on the file go
 * (the server's through a FLUSH when it keeps them). */
int vfs_file_drop_locks(struct vfs_file *f, const struct fuse_caller *who,
			uint64_t owner);
/* vfs_pread without the IN_ACCESS event (copy_file_range's fallback
 * raises its own once). */
ssize_t vfs_pread_quiet(struct vfs_file *f, const struct fuse_caller *who,
			void *buf, size_t count, off_t off);
ssize_t vfs_pread(struct vfs_file *f, const struct fuse_caller *who,
		  void *buf, size_t count, off_t off);
ssize_t vfs_read(struct vfs_file *f, const struct fuse_caller *who,
		 void *buf, size_t count);
/* READ requests carry at most this many bytes: max_read, max_pages. */
uint32_t vfs_read_chunk(struct fuse_conn *c);
/* readcache.c: pread of [off, off + count) of a regular file, through the
 * page cache; size is the file's size as last known (count stops at
 * it). */
ssize_t vfs_read_cached(struct vfs_file *f, const struct fuse_caller *who,
			void *buf, size_t count, uint64_t off, uint64_t size);
off_t vfs_lseek(struct vfs_file *f, const struct fuse_caller *who, off_t off,
		int whence);
/* readcache.c: the file's bytes of block index (size: the file's), read
 * from the server into the cache, for a write that covers part of it. */
int vfs_read_block(struct vfs_file *f, const struct fuse_caller *who,
		   uint64_t index, uint64_t size);

/* writeback.c: writeback caching. The mount's server took it / f's
 * writes go through it (a regular file without FOPEN_DIRECT_IO). */
bool vfs_wb_mount(const struct vfs_mount *m);
bool vfs_wb_on(const struct vfs_file *f);
/* write(2) into the cache: dirty data, written back later. */
ssize_t vfs_wb_write(struct vfs_file *f, const struct fuse_caller *who,
		     const char *buf, size_t count, uint64_t off);
/* Writes back ino's dirty data now, through hint when it may write,
 * else another open file of ino. The error of that writeback (also kept
 * for the next fsync or close). who may be NULL. */
int vfs_wb_flush(struct vfs_inode *ino, struct vfs_file *hint,
		 const struct fuse_caller *who);
/* fsync and close: write back, wait for writebacks in flight, and take
 * the error one met since the last fsync or close (0: none). */
int vfs_wb_sync(struct vfs_inode *ino, struct vfs_file *hint,
		const struct fuse_caller *who);
/* Before a request that needs the server to have ino's data: written
 * back and answered (errors stay for fsync/close). */
int vfs_wb_settle(struct vfs_inode *ino, const struct fuse_caller *who);
/* Open files that may write join their inode's writers; at the last
 * put, a writer writes back what is dirty, before RELEASE. */
void vfs_wb_file_opened(struct vfs_file *f);
void vfs_wb_file_closing(struct vfs_file *f);
/* syncfs and unmount: every dirty inode of m written back. */
int vfs_wb_sync_mount(struct vfs_mount *m, const struct fuse_caller *who);

/* dir.c */
ssize_t vfs_getdents64(struct vfs_file *f, const struct fuse_caller *who,
		       void *buf, size_t count);

/* attr.c */
int vfs_statfs(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, struct statfs *out);
/* notify.c: a fuse_notify_fn for the mount's connection (ctx = m). */
void vfs_notify(void *ctx, int code, const void *msg, size_t len);
/* notify_data.c: STORE and RETRIEVE; NULL, or why the message is bad. */
const char *vfs_notify_store(struct vfs_mount *m, const void *msg,
			     size_t len);
const char *vfs_notify_retrieve(struct vfs_mount *m, const void *msg,
				size_t len);
/* permission.c: Linux's checks under default_permissions (all pass
 * without it). */
/* gid is the caller's group or one of its supplementary groups. */
bool vfs_in_group(const struct fuse_caller *who, uint32_t gid);
int vfs_mode_permission(const struct fuse_caller *who,
			const struct fuse_attr *a, int mode);
int vfs_permission(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *ino, int mode);
int vfs_may_delete(struct vfs_mount *m, const struct fuse_caller *who,
		   struct vfs_inode *dir, struct vfs_inode *victim,
		   bool isdir);
int vfs_may_link(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino);
int vfs_may_xattr(struct vfs_mount *m, const struct fuse_caller *who,
		  struct vfs_inode *ino, const char *name, bool write);
int vfs_may_setattr(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *ino, struct fuse_setattr_in *in);
int vfs_may_open(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, int flags);
int vfs_access(struct vfs_mount *m, const struct fuse_caller *who,
	       struct vfs_inode *ino, int mode);
ssize_t vfs_getxattr(struct vfs_mount *m, const struct fuse_caller *who,
		     struct vfs_inode *ino, const char *name, void *buf,
		     size_t size);
ssize_t vfs_listxattr(struct vfs_mount *m, const struct fuse_caller *who,
		      struct vfs_inode *ino, char *buf, size_t size);
int vfs_setxattr(struct vfs_mount *m, const struct fuse_caller *who,
		 struct vfs_inode *ino, const char *name, const void *value,
		 size_t size, int flags);
int vfs_removexattr(struct vfs_mount *m, const struct fuse_caller *who,
		    struct vfs_inode *ino, const char *name);
int vfs_syncfs(struct vfs_mount *m, const struct fuse_caller *who);

/* lock.c: record locks and flock, by the server where it offers them
 * (POSIX_LOCKS, FLOCK_LOCKS), else kept here as Linux keeps them for a
 * FUSE mount without them. owner identifies a process (POSIX) or an open
 * file (OFD, flock). cmd: F_GETLK, F_SETLK, F_SETLKW. */
int vfs_lock(struct vfs_file *f, const struct fuse_caller *who, int cmd,
	     uint64_t owner, struct flock *fl);
/* op: LOCK_SH, LOCK_EX, LOCK_UN, | LOCK_NB */
int vfs_flock(struct vfs_file *f, const struct fuse_caller *who, int op);
/* Drop every lock owner holds on f's inode (close(2), exit). */
void vfs_locks_release(struct vfs_file *f, uint64_t owner);
void vfs_locks_free(struct vfs_inode *ino); /* m->lock held */

/* ioctl.c: ioctl(2) on an open file. vfs_ioctl_sizes says how many bytes
 * of the argument cmd reads (in) and may write back (out): the _IOC
 * encoding, or what Linux's VFS moves for the commands it answers itself
 * (FIONREAD, FIOQSIZE, FIGETBSZ, FIONBIO, FIOASYNC, FIBMAP). vfs_ioctl
 * answers those, and sends every other command as a restricted IOCTL
 * (FUSE_IOCTL_DIR on a directory). arg is the caller's argument as it
 * passed it (the server sees it); *out_len is how many bytes of out to
 * copy back, also when the result is negative. Returns the result: the
 * server's (any int) or a negative errno. */
void vfs_ioctl_sizes(const struct vfs_file *f, unsigned cmd, size_t *in,
		     size_t *out);
long vfs_ioctl(struct vfs_file *f, const struct fuse_caller *who,
	       unsigned cmd, uint64_t arg, const void *in, size_t in_size,
	       void *out, size_t out_size, size_t *out_len);

/* poll.c: the events f has now (POLLIN, ...), as Linux's f_op->poll
 * gives them: the server's answer to POLL, DEFAULT_POLLMASK when it has
 * none (and for directories), POLLERR when POLL fails, POLLNVAL for
 * O_PATH. With schedule_notify the server is asked to send NOTIFY_POLL
 * when the file's state changes; that bumps the mount's poll sequence.
 * Not filtered by events: poll(2) does that. */
unsigned vfs_poll(struct vfs_file *f, const struct fuse_caller *who,
		  unsigned events, bool schedule_notify);
/* The mount's poll sequence: read it before polling, then wait for it to
 * move with vfs_poll_wait (so a wakeup between the two is not lost).
 * 0 when woken (or the connection ended: poll again), -ETIMEDOUT after
 * timeout_ms (< 0: no limit), -EINTR when the caller is gone. */
uint64_t vfs_poll_seq(struct vfs_mount *m);
int vfs_poll_wait(struct vfs_mount *m, uint64_t seq, int timeout_ms);
/* NOTIFY_POLL for kh (notify.c). */
void vfs_poll_wakeup(struct vfs_mount *m, uint64_t kh);
void vfs_poll_set_hook(struct vfs_mount *m, vfs_poll_hook_fn fn, void *ctx);
/* f's last reference is going: it leaves m->polled. */
void vfs_poll_forget(struct vfs_file *f);

#endif
