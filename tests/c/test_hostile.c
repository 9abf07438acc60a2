/*
 * test_hostile.c - one case per reply check: a server (fakesrv) corrupts one
 * reply, the caller must get -EIO (or the documented answer), fusebox must
 * stay up, and the next good request must work.
 *
 * Each case names the request to spoil (opcode and node), how to spoil the
 * server's own good reply (mutate) and the public call that sends it
 * (drive). The request is spoiled once; later ones get good replies.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakesrv.h"
#include "fusebox.h"

/* The tree every case starts from. */
#define F_SIZE 1000
#define GOOD_SIZE 777
#define B_SIZE 4321

struct msg {
	unsigned char *buf;
	size_t len, cap;
};

struct hctx;
typedef void (*mutate_fn)(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m);

enum drive {
	D_STAT,		/* fb_stat("/f"): LOOKUP */
	D_FSTAT,	/* fb_fstat on /f opened: GETATTR */
	D_OPEN,		/* fb_open("/f"): OPEN */
	D_READ,		/* fb_read on /f opened: READ */
	D_GETDENTS,	/* fb_getdents64 on /dir: READDIR(PLUS) */
	D_READLINK,	/* fb_readlinkat("/link") */
	D_GETXATTR,	/* fb_getxattr("/f", "user.a", buf, 64) */
	D_GETXATTR_SIZE, /* the same with size 0 */
	D_LISTXATTR,	/* fb_listxattr("/f", buf, 256) */
	D_STATFS,	/* fb_statfs("/") */
};

/* Case flags. */
#define H_ATTR0 1	/* attr_valid 0, so fstat sends GETATTR */
#define H_PLUS 2	/* negotiate READDIRPLUS */
#define H_PAGES1 4	/* max_pages 1: name_max is 1024 */
#define H_TRUNC_OK 8	/* a truncated tail may be dropped, as the kernel does */
#define H_PLUS_OK 16	/* a bad READDIRPLUS entry may be skipped, as the
			 * kernel does, if its attributes are not used */
#define H_NO_AGAIN 32	/* the node may stay bad after this (kernel: bad
			 * attributes from GETATTR make the inode bad) */

struct hcase {
	const char *name;
	enum drive drive;
	uint32_t op;
	mutate_fn mutate;
	int want;
	unsigned flags;
};

struct hctx {
	const struct hcase *hc;
	struct fakesrv *srv;
	uint64_t f, good, link, dir, a, b;
	atomic_int armed, fired;
	atomic_uint readdir_size;	/* size of the spoiled READDIR */
};

/* ---- building blocks for spoiled replies ---------------------------- */

static struct fuse_out_header get_hdr(const struct msg *m)
{
	struct fuse_out_header oh;

	memcpy(&oh, m->buf, sizeof(oh));
	return oh;
}

static void put_hdr(struct msg *m, const struct fuse_out_header *oh)
{
	memcpy(m->buf, oh, sizeof(*oh));
}

/* Make the message len bytes long, fixing the length field. */
static void set_len(struct msg *m, size_t len)
{
	struct fuse_out_header oh = get_hdr(m);

	if (len > m->len)
		memset(m->buf + m->len, 0, len - m->len);
	m->len = len;
	oh.len = (uint32_t)len;
	put_hdr(m, &oh);
}

static void set_payload(struct msg *m, const void *p, size_t len)
{
	memcpy(m->buf + sizeof(struct fuse_out_header), p, len);
	set_len(m, sizeof(struct fuse_out_header) + len);
}

static void error_only(struct msg *m, int error)
{
	struct fuse_out_header oh = get_hdr(m);

	oh.error = error;
	put_hdr(m, &oh);
	set_len(m, sizeof(oh));
}

/* ---- mutations ------------------------------------------------------ */

static void m_len_larger(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	struct fuse_out_header oh = get_hdr(m);

	oh.len = (uint32_t)m->len + 8;
	put_hdr(m, &oh);
}

static void m_len_smaller(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m)
{
	struct fuse_out_header oh = get_hdr(m);

	oh.len = (uint32_t)m->len - 8;
	put_hdr(m, &oh);
}

static void m_err_positive(struct hctx *c, const struct fakesrv_req *r,
			   struct msg *m)
{
	error_only(m, 5);
}

static void m_err_512(struct hctx *c, const struct fakesrv_req *r,
		      struct msg *m)
{
	error_only(m, -512);
}

