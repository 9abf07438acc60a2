/*
 * fakesrv.c - the scripted FUSE server behind tests that need a server to
 * misbehave on cue (see fakesrv.h).
 *
 * One thread reads requests; the handler and any test thread may send
 * replies. srv->lock guards the tree, the records, the parked requests,
 * the outstanding set and the counters; it is never held while the
 * handler runs. srv->send_lock guards the fd's life: replies are sent and
 * the fd is shut down and closed under it. Order: send_lock, then lock.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fakesrv.h"

#define MAX_XATTRS 4
#define RECV_CAP ((1u << 20) + 65536)

struct xattr {
	char name[64];
	unsigned char value[256];
	size_t len;
};

struct node {
	uint64_t id, parent;
	char name[256];
	mode_t mode;
	unsigned char *data;	/* NULL: pattern bytes */
	size_t size;
	uint64_t mtime;		/* [1700000000] */
	uint64_t lookups, forgets;
	struct xattr xattrs[MAX_XATTRS];
	int nxattr;
};

/* A parked request: req must stay first, fakesrv_req_free() relies on it. */
struct held {
	struct fakesrv_req req;
	unsigned char *msg;
	struct held *next;
};

struct fakesrv {
	pthread_mutex_t lock;
	pthread_cond_t changed;	/* records, parked requests, closed */
	struct fakesrv_cfg cfg;

	struct node *nodes;	/* nodeid = index + 1 */
	size_t nnodes, cap_nodes;
	uint64_t bad_forgets;
	uint64_t over_forgets;	/* FORGETs beyond the lookups handed out */

	struct fakesrv_rec *recs;
	size_t nrecs, cap_recs;

	struct held *held_head, *held_tail;
	int nheld;

	uint64_t *outstanding;	/* uniques received, not answered */
	int nout, cap_out, max_out;

	pthread_mutex_t send_lock;
	int fd;		/* -1 once the server thread closed it */
	bool started, closed;
	pthread_t thread;
	fakesrv_handler handler;
	void *handler_arg;
};

uint64_t fakesrv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void fakesrv_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fprintf(stderr, "fakesrv: out of memory\n");
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t size)
{
	p = realloc(p, size);
	if (!p) {
		fprintf(stderr, "fakesrv: out of memory\n");
		abort();
	}
	return p;
}

/* ---- the tree -------------------------------------------------------- */

static struct node *node_get(struct fakesrv *srv, uint64_t id)
{
	if (id == 0 || id > srv->nnodes)
		return NULL;
	return &srv->nodes[id - 1];
}

static struct node *node_child(struct fakesrv *srv, uint64_t parent,
			       const char *name)
{
	for (size_t i = 1; i < srv->nnodes; i++) {
		struct node *n = &srv->nodes[i];

		if (n->parent == parent && strcmp(n->name, name) == 0)
			return n;
	}
	return NULL;
}

static uint64_t node_new(struct fakesrv *srv, uint64_t parent,
			 const char *name, mode_t mode, const void *data,
			 size_t size)
{
	struct node *n;

	if (srv->nnodes == srv->cap_nodes) {
		srv->cap_nodes = srv->cap_nodes ? 2 * srv->cap_nodes : 64;
		srv->nodes = xrealloc(srv->nodes,
				      srv->cap_nodes * sizeof(*srv->nodes));
	}
	n = &srv->nodes[srv->nnodes++];
	memset(n, 0, sizeof(*n));
	n->id = srv->nnodes;
	n->parent = parent;
	snprintf(n->name, sizeof(n->name), "%s", name);
	n->mode = mode;
	n->size = size;
	if (data) {
		n->data = xcalloc(1, size);
		memcpy(n->data, data, size);
	}
	return n->id;
}

struct fakesrv *fakesrv_new(void)
{
	struct fakesrv *srv = xcalloc(1, sizeof(*srv));
	pthread_condattr_t ca;

	pthread_mutex_init(&srv->lock, NULL);
	pthread_mutex_init(&srv->send_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&srv->changed, &ca);
	pthread_condattr_destroy(&ca);
	srv->fd = -1;
	srv->cfg.major = FUSE_KERNEL_VERSION;
	srv->cfg.minor = 38;
	srv->cfg.init_flags = FUSE_ASYNC_READ | FUSE_BIG_WRITES |
			      FUSE_MAX_PAGES | FUSE_PARALLEL_DIROPS |
			      FUSE_INIT_EXT;
	srv->cfg.max_write = 131072;
	srv->cfg.max_pages = 32;
	srv->cfg.entry_valid_ms = 1000;
	srv->cfg.attr_valid_ms = 1000;
	node_new(srv, 0, "", S_IFDIR | 0755, NULL, 0);
	return srv;
}

struct fakesrv_cfg *fakesrv_cfg(struct fakesrv *srv)
{
	return &srv->cfg;
}

uint64_t fakesrv_add(struct fakesrv *srv, uint64_t parent, const char *name,
		     mode_t mode, const void *data, size_t size)
{
	uint64_t id;

	pthread_mutex_lock(&srv->lock);
	id = node_new(srv, parent, name, mode, data, size);
	pthread_mutex_unlock(&srv->lock);
	return id;
}

