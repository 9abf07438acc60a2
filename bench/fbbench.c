/*
 * fbbench.c - runs one workload through one backend and prints one
 * machine-readable result line. bench/run.sh drives it.
 *
 *   fbbench prepare DIR [BIG_MIB]
 *   fbbench [-t SECS] [-w] [-b MIB] [-a TAR] WORKLOAD native DIR
 *   fbbench [-t SECS] [-w] [-b MIB] [-a TAR] [-v] [-d] [-p N] WORKLOAD \
 *           lib -- SERVER ARGS...
 *
 * Backends: "native" makes plain system calls under DIR (a kernel FUSE
 * mount, or tmpfs); "lib" starts SERVER with fb_spawn() ("{}" in ARGS
 * becomes its /dev/fd/N mountpoint) and makes the same calls through
 * libfusebox. Both see the tree "prepare" makes:
 *
 *   stat/fNNNN     NSTAT_FILES files; fNNNN holds NNNN bytes
 *   dir10k/eNNNNN  NDIR_ENTRIES empty files
 *   big            BIG_MIB MiB (default 1024); the 8 bytes at every
 *                  offset o, o a multiple of 8, hold o (little-endian)
 *
 * The read-only workloads (stat-uncached, stat-cached, readdir,
 * readdir-stat, seqread, randread) read that tree. The write workloads
 * (create-delete, seqwrite, randwrite, untar, reread) write into a fresh
 * directory write.PID at the root of the backend, remove it before they
 * return, and leave the tree alone. The whole-program workloads (find,
 * git-status, make) run the real find, git and make on what run.sh adds
 * to the tree (tree/, repo/, proj/; see "whole programs" below); make
 * builds into a write.PID too.
 *
 * Every answer is checked (sizes, entry counts, file contents at the
 * block ends; what was written is read back) so that a wrong result
 * stops the run instead of turning into a fast number. Timing uses
 * CLOCK_MONOTONIC and never asserts anything: this is a benchmark, not a
 * test.
 *
 * Result line (stdout, one line, key=value):
 *   fbbench backend=B workload=W secs=S ops=N rate=R unit=U [rate2= unit2=]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fusebox.h"

#define NSTAT_FILES 1000
#define NDIR_ENTRIES 10000
#define CACHED_STAT_FILE 7
#define SEQ_BLOCK (1024 * 1024)
#define RAND_BLOCK 4096
#define DENTS_BUF (32 * 1024)

/* One backend: the same calls, each returning a negative errno on
 * failure, whichever side answers them. */
struct backend {
	const char *name;
	struct fb_fs *fs;	/* lib only */
	char root[PATH_MAX];	/* path prefix: DIR for native, "" for lib */
	int (*stat)(struct backend *b, const char *path, struct stat *st);
	int (*lstat)(struct backend *b, const char *path, struct stat *st);
	int (*open)(struct backend *b, const char *path, int flags,
		    mode_t mode);
	int (*openat)(struct backend *b, int dirfd, const char *path,
		      int flags);
	int (*close)(struct backend *b, int fd);
	int (*fstat)(struct backend *b, int fd, struct stat *st);
	int (*fstatat)(struct backend *b, int dirfd, const char *path,
		       struct stat *st, int flags);
	ssize_t (*read)(struct backend *b, int fd, void *buf, size_t n);
	ssize_t (*pread)(struct backend *b, int fd, void *buf, size_t n,
			 off_t off);
	ssize_t (*getdents)(struct backend *b, int fd, void *buf, size_t n);
	ssize_t (*write)(struct backend *b, int fd, const void *buf,
			 size_t n);
	ssize_t (*pwrite)(struct backend *b, int fd, const void *buf,
			  size_t n, off_t off);
	int (*fsync)(struct backend *b, int fd);
	int (*mkdir)(struct backend *b, const char *path, mode_t mode);
	int (*unlink)(struct backend *b, const char *path);
	int (*rmdir)(struct backend *b, const char *path);
	int (*statfs)(struct backend *b, const char *path, struct statfs *sfs);
};

struct result {
	double secs;
	uint64_t ops;
	double rate;
	const char *unit;
	double rate2;		/* 0: none */
	const char *unit2;
};

static double bench_secs = 2.0;
static bool seq_warm;		/* -w: one untimed pass before timing */
static bool fb_debug;		/* -d: fusebox logs every request */
static struct fb_fs *conn;	/* lib: for fb_conn_error() in die() */
static uint32_t max_pages;	/* -p: fb_options.max_pages, 0 = default */

