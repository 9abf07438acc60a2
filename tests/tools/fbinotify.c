/*
 * fbinotify.c - seeded differential generator for inotify: the same random
 * sequence of watches and file system calls run either through libfusebox
 * and its fb_inotify ("lib") or through the kernel's system calls and its
 * inotify ("native", on a tmpfs directory in the tests: the kernel is the
 * oracle), printing every call and every event canonically, so the two
 * outputs can be diffed.
 *
 *   fbinotify [--no-rename-flags] [--no-fallocate] [--debug] lib
 *             --seeds A:B [--ops N] -- SERVER ARGS...
 *   fbinotify [--no-rename-flags] [--no-fallocate] native DIR
 *             --seeds A:B [--ops N]
 *
 * For each seed S in [A,B) a directory "s<S>" is made (at the root of the
 * file system for lib, in DIR for native) with a small tree (d1, d2, a,
 * d1/e, d2/g), one inotify instance is opened, and watches go on s<S>, on
 * d1 and maybe d2, on a and maybe d1/e, with masks drawn from the seed
 * (IN_ALL_EVENTS, subsets, IN_ONESHOT, IN_EXCL_UNLINK, IN_MASK_ADD,
 * IN_ONLYDIR, IN_MASK_CREATE). Then N operations run: opens (O_CREAT,
 * O_TRUNC, read-only, read-write, O_PATH, directories), closes, reads,
 * writes, truncates, fallocate, copy_file_range, chmod, chown, utimensat,
 * xattrs, mkdir, mkfifo, rmdir, unlink, rename (plain, NOREPLACE,
 * EXCHANGE, across directories, over existing names), link, symlink,
 * getdents, rm_watch and add_watch, on three descriptor slots. After every
 * call all queued events are read and printed; at the end of a seed the
 * slots are closed, the watches left are removed and the instance closed.
 * Every open adds O_NONBLOCK (FIFOs).
 *
 * Operation S.i is a pure function of S and i (a splitmix64 stream seeded
 * with S gives each operation a sub-seed, from which all its arguments are
 * drawn before any state is looked at); results never steer the sequence.
 * --no-rename-flags prints "skip" for a rename with RENAME_NOREPLACE or
 * RENAME_EXCHANGE instead of running it, and --no-fallocate for
 * fallocate, for servers that refuse them (libfuse's passthrough_ll
 * answers EINVAL and ENOSYS where tmpfs does the call).
 *
 * A call line is "<seed> <i> <op> <args> -> <result>"; an event line is
 * "<seed> <i> ev <watch> <mask names> [name] [cookie]". A watch is named
 * W1, W2, ... in the order its descriptor first appears (wd -1 is "Q"),
 * never by number; rename cookies are renumbered c1, c2, ... per seed in
 * order of appearance. Symlink targets never contain "..", so they stay
 * inside s<S> wherever a rename puts them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <linux/falloc.h>

#include "fusebox.h"

#ifndef IN_MASK_CREATE
#define IN_MASK_CREATE 0x10000000
#endif

#define NSLOT 3
#define MAXWATCH 64
#define MAXCOOKIE 256

/* ---- the two clients ---------------------------------------------------- */

static struct fb_fs *fs;	  /* lib: the file system; native: NULL */
static struct fb_inotify *fin; /* lib: the instance */
static int nfd = -1;		  /* native: the instance */

static long rc(long r)
{
	return r < 0 ? -errno : r;
}

/* Every open adds O_NONBLOCK (not printed): FIFOs are in the namespace,
 * and a blocking open of one would hang. */
static long c_open(const char *p, int fl, mode_t m)
{
	fl |= O_NONBLOCK;
	return fs ? fb_openat(fs, FB_AT_FDCWD, p, fl, m) :
	       rc(open(p, fl | O_CLOEXEC, m));
}

static long c_close(int fd)
{
	return fs ? fb_close(fs, fd) : rc(close(fd));
}

