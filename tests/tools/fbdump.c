/*
 * fbdump.c - walk a filesystem and print one canonical line per fact, either
 * through libfusebox ("lib") or through ordinary system calls ("native"), so
 * that a libfusebox walk of a server can be diffed against a walk of the same
 * server mounted by the kernel's FUSE client.
 *
 *   fbdump [OPTIONS] lib -- SERVER [ARGS...]   ("{}" in ARGS: mountpoint)
 *   fbdump [OPTIONS] native DIR
 *
 *   --root=SUB    walk SUB inside the filesystem instead of its root
 *   --pause       after the walk print "#pause" and walk again from each
 *                 root read from stdin (see walk_all)
 *   --max-read=N  lib: fb_options.max_read
 *   --debug       lib: fb_options.debug (every request on stderr)
 *
 * Output lines are "PATH<TAB>KIND<TAB>FIELDS": PATH relative to the walk root
 * ("." for the root), entries depth first and sorted by name bytewise, errors
 * as errno names. Lines starting with '#' are about the run (connection
 * parameters, pauses, fb_unmount's result), not the filesystem; the tests
 * drop them before diffing. atime is never printed: every walk reads the
 * files, so atime moves under relatime, and two walks do not read in
 * lockstep. Neither are st_dev, f_fsid and f_flags: they name the mount,
 * not the filesystem.
 *
 * The native backend resolves every path with openat2(RESOLVE_IN_ROOT) from
 * DIR, so ".." stops at DIR and absolute symlinks resolve inside DIR: the
 * same rules libfusebox applies inside a FUSE filesystem. Path operations
 * are then done on the O_PATH descriptor (fstat, faccessat2 AT_EMPTY_PATH,
 * xattrs through /proc/self/fd/N, which lands on the object itself and does
 * not follow it again).
 *
 * Opens that could change the filesystem (O_WRONLY, O_RDWR, O_TRUNC,
 * O_CREAT) are probes that expect EROFS from a read-only client: the
 * oracle is a kernel mount made with -o ro, and a native walk of anything
 * not mounted read-only skips them.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fusebox.h"

/* Every operation returns a value >= 0 or a negative errno. */
struct fsops {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	ssize_t (*read)(int fd, void *buf, size_t n);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	off_t (*lseek)(int fd, off_t off, int whence);
	ssize_t (*getdents)(int fd, void *buf, size_t n);
	int (*fstat)(int fd, struct stat *st);
	int (*stat)(const char *path, struct stat *st, int flags);
	ssize_t (*readlink)(const char *path, char *buf, size_t n);
	ssize_t (*getxattr)(const char *path, const char *name, void *v,
			    size_t n, int nofollow);
	ssize_t (*listxattr)(const char *path, char *list, size_t n,
			     int nofollow);
	ssize_t (*fgetxattr)(int fd, const char *name, void *v, size_t n);
	ssize_t (*flistxattr)(int fd, char *list, size_t n);
	int (*access)(const char *path, int mode, int flags);
	int (*statfs)(const char *path, struct statfs *s);
	int (*fstatfs)(int fd, struct statfs *s);
};

static const struct fsops *ops;
static char walk_root[PATH_MAX]; /* filesystem path of the walk root */
static FILE *out;
/* Opens that could change the filesystem are tried only where they cannot
 * (libfusebox is read-only; a native walk only of a read-only mount). */
static int write_probes = 1;

/* ---- output ---------------------------------------------------------- */

/* The name of errno -r, "OK" for r >= 0. Unnamed values are formatted
 * into a ring of buffers so one printf may show several. */
static const char *ename(long r)
{
	static char ring[8][32];
	static unsigned next;
	const char *s;
	char *buf;

	if (r >= 0)
		return "OK";
	s = r >= -4095 ? strerrorname_np((int)-r) : NULL;
	if (s)
		return s;
	buf = ring[next++ % 8];
	snprintf(buf, sizeof(ring[0]), "E%ld", -r);
	return buf;
}

/* Bytes as text: printable ASCII and UTF-8 bytes as they are, control
 * bytes, DEL, backslash and '=' / ',' (field separators) as \xNN. */
static void put_escaped(FILE *f, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		unsigned char c = p[i];

		if (c < 0x20 || c == 0x7f || c == '\\' || c == '=' || c == ',')
			fprintf(f, "\\x%02x", c);
		else
			fputc(c, f);
	}
}

static void put_rel(const char *rel)
{
	put_escaped(out, *rel ? rel : ".", strlen(*rel ? rel : "."));
}

static void line(const char *rel, const char *kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void line(const char *rel, const char *kind, const char *fmt, ...)
{
	va_list ap;

	put_rel(rel);
	fprintf(out, "\t%s\t", kind);
	va_start(ap, fmt);
	vfprintf(out, fmt, ap);
	va_end(ap);
	fputc('\n', out);
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

#define FNV_INIT 0xcbf29ce484222325ULL

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFREG: return "reg";
	case S_IFDIR: return "dir";
	case S_IFLNK: return "lnk";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "sock";
	case S_IFCHR: return "chr";
	case S_IFBLK: return "blk";
	}
	return "unknown";
}

static const char *dtype_name(unsigned t)
{
	static char buf[16];

	switch (t) {
	case DT_UNKNOWN: return "unknown";
	case DT_REG: return "reg";
	case DT_DIR: return "dir";
	case DT_LNK: return "lnk";
	case DT_FIFO: return "fifo";
	case DT_SOCK: return "sock";
	case DT_CHR: return "chr";
	case DT_BLK: return "blk";
	}
	snprintf(buf, sizeof(buf), "%u", t);
	return buf;
}

