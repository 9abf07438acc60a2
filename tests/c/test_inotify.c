/*
 * test_inotify.c - fb_inotify's rules, on a scripted server (fakesrv):
 * add_watch's masks and errors, one wd for two hard links, whole events
 * only (EINVAL for a small buffer), EAGAIN, coalescing, the queue limit's
 * single IN_Q_OVERFLOW, IN_ONESHOT, rm_watch, the pollable descriptor,
 * FIONREAD, a FIFO's data events, a watched inode kept (no FORGET)
 * however many dentries go, IN_UNMOUNT at fb_unmount, the per-user watch
 * limit.
 *
 * The events used are those a read-only server allows: open, read, close
 * and getdents. Where a rule is Linux's to decide, the case runs the same
 * calls on the kernel's inotify over a local copy of the tree too, and
 * both must give what the case expects. Small limits come from the
 * FUSEBOX_INOTIFY_* environment variables (vfs/inotify.c), set before
 * the first instance.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

#define NFILES 16
#define EV 16 /* sizeof(struct inotify_event) */

/* ---- the tree: /d, /d/f (100 bytes), /d/f0../d/f15, /d/p a FIFO, /d/h
 * a second name of /d/f (served by hand: fakesrv makes a node per name) */

static uint64_t node_f;

static enum fakesrv_action hard_link(struct fakesrv *srv,
				     const struct fakesrv_req *r, void *arg)
{
	struct fuse_entry_out e;

	(void)arg;
	if (r->h.opcode != FUSE_LOOKUP || !r->name || strcmp(r->name, "h"))
		return FAKESRV_DEFAULT;
	fakesrv_entry(srv, node_f, &e);
	fakesrv_note_lookup(srv, node_f, 1);
	fakesrv_reply(srv, r->h.unique, 0, &e, sizeof(e));
	return FAKESRV_DONE;
}

static int mount_tree(struct fakesrv **srv, struct fb_fs **fs,
		      uint32_t max_dentries)
{
	struct fb_options o;
	uint64_t d;

	*srv = fakesrv_new();
	d = fakesrv_add(*srv, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL, 0);
	node_f = fakesrv_add(*srv, d, "f", S_IFREG | 0644, NULL, 100);
	for (int i = 0; i < NFILES; i++) {
		char name[8];

		snprintf(name, sizeof(name), "f%d", i);
		fakesrv_add(*srv, d, name, S_IFREG | 0644, NULL, 10);
	}
	fakesrv_add(*srv, d, "p", S_IFIFO | 0644, NULL, 0);
	fb_options_init(&o);
	o.max_dentries = max_dentries;
	if (fakesrv_mount(*srv, hard_link, NULL, &o, fs) ||
	    fb_wait_init(*fs)) {
		fprintf(stderr, "mount of the fake server failed\n");
		return FS_FAIL;
	}
	return 0;
}

/* The same tree, local: for the kernel's inotify. */
static int native_tree(char *top, size_t size)
{
	char p[PATH_MAX + 16], q[PATH_MAX + 16], data[100] = { 0 };
	int fd;

	snprintf(top, size, "%s", "/tmp/fbinotify.XXXXXX");
	if (!mkdtemp(top))
		return -1;
	snprintf(p, sizeof(p), "%s/d", top);
	if (mkdir(p, 0755))
		return -1;
	for (int i = -1; i < NFILES; i++) {
		if (i < 0)
			snprintf(p, sizeof(p), "%s/d/f", top);
		else
			snprintf(p, sizeof(p), "%s/d/f%d", top, i);
		fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, data, i < 0 ? 100 : 10) < 0)
			return -1;
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/d/p", top);
	if (mkfifo(p, 0644))
		return -1;
	snprintf(p, sizeof(p), "%s/d/f", top);
	snprintf(q, sizeof(q), "%s/d/h", top);
	return link(p, q);
}

static void native_tree_free(const char *top)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	if (system(cmd)) {
		/* a temporary directory left behind */
	}
}

/* ---- one client: fusebox (fs set) or the kernel (under top) ---------- */

struct side {
	struct fb_fs *fs;
	struct fb_inotify *in;
	int nfd;
	char top[PATH_MAX];
};

