/*
 * test_mountopt.c - sandbox/mountopt.c and sandbox/mountinfo.c: every rule
 * of Linux's mount(2) for FUSE that sbx_fuse_opts_parse follows, with its
 * errno; the lines sbx_mountinfo_render and sbx_mounts_render add. As
 * root, the same arguments go to the kernel's mount(2), whose errno and
 * /proc/self/mountinfo and /proc/self/mounts lines must be ours, and a
 * real server (build/servers/hello) is mounted and compared the same way.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fakesrv.h"
#include "sandbox/mountinfo.h"
#include "sandbox/mountopt.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* The four options every FUSE mount needs; "%d" is the descriptor. */
#define BASE "fd=%d,rootmode=40000,user_id=0,group_id=0"
#define NOSUID_NODEV (MS_NOSUID | MS_NODEV)

/* ---- the rules, one row each --------------------------------------- */

struct row {
	const char *source;	/* NULL: mount(2) gets NULL */
	const char *type;
	unsigned long flags;
	const char *data;	/* "%d" is the /dev/fuse descriptor */
	int err;		/* what Linux says (a positive errno, 0) */
};

static const struct row rows[] = {
	/* what libfuse passes */
	{ "s", "fuse", NOSUID_NODEV, BASE, 0 },
	{ "s", "fuse", 0, BASE, 0 },
	/* the four are required (fuse_get_tree, fuse_fill_super) */
	{ "s", "fuse", 0, "rootmode=40000,user_id=0,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd=%d,user_id=0,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd=%d,rootmode=40000,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd=%d,rootmode=40000,user_id=0", EINVAL },
	{ "s", "fuse", 0, NULL, EINVAL },
	{ "s", "fuse", 0, "", EINVAL },
	/* numbers as kstrtouint reads them: base 0 for fd and ids */
	{ "s", "fuse", 0, "fd=0x%d,rootmode=40000,user_id=0,group_id=0", 0 },
	{ "s", "fuse", 0, "fd=0%d,rootmode=40000,user_id=0,group_id=0", 0 },
	{ "s", "fuse", 0, "fd=+%d,rootmode=40000,user_id=0,group_id=0", 0 },
	{ "s", "fuse", 0, "fd=%d\n,rootmode=40000,user_id=0,group_id=0", 0 },
	{ "s", "fuse", 0, "fd=%d\n\n,rootmode=40000,user_id=0,group_id=0",
	  EINVAL },
	{ "s", "fuse", 0, "fd=%d ,rootmode=40000,user_id=0,group_id=0",
	  EINVAL },
	{ "s", "fuse", 0, "fd= %d,rootmode=40000,user_id=0,group_id=0",
	  EINVAL },
	{ "s", "fuse", 0, "fd=,rootmode=40000,user_id=0,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd,rootmode=40000,user_id=0,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd=-1,rootmode=40000,user_id=0,group_id=0", EINVAL },
	{ "s", "fuse", 0, "fd=2147483648,rootmode=40000,user_id=0,group_id=0",
	  EINVAL },
	{ "s", "fuse", 0, "fd=4294967296,rootmode=40000,user_id=0,group_id=0",
	  EINVAL },
	{ "s", "fuse", 0, "fd=x,rootmode=40000,user_id=0,group_id=0", EINVAL },
	/* rootmode: octal, a valid file type (fuse_valid_type), no
	 * symlink (do_add_mount) */
	{ "s", "fuse", 0, BASE ",rootmode=0040000", 0 },
	{ "s", "fuse", 0, BASE ",rootmode=+40000", 0 },
	{ "s", "fuse", 0, BASE ",rootmode=1040755", 0 },
	{ "s", "fuse", 0, BASE ",rootmode=40000\n", 0 },
	{ "s", "fuse", 0, BASE ",rootmode=0", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=170000", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=120777", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=40009", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=0x4000", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=37777777777", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=40000000000", EINVAL },
	{ "s", "fuse", 0, BASE ",rootmode=", EINVAL },
	/* ids: -1 is no id; repeats: the last wins */
	{ "s", "fuse", 0, BASE ",user_id=4294967295", EINVAL },
	{ "s", "fuse", 0, BASE ",group_id=4294967295", EINVAL },
	{ "s", "fuse", 0, BASE ",user_id=4294967296", EINVAL },
	{ "s", "fuse", 0, BASE ",user_id=-1", EINVAL },
	{ "s", "fuse", 0, BASE ",user_id=", EINVAL },
	{ "s", "fuse", 0, BASE ",group_id", EINVAL },
	{ "s", "fuse", 0, BASE ",user_id=0x10,group_id=010", 0 },
	{ "s", "fuse", 0, BASE ",user_id=1000,group_id=1000,user_id=5", 0 },
	{ "s", "fuse", 0, BASE ",fd=%d", 0 },
	/* flags take no value, and have no "no" form */
	{ "s", "fuse", 0, BASE ",allow_other,default_permissions", 0 },
	{ "s", "fuse", 0, BASE ",allow_other,allow_other", 0 },
	{ "s", "fuse", 0, BASE ",allow_other=1", EINVAL },
	{ "s", "fuse", 0, BASE ",allow_other=", EINVAL },
	{ "s", "fuse", 0, BASE ",noallow_other", EINVAL },
	{ "s", "fuse", 0, BASE ",default_permissions=yes", EINVAL },
	/* unknown: everything the VFS does not take goes to fuse */
	{ "s", "fuse", 0, BASE ",nosuid", EINVAL },
	{ "s", "fuse", 0, BASE ",nodev", EINVAL },
	{ "s", "fuse", 0, BASE ",noexec", EINVAL },
	{ "s", "fuse", 0, BASE ",noatime", EINVAL },
	{ "s", "fuse", 0, BASE ",relatime", EINVAL },
	{ "s", "fuse", 0, BASE ",context=system_u:object_r:tmp_t", EINVAL },
	{ "s", "fuse", 0, BASE ",FD=1", EINVAL },
	{ "s", "fuse", 0, BASE ",dax", EINVAL },
	{ "s", "fuse", 0, BASE ",max_write=4096", EINVAL },
	/* the superblock words the VFS takes (by key: "ro=1" is "ro") */
	{ "s", "fuse", 0, BASE ",ro", 0 },
	{ "s", "fuse", 0, BASE ",ro=1", 0 },
	{ "s", "fuse", MS_RDONLY, BASE ",rw", 0 },
	{ "s", "fuse", 0, BASE ",sync,dirsync,lazytime", 0 },
	{ "s", "fuse", 0, BASE ",sync,async,lazytime,nolazytime,nomand", 0 },
	{ "s", "fuse", 0, BASE ",mand", EINVAL },
	{ "s", "fuse", 0, BASE ",mand,nomand", 0 },
	/* empty items and items starting with '=' are skipped */
	{ "s", "fuse", 0, ",," BASE ",,", 0 },
	{ "s", "fuse", 0, "=x," BASE ",=", 0 },
	/* max_read: at least 4096, ~0 means none */
	{ "s", "fuse", 0, BASE ",max_read=0", 0 },
	{ "s", "fuse", 0, BASE ",max_read=4095", 0 },
	{ "s", "fuse", 0, BASE ",max_read=0x2000", 0 },
	{ "s", "fuse", 0, BASE ",max_read=4294967295", 0 },
	{ "s", "fuse", 0, BASE ",max_read=4294967294", 0 },
	{ "s", "fuse", 0, BASE ",max_read=8192,max_read=5000", 0 },
	{ "s", "fuse", 0, BASE ",max_read=4294967296", EINVAL },
	/* blksize is fuseblk's */
	{ "s", "fuse", 0, BASE ",blksize=4096", EINVAL },
	/* subtype: from the type or the data, once, not empty */
	{ "s", "fuse", 0, BASE ",subtype=foo", 0 },
	{ "s", "fuse.bar", 0, BASE, 0 },
	{ "s", "fuse.bar", 0, BASE ",subtype=foo", EINVAL },
	{ "s", "fuse", 0, BASE ",subtype=a,subtype=b", EINVAL },
	{ "s", "fuse", 0, BASE ",subtype=", EINVAL },
	{ "s", "fuse", 0, BASE ",subtype", EINVAL },
	{ "s", "fuse.", 0, BASE, EINVAL },
	{ "s", "fuse.a.b", 0, BASE, 0 },
	{ "s", "fuse.a b\\c", 0, BASE, 0 },
	/* the type: the name before the first '.' */
	{ "s", "fusex", 0, BASE, ENODEV },
	{ "s", "fuse2.x", 0, BASE, ENODEV },
	{ "s", "FUSE", 0, BASE, ENODEV },
	{ NULL, "fuseblk", 0, BASE, EINVAL },
	/* the source: from mount(2) or the data, once, not empty */
	{ NULL, "fuse", 0, BASE, 0 },
	{ NULL, "fuse", 0, BASE ",source=x", 0 },
	{ "s", "fuse", 0, BASE ",source=x", EINVAL },
	{ NULL, "fuse", 0, BASE ",source=", EINVAL },
	{ "", "fuse", 0, BASE, EINVAL },
	{ "a b\t\\c", "fuse", 0, BASE, 0 },
	/* mount(2)'s flags */
	{ "s", "fuse", MS_NOUSER, BASE, EINVAL },
	{ "s", "fuse", MS_MANDLOCK, BASE, EINVAL },
	{ "s", "fuse", MS_MGC_VAL, BASE, 0 },
	{ "s", "fuse", MS_MGC_VAL | NOSUID_NODEV, BASE, 0 },
	{ "s", "fuse", MS_RDONLY | NOSUID_NODEV, BASE, 0 },
	{ "s", "fuse", MS_NOEXEC, BASE, 0 },
	{ "s", "fuse", MS_NOATIME, BASE, 0 },
	{ "s", "fuse", MS_STRICTATIME, BASE, 0 },
	{ "s", "fuse", MS_NOATIME | MS_STRICTATIME, BASE, 0 },
	{ "s", "fuse", MS_RELATIME | MS_NODIRATIME, BASE, 0 },
	{ "s", "fuse", MS_NOSYMFOLLOW, BASE, 0 },
	{ "s", "fuse", MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME, BASE, 0 },
	{ "s", "fuse", MS_SILENT | MS_POSIXACL | MS_I_VERSION, BASE, 0 },
};

