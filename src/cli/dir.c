/*
 * dir.c - reading a directory into a sorted list of names, and reading a
 * symlink's target, for ls and tree.
 *
 * Names are sorted with strcoll(), as ls and tree sort them, so under
 * LC_ALL=C the order is plain byte order. "." and ".." are listed only
 * when the server returns them, exactly as on a kernel mount.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The fixed head of a getdents64 record; the name follows it. */
struct dirent64_head {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
} __attribute__((packed));

#define DIRENT_NAME_OFFSET 19	/* offsetof(struct linux_dirent64, d_name) */
_Static_assert(sizeof(struct dirent64_head) == DIRENT_NAME_OFFSET,
	       "getdents64 record head");

/* Far beyond PATH_MAX: a target this long means a broken reply. */
#define READLINK_MAX (1024 * 1024)

static int by_collation(const void *a, const void *b)
{
	return strcoll(*(char *const *)a, *(char *const *)b);
}

static int add_name(struct cli_dir *d, size_t *cap, const char *name)
{
	if (d->count == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		char **v = realloc(d->names, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		d->names = v;
		*cap = ncap;
	}
	d->names[d->count] = strdup(name);
	if (!d->names[d->count])
		return -ENOMEM;
	d->count++;
	return 0;
}

/* Adds every name in one getdents64 buffer; -EIO when a record would
 * run past the bytes the library said it filled. */
static int add_records(struct cli_dir *d, size_t *cap, const char *buf,
		       size_t len, int all)
{
	size_t pos = 0;

	while (pos < len) {
		struct dirent64_head h;
		const char *name;
		int rc;

		if (len - pos < DIRENT_NAME_OFFSET + 1)
			return -EIO;
		memcpy(&h, buf + pos, sizeof(h));
		if (h.d_reclen <= DIRENT_NAME_OFFSET || h.d_reclen > len - pos)
			return -EIO;
		name = buf + pos + DIRENT_NAME_OFFSET;
		if (!memchr(name, '\0', h.d_reclen - DIRENT_NAME_OFFSET))
			return -EIO;
		if (all || name[0] != '.') {
			rc = add_name(d, cap, name);
			if (rc < 0)
				return rc;
		}
		pos += h.d_reclen;
	}
	return 0;
}

int cli_dir_read(struct fb_fs *fs, int fd, int all, struct cli_dir *d)
{
	enum { BUF_SIZE = 64 * 1024 };
	char *buf = malloc(BUF_SIZE);
	size_t cap = 0;
	ssize_t n;
	int rc = 0;

	d->names = NULL;
	d->count = 0;
	if (!buf)
		return -ENOMEM;
	while ((n = fb_getdents64(fs, fd, buf, BUF_SIZE)) > 0) {
		rc = add_records(d, &cap, buf, (size_t)n, all);
		if (rc < 0)
			break;
	}
	if (n < 0)
		rc = (int)n;
	free(buf);
	if (rc < 0) {
		cli_dir_free(d);
		return rc;
	}
	if (d->count > 1)
		qsort(d->names, d->count, sizeof(*d->names), by_collation);
	return 0;
}

void cli_dir_free(struct cli_dir *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->names[i]);
	free(d->names);
	d->names = NULL;
	d->count = 0;
}

char *cli_readlink(struct fb_fs *fs, int dirfd, const char *path, int *err)
{
	size_t size = 256;

	for (;;) {
		char *buf = malloc(size);
		ssize_t n;

		if (!buf) {
			*err = -ENOMEM;
			return NULL;
		}
		n = fb_readlinkat(fs, dirfd, path, buf, size);
		if (n < 0) {
			free(buf);
			*err = (int)n;
			return NULL;
		}
		if ((size_t)n < size) {
			buf[n] = '\0';
			return buf;
		}
		/* The target may have been cut short: try a bigger buffer. */
		free(buf);
		size *= 2;
		if (size > READLINK_MAX) {
			*err = -ENAMETOOLONG;
			return NULL;
		}
	}
}
