/*
 * init.c - FUSE_INIT: what fusebox offers, and what it takes from the
 * server's answer, clamped as Linux clamps it.
 *
 * Requests made before INIT completes wait on conn->init_cv (conn.c); this
 * file moves the connection to READY, or to REFUSED with a sentence that
 * says why.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuse/conn.h"

#define PAGE_SZ 4096u
#define DEFAULT_MAX_PAGES 32u	/* 128 KiB, as Linux without MAX_PAGES */
#define DEFAULT_MAX_BACKGROUND 12u
#define DEFAULT_CONGESTION 9u
#define NAME_LOW_MAX 1024u
#define OFFERED_READAHEAD (128u * 1024)

/* Capabilities fusebox implements in this version. Others (splice,
 * ...) come with the features that use them and are not offered
 * before. */
static const uint64_t offered_flags =
	FUSE_ASYNC_READ | FUSE_EXPORT_SUPPORT | FUSE_BIG_WRITES |
	FUSE_AUTO_INVAL_DATA | FUSE_DO_READDIRPLUS | FUSE_READDIRPLUS_AUTO |
	FUSE_PARALLEL_DIROPS | FUSE_MAX_PAGES | FUSE_CACHE_SYMLINKS |
	FUSE_NO_OPEN_SUPPORT | FUSE_NO_OPENDIR_SUPPORT | FUSE_INIT_EXT |
	FUSE_ATOMIC_O_TRUNC | FUSE_POSIX_LOCKS | FUSE_FLOCK_LOCKS |
	/* The server applies the caller's umask, sent with each request
	 * that creates (fuse-overlayfs refuses INIT without this). */
	FUSE_DONT_MASK |
	/* INVAL_ENTRY may only expire an entry (notify.c). */
	FUSE_HAS_EXPIRE_ONLY |
	/* ioctl(2) on a directory goes to the server as IOCTL with
	 * FUSE_IOCTL_DIR (vfs/ioctl.c). Linux always offers this; libfuse
	 * answers such an IOCTL ENOTTY unless it was offered. */
	FUSE_HAS_IOCTL_DIR |
	/* The page cache is dropped only when the server says so (with
	 * AUTO_INVAL_DATA also taken, that one wins, as in Linux). */
	FUSE_EXPLICIT_INVAL_DATA |
	/* Writes land in the page cache and are written back later
	 * (vfs/writeback.c); a mount may decline to offer it. */
	FUSE_WRITEBACK_CACHE;

static uint64_t offered(const struct fuse_conn *c)
{
	return c->params.no_writeback
		       ? offered_flags & ~(uint64_t)FUSE_WRITEBACK_CACHE
		       : offered_flags;
}

/* Linux caps max_background for servers without CAP_SYS_ADMIN at
 * RAM / 8 KiB / 392 (the size of one request), at most 65535. */
static uint32_t user_bg_limit(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
	unsigned long long lim;

	if (pages <= 0 || psz <= 0)
		return 65535;
	lim = (unsigned long long)pages * (unsigned long long)psz / 8192 / 392;
	return lim > 65535 ? 65535 : lim < 1 ? 1 : (uint32_t)lim;
}

static void refuse(struct fuse_conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void refuse(struct fuse_conn *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->error_msg, sizeof(c->error_msg), fmt, ap);
	va_end(ap);
	c->state = CONN_REFUSED;
	fprintf(stderr, "fusebox: %s\n", c->error_msg);
}

