/*
 * fbops.c - seeded differential generator for read-write operations: the
 * same random sequence of file system calls run either through libfusebox
 * ("lib") or through the system calls of the kernel ("native", on a kernel
 * FUSE mount in the tests), printing one canonical line per call, so the
 * two outputs can be diffed.
 *
 *   fbops [--root=SUB] [--debug] [--create-rdwr] lib --seeds A:B --ops N
 *         -- SERVER ARGS...
 *   fbops [--root=SUB] [--create-rdwr] native DIR --seeds A:B --ops N
 *
 * --create-rdwr: every open with O_CREAT is O_RDWR without O_APPEND. For
 * servers with writeback caching whose CREATE keeps the caller's
 * O_WRONLY/O_APPEND on the handle (libfuse 3.14's passthrough_ll adjusts
 * them in OPEN only): a client's writeback must read partial pages and
 * write at its offsets, and such a handle can do neither, so where the
 * bytes land would depend on each client's page accounting.
 *
 * For each seed S in [A,B) a directory "s<S>" is made in SUB of the file
 * system ("/" by default; for native, SUB is taken inside DIR), then N
 * operations run in it and the tree of s<S> is dumped. Operation S.i is a
 * pure function of S and i: a splitmix64 stream seeded with S gives every
 * operation its own sub-seed, and an operation draws all its arguments from
 * that sub-seed before it looks at any state. Results never steer the
 * sequence, so both clients run the identical calls; an operation on an
 * unused descriptor slot prints "skip", identically on both sides as long
 * as the two clients agreed so far.
 *
 * Paths come from a small namespace (a b c d, d1 d2, d1/e, odd ones like
 * "a/", ".", "d1/..") so that calls collide often. Symlink targets are
 * relative and climb at most one "..", so they never leave SUB wherever a
 * rename puts them: a native client resolves them on the host, libfusebox
 * inside the file system, and the two agree only below SUB.
 *
 * A line is "<seed> <i> <op> <args> -> <result>", results as numbers or
 * errno names. Printed are only facts both clients must agree on: never
 * inode numbers, st_dev, st_blocks, times changed implicitly, l_pid or
 * descriptor numbers (slots are printed as fd0..fd3). The dump at the end
 * of a seed closes the slots first, then prints every entry sorted: type,
 * mode, nlink, size, uid, gid, a FNV-1a hash of a file's content, a
 * symlink's target, and the user.* xattrs.
 *
 * Locks come in pairs, on two slots, and opens favour a few names, so that
 * two descriptors of one file meet each other's OFD locks and flocks.
 *
 * Every open adds O_NONBLOCK (not printed): FIFOs are in the namespace, and
 * a blocking open of one would hang. SIGPIPE is ignored for the same
 * reason. The umask is set to 022 before anything, the server included.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "fusebox.h"

#define NSLOT 4
#define MAXLEN 200000
#define MAXNAMES 64

/* ---- the two clients, call by call ---------------------------------------
 *
 * Each call goes to libfusebox when fs is set, else to the kernel, and
 * returns a value >= 0 or a negative errno. xattr calls take how: 0 a path
 * (following symlinks), 1 a path (not following), 2 the descriptor.
 */
static struct fb_fs *fs;
static bool create_rdwr;	/* --create-rdwr */

static long rc(long r)
{
	return r < 0 ? -errno : r;
}

static long c_openat(int d, const char *p, int fl, mode_t m)
{
	return fs ? fb_openat(fs, d, p, fl, m) :
	       rc(openat(d, p, fl | O_CLOEXEC, m));
}

static long c_close(int fd)
{
	return fs ? fb_close(fs, fd) : rc(close(fd));
}

static long c_read(int fd, void *b, size_t n, off_t o, int positioned)
{
	if (positioned)
		return fs ? fb_pread(fs, fd, b, n, o) : rc(pread(fd, b, n, o));
	return fs ? fb_read(fs, fd, b, n) : rc(read(fd, b, n));
}

static long c_write(int fd, const void *b, size_t n, off_t o, int positioned)
{
	if (positioned)
		return fs ? fb_pwrite(fs, fd, b, n, o) :
		       rc(pwrite(fd, b, n, o));
	return fs ? fb_write(fs, fd, b, n) : rc(write(fd, b, n));
}

static long c_getdents(int fd, void *b, size_t n)
{
	return fs ? fb_getdents64(fs, fd, b, n) :
	       rc(syscall(SYS_getdents64, fd, b, n));
}

static long c_fstatat(int d, const char *p, struct stat *st, int fl)
{
	return fs ? fb_fstatat(fs, d, p, st, fl) : rc(fstatat(d, p, st, fl));
}

static long c_readlinkat(int d, const char *p, char *b, size_t n)
{
	return fs ? fb_readlinkat(fs, d, p, b, n) : rc(readlinkat(d, p, b, n));
}

static long c_getxattr(int how, const char *p, int fd, const char *name,
		       void *v, size_t n)
{
	if (fs)
		return how == 0 ? fb_getxattr(fs, p, name, v, n) :
		       how == 1 ? fb_lgetxattr(fs, p, name, v, n) :
		       fb_fgetxattr(fs, fd, name, v, n);
	return rc(how == 0 ? getxattr(p, name, v, n) :
		  how == 1 ? lgetxattr(p, name, v, n) :
		  fgetxattr(fd, name, v, n));
}

static long c_listxattr(int how, const char *p, int fd, char *l, size_t n)
{
	if (fs)
		return how == 0 ? fb_listxattr(fs, p, l, n) :
		       how == 1 ? fb_llistxattr(fs, p, l, n) :
		       fb_flistxattr(fs, fd, l, n);
	return rc(how == 0 ? listxattr(p, l, n) :
		  how == 1 ? llistxattr(p, l, n) : flistxattr(fd, l, n));
}

