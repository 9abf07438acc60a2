/*
 * fbmmap - mmap coherence scenarios, the same steps through plain system
 * calls (on a kernel FUSE mount, or under `fusebox run`) or through
 * libfusebox (fb_mmap & co. on a server fb_spawn starts), printing one
 * line per observation, so that the runs can be compared line for line
 * (tests/blackbox/test_mmap.py).
 *
 *   fbmmap native DIR
 *   fbmmap lib -- SERVER [ARGS...]     ({} in ARGS: the mountpoint)
 *
 * Every scenario works in its own file of DIR (the mount's root for lib)
 * and leaves it there, for the test to compare the backing files.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fusebox.h"

static struct fb_fs *fs;	/* lib mode */
static char dir[4096];		/* native mode: DIR */

/* The calls, as plain syscalls or libfusebox's: negative errno. */
static int x_open(const char *name, int flags)
{
	char p[8192];

	if (fs)
		return fb_openat(fs, AT_FDCWD, name, flags, 0644);
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	int fd = open(p, flags, 0644);
	return fd < 0 ? -errno : fd;
}

static int x_close(int fd)
{
	if (fs)
		return fb_close(fs, fd);
	return close(fd) < 0 ? -errno : 0;
}

static long x_pread(int fd, void *b, size_t n, off_t o)
{
	if (fs)
		return fb_pread(fs, fd, b, n, o);
	ssize_t r = pread(fd, b, n, o);
	return r < 0 ? -errno : r;
}

static long x_pwrite(int fd, const void *b, size_t n, off_t o)
{
	if (fs)
		return fb_pwrite(fs, fd, b, n, o);
	ssize_t r = pwrite(fd, b, n, o);
	return r < 0 ? -errno : r;
}

static int x_ftruncate(int fd, off_t len)
{
	if (fs)
		return fb_ftruncate(fs, fd, len);
	return ftruncate(fd, len) < 0 ? -errno : 0;
}

static int x_fsync(int fd)
{
	if (fs)
		return fb_fsync(fs, fd);
	return fsync(fd) < 0 ? -errno : 0;
}

static char *x_mmap(size_t len, int prot, int flags, int fd, int *err)
{
	void *p;

	if (fs) {
		*err = fb_mmap(fs, fd, NULL, len, prot, flags, 0, &p);
		return *err ? NULL : p;
	}
	p = mmap(NULL, len, prot, flags, fd, 0);
	*err = p == MAP_FAILED ? -errno : 0;
	return p == MAP_FAILED ? NULL : p;
}

static int x_munmap(void *p, size_t len)
{
	if (fs)
		return fb_munmap(fs, p, len);
	return munmap(p, len) < 0 ? -errno : 0;
}

static int x_msync(void *p, size_t len, int flags)
{
	if (fs)
		return fb_msync(fs, p, len, flags);
	return msync(p, len, flags) < 0 ? -errno : 0;
}

static const char *err_name(int e)
{
	switch (-e) {
	case 0: return "0";
	case EACCES: return "EACCES";
	case EBADF: return "EBADF";
	case EINVAL: return "EINVAL";
	case ENODEV: return "ENODEV";
	case ENOMEM: return "ENOMEM";
	default: return strerror(-e);
	}
}

#define SAY(...) (printf(__VA_ARGS__), putchar('\n'), fflush(stdout))
#define FAIL(what, e) \
	do { SAY("%s: %s", what, err_name(e)); return; } while (0)

/* The file's first n bytes through a new open, as text. */
static void show(const char *label, const char *name, size_t n)
{
	char buf[256] = { 0 };
	int fd = x_open(name, O_RDONLY);
	long got;

	if (fd < 0)
		FAIL(label, fd);
	got = x_pread(fd, buf, n < sizeof(buf) ? n : sizeof(buf) - 1, 0);
	x_close(fd);
	if (got < 0)
		FAIL(label, (int)got);
	for (long i = 0; i < got; i++)
		if (!buf[i])
			buf[i] = '.';
	SAY("%s: [%.*s]", label, (int)got, buf);
}

static int make_file(const char *name, const char *text)
{
	int fd = x_open(name, O_CREAT | O_TRUNC | O_RDWR);

	if (fd < 0)
		return fd;
	long n = x_pwrite(fd, text, strlen(text), 0);
	x_close(fd);
	return n < 0 ? (int)n : 0;
}

static void one_open(void)
{
	char buf[32] = { 0 };
	char *m;
	int fd, err;

	SAY("== one open: stores, pread, pwrite");
	if ((err = make_file("one", "hello world, hello mmap")))
		FAIL("create", err);
	fd = x_open("one", O_RDWR);
	m = x_mmap(23, PROT_READ | PROT_WRITE, MAP_SHARED, fd, &err);
	if (!m)
		FAIL("mmap", err);
	SAY("mapped: [%.11s]", m);
	memcpy(m, "HELLO", 5);
	x_pread(fd, buf, 11, 0);
	SAY("pread after store: [%s]", buf);
	show("another open's read", "one", 23);
	x_pwrite(fd, "W", 1, 6);
	SAY("mapping after pwrite: [%.11s]", m);
	memcpy(m + 13, "HELLO", 5);
	SAY("msync: %s", err_name(x_msync(m, 23, MS_SYNC)));
	show("after msync", "one", 23);
	memcpy(m + 19, "MMAP", 4);
	SAY("fsync: %s", err_name(x_fsync(fd)));
	show("after fsync", "one", 23);
	memcpy(m + 7, "ORLD", 4);
	SAY("munmap: %s", err_name(x_munmap(m, 23)));
	SAY("close: %s", err_name(x_close(fd)));
	show("after munmap and close", "one", 23);
}