void fakesrv_set_file(struct fakesrv *srv, uint64_t nodeid,
		      const void *data, size_t size, uint64_t mtime)
{
	struct node *n;

	pthread_mutex_lock(&srv->lock);
	n = node_get(srv, nodeid);
	if (n) {
		free(n->data);
		n->data = NULL;
		if (data) {
			n->data = xcalloc(1, size ? size : 1);
			memcpy(n->data, data, size);
		}
		n->size = size;
		n->mtime = mtime;
	}
	pthread_mutex_unlock(&srv->lock);
}

void fakesrv_add_xattr(struct fakesrv *srv, uint64_t nodeid,
		       const char *name, const void *value, size_t len)
{
	struct node *n;

	pthread_mutex_lock(&srv->lock);
	n = node_get(srv, nodeid);
	if (n && n->nxattr < MAX_XATTRS && len <= sizeof(n->xattrs[0].value)) {
		struct xattr *x = &n->xattrs[n->nxattr++];

		snprintf(x->name, sizeof(x->name), "%s", name);
		memcpy(x->value, value, len);
		x->len = len;
	}
	pthread_mutex_unlock(&srv->lock);
}

unsigned char fakesrv_pattern(uint64_t nodeid, uint64_t off)
{
	return (unsigned char)((off * 7 + off / 251 + nodeid * 13) & 0xff);
}

/* ---- reply pieces ---------------------------------------------------- */

static void fill_attr(const struct node *n, struct fuse_attr *a)
{
	memset(a, 0, sizeof(*a));
	a->ino = n->id;
	a->size = n->size;
	a->blocks = (n->size + 511) / 512;
	a->atime = a->ctime = 1700000000;
	a->mtime = n->mtime ? n->mtime : 1700000000;
	a->mode = n->mode;
	a->nlink = S_ISDIR(n->mode) ? 2 : 1;
	a->uid = getuid();
	a->gid = getgid();
	a->blksize = 4096;
}

static void split_ms(uint64_t ms, uint64_t *sec, uint32_t *nsec)
{
	*sec = ms / 1000;
	*nsec = (uint32_t)(ms % 1000) * 1000000;
}

static void fill_entry(const struct fakesrv *srv, const struct node *n,
		       struct fuse_entry_out *e)
{
	memset(e, 0, sizeof(*e));
	e->nodeid = n->id;
	split_ms(srv->cfg.entry_valid_ms, &e->entry_valid,
		 &e->entry_valid_nsec);
	split_ms(srv->cfg.attr_valid_ms, &e->attr_valid, &e->attr_valid_nsec);
	fill_attr(n, &e->attr);
}

int fakesrv_attr(struct fakesrv *srv, uint64_t nodeid, struct fuse_attr *a)
{
	struct node *n;

	pthread_mutex_lock(&srv->lock);
	n = node_get(srv, nodeid);
	if (n)
		fill_attr(n, a);
	pthread_mutex_unlock(&srv->lock);
	return n ? 0 : -ENOENT;
}

int fakesrv_entry(struct fakesrv *srv, uint64_t nodeid,
		  struct fuse_entry_out *e)
{
	struct node *n;

	pthread_mutex_lock(&srv->lock);
	n = node_get(srv, nodeid);
	if (n)
		fill_entry(srv, n, e);
	pthread_mutex_unlock(&srv->lock);
	return n ? 0 : -ENOENT;
}

static void put_name(unsigned char *dst, const char *name, uint32_t namelen)
{
	size_t have = strlen(name);

	for (uint32_t i = 0; i < namelen; i++)
		dst[i] = i < have ? (unsigned char)name[i] : 'x';
}

size_t fakesrv_put_dirent(void *buf, size_t cap, size_t pos, uint64_t ino,
			  uint64_t off, uint32_t type, const char *name,
			  uint32_t namelen)
{
	size_t rec = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET + (size_t)namelen);
	unsigned char *p = (unsigned char *)buf + pos;
	struct fuse_dirent d = { .ino = ino, .off = off, .namelen = namelen,
				 .type = type };

	if (pos + rec > cap)
		return 0;
	memset(p, 0, rec);
	memcpy(p, &d, FUSE_NAME_OFFSET);
	put_name(p + FUSE_NAME_OFFSET, name, namelen);
	return pos + rec;
}

size_t fakesrv_put_direntplus(void *buf, size_t cap, size_t pos,
			      const struct fuse_entry_out *e, uint64_t off,
			      uint32_t type, const char *name,
			      uint32_t namelen)
{
	size_t rec = FUSE_DIRENT_ALIGN(FUSE_NAME_OFFSET_DIRENTPLUS +
				       (size_t)namelen);
	unsigned char *p = (unsigned char *)buf + pos;
	struct fuse_dirent d = { .ino = e->attr.ino, .off = off,
				 .namelen = namelen, .type = type };

	if (pos + rec > cap)
		return 0;
	memset(p, 0, rec);
	memcpy(p, e, sizeof(*e));
	memcpy(p + sizeof(*e), &d, FUSE_NAME_OFFSET);
	put_name(p + FUSE_NAME_OFFSET_DIRENTPLUS, name, namelen);
	return pos + rec;
}

