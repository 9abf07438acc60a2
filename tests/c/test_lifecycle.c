/*
 * test_lifecycle.c - what a connection does over its life, seen from a
 * scripted server (fakesrv): INIT that never comes or fails, requests that
 * hang while others proceed, a server that dies, the in-flight bound, READ
 * splitting, lookup counts and FORGET, negative entries, attribute
 * timeouts and RELEASE.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

/* ---- calls on their own thread ------------------------------------- */

enum call_kind { C_STAT, C_OPEN_READ, C_STATFS, C_LIST, C_UNMOUNT };

struct call {
	pthread_t thread;
	enum call_kind kind;
	struct fb_fs *fs;
	const char *path;
	long ret;
	struct stat st;
	atomic_int done;
};

static void *call_thread(void *arg)
{
	struct call *c = arg;
	char buf[4096];
	struct statfs sfs;
	int fd;

	switch (c->kind) {
	case C_STAT:
		c->ret = fb_stat(c->fs, c->path, &c->st);
		break;
	case C_OPEN_READ:
		fd = fb_open(c->fs, c->path, O_RDONLY);
		c->ret = fd;
		if (fd >= 0) {
			c->ret = fb_read(c->fs, fd, buf, sizeof(buf));
			fb_close(c->fs, fd);
		}
		break;
	case C_STATFS:
		c->ret = fb_statfs(c->fs, c->path, &sfs);
		break;
	case C_LIST:
		fd = fb_open(c->fs, c->path, O_RDONLY | O_DIRECTORY);
		c->ret = fd;
		if (fd >= 0) {
			c->ret = fb_getdents64(c->fs, fd, buf, sizeof(buf));
			fb_close(c->fs, fd);
		}
		break;
	case C_UNMOUNT:
		c->ret = fb_unmount(c->fs);
		break;
	}
	atomic_store(&c->done, 1);
	return NULL;
}

static int call_start(struct call *c, enum call_kind kind, struct fb_fs *fs,
		      const char *path)
{
	c->kind = kind;
	c->fs = fs;
	c->path = path;
	c->ret = 0;
	atomic_store(&c->done, 0);
	return -pthread_create(&c->thread, NULL, call_thread, c);
}

/* Wait up to ms for the call; joined and 0 if it ended, else -ETIMEDOUT
 * (the thread is left running: the case is failing anyway). */
static int call_wait(struct call *c, int ms)
{
	uint64_t end = fakesrv_now_ms() + (uint64_t)ms;

	while (!atomic_load(&c->done)) {
		if (fakesrv_now_ms() >= end)
			return -ETIMEDOUT;
		fakesrv_sleep_ms(5);
	}
	pthread_join(c->thread, NULL);
	return 0;
}

static bool is_gone(long err)
{
	return err == -ECONNABORTED || err == -ENOTCONN;
}

/* ---- INIT ----------------------------------------------------------- */

static enum fakesrv_action hold_init(struct fakesrv *srv,
				     const struct fakesrv_req *r, void *arg)
{
	return r->h.opcode == FUSE_INIT ? FAKESRV_HOLD : FAKESRV_DEFAULT;
}

static struct fakesrv *small_tree(void)
{
	struct fakesrv *srv = fakesrv_new();
	uint64_t d;

	fakesrv_add(srv, FUSE_ROOT_ID, "a", S_IFREG | 0644, NULL, 100);
	fakesrv_add(srv, FUSE_ROOT_ID, "b", S_IFREG | 0644, NULL, 5000);
	d = fakesrv_add(srv, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL, 0);
	fakesrv_add(srv, d, "x", S_IFREG | 0644, NULL, 1);
	return srv;
}

