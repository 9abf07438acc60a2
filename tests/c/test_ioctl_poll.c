/*
 * test_ioctl_poll.c - fb_ioctl and fb_poll against a scripted server
 * (fakesrv): the shape of IOCTL and POLL requests as Linux sends them,
 * what each kind of answer becomes, the commands answered without the
 * server, and NOTIFY_POLL waking a waiting fb_poll (and only for a kh
 * fusebox handed out).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

#define F_SIZE 1000

/* How the server answers IOCTL. */
enum ioctl_answer {
	A_DATA,		 /* result 7 and reply_len bytes 0xA0, 0xA1, ... */
	A_ENOSYS,	 /* the request fails with ENOSYS */
	A_RESULT,	 /* result = x->result, no data */
	A_RETRY,	 /* FUSE_IOCTL_RETRY */
	A_TOO_LONG,	 /* out_size + 8 bytes of data */
};

struct ictx {
	pthread_mutex_t lock;
	enum ioctl_answer answer;
	int result;
	uint32_t reply_len;
	/* The last IOCTL and POLL seen, and what INIT offered. */
	struct fuse_ioctl_in io;
	unsigned char io_data[64];
	size_t io_data_len;
	struct fuse_poll_in pl;
	int polls;
	uint64_t init_flags;
	/* How the server answers POLL: revents, or an error. */
	uint32_t revents;
	int poll_error;
};

static struct ictx X = { .lock = PTHREAD_MUTEX_INITIALIZER };

static void reply_ioctl(struct fakesrv *srv, const struct fakesrv_req *r,
			const struct fuse_ioctl_in *in)
{
	unsigned char buf[sizeof(struct fuse_ioctl_out) + 16384 + 8];
	struct fuse_ioctl_out out = { 0 };
	size_t data = 0;

	pthread_mutex_lock(&X.lock);
	switch (X.answer) {
	case A_ENOSYS:
		pthread_mutex_unlock(&X.lock);
		fakesrv_reply(srv, r->h.unique, -ENOSYS, NULL, 0);
		return;
	case A_DATA:
		out.result = 7;
		data = X.reply_len < in->out_size ? X.reply_len : in->out_size;
		break;
	case A_RESULT:
		out.result = X.result;
		break;
	case A_RETRY:
		out.flags = FUSE_IOCTL_RETRY;
		out.in_iovs = out.out_iovs = 0;
		break;
	case A_TOO_LONG:
		data = in->out_size + 8;
		break;
	}
	pthread_mutex_unlock(&X.lock);
	memcpy(buf, &out, sizeof(out));
	for (size_t i = 0; i < data; i++)
		buf[sizeof(out) + i] = (unsigned char)(0xA0 + i);
	fakesrv_reply(srv, r->h.unique, 0, buf, sizeof(out) + data);
}

static enum fakesrv_action handler(struct fakesrv *srv,
				   const struct fakesrv_req *r, void *arg)
{
	(void)arg;
	switch (r->h.opcode) {
	case FUSE_INIT: {
		struct fuse_init_in in = { 0 };

		memcpy(&in, r->arg, r->arglen < sizeof(in) ? r->arglen
							   : sizeof(in));
		pthread_mutex_lock(&X.lock);
		X.init_flags = in.flags | (uint64_t)in.flags2 << 32;
		pthread_mutex_unlock(&X.lock);
		return FAKESRV_DEFAULT;
	}
	case FUSE_IOCTL: {
		struct fuse_ioctl_in in;

		if (r->arglen < sizeof(in))
			return FAKESRV_DEFAULT;
		memcpy(&in, r->arg, sizeof(in));
		pthread_mutex_lock(&X.lock);
		X.io = in;
		X.io_data_len = r->arglen - sizeof(in);
		if (X.io_data_len > sizeof(X.io_data))
			X.io_data_len = sizeof(X.io_data);
		memcpy(X.io_data, r->arg + sizeof(in), X.io_data_len);
		pthread_mutex_unlock(&X.lock);
		reply_ioctl(srv, r, &in);
		return FAKESRV_DONE;
	}
	case FUSE_POLL: {
		struct fuse_poll_out out = { 0 };
		int err;

		pthread_mutex_lock(&X.lock);
		memcpy(&X.pl, r->arg, sizeof(X.pl));
		X.polls++;
		out.revents = X.revents;
		err = X.poll_error;
		pthread_mutex_unlock(&X.lock);
		fakesrv_reply(srv, r->h.unique, err, err ? NULL : &out,
			      err ? 0 : sizeof(out));
		return FAKESRV_DONE;
	}
	}
	return FAKESRV_DEFAULT;
}