static long c_setxattr(int how, const char *p, int fd, const char *name,
		       const void *v, size_t n, int fl)
{
	if (fs)
		return how == 0 ? fb_setxattr(fs, p, name, v, n, fl) :
		       how == 1 ? fb_lsetxattr(fs, p, name, v, n, fl) :
		       fb_fsetxattr(fs, fd, name, v, n, fl);
	return rc(how == 0 ? setxattr(p, name, v, n, fl) :
		  how == 1 ? lsetxattr(p, name, v, n, fl) :
		  fsetxattr(fd, name, v, n, fl));
}

static long c_removexattr(int how, const char *p, int fd, const char *name)
{
	if (fs)
		return how == 0 ? fb_removexattr(fs, p, name) :
		       how == 1 ? fb_lremovexattr(fs, p, name) :
		       fb_fremovexattr(fs, fd, name);
	return rc(how == 0 ? removexattr(p, name) :
		  how == 1 ? lremovexattr(p, name) : fremovexattr(fd, name));
}

/* ---- randomness, content, output ---------------------------------------- */

static uint64_t next64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned pick(uint64_t *s, unsigned n)
{
	return (unsigned)(next64(s) % n);
}

/* Bytes of a length that is mostly small, sometimes up to MAXLEN. */
static size_t draw_len(uint64_t *s)
{
	switch (pick(s, 8)) {
	case 0: return 0;
	case 1: case 2: case 3: return pick(s, 600);
	case 4: case 5: return pick(s, 9000);
	default: return pick(s, MAXLEN + 1);
	}
}

/* An offset around the interesting places: 0, page edges, far past EOF. */
static off_t draw_off(uint64_t *s)
{
	static const off_t at[] = { 0, 1, 100, 4095, 4096, 4097, 65536,
				    131072, 300000, 1 << 20 };

	if (pick(s, 3) == 0)
		return (off_t)pick(s, 20000);
	return at[pick(s, sizeof(at) / sizeof(at[0]))];
}

static void fill(unsigned char *buf, size_t n, uint64_t key)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t v = next64(&key);

		memcpy(buf + i, &v, n - i < 8 ? n - i : 8);
	}
}

static uint64_t fnv1a(const void *data, size_t len, uint64_t h)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ULL;
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

/* -r as an errno name ("E123" when unnamed), r >= 0 as the number; in a
 * ring of buffers so that one printf may show two. */
static const char *ename(long r)
{
	static char ring[2][32];
	static int next;
	const char *s = r < 0 && r >= -4095 ? strerrorname_np((int)-r) : NULL;
	char *buf = ring[next++ % 2];

	if (r >= 0)
		snprintf(buf, sizeof(ring[0]), "%ld", r);
	else if (s)
		snprintf(buf, sizeof(ring[0]), "-%s", s);
	else
		snprintf(buf, sizeof(ring[0]), "-E%ld", -r);
	return buf;
}

static void put_res(long r)
{
	printf(" -> %s", ename(r));
}

static const char *type_name(mode_t m)
{
	static const char *const names[16] = {
		[S_IFIFO >> 12] = "fifo", [S_IFCHR >> 12] = "chr",
		[S_IFDIR >> 12] = "dir", [S_IFBLK >> 12] = "blk",
		[S_IFREG >> 12] = "reg", [S_IFLNK >> 12] = "lnk",
		[S_IFSOCK >> 12] = "sock",
	};

	const char *name = names[(m & S_IFMT) >> 12];

	return name ? name : "unknown";
}

static void put_stat(const struct stat *st)
{
	printf(" %s %04o nlink=%lu size=%lld uid=%u gid=%u",
	       type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
	       (unsigned long)st->st_nlink, (long long)st->st_size,
	       st->st_uid, st->st_gid);
}

static void put_bytes(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c <= ' ' || c >= 0x7f || c == '\\')
			printf("\\x%02x", c);
		else
			putchar(c);
	}
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in a listxattr buffer that start with "user.", sorted, as "[a,b]". */
static void put_xattr_names(const char *list, long n)
{
	const char *names[MAXNAMES];
	int count = 0;

	for (long i = 0; i < n && count < MAXNAMES;
	     i += (long)strnlen(list + i, (size_t)(n - i)) + 1)
		if (!strncmp(list + i, "user.", 5))
			names[count++] = list + i;
	qsort(names, (size_t)count, sizeof(names[0]), cmp_str);
	printf(" [");
	for (int i = 0; i < count; i++)
		printf("%s%s", i ? "," : "", names[i]);
	printf("]");
}

/* The result and the end of the line. */
static void end(long r)
{
	put_res(r);
	printf("\n");
}

/* Whether a call can go ahead: the line ends in "skip" when its slot is
 * unused (-1; AT_FDCWD is -100). */
static int ready(long fd)
{
	if (fd == -1)
		printf(" -> skip\n");
	return fd != -1;
}

/* Read a directory from fd to its end in bufsize chunks; the names other
 * than "." and ".." (with ":d_type" when types) into names, sorted.
 * Returns the count, or the error that ended the listing. */
static long read_dir(int fd, size_t bufsize, char **names, int types)
{
	static char buf[32768];
	int count = 0;
	long n;

	while ((n = c_getdents(fd, buf, bufsize)) > 0) {
		for (long off = 0; off < n;) {
			unsigned short reclen;
			const char *name = buf + off + 19; /* linux_dirent64 */

			memcpy(&reclen, buf + off + 16, sizeof(reclen));
			if (strcmp(name, ".") && strcmp(name, "..") &&
			    count < MAXNAMES) {
				/* libfuse's high-level servers hide an open
				 * file that is unlinked under a name made of
				 * its node id, which differs between runs. */
				if (!strncmp(name, ".fuse_hidden", 12)) {
					/* In a dump, after the closes: one the
					 * server has not released yet. */
					if (!types) {
						off += reclen ? reclen : n;
						continue;
					}
					name = ".fuse_hidden*";
				}
				names[count] = malloc(strlen(name) + 8);
				sprintf(names[count++], types ? "%s:%u" : "%s",
					name, (unsigned char)buf[off + 18]);
			}
			off += reclen ? reclen : n;
		}
	}
	qsort(names, (size_t)count, sizeof(names[0]), cmp_str);
	if (n < 0)
		while (count)
			free(names[--count]);
	return n < 0 ? n : count;
}