static const char *at(struct side *s, const char *path)
{
	static char buf[2 * PATH_MAX];

	if (s->fs)
		return path;
	snprintf(buf, sizeof(buf), "%s%s", s->top, path);
	return buf;
}

static int s_init(struct side *s, int flags)
{
	if (s->fs)
		return fb_inotify_init1(flags, &s->in);
	s->nfd = inotify_init1(flags | IN_CLOEXEC);
	return s->nfd < 0 ? -errno : 0;
}

static void s_close(struct side *s)
{
	if (s->fs)
		fb_inotify_close(s->in);
	else
		close(s->nfd);
}

static int s_add(struct side *s, const char *path, uint32_t mask)
{
	int r;

	if (s->fs)
		return fb_inotify_add_watch(s->in, s->fs, path, mask);
	r = inotify_add_watch(s->nfd, at(s, path), mask);
	return r < 0 ? -errno : r;
}

static int s_rm(struct side *s, int wd)
{
	if (s->fs)
		return fb_inotify_rm_watch(s->in, wd);
	return inotify_rm_watch(s->nfd, wd) < 0 ? -errno : 0;
}

static ssize_t s_read(struct side *s, void *buf, size_t n)
{
	ssize_t r;

	if (s->fs)
		return fb_inotify_read(s->in, buf, n);
	r = read(s->nfd, buf, n);
	return r < 0 ? -errno : r;
}

static int s_open(struct side *s, const char *path, int flags)
{
	int r;

	if (s->fs)
		return fb_open(s->fs, path, flags);
	r = open(at(s, path), flags | O_CLOEXEC);
	return r < 0 ? -errno : r;
}

static void s_fclose(struct side *s, int fd)
{
	if (s->fs)
		fb_close(s->fs, fd);
	else
		close(fd);
}

static ssize_t s_fread(struct side *s, int fd, void *buf, size_t n)
{
	ssize_t r;

	if (s->fs)
		return fb_read(s->fs, fd, buf, n);
	r = read(fd, buf, n);
	return r < 0 ? -errno : r;
}

/* open, read a byte, close: IN_OPEN, IN_ACCESS, IN_CLOSE_NOWRITE. */
static int s_touch(struct side *s, const char *path)
{
	char c;
	int fd = s_open(s, path, O_RDONLY);

	if (fd < 0)
		return fd;
	if (s_fread(s, fd, &c, 1) != 1)
		return -EIO;
	s_fclose(s, fd);
	return 0;
}

/* The events queued, read whole (the instance is non-blocking), as
 * "MASK[:name] ..." with masks by short name and wds as "#k" for the
 * k-th of wds. */