/* ---- default replies ------------------------------------------------- */

static size_t build_init(struct fakesrv *srv, const struct fakesrv_req *r,
			 struct fuse_init_out *o)
{
	struct fuse_init_in in;
	uint64_t offered;

	memset(&in, 0, sizeof(in));
	memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen : sizeof(in));
	offered = in.flags;
	if (in.flags & FUSE_INIT_EXT)
		offered |= (uint64_t)in.flags2 << 32;
	memset(o, 0, sizeof(*o));
	o->major = srv->cfg.major;
	o->minor = in.minor < srv->cfg.minor ? in.minor : srv->cfg.minor;
	o->max_readahead = in.max_readahead;
	offered &= srv->cfg.init_flags;
	o->flags = (uint32_t)offered;
	o->flags2 = (uint32_t)(offered >> 32);
	o->max_background = 12;
	o->congestion_threshold = 9;
	o->max_write = srv->cfg.max_write;
	o->time_gran = 1;
	o->max_pages = srv->cfg.max_pages;
	return sizeof(*o);
}

static unsigned dtype(mode_t mode)
{
	return (mode & S_IFMT) >> 12;
}

/* Entry i of a directory listing: ".", "..", then the children. */
static bool dir_entry(struct fakesrv *srv, struct node *dir, uint64_t i,
		      struct node **child, const char **name)
{
	uint64_t k = 2;

	*child = NULL;
	if (i == 0) {
		*name = ".";
		return true;
	}
	if (i == 1) {
		*name = "..";
		return true;
	}
	for (size_t j = 1; j < srv->nnodes; j++) {
		if (srv->nodes[j].parent != dir->id)
			continue;
		if (k++ == i) {
			*child = &srv->nodes[j];
			*name = (*child)->name;
			return true;
		}
	}
	return false;
}

static ssize_t build_readdir(struct fakesrv *srv, const struct fakesrv_req *r,
			     struct node *dir, unsigned char *p, size_t cap,
			     bool plus, bool commit)
{
	size_t pos = 0, limit = r->size < cap ? r->size : cap;
	struct node *child;
	const char *name;

	if (!S_ISDIR(dir->mode))
		return -ENOTDIR;
	for (uint64_t i = r->offset; dir_entry(srv, dir, i, &child, &name);
	     i++) {
		uint32_t len = (uint32_t)strlen(name);
		uint64_t ino = child ? child->id : dir->id;
		unsigned type = child ? dtype(child->mode) : DT_DIR;
		size_t next;

		if (plus) {
			struct fuse_entry_out e;

			memset(&e, 0, sizeof(e));
			if (child)
				fill_entry(srv, child, &e);
			else
				e.attr.ino = ino;
			next = fakesrv_put_direntplus(p, limit, pos, &e, i + 1,
						      type, name, len);
			if (next && child && commit)
				child->lookups++;
		} else {
			next = fakesrv_put_dirent(p, limit, pos, ino, i + 1,
						  type, name, len);
		}
		if (!next)
			break;
		pos = next;
	}
	return (ssize_t)pos;
}

static ssize_t build_xattr(const struct fakesrv_req *r, struct node *n,
			   unsigned char *p, size_t cap)
{
	unsigned char list[MAX_XATTRS * 64];
	const unsigned char *val = NULL;
	size_t len = 0;

	if (r->h.opcode == FUSE_GETXATTR) {
		for (int i = 0; i < n->nxattr; i++) {
			if (r->name && strcmp(n->xattrs[i].name, r->name) == 0) {
				val = n->xattrs[i].value;
				len = n->xattrs[i].len;
				break;
			}
		}
		if (!val)
			return -ENODATA;
	} else {
		for (int i = 0; i < n->nxattr; i++) {
			size_t l = strlen(n->xattrs[i].name) + 1;

			memcpy(list + len, n->xattrs[i].name, l);
			len += l;
		}
		val = list;
	}
	if (r->size == 0) {
		struct fuse_getxattr_out o = { .size = (uint32_t)len };

		memcpy(p, &o, sizeof(o));
		return sizeof(o);
	}
	if (r->size < len)
		return -ERANGE;
	if (len > cap)
		return -ENOSPC;
	memcpy(p, val, len);
	return (ssize_t)len;
}

/* The payload of the default reply at p, or a negative errno to send as
 * the error. Called with the lock held. */