static long c_mkdir(const char *p)
{
	return fs ? fb_mkdirat(fs, FB_AT_FDCWD, p, 0755) :
	       rc(mkdir(p, 0755));
}

static long c_write(int fd, const void *b, size_t n, off_t off, int pos)
{
	if (pos)
		return fs ? fb_pwrite(fs, fd, b, n, off) :
		       rc(pwrite(fd, b, n, off));
	return fs ? fb_write(fs, fd, b, n) : rc(write(fd, b, n));
}

static long c_read(int fd, void *b, size_t n, off_t off, int pos)
{
	if (pos)
		return fs ? fb_pread(fs, fd, b, n, off) :
		       rc(pread(fd, b, n, off));
	return fs ? fb_read(fs, fd, b, n) : rc(read(fd, b, n));
}

static long c_getdents(int fd, void *b, size_t n)
{
	return fs ? fb_getdents64(fs, fd, b, n) :
	       rc(syscall(SYS_getdents64, fd, b, n));
}

static long i_add(const char *p, uint32_t mask)
{
	return fs ? fb_inotify_add_watch(fin, fs, p, mask) :
	       rc(inotify_add_watch(nfd, p, mask));
}

static long i_rm(int wd)
{
	return fs ? fb_inotify_rm_watch(fin, wd) : rc(inotify_rm_watch(nfd, wd));
}

static long i_read(void *buf, size_t n)
{
	return fs ? fb_inotify_read(fin, buf, n) : rc(read(nfd, buf, n));
}

/* ---- randomness and output ---------------------------------------------- */

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

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define DRAW(s, arr) ((arr)[pick(s, NELEM(arr))])

static const char *ename(long r)
{
	static char buf[32];
	const char *s = r < 0 && r >= -4095 ? strerrorname_np((int)-r) : NULL;

	if (r >= 0)
		snprintf(buf, sizeof(buf), "%ld", r);
	else if (s)
		snprintf(buf, sizeof(buf), "-%s", s);
	else
		snprintf(buf, sizeof(buf), "-E%ld", -r);
	return buf;
}

static void end(long r)
{
	printf(" -> %s\n", ename(r));
}

static const struct { uint32_t bit; const char *name; } bits[] = {
	{ IN_ACCESS, "IN_ACCESS" }, { IN_MODIFY, "IN_MODIFY" },
	{ IN_ATTRIB, "IN_ATTRIB" }, { IN_CLOSE_WRITE, "IN_CLOSE_WRITE" },
	{ IN_CLOSE_NOWRITE, "IN_CLOSE_NOWRITE" }, { IN_OPEN, "IN_OPEN" },
	{ IN_MOVED_FROM, "IN_MOVED_FROM" }, { IN_MOVED_TO, "IN_MOVED_TO" },
	{ IN_CREATE, "IN_CREATE" }, { IN_DELETE, "IN_DELETE" },
	{ IN_DELETE_SELF, "IN_DELETE_SELF" }, { IN_MOVE_SELF, "IN_MOVE_SELF" },
	{ IN_UNMOUNT, "IN_UNMOUNT" }, { IN_Q_OVERFLOW, "IN_Q_OVERFLOW" },
	{ IN_IGNORED, "IN_IGNORED" }, { IN_ONLYDIR, "IN_ONLYDIR" },
	{ IN_DONT_FOLLOW, "IN_DONT_FOLLOW" },
	{ IN_EXCL_UNLINK, "IN_EXCL_UNLINK" },
	{ IN_MASK_CREATE, "IN_MASK_CREATE" }, { IN_MASK_ADD, "IN_MASK_ADD" },
	{ IN_ISDIR, "IN_ISDIR" }, { IN_ONESHOT, "IN_ONESHOT" },
};

