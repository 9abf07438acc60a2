/*
 * test_pagecache.c - the page cache against a scripted server that counts
 * READs and changes files behind the client's back: which reads reach the
 * server under each open mode (KEEP_CACHE, none, DIRECT_IO), what drops
 * cached data (a new size, a new mtime with AUTO_INVAL_DATA, INVAL_INODE
 * of a range, an open without KEEP_CACHE), STORE and RETRIEVE, writes
 * through the cache, readahead, the memory bound, and a file that ends
 * sooner than its size said or fails mid-read.
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

struct ctx {
	struct fakesrv *srv;
	struct fb_fs *fs;
	uint64_t f;
	/* READs at or beyond this offset fail with EIO (0: none fail). */
	uint64_t fail_from;
	/* A NOTIFY_REPLY the server received: its offset, size, data. */
	pthread_mutex_t lock;
	bool got_reply;
	uint64_t reply_off;
	uint32_t reply_size;
	char reply_data[256];
	/* The file's bytes as written through WRITE (write_through). */
	unsigned char *data;
	size_t size;
};

static enum fakesrv_action answer(struct fakesrv *srv,
				  const struct fakesrv_req *req, void *arg)
{
	struct ctx *c = arg;

	if (req->h.opcode == FUSE_READ && c->fail_from &&
	    req->offset >= c->fail_from) {
		fakesrv_reply(srv, req->h.unique, -EIO, NULL, 0);
		return FAKESRV_DONE;
	}
	if (req->h.opcode == FUSE_NOTIFY_REPLY &&
	    req->arglen >= sizeof(struct fuse_notify_retrieve_in)) {
		struct fuse_notify_retrieve_in in;
		size_t n = req->arglen - sizeof(in);

		memcpy(&in, req->arg, sizeof(in));
		pthread_mutex_lock(&c->lock);
		c->got_reply = true;
		c->reply_off = in.offset;
		c->reply_size = in.size;
		if (n > sizeof(c->reply_data))
			n = sizeof(c->reply_data);
		memcpy(c->reply_data, req->arg + sizeof(in), n);
		pthread_mutex_unlock(&c->lock);
		return FAKESRV_DONE;
	}
	if (req->h.opcode == FUSE_WRITE && c->data) {
		struct fuse_write_in in;
		struct fuse_write_out out = { 0 };

		memcpy(&in, req->arg, sizeof(in));
		if (in.offset + in.size > c->size) {
			c->data = realloc(c->data, in.offset + in.size);
			memset(c->data + c->size, 0,
			       in.offset + in.size - c->size);
			c->size = in.offset + in.size;
		}
		memcpy(c->data + in.offset, req->arg + sizeof(in), in.size);
		fakesrv_set_file(srv, c->f, c->data, c->size, 0);
		out.size = in.size;
		fakesrv_reply(srv, req->h.unique, 0, &out, sizeof(out));
		return FAKESRV_DONE;
	}
	return FAKESRV_DEFAULT;
}

/* A file "f" of size bytes of pattern, served with open_flags. */
static int setup(struct ctx *c, size_t size, uint32_t open_flags,
		 uint64_t extra_init, uint64_t attr_valid_ms)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	c->srv = fakesrv_new();
	fakesrv_cfg(c->srv)->open_flags = open_flags;
	fakesrv_cfg(c->srv)->init_flags |= extra_init;
	fakesrv_cfg(c->srv)->attr_valid_ms = attr_valid_ms;
	c->f = fakesrv_add(c->srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL,
			   size);
	return fakesrv_mount(c->srv, answer, c, NULL, &c->fs);
}

static void teardown(struct ctx *c)
{
	fb_unmount(c->fs);
	fakesrv_free(c->srv);
	free(c->data);
	pthread_mutex_destroy(&c->lock);
}

static int reads(struct ctx *c)
{
	return fakesrv_count(c->srv, FUSE_READ, 0, NULL);
}

/* pread of [off, off + len) through a new open; 0 when every byte is the
 * server's pattern (or, with want, equals want). */
