/*
 * test_writeback.c - writeback caching (FUSE_WRITEBACK_CACHE) against a
 * scripted server that keeps the bytes WRITE gives it, records each
 * WRITE's flags and the order of WRITE, FSYNC, FLUSH and SETATTR, and can
 * fail or hold WRITEs: writes coalesce and wait for fsync or close, go
 * with FUSE_WRITE_CACHE before FSYNC and FLUSH, a failed WRITE is
 * reported once, a dirty limit and a truncation write back, eviction
 * never drops dirty data nor waits for a hung server, a GETATTR does not
 * shrink a file with dirty data, and the offer can be turned off.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

#define BLK (128 * 1024)
#define MAX_OPS 4096

struct ctx {
	struct fakesrv *srv;
	struct fb_fs *fs;
	uint64_t a, b;		/* "a" is written, "b" only read */
	pthread_mutex_t lock;
	unsigned char *data;	/* a's bytes on the server */
	size_t size;
	int fail_writes;	/* -errno for every WRITE, or 0 */
	bool hold_writes;	/* park WRITEs (answered by hand) */
	unsigned writes, cache_flagged, write_bytes;
	uint32_t ops[MAX_OPS];	/* WRITE/FSYNC/FLUSH/SETATTR of a, in order */
	unsigned n_ops;
};

static void note(struct ctx *c, uint32_t op)
{
	if (c->n_ops < MAX_OPS)
		c->ops[c->n_ops++] = op;
}

/* Applies a WRITE to a's bytes; the reply's size. */
static uint32_t apply_write(struct ctx *c, const struct fakesrv_req *req)
{
	struct fuse_write_in in;

	memcpy(&in, req->arg, sizeof(in));
	pthread_mutex_lock(&c->lock);
	if (in.offset + in.size > c->size) {
		c->data = realloc(c->data, in.offset + in.size);
		memset(c->data + c->size, 0, in.offset + in.size - c->size);
		c->size = in.offset + in.size;
	}
	memcpy(c->data + in.offset, req->arg + sizeof(in), in.size);
	fakesrv_set_file(c->srv, c->a, c->data, c->size, 0);
	pthread_mutex_unlock(&c->lock);
	return in.size;
}

static void reply_write(struct ctx *c, const struct fakesrv_req *req)
{
	struct fuse_write_out out = { .size = apply_write(c, req) };

	fakesrv_reply(c->srv, req->h.unique, 0, &out, sizeof(out));
}

static enum fakesrv_action answer(struct fakesrv *srv,
				  const struct fakesrv_req *req, void *arg)
{
	struct ctx *c = arg;
	uint32_t op = req->h.opcode;

	if (req->h.nodeid == c->a && (op == FUSE_WRITE || op == FUSE_FSYNC ||
				      op == FUSE_FLUSH || op == FUSE_SETATTR)) {
		pthread_mutex_lock(&c->lock);
		note(c, op);
		if (op == FUSE_WRITE) {
			struct fuse_write_in in;

			memcpy(&in, req->arg, sizeof(in));
			c->writes++;
			c->write_bytes += in.size;
			if (in.write_flags & FUSE_WRITE_CACHE)
				c->cache_flagged++;
		}
		pthread_mutex_unlock(&c->lock);
	}
	if (op == FUSE_WRITE) {
		if (c->hold_writes)
			return FAKESRV_HOLD;
		if (c->fail_writes) {
			fakesrv_reply(srv, req->h.unique, c->fail_writes, NULL,
				      0);
			return FAKESRV_DONE;
		}
		reply_write(c, req);
		return FAKESRV_DONE;
	}
	if (op == FUSE_SETATTR) {
		struct fuse_setattr_in in;
		struct fuse_attr_out out = { 0 };

		memcpy(&in, req->arg, sizeof(in));
		if (in.valid & FATTR_SIZE) {
			pthread_mutex_lock(&c->lock);
			c->data = realloc(c->data, in.size ? in.size : 1);
			if (in.size > c->size)
				memset(c->data + c->size, 0, in.size - c->size);
			c->size = in.size;
			fakesrv_set_file(srv, c->a, c->data, c->size, 0);
			pthread_mutex_unlock(&c->lock);
		}
		fakesrv_attr(srv, req->h.nodeid, &out.attr);
		fakesrv_reply(srv, req->h.unique, 0, &out, sizeof(out));
		return FAKESRV_DONE;
	}
	return FAKESRV_DEFAULT;
}