static void private_map(void)
{
	char *m;
	int fd, err;

	SAY("== MAP_PRIVATE");
	if ((err = make_file("priv", "private data")))
		FAIL("create", err);
	fd = x_open("priv", O_RDONLY);
	m = x_mmap(12, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, &err);
	if (!m)
		FAIL("mmap", err);
	memcpy(m, "PRIVATE", 7);
	SAY("private mapping: [%.12s]", m);
	x_munmap(m, 12);
	x_close(fd);
	show("file after private stores", "priv", 12);
}

static void refusals(void)
{
	int fd, err;
	char *m;

	SAY("== refusals");
	if ((err = make_file("ref", "refusals")))
		FAIL("create", err);
	fd = x_open("ref", O_RDONLY);
	m = x_mmap(8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, &err);
	SAY("shared writable of O_RDONLY: %s", err_name(err));
	if (m)
		x_munmap(m, 8);
	m = x_mmap(8, PROT_READ, MAP_SHARED, fd, &err);
	SAY("shared read-only of O_RDONLY: %s", err_name(err));
	if (m)
		x_munmap(m, 8);
	x_close(fd);
	fd = x_open("ref", O_WRONLY);
	m = x_mmap(8, PROT_READ, MAP_SHARED, fd, &err);
	SAY("any of O_WRONLY: %s", err_name(err));
	if (m)
		x_munmap(m, 8);
	x_close(fd);
	fd = x_open("ref", O_RDWR | O_APPEND);
	m = x_mmap(8, PROT_READ | PROT_WRITE, MAP_SHARED, fd, &err);
	SAY("shared writable of O_APPEND: %s", err_name(err));
	if (m)
		x_munmap(m, 8);
	x_close(fd);
}

static void two_opens(void)
{
	char *a, *b;
	int fa, fb, err;

	SAY("== two opens, two shared mappings");
	if ((err = make_file("two", "0123456789abcdef")))
		FAIL("create", err);
	fa = x_open("two", O_RDWR);
	fb = x_open("two", O_RDWR);
	a = x_mmap(16, PROT_READ | PROT_WRITE, MAP_SHARED, fa, &err);
	if (!a)
		FAIL("mmap a", err);
	b = x_mmap(16, PROT_READ | PROT_WRITE, MAP_SHARED, fb, &err);
	if (!b)
		FAIL("mmap b", err);
	memcpy(a, "AAAA", 4);
	SAY("msync a: %s", err_name(x_msync(a, 16, MS_SYNC)));
	SAY("b after a's msync: [%.16s]", b);
	memcpy(b + 8, "BBBB", 4);
	SAY("msync b: %s", err_name(x_msync(b, 16, MS_SYNC)));
	SAY("a after b's msync: [%.16s]", a);
	x_pwrite(fa, "w", 1, 15);
	SAY("a, b after a pwrite: [%.16s] [%.16s]", a, b);
	x_munmap(a, 16);
	x_munmap(b, 16);
	x_close(fa);
	x_close(fb);
	show("file", "two", 16);
}

static void sizes(void)
{
	char *m;
	int fd, err;

	SAY("== truncate and extend under a mapping");
	if ((err = make_file("size", "abcdefghij")))
		FAIL("create", err);
	fd = x_open("size", O_RDWR);
	m = x_mmap(4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, &err);
	if (!m)
		FAIL("mmap", err);
	SAY("ftruncate 4: %s", err_name(x_ftruncate(fd, 4)));
	SAY("mapping: [%.4s] then %s", m, m[5] ? "bytes" : "zeros");
	SAY("ftruncate 12: %s", err_name(x_ftruncate(fd, 12)));
	memcpy(m + 8, "WXYZ", 4);
	x_munmap(m, 4096);
	x_close(fd);
	show("file", "size", 32);
}

/* A child stores into a shared mapping and is killed before any msync,
 * munmap or close: every store must reach the file. */
static void killed(void)
{
	pid_t pid;
	int st, err;

	SAY("== stores of a killed process");
	if (fs) {
		SAY("(native only)"); /* libfusebox lives in the process */
		return;
	}
	if ((err = make_file("killed", "................................")))
		FAIL("create", err);
	pid = fork();
	if (pid == 0) {
		int fd = x_open("killed", O_RDWR);
		char *m = x_mmap(32, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
				 &err);

		if (m)
			memcpy(m, "stored before SIGKILL", 21);
		kill(getpid(), SIGKILL);
		_exit(1);
	}
	waitpid(pid, &st, 0);
	SAY("child: %s", WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "exit");
	show("file", "killed", 32);
}

int main(int argc, char **argv)
{
	struct fb_options opts;
	int r;

	if (argc == 3 && !strcmp(argv[1], "native")) {
		snprintf(dir, sizeof(dir), "%s", argv[2]);
	} else if (argc >= 4 && !strcmp(argv[1], "lib") &&
		   !strcmp(argv[2], "--")) {
		fb_options_init(&opts);
		r = fb_spawn(argv + 3, &opts, &fs);
		if (!r)
			r = fb_wait_init(fs);
		if (r) {
			fprintf(stderr, "fbmmap: starting %s: %s\n", argv[3],
				strerror(-r));
			return 1;
		}
	} else {
		fprintf(stderr, "usage: fbmmap native DIR\n"
				"       fbmmap lib -- SERVER [ARGS...]\n");
		return 2;
	}
	one_open();
	private_map();
	refusals();
	two_opens();
	sizes();
	killed();
	if (fs && (r = fb_unmount(fs)) < 0)
		fprintf(stderr, "fbmmap: fb_unmount: %s\n", strerror(-r));
	return 0;
}