static int check_read(struct ctx *c, uint64_t off, size_t len,
		      const unsigned char *want, ssize_t *got)
{
	unsigned char *buf = malloc(len ? len : 1);
	int fd = fb_open(c->fs, "/f", O_RDONLY), bad = 0;
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		return -1;
	}
	n = fb_pread(c->fs, fd, buf, len, (off_t)off);
	if (got)
		*got = n;
	for (ssize_t i = 0; i < n && !bad; i++)
		if (buf[i] != (want ? want[i]
				    : fakesrv_pattern(c->f, off + (uint64_t)i)))
			bad = 1;
	fb_close(c->fs, fd);
	free(buf);
	return n < 0 ? (int)n : bad;
}

static int case_keep_cache_reuses_data(void)
{
	struct ctx c;
	ssize_t n;
	int r1;

	FS_CHECK_EQ(setup(&c, 300000, FOPEN_KEEP_CACHE, 0, 60000), 0);
	FS_CHECK_EQ(check_read(&c, 0, 300000, NULL, &n), 0);
	FS_CHECK_EQ(n, 300000);
	r1 = reads(&c);
	FS_CHECK(r1 >= 3, "%d READs for 300000 bytes", r1);
	/* Another open, other offsets: no READ. */
	FS_CHECK_EQ(check_read(&c, 1000, 250000, NULL, &n), 0);
	FS_CHECK_EQ(n, 250000);
	FS_CHECK_EQ(reads(&c), r1);
	teardown(&c);
	return 0;
}

static int case_open_without_keep_cache_drops_it(void)
{
	struct ctx c;
	int r1;

	FS_CHECK_EQ(setup(&c, 200000, 0, 0, 60000), 0);
	FS_CHECK_EQ(check_read(&c, 0, 200000, NULL, NULL), 0);
	r1 = reads(&c);
	/* The server changed the file; a new open must see it. */
	{
		unsigned char *d = malloc(200000);

		memset(d, 'x', 200000);
		fakesrv_set_file(c.srv, c.f, d, 200000, 0);
		FS_CHECK_EQ(check_read(&c, 0, 200000, d, NULL), 0);
		free(d);
	}
	FS_CHECK(reads(&c) > r1, "no READ after a new open");
	teardown(&c);
	return 0;
}

/* Two opens at once share what one of them read. */
static int case_opens_share_the_cache(void)
{
	struct ctx c;
	char a[4096], b[4096];
	int fd1, fd2, r1;

	FS_CHECK_EQ(setup(&c, 100000, 0, 0, 60000), 0);
	fd1 = fb_open(c.fs, "/f", O_RDONLY);
	fd2 = fb_open(c.fs, "/f", O_RDONLY);
	FS_CHECK(fd1 >= 0 && fd2 >= 0, "open: %d %d", fd1, fd2);
	FS_CHECK_EQ(fb_pread(c.fs, fd1, a, sizeof(a), 5000), 4096);
	r1 = reads(&c);
	FS_CHECK_EQ(fb_pread(c.fs, fd2, b, sizeof(b), 5000), 4096);
	FS_CHECK(!memcmp(a, b, sizeof(a)), "different data");
	FS_CHECK_EQ(reads(&c), r1);
	fb_close(c.fs, fd1);
	fb_close(c.fs, fd2);
	teardown(&c);
	return 0;
}

static int case_direct_io_bypasses_the_cache(void)
{
	struct ctx c;

	FS_CHECK_EQ(setup(&c, 10000, FOPEN_DIRECT_IO | FOPEN_KEEP_CACHE, 0,
			  60000), 0);
	FS_CHECK_EQ(check_read(&c, 0, 10000, NULL, NULL), 0);
	FS_CHECK_EQ(check_read(&c, 0, 10000, NULL, NULL), 0);
	FS_CHECK_EQ(reads(&c), 2);
	teardown(&c);
	return 0;
}

/* Attributes that time out at once: each read asks GETATTR, and what it
 * says about the data decides whether the cache stays (Linux's rules). */
static int case_new_size_drops_the_cache(void)
{
	struct ctx c;
	unsigned char d[5000];

	FS_CHECK_EQ(setup(&c, 4000, FOPEN_KEEP_CACHE, 0, 0), 0);
	FS_CHECK_EQ(check_read(&c, 0, 4000, NULL, NULL), 0);
	memset(d, 'n', sizeof(d));
	fakesrv_set_file(c.srv, c.f, d, sizeof(d), 0);
	FS_CHECK_EQ(check_read(&c, 0, sizeof(d), d, NULL), 0);
	teardown(&c);
	return 0;
}