/* "a" holds a_size bytes of pattern (kept as the server's bytes), "b"
 * b_size; the server offers WRITEBACK_CACHE unless told not to. */
static int setup_opts(struct ctx *c, size_t a_size, size_t b_size,
		      uint64_t attr_valid_ms, const struct fb_options *o)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->srv = fakesrv_new();
	fakesrv_cfg(c->srv)->init_flags |= FUSE_WRITEBACK_CACHE;
	fakesrv_cfg(c->srv)->open_flags = FOPEN_KEEP_CACHE;
	fakesrv_cfg(c->srv)->attr_valid_ms = attr_valid_ms;
	c->a = fakesrv_add(c->srv, FUSE_ROOT_ID, "a", S_IFREG | 0644, NULL,
			   a_size);
	c->b = fakesrv_add(c->srv, FUSE_ROOT_ID, "b", S_IFREG | 0644, NULL,
			   b_size);
	c->data = malloc(a_size ? a_size : 1);
	for (size_t i = 0; i < a_size; i++)
		c->data[i] = fakesrv_pattern(c->a, i);
	c->size = a_size;
	return fakesrv_mount(c->srv, answer, c, o, &c->fs);
}

static int setup(struct ctx *c, size_t a_size, size_t b_size,
		 uint64_t attr_valid_ms)
{
	return setup_opts(c, a_size, b_size, attr_valid_ms, NULL);
}

static void teardown(struct ctx *c)
{
	fb_unmount(c->fs);
	fakesrv_free(c->srv);
	free(c->data);
	pthread_mutex_destroy(&c->lock);
}

static unsigned writes(struct ctx *c)
{
	unsigned n;

	pthread_mutex_lock(&c->lock);
	n = c->writes;
	pthread_mutex_unlock(&c->lock);
	return n;
}

/* The server's bytes of a equal want (len bytes). */
static bool server_has(struct ctx *c, const unsigned char *want, size_t len)
{
	bool ok;

	pthread_mutex_lock(&c->lock);
	ok = c->size == len && !memcmp(c->data, want, len);
	pthread_mutex_unlock(&c->lock);
	return ok;
}