/* ---- the operations ----------------------------------------------------- */

enum {
	OP_OPEN, OP_CLOSE, OP_WRITE, OP_PWRITE, OP_READ, OP_PREAD, OP_LSEEK,
	OP_FTRUNCATE, OP_TRUNCATE, OP_FSTAT, OP_FSTATAT, OP_LSTAT, OP_MKDIR,
	OP_MKNOD, OP_SYMLINK, OP_READLINK, OP_LINK, OP_UNLINK, OP_RENAME,
	OP_RENAME2, OP_CHMOD, OP_FCHMOD, OP_CHOWN, OP_UTIMENS, OP_SETXATTR,
	OP_GETXATTR, OP_LISTXATTR, OP_REMOVEXATTR, OP_FSYNC, OP_FALLOCATE,
	OP_COPY, OP_GETDENTS, OP_OFDLOCK, OP_FLOCK, NOPS
};

/* Name, weight, and weight in the first third of a seed (which builds
 * the tree the rest works on). In the order of the enum. */
static const struct optab { const char *name; int weight, early; } optab[] = {
	{ "open", 14, 12 }, { "close", 3, 0 }, { "write", 6, 4 },
	{ "pwrite", 6, 3 }, { "read", 5, 0 }, { "pread", 5, 0 },
	{ "lseek", 4, 0 }, { "ftruncate", 3, 0 }, { "truncate", 3, 0 },
	{ "fstat", 3, 0 }, { "fstatat", 4, 0 }, { "lstat", 2, 0 },
	{ "mkdir", 4, 8 }, { "mknod", 2, 2 }, { "symlink", 3, 3 },
	{ "readlink", 2, 0 }, { "link", 3, 1 }, { "unlink", 4, 0 },
	{ "rename", 3, 0 }, { "rename2", 4, 0 }, { "chmod", 2, 0 },
	{ "fchmod", 1, 0 }, { "chown", 2, 0 }, { "utimens", 3, 0 },
	{ "setxattr", 3, 1 }, { "getxattr", 2, 0 }, { "listxattr", 2, 0 },
	{ "removexattr", 2, 0 }, { "fsync", 1, 0 }, { "fallocate", 3, 0 },
	{ "copy_file_range", 3, 0 }, { "getdents", 3, 0 },
	{ "ofdlock", 5, 0 }, { "flock", 4, 0 },
};

static int slots[NSLOT];       /* the client's descriptors, -1: unused */
static int seedfd;             /* s<S>, opened O_DIRECTORY */
static char base[PATH_MAX];    /* makes a path full: "SUB/s<S>/" for lib,
				* "s<S>/" for native (cwd is DIR/SUB) */
static unsigned char wbuf[MAXLEN], rbuf[MAXLEN];

/* Paths inside s<S>; the first COMMON are drawn half the time. */
static const char *const paths[] = {
	"a", "b", "d1/a", "d1", "c", "d2/b", "d1/e/a", "d2",
	"d", "d1/b", "d1/e", "d1/e/c", "d2/a", "d2/d1", "d1/c",
	"a/", "d1/", "a/x", ".", "d1/..", "d1/e/", "nope/a",
};
#define COMMON 8
static const char *const dirpaths[] = { "d1", "d1", "d2", "d1/e", "d1/e",
					"d2/d1", "c" };
/* What opens name most: few files, so that slots share files and their
 * locks conflict. */
static const char *const files[] = { "a", "a", "a", "a", "a", "b", "b",
				     "c", "d", "d1/a", "d1/e/a", "d2/b" };
static const char *const targets[] = {
	"a", "b", "d1", "d1/a", "d2/b", "missing", "a/x", "../a", ".", "c",
	"e/a", "../d1/e",
};
static const char *const xnames[] = { "user.a", "user.b", "user.long.name" };
static const mode_t modes[] = { 0644, 0600, 0755, 0444, 0000, 04755,
				02755, 01777, 0700 };

#define DRAW(s, arr) ((arr)[pick(s, sizeof(arr) / sizeof((arr)[0]))])

static const char *draw_path(uint64_t *s)
{
	if (pick(s, 2))
		return paths[pick(s, COMMON)];
	return DRAW(s, paths);
}

/* A path and where it is resolved from: s<S> by its descriptor (how 0),
 * AT_FDCWD with the path made full (1), or a slot's descriptor (2). */
struct at {
	int how, slot;
	const char *rel;
	char full[PATH_MAX];
};

/* Everything an operation may use, drawn in one fixed order whatever the
 * operation is, so that no argument can depend on a result. x and y are
 * small choices (0..4, 0..2) each operation reads in its own way. */
struct args {
	int k, k2;               /* slots */
	struct at at, at2;
	struct at dir;           /* mkdir's: mostly a directory name */
	struct at file;          /* open's, when use_file: a file name */
	int use_file;
	int oflags, x, y, xhow, xflags, null_times; /* xhow: see c_getxattr */
	mode_t mode;
	size_t len, vlen, xsize;
	off_t off, off2;
	uint64_t key;
	const char *target, *xname;
	struct timespec ts[2];
};

static void set_rel(struct at *a, const char *rel)
{
	a->rel = rel;
	snprintf(a->full, sizeof(a->full), "%s%s", base, rel);
}