/* data with every "%d" replaced by fd; malloc'd. */
static char *subst(const char *data, int fd)
{
	size_t n = data ? strlen(data) : 0;
	char *out = malloc(n * 4 + 64), *o = out;

	if (!data || !out) {
		free(out);
		return NULL;
	}
	for (const char *p = data; *p; p++) {
		if (p[0] == '%' && p[1] == 'd') {
			o += sprintf(o, "%d", fd);
			p++;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
	return out;
}

static int parse_row(const struct row *r, const char *data,
		     struct sbx_fuse_opts *o)
{
	return sbx_fuse_opts_parse(r->type, r->source, data, r->flags, o);
}

static int case_rules(void)
{
	static struct sbx_fuse_opts o;

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char *data = subst(rows[i].data, 5);
		int err = parse_row(&rows[i], data, &o);

		FS_CHECK(err == -rows[i].err,
			 "type %s source %s flags %#lx data \"%s\": %d, "
			 "expected %d", rows[i].type,
			 rows[i].source ? rows[i].source : "(null)",
			 rows[i].flags, data ? data : "(null)", err,
			 -rows[i].err);
		free(data);
	}
	return 0;
}

/* ---- what a good parse keeps --------------------------------------- */

static struct sbx_fuse_opts opts;

static int parse(const char *type, const char *source, unsigned long flags,
		 const char *data)
{
	return sbx_fuse_opts_parse(type, source, data, flags, &opts);
}

static int case_parse_fields(void)
{
	FS_CHECK_EQ(parse("fuse.x", "src", NOSUID_NODEV,
			  "fd=7,rootmode=40755,user_id=1000,group_id=100,"
			  "default_permissions,allow_other,max_read=65536"), 0);
	FS_CHECK_EQ(opts.fd, 7);
	FS_CHECK_EQ(opts.rootmode, 040755);
	FS_CHECK_EQ(opts.user_id, 1000);
	FS_CHECK_EQ(opts.group_id, 100);
	FS_CHECK(opts.default_permissions && opts.allow_other, "flags lost");
	FS_CHECK_EQ(opts.max_read, 65536);
	FS_CHECK_EQ(opts.blksize, 0);
	FS_CHECK(!opts.is_blk, "fuse.x is not fuseblk");
	FS_CHECK(!strcmp(opts.subtype, "x"), "subtype \"%s\"", opts.subtype);
	FS_CHECK(!strcmp(opts.source, "src"), "source \"%s\"", opts.source);
	FS_CHECK_EQ(opts.sb_flags, 0);

	FS_CHECK_EQ(parse("fuse", NULL, 0, "fd=3,rootmode=40000,user_id=0,"
				       "group_id=0"), 0);
	FS_CHECK(!opts.subtype[0] && !opts.source[0], "subtype \"%s\" "
		 "source \"%s\"", opts.subtype, opts.source);
	FS_CHECK(!opts.default_permissions && !opts.allow_other &&
		 !opts.max_read, "defaults changed");

	/* Parsed, but the root must then match the mount point's type,
	 * which the caller checks (ENOTDIR on a directory). */
	FS_CHECK_EQ(parse("fuse", "s", 0, "fd=3,rootmode=100644,user_id=0,"
				      "group_id=0"), 0);
	FS_CHECK_EQ(opts.rootmode, 0100644);
	/* Kept whole: type and permission bits beyond 07777 as given. */
	FS_CHECK_EQ(parse("fuse", "s", 0, "fd=3,rootmode=1040755,user_id=0,"
				      "group_id=0"), 0);
	FS_CHECK(S_ISDIR(opts.rootmode), "rootmode %o", opts.rootmode);
	return 0;
}

static int case_number_syntax(void)
{
	static const struct {
		const char *data;
		int fd;
		unsigned uid, gid, mode;
	} ok[] = {
		{ "fd=0x1f,rootmode=40000,user_id=0,group_id=0", 31, 0, 0,
		  040000 },
		{ "fd=0X1F,rootmode=40000,user_id=0,group_id=0", 31, 0, 0,
		  040000 },
		{ "fd=017,rootmode=40000,user_id=0,group_id=0", 15, 0, 0,
		  040000 },
		{ "fd=0,rootmode=40000,user_id=0,group_id=0", 0, 0, 0,
		  040000 },
		{ "fd=+9,rootmode=+0040000,user_id=+010,group_id=0x10\n", 9,
		  8, 16, 040000 },
		{ "fd=2147483647,rootmode=140777,user_id=4294967294,"
		  "group_id=4294967294", 2147483647, 4294967294u, 4294967294u,
		  0140777 },
	};
	static const char *const bad[] = {
		"fd=0x,rootmode=40000,user_id=0,group_id=0",
		"fd=0xg,rootmode=40000,user_id=0,group_id=0",
		"fd=08,rootmode=40000,user_id=0,group_id=0",
		"fd=++1,rootmode=40000,user_id=0,group_id=0",
		"fd=+,rootmode=40000,user_id=0,group_id=0",
		"fd=1a,rootmode=40000,user_id=0,group_id=0",
		"fd=\n,rootmode=40000,user_id=0,group_id=0",
		"fd=3,rootmode=0o40000,user_id=0,group_id=0",
		"fd=3,rootmode=40000,user_id=99999999999999999999,group_id=0",
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		FS_CHECK(parse("fuse", "s", 0, ok[i].data) == 0, "\"%s\"",
			 ok[i].data);
		FS_CHECK(opts.fd == ok[i].fd && opts.user_id == ok[i].uid &&
			 opts.group_id == ok[i].gid &&
			 opts.rootmode == ok[i].mode,
			 "\"%s\": fd %d uid %u gid %u mode %o", ok[i].data,
			 opts.fd, (unsigned)opts.user_id,
			 (unsigned)opts.group_id, opts.rootmode);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		FS_CHECK(parse("fuse", "s", 0, bad[i]) == -EINVAL,
			 "\"%s\" accepted", bad[i]);
	/* Repeats: the last one wins. */
	FS_CHECK_EQ(parse("fuse", "s", 0, "fd=3,fd=4,rootmode=40000,"
				      "rootmode=100600,user_id=1,user_id=2,"
				      "group_id=3,group_id=4"), 0);
	FS_CHECK(opts.fd == 4 && opts.rootmode == 0100600 &&
		 opts.user_id == 2 && opts.group_id == 4, "last did not win");
	return 0;
}

static int case_sb_flags(void)
{
	static const struct {
		unsigned long flags;
		const char *words;
		unsigned long sb;
	} t[] = {
		{ 0, "", 0 },
		{ MS_RDONLY, "", MS_RDONLY },
		{ 0, ",ro", MS_RDONLY },
		{ 0, ",ro=whatever", MS_RDONLY },
		{ MS_RDONLY, ",rw", 0 },
		{ 0, ",ro,rw", 0 },
		{ 0, ",sync,dirsync,lazytime",
		  MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME },
		{ MS_SYNCHRONOUS | MS_LAZYTIME, ",async,nolazytime", 0 },
		{ MS_DIRSYNC, ",nomand", MS_DIRSYNC },
		/* nothing else of mount(2)'s flags reaches the superblock */
		{ NOSUID_NODEV | MS_NOEXEC | MS_NOATIME | MS_SILENT |
		  MS_POSIXACL | MS_I_VERSION | MS_NOSYMFOLLOW, "", 0 },
		{ MS_MGC_VAL | MS_RDONLY, "", MS_RDONLY },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char data[128];

		snprintf(data, sizeof(data), "fd=3,rootmode=40000,user_id=0,"
					     "group_id=0%s", t[i].words);
		FS_CHECK(parse("fuse", "s", t[i].flags, data) == 0,
			 "flags %#lx \"%s\" refused", t[i].flags, data);
		FS_CHECK(opts.sb_flags == t[i].sb,
			 "flags %#lx \"%s\": sb_flags %#lx, expected %#lx",
			 t[i].flags, data, opts.sb_flags, t[i].sb);
	}
	return 0;
}

static int case_subtype_source(void)
{
	FS_CHECK_EQ(parse("fuse", "s", 0, "fd=3,rootmode=40000,user_id=0,"
				      "group_id=0,subtype=sshfs"), 0);
	FS_CHECK(!strcmp(opts.subtype, "sshfs"), "\"%s\"", opts.subtype);
	FS_CHECK_EQ(parse("fuse.a.b", "s", 0, "fd=3,rootmode=40000,"
					  "user_id=0,group_id=0"), 0);
	FS_CHECK(!strcmp(opts.subtype, "a.b"), "\"%s\"", opts.subtype);
	FS_CHECK_EQ(parse("fuseblk.ntfs", "/dev/sda1", 0,
			  "fd=3,rootmode=40000,user_id=0,group_id=0"), 0);
	FS_CHECK(opts.is_blk && !strcmp(opts.subtype, "ntfs"), "\"%s\"",
		 opts.subtype);
	FS_CHECK_EQ(parse("fuse", NULL, 0, "fd=3,rootmode=40000,user_id=0,"
				       "group_id=0,source=a=b c"), 0);
	FS_CHECK(!strcmp(opts.source, "a=b c"), "\"%s\"", opts.source);
	/* Not the caller's to dispatch, but no FUSE type either. */
	FS_CHECK_EQ(parse("ext4", "/dev/sda1", 0, "fd=3,rootmode=40000,"
						  "user_id=0,group_id=0"),
		    -ENODEV);
	FS_CHECK_EQ(parse(NULL, "s", 0, "fd=3,rootmode=40000,user_id=0,"
				       "group_id=0"), -EINVAL);
	/* mount(2) copies strings of at most PATH_MAX - 1 bytes. */
	{
		static char longsrc[PATH_MAX + 1], longtype[PATH_MAX + 1];

		memset(longsrc, 's', PATH_MAX - 1);
		FS_CHECK_EQ(parse("fuse", longsrc, 0, "fd=3,rootmode=40000,"
						      "user_id=0,group_id=0"),
			    0);
		FS_CHECK_EQ(strlen(opts.source), PATH_MAX - 1);
		longsrc[PATH_MAX - 1] = 's';
		FS_CHECK_EQ(parse("fuse", longsrc, 0, "fd=3,rootmode=40000,"
						      "user_id=0,group_id=0"),
			    -EINVAL);
		memcpy(longtype, "fuse.", 5);
		memset(longtype + 5, 't', PATH_MAX - 6);
		FS_CHECK_EQ(parse(longtype, "s", 0, "fd=3,rootmode=40000,"
						    "user_id=0,group_id=0"),
			    0);
		FS_CHECK_EQ(strlen(opts.subtype), PATH_MAX - 6);
		longtype[PATH_MAX - 1] = 't';
		FS_CHECK_EQ(parse(longtype, "s", 0, "fd=3,rootmode=40000,"
						    "user_id=0,group_id=0"),
			    -EINVAL);
	}
	return 0;
}

static int case_fuseblk(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char want[128];
	char data[128];
	char shown[256];

	FS_CHECK_EQ(parse("fuseblk", "/dev/sda1", 0,
			  "fd=3,rootmode=40000,user_id=0,group_id=0"), 0);
	FS_CHECK(opts.is_blk && opts.blksize == 0, "blksize %u",
		 opts.blksize);
	for (unsigned b = 256; b <= 2 * (unsigned)page; b *= 2) {
		snprintf(data, sizeof(data), "fd=3,rootmode=40000,user_id=0,"
					     "group_id=0,blksize=%u", b);
		FS_CHECK(parse("fuseblk", "/dev/sda1", 0, data) ==
			 (b >= 512 && b <= page ? 0 : -EINVAL),
			 "blksize=%u", b);
	}
	FS_CHECK_EQ(parse("fuseblk", "/dev/sda1", 0, "fd=3,rootmode=40000,"
						     "user_id=0,group_id=0,"
						     "blksize=1000"), -EINVAL);
	FS_CHECK_EQ(parse("fuseblk", "/dev/sda1", 0, "fd=3,rootmode=40000,"
						     "user_id=0,group_id=0,"
						     "blksize=0"), -EINVAL);
	/* The last one is the one checked. */
	FS_CHECK_EQ(parse("fuseblk", "/dev/sda1", 0, "fd=3,rootmode=40000,"
						     "user_id=0,group_id=0,"
						     "blksize=1000,"
						     "blksize=1024"), 0);
	FS_CHECK_EQ(opts.blksize, 1024);
	/* 6.17+: the superblock's block size is the page size. */
	FS_CHECK(sbx_fuse_opts_show(&opts, shown, sizeof(shown)) > 0,
		 "show failed");
	snprintf(want, sizeof(want), "user_id=0,group_id=0,blksize=%ld",
		 page);
	FS_CHECK(!strcmp(shown, want), "\"%s\", expected \"%s\"", shown,
		 want);
	/* A device is needed (get_tree_bdev); fuse does not take one. */
	FS_CHECK_EQ(parse("fuseblk", NULL, 0, "fd=3,rootmode=40000,user_id=0,"
					      "group_id=0"), -EINVAL);
	FS_CHECK_EQ(parse("fuseblk", NULL, 0, "fd=3,rootmode=40000,user_id=0,"
					      "group_id=0,source=/dev/sdb"),
		    0);
	return 0;
}

/* The page: Linux reads one page of data and NUL-terminates it in its
 * last byte, so only page size - 1 bytes count. */
static char *long_data(int fd, size_t total, const char *tail)
{
	char *base = subst(BASE, fd), *out = malloc(total + 1);
	size_t b = base ? strlen(base) : 0, t = strlen(tail);

	if (!base || !out || total < b + t) {
		free(base);
		free(out);
		return NULL;
	}
	memcpy(out, base, b);
	memset(out + b, ',', total - b - t);
	memcpy(out + total - t, tail, t);
	out[total] = '\0';
	free(base);
	return out;
}

struct long_row {
	size_t minus;	/* total = page size - minus */
	const char *tail;
	int err;
	bool allow_other;
};

static const struct long_row long_rows[] = {
	{ 1, ",allow_other", 0, true },
	{ 0, ",allow_other", EINVAL, false },	/* "allow_othe" */
	{ 0, ",allow_otherX", 0, true },	/* "allow_other" */
	{ 1, ",allow_otherX", EINVAL, false },
	{ 2, ",allow_other,", 0, true },
};

static int case_data_page(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (size_t i = 0; i < sizeof(long_rows) / sizeof(long_rows[0]); i++) {
		const struct long_row *r = &long_rows[i];
		char *data = long_data(5, page - r->minus, r->tail);
		int err;

		FS_CHECK(data != NULL, "no memory");
		err = parse("fuse", "s", 0, data);
		free(data);
		FS_CHECK(err == -r->err, "%zu bytes ending \"%s\": %d",
			 page - r->minus, r->tail, err);
		FS_CHECK(err || opts.allow_other == r->allow_other,
			 "%zu bytes ending \"%s\": allow_other %d",
			 page - r->minus, r->tail, opts.allow_other);
	}
	return 0;
}

/* ---- fuse_show_options --------------------------------------------- */

static int check_show(const char *data, const char *want)
{
	char buf[256];
	int n;

	FS_CHECK(parse("fuse", "s", 0, data) == 0, "\"%s\" refused", data);
	n = sbx_fuse_opts_show(&opts, buf, sizeof(buf));
	FS_CHECK(n == (int)strlen(want) && !strcmp(buf, want),
		 "\"%s\": %d \"%s\", expected \"%s\"", data, n,
		 n >= 0 ? buf : "", want);
	return 0;
}

static int case_show(void)
{
	char buf[64];
	int n;

	if (check_show("fd=3,rootmode=40000,user_id=0,group_id=0",
		       "user_id=0,group_id=0") ||
	    check_show("fd=3,rootmode=40000,user_id=1000,group_id=1001,"
		       "allow_other,default_permissions",
		       "user_id=1000,group_id=1001,default_permissions,"
		       "allow_other") ||
	    check_show("fd=3,rootmode=40000,user_id=0,group_id=0,max_read=0",
		       "user_id=0,group_id=0,max_read=4096") ||
	    check_show("fd=3,rootmode=40000,user_id=0,group_id=0,"
		       "max_read=4294967295", "user_id=0,group_id=0") ||
	    check_show("fd=3,rootmode=40000,user_id=0,group_id=0,"
		       "max_read=4294967294",
		       "user_id=0,group_id=0,max_read=4294967294") ||
	    check_show("fd=3,rootmode=40000,user_id=0,group_id=0,ro,sync,"
		       "subtype=x", "user_id=0,group_id=0"))
		return FS_FAIL;
	/* Exactly the room it needs, and one byte less. */
	FS_CHECK_EQ(parse("fuse", "s", 0, "fd=3,rootmode=40000,user_id=0,"
				      "group_id=0,allow_other"), 0);
	n = sbx_fuse_opts_show(&opts, buf, 33);
	FS_CHECK(n == 32 && !strcmp(buf, "user_id=0,group_id=0,allow_other"),
		 "%d \"%s\"", n, buf);
	FS_CHECK_EQ(sbx_fuse_opts_show(&opts, buf, 32), -ENOSPC);
	FS_CHECK_EQ(sbx_fuse_opts_show(&opts, buf, 5), -ENOSPC);
	FS_CHECK_EQ(sbx_fuse_opts_show(&opts, buf, 0), -ENOSPC);
	return 0;
}

/* ---- mountinfo and mounts ------------------------------------------ */

static const char host_text[] =
	"22 27 0:21 / /proc rw,relatime - proc proc rw\n"
	"27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard\n"
	"28 27 0:25 / /tmp rw,nosuid,nodev - tmpfs tmpfs rw,size=4k\n"
	"29 28 0:26 / /tmp/a rw,relatime - tmpfs t rw\n"
	"30 28 0:27 / /tmp/a rw,relatime - tmpfs t2 rw\n"
	"31 28 0:28 / /tmp/a\\040b rw,relatime - tmpfs t3 rw\n"
	"32 28 0:29 / /tmp/a\\134 rw,relatime - tmpfs t4 rw\n";

static struct sbx_mount_desc desc(int id, const char *mp, const char *src,
				  const char *type, unsigned long flags,
				  unsigned long sb_flags, const char *super)
{
	return (struct sbx_mount_desc){
		.mnt_id = id, .major = 0, .minor = 50, .mountpoint = mp,
		.source = src, .fstype = type, .flags = flags,
		.sb_flags = sb_flags, .super_opts = super,
	};
}

/* The lines render added after the host text, one string. */
static char *added(bool info, const char *host,
		   const struct sbx_mount_desc *d, size_t n)
{
	size_t len, hl = strlen(host);
	char *all = info ? sbx_mountinfo_render(host, hl, d, n, &len)
			 : sbx_mounts_render(host, hl, d, n, &len);
	char *tail;

	if (!all)
		return NULL;
	if (len < hl || memcmp(all, host, hl) != 0 || strlen(all) != len) {
		free(all);
		return strdup("(host text changed)");
	}
	tail = strdup(all + hl);
	free(all);
	return tail;
}

static int expect_added(bool info, const char *host,
			const struct sbx_mount_desc *d, size_t n,
			const char *want)
{
	char *got = added(info, host, d, n);

	FS_CHECK(got && !strcmp(got, want), "%s:\n  got      \"%s\"\n"
		 "  expected \"%s\"", info ? "mountinfo" : "mounts",
		 got ? got : strerror(errno), want);
	free(got);
	return 0;
}

static int case_mountinfo_format(void)
{
	struct sbx_mount_desc d[2] = {
		desc(100, "/tmp/m", "hello", "fuse.hello", NOSUID_NODEV, 0,
		     "user_id=0,group_id=0"),
		desc(101, "/tmp/sp ce\ttab\nnl\\bs", "a b\t\n\\", "fuse.x y",
		     0, 0, "user_id=1,group_id=2"),
	};

	if (expect_added(true, host_text, d, 1,
			 "100 28 0:50 / /tmp/m rw,nosuid,nodev,relatime - "
			 "fuse.hello hello rw,user_id=0,group_id=0\n") ||
	    expect_added(false, host_text, d, 1,
			 "hello /tmp/m fuse.hello rw,nosuid,nodev,relatime,"
			 "user_id=0,group_id=0 0 0\n") ||
	    expect_added(true, host_text, d, 2,
			 "100 28 0:50 / /tmp/m rw,nosuid,nodev,relatime - "
			 "fuse.hello hello rw,user_id=0,group_id=0\n"
			 "101 28 0:50 / /tmp/sp\\040ce\\011tab\\012nl\\134bs "
			 "rw,relatime - fuse.x\\040y a\\040b\\011\\012\\134 "
			 "rw,user_id=1,group_id=2\n") ||
	    expect_added(false, host_text, d + 1, 1,
			 "a\\040b\\011\\012\\134 /tmp/sp\\040ce\\011tab\\012nl"
			 "\\134bs fuse.x\\040y rw,relatime,user_id=1,"
			 "group_id=2 0 0\n"))
		return FS_FAIL;
	/* No source: "none"; no super options: just rw. */
	d[0] = desc(100, "/x", "", "fuse", 0, 0, "");
	d[1] = desc(101, "/y", NULL, "fuse", 0, 0, NULL);
	if (expect_added(true, host_text, d, 2,
			 "100 27 0:50 / /x rw,relatime - fuse none rw\n"
			 "101 27 0:50 / /y rw,relatime - fuse none rw\n") ||
	    expect_added(false, host_text, d, 2,
			 "none /x fuse rw,relatime 0 0\n"
			 "none /y fuse rw,relatime 0 0\n"))
		return FS_FAIL;
	/* No mounts: the host text, untouched; a missing last newline is
	 * added before our lines. */
	if (expect_added(true, host_text, d, 0, "") ||
	    expect_added(true, "", d, 1,
			 "100 0 0:50 / /x rw,relatime - fuse none rw\n") ||
	    expect_added(true, "27 1 254:0 / / rw - ext4 /dev/vda rw", d, 1,
			 "\n100 27 0:50 / /x rw,relatime - fuse none rw\n"))
		return FS_FAIL;
	return 0;
}

static int expect_parent(const char *mp, int want)
{
	struct sbx_mount_desc d = desc(100, mp, "s", "fuse", 0, 0, "");
	char *got = added(true, host_text, &d, 1);
	int parent = -1;

	FS_CHECK(got && sscanf(got, "100 %d ", &parent) == 1,
		 "%s: \"%s\"", mp, got ? got : strerror(errno));
	free(got);
	FS_CHECK(parent == want, "%s: parent %d, expected %d", mp, parent,
		 want);
	return 0;
}

static int case_mountinfo_parent(void)
{
	struct sbx_mount_desc d[3];
	char *got;

	if (expect_parent("/", 27) ||		/* over the root itself */
	    expect_parent("/home/u/m", 27) ||
	    expect_parent("/tmp", 28) ||	/* over /tmp itself */
	    expect_parent("/tmp/m", 28) ||
	    expect_parent("/tmp/a", 30) ||	/* the last of two */
	    expect_parent("/tmp/a/b/c", 30) ||
	    expect_parent("/tmp/ab", 28) ||	/* not inside /tmp/a */
	    expect_parent("/tmp/a b", 31) ||	/* host path unescaped */
	    expect_parent("/tmp/a b/c", 31) ||
	    expect_parent("/tmp/a\\/x", 32) ||
	    expect_parent("/proc/self", 22) ||
	    expect_parent("/procx", 27))
		return FS_FAIL;
	/* Our own mounts are places too, in the order they were made. */
	d[0] = desc(100, "/tmp/m", "s", "fuse", 0, 0, "");
	d[1] = desc(101, "/tmp/m/sub", "s", "fuse", 0, 0, "");
	d[2] = desc(102, "/tmp/m", "s", "fuse", 0, 0, "");
	got = added(true, host_text, d, 3);
	FS_CHECK(got && !strcmp(got,
				"100 28 0:50 / /tmp/m rw,relatime - fuse s rw\n"
				"101 100 0:50 / /tmp/m/sub rw,relatime - fuse s"
				" rw\n"
				"102 100 0:50 / /tmp/m rw,relatime - fuse s "
				"rw\n"),
		 "\"%s\"", got ? got : strerror(errno));
	free(got);
	return 0;
}

static int case_mountinfo_options(void)
{
	static const struct {
		unsigned long flags, sb;
		const char *mi_mnt, *mi_sb, *mounts;
	} t[] = {
		{ 0, 0, "rw,relatime", "rw", "rw,relatime" },
		{ MS_RDONLY, 0, "ro,relatime", "rw", "ro,relatime" },
		{ 0, MS_RDONLY, "rw,relatime", "ro", "ro,relatime" },
		{ MS_RDONLY, MS_RDONLY, "ro,relatime", "ro", "ro,relatime" },
		{ MS_NOSUID | MS_NODEV | MS_NOEXEC, 0,
		  "rw,nosuid,nodev,noexec,relatime", "rw",
		  "rw,nosuid,nodev,noexec,relatime" },
		{ MS_NOATIME, 0, "rw,noatime", "rw", "rw,noatime" },
		{ MS_STRICTATIME, 0, "rw", "rw", "rw" },
		{ MS_NOATIME | MS_STRICTATIME, 0, "rw", "rw", "rw" },
		{ MS_RELATIME, 0, "rw,relatime", "rw", "rw,relatime" },
		{ MS_NODIRATIME, 0, "rw,nodiratime,relatime", "rw",
		  "rw,nodiratime,relatime" },
		{ MS_NODIRATIME | MS_NOATIME, 0, "rw,noatime,nodiratime",
		  "rw", "rw,noatime,nodiratime" },
		{ MS_NOSYMFOLLOW, 0, "rw,relatime,nosymfollow", "rw",
		  "rw,relatime,nosymfollow" },
		{ 0, MS_SYNCHRONOUS | MS_DIRSYNC | MS_LAZYTIME, "rw,relatime",
		  "rw,sync,dirsync,lazytime",
		  "rw,sync,dirsync,lazytime,relatime" },
		{ MS_NOSUID | MS_RDONLY, MS_LAZYTIME, "ro,nosuid,relatime",
		  "rw,lazytime", "ro,lazytime,nosuid,relatime" },
		/* flags with no word in either list */
		{ MS_SILENT | MS_POSIXACL | MS_REC | MS_I_VERSION, 0,
		  "rw,relatime", "rw", "rw,relatime" },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct sbx_mount_desc d = desc(100, "/m", "s", "fuse",
					       t[i].flags, t[i].sb,
					       "user_id=0,group_id=0");
		char mi[256], mo[256];

		snprintf(mi, sizeof(mi), "100 27 0:50 / /m %s - fuse s %s,"
					 "user_id=0,group_id=0\n",
			 t[i].mi_mnt, t[i].mi_sb);
		snprintf(mo, sizeof(mo), "s /m fuse %s,user_id=0,group_id=0 "
					 "0 0\n", t[i].mounts);
		if (expect_added(true, host_text, &d, 1, mi) ||
		    expect_added(false, host_text, &d, 1, mo))
			return FS_FAIL;
	}
	return 0;
}

static int case_mountinfo_shared(void)
{
	static const char host[] =
		"27 1 254:0 / / rw,relatime shared:1 - ext4 /dev/vda rw\n"
		"40 27 0:40 / /pvt rw,relatime - tmpfs t rw\n"
		"41 27 0:41 / /slave rw,relatime master:3 - tmpfs t rw\n"
		"42 27 0:42 / /both rw,relatime shared:4 master:2 - tmpfs t "
		"rw\n"
		"43 27 0:43 / /unb rw,relatime unbindable - tmpfs t rw\n"
		"44 27 0:44 / /prop rw,relatime master:7 propagate_from:5 - "
		"tmpfs t rw\n";
	struct sbx_mount_desc d[6] = {
		desc(100, "/m", "s", "fuse", 0, 0, ""),
		desc(101, "/pvt/m", "s", "fuse", 0, 0, ""),
		desc(102, "/slave/m", "s", "fuse", 0, 0, ""),
		desc(103, "/both/m", "s", "fuse", 0, 0, ""),
		desc(104, "/unb/m", "s", "fuse", 0, 0, ""),
		desc(105, "/m/in", "s", "fuse", 0, 0, ""),
	};

	/* Under a shared mount: a new group, the lowest id not in sight
	 * (1-5 and 7 are); under the others: no tag; under our own
	 * shared mount: shared again, with a group of its own. */
	return expect_added(true, host, d, 6,
			    "100 27 0:50 / /m rw,relatime shared:6 - fuse s "
			    "rw\n"
			    "101 40 0:50 / /pvt/m rw,relatime - fuse s rw\n"
			    "102 41 0:50 / /slave/m rw,relatime - fuse s rw\n"
			    "103 42 0:50 / /both/m rw,relatime shared:8 - "
			    "fuse s rw\n"
			    "104 43 0:50 / /unb/m rw,relatime - fuse s rw\n"
			    "105 100 0:50 / /m/in rw,relatime shared:9 - "
			    "fuse s rw\n");
}

static int case_mountinfo_misc(void)
{
	struct sbx_mount_desc d = desc(100, "rel/path", "s", "fuse", 0, 0,
				       "");
	size_t len;

	FS_CHECK_EQ(sbx_mountinfo_max_id(host_text, strlen(host_text)), 32);
	FS_CHECK_EQ(sbx_mountinfo_max_id("", 0), 0);
	FS_CHECK_EQ(sbx_mountinfo_max_id("7 1 0:1 / / rw - x y rw\n"
					 "12 7 0:2 / /a rw - x y rw", 48), 12);
	/* Only the given length is read. */
	FS_CHECK_EQ(sbx_mountinfo_max_id("7 1 0:1 / / rw - x y rw\n"
					 "12 7 0:2 / /a rw - x y rw", 24), 7);
	errno = 0;
	FS_CHECK(!sbx_mountinfo_render(host_text, strlen(host_text), &d, 1,
				       &len) && errno == EINVAL,
		 "relative mount point accepted");
	errno = 0;
	FS_CHECK(!sbx_mounts_render(host_text, strlen(host_text), &d, 1,
				    &len) && errno == EINVAL,
		 "relative mount point accepted");
	d.mountpoint = "/m";
	d.fstype = NULL;
	errno = 0;
	FS_CHECK(!sbx_mountinfo_render(host_text, strlen(host_text), &d, 1,
				       &len) && errno == EINVAL,
		 "no fstype accepted");
	return 0;
}

/* ---- the kernel as the oracle -------------------------------------- */

static int kernel_skip(void)
{
	int fd;

	if (geteuid() != 0) {
		printf("skip: comparing with the kernel's mount(2) needs "
		       "root\n");
		return FS_SKIP;
	}
	fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		printf("skip: cannot open /dev/fuse: %s\n", strerror(errno));
		return FS_SKIP;
	}
	close(fd);
	return 0;
}

static char *read_text(const char *path)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (!buf || fd < 0) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	while ((n = read(fd, buf + len, cap - len - 1)) > 0) {
		len += (size_t)n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap *= 2);

			if (!nb) {
				free(buf);
				close(fd);
				return NULL;
			}
			buf = nb;
		}
	}
	close(fd);
	buf[len] = '\0';
	return buf;
}

