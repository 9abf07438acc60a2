/*
 * mountinfo.c - render mountinfo and mounts lines for fusebox mounts in
 * Linux's format (fs/proc_namespace.c): octal escapes for space, tab,
 * newline and backslash, per-mount options then the superblock's.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "sandbox/mountinfo.h"

struct buf {
	char *p;
	size_t len, cap;
};

static int put(struct buf *b, const char *s, size_t n)
{
	if (n > (1u << 30))
		return -1;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->cap + n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return -1;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static int puts_(struct buf *b, const char *s)
{
	return put(b, s, strlen(s));
}

/* Linux's mangle(): these characters become \ooo. */
static int put_escaped(struct buf *b, const char *s, const char *esc)
{
	for (; *s; s++) {
		char o[5];

		if (strchr(esc, *s)) {
			snprintf(o, sizeof(o), "\\%03o", (unsigned char)*s);
			if (puts_(b, o))
				return -1;
		} else if (put(b, s, 1)) {
			return -1;
		}
	}
	return 0;
}

#define ESC_PATH " \t\n\\"
#define ESC_NAME " \t\n\\#"

/* Per-mount options as show_mnt_opts prints them after rw/ro. */
static int put_mnt_opts(struct buf *b, unsigned long f)
{
	int r = puts_(b, (f & MS_RDONLY) ? "ro" : "rw");

	if (!r && (f & MS_NOSUID))
		r = puts_(b, ",nosuid");
	if (!r && (f & MS_NODEV))
		r = puts_(b, ",nodev");
	if (!r && (f & MS_NOEXEC))
		r = puts_(b, ",noexec");
	if (!r && (f & MS_NOATIME))
		r = puts_(b, ",noatime");
	if (!r && (f & MS_NODIRATIME))
		r = puts_(b, ",nodiratime");
	if (!r && !(f & (MS_NOATIME | MS_STRICTATIME)))
		r = puts_(b, ",relatime");
	return r;
}

/* Superblock flags (show_sb_opts) after rw/ro. */
static int put_sb_opts(struct buf *b, unsigned long f)
{
	int r = 0;

	if (f & MS_SYNCHRONOUS)
		r = puts_(b, ",sync");
	if (!r && (f & MS_DIRSYNC))
		r = puts_(b, ",dirsync");
	if (!r && (f & MS_LAZYTIME))
		r = puts_(b, ",lazytime");
	return r;
}

/* The host mount whose mountpoint is the longest prefix of path. */
static int parent_id(const char *host, size_t host_len, const char *path)
{
	const char *p = host, *end = host + host_len;
	size_t best_len = 0;
	int best = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		char mp[4096];
		int id, parent;
		size_t l;

		if (!nl)
			nl = end;
		if (sscanf(p, "%d %d %*s %*s %4095s", &id, &parent, mp) == 3) {
			l = strlen(mp);
			if (!strncmp(path, mp, l) &&
			    (path[l] == '/' || !path[l] || l == 1) &&
			    l >= best_len) {
				best_len = l;
				best = id;
			}
		}
		p = nl + 1;
	}
	return best;
}

int sbx_mountinfo_max_id(const char *host, size_t host_len)
{
	const char *p = host, *end = host + host_len;
	int max = 0;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		int id;

		if (sscanf(p, "%d", &id) == 1 && id > max)
			max = id;
		if (!nl)
			break;
		p = nl + 1;
	}
	return max;
}

static char *start(struct buf *b, const char *host, size_t host_len)
{
	b->p = NULL;
	b->len = b->cap = 0;
	if (put(b, host, host_len))
		return NULL;
	if (host_len && host[host_len - 1] != '\n' && puts_(b, "\n"))
		return NULL;
	return b->p;
}

char *sbx_mountinfo_render(const char *host, size_t host_len,
			   const struct sbx_mount_desc *m, size_t n,
			   size_t *len)
{
	struct buf b;

	if (!start(&b, host, host_len))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		char head[96];
		int r;

		snprintf(head, sizeof(head), "%d %d %u:%u / ", m[i].mnt_id,
			 parent_id(host, host_len, m[i].mountpoint),
			 m[i].major, m[i].minor);
		r = puts_(&b, head);
		r = r ? r : put_escaped(&b, m[i].mountpoint, ESC_PATH);
		r = r ? r : puts_(&b, " ");
		r = r ? r : put_mnt_opts(&b, m[i].flags);
		/* A private mount: no propagation fields. */
		r = r ? r : puts_(&b, " - ");
		r = r ? r : put_escaped(&b, m[i].fstype, ESC_NAME);
		r = r ? r : puts_(&b, " ");
		r = r ? r : put_escaped(&b, m[i].source[0] ? m[i].source
							     : "none",
					ESC_NAME);
		r = r ? r : puts_(&b, (m[i].flags & MS_RDONLY) ? " ro" : " rw");
		r = r ? r : put_sb_opts(&b, m[i].flags);
		if (!r && m[i].super_opts && m[i].super_opts[0]) {
			r = puts_(&b, ",");
			r = r ? r : puts_(&b, m[i].super_opts);
		}
		r = r ? r : puts_(&b, "\n");
		if (r)
			goto fail;
	}
	*len = b.len;
	return b.p;
fail:
	free(b.p);
	errno = ENOMEM;
	return NULL;
}

char *sbx_mounts_render(const char *host, size_t host_len,
			const struct sbx_mount_desc *m, size_t n, size_t *len)
{
	struct buf b;

	if (!start(&b, host, host_len))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		int r = put_escaped(&b, m[i].source[0] ? m[i].source : "none",
				    ESC_NAME);

		r = r ? r : puts_(&b, " ");
		r = r ? r : put_escaped(&b, m[i].mountpoint, ESC_PATH);
		r = r ? r : puts_(&b, " ");
		r = r ? r : put_escaped(&b, m[i].fstype, ESC_NAME);
		r = r ? r : puts_(&b, " ");
		r = r ? r : puts_(&b, (m[i].flags & MS_RDONLY) ? "ro" : "rw");
		r = r ? r : put_sb_opts(&b, m[i].flags);
		if (!r) {
			/* mnt opts without their leading rw/ro */
			struct buf t = { 0 };

			r = put_mnt_opts(&t, m[i].flags);
			if (!r)
				r = puts_(&b, t.p + 2);
			free(t.p);
		}
		if (!r && m[i].super_opts && m[i].super_opts[0]) {
			r = puts_(&b, ",");
			r = r ? r : puts_(&b, m[i].super_opts);
		}
		r = r ? r : puts_(&b, " 0 0\n");
		if (r)
			goto fail;
	}
	*len = b.len;
	return b.p;
fail:
	free(b.p);
	errno = ENOMEM;
	return NULL;
}