static void s_events(struct side *s, const int *wds, int nwd, char *out,
		     size_t size)
{
	static const char *const names[] = {
		"ACCESS", "MODIFY", "ATTRIB", "CLOSE_WRITE", "CLOSE_NOWRITE",
		"OPEN", "MOVED_FROM", "MOVED_TO", "CREATE", "DELETE",
		"DELETE_SELF", "MOVE_SELF", "", "UNMOUNT", "Q_OVERFLOW",
		"IGNORED",
	};
	char buf[8192] __attribute__((aligned(8)));
	size_t len = 0;
	ssize_t n;

	out[0] = '\0';
	while ((n = s_read(s, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (void *)p;
			int k = 0;

			while (k < nwd && wds[k] != e->wd)
				k++;
			len += (size_t)snprintf(out + len, size - len, "%s#%d",
						len ? " " : "",
						e->wd == -1 ? -1 : k);
			for (int b = 0; b < 16; b++)
				if (e->mask & (1u << b))
					len += (size_t)snprintf(
						out + len, size - len, ":%s",
						names[b]);
			if (e->mask & IN_ISDIR)
				len += (size_t)snprintf(out + len, size - len,
							":ISDIR");
			if (e->len)
				len += (size_t)snprintf(out + len, size - len,
							":%s", e->name);
			p += EV + e->len;
			if (len >= size)
				return;
		}
	}
}

/* Run body on fusebox over the fake server and on the kernel: each must
 * return 0. */
static int both(int (*body)(struct side *s, const char *who), int flags)
{
	struct fakesrv *srv;
	struct side s[2];
	int rc;

	memset(s, 0, sizeof(s));
	if (mount_tree(&srv, &s[0].fs, 0))
		return FS_FAIL;
	FS_CHECK(native_tree(s[1].top, sizeof(s[1].top)) == 0,
		 "native tree: %s", strerror(errno));
	for (int k = 0; k < 2; k++) {
		FS_CHECK_EQ(s_init(&s[k], flags), 0);
		rc = body(&s[k], k ? "kernel" : "fusebox");
		s_close(&s[k]);
		if (rc)
			break;
	}
	native_tree_free(s[1].top);
	fb_unmount(s[0].fs);
	fakesrv_free(srv);
	return rc;
}

#define SIDE_CHECK_EQ(who, got, want)                                        \
	do {                                                                 \
		long long got_ = (long long)(got);                           \
		long long want_ = (long long)(want);                         \
		FS_CHECK(got_ == want_, "%s: %s = %lld, expected %lld", who, \
			 #got, got_, want_);                                 \
	} while (0)

#define SIDE_CHECK_STR(who, got, want)                                       \
	FS_CHECK(!strcmp(got, want), "%s: events\n    %s\n  expected\n    %s", \
		 who, got, want)

/* ---- add_watch ------------------------------------------------------ */

static int body_hard_link(struct side *s, const char *who)
{
	char ev[1024];
	int wd = s_add(s, "/d/f", IN_ALL_EVENTS), wds[1];

	SIDE_CHECK_EQ(who, wd > 0, 1);
	/* The other name, the same inode: the same watch, its mask
	 * replaced (no IN_OPEN now), seeing the calls by either name. */
	SIDE_CHECK_EQ(who, s_add(s, "/d/h", IN_ACCESS | IN_CLOSE_NOWRITE),
		      wd);
	wds[0] = wd;
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	SIDE_CHECK_EQ(who, s_touch(s, "/d/h"), 0);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev,
		       "#0:ACCESS #0:CLOSE_NOWRITE #0:ACCESS #0:CLOSE_NOWRITE");
	return 0;
}

static int case_hard_links_one_wd(void)
{
	return both(body_hard_link, IN_NONBLOCK);
}

static int body_mask_create(struct side *s, const char *who)
{
	int wd = s_add(s, "/d/f", IN_OPEN);

	SIDE_CHECK_EQ(who, wd > 0, 1);
	SIDE_CHECK_EQ(who, s_add(s, "/d/f", IN_ACCESS | IN_MASK_CREATE),
		      -EEXIST);
	SIDE_CHECK_EQ(who, s_add(s, "/d/h", IN_ACCESS | IN_MASK_CREATE),
		      -EEXIST);
	SIDE_CHECK_EQ(who, s_add(s, "/d", IN_ACCESS | IN_MASK_CREATE) > wd,
		      1);
	return 0;
}

static int case_mask_create_eexist(void)
{
	return both(body_mask_create, IN_NONBLOCK);
}

static int body_mask_add_create(struct side *s, const char *who)
{
	uint32_t m = IN_ALL_EVENTS | IN_MASK_ADD | IN_MASK_CREATE;

	SIDE_CHECK_EQ(who, s_add(s, "/d/f", m), -EINVAL);
	/* Before the path is looked at. */
	SIDE_CHECK_EQ(who, s_add(s, "/d/missing", m), -EINVAL);
	return 0;
}

static int case_mask_add_and_create_einval(void)
{
	return both(body_mask_add_create, IN_NONBLOCK);
}

static int body_no_bits(struct side *s, const char *who)
{
	char ev[1024];
	int wd, wds[1];

	SIDE_CHECK_EQ(who, s_add(s, "/d/f", 0), -EINVAL);
	SIDE_CHECK_EQ(who, s_add(s, "/d/missing", 0), -EINVAL);
	/* No bit inotify knows (0x1000 is unused). */
	SIDE_CHECK_EQ(who, s_add(s, "/d/f", 0x1000), -EINVAL);
	/* Flags only are valid (Linux checks ALL_INOTIFY_BITS): a watch
	 * that reports nothing but IN_IGNORED. */
	wd = s_add(s, "/d/f", IN_ONESHOT | IN_EXCL_UNLINK);
	SIDE_CHECK_EQ(who, wd > 0, 1);
	wds[0] = wd;
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	SIDE_CHECK_EQ(who, s_rm(s, wd), 0);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev, "#0:IGNORED");
	return 0;
}

