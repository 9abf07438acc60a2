/*
 * tree.c - `fusebox tree [PATH]`: the drawing `tree` (2.x) prints for a
 * directory, and its closing "N directories, M files" line.
 *
 * What tree does, and so what this does:
 *  - hidden names are left out; entries are sorted with strcoll();
 *  - a symlink is shown as "name -> target" and not descended, but one
 *    that leads to a directory counts as a directory;
 *  - a directory that cannot be opened gets "  [error opening dir]";
 *  - the top directory counts itself, but only when it has entries;
 *  - a PATH that is not a directory is shown with "[error opening dir]"
 *    and counted as one file;
 *  - in a UTF-8 locale lines are drawn with box-drawing characters and
 *    unprintable characters shown as octal escapes; otherwise (LC_ALL=C)
 *    with ASCII, and space, backslash and control characters escaped
 *    with a backslash too.
 */
#include <fcntl.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>
#include <wctype.h>

#include "cli.h"

struct tree_style {
	int utf8;
	const char *branch, *last, *pipe, *blank;
};

struct tree_counts {
	unsigned long dirs, files;
};

static const struct tree_style ascii_style = {
	0, "|-- ", "`-- ", "|   ", "    "
};
/* tree pads its vertical line with two no-break spaces. */
static const struct tree_style utf8_style = {
	1, "\u251c\u2500\u2500 ", "\u2514\u2500\u2500 ",
	"\u2502\u00a0\u00a0 ", "    "
};

static void put_octal(unsigned char c)
{
	printf("\\%03o", c);
}

static void put_name_ascii(const char *s)
{
	static const char controls[] = "abtnvfr";	/* \a (7) .. \r (13) */

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\' || *p == ' ')
			printf("\\%c", *p);
		else if (*p >= '\a' && *p <= '\r')
			printf("\\%c", controls[*p - '\a']);
		else if (*p >= 0x20 && *p < 0x7f)
			putchar(*p);
		else
			put_octal(*p);
	}
}

static void put_name_utf8(const char *s)
{
	mbstate_t st;
	size_t left = strlen(s);

	memset(&st, 0, sizeof(st));
	while (left) {
		wchar_t wc;
		size_t n = mbrtowc(&wc, s, left, &st);

		if (n == (size_t)-1 || n == (size_t)-2) {
			/* Not a character: show the byte, start afresh. */
			put_octal((unsigned char)*s);
			memset(&st, 0, sizeof(st));
			n = 1;
		} else if (iswprint((wint_t)wc)) {
			fwrite(s, 1, n, stdout);
		} else {
			for (size_t i = 0; i < n; i++)
				put_octal((unsigned char)s[i]);
		}
		s += n;
		left -= n;
	}
}

static void put_name(const struct tree_style *ts, const char *s)
{
	if (ts->utf8)
		put_name_utf8(s);
	else
		put_name_ascii(s);
}

static int print_entries(struct fb_fs *fs, const struct cli_args *a,
			 const struct tree_style *ts, int dirfd,
			 const char *prefix, struct tree_counts *c);

/* Prints and counts one entry of directory dirfd; descends into it when
 * it is a directory. Returns 1 when something could not be read. */
static int print_entry(struct fb_fs *fs, const struct cli_args *a,
		       const struct tree_style *ts, int dirfd,
		       const char *name, const char *prefix, int last,
		       struct tree_counts *c)
{
	struct stat st;
	char *sub;
	int fd, rc, status = 0;

	printf("%s%s", prefix, last ? ts->last : ts->branch);
	put_name(ts, name);
	rc = fb_fstatat(fs, dirfd, name, &st, AT_SYMLINK_NOFOLLOW);
	if (rc < 0) {
		putchar('\n');
		cli_error(a, "cannot access '%s': %s", name, strerror(-rc));
		c->files++;
		return 1;
	}
	if (S_ISLNK(st.st_mode)) {
		char *target = cli_readlink(fs, dirfd, name, &rc);
		struct stat to;

		if (target) {
			fputs(" -> ", stdout);
			put_name(ts, target);
			free(target);
		}
		putchar('\n');
		if (fb_fstatat(fs, dirfd, name, &to, 0) == 0 &&
		    S_ISDIR(to.st_mode))
			c->dirs++;
		else
			c->files++;
		return 0;
	}
	if (!S_ISDIR(st.st_mode)) {
		putchar('\n');
		c->files++;
		return 0;
	}
	c->dirs++;
	fd = fb_openat(fs, dirfd, name, O_RDONLY | O_DIRECTORY, 0);
	if (fd < 0) {
		fputs("  [error opening dir]\n", stdout);
		return 1;
	}
	putchar('\n');
	if (asprintf(&sub, "%s%s", prefix, last ? ts->blank : ts->pipe) < 0) {
		fb_close(fs, fd);
		return 1;
	}
	status = print_entries(fs, a, ts, fd, sub, c);
	free(sub);
	fb_close(fs, fd);
	return status;
}

static int print_entries(struct fb_fs *fs, const struct cli_args *a,
			 const struct tree_style *ts, int dirfd,
			 const char *prefix, struct tree_counts *c)
{
	struct cli_dir d;
	int rc, status = 0;

	rc = cli_dir_read(fs, dirfd, 0, &d);
	if (rc < 0) {
		cli_error(a, "reading a directory: %s", strerror(-rc));
		return 1;
	}
	for (size_t i = 0; i < d.count; i++)
		status |= print_entry(fs, a, ts, dirfd, d.names[i], prefix,
				      i + 1 == d.count, c);
	cli_dir_free(&d);
	return status;
}

static void print_summary(const struct tree_counts *c)
{
	printf("\n%lu director%s, %lu file%s\n", c->dirs,
	       c->dirs == 1 ? "y" : "ies", c->files, c->files == 1 ? "" : "s");
}

int cli_tree(struct fb_fs *fs, const struct cli_args *a)
{
	const char *path = a->npaths ? a->paths[0] : "/";
	const struct tree_style *ts =
		strcmp(nl_langinfo(CODESET), "UTF-8") == 0 ? &utf8_style :
							     &ascii_style;
	struct tree_counts c = { 0, 0 };
	struct stat st;
	int fd, rc, status;

	/* tree follows a symlink given as PATH. A dangling one exists all
	 * the same: it is shown like any other non-directory. */
	rc = fb_stat(fs, path, &st);
	if (rc < 0 && fb_lstat(fs, path, &st) < 0) {
		cli_error(a, "cannot access '%s': %s", path, strerror(-rc));
		return 1;
	}
	put_name(ts, path);
	if (rc < 0 || !S_ISDIR(st.st_mode)) {
		fputs("  [error opening dir]\n", stdout);
		c.files = 1;
		print_summary(&c);
		return 0;
	}
	fd = fb_open(fs, path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		fputs("  [error opening dir]\n", stdout);
		cli_error(a, "cannot open directory '%s': %s", path,
			  strerror(-fd));
		c.files = 1;
		print_summary(&c);
		return 1;
	}
	putchar('\n');
	status = print_entries(fs, a, ts, fd, "", &c);
	fb_close(fs, fd);
	if (c.dirs + c.files > 0)
		c.dirs++;
	print_summary(&c);
	return status;
}