/* A mount with /f (F_SIZE bytes) and /d; fd open on /f O_RDWR. */
static int setup(struct fakesrv **srv, struct fb_fs **fs, int *fd,
		 uint32_t minor, uint16_t max_pages)
{
	*srv = fakesrv_new();
	if (minor)
		fakesrv_cfg(*srv)->minor = minor;
	if (max_pages)
		fakesrv_cfg(*srv)->max_pages = max_pages;
	fakesrv_add(*srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL, F_SIZE);
	fakesrv_add(*srv, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL, 0);
	FS_CHECK_EQ(fakesrv_mount(*srv, handler, NULL, NULL, fs), 0);
	*fd = fb_open(*fs, "/f", O_RDWR);
	FS_CHECK(*fd >= 0, "open /f: %d", *fd);
	return 0;
}

static void teardown(struct fakesrv *srv, struct fb_fs *fs)
{
	fb_unmount(fs);
	fakesrv_free(srv);
}

/* ---- IOCTL ---------------------------------------------------------- */

struct blob16 {
	unsigned char b[16];
};

static int case_ioctl_read_write_data(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	unsigned char buf[16];
	int fd, r;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.answer = A_DATA;
	X.reply_len = 10;
	memcpy(buf, "0123456789abcdef", 16);
	r = fb_ioctl(fs, fd, _IOWR('T', 1, struct blob16), buf);
	FS_CHECK_EQ(r, 7);
	/* The sizes and the argument as Linux sends them. */
	FS_CHECK_EQ(X.io.cmd, _IOWR('T', 1, struct blob16));
	FS_CHECK_EQ(X.io.in_size, 16);
	FS_CHECK_EQ(X.io.out_size, 16);
	FS_CHECK_EQ(X.io.flags, 0);
	FS_CHECK_EQ(X.io.arg, (uint64_t)(uintptr_t)buf);
	FS_CHECK_EQ(X.io_data_len, 16);
	FS_CHECK(!memcmp(X.io_data, "0123456789abcdef", 16), "data sent");
	/* What came back, and nothing beyond it. */
	for (int i = 0; i < 10; i++)
		FS_CHECK_EQ(buf[i], 0xA0 + i);
	FS_CHECK(!memcmp(buf + 10, "abcdef", 6), "bytes past the answer");
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_directions(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	int fd, v = 42;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.answer = A_DATA;
	X.reply_len = 0;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOW('T', 2, int), &v), 7);
	FS_CHECK_EQ(X.io.in_size, sizeof(int));
	FS_CHECK_EQ(X.io.out_size, 0);
	X.reply_len = 4;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 3, int), &v), 7);
	FS_CHECK_EQ(X.io.in_size, 0);
	FS_CHECK_EQ(X.io.out_size, sizeof(int));
	FS_CHECK_EQ(X.io_data_len, 0);
	/* No encoding: no data, the argument as a number. */
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IO('T', 4), (void *)0x1234), 7);
	FS_CHECK_EQ(X.io.in_size, 0);
	FS_CHECK_EQ(X.io.out_size, 0);
	FS_CHECK_EQ(X.io.arg, 0x1234);
	/* FS_IOC_GETFLAGS encodes a long but moves an int. */
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('f', 1, long), &v), 7);
	FS_CHECK_EQ(X.io.out_size, sizeof(int));
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_directory(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	int fd, dfd, v = 0;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	FS_CHECK(X.init_flags & FUSE_HAS_IOCTL_DIR,
		 "INIT offered 0x%llx", (unsigned long long)X.init_flags);
	X.answer = A_DATA;
	X.reply_len = 4;
	dfd = fb_open(fs, "/d", O_RDONLY | O_DIRECTORY);
	FS_CHECK(dfd >= 0, "open /d: %d", dfd);
	FS_CHECK_EQ(fb_ioctl(fs, dfd, _IOR('T', 5, int), &v), 7);
	FS_CHECK_EQ(X.io.flags, FUSE_IOCTL_DIR);
	FS_CHECK_EQ(X.io.fh, 0x2000 + 3); /* fakesrv's OPENDIR fh */
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_directory_before_7_18(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	int fd, dfd, v = 0;

	if (setup(&srv, &fs, &fd, 17, 0))
		return FS_FAIL;
	dfd = fb_open(fs, "/d", O_RDONLY | O_DIRECTORY);
	FS_CHECK(dfd >= 0, "open /d: %d", dfd);
	FS_CHECK_EQ(fb_ioctl(fs, dfd, _IOR('T', 5, int), &v), -ENOTTY);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_IOCTL, 0, NULL), 0);
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_enosys_is_enotty(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	int fd, v = 0;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.answer = A_ENOSYS;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 6, int), &v), -ENOTTY);
	/* Not remembered: a handler may refuse one command only. */
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 6, int), &v), -ENOTTY);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_IOCTL, 0, NULL), 2);
	X.answer = A_RESULT;
	X.result = -ENOSYS;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IO('T', 6), NULL), -ENOTTY);
	X.result = -EINVAL;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IO('T', 6), NULL), -EINVAL);
	X.result = 12345;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IO('T', 6), NULL), 12345);
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_bad_answers_are_eio(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	int fd, v = 99;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	/* RETRY is for unrestricted ioctls, which fusebox never sends. */
	X.answer = A_RETRY;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 7, int), &v), -EIO);
	FS_CHECK_EQ(v, 99);
	X.answer = A_TOO_LONG;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 7, int), &v), -EIO);
	FS_CHECK_EQ(v, 99);
	/* The connection is still fine. */
	X.answer = A_DATA;
	X.reply_len = 4;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 7, int), &v), 7);
	FS_CHECK_EQ((uint32_t)v, 0xA3A2A1A0u);
	teardown(srv, fs);
	return 0;
}