/* The line of text whose field (0-based, space separated) is value;
 * malloc'd, with its newline. */
static char *line_with(const char *text, int field, const char *value)
{
	size_t vlen = strlen(value);

	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n'), *f = p;
		size_t len = nl ? (size_t)(nl - p) + 1 : strlen(p);

		for (int i = 0; i < field && f && f < p + len; i++) {
			f = memchr(f, ' ', (size_t)(p + len - f));
			f = f ? f + 1 : NULL;
		}
		if (f && f + vlen < p + len && !memcmp(f, value, vlen) &&
		    (f[vlen] == ' ' || f[vlen] == '\n'))
			return strndup(p, len);
		p += len;
	}
	return NULL;
}

/* A shared mount's group id depends on ids in use elsewhere: compare
 * without it. */
static void mask_group(char *line)
{
	char *p = line ? strstr(line, " shared:") : NULL;

	if (!p)
		return;
	for (p += 8; *p >= '0' && *p <= '9'; p++)
		*p = 'N';
}

/* Our two lines for the mount at dir, made from the kernel's own id and
 * device, compared with the kernel's lines. */
static int compare_lines(const char *what, const char *dir,
			 const char *mi_before, const char *mo_before,
			 const struct sbx_fuse_opts *o, unsigned long flags)
{
	char *mi_after = read_text("/proc/self/mountinfo");
	char *mo_after = read_text("/proc/self/mounts");
	char *kmi = mi_after ? line_with(mi_after, 4, dir) : NULL;
	char *kmo = mo_after ? line_with(mo_after, 1, dir) : NULL;
	char fstype[PATH_MAX + 16], super[256], *ours_mi = NULL;
	char *ours_mo = NULL;
	struct sbx_mount_desc d;
	int ok = 0, id = 0;
	unsigned maj = 0, min = 0;

	if (kmi && sscanf(kmi, "%d %*d %u:%u", &id, &maj, &min) == 3 &&
	    sbx_fuse_opts_show(o, super, sizeof(super)) >= 0) {
		snprintf(fstype, sizeof(fstype), "%s%s%s",
			 o->is_blk ? "fuseblk" : "fuse",
			 o->subtype[0] ? "." : "", o->subtype);
		d = (struct sbx_mount_desc){
			.mnt_id = id, .major = maj, .minor = min,
			.mountpoint = dir, .source = o->source,
			.fstype = fstype, .flags = flags,
			.sb_flags = o->sb_flags, .super_opts = super,
		};
		ours_mi = added(true, mi_before, &d, 1);
		ours_mo = added(false, mo_before, &d, 1);
		mask_group(ours_mi);
		mask_group(kmi);
		ok = ours_mi && ours_mo && kmo && !strcmp(ours_mi, kmi) &&
		     !strcmp(ours_mo, kmo);
	}
	if (!ok)
		fprintf(stderr, "%s:\n  kernel mountinfo %s  ours            "
				" %s  kernel mounts    %s  ours             "
				"%s", what, kmi ? kmi : "(none)\n",
			ours_mi ? ours_mi : "(none)\n",
			kmo ? kmo : "(none)\n", ours_mo ? ours_mo : "(none)\n");
	free(mi_after);
	free(mo_after);
	free(kmi);
	free(kmo);
	free(ours_mi);
	free(ours_mo);
	return ok ? 0 : FS_FAIL;
}