static int mtime_case(uint64_t init, bool want_new)
{
	struct ctx c;
	unsigned char d[4000];
	ssize_t n;

	FS_CHECK_EQ(setup(&c, 4000, FOPEN_KEEP_CACHE, init, 0), 0);
	FS_CHECK_EQ(check_read(&c, 0, 4000, NULL, NULL), 0);
	memset(d, 'm', sizeof(d));
	fakesrv_set_file(c.srv, c.f, d, sizeof(d), 1800000000);
	FS_CHECK_EQ(check_read(&c, 0, sizeof(d), want_new ? d : NULL, &n),
		    0);
	FS_CHECK_EQ(n, 4000);
	teardown(&c);
	return 0;
}

static int case_new_mtime_drops_it_with_auto_inval_data(void)
{
	return mtime_case(FUSE_AUTO_INVAL_DATA, true);
}

static int case_new_mtime_keeps_it_without_auto_inval_data(void)
{
	return mtime_case(0, false);
}

static int case_inval_inode_drops_only_its_range(void)
{
	struct fuse_notify_inval_inode_out o = { 0 };
	unsigned char *d = malloc(2 * BLK), *want = malloc(2 * BLK);
	struct ctx c;

	FS_CHECK_EQ(setup(&c, 2 * BLK, FOPEN_KEEP_CACHE, 0, 60000), 0);
	FS_CHECK_EQ(check_read(&c, 0, 2 * BLK, NULL, NULL), 0);
	memset(d, 'z', 2 * BLK);
	fakesrv_set_file(c.srv, c.f, d, 2 * BLK, 0);
	o.ino = c.f;
	o.off = BLK + 10;
	o.len = 1;
	FS_CHECK_EQ(fakesrv_reply(c.srv, 0, FUSE_NOTIFY_INVAL_INODE, &o,
				  sizeof(o)), 0);
	fakesrv_sleep_ms(100);
	/* The first block stays as cached, the second is read anew. */
	for (size_t i = 0; i < BLK; i++)
		want[i] = fakesrv_pattern(c.f, i);
	memset(want + BLK, 'z', BLK);
	FS_CHECK_EQ(check_read(&c, 0, 2 * BLK, want, NULL), 0);
	/* len 0: to the end of the file. */
	o.off = 0;
	o.len = 0;
	FS_CHECK_EQ(fakesrv_reply(c.srv, 0, FUSE_NOTIFY_INVAL_INODE, &o,
				  sizeof(o)), 0);
	fakesrv_sleep_ms(100);
	FS_CHECK_EQ(check_read(&c, 0, 2 * BLK, d, NULL), 0);
	free(d);
	free(want);
	teardown(&c);
	return 0;
}