static void draw_at(uint64_t *s, struct at *a, const char *rel)
{
	unsigned x = pick(s, 10);

	a->how = x < 6 ? 0 : x < 9 ? 1 : 2;
	a->slot = (int)pick(s, NSLOT);
	set_rel(a, rel);
}

/* Operation i of nops. In the first third opens create files (not in
 * directory names, not relative to a slot), so that the tree fills up;
 * operations 0..2, mostly mkdirs, make d1, d2, d1/e. */
static void draw_args(uint64_t *s, struct args *a, int i, int nops)
{
	static const char *const first_dirs[] = { "d1", "d2", "d1/e" };
	static const int extra[] = { O_CREAT, O_CREAT, O_CREAT, O_EXCL,
				     O_TRUNC, O_APPEND, O_DIRECTORY,
				     O_NOFOLLOW };

	a->k = (int)pick(s, NSLOT);
	a->k2 = (int)pick(s, NSLOT);
	draw_at(s, &a->at, draw_path(s));
	draw_at(s, &a->at2, draw_path(s));
	draw_at(s, &a->dir, pick(s, 3) ? DRAW(s, dirpaths) : draw_path(s));
	a->oflags = (int)pick(s, 3);
	for (size_t j = 0; j < sizeof(extra) / sizeof(extra[0]); j++)
		if (pick(s, 4) == 0)
			a->oflags |= extra[j];
	a->x = (int)pick(s, 5);
	a->y = (int)pick(s, 3);
	a->xhow = (int)pick(s, 3);
	a->xflags = (int)pick(s, 3); /* 0, XATTR_CREATE, XATTR_REPLACE */
	a->null_times = pick(s, 8) == 0;
	a->mode = DRAW(s, modes);
	a->len = draw_len(s);
	a->vlen = pick(s, 4) ? pick(s, 100) : 0;
	a->xsize = pick(s, 3) ? 256 : pick(s, 4);
	a->off = draw_off(s);
	a->off2 = draw_off(s);
	a->key = next64(s);
	a->target = DRAW(s, targets);
	a->xname = DRAW(s, xnames);
	draw_at(s, &a->file, DRAW(s, files));
	a->use_file = pick(s, 3) || i < nops / 3;
	for (int t = 0; t < 2; t++) {
		unsigned kind = pick(s, 4);

		a->ts[t].tv_sec = 1000000000 + (time_t)pick(s, 700000000);
		a->ts[t].tv_nsec = kind == 2 ? UTIME_NOW : kind == 3 ?
				   UTIME_OMIT : (long)pick(s, 1000000000);
	}
	if (i < 3)
		set_rel(&a->dir, first_dirs[i]);
	if (i < nops / 3) {
		a->oflags &= O_TRUNC | O_APPEND;
		a->oflags |= O_CREAT | (a->y ? O_RDWR : O_WRONLY);
		a->file.how = a->file.how == 2 ? 0 : a->file.how;
	}
	if (create_rdwr && (a->oflags & O_CREAT))
		a->oflags = (a->oflags & ~(O_ACCMODE | O_APPEND)) | O_RDWR;
}

/* Print the path; its dirfd, or -1 when the slot is unused. */
static int at_fd(const struct at *a, const char **path)
{
	*path = a->how == 1 ? a->full : a->rel;
	if (a->how == 0) {
		printf(" %s", a->rel);
		return seedfd;
	}
	if (a->how == 1) {
		printf(" cwd:%s", a->rel);
		return AT_FDCWD;
	}
	printf(" fd%d:%s", a->slot, a->rel);
	return slots[a->slot];
}

/* Print the slot; its descriptor, or -1 when unused. */
static int slot(int k)
{
	printf(" fd%d", k);
	return slots[k];
}

static void put_flags(int fl)
{
	static const struct { int bit; const char *name; } bits[] = {
		{ O_CREAT, "CREAT" }, { O_EXCL, "EXCL" }, { O_TRUNC, "TRUNC" },
		{ O_APPEND, "APPEND" }, { O_DIRECTORY, "DIRECTORY" },
		{ O_NOFOLLOW, "NOFOLLOW" },
	};
	static const char *const acc[] = { "RDONLY", "WRONLY", "RDWR" };

	printf(" %s", acc[fl & O_ACCMODE]);
	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		if (fl & bits[i].bit)
			printf("|%s", bits[i].name);
}

/* Opening into a slot in use closes what was there first. */
static void do_open(const struct args *a)
{
	const char *p;
	int d, k = a->k;
	long r;

	printf(" fd%d", k);
	d = at_fd(a->use_file ? &a->file : &a->at, &p);
	put_flags(a->oflags);
	if (a->oflags & O_CREAT)
		printf(" %04o", (unsigned)a->mode);
	if (!ready(d))
		return;
	if (slots[k] >= 0) {
		printf(" (close old: %s)", ename(c_close(slots[k])));
		slots[k] = -1;
	}
	r = c_openat(d, p, a->oflags | O_NONBLOCK, a->mode);
	if (r >= 0)
		slots[k] = (int)r;
	if (r >= 0)
		printf(" -> fd\n");
	else
		end(r);
}

/* read/pread/write/pwrite: the count, for reads a hash of what came. */
static void do_io(int op, const struct args *a)
{
	int fd = slot(a->k), pos = op == OP_PREAD || op == OP_PWRITE;
	long r;

	if (pos)
		printf(" off=%lld", (long long)a->off);
	printf(" len=%zu", a->len);
	if (!ready(fd))
		return;
	if (op == OP_WRITE || op == OP_PWRITE) {
		fill(wbuf, a->len, a->key);
		end(c_write(fd, wbuf, a->len, a->off, pos));
		return;
	}
	r = c_read(fd, rbuf, a->len, a->off, pos);
	put_res(r);
	if (r > 0)
		printf(" h=%016" PRIx64, fnv1a(rbuf, (size_t)r, FNV_INIT));
	printf("\n");
}

