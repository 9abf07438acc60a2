/*
 * ops_modify.c - the FUSE opcodes that change the filesystem: creation
 * and links, SETATTR and xattrs, WRITE, the syncs, FALLOCATE,
 * COPY_FILE_RANGE, and the lock requests. As in ops.c, each function is
 * the request's shape plus the checks only it can make; what an answer
 * means for the caches is the VFS's business.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/ops.h"

#define XATTR_SIZE_MAX_ 65536
#define XATTR_NAME_MAX_ 255

static int name_ok(struct fuse_conn *c, const char *name)
{
	size_t n = strlen(name);
	int err = fuse_conn_wait_init(c);

	if (err)
		return err;
	if (n > c->lim.name_max || n > 4095)
		return -ENAMETOOLONG;
	return 0;
}

/* The answer to a request that made a node: it must be a real node of
 * the type asked for, else the lookup it counts is given back and the
 * caller gets EIO (as Linux's create_new_entry). */
static int entry_reply(struct fuse_conn *c, struct fuse_req *req,
		       mode_t type, struct fuse_entry_out *e)
{
	int err = fuse_send_sync(c, req);

	if (err)
		return err;
	if (e->nodeid == 0 || fuse_entry_check(c, req->in.opcode, e)) {
		if (e->nodeid == 0)
			fuse_log_bad(c, "bad reply to %s: nodeid 0",
				     fuse_opcode_name(req->in.opcode));
		else if (e->nodeid != FUSE_ROOT_ID)
			fuse_op_forget(c, e->nodeid, 1);
		return -EIO;
	}
	if ((e->attr.mode & S_IFMT) != type) {
		fuse_log_bad(c, "bad reply to %s: made mode 0%o, not type 0%o",
			     fuse_opcode_name(req->in.opcode), e->attr.mode,
			     type);
		fuse_op_forget(c, e->nodeid, 1);
		return -EIO;
	}
	return 0;
}

int fuse_op_mknod(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name, mode_t mode,
		  uint32_t rdev, mode_t umask, struct fuse_entry_out *out)
{
	struct fuse_mknod_in in = { .mode = mode, .rdev = rdev,
				    .umask = umask };
	struct fuse_req req;
	int err = name_ok(c, name);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	fuse_req_init(&req, FUSE_MKNOD, parent, who);
	fuse_req_in(&req, &in, c->lim.minor < 12 ? FUSE_COMPAT_MKNOD_IN_SIZE
						 : sizeof(in));
	fuse_req_in(&req, name, strlen(name) + 1);
	fuse_req_out(&req, out, sizeof(*out));
	return entry_reply(c, &req, mode & S_IFMT, out);
}