static int case_store_fills_and_retrieve_answers(void)
{
	struct fuse_notify_store_out so = { 0 };
	struct fuse_notify_retrieve_out ro = { 0 };
	char msg[sizeof(so) + 20];
	struct stat st;
	struct ctx c;
	int r1, fd;

	FS_CHECK_EQ(setup(&c, 10, FOPEN_KEEP_CACHE, 0, 60000), 0);
	fd = fb_open(c.fs, "/f", O_RDONLY); /* the inode is known */
	FS_CHECK(fd >= 0, "open: %d", fd);
	so.nodeid = c.f;
	so.offset = 0;
	so.size = 20;
	memcpy(msg, &so, sizeof(so));
	memcpy(msg + sizeof(so), "stored by the server", 20);
	/* The server's file is what it stores (its size is checked). */
	fakesrv_set_file(c.srv, c.f, "stored by the server", 20, 0);
	FS_CHECK_EQ(fakesrv_reply(c.srv, 0, FUSE_NOTIFY_STORE, msg,
				  sizeof(msg)), 0);
	fakesrv_sleep_ms(100);
	r1 = reads(&c);
	{
		char buf[64] = { 0 };

		FS_CHECK_EQ(fb_pread(c.fs, fd, buf, sizeof(buf), 0), 20);
		FS_CHECK(!memcmp(buf, "stored by the server", 20), "read %s",
			 buf);
	}
	FS_CHECK_EQ(reads(&c), r1);
	FS_CHECK_EQ(fb_fstat(c.fs, fd, &st), 0);
	FS_CHECK_EQ(st.st_size, 20);
	ro.notify_unique = 4242;
	ro.nodeid = c.f;
	ro.offset = 7;
	ro.size = 100;
	FS_CHECK_EQ(fakesrv_reply(c.srv, 0, FUSE_NOTIFY_RETRIEVE, &ro,
				  sizeof(ro)), 0);
	FS_CHECK_EQ(fakesrv_wait_count(c.srv, FUSE_NOTIFY_REPLY, 1, 5000), 0);
	/* The fake server counts a request before its handler has run. */
	for (int i = 0; i < 500; i++) {
		bool got;

		pthread_mutex_lock(&c.lock);
		got = c.got_reply;
		pthread_mutex_unlock(&c.lock);
		if (got)
			break;
		fakesrv_sleep_ms(10);
	}
	pthread_mutex_lock(&c.lock);
	FS_CHECK(c.got_reply, "no NOTIFY_REPLY");
	FS_CHECK_EQ(c.reply_off, 7);
	FS_CHECK_EQ(c.reply_size, 13); /* to the end of the file */
	FS_CHECK(!memcmp(c.reply_data, "by the server", 13), "retrieved %.13s",
		 c.reply_data);
	pthread_mutex_unlock(&c.lock);
	{
		struct fakesrv_rec *recs;
		size_t n = fakesrv_records(c.srv, &recs);
		bool found = false;

		for (size_t i = 0; i < n; i++)
			if (recs[i].opcode == FUSE_NOTIFY_REPLY)
				found = recs[i].unique == 4242;
		free(recs);
		FS_CHECK(found, "NOTIFY_REPLY without the server's unique");
	}
	fb_close(c.fs, fd);
	teardown(&c);
	return 0;
}

static int case_writes_go_through_the_cache(void)
{
	struct ctx c;
	unsigned char buf[BLK + 100];
	int fd, r1;

	FS_CHECK_EQ(setup(&c, 0, FOPEN_KEEP_CACHE, 0, 60000), 0);
	c.data = calloc(1, 1);
	fd = fb_open(c.fs, "/f", O_RDWR);
	FS_CHECK(fd >= 0, "open: %d", fd);
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (unsigned char)(i * 31 + 5);
	FS_CHECK_EQ(fb_pwrite(c.fs, fd, buf, sizeof(buf), 0),
		    (ssize_t)sizeof(buf));
	r1 = reads(&c);
	{
		unsigned char back[sizeof(buf)];

		FS_CHECK_EQ(fb_pread(c.fs, fd, back, sizeof(back), 0),
			    (ssize_t)sizeof(back));
		FS_CHECK(!memcmp(back, buf, sizeof(buf)), "read back");
		/* Overwrite in the middle of a cached block. */
		FS_CHECK_EQ(fb_pwrite(c.fs, fd, "HELLO", 5, 1000), 5);
		FS_CHECK_EQ(fb_pread(c.fs, fd, back, 10, 998), 10);
		FS_CHECK(!memcmp(back + 2, "HELLO", 5), "overwrite");
	}
	FS_CHECK_EQ(reads(&c), r1);
	FS_CHECK(c.size == sizeof(buf) && !memcmp(c.data + 1000, "HELLO", 5),
		 "the server has %zu bytes", c.size);
	fb_close(c.fs, fd);
	teardown(&c);
	return 0;
}