static void do_stat(int op, const struct args *a)
{
	struct stat st;
	struct at at = a->at;
	const char *p = at.full;
	int d = 0, fl = a->x == 1 ? AT_SYMLINK_NOFOLLOW : 0;
	long r;

	if (op == OP_FSTATAT && a->x == 3) { /* the slot's own file */
		at = (struct at){ .how = 2, .slot = a->k, .rel = "" };
		fl = AT_EMPTY_PATH;
	}
	if (op == OP_FSTATAT)
		d = at_fd(&at, &p);
	else if (op == OP_FSTAT)
		d = slot(a->k);
	else
		printf(" %s", at.rel);
	if (op == OP_FSTATAT && fl)
		printf(fl == AT_EMPTY_PATH ? " EMPTY_PATH" : " NOFOLLOW");
	if (!ready(d))
		return;
	if (op == OP_FSTAT)
		r = fs ? fb_fstat(fs, d, &st) : rc(fstat(d, &st));
	else if (op == OP_LSTAT)
		r = fs ? fb_lstat(fs, p, &st) : rc(lstat(p, &st));
	else
		r = c_fstatat(d, p, &st, fl);
	put_res(r);
	if (r == 0)
		put_stat(&st);
	printf("\n");
}

static void do_xattr(int op, const struct args *a)
{
	const char *p = a->at.full, *name = a->xname;
	char list[256], value[256];
	int how = a->xhow, fd = -2;
	long r;

	if (how == 2)
		fd = slot(a->k);
	else
		printf(" %s%s", how ? "nofollow:" : "", a->at.rel);
	if (op != OP_LISTXATTR)
		printf(" %s", name);
	if (op == OP_SETXATTR)
		printf(" vlen=%zu flags=%d", a->vlen, a->xflags);
	if (op == OP_GETXATTR || op == OP_LISTXATTR)
		printf(" size=%zu", a->xsize);
	if (!ready(fd))
		return;
	if (op == OP_SETXATTR) {
		fill((unsigned char *)value, a->vlen, a->key);
		end(c_setxattr(how, p, fd, name, value, a->vlen, a->xflags));
	} else if (op == OP_REMOVEXATTR) {
		end(c_removexattr(how, p, fd, name));
	} else if (op == OP_GETXATTR) {
		r = c_getxattr(how, p, fd, name, value, a->xsize);
		put_res(r);
		if (r > 0 && a->xsize)
			printf(" h=%016" PRIx64, fnv1a(value, (size_t)r,
						       FNV_INIT));
		printf("\n");
	} else {
		r = c_listxattr(how, p, fd, list, a->xsize);
		put_res(r);
		if (r > 0 && a->xsize)
			put_xattr_names(list, r);
		printf("\n");
	}
}

/* Explicit times are read back (seconds only); "now" is not printed. */
static void do_utimens(const struct args *a)
{
	const struct timespec *ts = a->null_times ? NULL : a->ts;
	int fl = a->y == 0 ? AT_SYMLINK_NOFOLLOW : 0, d, set[2];
	const char *p;
	struct stat st;
	long r;

	d = at_fd(&a->at, &p);
	for (int t = 0; t < 2; t++) {
		set[t] = ts && ts[t].tv_nsec < 1000000000; /* explicit */
		if (!ts)
			continue;
		if (set[t])
			printf(" %lld", (long long)ts[t].tv_sec);
		else
			printf(ts[t].tv_nsec == UTIME_NOW ? " now" : " omit");
	}
	printf("%s%s", ts ? "" : " NULL", fl ? " NOFOLLOW" : "");
	if (!ready(d))
		return;
	r = fs ? fb_utimensat(fs, d, p, ts, fl) : rc(utimensat(d, p, ts, fl));
	put_res(r);
	if (r == 0 && (set[0] || set[1])) {
		r = c_fstatat(d, p, &st, fl);
		if (r < 0)
			printf(" stat=%s", ename(r));
		if (r == 0 && set[0])
			printf(" atime=%lld", (long long)st.st_atim.tv_sec);
		if (r == 0 && set[1])
			printf(" mtime=%lld", (long long)st.st_mtim.tv_sec);
	}
	printf("\n");
}

/* One lock call on slot k: flock (op from y), or an OFD record lock with
 * cmd (type from y, the range from key). GETLK prints what it reports,
 * l_pid excepted. */
static void lock_one(int op, int k, int cmd, int y, uint64_t key)
{
	static const char *const tname[] = { "RD", "WR", "UN" };
	static const char *const fname[] = { "EX|NB", "SH|NB", "UN" };
	static const int fops[] = { LOCK_EX | LOCK_NB, LOCK_SH | LOCK_NB,
				    LOCK_UN };
	struct flock fl = {
		.l_type = y == 0 ? F_RDLCK : y == 1 ? F_WRLCK : F_UNLCK,
		.l_whence = SEEK_SET,
		.l_start = (off_t)(key % 4) * 100,
		.l_len = (off_t)(key / 4 % 3) * 100,
	};
	int fd = slot(k);
	long r;

	if (op == OP_FLOCK) {
		printf(" %s", fname[y]);
		if (fd != -1)
			put_res(fs ? fb_flock(fs, fd, fops[y]) :
				rc(flock(fd, fops[y])));
		return;
	}
	printf(" %s %s %lld+%lld", cmd == F_OFD_GETLK ? "GETLK" : "SETLK",
	       tname[y], (long long)fl.l_start, (long long)fl.l_len);
	if (fd == -1)
		return;
	r = fs ? fb_fcntl_lock(fs, fd, cmd, &fl) : rc(fcntl(fd, cmd, &fl));
	put_res(r);
	if (r == 0 && cmd == F_OFD_GETLK)
		printf(" %s %lld+%lld", fl.l_type == F_RDLCK ? "RD" :
		       fl.l_type == F_WRLCK ? "WR" : "UN",
		       (long long)fl.l_start, (long long)fl.l_len);
}

