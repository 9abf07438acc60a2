/*
 * test_notify_inotify.c - beyond the kernel (docs/inotify.md): a server's
 * FUSE_NOTIFY_DELETE and FUSE_NOTIFY_INVAL_INODE reach inotify watches
 * through libfusebox. Linux's FUSE client raises nothing for either; no
 * real server sends NOTIFY_DELETE on demand, so a scripted one does.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

static enum fakesrv_action answer(struct fakesrv *srv,
				  const struct fakesrv_req *req, void *arg)
{
	(void)srv;
	(void)req;
	(void)arg;
	return FAKESRV_DEFAULT;
}

struct setup {
	struct fakesrv *srv;
	struct fb_fs *fs;
	struct fb_inotify *in;
	uint64_t d, f;
	int wd_d, wd_f;
};

static int setup(struct setup *s)
{
	memset(s, 0, sizeof(*s));
	s->srv = fakesrv_new();
	s->d = fakesrv_add(s->srv, FUSE_ROOT_ID, "d", S_IFDIR | 0755, NULL, 0);
	s->f = fakesrv_add(s->srv, s->d, "f", S_IFREG | 0644, NULL, 10);
	if (fakesrv_mount(s->srv, answer, NULL, NULL, &s->fs) ||
	    fb_inotify_init1(IN_NONBLOCK, &s->in))
		return -1;
	s->wd_d = fb_inotify_add_watch(s->in, s->fs, "/d", IN_ALL_EVENTS);
	s->wd_f = fb_inotify_add_watch(s->in, s->fs, "/d/f", IN_ALL_EVENTS);
	return s->wd_d > 0 && s->wd_f > 0 ? 0 : -1;
}

static void teardown(struct setup *s)
{
	fb_inotify_close(s->in);
	fb_unmount(s->fs);
	fakesrv_free(s->srv);
}

/* The events queued within a second, as "wd:mask:name;" lines. */
static void events(struct setup *s, char *out, size_t size)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	size_t n = 0;

	out[0] = '\0';
	for (int tries = 0; tries < 100; tries++) {
		ssize_t r = fb_inotify_read(s->in, buf, sizeof(buf));

		if (r == -EAGAIN) {
			if (n)
				break;
			fakesrv_sleep_ms(10);
			continue;
		}
		for (char *p = buf; r > 0 && p < buf + r;) {
			struct inotify_event *e = (struct inotify_event *)p;

			n += (size_t)snprintf(out + n, size - n, "%d:%x:%s;",
					      e->wd, e->mask,
					      e->len ? e->name : "");
			p += sizeof(*e) + e->len;
		}
		fakesrv_sleep_ms(50); /* anything that follows */
	}
}

static int case_notify_delete_raises_delete(void)
{
	struct fuse_notify_delete_out o;
	char msg[sizeof(o) + 2], got[512], want[128];
	struct setup s;

	if (setup(&s))
		return FS_FAIL;
	o = (struct fuse_notify_delete_out){ .parent = s.d, .child = s.f,
					     .namelen = 1 };
	memcpy(msg, &o, sizeof(o));
	memcpy(msg + sizeof(o), "f", 2);
	FS_CHECK_EQ(fakesrv_reply(s.srv, 0, FUSE_NOTIFY_DELETE, msg,
				  sizeof(msg)), 0);
	events(&s, got, sizeof(got));
	/* The node's own end first, then the directory's IN_DELETE, as an
	 * unlink of an unopened file gives on Linux. */
	snprintf(want, sizeof(want), "%d:%x:;%d:%x:;%d:%x:f;", s.wd_f,
		 IN_DELETE_SELF, s.wd_f, IN_IGNORED, s.wd_d, IN_DELETE);
	FS_CHECK(!strcmp(got, want), "events %s, expected %s", got, want);
	teardown(&s);
	return 0;
}

static int case_notify_inval_inode_raises_modify_or_attrib(void)
{
	struct fuse_notify_inval_inode_out o = { 0 };
	char got[512], want[128];
	struct setup s;

	if (setup(&s))
		return FS_FAIL;
	o.ino = s.f;
	o.off = 0;
	FS_CHECK_EQ(fakesrv_reply(s.srv, 0, FUSE_NOTIFY_INVAL_INODE, &o,
				  sizeof(o)), 0);
	events(&s, got, sizeof(got));
	snprintf(want, sizeof(want), "%d:%x:f;%d:%x:;", s.wd_d, IN_MODIFY,
		 s.wd_f, IN_MODIFY);
	FS_CHECK(!strcmp(got, want), "data: events %s, expected %s", got,
		 want);
	o.off = -1; /* attributes only */
	FS_CHECK_EQ(fakesrv_reply(s.srv, 0, FUSE_NOTIFY_INVAL_INODE, &o,
				  sizeof(o)), 0);
	events(&s, got, sizeof(got));
	snprintf(want, sizeof(want), "%d:%x:f;%d:%x:;", s.wd_d, IN_ATTRIB,
		 s.wd_f, IN_ATTRIB);
	FS_CHECK(!strcmp(got, want), "attrs: events %s, expected %s", got,
		 want);
	teardown(&s);
	return 0;
}

static const struct fakesrv_case cases[] = {
	{ "notify_delete_raises_delete", case_notify_delete_raises_delete },
	{ "notify_inval_inode_raises_modify_or_attrib",
	  case_notify_inval_inode_raises_modify_or_attrib },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 30);
}
