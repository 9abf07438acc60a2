/*
 * ops.c - the read-only FUSE opcodes. Each function is the request's
 * shape (in args, out args) plus the op's own reply checks; the request
 * path is conn.c's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/xattr.h>
#include <time.h>

#include "fuse/ops.h"

#define XATTR_SIZE_MAX_ 65536
#define XATTR_NAME_MAX_ 255
#define PAGE_SZ 4096

static int check_name(struct fuse_conn *c, const char *name)
{
	size_t n = strlen(name);
	int err = fuse_conn_wait_init(c); /* name_max comes with INIT */

	if (err)
		return err;
	if (n > c->lim.name_max || n > 4095)
		return -ENAMETOOLONG;
	return 0;
}

int fuse_op_lookup(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t parent, const char *name,
		   struct fuse_entry_out *out)
{
	struct fuse_req req;
	int err = check_name(c, name);

	if (err)
		return err;
	fuse_req_init(&req, FUSE_LOOKUP, parent, who);
	fuse_req_in(&req, name, strlen(name) + 1);
	fuse_req_out(&req, out, sizeof(*out));
	err = fuse_send_sync(c, &req);
	if (err)
		return err;
	err = fuse_entry_check(c, FUSE_LOOKUP, out);
	if (err && out->nodeid != FUSE_ROOT_ID)
		fuse_op_forget(c, out->nodeid, 1);
	return err;
}

int fuse_op_getattr(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, const uint64_t *fh,
		    struct fuse_attr_out *out)
{
	struct fuse_getattr_in in = { 0 };
	struct fuse_req req;
	int err;

	if (fh) {
		in.getattr_flags = FUSE_GETATTR_FH;
		in.fh = *fh;
	}
	fuse_req_init(&req, FUSE_GETATTR, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, out, sizeof(*out));
	err = fuse_send_sync(c, &req);
	if (!err && !fuse_attr_valid(&out->attr)) {
		fuse_log_bad(c, "bad reply to GETATTR: mode 0%o, size %llu",
			     out->attr.mode,
			     (unsigned long long)out->attr.size);
		err = -EIO;
	}
	return err;
}

ssize_t fuse_op_readlink(struct fuse_conn *c, const struct fuse_caller *who,
			 uint64_t nodeid, char *buf, size_t size)
{
	struct fuse_req req;
	int err;

	if (size > PAGE_SZ - 1)
		size = PAGE_SZ - 1; /* Linux asks for at most a page less 1 */
	fuse_req_init(&req, FUSE_READLINK, nodeid, who);
	fuse_req_out(&req, buf, size);
	req.out_min = 0;
	err = fuse_send_sync(c, &req);
	return err ? err : (ssize_t)req.out_len;
}

int fuse_op_open(struct fuse_conn *c, const struct fuse_caller *who,
		 uint64_t nodeid, bool dir, int flags,
		 struct fuse_open_out *out)
{
	struct fuse_open_in in = { 0 };
	struct fuse_req req;
	bool *no = dir ? &c->no_opendir : &c->no_open;
	uint64_t support = dir ? FUSE_NO_OPENDIR_SUPPORT : FUSE_NO_OPEN_SUPPORT;
	int err;

	memset(out, 0, sizeof(*out));
	if (__atomic_load_n(no, __ATOMIC_RELAXED))
		return 1;
	/* As Linux: the server never sees O_CREAT, O_EXCL or O_NOCTTY. */
	in.flags = (uint32_t)(flags & ~(O_CREAT | O_EXCL | O_NOCTTY));
	fuse_req_init(&req, dir ? FUSE_OPENDIR : FUSE_OPEN, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, out, sizeof(*out));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS && (c->lim.flags & support)) {
		/* Zero-message open: the server needs no OPEN/RELEASE. */
		__atomic_store_n(no, true, __ATOMIC_RELAXED);
		memset(out, 0, sizeof(*out));
		return 1;
	}
	return err;
}

struct release_req {
	struct fuse_req req;
	struct fuse_release_in in;
	void (*done)(void *);
	void *ctx;
};

static void free_done(struct fuse_req *req)
{
	free(req);
}

