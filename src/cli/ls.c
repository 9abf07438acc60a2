/*
 * ls.c - `fusebox ls [-a] [PATH]`: the long listing GNU `ls -l` (or
 * `ls -la`) prints, for one directory or one file.
 *
 * Two passes, as in ls: collect every entry's status first to learn the
 * column widths, then print. Fields are right-aligned numbers and
 * left-aligned names; a numeric owner (no name here) is right-aligned.
 * Symlinks are listed, not followed, like `ls -l` does for its operands,
 * unless PATH ends in '/'.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cli.h"

struct ls_entry {
	const char *name;	/* as printed */
	struct stat st;
	char *target;		/* symlink target; NULL if none or unreadable */
};

struct ls_widths {
	int nlink, owner, group, size, major, minor;
};

static int is_device(mode_t mode)
{
	return S_ISCHR(mode) || S_ISBLK(mode);
}

static int max(int a, int b)
{
	return a > b ? a : b;
}

static void measure(const struct ls_entry *e, struct ls_widths *w)
{
	const char *user = cli_user_name(e->st.st_uid);
	const char *group = cli_group_name(e->st.st_gid);

	w->nlink = max(w->nlink, cli_digits(e->st.st_nlink));
	w->owner = max(w->owner, user ? (int)strlen(user) :
				 cli_digits(e->st.st_uid));
	w->group = max(w->group, group ? (int)strlen(group) :
				 cli_digits(e->st.st_gid));
	if (is_device(e->st.st_mode)) {
		w->major = max(w->major, cli_digits(major(e->st.st_rdev)));
		w->minor = max(w->minor, cli_digits(minor(e->st.st_rdev)));
		w->size = max(w->size, w->major + 2 + w->minor);
	} else {
		w->size = max(w->size, cli_digits((unsigned long long)
						  e->st.st_size));
	}
}

static void print_id(const char *name, unsigned id, int width)
{
	if (name)
		printf("%-*s ", width, name);
	else
		printf("%*u ", width, id);
}

static void print_entry(const struct ls_entry *e, const struct ls_widths *w)
{
	char mode[11], when[64];

	cli_mode_string(e->st.st_mode, mode);
	cli_ls_time(&e->st.st_mtim, when, sizeof(when));
	printf("%s %*lu ", mode, w->nlink, (unsigned long)e->st.st_nlink);
	print_id(cli_user_name(e->st.st_uid), e->st.st_uid, w->owner);
	print_id(cli_group_name(e->st.st_gid), e->st.st_gid, w->group);
	if (is_device(e->st.st_mode))
		/* The size column is at least major + ", " + minor wide;
		 * any extra goes in front of the major number. */
		printf("%*u, %*u ", w->size - 2 - w->minor,
		       major(e->st.st_rdev), w->minor, minor(e->st.st_rdev));
	else
		printf("%*lld ", w->size, (long long)e->st.st_size);
	printf("%s %s", when, e->name);
	if (e->target)
		printf(" -> %s", e->target);
	putchar('\n');
}

static void print_all(const struct ls_entry *v, size_t n)
{
	struct ls_widths w = { 0 };

	for (size_t i = 0; i < n; i++)
		measure(&v[i], &w);
	for (size_t i = 0; i < n; i++)
		print_entry(&v[i], &w);
}

/* Reads the target of a symlink entry; a failure is reported and the
 * entry printed without its arrow, as ls does. */
static int read_target(struct fb_fs *fs, const struct cli_args *a, int dirfd,
		       const char *path, struct ls_entry *e)
{
	int err;

	e->target = NULL;
	if (!S_ISLNK(e->st.st_mode))
		return 0;
	e->target = cli_readlink(fs, dirfd, path, &err);
	if (e->target)
		return 0;
	cli_error(a, "cannot read symbolic link '%s': %s", path,
		  strerror(-err));
	return 1;
}

static int list_dir(struct fb_fs *fs, const struct cli_args *a,
		    const char *path)
{
	struct cli_dir d;
	struct ls_entry *v;
	unsigned long long blocks = 0;
	size_t n = 0;
	int fd, rc, status = 0;

	fd = fb_open(fs, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		cli_error(a, "cannot open directory '%s': %s", path,
			  strerror(-fd));
		return 1;
	}
	rc = cli_dir_read(fs, fd, a->all, &d);
	if (rc < 0) {
		cli_error(a, "reading directory '%s': %s", path,
			  strerror(-rc));
		fb_close(fs, fd);
		return 1;
	}
	v = calloc(d.count ? d.count : 1, sizeof(*v));
	if (!v) {
		cli_error(a, "%s", strerror(ENOMEM));
		status = 1;
		goto out;
	}
	for (size_t i = 0; i < d.count; i++) {
		struct ls_entry *e = &v[n];

		e->name = d.names[i];
		rc = fb_fstatat(fs, fd, e->name, &e->st, AT_SYMLINK_NOFOLLOW);
		if (rc < 0) {
			/* The entry vanished or the server failed on it: say
			 * so and leave it out rather than guess a line. */
			cli_error(a, "cannot access '%s/%s': %s", path, e->name,
				  strerror(-rc));
			status = 1;
			continue;
		}
		status |= read_target(fs, a, fd, e->name, e);
		blocks += (unsigned long long)e->st.st_blocks;
		n++;
	}
	/* st_blocks counts 512-byte units; ls shows 1024-byte blocks,
	 * rounded up. */
	printf("total %llu\n", (blocks + 1) / 2);
	print_all(v, n);
	for (size_t i = 0; i < n; i++)
		free(v[i].target);
	free(v);
out:
	cli_dir_free(&d);
	fb_close(fs, fd);
	return status;
}

int cli_ls(struct fb_fs *fs, const struct cli_args *a)
{
	const char *path = a->npaths ? a->paths[0] : "/";
	size_t len = strlen(path);
	struct ls_entry e;
	int rc, status;

	rc = fb_lstat(fs, path, &e.st);
	/* "link/" names the directory the link points to. */
	if (rc == 0 && S_ISLNK(e.st.st_mode) && len && path[len - 1] == '/')
		rc = fb_stat(fs, path, &e.st);
	if (rc < 0) {
		cli_error(a, "cannot access '%s': %s", path, strerror(-rc));
		return 1;
	}
	if (S_ISDIR(e.st.st_mode))
		return list_dir(fs, a, path);
	e.name = path;
	status = read_target(fs, a, FB_AT_FDCWD, path, &e);
	print_all(&e, 1);
	free(e.target);
	return status;
}