int fuse_op_mkdir(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name, mode_t mode,
		  mode_t umask, struct fuse_entry_out *out)
{
	struct fuse_mkdir_in in = { .mode = mode, .umask = umask };
	struct fuse_req req;
	int err = name_ok(c, name);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	fuse_req_init(&req, FUSE_MKDIR, parent, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_in(&req, name, strlen(name) + 1);
	fuse_req_out(&req, out, sizeof(*out));
	return entry_reply(c, &req, S_IFDIR, out);
}

int fuse_op_symlink(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t parent, const char *name, const char *target,
		    struct fuse_entry_out *out)
{
	struct fuse_req req;
	int err = name_ok(c, name);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	fuse_req_init(&req, FUSE_SYMLINK, parent, who);
	fuse_req_in(&req, name, strlen(name) + 1);
	fuse_req_in(&req, target, strlen(target) + 1);
	fuse_req_out(&req, out, sizeof(*out));
	return entry_reply(c, &req, S_IFLNK, out);
}

int fuse_op_link(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, mode_t type, uint64_t newparent,
		 const char *newname, struct fuse_entry_out *out)
{
	struct fuse_link_in in = { .oldnodeid = nodeid };
	struct fuse_req req;
	int err = name_ok(c, newname);

	if (err)
		return err;
	memset(out, 0, sizeof(*out));
	fuse_req_init(&req, FUSE_LINK, newparent, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_in(&req, newname, strlen(newname) + 1);
	fuse_req_out(&req, out, sizeof(*out));
	/* libfuse's high-level library answers with a node of its own for
	 * the new name; Linux takes it, and so do we. */
	return entry_reply(c, &req, type, out);
}

static int name_request(struct fuse_conn *c, const struct fuse_caller *who,
			uint32_t opcode, uint64_t parent, const char *name)
{
	struct fuse_req req;
	int err = name_ok(c, name);

	if (err)
		return err;
	fuse_req_init(&req, opcode, parent, who);
	fuse_req_in(&req, name, strlen(name) + 1);
	return fuse_send_sync(c, &req);
}

int fuse_op_unlink(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t parent, const char *name)
{
	return name_request(c, who, FUSE_UNLINK, parent, name);
}

int fuse_op_rmdir(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t parent, const char *name)
{
	return name_request(c, who, FUSE_RMDIR, parent, name);
}

int fuse_op_rename(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t olddir, const char *oldname, uint64_t newdir,
		   const char *newname, unsigned flags)
{
	struct fuse_rename2_in in2 = { .newdir = newdir, .flags = flags };
	struct fuse_rename_in in = { .newdir = newdir };
	struct fuse_req req;
	int err = name_ok(c, oldname);

	if (!err)
		err = name_ok(c, newname);
	if (err)
		return err;
	if (flags && (c->lim.minor < 23 ||
		      __atomic_load_n(&c->no_rename2, __ATOMIC_RELAXED)))
		return -EINVAL;
	fuse_req_init(&req, flags ? FUSE_RENAME2 : FUSE_RENAME, olddir, who);
	if (flags)
		fuse_req_in(&req, &in2, sizeof(in2));
	else
		fuse_req_in(&req, &in, sizeof(in));
	fuse_req_in(&req, oldname, strlen(oldname) + 1);
	fuse_req_in(&req, newname, strlen(newname) + 1);
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS && flags) {
		/* As Linux: a server without RENAME2 has no flags. */
		__atomic_store_n(&c->no_rename2, true, __ATOMIC_RELAXED);
		err = -EINVAL;
	}
	return err;
}

int fuse_op_create(struct fuse_conn *c, const struct fuse_caller *who,
		   uint32_t opcode, uint64_t parent, const char *name,
		   int flags, mode_t mode, mode_t umask,
		   struct fuse_entry_out *eo, struct fuse_open_out *oo)
{
	struct fuse_create_in in = { .flags = (uint32_t)flags, .mode = mode,
				     .umask = umask };
	struct fuse_req req;
	bool *no = opcode == FUSE_TMPFILE ? &c->no_tmpfile : &c->no_create;
	int err = name_ok(c, name);

	if (err)
		return err;
	if (__atomic_load_n(no, __ATOMIC_RELAXED))
		return -ENOSYS;
	memset(eo, 0, sizeof(*eo));
	memset(oo, 0, sizeof(*oo));
	fuse_req_init(&req, opcode, parent, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_in(&req, name, strlen(name) + 1);
	fuse_req_out(&req, eo, sizeof(*eo));
	fuse_req_out(&req, oo, sizeof(*oo));
	err = entry_reply(c, &req, S_IFREG, eo);
	if (err == -ENOSYS)
		__atomic_store_n(no, true, __ATOMIC_RELAXED);
	return err;
}

int fuse_op_setattr(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, const struct fuse_setattr_in *in,
		    struct fuse_attr_out *out)
{
	struct fuse_req req;
	int err;

	fuse_req_init(&req, FUSE_SETATTR, nodeid, who);
	fuse_req_in(&req, in, sizeof(*in));
	fuse_req_out(&req, out, sizeof(*out));
	err = fuse_send_sync(c, &req);
	if (!err && !fuse_attr_valid(&out->attr)) {
		fuse_log_bad(c, "bad reply to SETATTR: mode 0%o",
			     out->attr.mode);
		err = -EIO;
	}
	return err;
}

int fuse_op_setxattr(struct fuse_conn *c, const struct fuse_caller *who,
		     uint64_t nodeid, const char *name, const void *value,
		     size_t size, int flags)
{
	struct fuse_setxattr_in in = { .size = (uint32_t)size,
				       .flags = (uint32_t)flags };
	struct fuse_req req;
	size_t n = strlen(name);
	int err;

	if (n == 0 || n > XATTR_NAME_MAX_)
		return -ERANGE;
	if (size > XATTR_SIZE_MAX_)
		return -E2BIG;
	if (__atomic_load_n(&c->no_setxattr, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	fuse_req_init(&req, FUSE_SETXATTR, nodeid, who);
	/* Without SETXATTR_EXT (not offered) the short form goes. */
	fuse_req_in(&req, &in, FUSE_COMPAT_SETXATTR_IN_SIZE);
	fuse_req_in(&req, name, n + 1);
	fuse_req_in(&req, value, size);
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		__atomic_store_n(&c->no_setxattr, true, __ATOMIC_RELAXED);
		err = -EOPNOTSUPP;
	}
	return err;
}

int fuse_op_removexattr(struct fuse_conn *c, const struct fuse_caller *who,
			uint64_t nodeid, const char *name)
{
	size_t n = strlen(name);
	int err;

	if (n == 0 || n > XATTR_NAME_MAX_)
		return -ERANGE;
	if (__atomic_load_n(&c->no_removexattr, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	err = name_request(c, who, FUSE_REMOVEXATTR, nodeid, name);
	if (err == -ENOSYS) {
		__atomic_store_n(&c->no_removexattr, true, __ATOMIC_RELAXED);
		err = -EOPNOTSUPP;
	}
	return err;
}

void fuse_op_write_prepare(struct fuse_write_req *r,
			   const struct fuse_caller *who, uint64_t nodeid,
			   uint64_t fh, uint64_t off, const void *buf,
			   uint32_t size, int flags, uint32_t write_flags)
{
	fuse_req_init(&r->req, FUSE_WRITE, nodeid, who);
	memset(&r->in, 0, sizeof(r->in));
	memset(&r->out, 0, sizeof(r->out));
	r->in.fh = fh;
	r->in.offset = off;
	r->in.size = size;
	r->in.write_flags = write_flags;
	r->in.flags = (uint32_t)flags;
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	fuse_req_in(&r->req, buf, size);
	fuse_req_out(&r->req, &r->out, sizeof(r->out));
}

ssize_t fuse_op_write_result(struct fuse_conn *c, struct fuse_write_req *r)
{
	if (r->req.error)
		return r->req.error;
	if (r->out.size > r->in.size) {
		/* Claiming more than was sent would invent data. */
		fuse_log_bad(c, "bad reply to WRITE: %u bytes of %u",
			     r->out.size, r->in.size);
		return -EIO;
	}
	return (ssize_t)r->out.size;
}

ssize_t fuse_op_write(struct fuse_conn *c, const struct fuse_caller *who,
		      uint64_t nodeid, uint64_t fh, uint64_t off,
		      const void *buf, uint32_t size, int flags,
		      uint64_t lock_owner, uint32_t write_flags)
{
	struct fuse_write_req r;

	fuse_op_write_prepare(&r, who, nodeid, fh, off, buf, size, flags,
			      write_flags);
	if (lock_owner) {
		r.in.lock_owner = lock_owner;
		r.in.write_flags |= FUSE_WRITE_LOCKOWNER;
	}
	fuse_send_sync(c, &r.req);
	return fuse_op_write_result(c, &r);
}

int fuse_op_fsync(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t nodeid, bool dir, uint64_t fh, bool datasync)
{
	struct fuse_fsync_in in = { .fh = fh,
				    .fsync_flags = datasync ? 1 : 0 };
	bool *no = dir ? &c->no_fsyncdir : &c->no_fsync;
	struct fuse_req req;
	int err;

	if (__atomic_load_n(no, __ATOMIC_RELAXED))
		return 0;
	fuse_req_init(&req, dir ? FUSE_FSYNCDIR : FUSE_FSYNC, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		/* As Linux: no FSYNC means nothing to sync. */
		__atomic_store_n(no, true, __ATOMIC_RELAXED);
		err = 0;
	}
	return err;
}

int fuse_op_syncfs(struct fuse_conn *c, const struct fuse_caller *who)
{
	struct fuse_syncfs_in in = { 0 };
	struct fuse_req req;
	int err;

	if (c->lim.minor < 34 ||
	    __atomic_load_n(&c->no_syncfs, __ATOMIC_RELAXED))
		return 0;
	fuse_req_init(&req, FUSE_SYNCFS, FUSE_ROOT_ID, who);
	fuse_req_in(&req, &in, sizeof(in));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		__atomic_store_n(&c->no_syncfs, true, __ATOMIC_RELAXED);
		err = 0;
	}
	return err;
}

int fuse_op_fallocate(struct fuse_conn *c, const struct fuse_caller *who,
		      uint64_t nodeid, uint64_t fh, int mode, uint64_t off,
		      uint64_t len)
{
	struct fuse_fallocate_in in = { .fh = fh, .offset = off,
					.length = len, .mode = (uint32_t)mode };
	struct fuse_req req;
	int err;

	if (__atomic_load_n(&c->no_fallocate, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	fuse_req_init(&req, FUSE_FALLOCATE, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		__atomic_store_n(&c->no_fallocate, true, __ATOMIC_RELAXED);
		err = -EOPNOTSUPP;
	}
	return err;
}

ssize_t fuse_op_copy_file_range(struct fuse_conn *c,
				const struct fuse_caller *who,
				uint64_t nodeid_in, uint64_t fh_in,
				uint64_t off_in, uint64_t nodeid_out,
				uint64_t fh_out, uint64_t off_out,
				uint64_t len, uint64_t flags)
{
	struct fuse_copy_file_range_in in = {
		.fh_in = fh_in, .off_in = off_in, .nodeid_out = nodeid_out,
		.fh_out = fh_out, .off_out = off_out, .len = len,
		.flags = flags };
	struct fuse_write_out wo = { 0 };
	struct fuse_req req;
	int err;

	if (c->lim.minor < 28 ||
	    __atomic_load_n(&c->no_copy_file_range, __ATOMIC_RELAXED))
		return -ENOSYS;
	fuse_req_init(&req, FUSE_COPY_FILE_RANGE, nodeid_in, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, &wo, sizeof(wo));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS)
		__atomic_store_n(&c->no_copy_file_range, true,
				 __ATOMIC_RELAXED);
	if (err)
		return err;
	if (wo.size > len) {
		fuse_log_bad(c, "bad reply to COPY_FILE_RANGE: %u of %llu",
			     wo.size, (unsigned long long)len);
		return -EIO;
	}
	return (ssize_t)wo.size;
}

int fuse_op_lock(struct fuse_conn *c, const struct fuse_caller *who,
		 uint32_t opcode, uint64_t nodeid, uint64_t fh,
		 uint64_t owner, bool flock, struct fuse_file_lock *lk)
{
	struct fuse_lk_in in = { .fh = fh, .owner = owner, .lk = *lk,
				 .lk_flags = flock ? FUSE_LK_FLOCK : 0 };
	struct fuse_lk_out out = { 0 };
	struct fuse_req req;
	int err;

	fuse_req_init(&req, opcode, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	if (opcode == FUSE_GETLK)
		fuse_req_out(&req, &out, sizeof(out));
	err = fuse_send_sync(c, &req);
	if (err)
		return err;
	if (opcode == FUSE_GETLK) {
		if (out.lk.type != F_UNLCK && out.lk.type != F_RDLCK &&
		    out.lk.type != F_WRLCK) {
			fuse_log_bad(c, "bad reply to GETLK: type %u",
				     out.lk.type);
			return -EIO;
		}
		*lk = out.lk;
	}
	return 0;
}