static void release_done(struct fuse_req *req)
{
	struct release_req *r = (struct release_req *)req;

	if (r->done)
		r->done(r->ctx);
	free(r);
}

void fuse_op_release(struct fuse_conn *c, uint64_t nodeid, bool dir,
		     uint64_t fh, int flags, uint32_t release_flags,
		     uint64_t lock_owner, void (*done)(void *), void *ctx)
{
	struct release_req *r = calloc(1, sizeof(*r));

	if (!r) {
		/* The server keeps an fh; nothing else is lost. */
		if (done)
			done(ctx);
		return;
	}
	fuse_req_init(&r->req, dir ? FUSE_RELEASEDIR : FUSE_RELEASE, nodeid,
		      NULL);
	r->in.fh = fh;
	r->in.flags = (uint32_t)flags;
	r->in.release_flags = release_flags;
	r->in.lock_owner = lock_owner;
	r->done = done;
	r->ctx = ctx;
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	r->req.background = true;
	r->req.done = release_done;
	fuse_send_async(c, &r->req);
}

int fuse_op_flush(struct fuse_conn *c, const struct fuse_caller *who,
		  uint64_t nodeid, uint64_t fh, uint64_t lock_owner)
{
	struct fuse_flush_in in = { .fh = fh, .lock_owner = lock_owner };
	struct fuse_req req;
	int err;

	if (__atomic_load_n(&c->no_flush, __ATOMIC_RELAXED))
		return 0;
	fuse_req_init(&req, FUSE_FLUSH, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		__atomic_store_n(&c->no_flush, true, __ATOMIC_RELAXED);
		err = 0;
	}
	return err;
}

void fuse_op_read_prepare(struct fuse_read_req *r,
			  const struct fuse_caller *who, uint64_t nodeid,
			  uint64_t fh, uint64_t off, void *buf, uint32_t size,
			  int flags)
{
	fuse_req_init(&r->req, FUSE_READ, nodeid, who);
	memset(&r->in, 0, sizeof(r->in));
	r->in.fh = fh;
	r->in.offset = off;
	r->in.size = size;
	r->in.flags = (uint32_t)flags;
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	fuse_req_out(&r->req, buf, size);
	r->req.out_min = 0; /* a short read is end of file */
}

ssize_t fuse_op_read(struct fuse_conn *c, const struct fuse_caller *who,
		     uint64_t nodeid, uint64_t fh, uint64_t off, void *buf,
		     uint32_t size, int flags)
{
	struct fuse_read_req r;
	int err;

	fuse_op_read_prepare(&r, who, nodeid, fh, off, buf, size, flags);
	err = fuse_send_sync(c, &r.req);
	return err ? err : (ssize_t)r.req.out_len;
}

ssize_t fuse_op_readdir(struct fuse_conn *c, const struct fuse_caller *who,
			uint64_t nodeid, uint64_t fh, uint64_t off, bool plus,
			void *buf, uint32_t size)
{
	struct fuse_read_in in = { .fh = fh, .offset = off, .size = size };
	struct fuse_req req;
	int err;

	fuse_req_init(&req, plus ? FUSE_READDIRPLUS : FUSE_READDIR, nodeid,
		      who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, buf, size);
	req.out_min = 0;
	err = fuse_send_sync(c, &req);
	return err ? err : (ssize_t)req.out_len;
}

int fuse_op_statfs(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, struct fuse_kstatfs *out)
{
	struct fuse_statfs_out o;
	struct fuse_req req;
	int err;

	fuse_req_init(&req, FUSE_STATFS, nodeid, who);
	fuse_req_out(&req, &o, sizeof(o));
	err = fuse_send_sync(c, &req);
	if (!err)
		*out = o.st;
	return err;
}

int fuse_op_access(struct fuse_conn *c, const struct fuse_caller *who,
		   uint64_t nodeid, int mask)
{
	struct fuse_access_in in = { .mask = (uint32_t)mask };
	struct fuse_req req;
	int err;

	if (__atomic_load_n(&c->no_access, __ATOMIC_RELAXED))
		return 0;
	fuse_req_init(&req, FUSE_ACCESS, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		/* No ACCESS op: the server allows what it serves. */
		__atomic_store_n(&c->no_access, true, __ATOMIC_RELAXED);
		err = 0;
	}
	return err;
}

