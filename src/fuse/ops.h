/*
 * ops.h - one small function per FUSE opcode. Each fills a request, sends
 * it through conn.c and checks what only it can check (validate.c).
 * Errors are negative errno values; a reply that breaks the protocol is
 * -EIO (and one line in the log).
 */
#ifndef FUSEBOX_FUSE_OPS_H
#define FUSEBOX_FUSE_OPS_H

#include <stdbool.h>
#include <sys/types.h>

#include "fuse/conn.h"

/* Ask the server to stop request unique (no reply expected). */
void fuse_op_interrupt(struct fuse_conn *c, uint64_t unique);
/* The answer to the server's RETRIEVE (notify_unique unique): size bytes
 * of node nodeid's cached data from offset. No reply comes. */
void fuse_op_notify_reply(struct fuse_conn *c, uint64_t unique,
			  uint64_t nodeid, uint64_t offset, const void *data,
			  uint32_t size);
int fuse_op_lookup(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t parent, const char *name,
		   struct fuse_entry_out *out);
int fuse_op_getattr(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, const uint64_t *fh,
		    struct fuse_attr_out *out);
/* Returns the length of the target (not NUL-terminated) in buf. */
ssize_t fuse_op_readlink(struct fuse_conn *c, const struct fuse_caller *who,
			 uint64_t nodeid, char *buf, size_t size);
int fuse_op_open(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, bool dir, int flags,
		 struct fuse_open_out *out);
/* Asynchronous; done(ctx) (may be NULL) runs once the server answered
 * or the connection is gone, so that the caller can keep the node alive
 * until then: a FORGET must not overtake the RELEASE. */
void fuse_op_release(struct fuse_conn *c, uint64_t nodeid, bool dir,
		     uint64_t fh, int flags, uint32_t release_flags,
		     uint64_t lock_owner, void (*done)(void *), void *ctx);
int fuse_op_flush(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t nodeid, uint64_t fh, uint64_t lock_owner);
/* Pipelined READ: prepare, submit, then wait. */
struct fuse_read_req {
	struct fuse_req req;
	struct fuse_read_in in;
};
void fuse_op_read_prepare(struct fuse_read_req *r,
			  const struct fuse_caller *who, uint64_t nodeid,
			  uint64_t fh, uint64_t off, void *buf, uint32_t size,
			  int flags);
ssize_t fuse_op_read(struct fuse_conn *c, const struct fuse_caller *who,
		     uint64_t nodeid, uint64_t fh, uint64_t off, void *buf,
		     uint32_t size, int flags);
/* Raw READDIR/READDIRPLUS payload into buf; returns its length. */
ssize_t fuse_op_readdir(struct fuse_conn *c, const struct fuse_caller *who,
			uint64_t nodeid, uint64_t fh, uint64_t off, bool plus,
			void *buf, uint32_t size);
int fuse_op_statfs(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, struct fuse_kstatfs *out);
int fuse_op_access(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, int mask);
/* size 0: returns the size the value needs. */
ssize_t fuse_op_getxattr(struct fuse_conn *c, const struct fuse_caller *who,
			 uint64_t nodeid, const char *name, void *buf,
			 size_t size);
ssize_t fuse_op_listxattr(struct fuse_conn *c, const struct fuse_caller *who,
			  uint64_t nodeid, char *buf, size_t size);
off_t fuse_op_lseek(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, uint64_t fh, off_t off, int whence);
/* Queue FORGET; never blocks. */
void fuse_op_forget(struct fuse_conn *c, uint64_t nodeid, uint64_t nlookup);
/* Several at once: one BATCH_FORGET from protocol 7.16 on. */
void fuse_op_forget_batch(struct fuse_conn *c,
			  const struct fuse_forget_one *v, size_t n);
/* DESTROY; waits at most timeout_ms for the answer. */
int fuse_op_destroy(struct fuse_conn *c, int timeout_ms);

/* ops_modify.c. The ones that make a node return its entry with one
 * lookup counted; a reply of the wrong type is -EIO (and forgotten). */
int fuse_op_mknod(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name, mode_t mode,
		  uint32_t rdev, mode_t umask, struct fuse_entry_out *out);
int fuse_op_mkdir(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name, mode_t mode,
		  mode_t umask, struct fuse_entry_out *out);
int fuse_op_symlink(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t parent, const char *name, const char *target,
		    struct fuse_entry_out *out);
int fuse_op_link(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, mode_t type, uint64_t newparent,
		 const char *newname, struct fuse_entry_out *out);
int fuse_op_unlink(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t parent, const char *name);
int fuse_op_rmdir(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name);
/* flags 0: RENAME; else RENAME2 (-EINVAL where the server has none). */
int fuse_op_rename(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t olddir, const char *oldname, uint64_t newdir,
		   const char *newname, unsigned flags);
/* opcode FUSE_CREATE or FUSE_TMPFILE; -ENOSYS (remembered) when the
 * server has none. */