static void m_err_10000(struct hctx *c, const struct fakesrv_req *r,
			struct msg *m)
{
	error_only(m, -10000);
}

/* ENOENT, but the entry is still there behind the header. */
static void m_err_payload(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m)
{
	struct fuse_out_header oh = get_hdr(m);

	oh.error = -ENOENT;
	put_hdr(m, &oh);
}

static void m_long8(struct hctx *c, const struct fakesrv_req *r,
		    struct msg *m)
{
	set_len(m, m->len + 8);
}

static void m_short_entry(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + 100);
}

static void m_short_attr(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + 80);
}

static void m_short_open(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + 8);
}

static void m_short_statfs(struct hctx *c, const struct fakesrv_req *r,
			   struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + 40);
}

static void m_short_xattr_size(struct hctx *c, const struct fakesrv_req *r,
			       struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + 4);
}

static void edit_entry(struct msg *m, void (*edit)(struct fuse_entry_out *))
{
	struct fuse_entry_out e;
	unsigned char *p = m->buf + sizeof(struct fuse_out_header);

	memcpy(&e, p, sizeof(e));
	edit(&e);
	memcpy(p, &e, sizeof(e));
}

static void edit_attr_out(struct msg *m, void (*edit)(struct fuse_attr *))
{
	struct fuse_attr_out o;
	unsigned char *p = m->buf + sizeof(struct fuse_out_header);

	memcpy(&o, p, sizeof(o));
	edit(&o.attr);
	memcpy(p, &o, sizeof(o));
}

static void attr_mode0(struct fuse_attr *a)
{
	a->mode = 0;
}

static void attr_mode_garbage(struct fuse_attr *a)
{
	a->mode = S_IFMT | 0644;
}

static void attr_size_huge(struct fuse_attr *a)
{
	a->size = (uint64_t)LLONG_MAX + 1;
}

static void entry_mode0(struct fuse_entry_out *e)
{
	attr_mode0(&e->attr);
}

static void entry_mode_garbage(struct fuse_entry_out *e)
{
	attr_mode_garbage(&e->attr);
}

static void entry_size_huge(struct fuse_entry_out *e)
{
	attr_size_huge(&e->attr);
}

static void entry_root(struct fuse_entry_out *e)
{
	e->nodeid = FUSE_ROOT_ID;
}

static void entry_zero(struct fuse_entry_out *e)
{
	e->nodeid = 0;
}

static void m_entry_mode0(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m)
{
	edit_entry(m, entry_mode0);
}

static void m_entry_mode_garbage(struct hctx *c, const struct fakesrv_req *r,
				 struct msg *m)
{
	edit_entry(m, entry_mode_garbage);
}

static void m_entry_size_huge(struct hctx *c, const struct fakesrv_req *r,
			      struct msg *m)
{
	edit_entry(m, entry_size_huge);
}

static void m_entry_root(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	edit_entry(m, entry_root);
}

static void m_entry_zero(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	edit_entry(m, entry_zero);
}

static void m_attr_mode0(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	edit_attr_out(m, attr_mode0);
}

static void m_attr_mode_garbage(struct hctx *c, const struct fakesrv_req *r,
				struct msg *m)
{
	edit_attr_out(m, attr_mode_garbage);
}

static void m_attr_size_huge(struct hctx *c, const struct fakesrv_req *r,
			     struct msg *m)
{
	edit_attr_out(m, attr_size_huge);
}

/* Replies to uniques that are not in flight, then the real reply, then the
 * real reply again with other contents: only the real one may count. */
static void m_wrong_unique(struct hctx *c, const struct fakesrv_req *r,
			   struct msg *m)
{
	struct fuse_out_header oh = get_hdr(m);
	struct fuse_entry_out e;
	const uint64_t bogus[] = { oh.unique ^ 1, oh.unique + 0x100000, 0 };

	fakesrv_entry(c->srv, c->good, &e);
	e.attr.size = 5555;
	for (size_t i = 0; i < sizeof(bogus) / sizeof(bogus[0]); i++)
		fakesrv_reply(c->srv, bogus[i], 0, &e, sizeof(e));
	fakesrv_note_lookup(c->srv, c->f, 1);
	fakesrv_reply_raw(c->srv, m->buf, m->len);
	fakesrv_reply(c->srv, oh.unique, 0, &e, sizeof(e));
	m->len = 0;
}