static int case_mask_without_events(void)
{
	return both(body_no_bits, IN_NONBLOCK);
}

static int body_onlydir(struct side *s, const char *who)
{
	SIDE_CHECK_EQ(who, s_add(s, "/d/f", IN_ALL_EVENTS | IN_ONLYDIR),
		      -ENOTDIR);
	SIDE_CHECK_EQ(who, s_add(s, "/d", IN_ALL_EVENTS | IN_ONLYDIR) > 0, 1);
	SIDE_CHECK_EQ(who, s_add(s, "/d/missing", IN_ALL_EVENTS | IN_ONLYDIR),
		      -ENOENT);
	return 0;
}

static int case_onlydir_enotdir(void)
{
	return both(body_onlydir, IN_NONBLOCK);
}

/* ---- reading -------------------------------------------------------- */

static int body_small_buffer(struct side *s, const char *who)
{
	char buf[256] __attribute__((aligned(8)));
	struct inotify_event *e = (void *)buf;
	int wd = s_add(s, "/d", IN_ALL_EVENTS);

	SIDE_CHECK_EQ(who, wd > 0, 1);
	/* Three events on "f": 16 bytes and the name padded to 16. */
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	SIDE_CHECK_EQ(who, s_read(s, buf, 0), -EINVAL);
	SIDE_CHECK_EQ(who, s_read(s, buf, EV), -EINVAL);
	SIDE_CHECK_EQ(who, s_read(s, buf, 2 * EV - 1), -EINVAL);
	/* Whole events only, as many as fit. */
	SIDE_CHECK_EQ(who, s_read(s, buf, 4 * EV - 1), 2 * EV);
	SIDE_CHECK_EQ(who, e->mask, IN_OPEN);
	SIDE_CHECK_EQ(who, e->len, EV);
	SIDE_CHECK_EQ(who, strcmp(e->name, "f"), 0);
	SIDE_CHECK_EQ(who, s_read(s, buf, sizeof(buf)), 4 * EV);
	SIDE_CHECK_EQ(who, e->mask, IN_ACCESS);
	e = (void *)(buf + 2 * EV);
	SIDE_CHECK_EQ(who, e->mask, IN_CLOSE_NOWRITE);
	SIDE_CHECK_EQ(who, s_read(s, buf, sizeof(buf)), -EAGAIN);
	return 0;
}

static int case_small_buffer_einval(void)
{
	return both(body_small_buffer, IN_NONBLOCK);
}

struct reader {
	struct fb_inotify *in;
	ssize_t n;
	uint64_t ms;
};

static void *read_thread(void *arg)
{
	struct reader *r = arg;
	char buf[512];
	uint64_t t0 = fakesrv_now_ms();

	r->n = fb_inotify_read(r->in, buf, sizeof(buf));
	r->ms = fakesrv_now_ms() - t0;
	return NULL;
}

static int case_nonblock_eagain(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	struct reader r = { 0 };
	pthread_t t;
	char buf[512];

	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), -EAGAIN);
	fb_inotify_close(in);
	/* Without IN_NONBLOCK a read waits for the first event. */
	FS_CHECK_EQ(fb_inotify_init1(0, &in), 0);
	FS_CHECK(fb_inotify_add_watch(in, fs, "/d/f", IN_OPEN) > 0, "watch");
	r.in = in;
	pthread_create(&t, NULL, read_thread, &r);
	fakesrv_sleep_ms(300);
	FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f", O_RDONLY)), 0);
	pthread_join(t, NULL);
	FS_CHECK_EQ(r.n, EV);
	FS_CHECK(r.ms >= 250, "the read returned after %llu ms, before the "
			      "event", (unsigned long long)r.ms);
	fb_inotify_close(in);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