struct big {
	char b[8192];
};

static int case_ioctl_larger_than_max_pages(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	static struct big b;
	int fd;

	if (setup(&srv, &fs, &fd, 0, 1))
		return FS_FAIL;
	FS_CHECK_EQ(fb_ioctl(fs, fd, _IOR('T', 8, struct big), &b), -ENOMEM);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_IOCTL, 0, NULL), 0);
	teardown(srv, fs);
	return 0;
}

static int case_ioctl_answered_locally(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	char buf[100];
	int fd, pfd, v = -1, on = 1;
	int64_t q = -1;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	FS_CHECK_EQ(fb_read(fs, fd, buf, sizeof(buf)), sizeof(buf));
	FS_CHECK_EQ(fb_ioctl(fs, fd, FIONREAD, &v), 0);
	FS_CHECK_EQ(v, F_SIZE - 100);
	FS_CHECK_EQ(fb_ioctl(fs, fd, FIGETBSZ, &v), 0);
	FS_CHECK_EQ(v, 4096);
	FS_CHECK_EQ(fb_ioctl(fs, fd, 0x5460 /* FIOQSIZE */, &q), 0);
	FS_CHECK(q >= 0, "FIOQSIZE %lld", (long long)q);
	FS_CHECK_EQ(fb_ioctl(fs, fd, FIONBIO, &on), 0);
	FS_CHECK_EQ(fb_ioctl(fs, fd, FIOCLEX, NULL), 0);
	FS_CHECK_EQ(fb_ioctl(fs, fd, FIONREAD, NULL), -EFAULT);
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_IOCTL, 0, NULL), 0);
	pfd = fb_open(fs, "/f", O_PATH);
	FS_CHECK(pfd >= 0, "open O_PATH: %d", pfd);
	FS_CHECK_EQ(fb_ioctl(fs, pfd, _IO('T', 9), NULL), -EBADF);
	FS_CHECK_EQ(fb_ioctl(fs, 1000, _IO('T', 9), NULL), -EBADF);
	teardown(srv, fs);
	return 0;
}

/* ---- POLL ----------------------------------------------------------- */

