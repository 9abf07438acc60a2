/*
 * fbdemo.c - fusebox's own demo FUSE server: a plain libfuse 3 low-level
 * server that serves a small, fixed, read-only tree from memory.
 *
 * It is what `make demo` explores with the fusebox command, and a
 * deterministic server for the black-box tests: every byte, inode number,
 * mode and time is fixed, so two runs of it (one mounted through the
 * kernel, one read by fusebox) must look the same.
 *
 *   /README                 a short text file
 *   /.hidden                a dot file (only `ls -a` shows it)
 *   /docs/intro.txt         text
 *   /docs/usage.txt         text
 *   /docs/nested/deep.txt   text two directories down
 *   /link -> docs/intro.txt a symlink to a file
 *   /nested -> docs/nested  a symlink to a directory
 *   /big.bin                1 MiB of a position-dependent pattern, so a
 *                           read split into several READs is checkable
 *   /tagged.txt             text with two user.* extended attributes
 *   /empty                  a file of size 0
 *
 * It knows nothing of fusebox: it runs the same mounted by the kernel
 * (`fbdemo MOUNTPOINT -f`) or handed a /dev/fd/N channel by fb_spawn().
 * Nothing is ever created or freed, so FORGET needs no handler.
 */
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BIG_SIZE (1024 * 1024)
/* The tree never changes, so the kernel may cache names and attributes
 * for as long as it likes; an hour keeps the numbers readable. */
#define CACHE_TIMEOUT 3600.0
/* Fixed times (2023-11-14 22:13:20 UTC plus an offset per inode) so runs
 * compare equal; the nanoseconds make sure they travel too. */
#define BASE_TIME 1700000000

struct demo_xattr {
	const char *name;
	const char *value;
};

struct demo_node {
	fuse_ino_t parent;
	const char *name;
	mode_t mode;
	const char *text;	/* file contents, or symlink target */
	const struct demo_xattr *xattrs;
};

static const char readme_text[] =
	"fbdemo - the fusebox demo filesystem\n"
	"\n"
	"This tree is served by examples/fbdemo.c, an ordinary libfuse 3\n"
	"low-level server. fusebox talks FUSE to it directly, from user\n"
	"space: nothing is mounted.\n"
	"\n"
	"Try:\n"
	"  fusebox tree / -- build/fbdemo\n"
	"  fusebox ls -a / -- build/fbdemo\n"
	"  fusebox cat /docs/intro.txt -- build/fbdemo\n"
	"  fusebox stat /big.bin -- build/fbdemo\n";

static const struct demo_xattr tagged_xattrs[] = {
	{ "user.fbdemo.comment", "extended attributes travel too" },
	{ "user.mime_type", "text/plain" },
	{ NULL, NULL },
};

/* Index i holds inode i + 1, so the root is FUSE_ROOT_ID (1). A node's
 * parent is always listed before it. */
static const struct demo_node nodes[] = {
	{ 1, "", S_IFDIR | 0555, NULL, NULL },
	{ 1, "README", S_IFREG | 0444, readme_text, NULL },
	{ 1, ".hidden", S_IFREG | 0444, "you found the dot file\n", NULL },
	{ 1, "docs", S_IFDIR | 0555, NULL, NULL },
	{ 4, "intro.txt", S_IFREG | 0444,
	  "fusebox is a FUSE client that lives in user space.\n", NULL },
	{ 4, "usage.txt", S_IFREG | 0444,
	  "usage: fusebox ls|cat|stat|tree PATH -- SERVER [ARGS...]\n", NULL },
	{ 4, "nested", S_IFDIR | 0555, NULL, NULL },
	{ 7, "deep.txt", S_IFREG | 0444, "two levels down\n", NULL },
	{ 1, "link", S_IFLNK | 0777, "docs/intro.txt", NULL },
	{ 1, "nested", S_IFLNK | 0777, "docs/nested", NULL },
	{ 1, "big.bin", S_IFREG | 0444, NULL, NULL },
	{ 1, "tagged.txt", S_IFREG | 0644, "this file has xattrs\n",
	  tagged_xattrs },
	{ 1, "empty", S_IFREG | 0444, "", NULL },
};

#define NODE_COUNT (sizeof(nodes) / sizeof(nodes[0]))
#define BIG_INO 11

static const struct demo_node *node_of(fuse_ino_t ino)
{
	if (ino < 1 || ino > NODE_COUNT)
		return NULL;
	return &nodes[ino - 1];
}

