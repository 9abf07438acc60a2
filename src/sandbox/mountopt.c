/*
 * mountopt.c - mount(2)'s arguments for a FUSE mount, checked in the
 * order and with the errors of Linux (6.18):
 *   fs/namespace.c    path_mount, do_new_mount, do_add_mount: the flags,
 *                     the type and its subtype, the one-page data;
 *   fs/fs_context.c   vfs_parse_monolithic_sep, vfs_parse_fs_param: how
 *                     the data is split, the superblock flag words;
 *   fs/fs_parser.c    fs_lookup_key, __fs_parse, fs_param_is_*: flags
 *                     versus values, numbers;
 *   fs/fuse/inode.c   fuse_parse_param, fuse_get_tree, fuse_fill_super,
 *                     fuse_fill_super_common, fuse_show_options.
 * Nothing here looks at a descriptor or a path (see mountopt.h).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox/mountopt.h"

/* Linux's default fuseblk block size; also the one fuse_show_options
 * leaves out. */
#define FUSEBLK_DEFAULT_BLKSIZE 512

/* The superblock flags path_mount passes on from mount(2)'s flags, less
 * those no FUSE mount keeps or shows (MS_SILENT, MS_POSIXACL,
 * MS_I_VERSION). MS_MANDLOCK is kept only to be refused. */
#define SB_FROM_FLAGS \
	(MS_RDONLY | MS_SYNCHRONOUS | MS_MANDLOCK | MS_DIRSYNC | MS_LAZYTIME)

/* One page of data is copied in, and its last byte made a NUL. */
static size_t data_max(void)
{
	return (size_t)sysconf(_SC_PAGESIZE) - 1;
}

/* ---- numbers, as kstrtouint() reads them --------------------------- */

static int digit_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return 99;
}

/* base 0 picks 16 for "0x" before a hex digit, 8 for a leading 0, else
 * 10. A '+' may lead, one '\n' may trail, nothing else may: no spaces, no
 * '-'. Values past 32 bits are refused. */
static int parse_u32(const char *s, unsigned base, uint32_t *out)
{
	uint64_t v = 0;
	size_t ndigits = 0;

	if (*s == '+')
		s++;
	if (base == 0) {
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
		    digit_value(s[2]) < 16)
			base = 16;
		else
			base = s[0] == '0' ? 8 : 10;
	}
	if (base == 16 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; digit_value(*s) < (int)base; s++, ndigits++) {
		v = v * base + (uint64_t)digit_value(*s);
		if (v > UINT32_MAX)
			return -EINVAL;
	}
	if (ndigits == 0)
		return -EINVAL;
	if (*s == '\n')
		s++;
	if (*s)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* ---- the option table (fuse_fs_parameters) ------------------------- */

enum opt_kind { K_FLAG, K_U32, K_OCTAL, K_STRING };

enum opt_id {
	O_SOURCE, O_SUBTYPE, O_FD, O_ROOTMODE, O_USER_ID, O_GROUP_ID,
	O_DEFAULT_PERMISSIONS, O_ALLOW_OTHER, O_MAX_READ, O_BLKSIZE,
};

static const struct {
	const char *name;
	enum opt_kind kind;
	enum opt_id id;
} fuse_opts[] = {
	{ "source", K_STRING, O_SOURCE },
	{ "fd", K_U32, O_FD },
	{ "rootmode", K_OCTAL, O_ROOTMODE },
	{ "user_id", K_U32, O_USER_ID },
	{ "group_id", K_U32, O_GROUP_ID },
	{ "default_permissions", K_FLAG, O_DEFAULT_PERMISSIONS },
	{ "allow_other", K_FLAG, O_ALLOW_OTHER },
	{ "max_read", K_U32, O_MAX_READ },
	{ "blksize", K_U32, O_BLKSIZE },
	{ "subtype", K_STRING, O_SUBTYPE },
};

/* The VFS takes these words (by key alone: "ro=1" is "ro") before the
 * filesystem sees the data; everything else goes to fuse, including
 * "nosuid", "noatime" and the like, which fuse does not know. */
static const struct {
	const char *name;
	unsigned long flag;
	bool set;
} sb_words[] = {
	{ "dirsync", MS_DIRSYNC, true },
	{ "lazytime", MS_LAZYTIME, true },
	{ "mand", MS_MANDLOCK, true },
	{ "ro", MS_RDONLY, true },
	{ "sync", MS_SYNCHRONOUS, true },
	{ "async", MS_SYNCHRONOUS, false },
	{ "nolazytime", MS_LAZYTIME, false },
	{ "nomand", MS_MANDLOCK, false },
	{ "rw", MS_RDONLY, false },
};