static int case_poll_answer_filtered(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p[3];
	int fd;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.revents = POLLIN | POLLOUT | POLLRDNORM;
	p[0] = (struct pollfd){ .fd = fd, .events = POLLIN };
	p[1] = (struct pollfd){ .fd = -1, .events = POLLIN };
	p[2] = (struct pollfd){ .fd = 77, .events = POLLIN };
	FS_CHECK_EQ(fb_poll(fs, p, 3, 0), 2);
	FS_CHECK_EQ(p[0].revents, POLLIN);
	FS_CHECK_EQ(p[1].revents, 0);
	FS_CHECK_EQ(p[2].revents, POLLNVAL);
	/* Timeout 0: nobody waits, so no notification is asked for. */
	FS_CHECK_EQ(X.pl.flags, 0);
	FS_CHECK_EQ(X.pl.events, POLLIN | POLLERR | POLLHUP);
	FS_CHECK_EQ(X.pl.fh, 0x1000 + 2);
	FS_CHECK(X.pl.kh != 0, "kh 0");
	/* Errors always show. */
	X.revents = POLLERR | POLLHUP;
	FS_CHECK_EQ(fb_poll(fs, p, 1, 0), 1);
	FS_CHECK_EQ(p[0].revents, POLLERR | POLLHUP);
	X.poll_error = -EIO;
	FS_CHECK_EQ(fb_poll(fs, p, 1, 0), 1);
	FS_CHECK_EQ(p[0].revents, POLLERR);
	teardown(srv, fs);
	return 0;
}

static int case_poll_enosys_default_mask(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p;
	int fd;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.poll_error = -ENOSYS;
	p = (struct pollfd){ .fd = fd, .events = POLLIN | POLLOUT | POLLPRI };
	FS_CHECK_EQ(fb_poll(fs, &p, 1, 0), 1);
	FS_CHECK_EQ(p.revents, POLLIN | POLLOUT);
	FS_CHECK_EQ(fb_poll(fs, &p, 1, 1000), 1);
	FS_CHECK_EQ(p.revents, POLLIN | POLLOUT);
	/* Remembered, as Linux's no_poll. */
	FS_CHECK_EQ(fakesrv_count(srv, FUSE_POLL, 0, NULL), 1);
	teardown(srv, fs);
	return 0;
}

struct waker {
	struct fakesrv *srv;
	uint64_t kh_delta;
	uint64_t kh;
};

/* Wait for a POLL that asks for notification, make the file ready, and
 * send NOTIFY_POLL for its kh (plus kh_delta). */
static void *wake_thread(void *arg)
{
	struct waker *w = arg;
	struct fuse_notify_poll_wakeup_out o;

	for (int i = 0; i < 500; i++) {
		bool asked;

		pthread_mutex_lock(&X.lock);
		asked = X.pl.flags & FUSE_POLL_SCHEDULE_NOTIFY;
		o.kh = X.pl.kh + w->kh_delta;
		pthread_mutex_unlock(&X.lock);
		if (asked)
			break;
		fakesrv_sleep_ms(10);
	}
	fakesrv_sleep_ms(100);
	pthread_mutex_lock(&X.lock);
	X.revents = POLLIN;
	pthread_mutex_unlock(&X.lock);
	w->kh = o.kh;
	fakesrv_reply(w->srv, 0, FUSE_NOTIFY_POLL, &o, sizeof(o));
	return NULL;
}

static int case_poll_notify_wakes(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p;
	struct waker w = { 0 };
	pthread_t t;
	uint64_t t0;
	int fd, r;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.revents = 0;
	w.srv = srv;
	pthread_create(&t, NULL, wake_thread, &w);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	t0 = fakesrv_now_ms();
	r = fb_poll(fs, &p, 1, 10000);
	pthread_join(t, NULL);
	FS_CHECK_EQ(r, 1);
	FS_CHECK_EQ(p.revents, POLLIN);
	FS_CHECK(fakesrv_now_ms() - t0 < 5000, "woken after %llu ms",
		 (unsigned long long)(fakesrv_now_ms() - t0));
	FS_CHECK(X.pl.flags & FUSE_POLL_SCHEDULE_NOTIFY, "flags %u",
		 X.pl.flags);
	FS_CHECK(X.polls >= 2, "%d POLLs", X.polls);
	teardown(srv, fs);
	return 0;
}