/* Byte at offset off of /big.bin: cycles every 251 bytes (a prime, so it
 * never lines up with pages) and differs from page to page. */
static unsigned char big_byte(off_t off)
{
	return (unsigned char)((off % 251) ^ ((off / 4096) & 0xff));
}

static off_t node_size(fuse_ino_t ino)
{
	const struct demo_node *n = node_of(ino);

	if (ino == BIG_INO)
		return BIG_SIZE;
	if (n->text)
		return (off_t)strlen(n->text);
	return 0;
}

static nlink_t node_nlink(fuse_ino_t ino)
{
	nlink_t links = 2;

	if (!S_ISDIR(node_of(ino)->mode))
		return 1;
	for (fuse_ino_t i = 2; i <= NODE_COUNT; i++)
		if (node_of(i)->parent == ino && S_ISDIR(node_of(i)->mode))
			links++;
	return links;
}

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	const struct demo_node *n = node_of(ino);
	time_t mtime = BASE_TIME + (time_t)ino * 3600;

	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = n->mode;
	st->st_nlink = node_nlink(ino);
	st->st_uid = getuid();
	st->st_gid = getgid();
	st->st_size = node_size(ino);
	st->st_blksize = 4096;
	st->st_blocks = S_ISREG(n->mode) ? (st->st_size + 511) / 512 : 0;
	st->st_mtim.tv_sec = mtime;
	st->st_mtim.tv_nsec = 123456789;
	st->st_atim.tv_sec = mtime + 60;
	st->st_atim.tv_nsec = 5;
	st->st_ctim.tv_sec = mtime + 30;
	st->st_ctim.tv_nsec = 987654321;
}

static void fill_entry(fuse_ino_t ino, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino;
	e->attr_timeout = CACHE_TIMEOUT;
	e->entry_timeout = CACHE_TIMEOUT;
	fill_stat(ino, &e->attr);
}

static fuse_ino_t child_of(fuse_ino_t dir, const char *name)
{
	if (strcmp(name, ".") == 0)
		return dir;
	if (strcmp(name, "..") == 0)
		return node_of(dir)->parent;
	for (fuse_ino_t i = 2; i <= NODE_COUNT; i++)
		if (node_of(i)->parent == dir &&
		    strcmp(node_of(i)->name, name) == 0)
			return i;
	return 0;
}