static ssize_t build_payload(struct fakesrv *srv, const struct fakesrv_req *r,
			     unsigned char *p, size_t cap, bool commit)
{
	struct node *n = node_get(srv, r->h.nodeid), *c;

	switch (r->h.opcode) {
	case FUSE_INIT:
		if (cap < sizeof(struct fuse_init_out))
			return -ENOSPC;
		return (ssize_t)build_init(srv, r, (struct fuse_init_out *)p);
	case FUSE_DESTROY:
	case FUSE_ACCESS:
	case FUSE_FLUSH:
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FSYNC:
	case FUSE_FSYNCDIR:
		return 0;
	case FUSE_STATFS: {
		struct fuse_statfs_out o;

		memset(&o, 0, sizeof(o));
		o.st.blocks = 1000;
		o.st.bfree = 500;
		o.st.bavail = 400;
		o.st.files = 100;
		o.st.ffree = 50;
		o.st.bsize = 4096;
		o.st.namelen = 255;
		o.st.frsize = 4096;
		memcpy(p, &o, sizeof(o));
		return sizeof(o);
	}
	}
	if (!n)
		return -ENOENT;
	switch (r->h.opcode) {
	case FUSE_LOOKUP: {
		struct fuse_entry_out e;

		if (!S_ISDIR(n->mode))
			return -ENOTDIR;
		c = r->name ? node_child(srv, n->id, r->name) : NULL;
		if (c) {
			fill_entry(srv, c, &e);
			if (commit)
				c->lookups++;
		} else if (srv->cfg.neg_entry) {
			memset(&e, 0, sizeof(e));
			split_ms(srv->cfg.neg_valid_ms, &e.entry_valid,
				 &e.entry_valid_nsec);
		} else {
			return -ENOENT;
		}
		memcpy(p, &e, sizeof(e));
		return sizeof(e);
	}
	case FUSE_GETATTR: {
		struct fuse_attr_out o;

		memset(&o, 0, sizeof(o));
		split_ms(srv->cfg.attr_valid_ms, &o.attr_valid,
			 &o.attr_valid_nsec);
		fill_attr(n, &o.attr);
		memcpy(p, &o, sizeof(o));
		return sizeof(o);
	}
	case FUSE_OPEN:
	case FUSE_OPENDIR: {
		struct fuse_open_out o;

		memset(&o, 0, sizeof(o));
		if ((r->h.opcode == FUSE_OPENDIR) != !!S_ISDIR(n->mode))
			return S_ISDIR(n->mode) ? -EISDIR : -ENOTDIR;
		o.fh = (r->h.opcode == FUSE_OPEN ? 0x1000 : 0x2000) + n->id;
		if (r->h.opcode == FUSE_OPEN)
			o.open_flags = srv->cfg.open_flags;
		memcpy(p, &o, sizeof(o));
		return sizeof(o);
	}
	case FUSE_READ: {
		size_t len = 0;

		if (!S_ISREG(n->mode))
			return -EISDIR;
		if (r->offset < n->size)
			len = n->size - r->offset;
		if (len > r->size)
			len = r->size;
		if (len > cap)
			return -ENOSPC;
		for (size_t i = 0; i < len; i++)
			p[i] = n->data ? n->data[r->offset + i]
				       : fakesrv_pattern(n->id, r->offset + i);
		return (ssize_t)len;
	}
	case FUSE_READDIR:
	case FUSE_READDIRPLUS:
		return build_readdir(srv, r, n, p, cap,
				     r->h.opcode == FUSE_READDIRPLUS, commit);
	case FUSE_READLINK:
		if (!S_ISLNK(n->mode))
			return -EINVAL;
		if (n->size > cap)
			return -ENOSPC;
		memcpy(p, n->data, n->size);
		return (ssize_t)n->size;
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR:
		return build_xattr(r, n, p, cap);
	}
	return -ENOSYS;
}

static bool wants_reply(uint32_t opcode)
{
	return opcode != FUSE_FORGET && opcode != FUSE_BATCH_FORGET &&
	       opcode != FUSE_INTERRUPT && opcode != FUSE_NOTIFY_REPLY;
}

static ssize_t build_locked(struct fakesrv *srv, const struct fakesrv_req *r,
			    void *buf, size_t cap, bool commit)
{
	struct fuse_out_header oh = { .unique = r->h.unique };
	ssize_t n;

	if (!wants_reply(r->h.opcode))
		return 0;
	if (cap < sizeof(oh))
		return -ENOSPC;
	n = build_payload(srv, r, (unsigned char *)buf + sizeof(oh),
			  cap - sizeof(oh), commit);
	if (n == -ENOSPC)
		return n;
	if (n < 0) {
		oh.error = (int32_t)n;
		n = 0;
	}
	oh.len = (uint32_t)(sizeof(oh) + (size_t)n);
	memcpy(buf, &oh, sizeof(oh));
	return (ssize_t)oh.len;
}

ssize_t fakesrv_build_reply(struct fakesrv *srv, const struct fakesrv_req *req,
			    void *buf, size_t cap)
{
	ssize_t n;

	pthread_mutex_lock(&srv->lock);
	n = build_locked(srv, req, buf, cap, false);
	pthread_mutex_unlock(&srv->lock);
	return n;
}

/* ---- sending --------------------------------------------------------- */

static void outstanding_drop(struct fakesrv *srv, uint64_t unique)
{
	for (int i = 0; i < srv->nout; i++) {
		if (srv->outstanding[i] == unique) {
			srv->outstanding[i] = srv->outstanding[--srv->nout];
			return;
		}
	}
}