struct parse {
	struct sbx_fuse_opts *o;
	bool have_source, have_subtype;
	bool have_fd, have_rootmode, have_user_id, have_group_id;
	bool have_blksize;
};

static bool sb_word(const char *key, unsigned long *sb_flags)
{
	for (size_t i = 0; i < sizeof(sb_words) / sizeof(sb_words[0]); i++) {
		if (strcmp(key, sb_words[i].name) != 0)
			continue;
		if (sb_words[i].set)
			*sb_flags |= sb_words[i].flag;
		else
			*sb_flags &= ~sb_words[i].flag;
		return true;
	}
	return false;
}

/* fuse_valid_type(): rootmode must name a file type. */
static bool valid_type(uint32_t mode)
{
	return S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode) ||
	       S_ISCHR(mode) || S_ISBLK(mode) || S_ISFIFO(mode) ||
	       S_ISSOCK(mode);
}

/* source and subtype are taken once, and never empty. */
static int set_once(char *dst, size_t size, bool *have, const char *v)
{
	if (*have || !*v || strlen(v) >= size)
		return -EINVAL;
	strcpy(dst, v);
	*have = true;
	return 0;
}

static int take_number(struct parse *p, enum opt_id id, uint32_t n)
{
	struct sbx_fuse_opts *o = p->o;

	switch (id) {
	case O_FD:
		/* Past INT_MAX it is no descriptor: fget() fails on 6.18,
		 * fs_param_is_fd() refuses it later. */
		if (n > INT32_MAX)
			return -EINVAL;
		o->fd = (int)n;
		p->have_fd = true;
		return 0;
	case O_ROOTMODE:
		if (!valid_type(n))
			return -EINVAL;
		o->rootmode = (mode_t)n;
		p->have_rootmode = true;
		return 0;
	case O_USER_ID:
		if (n == (uint32_t)-1) /* no valid kuid */
			return -EINVAL;
		o->user_id = (uid_t)n;
		p->have_user_id = true;
		return 0;
	case O_GROUP_ID:
		if (n == (uint32_t)-1)
			return -EINVAL;
		o->group_id = (gid_t)n;
		p->have_group_id = true;
		return 0;
	case O_MAX_READ:
		/* fuse_fill_super_common keeps at least 4096; ~0 stays the
		 * "no limit" the kernel starts with. */
		o->max_read = n < 4096 ? 4096 : n;
		return 0;
	case O_BLKSIZE:
		if (!o->is_blk)
			return -EINVAL;
		o->blksize = n;
		p->have_blksize = true;
		return 0;
	default:
		return -EINVAL;
	}
}

/* One key[=value] for fuse_parse_param. value is NULL for a bare key. */
static int take_option(struct parse *p, const char *key, const char *value)
{
	struct sbx_fuse_opts *o = p->o;
	unsigned base;
	uint32_t n;

	for (size_t i = 0; i < sizeof(fuse_opts) / sizeof(fuse_opts[0]); i++) {
		if (strcmp(key, fuse_opts[i].name) != 0)
			continue;
		/* A flag takes no value; everything else needs one. */
		if ((fuse_opts[i].kind == K_FLAG) != !value)
			return -EINVAL;
		switch (fuse_opts[i].kind) {
		case K_FLAG:
			if (fuse_opts[i].id == O_DEFAULT_PERMISSIONS)
				o->default_permissions = true;
			else
				o->allow_other = true;
			return 0;
		case K_STRING:
			if (fuse_opts[i].id == O_SOURCE)
				return set_once(o->source, sizeof(o->source),
						&p->have_source, value);
			return set_once(o->subtype, sizeof(o->subtype),
					&p->have_subtype, value);
		case K_U32:
		case K_OCTAL:
			base = fuse_opts[i].kind == K_OCTAL ? 8 : 0;
			if (parse_u32(value, base, &n))
				return -EINVAL;
			return take_number(p, fuse_opts[i].id, n);
		}
	}
	return -EINVAL; /* "fuse: Unknown parameter" */
}

/* vfs_parse_monolithic_sep: comma-separated items; empty items and items
 * starting with '=' are skipped; the value starts after the first '='. */
static int take_data(struct parse *p, const char *data)
{
	char *copy = strndup(data, data_max());
	char *s = copy, *item;
	int err = 0;

	if (!copy)
		return -ENOMEM;
	while (!err && (item = strsep(&s, ",")) != NULL) {
		char *value = strchr(item, '=');

		if (!*item || value == item)
			continue;
		if (value)
			*value++ = '\0';
		if (!sb_word(item, &p->o->sb_flags))
			err = take_option(p, item, value);
	}
	free(copy);
	return err;
}

