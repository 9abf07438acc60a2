/*
 * mountinfo.c - fusebox's mounts appended to the host's mountinfo and
 * mounts text, printed as Linux prints a FUSE mount (fs/proc_namespace.c:
 * show_mountinfo, show_vfsmnt, show_mnt_opts, show_sb_opts, mangle; the
 * per-mount flags as fs/namespace.c path_mount derives them from
 * mount(2)'s). The host's text is read, never changed.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "sandbox/mountinfo.h"

#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

/* A mount a new mount may lie in: a host line or an earlier fusebox
 * mount. */
struct place {
	int id;
	char *path;	/* unescaped */
	int group;	/* its peer group if shared, else 0 */
};

struct scan {
	struct place *places;
	size_t n, cap;
	int *groups;	/* every peer group id in sight */
	size_t ngroups, groups_cap;
};

static void scan_free(struct scan *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->places[i].path);
	free(s->places);
	free(s->groups);
}

static int add_group(struct scan *s, int g)
{
	if (s->ngroups == s->groups_cap) {
		size_t cap = s->groups_cap ? s->groups_cap * 2 : 16;
		int *p = realloc(s->groups, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		s->groups = p;
		s->groups_cap = cap;
	}
	s->groups[s->ngroups++] = g;
	return 0;
}

/* The kernel gives a new peer group the lowest free id (an IDA). Ids
 * used in other namespaces are invisible here, so this is the lowest id
 * this text does not show. */
static int new_group(struct scan *s)
{
	for (int g = 1;; g++) {
		bool used = false;

		for (size_t i = 0; i < s->ngroups && !used; i++)
			used = s->groups[i] == g;
		if (!used)
			return add_group(s, g) ? -ENOMEM : g;
	}
}

/* path owned, freed by scan_free even on failure. */
static int add_place(struct scan *s, int id, char *path, int group)
{
	if (!path)
		return -ENOMEM;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		struct place *p = realloc(s->places, cap * sizeof(*p));

		if (!p) {
			free(path);
			return -ENOMEM;
		}
		s->places = p;
		s->cap = cap;
	}
	s->places[s->n++] = (struct place){ id, path, group };
	return 0;
}

/* Undo mangle(): "\ooo" is one byte. */
static char *unescape(const char *s, size_t n)
{
	char *out = malloc(n + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 3 < n && s[i + 1] >= '0' &&
		    s[i + 1] <= '3' && s[i + 2] >= '0' && s[i + 2] <= '7' &&
		    s[i + 3] >= '0' && s[i + 3] <= '7') {
			*o++ = (char)((s[i + 1] - '0') * 64 +
				      (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
			i += 3;
		} else {
			*o++ = s[i];
		}
	}
	*o = '\0';
	return out;
}

/* A decimal number of at most len bytes; -1 if there is none. */
static int number(const char *p, size_t len)
{
	int v = 0;
	size_t i;

	for (i = 0; i < len && p[i] >= '0' && p[i] <= '9'; i++)
		if (v < 100000000)
			v = v * 10 + (p[i] - '0');
	return i ? v : -1;
}

/* The N of a "prefixN" tag of len bytes; 0 if it is another tag. */
static int tag_value(const char *p, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);
	int v;

	if (len <= n || memcmp(p, prefix, n) != 0)
		return 0;
	v = number(p + n, len - n);
	return v > 0 ? v : 0;
}

/* One line: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [TAG...] - ...". */
static int scan_line(struct scan *s, const char *line, size_t n)
{
	const char *field[6], *p = line, *end = line + n;
	size_t flen[6];
	int group = 0;

	for (int i = 0; i < 6; i++) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));

		if (!sp && i < 5)
			return 0; /* not a mountinfo line */
		field[i] = p;
		flen[i] = (size_t)((sp ? sp : end) - p);
		p = sp ? sp + 1 : end;
	}
	/* The tags, up to the " - " separator. */
	while (p < end) {
		const char *sp = memchr(p, ' ', (size_t)(end - p));
		size_t len = (size_t)((sp ? sp : end) - p);
		int shared = tag_value(p, len, "shared:");
		int other = tag_value(p, len, "master:");

		if (len == 1 && *p == '-')
			break;
		if (!other)
			other = tag_value(p, len, "propagate_from:");
		if (shared)
			group = shared;
		if ((shared && add_group(s, shared)) ||
		    (other && add_group(s, other)))
			return -ENOMEM;
		p = sp ? sp + 1 : end;
	}
	return add_place(s, number(field[0], flen[0]),
			 unescape(field[4], flen[4]), group);
}

static int scan_host(struct scan *s, const char *host, size_t len)
{
	const char *p = host, *end = host + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int err = scan_line(s, p, (size_t)((nl ? nl : end) - p));

		if (err)
			return err;
		p = nl ? nl + 1 : end;
	}
	return 0;
}

/* Is path at or below the directory dir? */
static bool lies_in(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (n == 1 && dir[0] == '/')
		return true;
	return !strncmp(path, dir, n) && (path[n] == '\0' || path[n] == '/');
}

static const struct place *parent_of(const struct scan *s, const char *path)
{
	const struct place *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < s->n; i++) {
		size_t n = strlen(s->places[i].path);

		if (lies_in(path, s->places[i].path) &&
		    (!best || n >= best_len)) {
			best = &s->places[i];
			best_len = n;
		}
	}
	return best;
}

/* mangle(): space, tab, newline and backslash become \ooo. */
static void put_escaped(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (strchr(" \t\n\\", *s))
			fprintf(f, "\\%03o", (unsigned char)*s);
		else
			fputc(*s, f);
	}
}