int fuse_op_create(struct fuse_conn *c, const struct fuse_caller *who,
		   uint32_t opcode, uint64_t parent, const char *name,
		   int flags, mode_t mode, mode_t umask,
		   struct fuse_entry_out *eo, struct fuse_open_out *oo);
int fuse_op_setattr(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, const struct fuse_setattr_in *in,
		    struct fuse_attr_out *out);
int fuse_op_setxattr(struct fuse_conn *c, const struct fuse_caller *who,
		     uint64_t nodeid, const char *name, const void *value,
		     size_t size, int flags);
int fuse_op_removexattr(struct fuse_conn *c, const struct fuse_caller *who,
			uint64_t nodeid, const char *name);
/* Bytes the server took (never more than size). */
ssize_t fuse_op_write(struct fuse_conn *c, const struct fuse_caller *who,
		      uint64_t nodeid, uint64_t fh, uint64_t off,
		      const void *buf, uint32_t size, int flags,
		      uint64_t lock_owner, uint32_t write_flags);
/* Pipelined WRITE: prepare, submit, wait, then the result: bytes the
 * server took or the error. */
struct fuse_write_req {
	struct fuse_req req;
	struct fuse_write_in in;
	struct fuse_write_out out;
};
void fuse_op_write_prepare(struct fuse_write_req *r,
			   const struct fuse_caller *who, uint64_t nodeid,
			   uint64_t fh, uint64_t off, const void *buf,
			   uint32_t size, int flags, uint32_t write_flags);
ssize_t fuse_op_write_result(struct fuse_conn *c, struct fuse_write_req *r);
int fuse_op_fsync(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t nodeid, bool dir, uint64_t fh, bool datasync);
int fuse_op_syncfs(struct fuse_conn *c, const struct fuse_caller *who);
int fuse_op_fallocate(struct fuse_conn *c, const struct fuse_caller *who,
		      uint64_t nodeid, uint64_t fh, int mode, uint64_t off,
		      uint64_t len);
/* -ENOSYS when the server has none: the caller copies by hand. */
ssize_t fuse_op_copy_file_range(struct fuse_conn *c,
				const struct fuse_caller *who,
				uint64_t nodeid_in, uint64_t fh_in,
				uint64_t off_in, uint64_t nodeid_out,
				uint64_t fh_out, uint64_t off_out,
				uint64_t len, uint64_t flags);
/* GETLK (lk is replaced by the answer), SETLK, SETLKW. */
int fuse_op_lock(struct fuse_conn *c, const struct fuse_caller *who,
		 uint32_t opcode, uint64_t nodeid, uint64_t fh,
		 uint64_t owner, bool flock, struct fuse_file_lock *lk);

/* ops_ioctl.c. A restricted IOCTL: in_size bytes of in go with the
 * request, at most out_size bytes of the answer land in out (out_len says
 * how many). Returns the server's result (any int, as ioctl(2) returns
 * it) or a negative errno; ENOSYS becomes ENOTTY, as Linux. */
struct fuse_ioctl_args {
	uint64_t fh;
	uint32_t flags;		/* FUSE_IOCTL_DIR, FUSE_IOCTL_32BIT */
	uint32_t cmd;
	uint64_t arg;		/* the caller's argument, as it passed it */
	const void *in;
	uint32_t in_size;
	void *out;
	uint32_t out_size;
	uint32_t out_len;	/* out */
};
long fuse_op_ioctl(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, struct fuse_ioctl_args *a);
/* POLL: *revents gets the events the file has now. notify asks the
 * server for a NOTIFY_POLL naming kh when that changes. -ENOSYS is
 * remembered (no_poll). */
int fuse_op_poll(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, uint64_t fh, uint64_t kh, bool notify,
		 uint32_t events, uint32_t *revents);

/* validate.c */
bool fuse_attr_valid(const struct fuse_attr *a);
/* A LOOKUP answer: 0, or -EIO if it is not one a child may have. */
int fuse_entry_check(struct fuse_conn *c, uint32_t opcode,
		     const struct fuse_entry_out *e);
/* Walks a READDIR(PLUS) payload. cb gets each record; parsing stops at
 * the first bad record with -EIO. */
struct fuse_dirent_view {
	uint64_t ino, off;
	uint32_t type;
	const char *name;	/* not NUL-terminated */
	uint32_t namelen;
	const struct fuse_entry_out *entry; /* READDIRPLUS only */
};
typedef int (*fuse_dirent_cb)(void *ctx, const struct fuse_dirent_view *d);
int fuse_dirents_parse(struct fuse_conn *c, const void *buf, size_t len,
		       bool plus, fuse_dirent_cb cb, void *ctx);
int fuse_xattr_list_check(const char *list, size_t len);
uint64_t fuse_timeout_ns(uint64_t sec, uint32_t nsec);

#endif