/* A lock on one slot, then one on another: when both hold the same file
 * (opens favour a few names) the second meets the first. */
static void do_lock(int op, const struct args *a)
{
	if (slots[a->k] == -1 || slots[a->k2] == -1) {
		printf(" fd%d fd%d", a->k, a->k2);
		ready(-1);
		return;
	}
	lock_one(op, a->k, F_OFD_SETLK, a->y, a->key);
	printf(",");
	lock_one(op, a->k2, a->x < 2 ? F_OFD_GETLK : F_OFD_SETLK,
		 (int)((a->key >> 8) % 3), a->key >> 16);
	printf("\n");
}

static void do_readlink(const struct args *a)
{
	size_t size = a->x < 2 ? (size_t)a->x + 1 : 255;
	char buf[256];
	const char *p;
	int d = at_fd(&a->at, &p);
	long r;

	printf(" size=%zu", size);
	if (!ready(d))
		return;
	r = c_readlinkat(d, p, buf, size);
	put_res(r);
	if (r > 0)
		printf(" ");
	put_bytes(buf, r > 0 ? (size_t)r : 0);
	printf("\n");
}

static void do_getdents(const struct args *a)
{
	size_t bufsize = a->y == 0 ? 16 + a->key % 40 : 32768;
	char *names[MAXNAMES];
	const char *p;
	long fd, n;

	printf(" buf=%zu", bufsize);
	fd = a->x == 0 ? slot(a->k) : at_fd(&a->at, &p);
	if (!ready(fd))
		return;
	if (a->x != 0) /* a path: open it, list it, close it */
		fd = c_openat((int)fd, p, O_RDONLY | O_DIRECTORY | O_NONBLOCK,
			      0);
	n = fd < 0 ? fd : read_dir((int)fd, bufsize, names, 1);
	put_res(n);
	for (long i = 0; i < n; i++) {
		printf(" %s", names[i]);
		free(names[i]);
	}
	printf("\n");
	if (a->x != 0 && fd >= 0)
		c_close((int)fd);
}

/* One operation: print its name and arguments, run it unless it is to be
 * skipped, print its result. */
