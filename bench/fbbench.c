/*
 * fbbench.c - runs one read-only workload through one backend and prints
 * one machine-readable result line. bench/run.sh drives it.
 *
 *   fbbench prepare DIR [BIG_MIB]
 *   fbbench [-t SECS] [-w] WORKLOAD native DIR
 *   fbbench [-t SECS] [-w] [-v] [-d] [-p N] WORKLOAD lib -- SERVER ARGS...
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
 * Every answer is checked (sizes, entry counts, file contents at the
 * block ends) so that a wrong result stops the run instead of turning
 * into a fast number. Timing uses CLOCK_MONOTONIC and never asserts
 * anything: this is a benchmark, not a test.
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
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "fusebox.h"

#define NSTAT_FILES 1000
#define NDIR_ENTRIES 10000
#define CACHED_STAT_FILE 7
#define SEQ_BLOCK (1024 * 1024)
#define RAND_BLOCK 4096
#define DENTS_BUF (32 * 1024)

/* One backend: the same six calls, each returning a negative errno on
 * failure, whichever side answers them. */
struct backend {
	const char *name;
	struct fb_fs *fs;	/* lib only */
	char root[PATH_MAX];	/* path prefix: DIR for native, "" for lib */
	int (*stat)(struct backend *b, const char *path, struct stat *st);
	int (*open)(struct backend *b, const char *path, int flags);
	int (*close)(struct backend *b, int fd);
	int (*fstat)(struct backend *b, int fd, struct stat *st);
	ssize_t (*read)(struct backend *b, int fd, void *buf, size_t n);
	ssize_t (*pread)(struct backend *b, int fd, void *buf, size_t n,
			 off_t off);
	ssize_t (*getdents)(struct backend *b, int fd, void *buf, size_t n);
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

static int nat_open(struct backend *b, const char *path, int flags)
{
	int fd = open(path, flags);

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

/* ---- lib backend: libfusebox ---- */

static int lib_stat(struct backend *b, const char *path, struct stat *st)
{
	return fb_stat(b->fs, path, st);
}

static int lib_open(struct backend *b, const char *path, int flags)
{
	return fb_open(b->fs, path, flags);
}

static int lib_close(struct backend *b, int fd)
{
	return fb_close(b->fs, fd);
}

static int lib_fstat(struct backend *b, int fd, struct stat *st)
{
	return fb_fstat(b->fs, fd, st);
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
	fd = b->open(b, path, flags);
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

/* One full listing of dir10k/: open, getdents64 until 0, close. Returns
 * the number of entries other than "." and "..", or stops early (and
 * says so in *partial) when the deadline passes. */
static uint64_t list_dir(struct backend *b, char *buf, double deadline,
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

			if (d->d_reclen == 0 || pos + d->d_reclen > n)
				die("getdents64 on dir10k: bad d_reclen %u at %zd of %zd",
				    d->d_reclen, pos, n);
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
	n = list_dir(b, buf, 0, &partial);
	if (n != NDIR_ENTRIES)
		die("dir10k lists %llu names, want %d",
		    (unsigned long long)n, NDIR_ENTRIES);
	t0 = now();
	deadline = t0 + bench_secs;
	do {
		n = list_dir(b, buf, deadline, &partial);
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

static off_t big_size(struct backend *b, int fd)
{
	struct stat st;
	int r = b->fstat(b, fd, &st);

	if (r < 0)
		die("fstat big: %s", strerror(-r));
	if (st.st_size < RAND_BLOCK || st.st_size % 8)
		die("fstat big: size %lld is not a prepared file",
		    (long long)st.st_size);
	return st.st_size;
}

/* One pass over big from start to end in 1 MiB blocks with read(2).
 * Returns the bytes read; *cut says the deadline ended the pass early. */
static uint64_t seq_pass(struct backend *b, char *buf, double deadline,
			 bool *cut)
{
	int fd = open_or_die(b, "big", O_RDONLY);
	off_t size = big_size(b, fd);
	uint64_t pos = 0;

	*cut = false;
	for (;;) {
		ssize_t n = b->read(b, fd, buf, SEQ_BLOCK);

		if (n < 0)
			die("read big at %llu: %s", (unsigned long long)pos,
			    strerror(-n));
		if (n == 0)
			break;
		check_pattern(buf, (size_t)n, pos, "read big");
		pos += (uint64_t)n;
		if (deadline > 0 && now() >= deadline) {
			*cut = true;
			break;
		}
	}
	if (!*cut && pos != (uint64_t)size)
		die("read big: got %llu bytes before EOF, size is %lld",
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
		seq_pass(b, buf, 0, &cut);
	t0 = now();
	deadline = t0 + bench_secs;
	do
		bytes += seq_pass(b, buf, deadline, &cut);
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
	uint64_t blocks = (uint64_t)big_size(b, fd) / RAND_BLOCK;
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

static const struct workload {
	const char *name;
	void (*run)(struct backend *b, struct result *res);
} workloads[] = {
	{ "stat-uncached", run_stat_uncached },
	{ "stat-cached", run_stat_cached },
	{ "readdir", run_readdir },
	{ "seqread", run_seqread },
	{ "randread", run_randread },
};

/* ---- prepare: the tree every workload reads ---- */

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
		"       fbbench [-t SECS] [-w] WORKLOAD native DIR\n"
		"       fbbench [-t SECS] [-w] [-v] [-d] [-p N] WORKLOAD lib -- SERVER ARGS...\n"
		"  -t SECS  time each workload runs (default 2)\n"
		"  -w       seqread: one untimed pass first (cached re-read)\n"
		"  -v       lib: print what INIT settled on to stderr\n"
		"  -d       lib: fusebox logs every request and reply to stderr\n"
		"  -p N     lib: offer max_pages N in INIT (default: fusebox's)\n"
		"workloads: stat-uncached stat-cached readdir seqread randread\n");
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

	while ((c = getopt(argc, argv, "+t:wvdp:")) != -1) {
		switch (c) {
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
		b.open = nat_open;
		b.close = nat_close;
		b.fstat = nat_fstat;
		b.read = nat_read;
		b.pread = nat_pread;
		b.getdents = nat_getdents;
	} else if (strcmp(b.name, "lib") == 0) {
		char **sargv = argv + optind + 2;

		if (*sargv && strcmp(*sargv, "--") == 0)
			sargv++;
		if (!*sargv)
			usage();
		b.root[0] = '\0';
		b.stat = lib_stat;
		b.open = lib_open;
		b.close = lib_close;
		b.fstat = lib_fstat;
		b.read = lib_read;
		b.pread = lib_pread;
		b.getdents = lib_getdents;
		lib_attach(&b, sargv, verbose);
	} else {
		usage();
	}

	wl->run(&b, &res);

	printf("fbbench backend=%s workload=%s secs=%.3f ops=%llu rate=%.1f unit=%s",
	       b.name, wl->name, res.secs, (unsigned long long)res.ops,
	       res.rate, res.unit);
	if (res.unit2)
		printf(" rate2=%.2f unit2=%s", res.rate2, res.unit2);
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