static void print_stat(const char *rel, const char *kind, const struct stat *st)
{
	line(rel, kind, "type=%s mode=%04o nlink=%lu uid=%u gid=%u size=%lld "
	     "blocks=%lld blksize=%ld rdev=%u:%u ino=%llu",
	     type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
	     (unsigned long)st->st_nlink, st->st_uid, st->st_gid,
	     (long long)st->st_size, (long long)st->st_blocks,
	     (long)st->st_blksize, major(st->st_rdev), minor(st->st_rdev),
	     (unsigned long long)st->st_ino);
	line(rel, "times", "mtime=%lld.%09ld ctime=%lld.%09ld",
	     (long long)st->st_mtim.tv_sec, st->st_mtim.tv_nsec,
	     (long long)st->st_ctim.tv_sec, st->st_ctim.tv_nsec);
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_mode == b->st_mode && a->st_ino == b->st_ino &&
	       a->st_nlink == b->st_nlink && a->st_uid == b->st_uid &&
	       a->st_gid == b->st_gid && a->st_size == b->st_size &&
	       a->st_blocks == b->st_blocks && a->st_rdev == b->st_rdev &&
	       a->st_blksize == b->st_blksize &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* ---- native backend ---------------------------------------------------- */

static int native_rootfd = -1;

static int native_resolve(const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = (uint64_t)(flags | O_CLOEXEC),
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT,
	};
	long fd = syscall(SYS_openat2, native_rootfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static int native_open(const char *path, int flags, mode_t mode)
{
	return native_resolve(path, flags, mode);
}

static int native_close(int fd)
{
	return close(fd) < 0 ? -errno : 0;
}

static ssize_t native_read(int fd, void *buf, size_t n)
{
	ssize_t r = read(fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t native_pread(int fd, void *buf, size_t n, off_t off)
{
	ssize_t r = pread(fd, buf, n, off);

	return r < 0 ? -errno : r;
}

static off_t native_lseek(int fd, off_t off, int whence)
{
	off_t r = lseek(fd, off, whence);

	return r < 0 ? -errno : r;
}

static ssize_t native_getdents(int fd, void *buf, size_t n)
{
	long r = syscall(SYS_getdents64, fd, buf, n);

	return r < 0 ? -errno : r;
}

static int native_fstat(int fd, struct stat *st)
{
	return fstat(fd, st) < 0 ? -errno : 0;
}

static int native_pathfd(const char *path, int nofollow)
{
	return native_resolve(path, O_PATH | (nofollow ? O_NOFOLLOW : 0), 0);
}

static int native_stat(const char *path, struct stat *st, int flags)
{
	int fd = native_pathfd(path, flags & AT_SYMLINK_NOFOLLOW);
	int r;

	if (fd < 0)
		return fd;
	r = fstat(fd, st) < 0 ? -errno : 0;
	close(fd);
	return r;
}

/* readlinkat(fd, "") on an O_PATH descriptor says ENOENT for a
 * non-symlink where readlink(2) says EINVAL, so go through the parent. */
static ssize_t native_readlink(const char *path, char *buf, size_t n)
{
	char dir[PATH_MAX];
	const char *name;
	const char *slash = strrchr(path, '/');
	int dfd;
	ssize_t r;

	if (!slash) {
		snprintf(dir, sizeof(dir), "/");
		name = path;
	} else {
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1),
			 path);
		name = slash[1] ? slash + 1 : ".";
	}
	dfd = native_resolve(dir, O_PATH | O_DIRECTORY, 0);
	if (dfd < 0)
		return dfd;
	r = readlinkat(dfd, name, buf, n);
	r = r < 0 ? -errno : r;
	close(dfd);
	return r;
}

static ssize_t native_getxattr(const char *path, const char *name, void *v,
			       size_t n, int nofollow)
{
	char proc[64];
	int fd = native_pathfd(path, nofollow);
	ssize_t r;

	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = getxattr(proc, name, v, n);
	r = r < 0 ? -errno : r;
	close(fd);
	return r;
}

static ssize_t native_listxattr(const char *path, char *list, size_t n,
				int nofollow)
{
	char proc[64];
	int fd = native_pathfd(path, nofollow);
	ssize_t r;

	if (fd < 0)
		return fd;
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
	r = listxattr(proc, list, n);
	r = r < 0 ? -errno : r;
	close(fd);
	return r;
}

static ssize_t native_fgetxattr(int fd, const char *name, void *v, size_t n)
{
	ssize_t r = fgetxattr(fd, name, v, n);

	return r < 0 ? -errno : r;
}

static ssize_t native_flistxattr(int fd, char *list, size_t n)
{
	ssize_t r = flistxattr(fd, list, n);

	return r < 0 ? -errno : r;
}

static int native_access(const char *path, int mode, int flags)
{
	int nofollow = flags & AT_SYMLINK_NOFOLLOW;
	int fd = native_pathfd(path, nofollow);
	long r;

	if (fd < 0)
		return fd;
	r = syscall(SYS_faccessat2, fd, "", mode,
		    AT_EMPTY_PATH | (nofollow ? AT_SYMLINK_NOFOLLOW : 0));
	r = r < 0 ? -errno : 0;
	close(fd);
	return (int)r;
}

static int native_statfs(const char *path, struct statfs *s)
{
	int fd = native_pathfd(path, 0);
	int r;

	if (fd < 0)
		return fd;
	r = fstatfs(fd, s) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int native_fstatfs(int fd, struct statfs *s)
{
	return fstatfs(fd, s) < 0 ? -errno : 0;
}

static const struct fsops native_ops = {
	.open = native_open,
	.close = native_close,
	.read = native_read,
	.pread = native_pread,
	.lseek = native_lseek,
	.getdents = native_getdents,
	.fstat = native_fstat,
	.stat = native_stat,
	.readlink = native_readlink,
	.getxattr = native_getxattr,
	.listxattr = native_listxattr,
	.fgetxattr = native_fgetxattr,
	.flistxattr = native_flistxattr,
	.access = native_access,
	.statfs = native_statfs,
	.fstatfs = native_fstatfs,
};

/* ---- libfusebox backend ---------------------------------------------- */

static struct fb_fs *lib_fs;

static int lib_open(const char *path, int flags, mode_t mode)
{
	return fb_openat(lib_fs, FB_AT_FDCWD, path, flags, mode);
}

static int lib_close(int fd)
{
	return fb_close(lib_fs, fd);
}

static ssize_t lib_read(int fd, void *buf, size_t n)
{
	return fb_read(lib_fs, fd, buf, n);
}

static ssize_t lib_pread(int fd, void *buf, size_t n, off_t off)
{
	return fb_pread(lib_fs, fd, buf, n, off);
}

static off_t lib_lseek(int fd, off_t off, int whence)
{
	return fb_lseek(lib_fs, fd, off, whence);
}

static ssize_t lib_getdents(int fd, void *buf, size_t n)
{
	return fb_getdents64(lib_fs, fd, buf, n);
}

static int lib_fstat(int fd, struct stat *st)
{
	return fb_fstat(lib_fs, fd, st);
}

static int lib_stat(const char *path, struct stat *st, int flags)
{
	return fb_fstatat(lib_fs, FB_AT_FDCWD, path, st, flags);
}

static ssize_t lib_readlink(const char *path, char *buf, size_t n)
{
	return fb_readlinkat(lib_fs, FB_AT_FDCWD, path, buf, n);
}

static ssize_t lib_getxattr(const char *path, const char *name, void *v,
			    size_t n, int nofollow)
{
	if (nofollow)
		return fb_lgetxattr(lib_fs, path, name, v, n);
	return fb_getxattr(lib_fs, path, name, v, n);
}

static ssize_t lib_listxattr(const char *path, char *list, size_t n,
			     int nofollow)
{
	if (nofollow)
		return fb_llistxattr(lib_fs, path, list, n);
	return fb_listxattr(lib_fs, path, list, n);
}

static ssize_t lib_fgetxattr(int fd, const char *name, void *v, size_t n)
{
	return fb_fgetxattr(lib_fs, fd, name, v, n);
}

static ssize_t lib_flistxattr(int fd, char *list, size_t n)
{
	return fb_flistxattr(lib_fs, fd, list, n);
}

static int lib_access(const char *path, int mode, int flags)
{
	return fb_faccessat(lib_fs, FB_AT_FDCWD, path, mode, flags);
}

static int lib_statfs(const char *path, struct statfs *s)
{
	return fb_statfs(lib_fs, path, s);
}

static int lib_fstatfs(int fd, struct statfs *s)
{
	return fb_fstatfs(lib_fs, fd, s);
}

static const struct fsops lib_ops = {
	.open = lib_open,
	.close = lib_close,
	.read = lib_read,
	.pread = lib_pread,
	.lseek = lib_lseek,
	.getdents = lib_getdents,
	.fstat = lib_fstat,
	.stat = lib_stat,
	.readlink = lib_readlink,
	.getxattr = lib_getxattr,
	.listxattr = lib_listxattr,
	.fgetxattr = lib_fgetxattr,
	.flistxattr = lib_flistxattr,
	.access = lib_access,
	.statfs = lib_statfs,
	.fstatfs = lib_fstatfs,
};

/* ---- helpers ----------------------------------------------------------- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fprintf(stderr, "fbdump: out of memory\n");
		exit(1);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fprintf(stderr, "fbdump: out of memory\n");
		exit(1);
	}
	return p;
}

/* The filesystem path of rel (relative to the walk root) plus suffix. */
static void fspath(char *buf, const char *rel, const char *suffix)
{
	const char *base = strcmp(walk_root, "/") ? walk_root : "";
	int n = snprintf(buf, PATH_MAX, "%s%s%s%s", base, *rel ? "/" : "",
			 rel, suffix);

	if (n < 0 || n >= PATH_MAX) {
		fprintf(stderr, "fbdump: path too long: %s/%s\n", base, rel);
		exit(1);
	}
	if (!*buf)
		strcpy(buf, "/");
}

/* Open path with flags and report only the outcome; closes on success. */
static const char *try_open(const char *path, int flags)
{
	int fd;

	if ((flags & (O_ACCMODE | O_TRUNC | O_CREAT)) != O_RDONLY &&
	    !write_probes)
		return "skipped";
	fd = ops->open(path, flags, 0644);
	if (fd >= 0)
		ops->close(fd);
	return ename(fd);
}

/* ---- extended attributes --------------------------------------------- */

/* Where the attributes come from: a path (following symlinks or not) or
 * an open descriptor. */
struct xsrc {
	const char *path;
	int nofollow;
	int fd;
};

static ssize_t x_list(const struct xsrc *s, char *list, size_t n)
{
	if (s->path)
		return ops->listxattr(s->path, list, n, s->nofollow);
	return ops->flistxattr(s->fd, list, n);
}

static ssize_t x_get(const struct xsrc *s, const char *name, void *v,
		     size_t n)
{
	if (s->path)
		return ops->getxattr(s->path, name, v, n, s->nofollow);
	return ops->fgetxattr(s->fd, name, v, n);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Describe every attribute of s into f, one "KIND\tfields" per line. */
static void xattr_text(FILE *f, const struct xsrc *s)
{
	ssize_t size = x_list(s, NULL, 0);
	ssize_t got, small;
	char *list, **names = NULL;
	size_t count = 0;
	char value[65536];

	if (size < 0) {
		fprintf(f, "xattr-list\t%s\n", ename(size));
		return;
	}
	list = xmalloc((size_t)size + 1);
	got = x_list(s, list, (size_t)size);
	if (got < 0 || got > size) {
		fprintf(f, "xattr-list\tsize=%zd then=%s%zd\n", size,
			got < 0 ? ename(got) : "", got < 0 ? (ssize_t)0 : got);
		free(list);
		return;
	}
	if (got > 0 && list[got - 1] != '\0')
		fprintf(f, "xattr-list-unterminated\n");
	list[got] = '\0';
	for (ssize_t i = 0; i < got; i += (ssize_t)strlen(list + i) + 1) {
		names = xrealloc(names, (count + 1) * sizeof(*names));
		names[count++] = list + i;
	}
	if (count)
		qsort(names, count, sizeof(*names), cmp_str);
	fprintf(f, "xattr-list\tsize=%zd count=%zu\n", got, count);
	if (got > 0) {
		small = x_list(s, list, (size_t)got - 1);
		fprintf(f, "xattr-list-small\t%s\n", ename(small));
	}
	for (size_t i = 0; i < count; i++) {
		ssize_t len = x_get(s, names[i], NULL, 0);
		ssize_t vlen;

		fputs("xattr\tname=", f);
		put_escaped(f, names[i], strlen(names[i]));
		if (len < 0) {
			fprintf(f, " %s\n", ename(len));
			continue;
		}
		vlen = x_get(s, names[i], value, sizeof(value));
		if (vlen < 0) {
			fprintf(f, " size=%zd then=%s\n", len, ename(vlen));
			continue;
		}
		fprintf(f, " size=%zd len=%zd ", len, vlen);
		if (vlen <= 64) {
			fputs("value=", f);
			put_escaped(f, value, (size_t)vlen);
		} else {
			fprintf(f, "fnv=%016" PRIx64,
				fnv1a(FNV_INIT, value, (size_t)vlen));
		}
		fputc('\n', f);
		/* size 0 asks for the size, so "too small" needs vlen > 1 */
		if (vlen > 1) {
			small = x_get(s, names[i], value, (size_t)vlen - 1);
			fputs("xattr-small\tname=", f);
			put_escaped(f, names[i], strlen(names[i]));
			fprintf(f, " %s\n", ename(small));
		}
	}
	fprintf(f, "xattr-missing\t%s\n",
		ename(x_get(s, "user.fbdump.missing", value, sizeof(value))));
	free(names);
	free(list);
}

static char *xattr_string(const struct xsrc *s)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f) {
		fprintf(stderr, "fbdump: open_memstream failed\n");
		exit(1);
	}
	xattr_text(f, s);
	fclose(f);
	return text;
}

/* Print text ("KIND\tfields\n" lines) as lines of rel. */
static void print_text_lines(const char *rel, const char *text)
{
	const char *p = text;

	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		put_rel(rel);
		fprintf(out, "\t%.*s\n", (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

static void dump_xattrs_path(const char *rel, const char *path, int nofollow)
{
	struct xsrc s = { .path = path, .nofollow = nofollow, .fd = -1 };
	char *text = xattr_string(&s);

	print_text_lines(rel, text);
	free(text);
}

/* The descriptor view must say exactly what the path view said. */
static void check_xattrs_fd(const char *rel, const char *path, int fd)
{
	struct xsrc sp = { .path = path, .nofollow = 0, .fd = -1 };
	struct xsrc sf = { .path = NULL, .nofollow = 0, .fd = fd };
	char *tp = xattr_string(&sp);
	char *tf = xattr_string(&sf);

	if (strcmp(tp, tf) == 0) {
		line(rel, "xattr-fd", "same");
	} else {
		line(rel, "xattr-fd", "differs");
		print_text_lines(rel, tf);
	}
	free(tp);
	free(tf);
}

/* ---- per-entry dumps ------------------------------------------------- */

static void dump_access(const char *rel, const char *path, int flags,
			const char *kind)
{
	line(rel, kind, "F=%s R=%s W=%s X=%s",
	     ename(ops->access(path, F_OK, flags)),
	     ename(ops->access(path, R_OK, flags)),
	     ename(ops->access(path, W_OK, flags)),
	     ename(ops->access(path, X_OK, flags)));
}

/* Read fd from its current offset to EOF in chunks of chunk bytes (the
 * first prefix bytes only; then in 64 KiB chunks, so 1-byte reads of a
 * large file stay affordable). Returns bytes read or a negative errno. */
static long long read_all(int fd, size_t chunk, size_t prefix, uint64_t *hash)
{
	static char buf[131073];
	long long total = 0;
	ssize_t r;

	*hash = FNV_INIT;
	for (;;) {
		size_t n = (size_t)total < prefix ? chunk : 65536;

		r = ops->read(fd, buf, n);
		if (r < 0)
			return r;
		if ((size_t)r > n)
			return -EOVERFLOW;
		if (r == 0)
			break;
		*hash = fnv1a(*hash, buf, (size_t)r);
		total += r;
	}
	/* EOF must stay EOF. */
	r = ops->read(fd, buf, sizeof(buf));
	if (r != 0)
		return r < 0 ? r : -EOVERFLOW;
	return total;
}

static const size_t chunks[] = { 4096, 1, 4095, 65536, 131073 };

static void dump_content(const char *rel, const char *path,
			 const struct stat *lst)
{
	uint64_t ref = 0, h;
	long long refsize = -1, n;
	int fd = ops->open(path, O_RDONLY, 0);
	struct stat st;
	off_t pos;
	int r;

	if (fd < 0) {
		line(rel, "content", "open=%s", ename(fd));
		return;
	}
	r = ops->fstat(fd, &st);
	line(rel, "fstat", "%s", r < 0 ? ename(r) :
	     same_stat(&st, lst) ? "same" : "differs");
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		pos = ops->lseek(fd, 0, SEEK_SET);
		if (pos != 0) {
			line(rel, "content", "rewind=%s", ename(pos));
			break;
		}
		n = read_all(fd, chunks[i], chunks[i] == 1 ? 4097 : SIZE_MAX,
			     &h);
		if (n < 0) {
			line(rel, "content-error", "chunk=%zu %s", chunks[i],
			     ename(n));
		} else if (i == 0) {
			ref = h;
			refsize = n;
			line(rel, "content", "size=%lld fnv=%016" PRIx64, n, h);
		} else if (h != ref || n != refsize) {
			line(rel, "content-mismatch", "chunk=%zu size=%lld "
			     "fnv=%016" PRIx64, chunks[i], n, h);
		}
	}
	check_xattrs_fd(rel, path, fd);
	ops->close(fd);
}

/* A count or offset, or the errno name when r is negative. */
static const char *seek_result(off_t r, char *buf, size_t n)
{
	if (r < 0)
		return ename(r);
	snprintf(buf, n, "%lld", (long long)r);
	return buf;
}

/* Reassemble the file from pieces of odd lengths read back to front, so
 * no request starts page aligned or follows the previous one. */
static void dump_pread(const char *rel, const char *path, off_t size)
{
	static const size_t lens[] = { 1, 4099, 12289, 65537, 131073 };
	size_t npieces = 0, cap = 64;
	off_t *offs = xmalloc(cap * sizeof(*offs));
	char *buf = xmalloc((size_t)size + 131073);
	int fd = ops->open(path, O_RDONLY, 0);
	off_t off = 0, bad = -1;
	ssize_t r = 0;
	char tail[16];

	if (fd < 0) {
		line(rel, "pread", "open=%s", ename(fd));
		goto out;
	}
	for (size_t i = 0; off < size; i++) {
		if (npieces == cap) {
			cap *= 2;
			offs = xrealloc(offs, cap * sizeof(*offs));
		}
		offs[npieces++] = off;
		off += (off_t)lens[i % 5];
	}
	for (size_t i = npieces; i-- > 0;) {
		size_t want = lens[i % 5];
		size_t expect = (size_t)(size - offs[i]) < want ?
				(size_t)(size - offs[i]) : want;

		r = ops->pread(fd, buf + offs[i], want, offs[i]);
		if (r < 0 || (size_t)r != expect) {
			bad = offs[i];
			break;
		}
	}
	if (bad >= 0) {
		line(rel, "pread", "error=%s at=%lld got=%zd", r < 0 ?
		     ename(r) : "short", (long long)bad, r);
	} else {
		char b1[32], b2[32];

		line(rel, "pread", "pieces=%zu fnv=%016" PRIx64 " eof=%s past=%s",
		     npieces, fnv1a(FNV_INIT, buf, (size_t)size),
		     seek_result(ops->pread(fd, tail, sizeof(tail), size), b1,
				 sizeof(b1)),
		     seek_result(ops->pread(fd, tail, sizeof(tail),
					    size + 12345), b2, sizeof(b2)));
	}
	ops->close(fd);
out:
	free(buf);
	free(offs);
}

static void dump_lseek(const char *rel, const char *path, off_t size)
{
	char b[9][32];
	char one;
	int fd = ops->open(path, O_RDONLY, 0);
	ssize_t rd;

	if (fd < 0) {
		line(rel, "lseek", "open=%s", ename(fd));
		return;
	}
	line(rel, "lseek", "end=%s data0=%s hole0=%s datamid=%s holemid=%s "
	     "dataend=%s",
	     seek_result(ops->lseek(fd, 0, SEEK_END), b[0], 32),
	     seek_result(ops->lseek(fd, 0, SEEK_DATA), b[1], 32),
	     seek_result(ops->lseek(fd, 0, SEEK_HOLE), b[2], 32),
	     seek_result(ops->lseek(fd, size / 2, SEEK_DATA), b[3], 32),
	     seek_result(ops->lseek(fd, size / 2, SEEK_HOLE), b[4], 32),
	     seek_result(ops->lseek(fd, size, SEEK_DATA), b[5], 32));
	ops->lseek(fd, 0, SEEK_SET);
	line(rel, "lseek", "past=%s", seek_result(ops->lseek(fd, size + 1000,
							      SEEK_SET),
						  b[6], 32));
	rd = ops->read(fd, &one, 1);
	line(rel, "lseek", "readpast=%s cur=%s neg=%s",
	     seek_result(rd, b[7], 32),
	     seek_result(ops->lseek(fd, 0, SEEK_CUR), b[8], 32),
	     ename(ops->lseek(fd, -1, SEEK_SET)));
	ops->close(fd);
}

static void dump_file(const char *rel, const char *path,
		      const struct stat *st)
{
	char p[PATH_MAX], buf[64];
	struct stat x;

	dump_content(rel, path, st);
	dump_pread(rel, path, st->st_size);
	dump_lseek(rel, path, st->st_size);

	fspath(p, rel, "/");
	line(rel, "probe", "slash=%s", try_open(p, O_RDONLY));
	fspath(p, rel, "/x");
	line(rel, "probe", "through=%s", try_open(p, O_RDONLY));
	line(rel, "probe", "stat-through=%s", ename(ops->stat(p, &x, 0)));
	line(rel, "probe", "odir=%s nofollow=%s wronly=%s rdwr=%s trunc=%s "
	     "creat=%s excl=%s",
	     try_open(path, O_RDONLY | O_DIRECTORY),
	     try_open(path, O_RDONLY | O_NOFOLLOW),
	     try_open(path, O_WRONLY),
	     try_open(path, O_RDWR),
	     try_open(path, O_RDONLY | O_TRUNC),
	     try_open(path, O_RDONLY | O_CREAT),
	     try_open(path, O_WRONLY | O_CREAT | O_EXCL));
	line(rel, "readlink", "%s",
	     ename(ops->readlink(path, buf, sizeof(buf))));
}

static void dump_symlink(const char *rel, const char *path)
{
	char target[PATH_MAX + 1], small[PATH_MAX];
	ssize_t n = ops->readlink(path, target, PATH_MAX);
	ssize_t s;
	struct stat st;
	int r;
	char p[PATH_MAX];

	if (n < 0) {
		line(rel, "readlink", "%s", ename(n));
	} else {
		put_rel(rel);
		fprintf(out, "\treadlink\tlen=%zd target=", n);
		put_escaped(out, target, (size_t)n);
		fputc('\n', out);
		if (n > 1) {
			s = ops->readlink(path, small, (size_t)n - 1);
			put_rel(rel);
			fprintf(out, "\treadlink-small\tlen=%zd", s);
			if (s >= 0) {
				fputs(" target=", out);
				put_escaped(out, small, (size_t)s);
			} else {
				fprintf(out, " %s", ename(s));
			}
			fputc('\n', out);
		}
	}
	line(rel, "readlink-zero", "%s", ename(ops->readlink(path, small, 0)));

	r = ops->stat(path, &st, 0);
	if (r < 0)
		line(rel, "follow", "%s", ename(r));
	else
		line(rel, "follow", "type=%s size=%lld ino=%llu",
		     type_name(st.st_mode), (long long)st.st_size,
		     (unsigned long long)st.st_ino);
	dump_access(rel, path, 0, "access-follow");
	fspath(p, rel, "/");
	line(rel, "probe", "open=%s nofollow=%s slash=%s",
	     try_open(path, O_RDONLY), try_open(path, O_RDONLY | O_NOFOLLOW),
	     try_open(p, O_RDONLY));
}

struct dent {
	char *name;
	unsigned type;
	uint64_t ino;
};

static int cmp_dent(const void *a, const void *b)
{
	return strcmp(((const struct dent *)a)->name,
		      ((const struct dent *)b)->name);
}

/* Linux struct linux_dirent64 as getdents64 fills it. */
struct dirent64_rec {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

/* Read the whole listing from fd's current offset with a bufsize buffer.
 * Returns the entry count or a negative errno; problems with the records
 * themselves are printed. */
static long list_dir(const char *rel, int fd, size_t bufsize,
		     struct dent **out_ents)
{
	char buf[65536];
	struct dent *ents = NULL;
	size_t count = 0;
	ssize_t n;

	for (;;) {
		n = ops->getdents(fd, buf, bufsize);
		if (n <= 0)
			break;
		if ((size_t)n > bufsize) {
			line(rel, "dirent-overflow", "got=%zd buf=%zu", n,
			     bufsize);
			break;
		}
		for (ssize_t off = 0; off < n;) {
			struct dirent64_rec *d = (void *)(buf + off);
			size_t hdr = offsetof(struct dirent64_rec, d_name);
			size_t namemax, len, want;

			if ((size_t)(n - off) < hdr + 1 ||
			    d->d_reclen < hdr + 1 ||
			    d->d_reclen > n - off) {
				line(rel, "dirent-corrupt", "at=%zd", off);
				n = -EIO;
				break;
			}
			namemax = d->d_reclen - hdr;
			len = strnlen(d->d_name, namemax);
			want = (hdr + len + 1 + 7) & ~(size_t)7;
			if (len == namemax || d->d_reclen != want)
				line(rel, "dirent-badreclen", "reclen=%u "
				     "want=%zu", d->d_reclen, want);
			ents = xrealloc(ents, (count + 1) * sizeof(*ents));
			ents[count].name = strndup(d->d_name, len);
			ents[count].type = d->d_type;
			ents[count].ino = d->d_ino;
			count++;
			off += d->d_reclen;
		}
		if (n < 0)
			break;
	}
	*out_ents = ents;
	if (n < 0) {
		for (size_t i = 0; i < count; i++)
			free(ents[i].name);
		free(ents);
		*out_ents = NULL;
		return n;
	}
	if (count)
		qsort(ents, count, sizeof(*ents), cmp_dent);
	return (long)count;
}

static void free_dents(struct dent *ents, long count)
{
	for (long i = 0; i < count; i++)
		free(ents[i].name);
	free(ents);
}

/* Entries of a big directory past the first FULL_ENTRIES get a light
 * dump (stat and content): the big directory is there to test listings,
 * and probing 2000 files through a path-based server takes too long. */
#define BIG_DIR 256
#define FULL_ENTRIES 64

static void walk(const char *rel, int light);

static void dump_dir(const char *rel, const char *path,
		     const struct stat *lst)
{
	struct dent *ents = NULL, *again = NULL;
	long count, count2;
	int fd = ops->open(path, O_RDONLY | O_DIRECTORY, 0);
	struct stat st;
	char buf[64], p[PATH_MAX];
	ssize_t r;

	if (fd < 0) {
		line(rel, "opendir", "%s", ename(fd));
		return;
	}
	r = ops->fstat(fd, &st);
	line(rel, "fstat", "%s", r < 0 ? ename(r) :
	     same_stat(&st, lst) ? "same" : "differs");
	count = list_dir(rel, fd, 256, &ents);
	if (count < 0) {
		line(rel, "getdents", "%s", ename(count));
		ops->close(fd);
		return;
	}
	line(rel, "getdents", "count=%ld after-eof=%s", count,
	     ename(ops->getdents(fd, buf, sizeof(buf))));
	for (long i = 0; i < count; i++) {
		put_rel(rel);
		fputs("\tdirent\t", out);
		put_escaped(out, ents[i].name, strlen(ents[i].name));
		fprintf(out, " type=%s ino=%" PRIu64 "\n",
			dtype_name(ents[i].type), ents[i].ino);
		if (i > 0 && strcmp(ents[i].name, ents[i - 1].name) == 0) {
			put_rel(rel);
			fputs("\tdirent-duplicate\t", out);
			put_escaped(out, ents[i].name, strlen(ents[i].name));
			fputc('\n', out);
		}
	}

	/* A rewound listing is the same listing; a buffer too small for one
	 * record is EINVAL. */
	r = ops->lseek(fd, 0, SEEK_SET);
	line(rel, "getdents", "rewind=%s tiny=%s", ename(r),
	     ename(ops->getdents(fd, buf, 8)));
	count2 = list_dir(rel, fd, 32768, &again);
	if (count2 != count) {
		line(rel, "getdents-again", "count=%ld", count2);
	} else {
		for (long i = 0; i < count; i++)
			if (strcmp(ents[i].name, again[i].name) ||
			    ents[i].type != again[i].type ||
			    ents[i].ino != again[i].ino) {
				line(rel, "getdents-again", "differs at %ld",
				     i);
				break;
			}
	}
	free_dents(again, count2 < 0 ? 0 : count2);
	check_xattrs_fd(rel, path, fd);
	ops->close(fd);

	fspath(p, rel, "/fbdump-missing");
	line(rel, "probe", "missing=%s creat-new=%s",
	     try_open(p, O_RDONLY), try_open(p, O_WRONLY | O_CREAT));
	fspath(p, rel, "/fbdump-missing/");
	line(rel, "probe", "missing-slash=%s", try_open(p, O_RDONLY));
	fspath(p, rel, "/.");
	line(rel, "probe", "dot=%s wronly=%s rdwr=%s plain=%s",
	     try_open(p, O_RDONLY | O_DIRECTORY), try_open(path, O_WRONLY),
	     try_open(path, O_RDWR), try_open(path, O_RDONLY));
	fspath(p, rel, "/..");
	r = ops->stat(p, &st, 0);
	if (r < 0)
		line(rel, "probe", "dotdot=%s", ename(r));
	else
		line(rel, "probe", "dotdot-ino=%llu",
		     (unsigned long long)st.st_ino);
	line(rel, "readlink", "%s",
	     ename(ops->readlink(path, buf, sizeof(buf))));

	for (long i = 0, nth = 0; i < count; i++) {
		char child[PATH_MAX];

		if (!strcmp(ents[i].name, ".") || !strcmp(ents[i].name, ".."))
			continue;
		if (i > 0 && strcmp(ents[i].name, ents[i - 1].name) == 0)
			continue;
		nth++;
		if (*rel)
			snprintf(child, sizeof(child), "%s/%s", rel,
				 ents[i].name);
		else
			snprintf(child, sizeof(child), "%s", ents[i].name);
		walk(child, count > BIG_DIR && nth > FULL_ENTRIES);
	}
	free_dents(ents, count);
}

static void dump_light(const char *rel, const char *path)
{
	uint64_t h;
	long long n;
	int fd = ops->open(path, O_RDONLY, 0);

	if (fd < 0) {
		line(rel, "content", "open=%s", ename(fd));
		return;
	}
	n = read_all(fd, 65536, SIZE_MAX, &h);
	if (n < 0)
		line(rel, "content-error", "chunk=65536 %s", ename(n));
	else
		line(rel, "content", "size=%lld fnv=%016" PRIx64, n, h);
	ops->close(fd);
}

static void walk(const char *rel, int light)
{
	char path[PATH_MAX];
	struct stat st;
	int r;

	fspath(path, rel, "");
	r = ops->stat(path, &st, AT_SYMLINK_NOFOLLOW);
	if (r < 0) {
		line(rel, "lstat", "%s", ename(r));
		return;
	}
	print_stat(rel, "lstat", &st);
	if (light && S_ISREG(st.st_mode)) {
		dump_light(rel, path);
		return;
	}
	dump_access(rel, path, AT_SYMLINK_NOFOLLOW, "access");
	dump_xattrs_path(rel, path, S_ISLNK(st.st_mode));
	if (S_ISREG(st.st_mode))
		dump_file(rel, path, &st);
	else if (S_ISLNK(st.st_mode))
		dump_symlink(rel, path);
	else if (S_ISDIR(st.st_mode))
		dump_dir(rel, path, &st);
}

/* Facts about the whole filesystem, printed once before the walk. */
static void dump_fs(void)
{
	struct statfs s, fs2;
	struct stat root, st;
	int fd, r;

	r = ops->statfs(walk_root, &s);
	if (r < 0) {
		line("", "statfs", "%s", ename(r));
	} else {
		line("", "statfs", "type=0x%llx bsize=%lld frsize=%lld "
		     "namelen=%lld blocks=%llu files=%llu",
		     (unsigned long long)s.f_type, (long long)s.f_bsize,
		     (long long)s.f_frsize, (long long)s.f_namelen,
		     (unsigned long long)s.f_blocks,
		     (unsigned long long)s.f_files);
		/* Free counts move when anything writes to a live backing
		 * filesystem, so they get a line of their own. */
		line("", "statfs-free", "bfree=%llu bavail=%llu ffree=%llu",
		     (unsigned long long)s.f_bfree,
		     (unsigned long long)s.f_bavail,
		     (unsigned long long)s.f_ffree);
		fd = ops->open(walk_root, O_RDONLY | O_DIRECTORY, 0);
		if (fd >= 0) {
			r = ops->fstatfs(fd, &fs2);
			line("", "fstatfs", "%s", r < 0 ? ename(r) :
			     (s.f_type == fs2.f_type && s.f_bsize == fs2.f_bsize &&
			      s.f_blocks == fs2.f_blocks &&
			      s.f_namelen == fs2.f_namelen) ? "same" :
			     "differs");
			ops->close(fd);
		}
	}

	/* ".." never leaves the filesystem's root. */
	r = ops->stat("/", &root, 0);
	if (r < 0) {
		line("", "fsroot", "%s", ename(r));
		return;
	}
	print_stat("", "fsroot", &root);
	fd = ops->open("/../../..", O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		line("", "probe", "beyond-root=%s", ename(fd));
	} else {
		r = ops->fstat(fd, &st);
		line("", "probe", "beyond-root=%s", r < 0 ? ename(r) :
		     st.st_ino == root.st_ino ? "root" : "elsewhere");
		ops->close(fd);
	}
	{
		char p[PATH_MAX];

		fspath(p, "", "/../../../../../../../../..");
		r = ops->stat(p, &st, 0);
		line("", "probe", "walk-root-up=%s", r < 0 ? ename(r) :
		     st.st_ino == root.st_ino ? "root" : "elsewhere");
	}
	line("", "probe", "empty=%s", try_open("", O_RDONLY));
}

/* ---- main -------------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: fbdump [OPTIONS] lib -- SERVER [ARGS...]\n"
		"       fbdump [OPTIONS] native DIR\n"
		"options: --root=SUB --pause --max-read=N (lib) --debug (lib)\n");
	exit(2);
}

/* The walk root is "/" + sub without repeated or trailing slashes. */
static void set_walk_root(const char *sub)
{
	size_t n;

	while (*sub == '/')
		sub++;
	snprintf(walk_root, sizeof(walk_root), "/%s", sub);
	n = strlen(walk_root);
	while (n > 1 && walk_root[n - 1] == '/')
		walk_root[--n] = '\0';
}

/* With pause, after the first walk: print "#pause", then walk again from
 * each root read from stdin (an empty line: the first root), each walk
 * headed by "#walk ROOT" and ended by "#pause", until EOF. This lets a
 * test change the tree under the server between walks, and reach a path
 * by lookup alone, without a directory listing refreshing it first. */
static void walk_all(int pause)
{
	char first[PATH_MAX], req[PATH_MAX];

	dump_fs();
	walk("", 0);
	if (!pause)
		return;
	snprintf(first, sizeof(first), "%s", walk_root);
	for (;;) {
		fprintf(out, "#pause\n");
		fflush(out);
		if (!fgets(req, sizeof(req), stdin))
			break;
		req[strcspn(req, "\n")] = '\0';
		set_walk_root(*req ? req : first);
		fprintf(out, "#walk %s\n", walk_root);
		walk("", 0);
	}
	snprintf(walk_root, sizeof(walk_root), "%s", first);
}

int main(int argc, char **argv)
{
	struct fb_options opts;
	const char *sub = "";
	int pause = 0, i;
	static char outbuf[1 << 20];

	out = stdout;
	setvbuf(out, outbuf, _IOFBF, sizeof(outbuf));
	fb_options_init(&opts);
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		if (!strncmp(argv[i], "--max-read=", 11))
			opts.max_read = (uint32_t)strtoul(argv[i] + 11, NULL,
							  0);
		else if (!strncmp(argv[i], "--root=", 7))
			sub = argv[i] + 7;
		else if (!strcmp(argv[i], "--pause"))
			pause = 1;
		else if (!strcmp(argv[i], "--debug"))
			opts.debug = 1;
		else
			usage();
	}
	if (i >= argc)
		usage();
	set_walk_root(sub);

	if (!strcmp(argv[i], "native")) {
		struct statfs sfs;

		if (i + 2 != argc)
			usage();
		native_rootfd = open(argv[i + 1], O_PATH | O_DIRECTORY |
				     O_CLOEXEC);
		if (native_rootfd < 0) {
			fprintf(stderr, "fbdump: %s: %s\n", argv[i + 1],
				strerror(errno));
			return 1;
		}
		if (fstatfs(native_rootfd, &sfs) < 0 ||
		    !(sfs.f_flags & ST_RDONLY)) {
			write_probes = 0;
			fprintf(out, "#write probes skipped: %s is not on a "
				"read-only mount\n", argv[i + 1]);
		}
		ops = &native_ops;
		walk_all(pause);
		fflush(out);
		return 0;
	}
	if (!strcmp(argv[i], "lib")) {
		struct fb_conn_info ci;
		int r;

		if (i + 2 >= argc || strcmp(argv[i + 1], "--"))
			usage();
		/* The probes that write are made against read-only mounts
		 * on both sides. */
		opts.read_only = 1;
		r = fb_spawn(argv + i + 2, &opts, &lib_fs);
		if (r < 0) {
			fprintf(stderr, "fbdump: fb_spawn %s: %s\n",
				argv[i + 2], strerror(-r));
			return 1;
		}
		r = fb_wait_init(lib_fs);
		if (r < 0) {
			const char *why = fb_conn_error(lib_fs);

			fprintf(stderr, "fbdump: INIT with %s: %s%s%s\n",
				argv[i + 2], strerror(-r), why ? ": " : "",
				why ? why : "");
			fb_unmount(lib_fs);
			return 1;
		}
		if (fb_conn_info(lib_fs, &ci) == 0)
			fprintf(out, "#conn proto=%u.%u max_read=%u "
				"max_write=%u max_pages=%u flags=0x%llx\n",
				ci.proto_major, ci.proto_minor, ci.max_read,
				ci.max_write, ci.max_pages,
				(unsigned long long)ci.flags);
		ops = &lib_ops;
		walk_all(pause);
		if (fb_conn_error(lib_fs))
			fprintf(out, "#conn-error %s\n", fb_conn_error(lib_fs));
		r = fb_unmount(lib_fs);
		fprintf(out, "#unmount=%d\n", r);
		fflush(out);
		return 0;
	}
	usage();
	return 2;
}