static void run_op(long seed, int i, int nops, int op, uint64_t sub)
{
	static const char *const whence[] = { "SET", "CUR", "END", "DATA",
					      "HOLE" };
	static const int fmodes[] = { 0, FALLOC_FL_KEEP_SIZE,
		FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE };
	static const int ids[][2] = { { -1, -1 }, { -2, -2 }, { 1000, 1000 },
				      { 1000, -1 }, { -1, 1000 } };
	static const char *const rname[] = { "0", "NOREPLACE", "EXCHANGE" };
	static const unsigned rflags[] = { 0, RENAME_NOREPLACE,
					   RENAME_EXCHANGE };
	struct args a;
	const char *p, *q;
	int fd, fd2, fl, x, y;
	off_t off, *pin, *pout;
	uid_t uid;
	gid_t gid;
	mode_t mode;

	draw_args(&sub, &a, i, nops);
	x = a.x;
	y = a.y;
	mode = a.mode;
	off = a.off;
	printf("%ld %d %s", seed, i, optab[op].name);
	switch (op) {
	case OP_OPEN:
		do_open(&a);
		break;
	case OP_READ: case OP_PREAD: case OP_WRITE: case OP_PWRITE:
		do_io(op, &a);
		break;
	case OP_FSTAT: case OP_FSTATAT: case OP_LSTAT:
		do_stat(op, &a);
		break;
	case OP_SETXATTR: case OP_GETXATTR: case OP_LISTXATTR:
	case OP_REMOVEXATTR:
		do_xattr(op, &a);
		break;
	case OP_UTIMENS:
		do_utimens(&a);
		break;
	case OP_OFDLOCK: case OP_FLOCK:
		do_lock(op, &a);
		break;
	case OP_GETDENTS:
		do_getdents(&a);
		break;
	case OP_READLINK:
		do_readlink(&a);
		break;

	case OP_CLOSE:
		fd = slot(a.k);
		if (ready(fd))
			end(c_close(fd));
		slots[a.k] = -1;
		break;
	case OP_LSEEK:
		fd = slot(a.k);
		off -= x < 2 ? 50 : 0; /* negative offsets for SET and CUR */
		printf(" %lld %s", (long long)off, whence[x]);
		if (ready(fd))
			end(fs ? fb_lseek(fs, fd, off, x) :
			    rc(lseek(fd, off, x)));
		break;
	case OP_FTRUNCATE:
		fd = slot(a.k);
		off = x == 0 ? -1 : off;
		printf(" %lld", (long long)off);
		if (ready(fd))
			end(fs ? fb_ftruncate(fs, fd, off) :
			    rc(ftruncate(fd, off)));
		break;
	case OP_TRUNCATE:
		off = x == 0 ? -1 : off;
		printf(" %s %lld", a.at.rel, (long long)off);
		p = a.at.full;
		end(fs ? fb_truncate(fs, p, off) : rc(truncate(p, off)));
		break;
	case OP_FCHMOD:
		fd = slot(a.k);
		printf(" %04o", (unsigned)mode);
		if (ready(fd))
			end(fs ? fb_fchmod(fs, fd, mode) :
			    rc(fchmod(fd, mode)));
		break;
	case OP_FSYNC:
		fd = slot(a.k);
		printf(" %s", y ? "data" : "all");
		if (!ready(fd))
			break;
		if (y)
			end(fs ? fb_fdatasync(fs, fd) : rc(fdatasync(fd)));
		else
			end(fs ? fb_fsync(fs, fd) : rc(fsync(fd)));
		break;
	case OP_FALLOCATE:
		fd = slot(a.k);
		fl = fmodes[x % 3];
		printf(" mode=%d %lld+%zu", fl, (long long)off, a.len);
		if (ready(fd))
			end(fs ? fb_fallocate(fs, fd, fl, off, (off_t)a.len) :
			    rc(fallocate(fd, fl, off, (off_t)a.len)));
		break;
	case OP_COPY:
		fd = slot(a.k);
		fd2 = slot(a.k2);
		pin = x & 1 ? &off : NULL;
		pout = x & 2 ? &a.off2 : NULL;
		printf(" in=%lld out=%lld len=%zu", pin ? (long long)off : -1LL,
		       pout ? (long long)a.off2 : -1LL, a.len);
		if (ready(fd) && ready(fd2))
			end(fs ? fb_copy_file_range(fs, fd, pin, fd2, pout,
						    a.len, 0) :
			    rc(copy_file_range(fd, pin, fd2, pout, a.len, 0)));
		break;

	case OP_MKDIR:
		fd = at_fd(&a.dir, &p);
		printf(" %04o", (unsigned)mode);
		if (ready(fd))
			end(fs ? fb_mkdirat(fs, fd, p, mode) :
			    rc(mkdirat(fd, p, mode)));
		break;
	case OP_MKNOD:
		fd = at_fd(&a.at, &p);
		printf(" %s %04o", y ? "reg" : "fifo", (unsigned)mode);
		mode |= y ? S_IFREG : S_IFIFO;
		if (ready(fd))
			end(fs ? fb_mknodat(fs, fd, p, mode, 0) :
			    rc(mknodat(fd, p, mode, 0)));
		break;
	case OP_SYMLINK:
		fd = at_fd(&a.at, &p);
		printf(" target=%s", a.target);
		if (ready(fd))
			end(fs ? fb_symlinkat(fs, a.target, fd, p) :
			    rc(symlinkat(a.target, fd, p)));
		break;
	case OP_LINK:
		fd = at_fd(&a.at, &p);
		fd2 = at_fd(&a.at2, &q);
		fl = y ? 0 : AT_SYMLINK_FOLLOW;
		printf("%s", fl ? " FOLLOW" : "");
		if (ready(fd) && ready(fd2))
			end(fs ? fb_linkat(fs, fd, p, fd2, q, fl) :
			    rc(linkat(fd, p, fd2, q, fl)));
		break;
	case OP_UNLINK:
		fd = at_fd(&a.at, &p);
		fl = y ? 0 : AT_REMOVEDIR;
		printf("%s", fl ? " REMOVEDIR" : "");
		if (ready(fd))
			end(fs ? fb_unlinkat(fs, fd, p, fl) :
			    rc(unlinkat(fd, p, fl)));
		break;
	case OP_RENAME:
		fd = at_fd(&a.at, &p);
		fd2 = at_fd(&a.at2, &q);
		if (ready(fd) && ready(fd2))
			end(fs ? fb_renameat(fs, fd, p, fd2, q) :
			    rc(renameat(fd, p, fd2, q)));
		break;
	case OP_RENAME2:
		fd = at_fd(&a.at, &p);
		fd2 = at_fd(&a.at2, &q);
		printf(" %s", rname[y]);
		if (ready(fd) && ready(fd2))
			end(fs ? fb_renameat2(fs, fd, p, fd2, q, rflags[y]) :
			    rc(renameat2(fd, p, fd2, q, rflags[y])));
		break;
	case OP_CHMOD:
		fd = at_fd(&a.at, &p);
		printf(" %04o", (unsigned)mode);
		if (ready(fd))
			end(fs ? fb_fchmodat(fs, fd, p, mode, 0) :
			    rc(fchmodat(fd, p, mode, 0)));
		break;
	default: /* OP_CHOWN; -2 stands for the caller's own ids */
		fd = at_fd(&a.at, &p);
		uid = ids[x][0] == -2 ? getuid() : (uid_t)ids[x][0];
		gid = ids[x][1] == -2 ? getgid() : (gid_t)ids[x][1];
		fl = y ? 0 : AT_SYMLINK_NOFOLLOW;
		printf(" %d:%d%s", (int)uid, (int)gid, fl ? " NOFOLLOW" : "");
		if (ready(fd))
			end(fs ? fb_fchownat(fs, fd, p, uid, gid, fl) :
			    rc(fchownat(fd, p, uid, gid, fl)));
		break;
	}
}

/* ---- the dump of a seed's tree ------------------------------------------ */