/* show_mnt_opts, for the per-mount flags path_mount makes of mount(2)'s:
 * relatime unless noatime, strictatime clearing both. */
static void put_mnt_opts(FILE *f, unsigned long fl)
{
	bool noatime = (fl & MS_NOATIME) && !(fl & MS_STRICTATIME);
	bool relatime = !(fl & MS_NOATIME) && !(fl & MS_STRICTATIME);

	if (fl & MS_NOSUID)
		fputs(",nosuid", f);
	if (fl & MS_NODEV)
		fputs(",nodev", f);
	if (fl & MS_NOEXEC)
		fputs(",noexec", f);
	if (noatime)
		fputs(",noatime", f);
	if (fl & MS_NODIRATIME)
		fputs(",nodiratime", f);
	if (relatime)
		fputs(",relatime", f);
	if (fl & MS_NOSYMFOLLOW)
		fputs(",nosymfollow", f);
}

/* show_sb_opts ("mand" never: fuse refuses it). */
static void put_sb_opts(FILE *f, unsigned long fl)
{
	if (fl & MS_SYNCHRONOUS)
		fputs(",sync", f);
	if (fl & MS_DIRSYNC)
		fputs(",dirsync", f);
	if (fl & MS_LAZYTIME)
		fputs(",lazytime", f);
}

static void put_super_opts(FILE *f, const struct sbx_mount_desc *m)
{
	if (m->super_opts && m->super_opts[0]) {
		fputc(',', f);
		fputs(m->super_opts, f);
	}
}

static const char *source_of(const struct sbx_mount_desc *m)
{
	return m->source && m->source[0] ? m->source : "none";
}

static bool valid_desc(const struct sbx_mount_desc *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!m[i].fstype || !m[i].mountpoint ||
		    m[i].mountpoint[0] != '/')
			return false;
	return true;
}

/* The host's text, ending in a newline. */
static FILE *open_text(char **text, size_t *len, const char *host,
		       size_t host_len)
{
	FILE *f = open_memstream(text, len);

	if (!f)
		return NULL;
	fwrite(host, 1, host_len, f);
	if (host_len && host[host_len - 1] != '\n')
		fputc('\n', f);
	return f;
}

/* open_memstream sets *text at fclose. */
static char *close_text(FILE *f, char **text, int err)
{
	if (fclose(f) != 0 && !err)
		err = -ENOMEM;
	if (err) {
		free(*text);
		errno = -err;
		return NULL;
	}
	return *text;
}

char *sbx_mountinfo_render(const char *host, size_t host_len,
			   const struct sbx_mount_desc *mounts, size_t n,
			   size_t *len)
{
	struct scan s = { 0 };
	char *text = NULL;
	FILE *f;
	int err;

	if (!valid_desc(mounts, n)) {
		errno = EINVAL;
		return NULL;
	}
	f = open_text(&text, len, host, host_len);
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	err = scan_host(&s, host, host_len);
	for (size_t i = 0; i < n && !err; i++) {
		const struct sbx_mount_desc *m = &mounts[i];
		const struct place *parent = parent_of(&s, m->mountpoint);
		int group = 0;

		/* A new mount under a shared mount joins no group: it gets
		 * a new one (attach_recursive_mnt); under a private, slave
		 * or unbindable one it is private and shows no tag. Copies
		 * the kernel would propagate to the parent's peers are not
		 * made: fusebox's mounts exist only in this sandbox. */
		if (parent && parent->group) {
			group = new_group(&s);
			if (group < 0) {
				err = group;
				break;
			}
		}
		fprintf(f, "%d %d %u:%u / ", m->mnt_id,
			parent ? parent->id : 0, m->major, m->minor);
		put_escaped(f, m->mountpoint);
		fputs(m->flags & MS_RDONLY ? " ro" : " rw", f);
		put_mnt_opts(f, m->flags);
		if (group)
			fprintf(f, " shared:%d", group);
		fputs(" - ", f);
		put_escaped(f, m->fstype);
		fputc(' ', f);
		put_escaped(f, source_of(m));
		fputs(m->sb_flags & MS_RDONLY ? " ro" : " rw", f);
		put_sb_opts(f, m->sb_flags);
		put_super_opts(f, m);
		fputc('\n', f);
		err = add_place(&s, m->mnt_id, strdup(m->mountpoint), group);
	}
	scan_free(&s);
	return close_text(f, &text, err);
}

char *sbx_mounts_render(const char *host, size_t host_len,
			const struct sbx_mount_desc *mounts, size_t n,
			size_t *len)
{
	char *text = NULL;
	FILE *f;

	if (!valid_desc(mounts, n)) {
		errno = EINVAL;
		return NULL;
	}
	f = open_text(&text, len, host, host_len);
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		const struct sbx_mount_desc *m = &mounts[i];
		bool ro = (m->flags | m->sb_flags) & MS_RDONLY;

		put_escaped(f, source_of(m));
		fputc(' ', f);
		put_escaped(f, m->mountpoint);
		fputc(' ', f);
		put_escaped(f, m->fstype);
		/* show_vfsmnt: read-only if the mount or the superblock
		 * is, then the superblock's flags before the mount's. */
		fputs(ro ? " ro" : " rw", f);
		put_sb_opts(f, m->sb_flags);
		put_mnt_opts(f, m->flags);
		put_super_opts(f, m);
		fputs(" 0 0\n", f);
	}
	return close_text(f, &text, 0);
}

int sbx_mountinfo_max_id(const char *host, size_t host_len)
{
	const char *p = host, *end = host + host_len;
	int max = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int id = number(p, (size_t)((nl ? nl : end) - p));

		if (id > max)
			max = id;
		p = nl ? nl + 1 : end;
	}
	return max;
}