/* The index of the first op after all WRITEs is op (and there is one). */
static bool writes_then(struct ctx *c, uint32_t op)
{
	bool seen_write = false, ok = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->n_ops; i++) {
		if (c->ops[i] == FUSE_WRITE) {
			seen_write = true;
			ok = false;
		} else if (c->ops[i] == op && seen_write) {
			ok = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void fill(unsigned char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)(i * 7 + seed);
}

static int case_writeback_is_taken(void)
{
	struct fb_conn_info info;
	struct ctx c;

	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	FS_CHECK_EQ(fb_conn_info(c.fs, &info), 0);
	FS_CHECK(info.flags & FUSE_WRITEBACK_CACHE, "flags 0x%llx",
		 (unsigned long long)info.flags);
	teardown(&c);
	return 0;
}

/* 64 writes of 4 KiB: nothing reaches the server until fsync, which
 * sends them as two WRITEs (one per 128 KiB block, max_write 128 KiB)
 * with FUSE_WRITE_CACHE, then FSYNC. Reads meanwhile come from the
 * cache. */
static int case_writes_coalesce_until_fsync(void)
{
	static unsigned char buf[2 * BLK], back[2 * BLK];
	int reads0, fd;
	struct ctx c;

	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	fill(buf, sizeof(buf), 3);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	for (size_t off = 0; off < sizeof(buf); off += 4096)
		FS_CHECK_EQ(fb_write(c.fs, fd, buf + off, 4096), 4096);
	FS_CHECK_EQ(writes(&c), 0);
	reads0 = fakesrv_count(c.srv, FUSE_READ, 0, NULL);
	FS_CHECK_EQ(fb_pread(c.fs, fd, back, sizeof(back), 0),
		    (ssize_t)sizeof(back));
	FS_CHECK(!memcmp(back, buf, sizeof(buf)), "read back differs");
	FS_CHECK_EQ(fakesrv_count(c.srv, FUSE_READ, 0, NULL), reads0);
	{
		struct stat st;

		FS_CHECK_EQ(fb_fstat(c.fs, fd, &st), 0);
		FS_CHECK_EQ(st.st_size, sizeof(buf));
	}
	FS_CHECK_EQ(fb_fsync(c.fs, fd), 0);
	FS_CHECK_EQ(writes(&c), 2);
	FS_CHECK_EQ(c.cache_flagged, 2);
	FS_CHECK(writes_then(&c, FUSE_FSYNC), "no FSYNC after the WRITEs");
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	/* Nothing dirty is left: another fsync writes nothing. */
	FS_CHECK_EQ(fb_fsync(c.fs, fd), 0);
	FS_CHECK_EQ(writes(&c), 2);
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	teardown(&c);
	return 0;
}

static int case_close_writes_back_before_flush(void)
{
	unsigned char buf[10000];
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	fill(buf, sizeof(buf), 9);
	fd = fb_open(c.fs, "/a", O_WRONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	for (size_t off = 0; off < sizeof(buf); off += 1000)
		FS_CHECK_EQ(fb_write(c.fs, fd, buf + off, 1000), 1000);
	FS_CHECK_EQ(writes(&c), 0);
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	FS_CHECK_EQ(writes(&c), 1);
	FS_CHECK(writes_then(&c, FUSE_FLUSH), "no FLUSH after the WRITE");
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	teardown(&c);
	return 0;
}

/* A WRITE that fails: write(2) had succeeded; the next fsync says EIO,
 * the one after it nothing; the bytes are gone from the cache (a read
 * shows the server's). Then the same through close. */
static int case_write_error_reported_once(void)
{
	unsigned char buf[5000], back[5000];
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 5000, 0, 60000), 0);
	fill(buf, sizeof(buf), 1);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, buf, sizeof(buf), 0), 5000);
	c.fail_writes = -EIO;
	FS_CHECK_EQ(fb_fsync(c.fs, fd), -EIO);
	FS_CHECK_EQ(fb_fsync(c.fs, fd), 0);
	FS_CHECK_EQ(fb_pread(c.fs, fd, back, sizeof(back), 0), 5000);
	for (size_t i = 0; i < sizeof(back); i++)
		FS_CHECK(back[i] == fakesrv_pattern(c.a, i),
			 "byte %zu is not the server's", i);
	/* Through close: its error, once. */
	c.fail_writes = -ENOSPC;
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, buf, 100, 0), 100);
	FS_CHECK_EQ(fb_close(c.fs, fd), -ENOSPC);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_fsync(c.fs, fd), 0);
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	c.fail_writes = 0;
	teardown(&c);
	return 0;
}

/* Under a 1 MiB bound, dirty data may fill half of it: 3 MiB written
 * without fsync reach the server while the writes go on, and the pinned
 * bytes stay near the limit. */