/* One row through the kernel and through sbx_fuse_opts_parse. */
static int kernel_row(const char *dir, const char *source, const char *type,
		      unsigned long flags, const char *data_fmt,
		      const char *data_given, int want_err)
{
	static struct sbx_fuse_opts o;
	char *mi_before = read_text("/proc/self/mountinfo");
	char *mo_before = read_text("/proc/self/mounts");
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	char *data = data_given ? strdup(data_given) : subst(data_fmt, fd);
	char what[512];
	int kerr, perr, rc = 0;

	FS_CHECK(fd >= 0 && fd < 8 && mi_before && mo_before,
		 "setup: fd %d", fd);
	/* "%d" must stay one digit: "0%d" is read as octal. */
	FS_CHECK(data || !data_fmt, "no memory");
	snprintf(what, sizeof(what), "type %s source %s flags %#lx data "
		 "\"%.300s\"", type, source ? source : "(null)", flags,
		 data ? data : "(null)");
	kerr = mount(source, dir, type, flags, data) ? errno : 0;
	perr = sbx_fuse_opts_parse(type, source, data, flags, &o);
	if (kerr != -perr || kerr != want_err) {
		fprintf(stderr, "%s: kernel %d, ours %d, table %d\n", what,
			kerr, -perr, want_err);
		rc = FS_FAIL;
	}
	if (!kerr) {
		if (!perr && compare_lines(what, dir, mi_before, mo_before,
					   &o, flags))
			rc = FS_FAIL;
		FS_CHECK(umount2(dir, MNT_DETACH) == 0, "umount %s: %s", dir,
			 strerror(errno));
	}
	close(fd);
	free(data);
	free(mi_before);
	free(mo_before);
	return rc;
}