/* rel ("" for s<S> itself) and below, depth first in name order. */
static void dump(long seed, const char *rel)
{
	const char *at = *rel ? rel : ".";
	char full[2 * PATH_MAX], buf[PATH_MAX], list[4096], *names[MAXNAMES];
	struct stat st;
	long r = c_fstatat(seedfd, at, &st, AT_SYMLINK_NOFOLLOW), n, fd;

	printf("%ld dump %s", seed, at);
	if (r < 0) {
		end(r);
		return;
	}
	put_stat(&st);
	if (S_ISLNK(st.st_mode)) {
		r = c_readlinkat(seedfd, at, buf, sizeof(buf));
		printf(" target=");
		if (r < 0)
			put_res(r);
		put_bytes(buf, r < 0 ? 0 : (size_t)r);
	} else if (S_ISREG(st.st_mode)) {
		uint64_t h = FNV_INIT;
		long total = 0;

		fd = c_openat(seedfd, at, O_RDONLY | O_NONBLOCK, 0);
		r = fd;
		while (fd >= 0 &&
		       (r = c_read((int)fd, rbuf, MAXLEN, 0, 0)) > 0) {
			h = fnv1a(rbuf, (size_t)r, h);
			total += r;
		}
		printf(" content");
		if (r < 0)
			put_res(r);
		else
			printf(" %ld %016" PRIx64, total, h);
		if (fd >= 0)
			c_close((int)fd);
	}
	snprintf(full, sizeof(full), "%s%s", base, at);
	r = c_listxattr(1, full, -1, list, sizeof(list));
	printf(" xattrs");
	if (r < 0)
		put_res(r);
	else
		put_xattr_names(list, r);
	for (long i = 0; i < r; i += (long)strlen(list + i) + 1) {
		if (strncmp(list + i, "user.", 5))
			continue;
		n = c_getxattr(1, full, -1, list + i, buf, sizeof(buf));
		printf(" %s=", list + i);
		if (n < 0)
			put_res(n);
		else
			printf("%ld:%016" PRIx64, n,
			       fnv1a(buf, (size_t)n, FNV_INIT));
	}
	printf("\n");
	if (!S_ISDIR(st.st_mode))
		return;

	fd = c_openat(seedfd, at, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
	n = fd < 0 ? fd : read_dir((int)fd, 32768, names, 0);
	if (fd >= 0)
		c_close((int)fd);
	if (n < 0) {
		printf("%ld dump %s listing", seed, at);
		end(n);
		return;
	}
	for (long i = 0; i < n; i++) {
		snprintf(buf, sizeof(buf), "%s%s%s", rel, *rel ? "/" : "",
			 names[i]);
		dump(seed, buf);
		free(names[i]);
	}
}

/* ---- main --------------------------------------------------------------- */

/* The kind of operation i of nops, by the weights of optab; operations
 * 0..2 are mostly mkdirs (see draw_args). */
static int draw_op(uint64_t *rng, int i, int nops)
{
	int early = i < nops / 3, total = 0, x, op;

	for (op = 0; op < NOPS; op++)
		total += early ? optab[op].early : optab[op].weight;
	x = (int)pick(rng, (unsigned)total);
	for (op = 0; x >= (early ? optab[op].early : optab[op].weight); op++)
		x -= early ? optab[op].early : optab[op].weight;
	if (i < 3 && pick(rng, 5))
		op = OP_MKDIR;
	return op;
}

static void run_seed(long seed, int nops, const char *sub)
{
	uint64_t rng = (uint64_t)seed;
	long r;

	snprintf(base, sizeof(base), "%s%ss%ld/", fs ? sub : "",
		 fs && *sub ? "/" : "", seed);
	r = fs ? fb_mkdirat(fs, AT_FDCWD, base, 0755) :
	    rc(mkdirat(AT_FDCWD, base, 0755));
	printf("%ld mkdir s%ld", seed, seed);
	put_res(r);
	r = c_openat(AT_FDCWD, base, O_RDONLY | O_DIRECTORY, 0);
	printf(" open");
	end(r < 0 ? r : 0);
	if (r < 0)
		return;
	seedfd = (int)r;
	for (int k = 0; k < NSLOT; k++)
		slots[k] = -1;

	for (int i = 0; i < nops; i++) {
		int op = draw_op(&rng, i, nops);

		run_op(seed, i, nops, op, next64(&rng));
	}
	for (int k = 0; k < NSLOT; k++) {
		if (slots[k] < 0)
			continue;
		printf("%ld end close fd%d", seed, k);
		end(c_close(slots[k]));
	}
	dump(seed, "");
	c_close(seedfd);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fbops [--root=SUB] [--create-rdwr] native DIR "
		"--seeds A:B --ops N\n"
		"       fbops [--root=SUB] [--create-rdwr] [--debug] lib "
		"--seeds A:B --ops N -- SERVER [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 16];
	const char *mode = NULL, *dir = NULL, *sub = "";
	struct fb_options opts;
	char **server = NULL, *rest;
	long from = 0, to = 1;
	int nops = 40, r;

	fb_options_init(&opts);
	for (int i = 1; i < argc && !server; i++) {
		if (!strcmp(argv[i], "--")) {
			server = argv + i + 1;
		} else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
			from = strtol(argv[++i], &rest, 10);
			to = *rest == ':' ? strtol(rest + 1, &rest, 10) :
			     from + 1;
			if (*rest || to < from)
				usage();
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			nops = atoi(argv[++i]);
		} else if (!strncmp(argv[i], "--root=", 7)) {
			sub = argv[i] + 7;
		} else if (!strcmp(argv[i], "--create-rdwr")) {
			create_rdwr = true;
		} else if (!strcmp(argv[i], "--debug")) {
			opts.debug = 1;
		} else if (!mode) {
			mode = argv[i];
		} else if (!dir && !strcmp(mode, "native")) {
			dir = argv[i];
		} else {
			usage();
		}
	}
	if (!mode || ((strcmp(mode, "native") || !dir || server) &&
		      (strcmp(mode, "lib") || !server || !*server)))
		usage();
	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	signal(SIGPIPE, SIG_IGN);
	umask(022);
	while (*sub == '/')
		sub++;

	if (dir) {
		if (chdir(dir) < 0 || (*sub && chdir(sub) < 0)) {
			fprintf(stderr, "fbops: %s/%s: %s\n", dir, sub,
				strerror(errno));
			return 1;
		}
	} else {
		r = fb_spawn(server, &opts, &fs);
		if (r == 0 && (r = fb_wait_init(fs)) < 0) {
			fprintf(stderr, "fbops: INIT: %s\n",
				fb_conn_error(fs) ? fb_conn_error(fs) : "");
			fb_unmount(fs);
		}
		if (r < 0) {
			fprintf(stderr, "fbops: starting %s: %s\n", server[0],
				strerror(-r));
			return 1;
		}
	}
	for (long seed = from; seed < to; seed++)
		run_seed(seed, nops, sub);
	if (fs && (r = fb_unmount(fs)) < 0)
		fprintf(stderr, "fbops: fb_unmount: %s\n", strerror(-r));
	return 0;
}