/* With the lock held. */
static void settle(struct fuse_conn *c, const struct fuse_init_out *o,
		   size_t len)
{
	struct fuse_conn_limits *l = &c->lim;
	uint64_t srv;
	uint32_t bg_cap = user_bg_limit();

	l->major = o->major;
	l->minor = o->minor < FUSE_KERNEL_MINOR_VERSION ? o->minor
						       : FUSE_KERNEL_MINOR_VERSION;
	if (o->major != FUSE_KERNEL_VERSION) {
		refuse(c, "the server speaks FUSE protocol %u.%u; fusebox "
			  "speaks %u.%u",
		       o->major, o->minor, FUSE_KERNEL_VERSION,
		       FUSE_KERNEL_MINOR_VERSION);
		return;
	}
	if (l->minor < 9) {
		/* Before 7.9 entry and attr replies had other sizes; no
		 * maintained server speaks it. */
		refuse(c, "the server speaks FUSE protocol 7.%u; fusebox "
			  "needs 7.9 or newer",
		       o->minor);
		return;
	}
	if (len < 24) {
		refuse(c, "INIT reply of %zu bytes is too short for protocol "
			  "7.%u",
		       len, l->minor);
		return;
	}
	srv = o->flags;
	if (l->minor >= 36 && (o->flags & FUSE_INIT_EXT))
		srv |= (uint64_t)o->flags2 << 32;
	l->flags = srv & offered(c);
	if (l->minor < 9)
		l->flags &= ~(uint64_t)FUSE_EXPORT_SUPPORT;
	if (l->flags & FUSE_AUTO_INVAL_DATA)
		l->flags &= ~(uint64_t)FUSE_EXPLICIT_INVAL_DATA;

	l->max_readahead = o->max_readahead < OFFERED_READAHEAD
				   ? o->max_readahead
				   : OFFERED_READAHEAD;
	l->max_write = o->max_write > PAGE_SZ ? o->max_write : PAGE_SZ;
	l->max_pages = DEFAULT_MAX_PAGES;
	if (l->flags & FUSE_MAX_PAGES) {
		l->max_pages = o->max_pages ? o->max_pages : 1;
		if (l->max_pages > c->params.max_pages_limit)
			l->max_pages = c->params.max_pages_limit;
	}
	if (l->max_pages > c->params.max_pages_limit)
		l->max_pages = c->params.max_pages_limit;
	l->name_max = l->max_pages > 1 ? PATH_MAX - 1 : NAME_LOW_MAX;
	l->max_read = c->params.max_read ? c->params.max_read : UINT32_MAX;
	if (l->max_read < PAGE_SZ)
		l->max_read = PAGE_SZ;

	l->max_background = DEFAULT_MAX_BACKGROUND;
	l->congestion_threshold = DEFAULT_CONGESTION;
	if (l->minor >= 13) {
		if (o->max_background)
			l->max_background = o->max_background < bg_cap
						    ? o->max_background
						    : bg_cap;
		if (o->congestion_threshold)
			l->congestion_threshold =
				o->congestion_threshold < bg_cap
					? o->congestion_threshold
					: bg_cap;
	}
	l->time_gran = 1;
	if (l->minor >= 23 && o->time_gran && o->time_gran <= 1000000000)
		l->time_gran = o->time_gran;
	c->state = CONN_READY;
}

static void init_done(struct fuse_req *req)
{
	struct fuse_conn *c = req->priv;

	pthread_mutex_lock(&c->lock);
	if (c->state == CONN_INIT_WAIT) {
		if (req->error == -ECONNABORTED || req->error == -ENOTCONN) {
			snprintf(c->error_msg, sizeof(c->error_msg),
				 "the server closed its channel before "
				 "answering INIT");
			c->state = CONN_DEAD;
		} else if (req->error) {
			refuse(c, "the server answered INIT with error %d (%s)",
			       req->error, strerror(-req->error));
		} else {
			settle(c, &c->init_out, req->out_len);
		}
	}
	pthread_cond_broadcast(&c->init_cv);
	pthread_mutex_unlock(&c->lock);
	c->init_req = NULL;
	free(req);
	/* No kick here: this may run inside the transport's send path.
	 * Callers that waited for INIT queue and kick for themselves. */
}

void fuse_init_start(struct fuse_conn *c)
{
	struct fuse_req *req = calloc(1, sizeof(*req));
	struct fuse_caller me = { .uid = (uint32_t)getuid(),
				  .gid = (uint32_t)getgid(),
				  .pid = (uint32_t)getpid() };

	if (!req) {
		fuse_conn_abort(c, -ENOMEM, "out of memory starting INIT");
		return;
	}
	fuse_req_init(req, FUSE_INIT, 0, &me);
	c->init_in.major = FUSE_KERNEL_VERSION;
	c->init_in.minor = FUSE_KERNEL_MINOR_VERSION;
	c->init_in.max_readahead = OFFERED_READAHEAD;
	c->init_in.flags = (uint32_t)offered(c);
	c->init_in.flags2 = (uint32_t)(offered(c) >> 32);
	fuse_req_in(req, &c->init_in, sizeof(c->init_in));
	fuse_req_out(req, &c->init_out, sizeof(c->init_out));
	req->out_min = 8; /* a major/minor only answer is a valid refusal */
	req->before_init = true;
	req->done = init_done;
	req->priv = c;
	c->init_req = req;
	fuse_send_async(c, req);
}