static int case_dirty_limit_writes_back(void)
{
	size_t size = 3 << 20, max_dirty = 0;
	unsigned char *buf = malloc(size);
	struct fb_cache_stats st0, st;
	struct ctx c;
	int fd;

	fb_cache_stats(&st0);
	fb_cache_set_limit(1 << 20);
	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	fill(buf, size, 5);
	fd = fb_open(c.fs, "/a", O_WRONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	for (size_t off = 0; off < size; off += 65536) {
		FS_CHECK_EQ(fb_write(c.fs, fd, buf + off, 65536), 65536);
		fb_cache_stats(&st);
		if (st.dirty > max_dirty)
			max_dirty = st.dirty;
	}
	FS_CHECK(writes(&c) >= 16, "%u WRITEs before close", writes(&c));
	FS_CHECK(max_dirty <= (512 << 10) + BLK, "%zu bytes dirty",
		 max_dirty);
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	FS_CHECK(server_has(&c, buf, size), "server's bytes differ");
	fb_cache_stats(&st);
	FS_CHECK_EQ(st.dirty, 0);
	teardown(&c);
	fb_cache_set_limit(st0.limit);
	free(buf);
	return 0;
}

/* 256 KiB dirty in "a", then 4 MiB of "b" read under a 1 MiB bound: the
 * reads evict, but not a's dirty blocks: no WRITE happens, a reads back
 * from the cache (no READ of a), and close writes the right bytes. */
static int case_eviction_keeps_dirty_data(void)
{
	static unsigned char buf[2 * BLK], back[2 * BLK];
	struct fb_cache_stats st0, st;
	char *rb = malloc(65536);
	struct ctx c;
	int fa, fb;

	fb_cache_stats(&st0);
	fb_cache_set_limit(1 << 20);
	FS_CHECK_EQ(setup(&c, 0, 4 << 20, 60000), 0);
	fill(buf, sizeof(buf), 11);
	fa = fb_open(c.fs, "/a", O_RDWR);
	fb = fb_open(c.fs, "/b", O_RDONLY);
	FS_CHECK(fa >= 0 && fb >= 0, "open: %d %d", fa, fb);
	FS_CHECK_EQ(fb_pwrite(c.fs, fa, buf, sizeof(buf), 0),
		    (ssize_t)sizeof(buf));
	for (size_t off = 0; off < (4 << 20); off += 65536)
		FS_CHECK_EQ(fb_pread(c.fs, fb, rb, 65536, (off_t)off), 65536);
	fb_cache_stats(&st);
	FS_CHECK(st.evicted > st0.evicted, "nothing evicted");
	FS_CHECK(st.bytes <= (1 << 20), "%zu bytes held", st.bytes);
	FS_CHECK_EQ(st.dirty, 2 * BLK);
	FS_CHECK_EQ(writes(&c), 0);
	FS_CHECK_EQ(fakesrv_count(c.srv, FUSE_READ, c.a, NULL), 0);
	FS_CHECK_EQ(fb_pread(c.fs, fa, back, sizeof(back), 0),
		    (ssize_t)sizeof(back));
	FS_CHECK(!memcmp(back, buf, sizeof(buf)), "dirty data lost");
	FS_CHECK_EQ(fakesrv_count(c.srv, FUSE_READ, c.a, NULL), 0);
	FS_CHECK_EQ(fb_close(c.fs, fa), 0);
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	fb_close(c.fs, fb);
	teardown(&c);
	fb_cache_set_limit(st0.limit);
	free(rb);
	return 0;
}

struct fsync_arg {
	struct ctx *c;
	int fd, result;
};

static void *do_fsync(void *p)
{
	struct fsync_arg *a = p;

	a->result = fb_fsync(a->c->fs, a->fd);
	return NULL;
}

/* The server holds the WRITEs of a's writeback: another thread reading
 * "b" under a small bound still evicts and finishes (in seconds, not
 * when the server answers). Then the held WRITEs are answered and the
 * fsync ends well. */
static int case_hung_writeback_does_not_block_eviction(void)
{
	static unsigned char buf[2 * BLK];
	struct fb_cache_stats st0, st;
	struct fsync_arg fa = { 0 };
	char *rb = malloc(65536);
	struct fakesrv_req *held;
	uint64_t t0;
	pthread_t th;
	struct ctx c;
	int fb;

	fb_cache_stats(&st0);
	fb_cache_set_limit(1 << 20);
	FS_CHECK_EQ(setup(&c, 0, 4 << 20, 60000), 0);
	fill(buf, sizeof(buf), 13);
	fa.c = &c;
	fa.fd = fb_open(c.fs, "/a", O_RDWR);
	fb = fb_open(c.fs, "/b", O_RDONLY);
	FS_CHECK(fa.fd >= 0 && fb >= 0, "open: %d %d", fa.fd, fb);
	FS_CHECK_EQ(fb_pwrite(c.fs, fa.fd, buf, sizeof(buf), 0),
		    (ssize_t)sizeof(buf));
	c.hold_writes = true;
	FS_CHECK_EQ(pthread_create(&th, NULL, do_fsync, &fa), 0);
	FS_CHECK_EQ(fakesrv_wait_held(c.srv, 1, 5000), 0);
	t0 = fakesrv_now_ms();
	for (size_t off = 0; off < (4 << 20); off += 65536)
		FS_CHECK_EQ(fb_pread(c.fs, fb, rb, 65536, (off_t)off), 65536);
	FS_CHECK(fakesrv_now_ms() - t0 < 10000, "reads took %llu ms",
		 (unsigned long long)(fakesrv_now_ms() - t0));
	fb_cache_stats(&st);
	FS_CHECK(st.evicted > st0.evicted, "nothing evicted");
	FS_CHECK_EQ(st.dirty, 2 * BLK); /* in flight: still pinned */
	c.hold_writes = false;
	/* Answer what is held, and what comes while we do. */
	while (true) {
		held = fakesrv_take_held(c.srv);
		if (held) {
			reply_write(&c, held);
			fakesrv_req_free(held);
			continue;
		}
		if (fakesrv_wait_held(c.srv, 1, 200))
			break;
	}
	pthread_join(th, NULL);
	FS_CHECK_EQ(fa.result, 0);
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	fb_close(c.fs, fa.fd);
	fb_close(c.fs, fb);
	teardown(&c);
	fb_cache_set_limit(st0.limit);
	free(rb);
	return 0;
}

/* Attributes that expire at once: the server's size (the old 1000)
 * while dirty data is pending neither shrinks the file nor drops it. */
static int case_getattr_does_not_shrink_dirty_file(void)
{
	static unsigned char buf[300000], back[300000];
	struct stat st;
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 1000, 0, 0), 0);
	fill(buf, sizeof(buf), 17);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, buf, sizeof(buf), 0),
		    (ssize_t)sizeof(buf));
	FS_CHECK_EQ(fb_fstat(c.fs, fd, &st), 0);
	FS_CHECK_EQ(st.st_size, sizeof(buf));
	FS_CHECK_EQ(fb_stat(c.fs, "/a", &st), 0);
	FS_CHECK_EQ(st.st_size, sizeof(buf));
	FS_CHECK_EQ(fb_pread(c.fs, fd, back, sizeof(back), 0),
		    (ssize_t)sizeof(back));
	FS_CHECK(!memcmp(back, buf, sizeof(buf)), "read back differs");
	FS_CHECK_EQ(writes(&c), 0);
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	teardown(&c);
	return 0;
}