static void outstanding_add(struct fakesrv *srv, uint64_t unique)
{
	if (srv->nout == srv->cap_out) {
		srv->cap_out = srv->cap_out ? 2 * srv->cap_out : 64;
		srv->outstanding = xrealloc(srv->outstanding,
					    (size_t)srv->cap_out * 8);
	}
	srv->outstanding[srv->nout++] = unique;
	if (srv->nout > srv->max_out)
		srv->max_out = srv->nout;
}

int fakesrv_reply_raw(struct fakesrv *srv, const void *msg, size_t len)
{
	struct fuse_out_header oh;
	ssize_t n = -1;
	int err = EPIPE;

	pthread_mutex_lock(&srv->send_lock);
	/* The unique leaves the outstanding set before the reply goes out:
	 * the client cannot send its next request before it reads this. */
	if (len >= sizeof(oh)) {
		memcpy(&oh, msg, sizeof(oh));
		pthread_mutex_lock(&srv->lock);
		outstanding_drop(srv, oh.unique);
		pthread_mutex_unlock(&srv->lock);
	}
	if (srv->fd >= 0) {
		n = send(srv->fd, msg, len, MSG_NOSIGNAL);
		err = errno;
	}
	pthread_mutex_unlock(&srv->send_lock);
	if (n < 0)
		return -err;
	return n == (ssize_t)len ? 0 : -EMSGSIZE;
}

int fakesrv_reply(struct fakesrv *srv, uint64_t unique, int error,
		  const void *payload, size_t len)
{
	struct fuse_out_header oh = { .len = (uint32_t)(sizeof(oh) + len),
				      .error = error,
				      .unique = unique };
	unsigned char *msg = xcalloc(1, sizeof(oh) + len);
	int err;

	memcpy(msg, &oh, sizeof(oh));
	if (len)
		memcpy(msg + sizeof(oh), payload, len);
	err = fakesrv_reply_raw(srv, msg, sizeof(oh) + len);
	free(msg);
	return err;
}

int fakesrv_reply_default(struct fakesrv *srv, const struct fakesrv_req *req)
{
	size_t cap = 65536 + (size_t)req->size;
	unsigned char *buf = xcalloc(1, cap);
	ssize_t n;
	int err = 0;

	pthread_mutex_lock(&srv->lock);
	n = build_locked(srv, req, buf, cap, true);
	pthread_mutex_unlock(&srv->lock);
	if (n > 0)
		err = fakesrv_reply_raw(srv, buf, (size_t)n);
	else if (n < 0)
		err = (int)n;
	free(buf);
	return err;
}

/* ---- receiving ------------------------------------------------------- */

static void parse_req(struct fakesrv_req *r, const unsigned char *msg,
		      size_t n)
{
	memset(r, 0, sizeof(*r));
	memcpy(&r->h, msg, n < sizeof(r->h) ? n : sizeof(r->h));
	if (n <= sizeof(r->h))
		return;
	r->arg = msg + sizeof(r->h);
	r->arglen = n - sizeof(r->h);
	switch (r->h.opcode) {
	case FUSE_LOOKUP:
		r->name = (const char *)r->arg;
		break;
	case FUSE_READ:
	case FUSE_READDIR:
	case FUSE_READDIRPLUS: {
		struct fuse_read_in in;

		if (r->arglen >= sizeof(in)) {
			memcpy(&in, r->arg, sizeof(in));
			r->fh = in.fh;
			r->offset = in.offset;
			r->size = in.size;
		}
		break;
	}
	case FUSE_RELEASE:
	case FUSE_RELEASEDIR:
	case FUSE_FLUSH:
		if (r->arglen >= 8)
			memcpy(&r->fh, r->arg, 8);
		break;
	case FUSE_GETATTR: {
		struct fuse_getattr_in in;

		if (r->arglen >= sizeof(in)) {
			memcpy(&in, r->arg, sizeof(in));
			r->fh = in.fh;
		}
		break;
	}
	case FUSE_GETXATTR:
	case FUSE_LISTXATTR: {
		struct fuse_getxattr_in in;

		if (r->arglen >= sizeof(in)) {
			memcpy(&in, r->arg, sizeof(in));
			r->size = in.size;
		}
		if (r->h.opcode == FUSE_GETXATTR && r->arglen > sizeof(in))
			r->name = (const char *)r->arg + sizeof(in);
		break;
	}
	}
}

static struct fakesrv_rec *rec_new(struct fakesrv *srv,
				   const struct fakesrv_req *r)
{
	struct fakesrv_rec *rec;

	if (srv->nrecs == srv->cap_recs) {
		srv->cap_recs = srv->cap_recs ? 2 * srv->cap_recs : 256;
		srv->recs = xrealloc(srv->recs,
				     srv->cap_recs * sizeof(*srv->recs));
	}
	rec = &srv->recs[srv->nrecs++];
	memset(rec, 0, sizeof(*rec));
	rec->opcode = r->h.opcode;
	rec->nodeid = r->h.nodeid;
	rec->unique = r->h.unique;
	rec->offset = r->offset;
	rec->fh = r->fh;
	rec->size = r->size;
	if (r->name)
		snprintf(rec->name, sizeof(rec->name), "%s", r->name);
	return rec;
}