/* Messages shorter than a header before the real reply. */
static void m_runt(struct hctx *c, const struct fakesrv_req *r,
		   struct msg *m)
{
	fakesrv_reply_raw(c->srv, m->buf, 8);
	fakesrv_reply_raw(c->srv, m->buf, 1);
	fakesrv_reply_raw(c->srv, m->buf, sizeof(struct fuse_out_header) - 1);
}

static void m_read_long(struct hctx *c, const struct fakesrv_req *r,
			struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + r->size + 16);
}

static void m_getxattr_long(struct hctx *c, const struct fakesrv_req *r,
			    struct msg *m)
{
	set_len(m, sizeof(struct fuse_out_header) + r->size + 8);
}

static void m_readlink_long(struct hctx *c, const struct fakesrv_req *r,
			    struct msg *m)
{
	size_t n = 5000;

	memset(m->buf + sizeof(struct fuse_out_header), 'a', n);
	set_len(m, sizeof(struct fuse_out_header) + n);
}

static void set_list(const struct fakesrv_req *r, struct msg *m,
		     const char *list, size_t len)
{
	if (r->size == 0) {
		struct fuse_getxattr_out o = { .size = (uint32_t)len };

		set_payload(m, &o, sizeof(o));
	} else {
		set_payload(m, list, len);
	}
}

static void m_list_empty_name(struct hctx *c, const struct fakesrv_req *r,
			      struct msg *m)
{
	static const char list[] = "user.a\0\0user.b";

	set_list(r, m, list, sizeof(list));
}

static void m_list_no_nul(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m)
{
	static const char list[] = "user.a\0user.b";

	set_list(r, m, list, sizeof(list) - 1);
}

/* READDIR: the spoiled record comes first, then a good one ("a"). */
static void readdir_reply(struct hctx *c, const struct fakesrv_req *r,
			  struct msg *m, const char *bad, uint32_t badlen)
{
	unsigned char *p = m->buf + sizeof(struct fuse_out_header);
	size_t cap = r->size, pos;

	atomic_store(&c->readdir_size, r->size);
	pos = fakesrv_put_dirent(p, cap, 0, 100, 1, DT_REG, bad, badlen);
	if (pos)
		pos = fakesrv_put_dirent(p, cap, pos, c->a, 2, DT_REG, "a", 1);
	set_len(m, sizeof(struct fuse_out_header) + pos);
}

static void m_dir_namelen0(struct hctx *c, const struct fakesrv_req *r,
			   struct msg *m)
{
	readdir_reply(c, r, m, "", 0);
}

static void m_dir_slash(struct hctx *c, const struct fakesrv_req *r,
			struct msg *m)
{
	readdir_reply(c, r, m, "x/y", 3);
}

/* Longer than any name_max: 4096 if the request has room, else 1100 (the
 * case runs with max_pages 1, where name_max is 1024). */
static void m_dir_namelen_big(struct hctx *c, const struct fakesrv_req *r,
			      struct msg *m)
{
	uint32_t len = r->size >= 4096 + 64 ? 4096 : 1100;

	readdir_reply(c, r, m, "long", len);
}

/* A good "a", then a record that claims 200 name bytes and has 8. */
static void m_dir_past_end(struct hctx *c, const struct fakesrv_req *r,
			   struct msg *m)
{
	unsigned char *p = m->buf + sizeof(struct fuse_out_header);
	unsigned char rec[FUSE_NAME_OFFSET + 208];
	size_t pos;

	atomic_store(&c->readdir_size, r->size);
	pos = fakesrv_put_dirent(p, r->size, 0, c->a, 1, DT_REG, "a", 1);
	fakesrv_put_dirent(rec, sizeof(rec), 0, 101, 2, DT_REG, "cut", 200);
	memcpy(p + pos, rec, FUSE_NAME_OFFSET + 8);
	set_len(m, sizeof(struct fuse_out_header) + pos + FUSE_NAME_OFFSET +
		    8);
}

/* READDIRPLUS: a spoiled "b" first, then a good "a". */
static void plus_reply(struct hctx *c, const struct fakesrv_req *r,
		       struct msg *m, void (*edit)(struct fuse_entry_out *))
{
	unsigned char *p = m->buf + sizeof(struct fuse_out_header);
	struct fuse_entry_out e;
	size_t pos;