/* A write into part of an uncached block reads the block first; the
 * WRITE carries only the bytes written; a write past the end leaves
 * zeros between. */
static int case_partial_block_write(void)
{
	unsigned char *want = malloc(BLK + 10), back[20];
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 3000, 0, 60000), 0);
	for (size_t i = 0; i < 3000; i++)
		want[i] = fakesrv_pattern(c.a, i);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, "0123456789", 10, 1000), 10);
	FS_CHECK(fakesrv_count(c.srv, FUSE_READ, c.a, NULL) >= 1,
		 "the block was not read first");
	memcpy(want + 1000, "0123456789", 10);
	FS_CHECK_EQ(fb_pread(c.fs, fd, back, 20, 995), 20);
	FS_CHECK(!memcmp(back, want + 995, 20), "read back differs");
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, "tail", 4, BLK + 6), 4);
	memset(want + 3000, 0, BLK + 6 - 3000);
	memcpy(want + BLK + 6, "tail", 4);
	FS_CHECK_EQ(fb_fsync(c.fs, fd), 0);
	FS_CHECK_EQ(writes(&c), 2);
	FS_CHECK_EQ(c.write_bytes, 14);
	FS_CHECK(server_has(&c, want, BLK + 10), "server's bytes differ");
	fb_close(c.fs, fd);
	teardown(&c);
	free(want);
	return 0;
}