static void count_forget(struct fakesrv *srv, uint64_t nodeid,
			 uint64_t nlookup)
{
	struct node *n = node_get(srv, nodeid);

	if (!n) {
		srv->bad_forgets += nlookup;
		return;
	}
	n->forgets += nlookup;
	/* The root's lookup count starts at 1, as the kernel's does. */
	if (n->forgets > n->lookups + (nodeid == FUSE_ROOT_ID)) {
		fprintf(stderr, "fakesrv: node %llu forgotten %llu times, "
				"looked up %llu times\n",
			(unsigned long long)nodeid,
			(unsigned long long)n->forgets,
			(unsigned long long)n->lookups);
		srv->over_forgets++;
	}
	if (nlookup == 0) {
		fprintf(stderr, "fakesrv: FORGET of node %llu with nlookup 0\n",
			(unsigned long long)nodeid);
		srv->over_forgets++;
	}
}

static void record(struct fakesrv *srv, const struct fakesrv_req *r)
{
	pthread_mutex_lock(&srv->lock);
	if (r->h.opcode == FUSE_FORGET) {
		struct fuse_forget_in in = { 0 };

		if (r->arglen >= sizeof(in))
			memcpy(&in, r->arg, sizeof(in));
		rec_new(srv, r)->nlookup = in.nlookup;
		count_forget(srv, r->h.nodeid, in.nlookup);
	} else if (r->h.opcode == FUSE_BATCH_FORGET) {
		struct fuse_batch_forget_in in = { 0 };
		struct fuse_forget_one one;
		size_t room;

		if (r->arglen >= sizeof(in))
			memcpy(&in, r->arg, sizeof(in));
		room = (r->arglen - (r->arglen >= sizeof(in) ? sizeof(in)
							     : r->arglen)) /
		       sizeof(one);
		if (in.count > room) {
			fprintf(stderr, "fakesrv: BATCH_FORGET count %u, "
					"room for %zu\n", in.count, room);
			srv->bad_forgets++;
		}
		for (uint32_t i = 0; i < in.count && i < room; i++) {
			struct fakesrv_rec *rec = rec_new(srv, r);

			memcpy(&one, r->arg + sizeof(in) + i * sizeof(one),
			       sizeof(one));
			rec->nodeid = one.nodeid;
			rec->nlookup = one.nlookup;
			count_forget(srv, one.nodeid, one.nlookup);
		}
	} else {
		rec_new(srv, r);
	}
	if (wants_reply(r->h.opcode))
		outstanding_add(srv, r->h.unique);
	pthread_cond_broadcast(&srv->changed);
	pthread_mutex_unlock(&srv->lock);
}

static void hold(struct fakesrv *srv, const unsigned char *msg, size_t n)
{
	struct held *h = xcalloc(1, sizeof(*h));

	h->msg = xcalloc(1, n + 1);
	memcpy(h->msg, msg, n);
	parse_req(&h->req, h->msg, n);
	pthread_mutex_lock(&srv->lock);
	if (srv->held_tail)
		srv->held_tail->next = h;
	else
		srv->held_head = h;
	srv->held_tail = h;
	srv->nheld++;
	pthread_cond_broadcast(&srv->changed);
	pthread_mutex_unlock(&srv->lock);
}