static void put_mask(uint32_t mask)
{
	const char *sep = "";

	if ((mask & IN_ALL_EVENTS) == IN_ALL_EVENTS) {
		printf("IN_ALL_EVENTS");
		mask &= ~IN_ALL_EVENTS;
		sep = "|";
	}
	for (size_t i = 0; i < NELEM(bits); i++)
		if (mask & bits[i].bit) {
			printf("%s%s", sep, bits[i].name);
			mask &= ~bits[i].bit;
			sep = "|";
		}
	if (mask || !*sep)
		printf("%s%#x", sep, mask);
}

/* ---- watch labels and cookies, per seed --------------------------------- */

static int wds[MAXWATCH], nwds;	      /* label k+1 is wds[k] */
static uint32_t cookies[MAXCOOKIE];
static int ncookies;

static int label(int wd)
{
	for (int k = 0; k < nwds; k++)
		if (wds[k] == wd)
			return k + 1;
	if (nwds == MAXWATCH)
		return 0;
	wds[nwds++] = wd;
	return nwds;
}

static int cookie_no(uint32_t c)
{
	for (int k = 0; k < ncookies; k++)
		if (cookies[k] == c)
			return k + 1;
	if (ncookies == MAXCOOKIE)
		return 0;
	cookies[ncookies++] = c;
	return ncookies;
}