/* INIT never answered: a caller waits; closing the server releases it. */
static int case_init_never_close(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call c;
	int err;

	FS_CHECK_EQ(fakesrv_mount(srv, hold_init, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(call_start(&c, C_STAT, fs, "/a"), 0);
	fakesrv_sleep_ms(300);
	FS_CHECK(!atomic_load(&c.done),
		 "fb_stat returned %ld before INIT was answered", c.ret);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_LOOKUP, 0, NULL), 0);
	fakesrv_close(srv);
	err = call_wait(&c, 3000);
	FS_CHECK(err == 0, "fb_stat still blocked 3 s after the server "
			   "closed its channel");
	FS_CHECK(is_gone(c.ret), "fb_stat: %ld, expected -ECONNABORTED or "
				 "-ENOTCONN", c.ret);
	FS_CHECK_EQ(fb_wait_init(fs), -ENOTCONN);
	FS_CHECK(fb_conn_error(fs) != NULL, "no reason given");
	FS_CHECK_EQ(call_start(&c, C_UNMOUNT, fs, NULL), 0);
	FS_CHECK(call_wait(&c, 3000) == 0, "fb_unmount hung");
	fakesrv_free(srv);
	return 0;
}

/* INIT answered late: a caller that came first waits, then succeeds. */
static int case_init_late(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call c;

	FS_CHECK_EQ(fakesrv_mount(srv, hold_init, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(call_start(&c, C_STAT, fs, "/b"), 0);
	FS_CHECK_EQ(fakesrv_wait_held(srv, 1, 2000), 0);
	fakesrv_sleep_ms(300);
	FS_CHECK(!atomic_load(&c.done),
		 "fb_stat returned %ld before INIT was answered", c.ret);
	FS_CHECK_EQ(fakesrv_release(srv, 0), 1);
	FS_CHECK(call_wait(&c, 3000) == 0, "fb_stat hangs after INIT");
	FS_CHECK_EQ(c.ret, 0);
	FS_CHECK_EQ(c.st.st_size, 5000);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

/* INIT never answered: fb_unmount releases a waiting caller. */
static int case_init_never_unmount(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call c, u;

	FS_CHECK_EQ(fakesrv_mount(srv, hold_init, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(call_start(&c, C_STAT, fs, "/a"), 0);
	fakesrv_sleep_ms(300);
	FS_CHECK(!atomic_load(&c.done),
		 "fb_stat returned %ld before INIT was answered", c.ret);
	FS_CHECK_EQ(call_start(&u, C_UNMOUNT, fs, NULL), 0);
	FS_CHECK(call_wait(&c, 3000) == 0,
		 "fb_stat still blocked 3 s after fb_unmount");
	FS_CHECK(c.ret < 0, "fb_stat: %ld, expected an error", c.ret);
	FS_CHECK(call_wait(&u, 3000) == 0, "fb_unmount hung");
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_LOOKUP, 0, NULL), 0);
	fakesrv_free(srv);
	return 0;
}

/* INIT never answered and nobody waiting: fb_unmount returns. */
static int case_unmount_before_init(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call u;

	FS_CHECK_EQ(fakesrv_mount(srv, hold_init, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fakesrv_wait_held(srv, 1, 2000), 0);
	FS_CHECK_EQ(call_start(&u, C_UNMOUNT, fs, NULL), 0);
	FS_CHECK(call_wait(&u, 3000) == 0, "fb_unmount hung");
	FS_CHECK(fakesrv_wait_closed(srv, 2000) == 0,
		 "the channel stayed open after fb_unmount");
	fakesrv_free(srv);
	return 0;
}

static enum fakesrv_action init_major8(struct fakesrv *srv,
				       const struct fakesrv_req *r, void *arg)
{
	unsigned char buf[256];
	struct fuse_init_out o;
	ssize_t n;

	if (r->h.opcode != FUSE_INIT)
		return FAKESRV_DEFAULT;
	n = fakesrv_build_reply(srv, r, buf, sizeof(buf));
	memcpy(&o, buf + sizeof(struct fuse_out_header), sizeof(o));
	o.major = 8;
	memcpy(buf + sizeof(struct fuse_out_header), &o, sizeof(o));
	fakesrv_reply_raw(srv, buf, (size_t)n);
	return FAKESRV_DONE;
}

static enum fakesrv_action init_error(struct fakesrv *srv,
				      const struct fakesrv_req *r, void *arg)
{
	if (r->h.opcode != FUSE_INIT)
		return FAKESRV_DEFAULT;
	fakesrv_reply(srv, r->h.unique, -EPROTO, NULL, 0);
	return FAKESRV_DONE;
}

static int refused(fakesrv_handler h)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct stat st;
	const char *why;
	char buf[64];

	FS_CHECK_EQ(fakesrv_mount(srv, h, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), -ECONNREFUSED);
	FS_CHECK_EQ(fb_stat(fs, "/a", &st), -ECONNREFUSED);
	FS_CHECK_EQ(fb_open(fs, "/a", O_RDONLY), -ECONNREFUSED);
	FS_CHECK_EQ(fb_readlinkat(fs, FB_AT_FDCWD, "/a", buf, sizeof(buf)),
		    -ECONNREFUSED);
	why = fb_conn_error(fs);
	FS_CHECK(why != NULL, "fb_conn_error() is NULL after a failed INIT");
	FS_CHECK(strlen(why) >= 10 && strchr(why, ' '),
		 "fb_conn_error() is not a sentence: \"%s\"", why);
	printf("fb_conn_error: %s\n", why);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_LOOKUP, 0, NULL), 0);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

static int case_init_major_8(void)
{
	return refused(init_major8);
}

static int case_init_error(void)
{
	return refused(init_error);
}

/* ---- one hung request ----------------------------------------------- */

static enum fakesrv_action hold_name(struct fakesrv *srv,
				     const struct fakesrv_req *r, void *arg)
{
	const char *name = arg;

	if (r->h.opcode == FUSE_LOOKUP && r->name && strcmp(r->name, name) == 0)
		return FAKESRV_HOLD;
	return FAKESRV_DEFAULT;
}

static int case_hung_request_others_proceed(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call hung, other[4];
	const enum call_kind kinds[4] = { C_STAT, C_OPEN_READ, C_STATFS,
					  C_LIST };
	const char *paths[4] = { "/a", "/b", "/", "/d" };

	fakesrv_add(srv, FUSE_ROOT_ID, "hang", S_IFREG | 0644, NULL, 7);
	FS_CHECK_EQ(fakesrv_mount(srv, hold_name, "hang", NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	FS_CHECK_EQ(call_start(&hung, C_STAT, fs, "/hang"), 0);
	FS_CHECK_EQ(fakesrv_wait_held(srv, 1, 2000), 0);
	for (int i = 0; i < 4; i++)
		FS_CHECK_EQ(call_start(&other[i], kinds[i], fs, paths[i]), 0);
	for (int i = 0; i < 4; i++) {
		FS_CHECK(call_wait(&other[i], 3000) == 0,
			 "call %d on %s blocked behind the hung request", i,
			 paths[i]);
		FS_CHECK(other[i].ret >= 0, "call %d on %s: %ld", i, paths[i],
			 other[i].ret);
	}
	FS_CHECK(!atomic_load(&hung.done),
		 "the hung fb_stat returned %ld with no reply", hung.ret);
	FS_CHECK_EQ(fakesrv_release(srv, 0), 1);
	FS_CHECK(call_wait(&hung, 3000) == 0, "the answered fb_stat hangs");
	FS_CHECK_EQ(hung.ret, 0);
	FS_CHECK_EQ(hung.st.st_size, 7);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

/* ---- a server that dies --------------------------------------------- */

static enum fakesrv_action die_on(struct fakesrv *srv,
				  const struct fakesrv_req *r, void *arg)
{
	if (r->h.opcode != FUSE_LOOKUP || !r->name)
		return FAKESRV_DEFAULT;
	if (strcmp(r->name, "slow") == 0)
		return FAKESRV_HOLD;
	if (strcmp(r->name, "die") == 0) {
		fakesrv_close(srv);
		return FAKESRV_DONE;
	}
	return FAKESRV_DEFAULT;
}

static int case_server_dies_mid_request(void)
{
	struct fakesrv *srv = small_tree();
	struct fb_fs *fs;
	struct call slow, u;
	struct statfs sfs;
	struct stat st;
	char buf[64];
	long ret;
	int fd;

	fakesrv_add(srv, FUSE_ROOT_ID, "slow", S_IFREG | 0644, NULL, 1);
	fakesrv_add(srv, FUSE_ROOT_ID, "die", S_IFREG | 0644, NULL, 1);
	FS_CHECK_EQ(fakesrv_mount(srv, die_on, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	fd = fb_open(fs, "/b", O_RDONLY);
	FS_CHECK(fd >= 0, "open /b: %d", fd);
	FS_CHECK_EQ(call_start(&slow, C_STAT, fs, "/slow"), 0);
	FS_CHECK_EQ(fakesrv_wait_held(srv, 1, 2000), 0);

	ret = fb_stat(fs, "/die", &st);
	FS_CHECK(is_gone(ret), "stat /die (server died): %ld, expected "
			       "-ECONNABORTED or -ENOTCONN", ret);
	FS_CHECK(call_wait(&slow, 3000) == 0,
		 "a request in flight when the server died still blocks");
	FS_CHECK(is_gone(slow.ret), "in-flight stat: %ld, expected "
				    "-ECONNABORTED or -ENOTCONN", slow.ret);

	FS_CHECK_EQ(fb_stat(fs, "/a", &st), -ENOTCONN);
	FS_CHECK_EQ(fb_open(fs, "/a", O_RDONLY), -ENOTCONN);
	FS_CHECK_EQ(fb_statfs(fs, "/", &sfs), -ENOTCONN);
	FS_CHECK_EQ(fb_read(fs, fd, buf, sizeof(buf)), -ENOTCONN);
	FS_CHECK_EQ(fb_wait_init(fs), -ENOTCONN);
	FS_CHECK(fb_conn_error(fs) != NULL, "no reason given");
	printf("fb_conn_error: %s\n", fb_conn_error(fs));
	fb_close(fs, fd);
	FS_CHECK_EQ(call_start(&u, C_UNMOUNT, fs, NULL), 0);
	FS_CHECK(call_wait(&u, 3000) == 0, "fb_unmount hung");
	fakesrv_free(srv);
	return 0;
}

/* ---- the in-flight bound -------------------------------------------- */

static atomic_int holding;

static enum fakesrv_action hold_lookups(struct fakesrv *srv,
					const struct fakesrv_req *r, void *arg)
{
	if (r->h.opcode == FUSE_LOOKUP && atomic_load(&holding))
		return FAKESRV_HOLD;
	return FAKESRV_DEFAULT;
}

static int case_bounded_inflight(void)
{
	struct fakesrv *srv = fakesrv_new();
	struct fb_options opts;
	struct fb_fs *fs;
	struct call calls[8];
	static char paths[8][16];
	uint64_t end;
	bool all;

	for (int i = 0; i < 8; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		snprintf(paths[i], sizeof(paths[i]), "/f%d", i);
		fakesrv_add(srv, FUSE_ROOT_ID, name, S_IFREG | 0644, NULL,
			    (size_t)i + 1);
	}
	fb_options_init(&opts);
	opts.max_inflight = 4;
	atomic_store(&holding, 1);
	FS_CHECK_EQ(fakesrv_mount(srv, hold_lookups, NULL, &opts, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	for (int i = 0; i < 8; i++)
		FS_CHECK_EQ(call_start(&calls[i], C_STAT, fs, paths[i]), 0);
	FS_CHECK(fakesrv_wait_held(srv, 4, 3000) == 0,
		 "only %d requests reached the server", fakesrv_nheld(srv));
	fakesrv_sleep_ms(300);
	FS_CHECK(fakesrv_max_outstanding(srv) <= 4,
		 "the server saw %d requests unanswered at once (limit 4)",
		 fakesrv_max_outstanding(srv));
	FS_CHECK_EQ(fakesrv_nheld(srv), 4);

	atomic_store(&holding, 0);
	end = fakesrv_now_ms() + 5000;
	do {
		fakesrv_release(srv, 0);
		all = true;
		for (int i = 0; i < 8; i++)
			all = all && atomic_load(&calls[i].done);
		if (!all)
			fakesrv_sleep_ms(5);
	} while (!all && fakesrv_now_ms() < end);
	FS_CHECK(all, "not every caller finished once the server answered");
	for (int i = 0; i < 8; i++) {
		FS_CHECK_EQ(call_wait(&calls[i], 1000), 0);
		FS_CHECK(calls[i].ret == 0 && calls[i].st.st_size == i + 1,
			 "stat %s: %ld, size %lld", paths[i], calls[i].ret,
			 (long long)calls[i].st.st_size);
	}
	FS_CHECK(fakesrv_max_outstanding(srv) <= 4,
		 "the server saw %d requests unanswered at once (limit 4)",
		 fakesrv_max_outstanding(srv));
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

/* ---- READ splitting -------------------------------------------------- */

/* The READs the server saw for nodeid, as "offset:size" sorted by offset. */
static void reads_of(struct fakesrv *srv, uint64_t nodeid, char *out,
		     size_t cap)
{
	struct fakesrv_rec *recs;
	size_t n = fakesrv_records(srv, &recs);
	uint64_t last = 0;
	bool first = true;

	out[0] = 0;
	for (;;) {
		const struct fakesrv_rec *best = NULL;

		for (size_t i = 0; i < n; i++) {
			const struct fakesrv_rec *r = &recs[i];

			if (r->opcode != FUSE_READ || r->nodeid != nodeid)
				continue;
			if (!first && r->offset <= last)
				continue;
			if (!best || r->offset < best->offset)
				best = r;
		}
		if (!best)
			break;
		snprintf(out + strlen(out), cap - strlen(out), "%s%llu:%u",
			 first ? "" : " ", (unsigned long long)best->offset,
			 best->size);
		last = best->offset;
		first = false;
	}
	free(recs);
}

static int check_pattern(const unsigned char *buf, size_t n, uint64_t nodeid)
{
	for (size_t i = 0; i < n; i++)
		FS_CHECK(buf[i] == fakesrv_pattern(nodeid, i),
			 "byte %zu: 0x%02x, expected 0x%02x", i, buf[i],
			 fakesrv_pattern(nodeid, i));
	return 0;
}

/* async: offer FUSE_ASYNC_READ, which lets the client keep several READs
 * of one read in flight; without it READs go one at a time. */
static int read_case(size_t file_size, ssize_t want, const char *want_reads,
		     bool async)
{
	struct fakesrv *srv = fakesrv_new();
	struct fb_options opts;
	struct fb_fs *fs;
	static unsigned char buf[10000];
	char reads[512];
	uint64_t id;
	ssize_t n;
	int fd;

	id = fakesrv_add(srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL,
			 file_size);
	/* direct_io: READs follow the caller's reads, not the page cache. */
	fakesrv_cfg(srv)->open_flags = FOPEN_DIRECT_IO;
	if (!async)
		fakesrv_cfg(srv)->init_flags &= ~(uint64_t)FUSE_ASYNC_READ;
	fb_options_init(&opts);
	opts.max_read = 4096;
	FS_CHECK_EQ(fakesrv_mount(srv, NULL, NULL, &opts, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	fd = fb_open(fs, "/f", O_RDONLY);
	FS_CHECK(fd >= 0, "open: %d", fd);
	n = fb_read(fs, fd, buf, sizeof(buf));
	FS_CHECK(n == want, "fb_read: %zd, expected %zd", n, want);
	if (check_pattern(buf, (size_t)n, id))
		return FS_FAIL;
	reads_of(srv, id, reads, sizeof(reads));
	FS_CHECK(strcmp(reads, want_reads) == 0,
		 "READs (offset:size) [%s], expected [%s]", reads, want_reads);
	if ((size_t)want < sizeof(buf)) {
		/* End of file: the next read returns 0. */
		n = fb_read(fs, fd, buf, sizeof(buf));
		FS_CHECK(n == 0, "fb_read at the end: %zd", n);
	}
	FS_CHECK_EQ(fb_close(fs, fd), 0);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

static int case_read_split(void)
{
	return read_case(20000, 10000, "0:4096 4096:4096 8192:1808", true);
}

static int case_read_split_serial(void)
{
	return read_case(20000, 10000, "0:4096 4096:4096 8192:1808", false);
}

/* 5000 bytes: the second READ comes back short, and that is the end. (With
 * ASYNC_READ a READ past it may already be in flight: only the serial
 * client can promise that none follows.) */
static int case_read_short_reply_ends(void)
{
	return read_case(5000, 5000, "0:4096 4096:4096", false);
}

/* ---- lookup counts and FORGET --------------------------------------- */

static int case_forget_counts(void)
{
	struct fakesrv *srv = fakesrv_new();
	struct fb_options opts;
	struct fb_fs *fs;
	struct stat st;
	char path[64];
	int nforget;
	uint64_t d;

	d = fakesrv_add(srv, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL, 0);
	for (int i = 0; i < 64; i++) {
		char name[16];

		snprintf(name, sizeof(name), "f%d", i);
		fakesrv_add(srv, FUSE_ROOT_ID, name, S_IFREG | 0644, NULL,
			    (size_t)i);
		fakesrv_add(srv, d, name, S_IFREG | 0644, NULL, (size_t)i);
	}
	fb_options_init(&opts);
	opts.max_dentries = 8;
	FS_CHECK_EQ(fakesrv_mount(srv, NULL, NULL, &opts, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 64; i++) {
			int j = (i * 7 + round * 13) % 64;

			snprintf(path, sizeof(path), "/f%d", j);
			FS_CHECK_EQ(fb_stat(fs, path, &st), 0);
			FS_CHECK_EQ(st.st_size, j);
			snprintf(path, sizeof(path), "/d/f%d", j);
			FS_CHECK_EQ(fb_stat(fs, path, &st), 0);
			FS_CHECK_EQ(st.st_size, j);
		}
	}
	/* FORGETs may trail the stats that caused them. */
	for (int waited = 0;; waited += 10) {
		nforget = fakesrv_count(srv, FUSE_FORGET, 0, NULL) +
			  fakesrv_count(srv, FUSE_BATCH_FORGET, 0, NULL);
		if (nforget > 0 || waited >= 1000)
			break;
		fakesrv_sleep_ms(10);
	}
	FS_CHECK(nforget > 0, "walking 128 names with max_dentries 8 sent no "
			      "FORGET or BATCH_FORGET (%d LOOKUPs)",
		 fakesrv_count(srv, FUSE_LOOKUP, 0, NULL));
	FS_CHECK(fakesrv_over_forgets(srv) == 0,
		 "%llu FORGETs went past the lookups the server answered",
		 (unsigned long long)fakesrv_over_forgets(srv));
	FS_CHECK_EQ(fakesrv_bad_forgets(srv), 0);

	FS_CHECK_EQ(fb_unmount(fs), 0);
	FS_CHECK(fakesrv_wait_count(srv, FUSE_DESTROY, 1, 2000) == 0,
		 "no DESTROY after fb_unmount");
	FS_CHECK(fakesrv_wait_closed(srv, 2000) == 0,
		 "the channel stayed open after fb_unmount");
	FS_CHECK(fakesrv_over_forgets(srv) == 0,
		 "%llu FORGETs went past the lookups the server answered",
		 (unsigned long long)fakesrv_over_forgets(srv));
	for (uint64_t id = 1; id <= fakesrv_max_nodeid(srv); id++)
		FS_CHECK(fakesrv_forgets(srv, id) <=
				 fakesrv_lookups(srv, id) + (id == 1),
			 "node %llu: forgotten %llu, looked up %llu",
			 (unsigned long long)id,
			 (unsigned long long)fakesrv_forgets(srv, id),
			 (unsigned long long)fakesrv_lookups(srv, id));
	printf("%d LOOKUPs, %d FORGET, %d BATCH_FORGET records\n",
	       fakesrv_count(srv, FUSE_LOOKUP, 0, NULL),
	       fakesrv_count(srv, FUSE_FORGET, 0, NULL),
	       fakesrv_count(srv, FUSE_BATCH_FORGET, 0, NULL));
	fakesrv_free(srv);
	return 0;
}

/* ---- negative entries and attribute timeouts ----------------------- */

static int negative(uint64_t valid_ms, int want_lookups)
{
	struct fakesrv *srv = fakesrv_new();
	struct fb_fs *fs;
	struct stat st;

	fakesrv_cfg(srv)->neg_entry = true;
	fakesrv_cfg(srv)->neg_valid_ms = valid_ms;
	FS_CHECK_EQ(fakesrv_mount(srv, NULL, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	FS_CHECK_EQ(fb_stat(fs, "/missing", &st), -ENOENT);
	FS_CHECK_EQ(fb_stat(fs, "/missing", &st), -ENOENT);
	FS_CHECK(fakesrv_count(srv, FUSE_LOOKUP, 0, "missing") == want_lookups,
		 "%d LOOKUPs of the missing name with entry_valid %llu ms, "
		 "expected %d", fakesrv_count(srv, FUSE_LOOKUP, 0, "missing"),
		 (unsigned long long)valid_ms, want_lookups);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

static int case_negative_entry_cached(void)
{
	return negative(10000, 1);
}

static int case_negative_entry_timeout_zero(void)
{
	return negative(0, 2);
}

static int attr_case(uint64_t attr_valid_ms)
{
	struct fakesrv *srv = fakesrv_new();
	struct fb_fs *fs;
	struct stat st;
	uint64_t id;
	int g0, l0;

	id = fakesrv_add(srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL, 42);
	fakesrv_cfg(srv)->entry_valid_ms = 10000;
	fakesrv_cfg(srv)->attr_valid_ms = attr_valid_ms;
	FS_CHECK_EQ(fakesrv_mount(srv, NULL, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	FS_CHECK_EQ(fb_stat(fs, "/f", &st), 0);
	FS_CHECK_EQ(st.st_size, 42);
	g0 = fakesrv_count(srv, FUSE_GETATTR, id, NULL);
	l0 = fakesrv_count(srv, FUSE_LOOKUP, 0, "f");
	for (int i = 0; i < 5; i++) {
		int before = fakesrv_count(srv, FUSE_GETATTR, id, NULL);

		FS_CHECK_EQ(fb_stat(fs, "/f", &st), 0);
		FS_CHECK_EQ(st.st_size, 42);
		if (attr_valid_ms == 0)
			FS_CHECK(fakesrv_count(srv, FUSE_GETATTR, id, NULL) >
					 before,
				 "stat %d with attr_valid 0 sent no GETATTR",
				 i + 2);
	}
	if (attr_valid_ms)
		FS_CHECK(fakesrv_count(srv, FUSE_GETATTR, id, NULL) == g0,
			 "%d GETATTRs within attr_valid",
			 fakesrv_count(srv, FUSE_GETATTR, id, NULL) - g0);
	FS_CHECK(fakesrv_count(srv, FUSE_LOOKUP, 0, "f") == l0,
		 "%d LOOKUPs within entry_valid",
		 fakesrv_count(srv, FUSE_LOOKUP, 0, "f") - l0);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

static int case_attr_timeout_cached(void)
{
	return attr_case(10000);
}

static int case_attr_timeout_zero(void)
{
	return attr_case(0);
}

/* ---- RELEASE --------------------------------------------------------- */

static enum fakesrv_action hold_release(struct fakesrv *srv,
					const struct fakesrv_req *r, void *arg)
{
	return r->h.opcode == FUSE_RELEASE ? FAKESRV_HOLD : FAKESRV_DEFAULT;
}

struct closer {
	struct fb_fs *fs;
	int fd, ret;
	atomic_int done;
};

static void *close_thread(void *arg)
{
	struct closer *c = arg;

	c->ret = fb_close(c->fs, c->fd);
	atomic_store(&c->done, 1);
	return NULL;
}

static int case_release_does_not_block(void)
{
	struct fakesrv *srv = fakesrv_new();
	struct fakesrv_req *rel;
	struct closer c = { 0 };
	struct fb_fs *fs;
	pthread_t t;
	uint64_t id, end;
	char buf[16];

	id = fakesrv_add(srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL, 10);
	FS_CHECK_EQ(fakesrv_mount(srv, hold_release, NULL, NULL, &fs), 0);
	FS_CHECK_EQ(fb_wait_init(fs), 0);
	c.fs = fs;
	c.fd = fb_open(fs, "/f", O_RDONLY);
	FS_CHECK(c.fd >= 0, "open: %d", c.fd);
	FS_CHECK_EQ(fb_read(fs, c.fd, buf, sizeof(buf)), 10);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_RELEASE, 0, NULL), 0);
	FS_CHECK_EQ(pthread_create(&t, NULL, close_thread, &c), 0);
	end = fakesrv_now_ms() + 1000;
	while (!atomic_load(&c.done) && fakesrv_now_ms() < end)
		fakesrv_sleep_ms(5);
	FS_CHECK(atomic_load(&c.done),
		 "fb_close waits for the server's RELEASE reply");
	pthread_join(t, NULL);
	FS_CHECK_EQ(c.ret, 0);
	FS_CHECK(fakesrv_wait_held(srv, 1, 2000) == 0,
		 "no RELEASE after fb_close");
	rel = fakesrv_take_held(srv);
	FS_CHECK(rel->h.nodeid == id && rel->fh == 0x1000 + id,
		 "RELEASE for node %llu fh 0x%llx, expected node %llu fh "
		 "0x%llx", (unsigned long long)rel->h.nodeid,
		 (unsigned long long)rel->fh, (unsigned long long)id,
		 (unsigned long long)(0x1000 + id));
	/* The late reply is taken in stride. */
	fakesrv_sleep_ms(100);
	fakesrv_reply(srv, rel->h.unique, 0, NULL, 0);
	fakesrv_req_free(rel);
	FS_CHECK_EQ(fb_read(fs, c.fd, buf, sizeof(buf)), -EBADF);
	c.fd = fb_open(fs, "/f", O_RDONLY);
	FS_CHECK(c.fd >= 0, "open again: %d", c.fd);
	FS_CHECK_EQ(fb_close(fs, c.fd), 0);
	fakesrv_wait_held(srv, 1, 2000);
	fakesrv_release(srv, 0);
	FS_CHECK(fb_conn_error(fs) == NULL, "%s", fb_conn_error(fs));
	FS_CHECK_EQ(fb_unmount(fs), 0);
	fakesrv_free(srv);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "init_answered_late", case_init_late },
	{ "init_never_answered_close", case_init_never_close },
	{ "init_never_answered_unmount", case_init_never_unmount },
	{ "unmount_before_init", case_unmount_before_init },
	{ "init_major_8", case_init_major_8 },
	{ "init_error", case_init_error },
	{ "hung_request_others_proceed", case_hung_request_others_proceed },
	{ "server_dies_mid_request", case_server_dies_mid_request },
	{ "bounded_inflight", case_bounded_inflight },
	{ "read_split", case_read_split },
	{ "read_split_serial", case_read_split_serial },
	{ "read_short_reply_ends", case_read_short_reply_ends },
	{ "forget_counts", case_forget_counts },
	{ "negative_entry_cached", case_negative_entry_cached },
	{ "negative_entry_timeout_zero", case_negative_entry_timeout_zero },
	{ "attr_timeout_cached", case_attr_timeout_cached },
	{ "attr_timeout_zero", case_attr_timeout_zero },
	{ "release_does_not_block", case_release_does_not_block },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 15);
}