static void *server_thread(void *arg)
{
	struct fakesrv *srv = arg;
	/* One spare byte keeps names NUL-terminated. */
	unsigned char *buf = xcalloc(1, RECV_CAP + 1);

	for (;;) {
		struct fakesrv_req r;
		enum fakesrv_action act = FAKESRV_DEFAULT;
		ssize_t n = recv(srv->fd, buf, RECV_CAP, MSG_TRUNC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if ((size_t)n > RECV_CAP) {
			fprintf(stderr, "fakesrv: request of %zd bytes cut\n",
				n);
			n = RECV_CAP;
		}
		buf[n] = 0;
		parse_req(&r, buf, (size_t)n);
		record(srv, &r);
		if (srv->handler)
			act = srv->handler(srv, &r, srv->handler_arg);
		if (act == FAKESRV_DEFAULT)
			fakesrv_reply_default(srv, &r);
		else if (act == FAKESRV_HOLD)
			hold(srv, buf, (size_t)n);
	}
	free(buf);
	/* Really close it, as a dying server would. */
	pthread_mutex_lock(&srv->send_lock);
	close(srv->fd);
	srv->fd = -1;
	pthread_mutex_unlock(&srv->send_lock);
	pthread_mutex_lock(&srv->lock);
	srv->closed = true;
	pthread_cond_broadcast(&srv->changed);
	pthread_mutex_unlock(&srv->lock);
	return NULL;
}

int fakesrv_start(struct fakesrv *srv, fakesrv_handler h, void *arg,
		  int *client_fd)
{
	int sv[2], size = 4 << 20, err;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	/* Room for 1 MiB replies; the forced variant needs root. */
	if (setsockopt(sv[0], SOL_SOCKET, SO_SNDBUFFORCE, &size,
		       sizeof(size)) < 0)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	srv->fd = sv[0];
	srv->handler = h;
	srv->handler_arg = arg;
	err = pthread_create(&srv->thread, NULL, server_thread, srv);
	if (err) {
		close(sv[0]);
		close(sv[1]);
		srv->fd = -1;
		return -err;
	}
	srv->started = true;
	*client_fd = sv[1];
	return 0;
}

int fakesrv_mount(struct fakesrv *srv, fakesrv_handler h, void *arg,
		  const struct fb_options *opts, struct fb_fs **fs)
{
	int fd, err = fakesrv_start(srv, h, arg, &fd);

	if (err)
		return err;
	return fb_mount(fd, opts, fs);
}

void fakesrv_close(struct fakesrv *srv)
{
	/* The server thread wakes up with end of file and closes the fd. */
	pthread_mutex_lock(&srv->send_lock);
	if (srv->fd >= 0)
		shutdown(srv->fd, SHUT_RDWR);
	pthread_mutex_unlock(&srv->send_lock);
}

static void held_free(struct held *h)
{
	free(h->msg);
	free(h);
}

void fakesrv_free(struct fakesrv *srv)
{
	struct held *h;

	if (!srv)
		return;
	fakesrv_close(srv);
	if (srv->started)
		pthread_join(srv->thread, NULL);
	if (srv->fd >= 0)
		close(srv->fd);
	while ((h = srv->held_head)) {
		srv->held_head = h->next;
		held_free(h);
	}
	for (size_t i = 0; i < srv->nnodes; i++)
		free(srv->nodes[i].data);
	free(srv->nodes);
	free(srv->recs);
	free(srv->outstanding);
	pthread_cond_destroy(&srv->changed);
	pthread_mutex_destroy(&srv->send_lock);
	pthread_mutex_destroy(&srv->lock);
	free(srv);
}

/* ---- parked requests ------------------------------------------------- */

static void deadline(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int fakesrv_nheld(struct fakesrv *srv)
{
	int n;

	pthread_mutex_lock(&srv->lock);
	n = srv->nheld;
	pthread_mutex_unlock(&srv->lock);
	return n;
}

int fakesrv_wait_held(struct fakesrv *srv, int n, int timeout_ms)
{
	struct timespec ts;
	int err = 0;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&srv->lock);
	while (srv->nheld < n && err == 0)
		err = pthread_cond_timedwait(&srv->changed, &srv->lock, &ts);
	err = srv->nheld >= n ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&srv->lock);
	return err;
}

static struct held *unlink_held(struct fakesrv *srv, uint64_t unique)
{
	struct held **p;

	for (p = &srv->held_head; *p; p = &(*p)->next) {
		struct held *h = *p;

		if (unique && h->req.h.unique != unique)
			continue;
		*p = h->next;
		if (srv->held_tail == h) {
			srv->held_tail = NULL;
			for (struct held *t = srv->held_head; t; t = t->next)
				srv->held_tail = t;
		}
		h->next = NULL;
		srv->nheld--;
		return h;
	}
	return NULL;
}

int fakesrv_release(struct fakesrv *srv, uint64_t unique)
{
	int count = 0;

	for (;;) {
		struct held *h;

		pthread_mutex_lock(&srv->lock);
		h = unlink_held(srv, unique);
		pthread_mutex_unlock(&srv->lock);
		if (!h)
			break;
		fakesrv_reply_default(srv, &h->req);
		held_free(h);
		count++;
		if (unique)
			break;
	}
	return count;
}

struct fakesrv_req *fakesrv_take_held(struct fakesrv *srv)
{
	struct held *h;

	pthread_mutex_lock(&srv->lock);
	h = unlink_held(srv, 0);
	pthread_mutex_unlock(&srv->lock);
	return h ? &h->req : NULL;
}

void fakesrv_req_free(struct fakesrv_req *req)
{
	if (req)
		held_free((struct held *)req);
}

/* ---- records --------------------------------------------------------- */

static bool rec_match(const struct fakesrv_rec *rec, uint32_t opcode,
		      uint64_t nodeid, const char *name)
{
	return (!opcode || rec->opcode == opcode) &&
	       (!nodeid || rec->nodeid == nodeid) &&
	       (!name || strcmp(rec->name, name) == 0);
}

int fakesrv_count(struct fakesrv *srv, uint32_t opcode, uint64_t nodeid,
		  const char *name)
{
	int n = 0;

	pthread_mutex_lock(&srv->lock);
	for (size_t i = 0; i < srv->nrecs; i++)
		n += rec_match(&srv->recs[i], opcode, nodeid, name);
	pthread_mutex_unlock(&srv->lock);
	return n;
}

int fakesrv_wait_count(struct fakesrv *srv, uint32_t opcode, int n,
		       int timeout_ms)
{
	struct timespec ts;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&srv->lock);
	for (;;) {
		int have = 0;

		for (size_t i = 0; i < srv->nrecs; i++)
			have += rec_match(&srv->recs[i], opcode, 0, NULL);
		if (have >= n)
			break;
		if (pthread_cond_timedwait(&srv->changed, &srv->lock, &ts)) {
			pthread_mutex_unlock(&srv->lock);
			return -ETIMEDOUT;
		}
	}
	pthread_mutex_unlock(&srv->lock);
	return 0;
}