static int body_coalesce(struct side *s, const char *who)
{
	char ev[1024], c;
	int wd = s_add(s, "/d", IN_ALL_EVENTS), fd, wds[1];

	wds[0] = wd;
	/* Identical consecutive events merge; others do not. */
	fd = s_open(s, "/d/f", O_RDONLY);
	for (int i = 0; i < 3; i++)
		SIDE_CHECK_EQ(who, s_fread(s, fd, &c, 1), 1);
	s_fclose(s, fd);
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f0"), 0);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev,
		       "#0:OPEN:f #0:ACCESS:f #0:CLOSE_NOWRITE:f #0:OPEN:f "
		       "#0:ACCESS:f #0:CLOSE_NOWRITE:f #0:OPEN:f0 "
		       "#0:ACCESS:f0 #0:CLOSE_NOWRITE:f0");
	/* An event read is not merged with. */
	fd = s_open(s, "/d/f", O_RDONLY);
	SIDE_CHECK_EQ(who, s_fread(s, fd, &c, 1), 1);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_EQ(who, s_fread(s, fd, &c, 1), 1);
	SIDE_CHECK_EQ(who, s_fread(s, fd, &c, 1), 1);
	s_fclose(s, fd);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev, "#0:ACCESS:f #0:CLOSE_NOWRITE:f");
	return 0;
}

static int case_coalescing(void)
{
	return both(body_coalesce, IN_NONBLOCK);
}

/* max_queued_events 4: four events, then one IN_Q_OVERFLOW (wd -1, no
 * name, no cookie) however many more come; counted in FIONREAD; once
 * read, events queue again. */
static int case_queue_overflow(void)
{
	char buf[4096] __attribute__((aligned(8)));
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	struct inotify_event *e;
	ssize_t n;
	int wd;

	setenv("FUSEBOX_INOTIFY_MAX_QUEUED_EVENTS", "4", 1);
	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	wd = fb_inotify_add_watch(in, fs, "/d", IN_ALL_EVENTS);
	FS_CHECK(wd > 0, "add_watch: %d", wd);
	for (int i = 0; i < NFILES; i++) {
		char p[16];
		int fd;

		snprintf(p, sizeof(p), "/d/f%d", i);
		fd = fb_open(fs, p, O_RDONLY);
		FS_CHECK(fd >= 0, "open %s: %d", p, fd);
		fb_close(fs, fd);
	}
	/* OPEN f0, CLOSE f0, OPEN f1, CLOSE f1 (32 bytes each), then the
	 * overflow (16). */
	FS_CHECK_EQ(fb_inotify_nread(in), 4 * 2 * EV + EV);
	n = fb_inotify_read(in, buf, sizeof(buf));
	FS_CHECK_EQ(n, 4 * 2 * EV + EV);
	e = (void *)(buf + 3 * 2 * EV);
	FS_CHECK_EQ(e->mask, IN_CLOSE_NOWRITE);
	FS_CHECK_EQ(strcmp(e->name, "f1"), 0);
	e = (void *)(buf + 4 * 2 * EV);
	FS_CHECK_EQ(e->wd, -1);
	FS_CHECK_EQ(e->mask, IN_Q_OVERFLOW);
	FS_CHECK_EQ(e->cookie, 0);
	FS_CHECK_EQ(e->len, 0);
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), -EAGAIN);
	FS_CHECK_EQ(fb_inotify_nread(in), 0);
	FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f", O_RDONLY)), 0);
	n = fb_inotify_read(in, buf, sizeof(buf));
	FS_CHECK_EQ(n, 2 * 2 * EV);
	e = (void *)buf;
	FS_CHECK_EQ(e->wd, wd);
	FS_CHECK_EQ(e->mask, IN_OPEN);
	fb_inotify_close(in);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

/* A FIFO's reads and writes reach its own watch, not its directory's;
 * its open and close reach both. */