	atomic_store(&c->readdir_size, r->size);
	fakesrv_entry(c->srv, c->b, &e);
	edit(&e);
	pos = fakesrv_put_direntplus(p, r->size, 0, &e, 1, DT_REG, "b", 1);
	fakesrv_note_lookup(c->srv, e.nodeid, 1);
	fakesrv_entry(c->srv, c->a, &e);
	if (pos) {
		pos = fakesrv_put_direntplus(p, r->size, pos, &e, 2, DT_REG,
					     "a", 1);
		fakesrv_note_lookup(c->srv, e.nodeid, 1);
	}
	set_len(m, sizeof(struct fuse_out_header) + pos);
}

static void m_plus_root(struct hctx *c, const struct fakesrv_req *r,
			struct msg *m)
{
	plus_reply(c, r, m, entry_root);
}

static void m_plus_mode0(struct hctx *c, const struct fakesrv_req *r,
			 struct msg *m)
{
	plus_reply(c, r, m, entry_mode0);
}

static void m_plus_size_huge(struct hctx *c, const struct fakesrv_req *r,
			     struct msg *m)
{
	plus_reply(c, r, m, entry_size_huge);
}

/* ---- the server side ------------------------------------------------ */

static uint64_t target_node(struct hctx *c)
{
	switch (c->hc->drive) {
	case D_GETDENTS:
		return c->dir;
	case D_READLINK:
		return c->link;
	case D_STAT:
	case D_STATFS:
		return 0;
	default:
		return c->f;
	}
}

static bool is_target(struct hctx *c, const struct fakesrv_req *r)
{
	uint64_t node = target_node(c);

	if (r->h.opcode != c->hc->op)
		return false;
	if (r->h.opcode == FUSE_LOOKUP)
		return r->h.nodeid == FUSE_ROOT_ID && r->name &&
		       strcmp(r->name, "f") == 0;
	if ((r->h.opcode == FUSE_READDIR || r->h.opcode == FUSE_READDIRPLUS) &&
	    r->offset != 0)
		return false;
	/* A listxattr size probe is answered to match the spoiled list;
	 * the case fires on the request that fetches the list. */
	return !node || r->h.nodeid == node;
}

static enum fakesrv_action handler(struct fakesrv *srv,
				   const struct fakesrv_req *r, void *arg)
{
	struct hctx *c = arg;
	struct msg m;
	ssize_t n;

	if (!atomic_load(&c->armed) || atomic_load(&c->fired) ||
	    !is_target(c, r))
		return FAKESRV_DEFAULT;
	/* Used up before the reply goes out: the caller may check at once. */
	if (!(r->h.opcode == FUSE_LISTXATTR && r->size == 0))
		atomic_store(&c->fired, 1);
	m.cap = 65536 + (size_t)r->size;
	m.buf = calloc(1, m.cap);
	if (!m.buf)
		abort();
	n = fakesrv_build_reply(srv, r, m.buf, m.cap);
	m.len = n > 0 ? (size_t)n : 0;
	if (n > 0)
		c->hc->mutate(c, r, &m);
	if (r->h.opcode == FUSE_LOOKUP &&
	    m.len >= sizeof(struct fuse_out_header) + 8) {
		struct fuse_out_header oh = get_hdr(&m);
		uint64_t nodeid;

		/* The server counts what it hands out, spoiled or not. */
		memcpy(&nodeid, m.buf + sizeof(oh), 8);
		if (oh.error == 0)
			fakesrv_note_lookup(srv, nodeid, 1);
	}
	if (m.len)
		fakesrv_reply_raw(srv, m.buf, m.len);
	free(m.buf);
	return FAKESRV_DONE;
}

/* ---- the client side ------------------------------------------------ */

/* Read a whole directory; names joined by ' ' into names. Returns 0 or
 * the first error. */
static int list_dir(struct fb_fs *fs, const char *path, char *names,
		    size_t cap)
{
	static char buf[65536];
	int fd = fb_open(fs, path, O_RDONLY | O_DIRECTORY);
	int err = 0;

	names[0] = 0;
	if (fd < 0)
		return fd;
	for (int round = 0; round < 16; round++) {
		ssize_t n = fb_getdents64(fs, fd, buf, sizeof(buf));

		if (n <= 0) {
			err = (int)n;
			break;
		}
		for (ssize_t pos = 0; pos < n;) {
			struct {
				uint64_t ino;
				int64_t off;
				unsigned short reclen;
				unsigned char type;
			} d;
			const char *name = buf + pos + 19;

			memcpy(&d, buf + pos, sizeof(d));
			if (d.reclen == 0 || pos + d.reclen > n) {
				fprintf(stderr, "bad dirent at %zd\n", pos);
				err = -EBADMSG;
				break;
			}
			if (strlen(names) + strlen(name) + 2 < cap) {
				strcat(names, name);
				strcat(names, " ");
			}
			pos += d.reclen;
		}
		if (err)
			break;
	}
	fb_close(fs, fd);
	return err;
}