static int case_sequential_reads_read_ahead(void)
{
	struct ctx c;
	char buf[4096];
	int fd, n_reads;

	FS_CHECK_EQ(setup(&c, 1 << 20, FOPEN_KEEP_CACHE, 0, 60000), 0);
	fd = fb_open(c.fs, "/f", O_RDONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	for (int i = 0; i < 256; i++) {
		FS_CHECK_EQ(fb_read(c.fs, fd, buf, sizeof(buf)), 4096);
		FS_CHECK((unsigned char)buf[17] ==
				 fakesrv_pattern(c.f, (uint64_t)i * 4096 + 17),
			 "data at block %d", i);
	}
	FS_CHECK_EQ(fb_read(c.fs, fd, buf, sizeof(buf)), 0);
	n_reads = reads(&c);
	/* 1 MiB in 128 KiB blocks: 8 READs, not 256. */
	FS_CHECK(n_reads <= 9, "%d READs for 256 reads of 4 KiB", n_reads);
	fb_close(c.fs, fd);
	teardown(&c);
	return 0;
}

static int case_memory_bound_holds(void)
{
	struct fb_cache_stats st0, st;
	size_t size = 4 << 20;
	struct ctx c;
	char *buf = malloc(65536);
	int fd;

	fb_cache_stats(&st0);
	fb_cache_set_limit(1 << 20);
	FS_CHECK_EQ(setup(&c, size, FOPEN_KEEP_CACHE, 0, 60000), 0);
	fd = fb_open(c.fs, "/f", O_RDONLY);
	for (size_t off = 0; off < size; off += 65536) {
		FS_CHECK_EQ(fb_pread(c.fs, fd, buf, 65536, (off_t)off), 65536);
		FS_CHECK((unsigned char)buf[65535] ==
				 fakesrv_pattern(c.f, off + 65535),
			 "data at %zu", off);
		fb_cache_stats(&st);
		FS_CHECK(st.bytes <= (1 << 20), "%zu bytes cached", st.bytes);
	}
	FS_CHECK(st.evicted > st0.evicted, "nothing evicted");
	fb_close(c.fs, fd);
	teardown(&c);
	fb_cache_set_limit(st0.limit);
	free(buf);
	return 0;
}

/* The size said 300000; the server has 100000 now: the read ends there
 * (and does not spin). */
static int case_file_shorter_than_its_size(void)
{
	struct ctx c;
	struct stat st;
	ssize_t n;

	FS_CHECK_EQ(setup(&c, 300000, FOPEN_KEEP_CACHE, 0, 60000), 0);
	FS_CHECK_EQ(fb_stat(c.fs, "/f", &st), 0);
	FS_CHECK_EQ(st.st_size, 300000);
	fakesrv_set_file(c.srv, c.f, NULL, 100000, 0);
	FS_CHECK_EQ(check_read(&c, 0, 300000, NULL, &n), 0);
	FS_CHECK_EQ(n, 100000);
	FS_CHECK_EQ(check_read(&c, 150000, 1000, NULL, &n), 0);
	FS_CHECK_EQ(n, 0);
	teardown(&c);
	return 0;
}

/* A READ error past the first block: the bytes before it come back, then
 * the error; nothing wrong stays cached. */
static int case_read_error_mid_file(void)
{
	struct ctx c;
	ssize_t n;

	FS_CHECK_EQ(setup(&c, 3 * BLK, FOPEN_KEEP_CACHE, 0, 60000), 0);
	c.fail_from = BLK;
	FS_CHECK_EQ(check_read(&c, 0, 3 * BLK, NULL, &n), 0);
	FS_CHECK_EQ(n, BLK);
	FS_CHECK_EQ(check_read(&c, BLK, 100, NULL, &n), -EIO);
	c.fail_from = 0;
	FS_CHECK_EQ(check_read(&c, 0, 3 * BLK, NULL, &n), 0);
	FS_CHECK_EQ(n, 3 * BLK);
	teardown(&c);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "keep_cache_reuses_data", case_keep_cache_reuses_data },
	{ "open_without_keep_cache_drops_it",
	  case_open_without_keep_cache_drops_it },
	{ "opens_share_the_cache", case_opens_share_the_cache },
	{ "direct_io_bypasses_the_cache", case_direct_io_bypasses_the_cache },
	{ "new_size_drops_the_cache", case_new_size_drops_the_cache },
	{ "new_mtime_drops_it_with_auto_inval_data",
	  case_new_mtime_drops_it_with_auto_inval_data },
	{ "new_mtime_keeps_it_without_auto_inval_data",
	  case_new_mtime_keeps_it_without_auto_inval_data },
	{ "inval_inode_drops_only_its_range",
	  case_inval_inode_drops_only_its_range },
	{ "store_fills_and_retrieve_answers",
	  case_store_fills_and_retrieve_answers },
	{ "writes_go_through_the_cache", case_writes_go_through_the_cache },
	{ "sequential_reads_read_ahead", case_sequential_reads_read_ahead },
	{ "memory_bound_holds", case_memory_bound_holds },
	{ "file_shorter_than_its_size", case_file_shorter_than_its_size },
	{ "read_error_mid_file", case_read_error_mid_file },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 30);
}