/* ftruncate writes dirty data back before its SETATTR; what lies past
 * the new size is not written again. */
static int case_truncate_writes_back_first(void)
{
	unsigned char buf[8000];
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	fill(buf, sizeof(buf), 23);
	fd = fb_open(c.fs, "/a", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, buf, sizeof(buf), 0), 8000);
	FS_CHECK_EQ(fb_ftruncate(c.fs, fd, 3000), 0);
	FS_CHECK(writes_then(&c, FUSE_SETATTR), "no SETATTR after WRITE");
	FS_CHECK_EQ(fb_close(c.fs, fd), 0);
	FS_CHECK_EQ(writes(&c), 1);
	FS_CHECK(server_has(&c, buf, 3000), "server's bytes differ");
	teardown(&c);
	return 0;
}

/* Unmount with a file still open writes its dirty data first. */
static int case_unmount_writes_back(void)
{
	unsigned char buf[7000];
	struct ctx c;
	int fd;

	FS_CHECK_EQ(setup(&c, 0, 0, 60000), 0);
	fill(buf, sizeof(buf), 29);
	fd = fb_open(c.fs, "/a", O_WRONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_write(c.fs, fd, buf, sizeof(buf)), 7000);
	FS_CHECK_EQ(writes(&c), 0);
	fb_unmount(c.fs);
	c.fs = NULL;
	FS_CHECK(server_has(&c, buf, sizeof(buf)), "server's bytes differ");
	fakesrv_free(c.srv);
	free(c.data);
	return 0;
}

/* fb_options.no_writeback: not offered, and each write is a WRITE. */
static int case_no_writeback_option(void)
{
	struct fb_conn_info info;
	struct fb_options o;
	struct ctx c;
	int fd;

	fb_options_init(&o);
	o.no_writeback = 1;
	FS_CHECK_EQ(setup_opts(&c, 0, 0, 60000, &o), 0);
	FS_CHECK_EQ(fb_conn_info(c.fs, &info), 0);
	FS_CHECK(!(info.flags & FUSE_WRITEBACK_CACHE), "flags 0x%llx",
		 (unsigned long long)info.flags);
	fd = fb_open(c.fs, "/a", O_WRONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	FS_CHECK_EQ(fb_write(c.fs, fd, "abc", 3), 3);
	FS_CHECK_EQ(writes(&c), 1);
	FS_CHECK_EQ(c.cache_flagged, 0);
	fb_close(c.fs, fd);
	teardown(&c);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "writeback_is_taken", case_writeback_is_taken },
	{ "writes_coalesce_until_fsync", case_writes_coalesce_until_fsync },
	{ "close_writes_back_before_flush",
	  case_close_writes_back_before_flush },
	{ "write_error_reported_once", case_write_error_reported_once },
	{ "dirty_limit_writes_back", case_dirty_limit_writes_back },
	{ "eviction_keeps_dirty_data", case_eviction_keeps_dirty_data },
	{ "hung_writeback_does_not_block_eviction",
	  case_hung_writeback_does_not_block_eviction },
	{ "getattr_does_not_shrink_dirty_file",
	  case_getattr_does_not_shrink_dirty_file },
	{ "partial_block_write", case_partial_block_write },
	{ "truncate_writes_back_first", case_truncate_writes_back_first },
	{ "unmount_writes_back", case_unmount_writes_back },
	{ "no_writeback_option", case_no_writeback_option },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 30);
}
