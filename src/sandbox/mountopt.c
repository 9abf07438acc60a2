/*
 * mountopt.c - parse mount(2)'s data for a FUSE mount as Linux does
 * (fs/fuse/inode.c fuse_parse_param, fuse_fill_super; the generic
 * superblock flags of fs/fs_context.c are accepted and ignored here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sandbox/mountopt.h"

/* Flags the VFS takes out of the data string before fuse sees it. */
static const char *const sb_flags[] = {
	"dirsync", "lazytime", "mand", "ro", "sync",
	"async", "nolazytime", "nomand", "rw",
};

static bool is_sb_flag(const char *key)
{
	for (size_t i = 0; i < sizeof(sb_flags) / sizeof(sb_flags[0]); i++)
		if (!strcmp(key, sb_flags[i]))
			return true;
	return false;
}

/* A u32 as the kernel's fs_parse reads one: the whole value, in base. */
static int parse_u32(const char *v, int base, unsigned *out)
{
	char *end;
	unsigned long long n;

	if (!v || !*v)
		return -EINVAL;
	errno = 0;
	n = strtoull(v, &end, base);
	if (errno || *end || n > 0xffffffffull || *v == '-' || *v == '+')
		return -EINVAL;
	*out = (unsigned)n;
	return 0;
}

static bool valid_type(mode_t m)
{
	return S_ISREG(m) || S_ISDIR(m) || S_ISLNK(m) || S_ISCHR(m) ||
	       S_ISBLK(m) || S_ISFIFO(m) || S_ISSOCK(m);
}

static int set_subtype(struct sbx_fuse_opts *o, const char *s)
{
	if (o->subtype[0])
		return -EINVAL; /* "Multiple subtype specified" */
	if (strlen(s) >= sizeof(o->subtype))
		return -EINVAL;
	strcpy(o->subtype, s);
	return 0;
}

static int one_option(struct sbx_fuse_opts *o, char *opt, bool *seen)
{
	char *val = strchr(opt, '=');
	unsigned n;
	int err;

	if (val)
		*val++ = '\0';
	if (!*opt)
		return 0; /* empty items (",,") are skipped */
	if (is_sb_flag(opt))
		return val ? -EINVAL : 0;
	if (!strcmp(opt, "source")) {
		if (!val || strlen(val) >= sizeof(o->source))
			return -EINVAL;
		strcpy(o->source, val);
		return 0;
	}
	if (!strcmp(opt, "subtype"))
		return val ? set_subtype(o, val) : -EINVAL;
	if (!strcmp(opt, "default_permissions") || !strcmp(opt, "allow_other")) {
		if (val)
			return -EINVAL;
		if (opt[0] == 'd')
			o->default_permissions = true;
		else
			o->allow_other = true;
		return 0;
	}
	if (!strcmp(opt, "rootmode")) {
		if ((err = parse_u32(val, 8, &n)))
			return err;
		if (!valid_type((mode_t)n))
			return -EINVAL;
		o->rootmode = (mode_t)n;
		seen[1] = true;
		return 0;
	}
	if ((err = parse_u32(val, 10, &n)))
		return err;
	if (!strcmp(opt, "fd")) {
		o->fd = (int)n;
		seen[0] = true;
	} else if (!strcmp(opt, "user_id")) {
		if (n == (unsigned)-1)
			return -EINVAL; /* not a valid kuid */
		o->user_id = (uid_t)n;
		seen[2] = true;
	} else if (!strcmp(opt, "group_id")) {
		if (n == (unsigned)-1)
			return -EINVAL;
		o->group_id = (gid_t)n;
		seen[3] = true;
	} else if (!strcmp(opt, "max_read")) {
		o->max_read = n;
	} else if (!strcmp(opt, "blksize")) {
		if (!o->is_blk)
			return -EINVAL; /* "blksize only supported for fuseblk" */
		o->blksize = n;
	} else {
		return -EINVAL; /* Unknown parameter */
	}
	return 0;
}

int sbx_fuse_opts_parse(const char *fstype, const char *source,
			const char *data, unsigned long flags,
			struct sbx_fuse_opts *o)
{
	bool seen[4] = { false };
	char *copy, *save = NULL;
	int err = 0;

	(void)flags;
	memset(o, 0, sizeof(*o));
	o->fd = -1;
	if (!strcmp(fstype, "fuse") || !strcmp(fstype, "fuseblk")) {
		o->is_blk = fstype[4] == 'b';
	} else if (!strncmp(fstype, "fuse.", 5)) {
		err = set_subtype(o, fstype + 5);
	} else if (!strncmp(fstype, "fuseblk.", 8)) {
		o->is_blk = true;
		err = set_subtype(o, fstype + 8);
	} else {
		return -ENODEV;
	}
	if (err)
		return err;
	if (source && strlen(source) < sizeof(o->source))
		strcpy(o->source, source);
	copy = strdup(data ? data : "");
	if (!copy)
		return -ENOMEM;
	for (char *opt = strtok_r(copy, ",", &save); opt && !err;
	     opt = strtok_r(NULL, ",", &save))
		err = one_option(o, opt, seen);
	free(copy);
	if (err)
		return err;
	if (!seen[0] || !seen[1] || !seen[2] || !seen[3])
		return -EINVAL;
	return 0;
}

int sbx_fuse_opts_show(const struct sbx_fuse_opts *o, char *buf, size_t size)
{
	int n = snprintf(buf, size, "user_id=%u,group_id=%u%s%s",
			 (unsigned)o->user_id, (unsigned)o->group_id,
			 o->default_permissions ? ",default_permissions" : "",
			 o->allow_other ? ",allow_other" : "");

	if (n >= 0 && (size_t)n < size && o->max_read)
		n += snprintf(buf + n, size - (size_t)n, ",max_read=%u",
			      o->max_read);
	if (n >= 0 && (size_t)n < size && o->is_blk && o->blksize &&
	    o->blksize != 512)
		n += snprintf(buf + n, size - (size_t)n, ",blksize=%u",
			      o->blksize);
	return n < 0 || (size_t)n >= size ? -ENOSPC : n;
}