/* Read and print every queued event (the instance is non-blocking). */
static void drain(long seed, const char *when)
{
	static char buf[65536] __attribute__((aligned(8)));
	long n;

	while ((n = i_read(buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + n;) {
			struct inotify_event *e = (void *)p;

			printf("%ld %s ev ", seed, when);
			if (e->wd == -1)
				printf("Q ");
			else
				printf("W%d ", label(e->wd));
			put_mask(e->mask);
			if (e->len && e->name[0])
				printf(" %s", e->name);
			if (e->cookie)
				printf(" c%d", cookie_no(e->cookie));
			printf("\n");
			p += sizeof(*e) + e->len;
		}
	}
	if (n != -EAGAIN)
		printf("%ld %s read events -> %s\n", seed, when, ename(n));
}

/* ---- the operations ----------------------------------------------------- */

enum {
	OP_CREATE, OP_OPEN, OP_CLOSE, OP_WRITE, OP_READ, OP_TRUNCATE,
	OP_FTRUNCATE, OP_CHMOD, OP_FCHMOD, OP_CHOWN, OP_UTIMENS, OP_FUTIMENS,
	OP_SETXATTR, OP_REMOVEXATTR, OP_MKDIR, OP_RMDIR, OP_UNLINK, OP_RENAME,
	OP_LINK, OP_SYMLINK, OP_GETDENTS, OP_RMWATCH, OP_ADDWATCH,
	OP_FALLOCATE, OP_COPY, OP_MKFIFO, NOPS
};

static const struct { const char *name; int weight; } optab[] = {
	{ "create", 8 }, { "open", 10 }, { "close", 6 }, { "write", 8 },
	{ "read", 6 }, { "truncate", 3 }, { "ftruncate", 3 }, { "chmod", 3 },
	{ "fchmod", 2 }, { "chown", 1 }, { "utimens", 4 }, { "futimens", 2 },
	{ "setxattr", 3 }, { "removexattr", 2 }, { "mkdir", 4 },
	{ "rmdir", 4 }, { "unlink", 6 }, { "rename", 9 }, { "link", 4 },
	{ "symlink", 2 }, { "getdents", 3 }, { "rm_watch", 2 },
	{ "add_watch", 4 }, { "fallocate", 2 }, { "copy_file_range", 2 },
	{ "mkfifo", 1 },
};

/* Names inside s<S>; "" is s<S> itself. */
static const char *const paths[] = {
	"a", "b", "c", "d1", "d2", "d3", "d1/e", "d1/f", "d1/d4", "d2/g",
	"d2/h", "d2/d5", "d1/d4/i", "l", "d1/l", "",
};
#define COMMON 12 /* drawn half the time */
static const char *const targets[] = { "a", "b", "d1", "d1/e", "e", "g",
				       "missing" };
static const char *const xnames[] = { "user.x", "user.y" };
static const mode_t modes[] = { 0644, 0600, 0755, 0444, 0700 };

/* Watch masks: the first ones are the most common. */
static const uint32_t wmasks[] = {
	IN_ALL_EVENTS,
	IN_ALL_EVENTS | IN_EXCL_UNLINK,
	IN_ALL_EVENTS | IN_ONESHOT,
	IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO,
	IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_EXCL_UNLINK,
	IN_OPEN | IN_CLOSE | IN_ACCESS,
	IN_DELETE_SELF | IN_MOVE_SELF | IN_ATTRIB,
	IN_MODIFY | IN_ONESHOT,
	IN_OPEN | IN_MASK_ADD,
	IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MASK_ADD | IN_EXCL_UNLINK,
	IN_ALL_EVENTS | IN_ONLYDIR,
	IN_ALL_EVENTS | IN_DONT_FOLLOW,
	IN_ATTRIB | IN_MASK_CREATE,
	IN_ALL_EVENTS | IN_MASK_CREATE | IN_MASK_ADD,
	IN_ISDIR | IN_ONESHOT, /* no event bits: EINVAL */
};

static int no_rename_flags;	/* --no-rename-flags */
static int no_fallocate;	/* --no-fallocate */
static char base[PATH_MAX];	/* "s<S>" (native) or "/s<S>" (lib) */
static int slots[NSLOT];

static const char *full(const char *rel)
{
	static char ring[2][PATH_MAX + 32];
	static int next;
	char *b = ring[next++ % 2];

	snprintf(b, sizeof(ring[0]), "%s%s%s", base, *rel ? "/" : "", rel);
	return b;
}

static const char *draw_path(uint64_t *s)
{
	if (pick(s, 2))
		return paths[pick(s, COMMON)];
	return DRAW(s, paths);
}

static const char *shown(const char *rel)
{
	return *rel ? rel : ".";
}

/* Whether the slot's call can go ahead: "skip" when unused. */
static int ready(int k)
{
	if (slots[k] < 0)
		printf(" -> skip\n");
	return slots[k] >= 0;
}

static void close_slot(long seed, const char *when, int k)
{
	if (slots[k] < 0)
		return;
	printf("%ld %s close fd%d", seed, when, k);
	end(c_close(slots[k]));
	slots[k] = -1;
	drain(seed, when);
}

static void put_times(const struct timespec *t)
{
	static const char *const v[] = { "now", "omit", "set" };

	if (!t) {
		printf(" NULL");
		return;
	}
	for (int j = 0; j < 2; j++)
		printf(" %s", t[j].tv_nsec == UTIME_NOW ? v[0] :
			      t[j].tv_nsec == UTIME_OMIT ? v[1] : v[2]);
}

static void draw_times(uint64_t *s, struct timespec t[2], int *null)
{
	*null = pick(s, 6) == 0;
	for (int j = 0; j < 2; j++) {
		unsigned w = pick(s, 3);

		t[j].tv_sec = 1000000000 + (time_t)j;
		t[j].tv_nsec = w == 0 ? UTIME_NOW : w == 1 ? UTIME_OMIT : 0;
	}
}

static void run_op(long seed, int i, int op, uint64_t x)
{
	static const int creat_fl[] = { O_WRONLY, O_RDWR, O_RDWR | O_EXCL,
					O_WRONLY | O_TRUNC, O_RDONLY,
					O_WRONLY | O_APPEND };
	static const int open_fl[] = { O_RDONLY, O_PATH, O_WRONLY, O_RDWR,
				       O_RDWR | O_TRUNC, O_WRONLY | O_TRUNC,
				       O_RDONLY | O_DIRECTORY,
				       O_WRONLY | O_APPEND };
	static const unsigned rflags[] = { 0, 0, RENAME_NOREPLACE,
					   RENAME_EXCHANGE };
	static const char *const rname[] = { "", "", " NOREPLACE",
					     " EXCHANGE" };
	static const int xflags[] = { 0, 0, XATTR_CREATE, XATTR_REPLACE };
	char when[32], buf[4096];
	const char *p = draw_path(&x), *q = draw_path(&x);
	const char *target = DRAW(&x, targets), *xn = DRAW(&x, xnames);
	int k = (int)pick(&x, NSLOT), y = (int)pick(&x, 8), null;
	uint32_t wmask = DRAW(&x, wmasks);
	mode_t mode = DRAW(&x, modes);
	size_t len = pick(&x, 4) ? pick(&x, 24) : 0;
	off_t off = (off_t)pick(&x, 40);
	struct timespec t[2];
	int fl, w;
	long r;

	draw_times(&x, t, &null);
	snprintf(when, sizeof(when), "%d", i);
	printf("%ld %d %s", seed, i, optab[op].name);
	switch (op) {
	case OP_CREATE:
		fl = creat_fl[y % NELEM(creat_fl)] | O_CREAT;
		printf(" fd%d %s %#o", k, shown(p), (unsigned)fl);
		if (slots[k] >= 0) {
			printf(" (closes fd%d first)\n", k);
			close_slot(seed, when, k);
			printf("%ld %d create fd%d", seed, i, k);
		}
		r = c_open(full(p), fl, mode);
		if (r >= 0)
			slots[k] = (int)r;
		end(r < 0 ? r : 0);
		break;
	case OP_OPEN:
		fl = open_fl[y];
		printf(" fd%d %s %#o", k, shown(p), (unsigned)fl);
		if (slots[k] >= 0) {
			printf(" (closes fd%d first)\n", k);
			close_slot(seed, when, k);
			printf("%ld %d open fd%d", seed, i, k);
		}
		r = c_open(full(p), fl, 0);
		if (r >= 0)
			slots[k] = (int)r;
		end(r < 0 ? r : 0);
		break;
	case OP_CLOSE:
		printf(" fd%d", k);
		if (ready(k)) {
			r = c_close(slots[k]);
			slots[k] = -1;
			end(r);
		}
		break;
	case OP_WRITE:
		memset(buf, 'a' + (int)(x % 26), len);
		printf(" fd%d %zu%s", k, len, y & 1 ? " at" : "");
		if (y & 1)
			printf(" %lld", (long long)off);
		if (ready(k))
			end(c_write(slots[k], buf, len, off, y & 1));
		break;
	case OP_READ:
		printf(" fd%d %zu%s", k, len, y & 1 ? " at" : "");
		if (y & 1)
			printf(" %lld", (long long)off);
		if (ready(k))
			end(c_read(slots[k], buf, len, off, y & 1));
		break;
	case OP_TRUNCATE:
		printf(" %s %lld", shown(p), (long long)off);
		end(fs ? fb_truncate(fs, full(p), off) :
		    rc(truncate(full(p), off)));
		break;
	case OP_FTRUNCATE:
		printf(" fd%d %lld", k, (long long)off);
		if (ready(k))
			end(fs ? fb_ftruncate(fs, slots[k], off) :
			    rc(ftruncate(slots[k], off)));
		break;
	case OP_CHMOD:
		printf(" %s %04o", shown(p), (unsigned)mode);
		end(fs ? fb_fchmodat(fs, FB_AT_FDCWD, full(p), mode, 0) :
		    rc(fchmodat(AT_FDCWD, full(p), mode, 0)));
		break;
	case OP_FCHMOD:
		printf(" fd%d %04o", k, (unsigned)mode);
		if (ready(k))
			end(fs ? fb_fchmod(fs, slots[k], mode) :
			    rc(fchmod(slots[k], mode)));
		break;
	case OP_CHOWN:
		fl = y & 1 ? AT_SYMLINK_NOFOLLOW : 0;
		printf(" %s%s", shown(p), fl ? " NOFOLLOW" : "");
		end(fs ? fb_fchownat(fs, FB_AT_FDCWD, full(p), getuid(),
				     getgid(), fl) :
		    rc(fchownat(AT_FDCWD, full(p), getuid(), getgid(), fl)));
		break;
	case OP_UTIMENS:
		fl = y & 1 ? AT_SYMLINK_NOFOLLOW : 0;
		printf(" %s%s", shown(p), fl ? " NOFOLLOW" : "");
		put_times(null ? NULL : t);
		end(fs ? fb_utimensat(fs, FB_AT_FDCWD, full(p),
				      null ? NULL : t, fl) :
		    rc(utimensat(AT_FDCWD, full(p), null ? NULL : t, fl)));
		break;
	case OP_FUTIMENS:
		printf(" fd%d", k);
		put_times(null ? NULL : t);
		if (ready(k))
			end(fs ? fb_futimens(fs, slots[k], null ? NULL : t) :
			    rc(futimens(slots[k], null ? NULL : t)));
		break;
	case OP_SETXATTR:
		fl = xflags[y % 4];
		if (y & 4) {
			printf(" fd%d %s %d", k, xn, fl);
			if (ready(k))
				end(fs ? fb_fsetxattr(fs, slots[k], xn, "v", 1,
						      fl) :
				    rc(fsetxattr(slots[k], xn, "v", 1, fl)));
			break;
		}
		printf(" %s %s %d", shown(p), xn, fl);
		end(fs ? fb_lsetxattr(fs, full(p), xn, "v", 1, fl) :
		    rc(lsetxattr(full(p), xn, "v", 1, fl)));
		break;
	case OP_REMOVEXATTR:
		if (y & 4) {
			printf(" fd%d %s", k, xn);
			if (ready(k))
				end(fs ? fb_fremovexattr(fs, slots[k], xn) :
				    rc(fremovexattr(slots[k], xn)));
			break;
		}
		printf(" %s %s", shown(p), xn);
		end(fs ? fb_lremovexattr(fs, full(p), xn) :
		    rc(lremovexattr(full(p), xn)));
		break;
	case OP_MKDIR:
		printf(" %s", shown(p));
		end(c_mkdir(full(p)));
		break;
	case OP_RMDIR:
	case OP_UNLINK:
		fl = op == OP_RMDIR ? AT_REMOVEDIR : 0;
		printf(" %s", shown(p));
		end(fs ? fb_unlinkat(fs, FB_AT_FDCWD, full(p), fl) :
		    rc(unlinkat(AT_FDCWD, full(p), fl)));
		break;
	case OP_RENAME:
		printf(" %s %s%s", shown(p), shown(q), rname[y % 4]);
		if (rflags[y % 4] && no_rename_flags) {
			printf(" -> skip\n");
			break;
		}
		end(fs ? fb_renameat2(fs, FB_AT_FDCWD, full(p), FB_AT_FDCWD,
				      full(q), rflags[y % 4]) :
		    rc(renameat2(AT_FDCWD, full(p), AT_FDCWD, full(q),
				 rflags[y % 4])));
		break;
	case OP_LINK:
		printf(" %s %s", shown(p), shown(q));
		end(fs ? fb_linkat(fs, FB_AT_FDCWD, full(p), FB_AT_FDCWD,
				   full(q), 0) :
		    rc(linkat(AT_FDCWD, full(p), AT_FDCWD, full(q), 0)));
		break;
	case OP_SYMLINK:
		printf(" %s %s", target, shown(q));
		end(fs ? fb_symlinkat(fs, target, FB_AT_FDCWD, full(q)) :
		    rc(symlinkat(target, AT_FDCWD, full(q))));
		break;
	case OP_GETDENTS:
		/* From a slot (a directory or not), or a fresh descriptor
		 * read to its end and closed. */
		if (y & 1) {
			printf(" fd%d", k);
			if (ready(k)) {
				r = c_getdents(slots[k], buf, sizeof(buf));
				end(r > 0 ? 1 : r);
			}
			break;
		}
		printf(" %s", shown(p));
		r = c_open(full(p), O_RDONLY | O_DIRECTORY, 0);
		if (r >= 0) {
			int fd = (int)r;

			while ((r = c_getdents(fd, buf, sizeof(buf))) > 0)
				;
			c_close(fd);
		}
		end(r);
		break;
	case OP_RMWATCH:
		w = (int)pick(&x, 6) + 1;
		printf(" W%d", w);
		if (w > nwds) {
			printf(" -> skip\n");
			break;
		}
		end(i_rm(wds[w - 1]));
		break;
	case OP_FALLOCATE:
		fl = y % 3 == 0 ? 0 : y % 3 == 1 ? FALLOC_FL_KEEP_SIZE :
		     FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		printf(" fd%d mode=%d %lld+%zu", k, fl, (long long)off,
		       len + 1);
		if (no_fallocate) {
			printf(" -> skip\n");
			break;
		}
		if (ready(k))
			end(fs ? fb_fallocate(fs, slots[k], fl, off,
					      (off_t)len + 1) :
			    rc(fallocate(slots[k], fl, off, (off_t)len + 1)));
		break;
	case OP_COPY:
		w = (k + 1 + y % 2) % NSLOT;
		printf(" fd%d fd%d %zu", k, w, len);
		if (ready(k) && (slots[w] >= 0 || ready(w)))
			end(fs ? fb_copy_file_range(fs, slots[k], NULL,
						    slots[w], NULL, len, 0) :
			    rc(copy_file_range(slots[k], NULL, slots[w], NULL,
					       len, 0)));
		break;
	case OP_MKFIFO:
		printf(" %s", shown(p));
		end(fs ? fb_mknodat(fs, FB_AT_FDCWD, full(p), S_IFIFO | 0644,
				    0) :
		    rc(mknodat(AT_FDCWD, full(p), S_IFIFO | 0644, 0)));
		break;
	default: /* OP_ADDWATCH */
		printf(" %s ", shown(p));
		put_mask(wmask);
		r = i_add(full(p), wmask);
		if (r >= 0)
			printf(" -> W%d\n", label((int)r));
		else
			end(r);
		break;
	}
	drain(seed, when);
}

/* ---- main --------------------------------------------------------------- */

static void setup(long seed, uint64_t *rng)
{
	static const char *const dirs[] = { "d1", "d2" };
	static const char *const files[] = { "a", "d1/e", "d2/g" };
	static const uint32_t first[] = { IN_ALL_EVENTS, IN_ALL_EVENTS,
					  IN_ALL_EVENTS | IN_EXCL_UNLINK,
					  IN_ALL_EVENTS | IN_ONESHOT,
					  IN_CREATE | IN_DELETE | IN_MOVE |
						  IN_ONLYDIR,
					  IN_MODIFY | IN_ATTRIB | IN_OPEN |
						  IN_CLOSE };
	static const uint32_t added[] = { IN_ACCESS, IN_DELETE_SELF,
					  IN_MOVE_SELF | IN_ONESHOT,
					  IN_ATTRIB | IN_EXCL_UNLINK };
	/* The watches of the seed: path, or NULL when the seed skips it. */
	const char *watch[] = { "", "d1", pick(rng, 2) ? "d2" : NULL, "a",
				pick(rng, 2) ? "d1/e" : NULL };
	long r;

	for (size_t j = 0; j < NELEM(dirs); j++) {
		printf("%ld setup mkdir %s", seed, dirs[j]);
		end(c_mkdir(full(dirs[j])));
	}
	for (size_t j = 0; j < NELEM(files); j++) {
		r = c_open(full(files[j]), O_CREAT | O_WRONLY, 0644);
		if (r >= 0) {
			long n = c_write((int)r, "hello\n", 6, 0, 0);

			c_close((int)r);
			r = n;
		}
		printf("%ld setup create %s", seed, files[j]);
		end(r);
	}
	if (fs)
		r = fb_inotify_init1(IN_NONBLOCK, &fin);
	else
		r = nfd = (int)rc(inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
	printf("%ld setup inotify_init1", seed);
	end(r < 0 ? r : 0);
	for (size_t j = 0; j < NELEM(watch); j++) {
		uint32_t mask = DRAW(rng, first);

		if (!watch[j])
			continue;
		printf("%ld setup add_watch %s ", seed, shown(watch[j]));
		put_mask(mask);
		r = i_add(full(watch[j]), mask);
		if (r >= 0)
			printf(" -> W%d\n", label((int)r));
		else
			end(r);
		if (pick(rng, 3))
			continue;
		mask = DRAW(rng, added) | IN_MASK_ADD;
		printf("%ld setup add_watch %s ", seed, shown(watch[j]));
		put_mask(mask);
		r = i_add(full(watch[j]), mask);
		if (r >= 0)
			printf(" -> W%d\n", label((int)r));
		else
			end(r);
	}
	drain(seed, "setup");
}

static void run_seed(long seed, int nops)
{
	uint64_t rng = (uint64_t)seed;
	int total = 0;
	long r;

	snprintf(base, sizeof(base), "%ss%ld", fs ? "/" : "", seed);
	nwds = ncookies = 0;
	for (int k = 0; k < NSLOT; k++)
		slots[k] = -1;
	printf("%ld mkdir s%ld", seed, seed);
	r = c_mkdir(base);
	end(r);
	if (r < 0)
		return;
	setup(seed, &rng);
	for (int op = 0; op < NOPS; op++)
		total += optab[op].weight;
	for (int i = 0; i < nops; i++) {
		int x = (int)pick(&rng, (unsigned)total), op;

		for (op = 0; x >= optab[op].weight; op++)
			x -= optab[op].weight;
		run_op(seed, i, op, next64(&rng));
	}
	for (int k = 0; k < NSLOT; k++)
		close_slot(seed, "end", k);
	for (int w = 0; w < nwds; w++) {
		printf("%ld end rm_watch W%d", seed, w + 1);
		r = i_rm(wds[w]);
		end(r);
		drain(seed, "end");
	}
	if (fs) {
		fb_inotify_close(fin);
		fin = NULL;
	} else {
		close(nfd);
		nfd = -1;
	}
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr,
		"usage: fbinotify [--no-rename-flags] [--no-fallocate] native "
		"DIR --seeds A:B [--ops N]\n"
		"       fbinotify [--no-rename-flags] [--no-fallocate] [--debug] "
		"lib --seeds A:B [--ops N] -- SERVER [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static char outbuf[1 << 16];
	const char *mode = NULL, *dir = NULL;
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
		} else if (!strcmp(argv[i], "--no-rename-flags")) {
			no_rename_flags = 1;
		} else if (!strcmp(argv[i], "--no-fallocate")) {
			no_fallocate = 1;
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
	/* With --debug the requests interleave with the lines. */
	setvbuf(stdout, outbuf, opts.debug ? _IOLBF : _IOFBF, sizeof(outbuf));
	umask(022);

	if (dir) {
		if (chdir(dir) < 0) {
			fprintf(stderr, "fbinotify: %s: %s\n", dir,
				strerror(errno));
			return 1;
		}
	} else {
		r = fb_spawn(server, &opts, &fs);
		if (r == 0 && (r = fb_wait_init(fs)) < 0) {
			fprintf(stderr, "fbinotify: INIT: %s\n",
				fb_conn_error(fs) ? fb_conn_error(fs) : "");
			fb_unmount(fs);
		}
		if (r < 0) {
			fprintf(stderr, "fbinotify: starting %s: %s\n",
				server[0], strerror(-r));
			return 1;
		}
	}
	for (long seed = from; seed < to; seed++)
		run_seed(seed, nops);
	if (fs && (r = fb_unmount(fs)) < 0)
		fprintf(stderr, "fbinotify: fb_unmount: %s\n", strerror(-r));
	return 0;
}