static int body_fifo(struct side *s, const char *who)
{
	char ev[1024], c;
	int wds[2], fd;

	wds[0] = s_add(s, "/d", IN_ALL_EVENTS);
	wds[1] = s_add(s, "/d/p", IN_ALL_EVENTS);
	SIDE_CHECK_EQ(who, wds[1] > wds[0], 1);
	fd = s_open(s, "/d/p", O_RDWR | O_NONBLOCK);
	SIDE_CHECK_EQ(who, fd >= 0, 1);
	if (s->fs)
		SIDE_CHECK_EQ(who, fb_write(s->fs, fd, "xy", 2), 2);
	else
		SIDE_CHECK_EQ(who, write(fd, "xy", 2), 2);
	SIDE_CHECK_EQ(who, s_fread(s, fd, &c, 1), 1);
	s_fclose(s, fd);
	s_events(s, wds, 2, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev,
		       "#0:OPEN:p #1:OPEN #1:MODIFY #1:ACCESS "
		       "#0:CLOSE_WRITE:p #1:CLOSE_WRITE");
	return 0;
}

static int case_fifo_io_own_watch_only(void)
{
	return both(body_fifo, IN_NONBLOCK);
}

/* ---- watches going -------------------------------------------------- */

static int body_oneshot(struct side *s, const char *who)
{
	char ev[1024];
	int wd = s_add(s, "/d/f", IN_ACCESS | IN_CLOSE | IN_ONESHOT), wds[2];

	wds[0] = wd;
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev, "#0:ACCESS #0:IGNORED");
	SIDE_CHECK_EQ(who, s_rm(s, wd), -EINVAL);
	/* A new watch, a new number. */
	wds[1] = s_add(s, "/d/f", IN_ACCESS);
	SIDE_CHECK_EQ(who, wds[1] > wd, 1);
	return 0;
}

static int case_oneshot(void)
{
	return both(body_oneshot, IN_NONBLOCK);
}

static int body_rm_watch(struct side *s, const char *who)
{
	char ev[1024];
	int wd = s_add(s, "/d", IN_ALL_EVENTS), wds[1];

	wds[0] = wd;
	SIDE_CHECK_EQ(who, s_rm(s, wd), 0);
	SIDE_CHECK_EQ(who, s_rm(s, wd), -EINVAL);
	SIDE_CHECK_EQ(who, s_rm(s, wd + 100), -EINVAL);
	SIDE_CHECK_EQ(who, s_rm(s, -1), -EINVAL);
	SIDE_CHECK_EQ(who, s_touch(s, "/d/f"), 0);
	s_events(s, wds, 1, ev, sizeof(ev));
	SIDE_CHECK_STR(who, ev, "#0:IGNORED");
	return 0;
}

static int case_rm_watch_ignored(void)
{
	return both(body_rm_watch, IN_NONBLOCK);
}

/* ---- readiness and FIONREAD ------------------------------------------ */

static int readable(struct fb_inotify *in)
{
	struct pollfd p = { .fd = fb_inotify_fd(in), .events = POLLIN };

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static int case_fd_polls_while_queued(void)
{
	char buf[512];
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;

	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	FS_CHECK(fb_inotify_fd(in) >= 0, "fd %d", fb_inotify_fd(in));
	FS_CHECK(fb_inotify_add_watch(in, fs, "/d", IN_ALL_EVENTS) > 0, "w");
	FS_CHECK_EQ(readable(in), 0);
	FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f", O_RDONLY)), 0);
	FS_CHECK_EQ(readable(in), 1);
	FS_CHECK_EQ(readable(in), 1); /* polling takes nothing */
	FS_CHECK_EQ(fb_inotify_read(in, buf, 2 * EV), 2 * EV);
	FS_CHECK_EQ(readable(in), 1); /* the close event is left */
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), 2 * EV);
	FS_CHECK_EQ(readable(in), 0);
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), -EAGAIN);
	FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f0", O_RDONLY)), 0);
	FS_CHECK_EQ(readable(in), 1);
	fb_inotify_close(in);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