static int case_kernel_rules(void)
{
	char dir[] = "/tmp/fbmountopt.XXXXXX";
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int rc = kernel_skip(), failed = 0, fd;

	if (rc)
		return rc;
	FS_CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		if (kernel_row(dir, rows[i].source, rows[i].type,
			       rows[i].flags, rows[i].data, NULL,
			       rows[i].err))
			failed++;
	/* The page limit, with the descriptor kernel_row will get. */
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	close(fd);
	for (size_t i = 0; i < sizeof(long_rows) / sizeof(long_rows[0]); i++) {
		char *data = long_data(fd, page - long_rows[i].minus,
				       long_rows[i].tail);

		if (!data || kernel_row(dir, "s", "fuse", 0, NULL, data,
					long_rows[i].err))
			failed++;
		free(data);
	}
	rmdir(dir);
	FS_CHECK(failed == 0, "%d rows differ from the kernel's mount(2)",
		 failed);
	return 0;
}

/* Under a shared parent the kernel makes the new mount shared (a new
 * peer group); under an unbindable one it stays private. */
static int case_kernel_shared_parent(void)
{
	char top[] = "/tmp/fbshared.XXXXXX", sub[64];
	int rc = kernel_skip();

	if (rc)
		return rc;
	FS_CHECK(mkdtemp(top) != NULL, "mkdtemp: %s", strerror(errno));
	FS_CHECK(mount("fbtest", top, "tmpfs", 0, "size=64k") == 0,
		 "tmpfs on %s: %s", top, strerror(errno));
	snprintf(sub, sizeof(sub), "%s/m", top);
	if (mkdir(sub, 0755) || mount(NULL, top, NULL, MS_SHARED, NULL))
		rc = FS_FAIL;
	if (!rc)
		rc = kernel_row(sub, "s", "fuse", NOSUID_NODEV, BASE, NULL, 0);
	if (!rc && mount(NULL, top, NULL, MS_UNBINDABLE, NULL))
		rc = FS_FAIL;
	if (!rc)
		rc = kernel_row(sub, "s", "fuse", NOSUID_NODEV, BASE, NULL, 0);
	umount2(top, MNT_DETACH);
	rmdir(top);
	return rc;
}