static void die(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fputs("fbbench: error: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	if (conn && fb_conn_error(conn))
		fprintf(stderr, "fbbench: connection: %s\n",
			fb_conn_error(conn));
	exit(1);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- native backend: plain system calls ---- */

static int nat_stat(struct backend *b, const char *path, struct stat *st)
{
	return stat(path, st) < 0 ? -errno : 0;
}

static int nat_lstat(struct backend *b, const char *path, struct stat *st)
{
	return lstat(path, st) < 0 ? -errno : 0;
}

static int nat_open(struct backend *b, const char *path, int flags,
		    mode_t mode)
{
	int fd = open(path, flags, mode);

	return fd < 0 ? -errno : fd;
}

static int nat_openat(struct backend *b, int dirfd, const char *path,
		      int flags)
{
	int fd = openat(dirfd, path, flags);

	return fd < 0 ? -errno : fd;
}

static int nat_close(struct backend *b, int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static int nat_fstat(struct backend *b, int fd, struct stat *st)
{
	return fstat(fd, st) < 0 ? -errno : 0;
}

static int nat_fstatat(struct backend *b, int dirfd, const char *path,
		       struct stat *st, int flags)
{
	return fstatat(dirfd, path, st, flags) < 0 ? -errno : 0;
}

static ssize_t nat_read(struct backend *b, int fd, void *buf, size_t n)
{
	ssize_t r = read(fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t nat_pread(struct backend *b, int fd, void *buf, size_t n,
			 off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static ssize_t nat_getdents(struct backend *b, int fd, void *buf, size_t n)
{
	long r = syscall(SYS_getdents64, fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t nat_write(struct backend *b, int fd, const void *buf,
			 size_t n)
{
	ssize_t r = write(fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t nat_pwrite(struct backend *b, int fd, const void *buf,
			  size_t n, off_t off)
{
	ssize_t r = pwrite(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static int nat_fsync(struct backend *b, int fd)
{
	return fsync(fd) < 0 ? -errno : 0;
}

static int nat_mkdir(struct backend *b, const char *path, mode_t mode)
{
	return mkdir(path, mode) < 0 ? -errno : 0;
}

static int nat_unlink(struct backend *b, const char *path)
{
	return unlink(path) < 0 ? -errno : 0;
}

static int nat_rmdir(struct backend *b, const char *path)
{
	return rmdir(path) < 0 ? -errno : 0;
}

static int nat_statfs(struct backend *b, const char *path,
		      struct statfs *sfs)
{
	return statfs(path, sfs) < 0 ? -errno : 0;
}

/* ---- lib backend: libfusebox ---- */

static int lib_stat(struct backend *b, const char *path, struct stat *st)
{
	return fb_stat(b->fs, path, st);
}

static int lib_lstat(struct backend *b, const char *path, struct stat *st)
{
	return fb_lstat(b->fs, path, st);
}

static int lib_open(struct backend *b, const char *path, int flags,
		    mode_t mode)
{
	return fb_openat(b->fs, FB_AT_FDCWD, path, flags, mode);
}

static int lib_openat(struct backend *b, int dirfd, const char *path,
		      int flags)
{
	return fb_openat(b->fs, dirfd, path, flags, 0);
}

static int lib_close(struct backend *b, int fd)
{
	return fb_close(b->fs, fd);
}

static int lib_fstat(struct backend *b, int fd, struct stat *st)
{
	return fb_fstat(b->fs, fd, st);
}

static int lib_fstatat(struct backend *b, int dirfd, const char *path,
		       struct stat *st, int flags)
{
	return fb_fstatat(b->fs, dirfd, path, st, flags);
}

static ssize_t lib_read(struct backend *b, int fd, void *buf, size_t n)
{
	return fb_read(b->fs, fd, buf, n);
}

static ssize_t lib_pread(struct backend *b, int fd, void *buf, size_t n,
			 off_t off)
{
	return fb_pread(b->fs, fd, buf, n, off);
}

static ssize_t lib_getdents(struct backend *b, int fd, void *buf, size_t n)
{
	return fb_getdents64(b->fs, fd, buf, n);
}

static ssize_t lib_write(struct backend *b, int fd, const void *buf,
			 size_t n)
{
	return fb_write(b->fs, fd, buf, n);
}

static ssize_t lib_pwrite(struct backend *b, int fd, const void *buf,
			  size_t n, off_t off)
{
	return fb_pwrite(b->fs, fd, buf, n, off);
}

static int lib_fsync(struct backend *b, int fd)
{
	return fb_fsync(b->fs, fd);
}

static int lib_mkdir(struct backend *b, const char *path, mode_t mode)
{
	return fb_mkdirat(b->fs, FB_AT_FDCWD, path, mode);
}

static int lib_unlink(struct backend *b, const char *path)
{
	return fb_unlinkat(b->fs, FB_AT_FDCWD, path, 0);
}

static int lib_rmdir(struct backend *b, const char *path)
{
	return fb_unlinkat(b->fs, FB_AT_FDCWD, path, AT_REMOVEDIR);
}

static int lib_statfs(struct backend *b, const char *path,
		      struct statfs *sfs)
{
	return fb_statfs(b->fs, path, sfs);
}

static void path_of(struct backend *b, char *out, size_t size,
		    const char *rel)
{
	int n = snprintf(out, size, "%s/%s", b->root, rel);

	if (n < 0 || (size_t)n >= size)
		die("path too long: %s/%s", b->root, rel);
}

static int open_or_die(struct backend *b, const char *rel, int flags)
{
	char path[PATH_MAX];
	int fd;

	path_of(b, path, sizeof(path), rel);
	fd = b->open(b, path, flags, 0644);
	if (fd < 0)
		die("open %s: %s", path, strerror(-fd));
	return fd;
}

static void close_or_die(struct backend *b, int fd)
{
	int r = b->close(b, fd);

	if (r < 0)
		die("close fd %d: %s", fd, strerror(-r));
}

/* ---- workloads ---- */

/* stat every file of stat/ in turn; with the server's timeouts at 0 (or
 * a backend without a cache) each one is a fresh lookup. */
static void run_stat_uncached(struct backend *b, struct result *res)
{
	static char paths[NSTAT_FILES][PATH_MAX];
	struct stat st;
	uint64_t ops = 0;
	double t0, t1 = 0, deadline;
	int i, r;

	for (i = 0; i < NSTAT_FILES; i++) {
		char rel[32];

		snprintf(rel, sizeof(rel), "stat/f%04d", i);
		path_of(b, paths[i], sizeof(paths[i]), rel);
	}
	/* Warm-up: one pass over the files (server threads, code paths). */
	for (i = 0; i < NSTAT_FILES; i++) {
		r = b->stat(b, paths[i], &st);
		if (r < 0)
			die("stat %s: %s", paths[i], strerror(-r));
	}
	t0 = now();
	deadline = t0 + bench_secs;
	i = 0;
	for (;;) {
		r = b->stat(b, paths[i], &st);
		if (r < 0)
			die("stat %s: %s", paths[i], strerror(-r));
		if (!S_ISREG(st.st_mode) || st.st_size != i)
			die("stat %s: mode 0%o size %lld, want a regular file of %d bytes",
			    paths[i], (unsigned)st.st_mode,
			    (long long)st.st_size, i);
		ops++;
		if (++i == NSTAT_FILES)
			i = 0;
		if ((ops & 15) == 0 && (t1 = now()) >= deadline)
			break;
	}
	res->secs = t1 - t0;
	res->ops = ops;
	res->rate = (double)ops / res->secs;
	res->unit = "ops/s";
}

/* stat the same file again and again: served from the attribute cache
 * when the server's timeouts allow it. */
static void run_stat_cached(struct backend *b, struct result *res)
{
	char rel[32], path[PATH_MAX];
	struct stat st;
	uint64_t ops = 0;
	double t0, t1 = 0, deadline;
	int i, r;

	snprintf(rel, sizeof(rel), "stat/f%04d", CACHED_STAT_FILE);
	path_of(b, path, sizeof(path), rel);
	for (i = 0; i < 1000; i++) {
		r = b->stat(b, path, &st);
		if (r < 0)
			die("stat %s: %s", path, strerror(-r));
	}
	t0 = now();
	deadline = t0 + bench_secs;
	for (;;) {
		r = b->stat(b, path, &st);
		if (r < 0)
			die("stat %s: %s", path, strerror(-r));
		if (!S_ISREG(st.st_mode) || st.st_size != CACHED_STAT_FILE)
			die("stat %s: mode 0%o size %lld, want a regular file of %d bytes",
			    path, (unsigned)st.st_mode, (long long)st.st_size,
			    CACHED_STAT_FILE);
		ops++;
		if ((ops & 63) == 0 && (t1 = now()) >= deadline)
			break;
	}
	res->secs = t1 - t0;
	res->ops = ops;
	res->rate = (double)ops / res->secs;
	res->unit = "ops/s";
}

/* One full listing of directory rel: open, getdents64 until 0, close.
 * Returns the number of entries other than "." and "..", or stops early
 * (and says so in *partial) when the deadline passes. */
static uint64_t list_dir(struct backend *b, const char *rel, char *buf,
			 double deadline, bool *partial)
{
	uint64_t names = 0;
	int fd = open_or_die(b, rel, O_RDONLY | O_DIRECTORY);

	*partial = false;
	for (;;) {
		ssize_t n = b->getdents(b, fd, buf, DENTS_BUF);
		ssize_t pos = 0;

		if (n < 0)
			die("getdents64 on %s: %s", rel, strerror(-n));
		if (n == 0)
			break;
		while (pos < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);

			if (d->d_reclen == 0 || pos + d->d_reclen > n)
				die("getdents64 on %s: bad d_reclen %u at %zd of %zd",
				    rel, d->d_reclen, pos, n);
			if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
				names++;
			pos += d->d_reclen;
		}
		if (deadline > 0 && now() >= deadline) {
			*partial = true;
			break;
		}
	}
	close_or_die(b, fd);
	return names;
}

static void run_readdir(struct backend *b, struct result *res)
{
	char *buf = malloc(DENTS_BUF);
	uint64_t entries = 0, listings = 0, n;
	double t0, t1 = 0, deadline;
	bool partial;

	if (!buf)
		die("out of memory");
	/* Warm-up listing; it also checks the count. */
	n = list_dir(b, "dir10k", buf, 0, &partial);
	if (n != NDIR_ENTRIES)
		die("dir10k lists %llu names, want %d",
		    (unsigned long long)n, NDIR_ENTRIES);
	t0 = now();
	deadline = t0 + bench_secs;
	do {
		n = list_dir(b, "dir10k", buf, deadline, &partial);
		entries += n;
		if (!partial) {
			if (n != NDIR_ENTRIES)
				die("dir10k lists %llu names, want %d",
				    (unsigned long long)n, NDIR_ENTRIES);
			listings++;
		}
	} while ((t1 = now()) < deadline);
	res->secs = t1 - t0;
	res->ops = entries;
	res->rate = (double)entries / res->secs;
	res->unit = "entries/s";
	/* A listing cut by the deadline counts for the part done. */
	res->rate2 = (double)entries / NDIR_ENTRIES / res->secs;
	res->unit2 = "listings/s";
	free(buf);
}

/* One listing of dir10k with a stat of every name, as `ls -l` does:
 * getdents64 into a 32 KiB buffer, then fstatat(dirfd, name,
 * AT_SYMLINK_NOFOLLOW) of each name in it, until getdents64 gives 0.
 * Every stat must show an empty regular file. Returns the names stat'd;
 * stops early (and says so in *partial) when the deadline passes. */
static uint64_t list_and_stat(struct backend *b, char *buf, double deadline,
			      bool *partial)
{
	uint64_t names = 0;
	int fd = open_or_die(b, "dir10k", O_RDONLY | O_DIRECTORY);

	*partial = false;
	for (;;) {
		ssize_t n = b->getdents(b, fd, buf, DENTS_BUF);
		ssize_t pos = 0;

		if (n < 0)
			die("getdents64 on dir10k: %s", strerror(-n));
		if (n == 0)
			break;
		while (pos < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			struct stat st;
			int r;

			if (d->d_reclen == 0 || pos + d->d_reclen > n)
				die("getdents64 on dir10k: bad d_reclen %u at %zd of %zd",
				    d->d_reclen, pos, n);
			pos += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			r = b->fstatat(b, fd, d->d_name, &st,
				       AT_SYMLINK_NOFOLLOW);
			if (r < 0)
				die("fstatat dir10k/%s: %s", d->d_name,
				    strerror(-r));
			if (!S_ISREG(st.st_mode) || st.st_size != 0)
				die("fstatat dir10k/%s: mode 0%o size %lld, want an empty regular file",
				    d->d_name, (unsigned)st.st_mode,
				    (long long)st.st_size);
			names++;
			if (deadline > 0 && (names & 15) == 0 &&
			    now() >= deadline) {
				*partial = true;
				goto out;
			}
		}
	}
out:
	close_or_die(b, fd);
	return names;
}

/* readdir + stat of the 10,000-entry directory, listing after listing.
 * rate: names listed and stat'd per second; rate2: full listings per
 * second (a listing cut by the deadline counts for the part done). */
static void run_readdir_stat(struct backend *b, struct result *res)
{
	char *buf = malloc(DENTS_BUF);
	uint64_t entries = 0, n;
	double t0, t1 = 0, deadline;
	bool partial;

	if (!buf)
		die("out of memory");
	n = list_and_stat(b, buf, 0, &partial);
	if (n != NDIR_ENTRIES)
		die("dir10k lists %llu names, want %d",
		    (unsigned long long)n, NDIR_ENTRIES);
	t0 = now();
	deadline = t0 + bench_secs;
	do {
		n = list_and_stat(b, buf, deadline, &partial);
		if (!partial && n != NDIR_ENTRIES)
			die("dir10k lists %llu names, want %d",
			    (unsigned long long)n, NDIR_ENTRIES);
		entries += n;
	} while ((t1 = now()) < deadline);
	res->secs = t1 - t0;
	res->ops = entries;
	res->rate = (double)entries / res->secs;
	res->unit = "entries/s";
	res->rate2 = (double)entries / NDIR_ENTRIES / res->secs;
	res->unit2 = "listings/s";
	free(buf);
}

static void check_pattern(const char *buf, size_t n, uint64_t off,
			  const char *what)
{
	uint64_t w;

	/* Reads start at multiples of 8; check the first and last word. */
	if (n < 8 || off % 8)
		return;
	memcpy(&w, buf, 8);
	if (w != off)
		die("%s at %llu: data says %llu", what,
		    (unsigned long long)off, (unsigned long long)w);
	n &= ~(size_t)7;
	memcpy(&w, buf + n - 8, 8);
	if (w != off + n - 8)
		die("%s at %llu: data says %llu", what,
		    (unsigned long long)(off + n - 8), (unsigned long long)w);
}

/* The size of a file with the offset pattern (big, or one a write
 * workload made). */
static off_t pattern_size(struct backend *b, int fd, const char *rel)
{
	struct stat st;
	int r = b->fstat(b, fd, &st);

	if (r < 0)
		die("fstat %s: %s", rel, strerror(-r));
	if (st.st_size < RAND_BLOCK || st.st_size % 8)
		die("fstat %s: size %lld is not a prepared file", rel,
		    (long long)st.st_size);
	return st.st_size;
}

/* One pass over file rel from start to end in 1 MiB blocks with read(2).
 * Returns the bytes read; *cut says the deadline ended the pass early. */
static uint64_t seq_pass(struct backend *b, const char *rel, char *buf,
			 double deadline, bool *cut)
{
	int fd = open_or_die(b, rel, O_RDONLY);
	off_t size = pattern_size(b, fd, rel);
	uint64_t pos = 0;

	*cut = false;
	for (;;) {
		ssize_t n = b->read(b, fd, buf, SEQ_BLOCK);

		if (n < 0)
			die("read %s at %llu: %s", rel,
			    (unsigned long long)pos, strerror(-n));
		if (n == 0)
			break;
		check_pattern(buf, (size_t)n, pos, rel);
		pos += (uint64_t)n;
		if (deadline > 0 && now() >= deadline) {
			*cut = true;
			break;
		}
	}
	if (!*cut && pos != (uint64_t)size)
		die("read %s: got %llu bytes before EOF, size is %lld", rel,
		    (unsigned long long)pos, (long long)size);
	close_or_die(b, fd);
	return pos;
}

static void run_seqread(struct backend *b, struct result *res)
{
	char *buf = aligned_alloc(4096, SEQ_BLOCK);
	uint64_t bytes = 0;
	double t0, t1 = 0, deadline;
	bool cut;

	if (!buf)
		die("out of memory");
	if (seq_warm)
		seq_pass(b, "big", buf, 0, &cut);
	t0 = now();
	deadline = t0 + bench_secs;
	do
		bytes += seq_pass(b, "big", buf, deadline, &cut);
	while ((t1 = now()) < deadline);
	res->secs = t1 - t0;
	res->ops = bytes;
	res->rate = (double)bytes / 1e6 / res->secs;
	res->unit = "MB/s";
	free(buf);
}

/* xorshift64*: a fixed sequence, the same for every backend. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1DULL;
}

static void run_randread(struct backend *b, struct result *res)
{
	char *buf = aligned_alloc(4096, RAND_BLOCK);
	int fd = open_or_die(b, "big", O_RDONLY);
	uint64_t blocks = (uint64_t)pattern_size(b, fd, "big") / RAND_BLOCK;
	uint64_t seed = 0x9e3779b97f4a7c15ULL, ops = 0;
	double t0, t1 = 0, deadline;
	int i;

	if (!buf)
		die("out of memory");
	for (i = 0; i < 200; i++) {
		off_t off = (off_t)(rng_next(&seed) % blocks) * RAND_BLOCK;
		ssize_t n = b->pread(b, fd, buf, RAND_BLOCK, off);

		if (n != RAND_BLOCK)
			die("pread big at %lld: %s", (long long)off,
			    n < 0 ? strerror((int)-n) : "short read");
	}
	t0 = now();
	deadline = t0 + bench_secs;
	for (;;) {
		off_t off = (off_t)(rng_next(&seed) % blocks) * RAND_BLOCK;
		ssize_t n = b->pread(b, fd, buf, RAND_BLOCK, off);

		if (n != RAND_BLOCK)
			die("pread big at %lld: %s", (long long)off,
			    n < 0 ? strerror((int)-n) : "short read");
		check_pattern(buf, RAND_BLOCK, (uint64_t)off, "pread big");
		ops++;
		if ((ops & 15) == 0 && (t1 = now()) >= deadline)
			break;
	}
	res->secs = t1 - t0;
	res->ops = ops;
	res->rate = (double)ops / res->secs;
	res->unit = "ops/s";
	close_or_die(b, fd);
	free(buf);
}

/* ---- write workloads: each in a fresh write.PID at the backend's root ---- */

#define NCREATE_FILES 10000
#define SMALL_FILE 100
#define RANDW_MIB 64
#define REREAD_MIB 64
/* GNU tar reads its archive in records of 20 blocks and writes a file's
 * data in the pieces the record boundaries cut it into. */
#define TAR_RECORD (20 * 512)

static long seqwrite_mib = 1024;	/* -b: the size of seqwrite's file */
static const char *tar_path;	/* -a: the archive untar extracts */
static char scratch[32];	/* "write.PID" */

/* out = the backend's path of scratch/rel (PATH_MAX bytes). */
static void spath(struct backend *b, char *out, const char *rel)
{
	char r[PATH_MAX];
	int n = snprintf(r, sizeof(r), "%s/%s", scratch, rel);

	if (n < 0 || (size_t)n >= sizeof(r))
		die("path too long: %s/%s", scratch, rel);
	path_of(b, out, PATH_MAX, r);
}

static void mkdir_or_die(struct backend *b, const char *path, mode_t mode)
{
	int r = b->mkdir(b, path, mode);

	if (r < 0)
		die("mkdir %s: %s", path, strerror(-r));
}

static void make_scratch(struct backend *b)
{
	char path[PATH_MAX];

	snprintf(scratch, sizeof(scratch), "write.%d", (int)getpid());
	path_of(b, path, sizeof(path), scratch);
	mkdir_or_die(b, path, 0755);
}

static void unlink_or_die(struct backend *b, const char *path)
{
	int r = b->unlink(b, path);

	if (r < 0)
		die("unlink %s: %s", path, strerror(-r));
}

static void rmdir_or_die(struct backend *b, const char *path)
{
	int r = b->rmdir(b, path);

	if (r < 0)
		die("rmdir %s: %s", path, strerror(-r));
}

/* The names in the directory open as fd (path names it in errors), each
 * as its d_type byte followed by the name and a NUL, all read before the
 * caller removes any: getdents64 over a directory that changes under it
 * may skip names. *len: bytes used. */
static char *read_names_fd(struct backend *b, int fd, const char *path,
			   size_t *len)
{
	char *buf = malloc(DENTS_BUF), *names = NULL;
	size_t cap = 0;

	if (!buf)
		die("out of memory");
	*len = 0;
	for (;;) {
		ssize_t n = b->getdents(b, fd, buf, DENTS_BUF), pos = 0;

		if (n < 0)
			die("getdents64 on %s: %s", path, strerror(-n));
		if (n == 0)
			break;
		while (pos < n) {
			struct dirent64 *d = (struct dirent64 *)(buf + pos);
			size_t nl;

			if (d->d_reclen == 0 || pos + d->d_reclen > n)
				die("getdents64 on %s: bad d_reclen %u", path,
				    d->d_reclen);
			pos += d->d_reclen;
			if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
				continue;
			nl = strlen(d->d_name);
			if (*len + nl + 2 > cap) {
				cap = (cap + nl + 2) * 2;
				names = realloc(names, cap);
				if (!names)
					die("out of memory");
			}
			names[(*len)++] = (char)d->d_type;
			memcpy(names + *len, d->d_name, nl + 1);
			*len += nl + 1;
		}
	}
	free(buf);
	return names;
}

static char *read_names(struct backend *b, const char *path, size_t *len)
{
	int fd = b->open(b, path, O_RDONLY | O_DIRECTORY, 0);
	char *names;

	if (fd < 0)
		die("open %s: %s", path, strerror(-fd));
	names = read_names_fd(b, fd, path, len);
	close_or_die(b, fd);
	return names;
}

/* Removes directory path and everything in it with the backend's own
 * calls. Returns how many entries it removed, path included. */
static uint64_t rm_tree(struct backend *b, const char *path)
{
	size_t len, pos = 0;
	char *names = read_names(b, path, &len);
	uint64_t removed = 1;

	while (pos < len) {
		unsigned char type = (unsigned char)names[pos++];
		const char *name = names + pos;
		char child[PATH_MAX];
		struct stat st;
		int n = snprintf(child, sizeof(child), "%s/%s", path, name);

		if (n < 0 || (size_t)n >= sizeof(child))
			die("path too long: %s/%s", path, name);
		pos += strlen(name) + 1;
		if (type == DT_UNKNOWN) {
			int r = b->lstat(b, child, &st);

			if (r < 0)
				die("lstat %s: %s", child, strerror(-r));
			type = S_ISDIR(st.st_mode) ? DT_DIR : DT_REG;
		}
		if (type == DT_DIR) {
			removed += rm_tree(b, child);
		} else {
			unlink_or_die(b, child);
			removed++;
		}
	}
	free(names);
	rmdir_or_die(b, path);
	return removed;
}

static void remove_scratch(struct backend *b)
{
	char path[PATH_MAX];

	path_of(b, path, sizeof(path), scratch);
	rm_tree(b, path);
}

/* Writes mark a block by its first and last 8 bytes, which hold their
 * own file offsets as in big: check_pattern() and check_word() read
 * them back, and the rest of the block costs nothing to fill. */
static void stamp(char *buf, size_t n, uint64_t off)
{
	uint64_t last = off + n - 8;

	memcpy(buf, &off, 8);
	memcpy(buf + n - 8, &last, 8);
}

static void check_word(struct backend *b, int fd, uint64_t off,
		       const char *what)
{
	uint64_t w;
	ssize_t n = b->pread(b, fd, &w, 8, (off_t)off);

	if (n != 8)
		die("%s: pread of 8 bytes at %llu: %s", what,
		    (unsigned long long)off,
		    n < 0 ? strerror((int)-n) : "short read");
	if (w != off)
		die("%s at %llu: data says %llu (what was written is not what is read)",
		    what, (unsigned long long)off, (unsigned long long)w);
}

static void write_or_die(struct backend *b, int fd, const char *buf,
			 size_t n, const char *what)
{
	while (n > 0) {
		ssize_t w = b->write(b, fd, buf, n);

		if (w <= 0)
			die("write %zu bytes to %s: %s", n, what,
			    w < 0 ? strerror((int)-w) : "wrote nothing");
		buf += w;
		n -= (size_t)w;
	}
}

static void fsync_or_die(struct backend *b, int fd, const char *what)
{
	int r = b->fsync(b, fd);

	if (r < 0)
		die("fsync %s: %s", what, strerror(-r));
}

/* A new file of mib MiB in 1 MiB writes, every block stamped. */
static void write_pattern_file(struct backend *b, const char *path,
			       long mib, char *buf)
{
	int fd = b->open(b, path, O_WRONLY | O_CREAT | O_EXCL, 0644);
	uint64_t off;

	if (fd < 0)
		die("create %s: %s", path, strerror(-fd));
	for (off = 0; off < (uint64_t)mib * SEQ_BLOCK; off += SEQ_BLOCK) {
		stamp(buf, SEQ_BLOCK, off);
		write_or_die(b, fd, buf, SEQ_BLOCK, path);
	}
	fsync_or_die(b, fd, path);
	close_or_die(b, fd);
}

static void create_files(struct backend *b, char **paths, int n,
			 const char *data)
{
	int i;

	for (i = 0; i < n; i++) {
		int fd = b->open(b, paths[i],
				 O_WRONLY | O_CREAT | O_EXCL, 0644);

		if (fd < 0)
			die("create %s: %s", paths[i], strerror(-fd));
		write_or_die(b, fd, data, SMALL_FILE, paths[i]);
		close_or_die(b, fd);
	}
}

static void unlink_files(struct backend *b, char **paths, int n)
{
	int i;

	for (i = 0; i < n; i++)
		unlink_or_die(b, paths[i]);
}

static void check_names(struct backend *b, const char *rel, uint64_t want)
{
	char *buf = malloc(DENTS_BUF);
	bool partial;
	uint64_t n;

	if (!buf)
		die("out of memory");
	n = list_dir(b, rel, buf, 0, &partial);
	if (n != want)
		die("%s lists %llu names, want %llu", rel,
		    (unsigned long long)n, (unsigned long long)want);
	free(buf);
}

/* Create NCREATE_FILES files of SMALL_FILE bytes in a fresh directory
 * (open with O_CREAT|O_EXCL, write, close), then unlink them all; again
 * while the time budget lasts, at least once. rate: files created per
 * second; rate2: files unlinked per second. */
static void run_create_delete(struct backend *b, struct result *res)
{
	char **paths = calloc(NCREATE_FILES, sizeof(*paths));
	char dir[PATH_MAX], rel[64], data[SMALL_FILE];
	double t0, t_create = 0, t_unlink = 0, deadline;
	uint64_t files = 0;
	struct stat st;
	int i, r;

	if (!paths)
		die("out of memory");
	memset(data, 'x', sizeof(data));
	make_scratch(b);
	spath(b, dir, "cd");
	mkdir_or_die(b, dir, 0755);
	snprintf(rel, sizeof(rel), "%s/cd", scratch);
	for (i = 0; i < NCREATE_FILES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "cd/f%05d", i);
		paths[i] = malloc(PATH_MAX);
		if (!paths[i])
			die("out of memory");
		spath(b, paths[i], name);
	}
	/* Warm-up: 100 files. */
	create_files(b, paths, 100, data);
	unlink_files(b, paths, 100);
	deadline = now() + bench_secs;
	do {
		t0 = now();
		create_files(b, paths, NCREATE_FILES, data);
		t_create += now() - t0;
		check_names(b, rel, NCREATE_FILES);
		r = b->stat(b, paths[NCREATE_FILES - 1], &st);
		if (r < 0)
			die("stat %s: %s", paths[NCREATE_FILES - 1],
			    strerror(-r));
		if (!S_ISREG(st.st_mode) || st.st_size != SMALL_FILE)
			die("stat %s: mode 0%o size %lld, want a regular file of %d bytes",
			    paths[NCREATE_FILES - 1], (unsigned)st.st_mode,
			    (long long)st.st_size, SMALL_FILE);
		t0 = now();
		unlink_files(b, paths, NCREATE_FILES);
		t_unlink += now() - t0;
		check_names(b, rel, 0);
		files += NCREATE_FILES;
	} while (now() < deadline);
	res->secs = t_create + t_unlink;
	res->ops = files;
	res->rate = (double)files / t_create;
	res->unit = "files/s";
	res->rate2 = (double)files / t_unlink;
	res->unit2 = "files/s";
	for (i = 0; i < NCREATE_FILES; i++)
		free(paths[i]);
	free(paths);
	remove_scratch(b);
}

/* Reads back the stamps of every block of a file write_pattern_file()
 * made. */
static void check_pattern_file(struct backend *b, const char *path,
			       long mib)
{
	uint64_t total = (uint64_t)mib * SEQ_BLOCK, off;
	int fd = b->open(b, path, O_RDONLY, 0);
	off_t size;

	if (fd < 0)
		die("open %s: %s", path, strerror(-fd));
	size = pattern_size(b, fd, path);
	if ((uint64_t)size != total)
		die("%s: size %lld after writing %llu bytes", path,
		    (long long)size, (unsigned long long)total);
	for (off = 0; off < total; off += SEQ_BLOCK) {
		check_word(b, fd, off, path);
		check_word(b, fd, off + SEQ_BLOCK - 8, path);
	}
	close_or_die(b, fd);
}

static uint64_t free_bytes(struct backend *b, const char *path)
{
	struct statfs sfs;
	int r = b->statfs(b, path, &sfs);

	if (r < 0)
		die("statfs %s: %s", path, strerror(-r));
	return (uint64_t)sfs.f_bavail * (uint64_t)sfs.f_bsize;
}

/* Through FUSE an unlinked file's space comes back only when the server
 * has its RELEASE and FORGET, which both clients send asynchronously;
 * the server then frees the pages while the next pass writes. Waiting
 * (for at most 10 s) keeps that work out of the next pass's time and
 * keeps two big files from filling the filesystem. */
static void wait_space_back(struct backend *b, const char *path,
			    uint64_t want)
{
	double give_up = now() + 10;

	while (free_bytes(b, path) < want && now() < give_up)
		usleep(10000);
}

/* Write seqwrite_mib MiB in 1 MiB write(2)s to a new file, fsync, close,
 * timed from the open to the close; unlink it (untimed) and again while
 * the time budget lasts, at least once. The first file is read back. */
static void run_seqwrite(struct backend *b, struct result *res)
{
	char *buf = aligned_alloc(4096, SEQ_BLOCK);
	uint64_t bytes = 0, free0;
	char path[PATH_MAX], dir[PATH_MAX];
	double t0, secs = 0, deadline;

	if (!buf)
		die("out of memory");
	memset(buf, 0x5a, SEQ_BLOCK);
	make_scratch(b);
	path_of(b, dir, sizeof(dir), scratch);
	spath(b, path, "seq");
	free0 = free_bytes(b, dir);
	deadline = now() + bench_secs;
	do {
		t0 = now();
		write_pattern_file(b, path, seqwrite_mib, buf);
		secs += now() - t0;
		if (bytes == 0)
			check_pattern_file(b, path, seqwrite_mib);
		unlink_or_die(b, path);
		/* 1 % slack: whatever else writes to the filesystem. */
		wait_space_back(b, dir, free0 - free0 / 100);
		bytes += (uint64_t)seqwrite_mib * SEQ_BLOCK;
	} while (now() < deadline);
	res->secs = secs;
	res->ops = bytes;
	res->rate = (double)bytes / 1e6 / res->secs;
	res->unit = "MB/s";
	free(buf);
	remove_scratch(b);
}

/* pwrite of 4 KiB at a random 4 KiB-aligned offset of a RANDW_MIB file
 * written beforehand, for the time budget. rate: ops/s; rate2: MB/s. */
static void run_randwrite(struct backend *b, struct result *res)
{
	const uint64_t blocks = (uint64_t)RANDW_MIB * SEQ_BLOCK / RAND_BLOCK;
	char *big = aligned_alloc(4096, SEQ_BLOCK);
	char *buf = aligned_alloc(4096, RAND_BLOCK);
	uint64_t seed = 0x9e3779b97f4a7c15ULL, ops = 0, i;
	char path[PATH_MAX];
	double t0 = 0, t1 = 0, deadline = 0;
	int fd;

	if (!big || !buf)
		die("out of memory");
	memset(big, 0, SEQ_BLOCK);
	memset(buf, 0xa5, RAND_BLOCK);
	make_scratch(b);
	spath(b, path, "rand");
	write_pattern_file(b, path, RANDW_MIB, big);
	fd = b->open(b, path, O_RDWR, 0);
	if (fd < 0)
		die("open %s: %s", path, strerror(-fd));
	for (;;) {
		uint64_t off = rng_next(&seed) % blocks * RAND_BLOCK;
		ssize_t n;

		stamp(buf, RAND_BLOCK, off);
		n = b->pwrite(b, fd, buf, RAND_BLOCK, (off_t)off);
		if (n != RAND_BLOCK)
			die("pwrite %s at %llu: %s", path,
			    (unsigned long long)off,
			    n < 0 ? strerror((int)-n) : "short write");
		/* The first 200 are the warm-up. */
		if (++ops == 200) {
			t0 = now();
			deadline = t0 + bench_secs;
		} else if (ops > 200 && (ops & 15) == 0 &&
			   (t1 = now()) >= deadline) {
			break;
		}
	}
	/* Every write at an offset writes the same stamps there, so the
	 * first writes of the sequence can be checked in any order. */
	seed = 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < 1000 && i < ops; i++) {
		uint64_t off = rng_next(&seed) % blocks * RAND_BLOCK;

		check_word(b, fd, off, path);
		check_word(b, fd, off + RAND_BLOCK - 8, path);
	}
	close_or_die(b, fd);
	ops -= 200;
	res->secs = t1 - t0;
	res->ops = ops;
	res->rate = (double)ops / res->secs;
	res->unit = "ops/s";
	res->rate2 = (double)ops * RAND_BLOCK / 1e6 / res->secs;
	res->unit2 = "MB/s";
	free(big);
	free(buf);
	remove_scratch(b);
}

/* Write a REREAD_MIB file, read it once (untimed), then read it again
 * and again in 1 MiB read(2)s for the time budget: what a page cache
 * gives to a file just written and read. */
static void run_reread(struct backend *b, struct result *res)
{
	char *buf = aligned_alloc(4096, SEQ_BLOCK);
	char path[PATH_MAX], rel[64];
	uint64_t bytes = 0;
	double t0, t1 = 0, deadline;
	bool cut;

	if (!buf)
		die("out of memory");
	memset(buf, 0x3c, SEQ_BLOCK);
	make_scratch(b);
	spath(b, path, "reread");
	snprintf(rel, sizeof(rel), "%s/reread", scratch);
	write_pattern_file(b, path, REREAD_MIB, buf);
	seq_pass(b, rel, buf, 0, &cut);
	t0 = now();
	deadline = t0 + bench_secs;
	do
		bytes += seq_pass(b, rel, buf, deadline, &cut);
	while ((t1 = now()) < deadline);
	res->secs = t1 - t0;
	res->ops = bytes;
	res->rate = (double)bytes / 1e6 / res->secs;
	res->unit = "MB/s";
	free(buf);
	remove_scratch(b);
}

/* ---- untar: a ustar archive of a source tree ---- */

struct tar_entry {
	char name[155 + 1 + 100 + 1];	/* prefix/name, no trailing / */
	bool dir;		/* else a regular file */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	time_t mtime;
	size_t size;
	size_t data;		/* where the contents start in the archive */
};

struct tar {
	char *buf;
	size_t len;
	struct tar_entry *ents;
	size_t n;
};

static uint64_t tar_number(const char *field, size_t n, const char *what)
{
	uint64_t v = 0;
	size_t i = 0;

	while (i < n && field[i] == ' ')
		i++;
	for (; i < n && field[i] >= '0' && field[i] <= '7'; i++)
		v = v * 8 + (uint64_t)(field[i] - '0');
	if (i < n && field[i] != '\0' && field[i] != ' ')
		die("%s: %s: not an octal number", tar_path, what);
	return v;
}

/* Reads the archive (with plain read(2): it is not on the tested
 * filesystem) and indexes it. Only what the benchmark's trees hold is
 * understood: ustar regular files and directories. */
static void tar_load(struct tar *t)
{
	int fd = open(tar_path, O_RDONLY);
	struct stat st;
	size_t pos = 0, cap = 0;

	memset(t, 0, sizeof(*t));
	if (fd < 0 || fstat(fd, &st) < 0)
		die("%s: %s", tar_path, strerror(errno));
	t->len = (size_t)st.st_size;
	t->buf = malloc(t->len + 1);
	if (!t->buf)
		die("out of memory");
	while (pos < t->len) {
		ssize_t n = read(fd, t->buf + pos, t->len - pos);

		if (n <= 0)
			die("read %s: %s", tar_path,
			    n < 0 ? strerror(errno) : "short read");
		pos += (size_t)n;
	}
	close(fd);
	for (pos = 0; pos + 512 <= t->len; ) {
		const char *h = t->buf + pos;
		struct tar_entry *e;
		size_t nl;

		if (h[0] == '\0')
			break;	/* the two zero blocks at the end */
		if (memcmp(h + 257, "ustar", 5))
			die("%s: header at %zu is not ustar", tar_path, pos);
		if (t->n == cap) {
			cap = cap ? cap * 2 : 256;
			t->ents = realloc(t->ents, cap * sizeof(*t->ents));
			if (!t->ents)
				die("out of memory");
		}
		e = &t->ents[t->n++];
		memset(e, 0, sizeof(*e));
		if (h[345])
			snprintf(e->name, sizeof(e->name), "%.155s/%.100s",
				 h + 345, h);
		else
			snprintf(e->name, sizeof(e->name), "%.100s", h);
		nl = strlen(e->name);
		while (nl > 1 && e->name[nl - 1] == '/')
			e->name[--nl] = '\0';
		if (h[156] == '5')
			e->dir = true;
		else if (h[156] != '0' && h[156] != '\0')
			die("%s: %s: entry type '%c' is not supported", tar_path,
			    e->name, h[156]);
		e->mode = (mode_t)tar_number(h + 100, 8, e->name);
		e->uid = (uid_t)tar_number(h + 108, 8, e->name);
		e->gid = (gid_t)tar_number(h + 116, 8, e->name);
		e->size = e->dir ? 0 : (size_t)tar_number(h + 124, 12, e->name);
		e->mtime = (time_t)tar_number(h + 136, 12, e->name);
		e->data = pos + 512;
		if (e->data + e->size > t->len)
			die("%s: %s runs past the end", tar_path, e->name);
		pos = e->data + (e->size + 511) / 512 * 512;
	}
	if (t->n == 0)
		die("%s: no entries", tar_path);
}

/* The real tar, unmodified: in the fusebox run column it runs inside the
 * sandbox like fbbench. */
static void untar_native(const char *dest)
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(2, 1);	/* stdout carries fbbench's result line */
		execlp("tar", "tar", "-xf", tar_path, "-C", dest, (char *)NULL);
		fprintf(stderr, "fbbench: exec tar: %s\n", strerror(errno));
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0)
		die("waitpid: %s", strerror(errno));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		die("tar -xf %s -C %s: wait status 0x%x", tar_path, dest,
		    status);
}

static void lib_check(int r, const char *call, const char *path)
{
	if (r < 0)
		die("%s %s: %s", call, path, strerror(-r));
}

/* What GNU tar 1.34 does, as strace shows it (root: owners and modes
 * from the archive; otherwise no chown and modes under the umask). All
 * paths are relative to dest, opened once. A file is openat(O_CREAT|
 * O_EXCL, 0600), writes cut at the record boundaries, futimens, fchown,
 * fchmod, close; a directory is mkdirat(0700), and once its contents are
 * out utimensat, fchownat and a chmod (tar's goes through an O_PATH
 * descriptor and /proc/self/fd; here fchmodat). Doing the same calls
 * keeps the requests of the fusebox column those of the others. */
static void untar_lib(struct backend *b, const struct tar *t,
		      const char *dest, bool as_root, mode_t umask_bits)
{
	struct fb_fs *fs = b->fs;
	int dfd = fb_openat(fs, FB_AT_FDCWD, dest, O_RDONLY | O_DIRECTORY, 0);
	const char *path;
	size_t i;

	lib_check(dfd, "open", dest);

	for (i = 0; i < t->n; i++) {
		const struct tar_entry *e = &t->ents[i];
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime, 0 } };
		mode_t mode = e->mode & (as_root ? 07777 : ~umask_bits & 0777);
		size_t pos, end;
		int fd;

		path = e->name;
		if (e->dir) {
			lib_check(fb_mkdirat(fs, dfd, path, 0700), "mkdir",
				  path);
			continue;
		}
		fd = fb_openat(fs, dfd, path, O_WRONLY | O_CREAT | O_EXCL,
			       0600);
		lib_check(fd, "create", path);
		for (pos = e->data; pos < e->data + e->size; pos = end) {
			end = (pos / TAR_RECORD + 1) * TAR_RECORD;
			if (end > e->data + e->size)
				end = e->data + e->size;
			write_or_die(b, fd, t->buf + pos, end - pos, path);
		}
		lib_check(fb_futimens(fs, fd, ts), "futimens", path);
		if (as_root)
			lib_check(fb_fchown(fs, fd, e->uid, e->gid), "fchown",
				  path);
		lib_check(fb_fchmod(fs, fd, mode), "fchmod", path);
		close_or_die(b, fd);
	}
	for (i = t->n; i-- > 0; ) {
		const struct tar_entry *e = &t->ents[i];
		struct timespec ts[2] = { { 0, UTIME_OMIT }, { e->mtime, 0 } };
		mode_t mode = e->mode & (as_root ? 07777 : ~umask_bits & 0777);

		if (!e->dir)
			continue;
		path = e->name;
		lib_check(fb_utimensat(fs, dfd, path, ts, AT_SYMLINK_NOFOLLOW),
			  "utimensat", path);
		if (as_root)
			lib_check(fb_fchownat(fs, dfd, path, e->uid, e->gid,
					      AT_SYMLINK_NOFOLLOW),
				  "fchownat", path);
		lib_check(fb_fchmodat(fs, dfd, path, mode, 0), "chmod", path);
	}
	close_or_die(b, dfd);
}

/* Every entry of the archive is in dest with its type, mode, mtime,
 * owner (as root) and contents. */
static void untar_check(struct backend *b, const struct tar *t,
			const char *dest, bool as_root, mode_t umask_bits)
{
	char path[PATH_MAX], *buf = NULL;
	size_t i, cap = 0;

	for (i = 0; i < t->n; i++) {
		const struct tar_entry *e = &t->ents[i];
		mode_t mode = e->mode & (as_root ? 07777 : ~umask_bits & 0777);
		struct stat st;
		size_t got = 0;
		int fd, r;

		snprintf(path, sizeof(path), "%s/%s", dest, e->name);
		r = b->lstat(b, path, &st);
		if (r < 0)
			die("untar: lstat %s: %s", path, strerror(-r));
		if ((e->dir ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) ||
		    (st.st_mode & 07777) != mode || st.st_mtime != e->mtime ||
		    (as_root && (st.st_uid != e->uid || st.st_gid != e->gid)) ||
		    (!e->dir && (size_t)st.st_size != e->size))
			die("untar: %s: mode 0%o mtime %lld owner %u:%u size %lld, archive says %s mode 0%o mtime %lld owner %u:%u size %zu",
			    path, (unsigned)st.st_mode,
			    (long long)st.st_mtime, (unsigned)st.st_uid,
			    (unsigned)st.st_gid, (long long)st.st_size,
			    e->dir ? "directory" : "file", (unsigned)mode,
			    (long long)e->mtime, (unsigned)e->uid,
			    (unsigned)e->gid, e->size);
		if (e->dir)
			continue;
		if (e->size + 1 > cap) {
			cap = e->size + 1;
			buf = realloc(buf, cap);
			if (!buf)
				die("out of memory");
		}
		fd = b->open(b, path, O_RDONLY, 0);
		if (fd < 0)
			die("untar: open %s: %s", path, strerror(-fd));
		for (;;) {
			ssize_t n = b->read(b, fd, buf + got, cap - got);

			if (n < 0)
				die("untar: read %s: %s", path,
				    strerror((int)-n));
			if (n == 0)
				break;
			got += (size_t)n;
			if (got == cap)
				break;
		}
		close_or_die(b, fd);
		if (got != e->size || memcmp(buf, t->buf + e->data, e->size))
			die("untar: %s: contents differ from the archive's",
			    path);
	}
	free(buf);
}

/* One extraction into a fresh dest, removed afterwards (checked first
 * when check says so); returns the seconds the extraction took. */
static double untar_pass(struct backend *b, const struct tar *t,
			 const char *dest, bool check)
{
	bool as_root = geteuid() == 0;
	mode_t umask_bits = umask(0);
	uint64_t removed;
	double t0, t1;

	umask(umask_bits);
	mkdir_or_die(b, dest, 0755);
	t0 = now();
	if (b->fs)
		untar_lib(b, t, dest, as_root, umask_bits);
	else
		untar_native(dest);
	t1 = now();
	if (check)
		untar_check(b, t, dest, as_root, umask_bits);
	removed = rm_tree(b, dest);
	if (removed != t->n + 1)
		die("untar: removed %llu entries, the archive has %zu",
		    (unsigned long long)removed - 1, t->n);
	return t1 - t0;
}

/* Extract the archive (-a) into a fresh directory and remove it again,
 * for the time budget and at least once after an untimed, checked
 * warm-up pass. Only the extraction is timed. rate: archive entries
 * (files and directories) per second. */
static void run_untar(struct backend *b, struct result *res)
{
	char dest[PATH_MAX];
	uint64_t files = 0;
	double secs = 0, deadline;
	struct tar t;

	if (!tar_path)
		die("untar needs the archive: -a FILE");
	tar_load(&t);
	make_scratch(b);
	spath(b, dest, "x");
	untar_pass(b, &t, dest, true);
	deadline = now() + bench_secs;
	do {
		secs += untar_pass(b, &t, dest, false);
		files += t.n;
	} while (now() < deadline);
	res->secs = secs;
	res->ops = files;
	res->rate = (double)files / secs;
	res->unit = "files/s";
	free(t.buf);
	free(t.ents);
	remove_scratch(b);
}

/* write(2) of all of buf to a file outside the tested filesystems. */
static void write_all(int fd, const char *buf, size_t n, const char *path)
{
	while (n > 0) {
		ssize_t w = write(fd, buf, n);

		if (w < 0)
			die("write %s: %s", path, strerror(errno));
		buf += w;
		n -= (size_t)w;
	}
}

/* ---- whole programs: find, git status, make ----
 *
 * On the native backends the real program, unmodified, runs as a child of
 * fbbench (in the fusebox run column inside the sandbox, like fbbench)
 * and is timed from fork to exit, its output read. They use what run.sh
 * puts in the tree: tree/ (the untar archive, extracted), repo/ (the
 * same in a git repository, committed) and proj/ (bench/mkproject.sh: a
 * small C project, and proj/expected, what its program prints). libfusebox
 * has no program to run: for find, fbbench walks the tree itself with the
 * calls GNU find makes; git status and make have no libfusebox column. */

#define PROG_OUT_KEEP 4096

struct prog_out {
	char buf[PROG_OUT_KEEP];	/* the start of stdout, NUL-terminated */
	size_t len;
	uint64_t lines;			/* newlines in all of stdout */
};

static char *const *prog_argv;	/* for die() messages: the last program */

static void die_prog(const char *why)
	__attribute__((noreturn));

static void die_prog(const char *why)
{
	char cmd[1024];
	size_t pos = 0;
	int i;

	cmd[0] = '\0';
	for (i = 0; prog_argv[i] && pos < sizeof(cmd) - 1; i++)
		pos += (size_t)snprintf(cmd + pos, sizeof(cmd) - pos, "%s%s",
					i ? " " : "", prog_argv[i]);
	die("%s: %s", cmd, why);
}

/* Runs argv (searched in PATH) with stdout into a pipe and stderr as
 * fbbench's; dies unless it exits 0. Returns the seconds from the fork
 * to its exit, all its output read. */
static double run_program(char *const argv[], struct prog_out *out)
{
	char chunk[65536], why[64];
	int pfd[2], status;
	double t0, t1;
	pid_t pid;

	prog_argv = argv;
	memset(out, 0, sizeof(*out));
	t0 = now();
	if (pipe2(pfd, O_CLOEXEC) < 0)
		die("pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		dup2(pfd[1], 1);
		execvp(argv[0], argv);
		fprintf(stderr, "fbbench: exec %s: %s\n", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	for (;;) {
		ssize_t n = read(pfd[0], chunk, sizeof(chunk));
		const char *p;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read from %s: %s", argv[0], strerror(errno));
		if (n == 0)
			break;
		for (p = chunk; (p = memchr(p, '\n', (size_t)(chunk + n - p)));
		     p++)
			out->lines++;
		if (out->len < sizeof(out->buf) - 1) {
			size_t k = sizeof(out->buf) - 1 - out->len;

			if (k > (size_t)n)
				k = (size_t)n;
			memcpy(out->buf + out->len, chunk, k);
			out->len += k;
		}
	}
	close(pfd[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	t1 = now();
	out->buf[out->len] = '\0';
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(why, sizeof(why), "wait status 0x%x", status);
		die_prog(why);
	}
	return t1 - t0;
}

/* One untimed round (checked like every round), then rounds while the
 * time budget lasts, at least one; round() returns the seconds it spent
 * in the program. rate: runs per second. */
static void repeat_rounds(struct backend *b, struct result *res,
			  double (*round)(struct backend *b))
{
	uint64_t runs = 0;
	double secs = 0, deadline;

	round(b);
	deadline = now() + bench_secs;
	do {
		secs += round(b);
		runs++;
	} while (now() < deadline);
	res->secs = secs;
	res->ops = runs;
	res->rate = (double)runs / secs;
	res->unit = "runs/s";
}

static uint64_t tree_files, tree_dirs;	/* find: what the archive holds */

/* What GNU find 4.9 (fts) does for `find DIR -type f`, from strace: for
 * each directory fstatat(parent, name, AT_SYMLINK_NOFOLLOW) twice,
 * openat(parent, name, O_DIRECTORY|O_NOFOLLOW...), fstat, getdents64
 * until 0; the type of each entry from d_type (fstatat only for
 * DT_UNKNOWN); a subdirectory is looked up through its parent's
 * descriptor. Counts the files (the lines find prints) and directories. */
static void find_walk(struct backend *b, int parent, const char *name,
		      const char *path, uint64_t *files, uint64_t *dirs)
{
	const int oflags = O_RDONLY | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW |
			   O_CLOEXEC | O_DIRECTORY;
	struct stat st;
	size_t len, pos = 0;
	char *names;
	int fd, r, i;

	for (i = 0; i < 2; i++) {
		r = b->fstatat(b, parent, name, &st, AT_SYMLINK_NOFOLLOW);
		if (r < 0)
			die("find: fstatat %s: %s", path, strerror(-r));
	}
	if (!S_ISDIR(st.st_mode))
		die("find: %s: mode 0%o, want a directory", path,
		    (unsigned)st.st_mode);
	fd = b->openat(b, parent, name, oflags);
	if (fd < 0)
		die("find: open %s: %s", path, strerror(-fd));
	r = b->fstat(b, fd, &st);
	if (r < 0)
		die("find: fstat %s: %s", path, strerror(-r));
	(*dirs)++;
	names = read_names_fd(b, fd, path, &len);
	while (pos < len) {
		unsigned char type = (unsigned char)names[pos++];
		const char *child = names + pos;
		char cpath[PATH_MAX];

		pos += strlen(child) + 1;
		snprintf(cpath, sizeof(cpath), "%s/%s", path, child);
		if (type == DT_UNKNOWN) {
			r = b->fstatat(b, fd, child, &st, AT_SYMLINK_NOFOLLOW);
			if (r < 0)
				die("find: fstatat %s: %s", cpath,
				    strerror(-r));
			type = S_ISDIR(st.st_mode) ? DT_DIR :
			       S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
		}
		if (type == DT_DIR)
			find_walk(b, fd, child, cpath, files, dirs);
		else if (type == DT_REG)
			(*files)++;
	}
	free(names);
	close_or_die(b, fd);
}

/* `find ROOT/tree -type f`, its lines counted (as `| wc -l`); on lib,
 * find_walk(). The count must be the archive's. */
static double find_round(struct backend *b)
{
	char path[PATH_MAX];
	uint64_t files = 0, dirs = 0;
	double t0, secs;

	path_of(b, path, sizeof(path), "tree");
	if (b->fs) {
		t0 = now();
		find_walk(b, AT_FDCWD, path, path, &files, &dirs);
		secs = now() - t0;
		/* tree/ itself is one more directory than the archive's. */
		if (dirs != tree_dirs + 1)
			die("find: %llu directories under %s, the archive has %llu",
			    (unsigned long long)dirs - 1, path,
			    (unsigned long long)tree_dirs);
	} else {
		char *argv[] = { "find", path, "-type", "f", NULL };
		struct prog_out out;

		secs = run_program(argv, &out);
		files = out.lines;
	}
	if (files != tree_files)
		die("find: %llu files under %s, the archive has %llu",
		    (unsigned long long)files, path,
		    (unsigned long long)tree_files);
	return secs;
}

/* find over the extracted tree (-a: the archive, for the counts). */
static void run_find(struct backend *b, struct result *res)
{
	struct tar t;
	size_t i;

	if (!tar_path)
		die("find needs the archive it checks against: -a FILE");
	tar_load(&t);
	for (i = 0; i < t.n; i++) {
		if (t.ents[i].dir)
			tree_dirs++;
		else
			tree_files++;
	}
	free(t.buf);
	free(t.ents);
	repeat_rounds(b, res, find_round);
}

static void need_native(struct backend *b, const char *what)
{
	if (b->fs)
		die("%s is a whole program: there is no libfusebox column",
		    what);
}

static double git_status_round(struct backend *b)
{
	char repo[PATH_MAX];
	char *argv[] = { "git", "-C", repo, "status", NULL };
	struct prog_out out;
	double secs;

	path_of(b, repo, sizeof(repo), "repo");
	secs = run_program(argv, &out);
	if (!strstr(out.buf, "nothing to commit, working tree clean"))
		die("git -C %s status does not say the tree is clean: %.300s",
		    repo, out.buf);
	return secs;
}

/* `git status` in repo/, a repository of the extracted tree with
 * everything committed: what it prints must say the tree is clean. */
static void run_git_status(struct backend *b, struct result *res)
{
	need_native(b, "git status");
	setenv("LC_ALL", "C", 1);
	repeat_rounds(b, res, git_status_round);
}

static char make_want[PROG_OUT_KEEP];	/* proj/expected */

/* Reads a small file through the backend, NUL-terminated. */
static void read_small(struct backend *b, const char *rel, char *buf,
		       size_t size)
{
	int fd = open_or_die(b, rel, O_RDONLY);
	size_t got = 0;

	for (;;) {
		ssize_t n = b->read(b, fd, buf + got, size - 1 - got);

		if (n < 0)
			die("read %s: %s", rel, strerror((int)-n));
		if (n == 0 || (got += (size_t)n) == size - 1)
			break;
	}
	buf[got] = '\0';
	close_or_die(b, fd);
}

/* The program make built must run and print proj/expected. A program on
 * a fusebox mount cannot be executed (docs/sandbox.md), so its bytes are
 * read through the backend into a file in /tmp, which is run. */
static void check_built(struct backend *b, const char *bin)
{
	char tmp[] = "/tmp/fbbench-prog.XXXXXX", buf[65536];
	char *argv[] = { tmp, NULL };
	struct prog_out out;
	int in = b->open(b, bin, O_RDONLY, 0);
	int fd = mkostemp(tmp, O_CLOEXEC);

	if (in < 0)
		die("make: open %s: %s", bin, strerror(-in));
	if (fd < 0)
		die("mkstemp: %s", strerror(errno));
	for (;;) {
		ssize_t n = b->read(b, in, buf, sizeof(buf));

		if (n < 0)
			die("make: read %s: %s", bin, strerror((int)-n));
		if (n == 0)
			break;
		write_all(fd, buf, (size_t)n, tmp);
	}
	close_or_die(b, in);
	if (fchmod(fd, 0700) < 0 || close(fd) < 0)
		die("%s: %s", tmp, strerror(errno));
	run_program(argv, &out);
	unlink(tmp);
	if (strcmp(out.buf, make_want))
		die("make: %s prints \"%.200s\", want \"%.200s\"", bin, out.buf,
		    make_want);
}

/* A clean build of proj/ with `make -j2`, its objects and program in a
 * fresh write.PID/out (removed afterwards, untimed). */
static double make_round(struct backend *b)
{
	char proj[PATH_MAX], outdir[PATH_MAX], outarg[PATH_MAX + 8];
	char bin[PATH_MAX + 8];
	char *argv[] = { "make", "-s", "-j2", "-C", proj, outarg, NULL };
	struct prog_out out;
	uint64_t removed;
	double secs;

	path_of(b, proj, sizeof(proj), "proj");
	spath(b, outdir, "out");
	snprintf(outarg, sizeof(outarg), "OUT=%s", outdir);
	snprintf(bin, sizeof(bin), "%s/prog", outdir);
	secs = run_program(argv, &out);
	check_built(b, bin);
	removed = rm_tree(b, outdir);
	if (removed < 3)
		die("make: %s held %llu entries, want objects and prog",
		    outdir, (unsigned long long)removed - 1);
	return secs;
}

static void run_make(struct backend *b, struct result *res)
{
	need_native(b, "make");
	/* make bench's own make must not hand its jobserver down. */
	unsetenv("MAKEFLAGS");
	unsetenv("MFLAGS");
	unsetenv("MAKELEVEL");
	unsetenv("GNUMAKEFLAGS");
	read_small(b, "proj/expected", make_want, sizeof(make_want));
	make_scratch(b);
	repeat_rounds(b, res, make_round);
	remove_scratch(b);
}

static const struct workload {
	const char *name;
	void (*run)(struct backend *b, struct result *res);
} workloads[] = {
	{ "stat-uncached", run_stat_uncached },
	{ "stat-cached", run_stat_cached },
	{ "readdir", run_readdir },
	{ "readdir-stat", run_readdir_stat },
	{ "seqread", run_seqread },
	{ "randread", run_randread },
	{ "create-delete", run_create_delete },
	{ "seqwrite", run_seqwrite },
	{ "randwrite", run_randwrite },
	{ "untar", run_untar },
	{ "reread", run_reread },
	{ "find", run_find },
	{ "git-status", run_git_status },
	{ "make", run_make },
};

/* ---- prepare: the tree every workload reads ---- */

static void make_file(const char *path, const char *buf, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	write_all(fd, buf, n, path);
	if (close(fd) < 0)
		die("close %s: %s", path, strerror(errno));
}

static void make_dir(const char *path)
{
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("mkdir %s: %s", path, strerror(errno));
}

static int prepare(const char *dir, long big_mib)
{
	static char zeros[NSTAT_FILES];
	char path[PATH_MAX];
	uint64_t *block;
	long i;
	int fd;

	snprintf(path, sizeof(path), "%s/stat", dir);
	make_dir(path);
	for (i = 0; i < NSTAT_FILES; i++) {
		snprintf(path, sizeof(path), "%s/stat/f%04ld", dir, i);
		make_file(path, zeros, (size_t)i);
	}
	snprintf(path, sizeof(path), "%s/dir10k", dir);
	make_dir(path);
	for (i = 0; i < NDIR_ENTRIES; i++) {
		snprintf(path, sizeof(path), "%s/dir10k/e%05ld", dir, i);
		make_file(path, zeros, 0);
	}
	block = malloc(SEQ_BLOCK);
	if (!block)
		die("out of memory");
	snprintf(path, sizeof(path), "%s/big", dir);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0)
		die("create %s: %s", path, strerror(errno));
	for (i = 0; i < big_mib; i++) {
		uint64_t base = (uint64_t)i * SEQ_BLOCK;
		size_t w;

		for (w = 0; w < SEQ_BLOCK / 8; w++)
			block[w] = base + w * 8;
		write_all(fd, (const char *)block, SEQ_BLOCK, path);
	}
	if (close(fd) < 0)
		die("close %s: %s", path, strerror(errno));
	free(block);
	return 0;
}

/* ---- main ---- */

static void usage(void)
{
	fprintf(stderr,
		"usage: fbbench prepare DIR [BIG_MIB]\n"
		"       fbbench [-t SECS] [-w] [-b MIB] [-a TAR] WORKLOAD native DIR\n"
		"       fbbench [-t SECS] [-w] [-b MIB] [-a TAR] [-v] [-d] [-p N] WORKLOAD lib -- SERVER ARGS...\n"
		"  -t SECS  time each workload runs (default 2)\n"
		"  -w       seqread: one untimed pass first (cached re-read)\n"
		"  -b MIB   seqwrite: MiB to write (default 1024)\n"
		"  -a TAR   untar: the ustar archive to extract; find: the archive\n"
		"           extracted in tree/, for the counts\n"
		"  -v       lib: print what INIT settled on to stderr\n"
		"  -d       lib: fusebox logs every request and reply to stderr\n"
		"  -p N     lib: offer max_pages N in INIT (default: fusebox's)\n"
		"workloads: stat-uncached stat-cached readdir readdir-stat seqread\n"
		"           randread create-delete seqwrite randwrite untar reread\n"
		"           find git-status make (the last two: native only)\n");
	exit(2);
}

static void lib_attach(struct backend *b, char **argv, bool verbose)
{
	struct fb_options opts;
	struct fb_conn_info ci;
	int r;

	fb_options_init(&opts);
	opts.debug = fb_debug;
	opts.max_pages = max_pages;
	r = fb_spawn(argv, &opts, &b->fs);
	if (r < 0)
		die("fb_spawn %s: %s", argv[0], strerror(-r));
	conn = b->fs;
	r = fb_wait_init(b->fs);
	if (r < 0) {
		const char *why = fb_conn_error(b->fs);

		conn = NULL;
		die("INIT with %s: %s%s%s", argv[0], strerror(-r),
		    why ? ": " : "", why ? why : "");
	}
	if (verbose && fb_conn_info(b->fs, &ci) == 0)
		fprintf(stderr,
			"fbbench: INIT %u.%u max_read %u max_write %u max_readahead %u max_pages %u flags 0x%llx\n",
			ci.proto_major, ci.proto_minor, ci.max_read,
			ci.max_write, ci.max_readahead, ci.max_pages,
			(unsigned long long)ci.flags);
}

int main(int argc, char **argv)
{
	const struct workload *wl = NULL;
	struct backend b = { 0 };
	struct result res = { 0 };
	bool verbose = false;
	size_t i;
	int c, status;

	if (argc >= 3 && strcmp(argv[1], "prepare") == 0) {
		long big_mib = argc > 3 ? atol(argv[3]) : 1024;

		if (big_mib < 1)
			usage();
		return prepare(argv[2], big_mib);
	}

	while ((c = getopt(argc, argv, "+t:wb:a:vdp:")) != -1) {
		switch (c) {
		case 'b':
			seqwrite_mib = atol(optarg);
			if (seqwrite_mib < 1)
				usage();
			break;
		case 'a':
			tar_path = optarg;
			break;
		case 't':
			bench_secs = atof(optarg);
			if (bench_secs <= 0)
				usage();
			break;
		case 'w':
			seq_warm = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'd':
			fb_debug = true;
			break;
		case 'p':
			max_pages = (uint32_t)atol(optarg);
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	for (i = 0; i < sizeof(workloads) / sizeof(workloads[0]); i++)
		if (strcmp(argv[optind], workloads[i].name) == 0)
			wl = &workloads[i];
	if (!wl)
		usage();

	b.name = argv[optind + 1];
	if (strcmp(b.name, "native") == 0) {
		if (argc - optind != 3)
			usage();
		snprintf(b.root, sizeof(b.root), "%s", argv[optind + 2]);
		b.stat = nat_stat;
		b.lstat = nat_lstat;
		b.open = nat_open;
		b.openat = nat_openat;
		b.fstatat = nat_fstatat;
		b.close = nat_close;
		b.fstat = nat_fstat;
		b.read = nat_read;
		b.pread = nat_pread;
		b.getdents = nat_getdents;
		b.write = nat_write;
		b.pwrite = nat_pwrite;
		b.fsync = nat_fsync;
		b.mkdir = nat_mkdir;
		b.unlink = nat_unlink;
		b.rmdir = nat_rmdir;
		b.statfs = nat_statfs;
	} else if (strcmp(b.name, "lib") == 0) {
		char **sargv = argv + optind + 2;

		if (*sargv && strcmp(*sargv, "--") == 0)
			sargv++;
		if (!*sargv)
			usage();
		b.root[0] = '\0';
		b.stat = lib_stat;
		b.lstat = lib_lstat;
		b.open = lib_open;
		b.openat = lib_openat;
		b.fstatat = lib_fstatat;
		b.close = lib_close;
		b.fstat = lib_fstat;
		b.read = lib_read;
		b.pread = lib_pread;
		b.getdents = lib_getdents;
		b.write = lib_write;
		b.pwrite = lib_pwrite;
		b.fsync = lib_fsync;
		b.mkdir = lib_mkdir;
		b.unlink = lib_unlink;
		b.rmdir = lib_rmdir;
		b.statfs = lib_statfs;
		lib_attach(&b, sargv, verbose);
	} else {
		usage();
	}

	wl->run(&b, &res);

	printf("fbbench backend=%s workload=%s secs=%.3f ops=%llu rate=%.4f unit=%s",
	       b.name, wl->name, res.secs, (unsigned long long)res.ops,
	       res.rate, res.unit);
	if (res.unit2)
		printf(" rate2=%.4f unit2=%s", res.rate2, res.unit2);
	printf("\n");
	fflush(stdout);

	if (b.fs) {
		status = fb_unmount(b.fs);
		if (status < 0)
			die("fb_unmount: %s", strerror(-status));
		if (status != 0)
			fprintf(stderr, "fbbench: server exit status 0x%x\n",
				status);
	}
	return 0;
}