static ssize_t xattr_request(struct fuse_conn *c, const struct fuse_caller *who,
			     uint32_t opcode, uint64_t nodeid, const char *name,
			     void *buf, size_t size, bool *no)
{
	struct fuse_getxattr_in in = { 0 };
	struct fuse_getxattr_out so;
	struct fuse_req req;
	int err;

	if (__atomic_load_n(no, __ATOMIC_RELAXED))
		return -EOPNOTSUPP;
	if (size > XATTR_SIZE_MAX_)
		size = XATTR_SIZE_MAX_;
	in.size = (uint32_t)size;
	fuse_req_init(&req, opcode, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	if (name)
		fuse_req_in(&req, name, strlen(name) + 1);
	if (size) {
		fuse_req_out(&req, buf, size);
		req.out_min = 0;
	} else {
		fuse_req_out(&req, &so, sizeof(so));
	}
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS) {
		__atomic_store_n(no, true, __ATOMIC_RELAXED);
		return -EOPNOTSUPP;
	}
	if (err)
		return err;
	if (!size)
		return so.size > XATTR_SIZE_MAX_ ? -E2BIG : (ssize_t)so.size;
	return (ssize_t)req.out_len;
}

ssize_t fuse_op_getxattr(struct fuse_conn *c, const struct fuse_caller *who,
			 uint64_t nodeid, const char *name, void *buf,
			 size_t size)
{
	size_t n = strlen(name);

	if (n == 0 || n > XATTR_NAME_MAX_)
		return -ERANGE;
	return xattr_request(c, who, FUSE_GETXATTR, nodeid, name, buf, size,
			     &c->no_getxattr);
}

ssize_t fuse_op_listxattr(struct fuse_conn *c, const struct fuse_caller *who,
			  uint64_t nodeid, char *buf, size_t size)
{
	ssize_t n = xattr_request(c, who, FUSE_LISTXATTR, nodeid, NULL, buf,
				  size, &c->no_listxattr);

	if (n > 0 && size && fuse_xattr_list_check(buf, (size_t)n)) {
		fuse_log_bad(c, "bad reply to LISTXATTR: a name is empty or "
				"not NUL-terminated");
		return -EIO;
	}
	return n;
}

off_t fuse_op_lseek(struct fuse_conn *c, const struct fuse_caller *who,
		    uint64_t nodeid, uint64_t fh, off_t off, int whence)
{
	struct fuse_lseek_in in = { .fh = fh, .offset = (uint64_t)off,
				    .whence = (uint32_t)whence };
	struct fuse_lseek_out out;
	struct fuse_req req;
	int err;

	if (__atomic_load_n(&c->no_lseek, __ATOMIC_RELAXED))
		return -ENOSYS;
	fuse_req_init(&req, FUSE_LSEEK, nodeid, who);
	fuse_req_in(&req, &in, sizeof(in));
	fuse_req_out(&req, &out, sizeof(out));
	err = fuse_send_sync(c, &req);
	if (err == -ENOSYS)
		__atomic_store_n(&c->no_lseek, true, __ATOMIC_RELAXED);
	if (err)
		return err;
	if (out.offset > (uint64_t)INT64_MAX) {
		fuse_log_bad(c, "bad reply to LSEEK: offset %llu",
			     (unsigned long long)out.offset);
		return -EIO;
	}
	return (off_t)out.offset;
}

struct forget_req {
	struct fuse_req req;
	struct fuse_forget_in in;
};

void fuse_op_forget(struct fuse_conn *c, uint64_t nodeid, uint64_t nlookup)
{
	struct forget_req *r;

	if (nodeid == 0 || nlookup == 0)
		return;
	r = calloc(1, sizeof(*r));
	if (!r)
		return; /* the server keeps the node a little longer */
	fuse_req_init(&r->req, FUSE_FORGET, nodeid, NULL);
	r->in.nlookup = nlookup;
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	r->req.noreply = true;
	r->req.done = free_done;
	fuse_send_async(c, &r->req);
}

struct notify_reply_req {
	struct fuse_req req;
	struct fuse_notify_retrieve_in in;
	char data[];
};