/* build/servers/hello, next to this program's build directory. */
static bool hello_path(char *buf, size_t size)
{
	const char *build = getenv("FUSEBOX_BUILD");
	char exe[PATH_MAX];
	ssize_t n;

	if (build && (size_t)snprintf(buf, size, "%s/servers/hello",
				      build) < size &&
	    access(buf, X_OK) == 0)
		return true;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return false;
	exe[n] = '\0';
	/* BUILD/tests/test_mountopt */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');

		if (!slash)
			return false;
		*slash = '\0';
	}
	if ((size_t)snprintf(buf, size, "%s/servers/hello", exe) >= size)
		return false;
	return access(buf, X_OK) == 0;
}

/* libfuse's hello as root: mount(2) of "hello" on dir, type fuse.hello,
 * MS_NOSUID|MS_NODEV, "fd=N,rootmode=40000,user_id=U,group_id=G". */
static int case_kernel_hello(void)
{
	char dir[] = "/tmp/fbhello.XXXXXX", hello[PATH_MAX], data[128];
	char *mi_before, *mo_before;
	int rc = kernel_skip(), status;
	pid_t pid;

	if (rc)
		return rc;
	if (!hello_path(hello, sizeof(hello))) {
		printf("skip: build/servers/hello is missing (make first)\n");
		return FS_SKIP;
	}
	FS_CHECK(mkdtemp(dir) != NULL, "mkdtemp: %s", strerror(errno));
	mi_before = read_text("/proc/self/mountinfo");
	mo_before = read_text("/proc/self/mounts");
	FS_CHECK(mi_before && mo_before, "cannot read /proc/self");
	pid = fork();
	if (pid == 0) {
		/* It mounts, then goes to the background: the parent
		 * exits once the mount is made. */
		execl(hello, hello, dir, (char *)NULL);
		_exit(127);
	}
	FS_CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		 WIFEXITED(status) && WEXITSTATUS(status) == 0,
		 "%s %s failed", hello, dir);
	snprintf(data, sizeof(data), "fd=3,rootmode=40000,user_id=%u,"
				     "group_id=%u", (unsigned)getuid(),
		 (unsigned)getgid());
	FS_CHECK_EQ(parse("fuse.hello", "hello", NOSUID_NODEV, data), 0);
	rc = compare_lines(hello, dir, mi_before, mo_before, &opts,
			   NOSUID_NODEV);
	/* The server ends when its mount goes. */
	umount2(dir, 0);
	rmdir(dir);
	free(mi_before);
	free(mo_before);
	return rc;
}

static const struct fakesrv_case cases[] = {
	{ "rules", case_rules },
	{ "parse_fields", case_parse_fields },
	{ "number_syntax", case_number_syntax },
	{ "sb_flags", case_sb_flags },
	{ "subtype_source", case_subtype_source },
	{ "fuseblk", case_fuseblk },
	{ "data_page", case_data_page },
	{ "show", case_show },
	{ "mountinfo_format", case_mountinfo_format },
	{ "mountinfo_parent", case_mountinfo_parent },
	{ "mountinfo_options", case_mountinfo_options },
	{ "mountinfo_shared", case_mountinfo_shared },
	{ "mountinfo_misc", case_mountinfo_misc },
	{ "kernel_rules", case_kernel_rules },
	{ "kernel_shared_parent", case_kernel_shared_parent },
	{ "kernel_hello", case_kernel_hello },
};

int main(int argc, char **argv)
{
	return fakesrv_main(cases, sizeof(cases) / sizeof(cases[0]), argc,
			    argv, 60);
}