static char names[8192];

/* The call that sends the spoiled request; its result. The case is armed
 * just before that request, after any open it needs. */
static long drive(struct hctx *c, struct fb_fs *fs)
{
	static char buf[16384];
	struct statfs sfs;
	struct stat st;
	long ret;
	int fd;

	switch (c->hc->drive) {
	case D_STAT:
		atomic_store(&c->armed, 1);
		ret = fb_stat(fs, "/f", &st);
		if (ret == 0 && st.st_size != F_SIZE)
			ret = -EBADMSG;
		return ret;
	case D_OPEN:
		atomic_store(&c->armed, 1);
		fd = fb_open(fs, "/f", O_RDONLY);
		if (fd >= 0)
			fb_close(fs, fd);
		return fd < 0 ? fd : 0;
	case D_FSTAT:
	case D_READ:
		fd = fb_open(fs, "/f", O_RDONLY);
		if (fd < 0)
			return fd; /* "never sent" says what went wrong */
		atomic_store(&c->armed, 1);
		if (c->hc->drive == D_FSTAT)
			ret = fb_fstat(fs, fd, &st);
		else
			ret = fb_read(fs, fd, buf, 100);
		fb_close(fs, fd);
		return ret;
	case D_GETDENTS:
		atomic_store(&c->armed, 1);
		return list_dir(fs, "/dir", names, sizeof(names));
	case D_READLINK:
		atomic_store(&c->armed, 1);
		return fb_readlinkat(fs, FB_AT_FDCWD, "/link", buf, sizeof(buf));
	case D_GETXATTR:
		atomic_store(&c->armed, 1);
		return fb_getxattr(fs, "/f", "user.a", buf, 64);
	case D_GETXATTR_SIZE:
		atomic_store(&c->armed, 1);
		return fb_getxattr(fs, "/f", "user.a", NULL, 0);
	case D_LISTXATTR:
		atomic_store(&c->armed, 1);
		return fb_listxattr(fs, "/f", buf, 256);
	case D_STATFS:
		atomic_store(&c->armed, 1);
		return fb_statfs(fs, "/", &sfs);
	}
	return -EINVAL;
}

/* A READDIRPLUS entry that was not failed must not have lent its bad
 * attributes: "b" must still look as the server says. */
static int check_b(struct fb_fs *fs)
{
	struct stat st;
	int err = fb_stat(fs, "/dir/b", &st);

	FS_CHECK(err == 0, "stat /dir/b after the listing: %d", err);
	FS_CHECK(S_ISREG(st.st_mode) && st.st_size == B_SIZE,
		 "stat /dir/b: mode %o size %lld, expected a regular file of "
		 "%d bytes (the spoiled READDIRPLUS entry was used)",
		 (unsigned)st.st_mode, (long long)st.st_size, B_SIZE);
	return 0;
}