static int case_poll_unknown_kh_ignored(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p;
	struct waker w = { 0 };
	pthread_t t;
	uint64_t t0;
	int fd, r, polls;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.revents = 0;
	w.srv = srv;
	w.kh_delta = 1000;
	pthread_create(&t, NULL, wake_thread, &w);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	t0 = fakesrv_now_ms();
	r = fb_poll(fs, &p, 1, 800);
	pthread_join(t, NULL);
	/* Not woken: the timeout ran out. As Linux's do_poll, the files
	 * are looked at once more then, and this one is ready by now. */
	FS_CHECK(fakesrv_now_ms() - t0 >= 750, "returned after %llu ms",
		 (unsigned long long)(fakesrv_now_ms() - t0));
	FS_CHECK_EQ(r, 1);
	pthread_mutex_lock(&X.lock);
	polls = X.polls;
	pthread_mutex_unlock(&X.lock);
	FS_CHECK_EQ(polls, 2);
	teardown(srv, fs);
	return 0;
}

static int case_poll_kh_per_open_file(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p;
	uint64_t kh1;
	int fd, fd2;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.revents = POLLIN;
	fd2 = fb_open(fs, "/f", O_RDONLY);
	FS_CHECK(fd2 >= 0, "open: %d", fd2);
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	FS_CHECK_EQ(fb_poll(fs, &p, 1, 0), 1);
	kh1 = X.pl.kh;
	FS_CHECK_EQ(fb_poll(fs, &p, 1, 0), 1);
	FS_CHECK_EQ(X.pl.kh, kh1);
	p.fd = fd2;
	FS_CHECK_EQ(fb_poll(fs, &p, 1, 0), 1);
	FS_CHECK(X.pl.kh != kh1, "two open files share kh %llu",
		 (unsigned long long)kh1);
	teardown(srv, fs);
	return 0;
}

static void *close_thread(void *arg)
{
	fakesrv_sleep_ms(200);
	fakesrv_close(arg);
	return NULL;
}

static int case_poll_server_gone_ends_wait(void)
{
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct pollfd p;
	pthread_t t;
	uint64_t t0;
	int fd, r;

	if (setup(&srv, &fs, &fd, 0, 0))
		return FS_FAIL;
	X.revents = 0;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* The server goes away while fb_poll waits: it must end (POLLERR,
	 * as Linux wakes every poller when the connection aborts). */
	t0 = fakesrv_now_ms();
	pthread_create(&t, NULL, close_thread, srv);
	r = fb_poll(fs, &p, 1, 10000);
	pthread_join(t, NULL);
	FS_CHECK_EQ(r, 1);
	FS_CHECK_EQ(p.revents, POLLERR);
	FS_CHECK(fakesrv_now_ms() - t0 < 5000, "ended after %llu ms",
		 (unsigned long long)(fakesrv_now_ms() - t0));
	teardown(srv, fs);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "ioctl_read_write_data", case_ioctl_read_write_data },
	{ "ioctl_directions", case_ioctl_directions },
	{ "ioctl_directory", case_ioctl_directory },
	{ "ioctl_directory_before_7_18", case_ioctl_directory_before_7_18 },
	{ "ioctl_enosys_is_enotty", case_ioctl_enosys_is_enotty },
	{ "ioctl_bad_answers_are_eio", case_ioctl_bad_answers_are_eio },
	{ "ioctl_larger_than_max_pages", case_ioctl_larger_than_max_pages },
	{ "ioctl_answered_locally", case_ioctl_answered_locally },
	{ "poll_answer_filtered", case_poll_answer_filtered },
	{ "poll_enosys_default_mask", case_poll_enosys_default_mask },
	{ "poll_notify_wakes", case_poll_notify_wakes },
	{ "poll_unknown_kh_ignored", case_poll_unknown_kh_ignored },
	{ "poll_kh_per_open_file", case_poll_kh_per_open_file },
	{ "poll_server_gone_ends_wait", case_poll_server_gone_ends_wait },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 30);
}