void fuse_op_notify_reply(struct fuse_conn *c, uint64_t unique,
			  uint64_t nodeid, uint64_t offset, const void *data,
			  uint32_t size)
{
	struct notify_reply_req *r = calloc(1, sizeof(*r) + size);

	if (!r)
		return; /* the server's retrieve stays unanswered, as when
			 * Linux cannot allocate its reply */
	fuse_req_init(&r->req, FUSE_NOTIFY_REPLY, nodeid, NULL);
	/* The server's notify_unique; no-reply requests keep the unique
	 * they are given (conn.c numbers only those awaiting a reply). */
	r->req.in.unique = unique;
	r->in.offset = offset;
	r->in.size = size;
	memcpy(r->data, data, size);
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	if (size)
		fuse_req_in(&r->req, r->data, size);
	r->req.noreply = true;
	r->req.done = free_done;
	fuse_send_async(c, &r->req);
}

struct interrupt_req {
	struct fuse_req req;
	struct fuse_interrupt_in in;
};

void fuse_op_interrupt(struct fuse_conn *c, uint64_t unique)
{
	struct interrupt_req *r = calloc(1, sizeof(*r));

	if (!r)
		return;
	fuse_req_init(&r->req, FUSE_INTERRUPT, 0, NULL);
	r->in.unique = unique;
	r->req.interrupts = unique;
	fuse_req_in(&r->req, &r->in, sizeof(r->in));
	r->req.noreply = true;
	r->req.done = free_done;
	fuse_send_async(c, &r->req);
}

#define BATCH_FORGET_MAX 512

struct batch_forget_req {
	struct fuse_req req;
	struct fuse_batch_forget_in in;
	struct fuse_forget_one v[];
};

void fuse_op_forget_batch(struct fuse_conn *c,
			  const struct fuse_forget_one *v, size_t n)
{
	if (c->lim.minor < 16) {
		for (size_t i = 0; i < n; i++)
			fuse_op_forget(c, v[i].nodeid, v[i].nlookup);
		return;
	}
	while (n) {
		size_t k = n < BATCH_FORGET_MAX ? n : BATCH_FORGET_MAX;
		struct batch_forget_req *r;

		if (k == 1) {
			fuse_op_forget(c, v->nodeid, v->nlookup);
			return;
		}
		r = calloc(1, sizeof(*r) + k * sizeof(r->v[0]));
		if (!r)
			return;
		fuse_req_init(&r->req, FUSE_BATCH_FORGET, 0, NULL);
		r->in.count = (uint32_t)k;
		memcpy(r->v, v, k * sizeof(r->v[0]));
		fuse_req_in(&r->req, &r->in, sizeof(r->in));
		fuse_req_in(&r->req, r->v, k * sizeof(r->v[0]));
		r->req.noreply = true;
		r->req.done = free_done;
		fuse_send_async(c, &r->req);
		v += k;
		n -= k;
	}
}

struct destroy_req {
	struct fuse_req req;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	bool done;
};

static void destroy_done(struct fuse_req *req)
{
	struct destroy_req *d = (struct destroy_req *)req;

	pthread_mutex_lock(&d->lock);
	d->done = true;
	pthread_cond_broadcast(&d->cv);
	pthread_mutex_unlock(&d->lock);
}

int fuse_op_destroy(struct fuse_conn *c, int timeout_ms)
{
	struct destroy_req *d = calloc(1, sizeof(*d));
	struct timespec until;
	int err = 0;

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cv, NULL);
	fuse_req_init(&d->req, FUSE_DESTROY, 0, NULL);
	d->req.done = destroy_done;
	fuse_send_async(c, &d->req);

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&d->lock);
	while (!d->done && err != ETIMEDOUT)
		err = pthread_cond_timedwait(&d->cv, &d->lock, &until);
	pthread_mutex_unlock(&d->lock);
	if (!d->done)
		fuse_conn_abort(c, -ECONNABORTED,
				"the server did not answer DESTROY in time");
	pthread_mutex_lock(&d->lock);
	while (!d->done)
		pthread_cond_wait(&d->cv, &d->lock);
	pthread_mutex_unlock(&d->lock);
	err = d->req.error;
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->lock);
	free(d);
	return err;
}