static void demo_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e;
	const struct demo_node *dir = node_of(parent);
	fuse_ino_t ino;

	if (!dir) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!S_ISDIR(dir->mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	ino = child_of(parent, name);
	if (!ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fill_entry(ino, &e);
	fuse_reply_entry(req, &e);
}

static void demo_getattr(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	struct stat st;

	if (!node_of(ino)) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void demo_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const struct demo_node *n = node_of(ino);

	if (!n || !S_ISLNK(n->mode)) {
		fuse_reply_err(req, n ? EINVAL : ESTALE);
		return;
	}
	fuse_reply_readlink(req, n->text);
}

static void demo_open(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi)
{
	const struct demo_node *n = node_of(ino);

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (S_ISDIR(n->mode)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY) {
		fuse_reply_err(req, EROFS);
		return;
	}
	/* The contents never change: let the kernel keep its page cache. */
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void demo_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	off_t len = node_size(ino);
	char *buf;

	if (off >= len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if ((off_t)size > len - off)
		size = (size_t)(len - off);
	if (ino != BIG_INO) {
		fuse_reply_buf(req, node_of(ino)->text + off, size);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = 0; i < size; i++)
		buf[i] = (char)big_byte(off + (off_t)i);
	fuse_reply_buf(req, buf, size);
	free(buf);
}

static void demo_opendir(fuse_req_t req, fuse_ino_t ino,
			 struct fuse_file_info *fi)
{
	const struct demo_node *n = node_of(ino);

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	if (!S_ISDIR(n->mode)) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	fi->cache_readdir = 1;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

/* The n-th entry of directory dir, counting "." and ".." first; 0 when
 * there is none. */
static fuse_ino_t nth_entry(fuse_ino_t dir, off_t n, const char **name)
{
	if (n == 0) {
		*name = ".";
		return dir;
	}
	if (n == 1) {
		*name = "..";
		return node_of(dir)->parent;
	}
	n -= 2;
	for (fuse_ino_t i = 2; i <= NODE_COUNT; i++) {
		if (node_of(i)->parent != dir)
			continue;
		if (n-- == 0) {
			*name = node_of(i)->name;
			return i;
		}
	}
	return 0;
}

/* READDIR and READDIRPLUS differ only in the record they add. An entry's
 * offset is its index + 1, so a later call resumes right after it. */
static void reply_dir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		      int plus)
{
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	const char *name;
	fuse_ino_t child;

	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (; (child = nth_entry(ino, off, &name)) != 0; off++) {
		size_t len;

		if (plus) {
			struct fuse_entry_param e;

			fill_entry(child, &e);
			len = fuse_add_direntry_plus(req, buf + used,
						     size - used, name, &e,
						     off + 1);
		} else {
			struct stat st;

			fill_stat(child, &st);
			len = fuse_add_direntry(req, buf + used, size - used,
						name, &st, off + 1);
		}
		if (len > size - used)
			break;
		used += len;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void demo_readdir(fuse_req_t req, fuse_ino_t ino, size_t size,
			 off_t off, struct fuse_file_info *fi)
{
	reply_dir(req, ino, size, off, 0);
}

static void demo_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			     off_t off, struct fuse_file_info *fi)
{
	reply_dir(req, ino, size, off, 1);
}

static void demo_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	fsblkcnt_t blocks = 0;

	for (fuse_ino_t i = 1; i <= NODE_COUNT; i++)
		blocks += (fsblkcnt_t)((node_size(i) + 4095) / 4096);
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = blocks;
	sv.f_files = NODE_COUNT;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

/* getxattr and listxattr share the size protocol: size 0 asks how much
 * room the answer needs, too small a size is ERANGE. */
static void reply_sized(fuse_req_t req, const char *data, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
}

static void demo_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  size_t size)
{
	const struct demo_node *n = node_of(ino);

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	for (const struct demo_xattr *x = n->xattrs; x && x->name; x++) {
		if (strcmp(x->name, name) == 0) {
			reply_sized(req, x->value, strlen(x->value), size);
			return;
		}
	}
	fuse_reply_err(req, ENODATA);
}

static void demo_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	const struct demo_node *n = node_of(ino);
	char list[256];
	size_t len = 0;

	if (!n) {
		fuse_reply_err(req, ESTALE);
		return;
	}
	for (const struct demo_xattr *x = n->xattrs; x && x->name; x++) {
		size_t l = strlen(x->name) + 1;

		if (len + l > sizeof(list)) {
			fuse_reply_err(req, E2BIG);
			return;
		}
		memcpy(list + len, x->name, l);
		len += l;
	}
	reply_sized(req, list, len, size);
}

static const struct fuse_lowlevel_ops demo_ops = {
	.lookup = demo_lookup,
	.getattr = demo_getattr,
	.readlink = demo_readlink,
	.open = demo_open,
	.read = demo_read,
	.opendir = demo_opendir,
	.readdir = demo_readdir,
	.readdirplus = demo_readdirplus,
	.statfs = demo_statfs,
	.getxattr = demo_getxattr,
	.listxattr = demo_listxattr,
};

static void usage(const char *prog)
{
	printf("usage: %s [options] MOUNTPOINT\n"
	       "Serves a small read-only demo tree (see examples/fbdemo.c).\n"
	       "MOUNTPOINT may be /dev/fd/N, a FUSE channel already open.\n\n",
	       prog);
	fuse_cmdline_help();
	fuse_lowlevel_help();
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_loop_config config;
	struct fuse_session *se = NULL;
	int ret = 1;

	if (fuse_parse_cmdline(&args, &opts) != 0)
		return 1;
	if (opts.show_help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.show_version) {
		printf("FUSE library version %s\n", fuse_pkgversion());
		fuse_lowlevel_version();
		ret = 0;
		goto out_args;
	}
	if (!opts.mountpoint) {
		fprintf(stderr, "%s: no mountpoint given (try --help)\n",
			argv[0]);
		goto out_args;
	}
	se = fuse_session_new(&args, &demo_ops, sizeof(demo_ops), NULL);
	if (!se)
		goto out_args;
	if (fuse_set_signal_handlers(se) != 0)
		goto out_session;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	fuse_daemonize(opts.foreground);
	if (opts.singlethread) {
		ret = fuse_session_loop(se);
	} else {
		config.clone_fd = opts.clone_fd;
		/* Unset means UINT_MAX here, which libfuse 3.14 rejects
		 * with a warning at exit; ask for its default instead. */
		config.max_idle_threads = opts.max_idle_threads > 1000 ?
			10 : opts.max_idle_threads;
		ret = fuse_session_loop_mt(se, &config);
	}
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out_session:
	fuse_session_destroy(se);
out_args:
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return ret ? 1 : 0;
}