static int case_fionread_counts_bytes(void)
{
	char buf[512];
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	int wd;

	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	FS_CHECK_EQ(fb_inotify_nread(in), 0);
	wd = fb_inotify_add_watch(in, fs, "/d", IN_ALL_EVENTS);
	FS_CHECK(wd > 0, "add_watch %d", wd);
	FS_CHECK(fb_inotify_add_watch(in, fs, "/d/f", IN_ALL_EVENTS) > wd,
		 "add_watch");
	/* Each event twice: the directory's with "f" (32 bytes), the
	 * file's own without a name (16). */
	FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f", O_RDONLY)), 0);
	FS_CHECK_EQ(fb_inotify_nread(in), 2 * (2 * EV + EV));
	FS_CHECK_EQ(fb_inotify_read(in, buf, 2 * EV + EV), 2 * EV + EV);
	FS_CHECK_EQ(fb_inotify_nread(in), 2 * EV + EV);
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), 2 * EV + EV);
	FS_CHECK_EQ(fb_inotify_nread(in), 0);
	fb_inotify_close(in);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

/* ---- the watched inode stays ---------------------------------------- */

/* With 4 dentries at most, walking 16 names evicts the watched file's
 * dentry over and over: its inode must stay (no FORGET, which would let
 * the server reuse the node), and its events keep coming on the same wd.
 * Once the watch goes, the inode may go. */
static int case_watched_inode_not_forgotten(void)
{
	char buf[512] __attribute__((aligned(8)));
	struct inotify_event *e = (void *)buf;
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	struct stat st;
	int wd;

	if (mount_tree(&srv, &fs, 4))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	wd = fb_inotify_add_watch(in, fs, "/d/f", IN_OPEN | IN_ACCESS);
	FS_CHECK(wd > 0, "add_watch %d", wd);
	for (int round = 0; round < 4; round++) {
		for (int i = 0; i < NFILES; i++) {
			char p[16];

			snprintf(p, sizeof(p), "/d/f%d", i);
			FS_CHECK_EQ(fb_stat(fs, p, &st), 0);
		}
		FS_CHECK_EQ(fakesrv_forgets(srv, node_f), 0);
		FS_CHECK_EQ(fb_stat(fs, "/d/f", &st), 0);
		FS_CHECK_EQ(fb_close(fs, fb_open(fs, "/d/f", O_RDONLY)), 0);
		FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), EV);
		FS_CHECK_EQ(e->wd, wd);
		FS_CHECK_EQ(e->mask, IN_OPEN);
	}
	/* Other nodes were forgotten meanwhile: the eviction was real. */
	FS_CHECK(fakesrv_count(srv, FUSE_FORGET, 0, NULL) +
			 fakesrv_count(srv, FUSE_BATCH_FORGET, 0, NULL) > 0,
		 "no FORGET at all: nothing was evicted");
	FS_CHECK_EQ(fakesrv_forgets(srv, node_f), 0);
	FS_CHECK_EQ(fb_inotify_rm_watch(in, wd), 0);
	for (int i = 0; i < NFILES; i++) {
		char p[16];

		snprintf(p, sizeof(p), "/d/f%d", i);
		FS_CHECK_EQ(fb_stat(fs, p, &st), 0);
	}
	for (int waited = 0; fakesrv_forgets(srv, node_f) == 0; waited += 10) {
		FS_CHECK(waited < 2000, "the unwatched inode was not "
					"forgotten");
		fakesrv_sleep_ms(10);
	}
	FS_CHECK_EQ(fakesrv_over_forgets(srv), 0);
	fb_inotify_close(in);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

/* At fb_unmount every watch on the mount gets IN_UNMOUNT (with IN_ISDIR
 * for a directory, as Linux), then IN_IGNORED (Linux's order per inode);
 * the instance lives on. The root's watch too: it is in no table. */