static int run(const struct hcase *hc)
{
	struct fakesrv *srv = fakesrv_new();
	struct fakesrv_cfg *cfg = fakesrv_cfg(srv);
	struct hctx c = { .hc = hc, .srv = srv };
	struct fb_fs *fs = NULL;
	struct stat st;
	long ret;
	int err;

	c.f = fakesrv_add(srv, FUSE_ROOT_ID, "f", S_IFREG | 0644, NULL,
			  F_SIZE);
	c.good = fakesrv_add(srv, FUSE_ROOT_ID, "good", S_IFREG | 0644, NULL,
			     GOOD_SIZE);
	c.link = fakesrv_add(srv, FUSE_ROOT_ID, "link", S_IFLNK | 0777,
			     "target", 6);
	c.dir = fakesrv_add(srv, FUSE_ROOT_ID, "dir", S_IFDIR | 0755, NULL, 0);
	c.a = fakesrv_add(srv, c.dir, "a", S_IFREG | 0644, NULL, 10);
	c.b = fakesrv_add(srv, c.dir, "b", S_IFREG | 0644, NULL, B_SIZE);
	fakesrv_add_xattr(srv, c.f, "user.a", "1", 1);
	fakesrv_add_xattr(srv, c.f, "user.b", "22", 2);
	if (hc->flags & H_ATTR0)
		cfg->attr_valid_ms = 0;
	if (hc->flags & H_PLUS)
		cfg->init_flags |= FUSE_DO_READDIRPLUS;
	if (hc->flags & H_PAGES1)
		cfg->max_pages = 1;

	err = fakesrv_mount(srv, handler, &c, NULL, &fs);
	FS_CHECK(err == 0, "fb_mount: %d", err);
	FS_CHECK_EQ(fb_wait_init(fs), 0);

	ret = drive(&c, fs);
	FS_CHECK(atomic_load(&c.fired),
		 "the %s request to spoil was never sent (call returned %ld)",
		 fakesrv_opname(hc->op), ret);
	if (ret != hc->want) {
		bool ok = false;

		if ((hc->flags & H_TRUNC_OK) && ret == 0 &&
		    strcmp(names, "a ") == 0)
			ok = true; /* the kernel drops a truncated tail */
		if ((hc->flags & H_PLUS_OK) && ret == 0) {
			if (check_b(fs))
				return FS_FAIL;
			ok = true; /* the kernel skips the entry */
		}
		FS_CHECK(ok, "%s: the call returned %ld (%s), expected %d "
			     "(%s); listing: [%s], READDIR size %u",
			 hc->name, ret, ret < 0 ? strerror((int)-ret) : "-",
			 hc->want, strerror(-hc->want), names,
			 atomic_load(&c.readdir_size));
	}
	if (hc->want == 0 && hc->drive == D_GETDENTS)
		FS_CHECK(strstr(names, "a ") != NULL, "listing [%s]", names);

	/* Still up: the connection is fine and good requests work. */
	FS_CHECK(fb_conn_error(fs) == NULL, "connection failed: %s",
		 fb_conn_error(fs));
	err = fb_stat(fs, "/good", &st);
	FS_CHECK(err == 0, "stat /good after the bad reply: %d", err);
	FS_CHECK_EQ(st.st_size, GOOD_SIZE);
	if (!(hc->flags & H_NO_AGAIN)) {
		ret = drive(&c, fs);
		FS_CHECK(ret >= 0, "the same call with a good reply: %ld", ret);
	}
	FS_CHECK(fb_conn_error(fs) == NULL, "connection failed: %s",
		 fb_conn_error(fs));
	err = fb_unmount(fs);
	FS_CHECK(err == 0, "fb_unmount: %d", err);
	fakesrv_free(srv);
	return 0;
}

