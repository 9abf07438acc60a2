/*
 * validate.c - checks of reply payloads that only the op knows how to
 * read: attributes, entries, directory records, xattr name lists. The
 * generic checks (lengths, error range, unique) are in conn.c.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>

#include "fuse/ops.h"

bool fuse_attr_valid(const struct fuse_attr *a)
{
	switch (a->mode & S_IFMT) {
	case S_IFREG: case S_IFDIR: case S_IFLNK: case S_IFCHR:
	case S_IFBLK: case S_IFIFO: case S_IFSOCK:
		break;
	default:
		return false;
	}
	return a->size <= (uint64_t)LLONG_MAX;
}

int fuse_entry_check(struct fuse_conn *c, uint32_t opcode,
		     const struct fuse_entry_out *e)
{
	if (e->nodeid == 0)
		return 0; /* a negative entry: attributes are not used */
	if (e->nodeid == FUSE_ROOT_ID) {
		fuse_log_bad(c, "bad reply to %s: a child with the root's "
				"nodeid", fuse_opcode_name(opcode));
		return -EIO;
	}
	if (!fuse_attr_valid(&e->attr)) {
		fuse_log_bad(c, "bad reply to %s: attributes with mode 0%o, "
				"size %llu",
			     fuse_opcode_name(opcode), e->attr.mode,
			     (unsigned long long)e->attr.size);
		return -EIO;
	}
	return 0;
}

#define DIRENT_ALIGN(x) (((x) + 7) & ~(size_t)7)

int fuse_dirents_parse(struct fuse_conn *c, const void *buf, size_t len,
		       bool plus, fuse_dirent_cb cb, void *ctx)
{
	const char *p = buf;
	size_t hdr = plus ? offsetof(struct fuse_direntplus, dirent.name)
			  : offsetof(struct fuse_dirent, name);
	const char *op = plus ? "READDIRPLUS" : "READDIR";

	while (len >= hdr) {
		const struct fuse_dirent *d;
		struct fuse_dirent_view v = { 0 };
		size_t need;
		int err;

		if (plus) {
			const struct fuse_direntplus *dp = (const void *)p;

			v.entry = &dp->entry_out;
			d = &dp->dirent;
		} else {
			d = (const void *)p;
		}
		if (d->namelen == 0 || d->namelen > c->lim.name_max) {
			fuse_log_bad(c, "bad reply to %s: name of %u bytes", op,
				     d->namelen);
			return -EIO;
		}
		need = hdr + d->namelen;
		if (need > len) {
			fuse_log_bad(c, "bad reply to %s: record runs %zu bytes "
					"past the reply",
				     op, need - len);
			return -EIO;
		}
		if (memchr(d->name, '/', d->namelen) ||
		    memchr(d->name, '\0', d->namelen)) {
			fuse_log_bad(c, "bad reply to %s: name with '/' or NUL",
				     op);
			return -EIO;
		}
		v.ino = d->ino;
		v.off = d->off;
		v.type = d->type;
		v.name = d->name;
		v.namelen = d->namelen;
		err = cb ? cb(ctx, &v) : 0;
		if (err)
			return err;
		/* The last record may come without its padding. */
		need = DIRENT_ALIGN(need);
		if (need >= len)
			break;
		p += need;
		len -= need;
	}
	return 0;
}

int fuse_xattr_list_check(const char *list, size_t len)
{
	size_t start = 0;

	if (len && list[len - 1] != '\0')
		return -EIO;
	for (size_t i = 0; i < len; i++) {
		if (list[i] == '\0') {
			if (i == start)
				return -EIO; /* empty name */
			start = i + 1;
		}
	}
	return 0;
}

uint64_t fuse_timeout_ns(uint64_t sec, uint32_t nsec)
{
	if (nsec > 999999999)
		nsec = 999999999;
	if (sec > (UINT64_MAX - nsec) / 1000000000ull)
		return UINT64_MAX;
	return sec * 1000000000ull + nsec;
}