static int case_unmount_ignored(void)
{
	char buf[512] __attribute__((aligned(8)));
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	int wd[2], seen[2] = { 0, 0 };
	ssize_t n;

	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &in), 0);
	wd[0] = fb_inotify_add_watch(in, fs, "/", IN_CREATE);
	wd[1] = fb_inotify_add_watch(in, fs, "/d/f", IN_ALL_EVENTS);
	FS_CHECK(wd[0] > 0 && wd[1] > wd[0], "add_watch %d %d", wd[0], wd[1]);
	FS_CHECK_EQ(fb_unmount(fs), 0);
	n = fb_inotify_read(in, buf, sizeof(buf));
	FS_CHECK_EQ(n, 4 * EV);
	for (int i = 0; i < 4; i += 2) {
		struct inotify_event *a = (void *)(buf + i * EV);
		struct inotify_event *b = (void *)(buf + (i + 1) * EV);
		int k = a->wd == wd[1];

		FS_CHECK(a->wd == wd[k] && b->wd == wd[k],
			 "event %d: wd %d then %d", i, a->wd, b->wd);
		FS_CHECK_EQ(a->mask, IN_UNMOUNT | (k ? 0 : IN_ISDIR));
		FS_CHECK_EQ(b->mask, IN_IGNORED);
		seen[k]++;
	}
	FS_CHECK(seen[0] == 1 && seen[1] == 1, "watches seen %d, %d",
		 seen[0], seen[1]);
	FS_CHECK_EQ(fb_inotify_rm_watch(in, wd[0]), -EINVAL);
	FS_CHECK_EQ(fb_inotify_read(in, buf, sizeof(buf)), -EAGAIN);
	fb_inotify_close(in);
	fakesrv_free(srv);
	return 0;
}

/* max_user_watches 3: the fourth is ENOSPC; one more on an inode already
 * watched is no new watch; a watch removed or an instance closed gives
 * its place back. The count is the user's, across instances. */
static int case_watch_limit_enospc(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *a, *b;
	int wd;

	setenv("FUSEBOX_INOTIFY_MAX_USER_WATCHES", "3", 1);
	if (mount_tree(&srv, &fs, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &a), 0);
	FS_CHECK_EQ(fb_inotify_init1(IN_NONBLOCK, &b), 0);
	FS_CHECK(fb_inotify_add_watch(a, fs, "/", IN_ALL_EVENTS) > 0, "1");
	wd = fb_inotify_add_watch(a, fs, "/d", IN_ALL_EVENTS);
	FS_CHECK(wd > 0, "2: %d", wd);
	FS_CHECK(fb_inotify_add_watch(b, fs, "/d/f", IN_ALL_EVENTS) > 0,
		 "3");
	FS_CHECK_EQ(fb_inotify_add_watch(a, fs, "/d/f0", IN_ALL_EVENTS),
		    -ENOSPC);
	FS_CHECK_EQ(fb_inotify_add_watch(b, fs, "/d/f0", IN_ALL_EVENTS),
		    -ENOSPC);
	FS_CHECK_EQ(fb_inotify_add_watch(a, fs, "/d", IN_ACCESS), wd);
	FS_CHECK_EQ(fb_inotify_rm_watch(a, wd), 0);
	FS_CHECK(fb_inotify_add_watch(a, fs, "/d/f0", IN_ALL_EVENTS) > 0,
		 "after rm_watch");
	FS_CHECK_EQ(fb_inotify_add_watch(b, fs, "/d/f1", IN_ALL_EVENTS),
		    -ENOSPC);
	fb_inotify_close(a);
	FS_CHECK(fb_inotify_add_watch(b, fs, "/d/f1", IN_ALL_EVENTS) > 0,
		 "after the other instance closed");
	fb_inotify_close(b);
	fb_unmount(fs);
	fakesrv_free(srv);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "hard_links_one_wd", case_hard_links_one_wd },
	{ "mask_create_eexist", case_mask_create_eexist },
	{ "mask_add_and_create_einval", case_mask_add_and_create_einval },
	{ "mask_without_events", case_mask_without_events },
	{ "onlydir_enotdir", case_onlydir_enotdir },
	{ "small_buffer_einval", case_small_buffer_einval },
	{ "nonblock_eagain", case_nonblock_eagain },
	{ "coalescing", case_coalescing },
	{ "queue_overflow", case_queue_overflow },
	{ "fifo_io_own_watch_only", case_fifo_io_own_watch_only },
	{ "oneshot", case_oneshot },
	{ "rm_watch_ignored", case_rm_watch_ignored },
	{ "fd_polls_while_queued", case_fd_polls_while_queued },
	{ "fionread_counts_bytes", case_fionread_counts_bytes },
	{ "watched_inode_not_forgotten", case_watched_inode_not_forgotten },
	{ "unmount_ignored", case_unmount_ignored },
	{ "watch_limit_enospc", case_watch_limit_enospc },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 30);
}