/* sb_set_blocksize(): a power of two from 512 to the page size. Whether
 * the device's own sector size allows it is the caller's to check. */
static bool valid_blksize(unsigned b)
{
	return b >= 512 && b <= (unsigned)sysconf(_SC_PAGESIZE) &&
	       (b & (b - 1)) == 0;
}

/* get_fs_type(): the name up to the first '.' picks the filesystem;
 * do_new_mount: what follows the '.' is the subtype, and must not be
 * empty. */
static int take_type(struct parse *p, const char *fstype)
{
	const char *dot = strchr(fstype, '.');
	size_t n = dot ? (size_t)(dot - fstype) : strlen(fstype);

	if (n == 4 && !strncmp(fstype, "fuse", 4))
		p->o->is_blk = false;
	else if (n == 7 && !strncmp(fstype, "fuseblk", 7))
		p->o->is_blk = true;
	else
		return -ENODEV;
	if (!dot)
		return 0;
	if (!dot[1])
		return -EINVAL;
	/* fuse_parse_param sees it first, as "subtype". */
	return set_once(p->o->subtype, sizeof(p->o->subtype),
			&p->have_subtype, dot + 1);
}

int sbx_fuse_opts_parse(const char *fstype, const char *source,
			const char *data, unsigned long flags,
			struct sbx_fuse_opts *out)
{
	struct parse p = { .o = out };
	int err;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	/* mount(2) copies its strings with strndup_user(PATH_MAX). */
	if ((fstype && strnlen(fstype, PATH_MAX) >= PATH_MAX) ||
	    (source && strnlen(source, PATH_MAX) >= PATH_MAX))
		return -EINVAL;
	/* path_mount: the old magic number carries nothing. */
	if ((flags & MS_MGC_MSK) == MS_MGC_VAL)
		flags &= ~MS_MGC_MSK;
	if (flags & MS_NOUSER)
		return -EINVAL;
	out->sb_flags = flags & SB_FROM_FLAGS;
	if (!fstype)
		return -EINVAL;
	err = take_type(&p, fstype);
	if (err)
		return err;
	if (source) {
		err = set_once(out->source, sizeof(out->source),
			       &p.have_source, source);
		if (err)
			return err;
	}
	if (data) {
		err = take_data(&p, data);
		if (err)
			return err;
	}

	/* fuse_get_tree: fuseblk first needs a device name. */
	if (out->is_blk && !p.have_source)
		return -EINVAL;
	/* fuse_get_tree, fuse_fill_super: the four are required. */
	if (!p.have_fd || !p.have_rootmode || !p.have_user_id ||
	    !p.have_group_id)
		return -EINVAL;
	/* fuse_fill_super_common */
	if (out->sb_flags & MS_MANDLOCK)
		return -EINVAL;
	if (out->is_blk &&
	    !valid_blksize(p.have_blksize ? out->blksize
					  : FUSEBLK_DEFAULT_BLKSIZE))
		return -EINVAL;
	/* do_add_mount: a symlink cannot be the root of a mount. */
	if (S_ISLNK(out->rootmode))
		return -EINVAL;
	return 0;
}

/* snprintf at *len; false once buf is full. */
__attribute__((format(printf, 4, 5)))
static bool append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + *len, size - *len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *len)
		return false;
	*len += (size_t)n;
	return true;
}

int sbx_fuse_opts_show(const struct sbx_fuse_opts *o, char *buf, size_t size)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t len = 0;
	bool ok;

	if (!size)
		return -ENOSPC;
	ok = append(buf, size, &len, "user_id=%u,group_id=%u",
		    (unsigned)o->user_id, (unsigned)o->group_id);
	if (ok && o->default_permissions)
		ok = append(buf, size, &len, ",default_permissions");
	if (ok && o->allow_other)
		ok = append(buf, size, &len, ",allow_other");
	if (ok && o->max_read && o->max_read != ~0u)
		ok = append(buf, size, &len, ",max_read=%u", o->max_read);
	/* Since 6.17 fuseblk's superblock block size is always the page
	 * size (blksize= is only checked, and sets the inodes' block bits),
	 * so every fuseblk mount shows it unless pages are 512 bytes. Older
	 * kernels showed the given blksize. */
	if (ok && o->is_blk && page != FUSEBLK_DEFAULT_BLKSIZE)
		ok = append(buf, size, &len, ",blksize=%ld", page);
	return ok ? (int)len : -ENOSPC;
}