static const struct hcase hcases[] = {
	/* 2b: the message itself */
	{ "len_field_larger", D_STAT, FUSE_LOOKUP, m_len_larger, -EIO, 0 },
	{ "len_field_smaller", D_STAT, FUSE_LOOKUP, m_len_smaller, -EIO, 0 },
	{ "runt_messages", D_STAT, FUSE_LOOKUP, m_runt, 0, 0 },
	{ "error_positive", D_STAT, FUSE_LOOKUP, m_err_positive, -EIO, 0 },
	{ "error_minus_512", D_STAT, FUSE_LOOKUP, m_err_512, -EIO, 0 },
	{ "error_minus_10000", D_STAT, FUSE_LOOKUP, m_err_10000, -EIO, 0 },
	{ "error_with_payload", D_STAT, FUSE_LOOKUP, m_err_payload, -EIO, 0 },
	{ "error_with_payload_open", D_OPEN, FUSE_OPEN, m_err_payload, -EIO,
	  0 },
	{ "unique_not_in_flight", D_STAT, FUSE_LOOKUP, m_wrong_unique, 0, 0 },
	{ "payload_long_entry", D_STAT, FUSE_LOOKUP, m_long8, -EIO, 0 },
	{ "payload_long_open", D_OPEN, FUSE_OPEN, m_long8, -EIO, 0 },
	{ "payload_long_statfs", D_STATFS, FUSE_STATFS, m_long8, -EIO, 0 },
	{ "payload_short_entry", D_STAT, FUSE_LOOKUP, m_short_entry, -EIO, 0 },
	{ "payload_short_attr", D_FSTAT, FUSE_GETATTR, m_short_attr, -EIO,
	  H_ATTR0 | H_NO_AGAIN },
	{ "payload_short_open", D_OPEN, FUSE_OPEN, m_short_open, -EIO, 0 },
	{ "statfs_short", D_STATFS, FUSE_STATFS, m_short_statfs, -EIO, 0 },
	/* 2e: entries and attributes */
	{ "entry_mode_zero", D_STAT, FUSE_LOOKUP, m_entry_mode0, -EIO, 0 },
	{ "entry_mode_garbage", D_STAT, FUSE_LOOKUP, m_entry_mode_garbage,
	  -EIO, 0 },
	{ "entry_size_huge", D_STAT, FUSE_LOOKUP, m_entry_size_huge, -EIO, 0 },
	{ "attr_mode_zero", D_FSTAT, FUSE_GETATTR, m_attr_mode0, -EIO,
	  H_ATTR0 | H_NO_AGAIN },
	{ "attr_mode_garbage", D_FSTAT, FUSE_GETATTR, m_attr_mode_garbage,
	  -EIO, H_ATTR0 | H_NO_AGAIN },
	{ "attr_size_huge", D_FSTAT, FUSE_GETATTR, m_attr_size_huge, -EIO,
	  H_ATTR0 | H_NO_AGAIN },
	/* A negative entry, cached for entry_valid: no second try. */
	{ "lookup_nodeid_zero_is_negative", D_STAT, FUSE_LOOKUP, m_entry_zero,
	  -ENOENT, H_NO_AGAIN },
	{ "lookup_child_is_root", D_STAT, FUSE_LOOKUP, m_entry_root, -EIO, 0 },
	/* 2f: directory listings */
	{ "readdir_namelen_zero", D_GETDENTS, FUSE_READDIR, m_dir_namelen0,
	  -EIO, 0 },
	{ "readdir_name_with_slash", D_GETDENTS, FUSE_READDIR, m_dir_slash,
	  -EIO, 0 },
	{ "readdir_namelen_too_big", D_GETDENTS, FUSE_READDIR,
	  m_dir_namelen_big, -EIO, H_PAGES1 },
	{ "readdir_record_past_end", D_GETDENTS, FUSE_READDIR, m_dir_past_end,
	  -EIO, H_TRUNC_OK },
	{ "readdirplus_nodeid_root", D_GETDENTS, FUSE_READDIRPLUS, m_plus_root,
	  -EIO, H_PLUS | H_PLUS_OK },
	{ "readdirplus_mode_zero", D_GETDENTS, FUSE_READDIRPLUS, m_plus_mode0,
	  -EIO, H_PLUS | H_PLUS_OK },
	{ "readdirplus_size_huge", D_GETDENTS, FUSE_READDIRPLUS,
	  m_plus_size_huge, -EIO, H_PLUS | H_PLUS_OK },
	/* other ops */
	{ "readlink_too_long", D_READLINK, FUSE_READLINK, m_readlink_long,
	  -EIO, 0 },
	{ "listxattr_empty_name", D_LISTXATTR, FUSE_LISTXATTR,
	  m_list_empty_name, -EIO, 0 },
	{ "listxattr_no_final_nul", D_LISTXATTR, FUSE_LISTXATTR, m_list_no_nul,
	  -EIO, 0 },
	{ "getxattr_longer_than_asked", D_GETXATTR, FUSE_GETXATTR,
	  m_getxattr_long, -EIO, 0 },
	{ "getxattr_size_short", D_GETXATTR_SIZE, FUSE_GETXATTR,
	  m_short_xattr_size, -EIO, 0 },
	{ "read_longer_than_asked", D_READ, FUSE_READ, m_read_long, -EIO, 0 },
};

#define NCASES (sizeof(hcases) / sizeof(hcases[0]))

static int run_named(const char *name)
{
	for (size_t i = 0; i < NCASES; i++)
		if (strcmp(hcases[i].name, name) == 0)
			return run(&hcases[i]);
	return FS_FAIL;
}

/* fakesrv_main wants one function per case. */
static const char *selected;

static int run_selected(void)
{
	return run_named(selected);
}

int main(int argc, char **argv)
{
	struct fakesrv_case cases[NCASES];

	for (size_t i = 0; i < NCASES; i++) {
		cases[i].name = hcases[i].name;
		cases[i].fn = run_selected;
	}
	if (argc == 2)
		selected = argv[1];
	return fakesrv_main(cases, NCASES, argc, argv, 10);
}