size_t fakesrv_records(struct fakesrv *srv, struct fakesrv_rec **out)
{
	size_t n;

	pthread_mutex_lock(&srv->lock);
	n = srv->nrecs;
	*out = xcalloc(n, sizeof(**out));
	if (n)
		memcpy(*out, srv->recs, n * sizeof(**out));
	pthread_mutex_unlock(&srv->lock);
	return n;
}

uint64_t fakesrv_lookups(struct fakesrv *srv, uint64_t nodeid)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = node_get(srv, nodeid) ? node_get(srv, nodeid)->lookups : 0;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

void fakesrv_note_lookup(struct fakesrv *srv, uint64_t nodeid, uint64_t n)
{
	struct node *node;

	pthread_mutex_lock(&srv->lock);
	node = node_get(srv, nodeid);
	if (node)
		node->lookups += n;
	pthread_mutex_unlock(&srv->lock);
}

uint64_t fakesrv_forgets(struct fakesrv *srv, uint64_t nodeid)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = node_get(srv, nodeid) ? node_get(srv, nodeid)->forgets : 0;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

uint64_t fakesrv_bad_forgets(struct fakesrv *srv)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = srv->bad_forgets;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

uint64_t fakesrv_over_forgets(struct fakesrv *srv)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = srv->over_forgets;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

uint64_t fakesrv_max_nodeid(struct fakesrv *srv)
{
	uint64_t v;

	pthread_mutex_lock(&srv->lock);
	v = srv->nnodes;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

int fakesrv_outstanding(struct fakesrv *srv)
{
	int v;

	pthread_mutex_lock(&srv->lock);
	v = srv->nout;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

int fakesrv_max_outstanding(struct fakesrv *srv)
{
	int v;

	pthread_mutex_lock(&srv->lock);
	v = srv->max_out;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

bool fakesrv_closed(struct fakesrv *srv)
{
	bool v;

	pthread_mutex_lock(&srv->lock);
	v = srv->closed;
	pthread_mutex_unlock(&srv->lock);
	return v;
}

int fakesrv_wait_closed(struct fakesrv *srv, int timeout_ms)
{
	struct timespec ts;
	int err = 0;

	deadline(&ts, timeout_ms);
	pthread_mutex_lock(&srv->lock);
	while (!srv->closed && err == 0)
		err = pthread_cond_timedwait(&srv->changed, &srv->lock, &ts);
	err = srv->closed ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&srv->lock);
	return err;
}

static const char *const op_names[] = {
	[FUSE_LOOKUP] = "LOOKUP",	[FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",	[FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",	[FUSE_OPEN] = "OPEN",
	[FUSE_READ] = "READ",		[FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",	[FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR", [FUSE_FLUSH] = "FLUSH",
	[FUSE_INIT] = "INIT",		[FUSE_OPENDIR] = "OPENDIR",
	[FUSE_READDIR] = "READDIR",	[FUSE_RELEASEDIR] = "RELEASEDIR",
	[FUSE_ACCESS] = "ACCESS",	[FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_DESTROY] = "DESTROY",	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_READDIRPLUS] = "READDIRPLUS", [FUSE_LSEEK] = "LSEEK",
};

const char *fakesrv_opname(uint32_t opcode)
{
	if (opcode < sizeof(op_names) / sizeof(op_names[0]) &&
	    op_names[opcode])
		return op_names[opcode];
	return "?";
}

/* ---- case runner ----------------------------------------------------- */

static const char *current_case;

static void on_alarm(int sig)
{
	static const char msg[] = "fakesrv: watchdog: the case hung: ";
	ssize_t r;

	(void)sig;
	r = write(2, msg, sizeof(msg) - 1);
	if (current_case)
		r = write(2, current_case, strlen(current_case));
	r = write(2, "\n", 1);
	(void)r;
	_exit(3);
}

int fakesrv_main(const struct fakesrv_case *cases, size_t n, int argc,
		 char **argv, unsigned timeout_s)
{
	if (argc == 2 && strcmp(argv[1], "--list") == 0) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", cases[i].name);
		return 0;
	}
	if (argc != 2) {
		fprintf(stderr, "usage: %s --list | CASE\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		int rc;

		if (strcmp(argv[1], cases[i].name) != 0)
			continue;
		current_case = cases[i].name;
		signal(SIGALRM, on_alarm);
		signal(SIGPIPE, SIG_IGN);
		alarm(timeout_s);
		rc = cases[i].fn();
		alarm(0);
		printf("%s: %s\n", cases[i].name,
		       rc == 0 ? "pass" : rc == FS_SKIP ? "skip" : "FAIL");
		fflush(stdout);
		return rc;
	}
	fprintf(stderr, "%s: no case %s\n", argv[0], argv[1]);
	return 2;
}
