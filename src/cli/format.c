/*
 * format.c - the small pieces of text ls and stat share: the mode string,
 * owner and group names, the two time formats and digit counts.
 *
 * Names come from this machine's user database, as they do for ls and
 * stat on a kernel mount: a FUSE server only sends numbers.
 */
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* GNU ls calls a time recent when it lies less than half a Gregorian
 * year (365.2425 days) in the past and not in the future. */
#define HALF_YEAR_SECONDS (31556952 / 2)

static char type_char(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG: return '-';
	case S_IFDIR: return 'd';
	case S_IFLNK: return 'l';
	case S_IFBLK: return 'b';
	case S_IFCHR: return 'c';
	case S_IFIFO: return 'p';
	case S_IFSOCK: return 's';
	default: return '?';
	}
}

/* One rwx triple; special is the setuid, setgid or sticky bit that
 * shares the x position and shows as a letter (lower case when x is also
 * set). */
static void rwx(mode_t mode, mode_t r, mode_t w, mode_t x, int special,
		char letter, char *out)
{
	out[0] = mode & r ? 'r' : '-';
	out[1] = mode & w ? 'w' : '-';
	if (special)
		out[2] = mode & x ? letter : (char)(letter - 'a' + 'A');
	else
		out[2] = mode & x ? 'x' : '-';
}

void cli_mode_string(mode_t mode, char out[11])
{
	out[0] = type_char(mode);
	rwx(mode, S_IRUSR, S_IWUSR, S_IXUSR, mode & S_ISUID, 's', out + 1);
	rwx(mode, S_IRGRP, S_IWGRP, S_IXGRP, mode & S_ISGID, 's', out + 4);
	rwx(mode, S_IROTH, S_IWOTH, S_IXOTH, mode & S_ISVTX, 't', out + 7);
	out[10] = '\0';
}

/* ls asks for the same few ids again and again and keeps the names
 * across its two passes (widths, then lines), so names are cached for
 * the life of the process. */
struct id_name {
	unsigned id;
	char *name;		/* NULL: the id has no name */
};

struct id_cache {
	struct id_name *v;
	size_t count, cap;
};

static const char *cache_find(struct id_cache *c, unsigned id, int *found)
{
	for (size_t i = 0; i < c->count; i++) {
		if (c->v[i].id == id) {
			*found = 1;
			return c->v[i].name;
		}
	}
	*found = 0;
	return NULL;
}

static const char *cache_add(struct id_cache *c, unsigned id,
			     const char *name)
{
	char *copy = name ? strdup(name) : NULL;

	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		struct id_name *v = realloc(c->v, cap * sizeof(*v));

		if (!v)
			return copy;	/* uncached: a small leak at worst */
		c->v = v;
		c->cap = cap;
	}
	c->v[c->count].id = id;
	c->v[c->count].name = copy;
	c->count++;
	return copy;
}

const char *cli_user_name(uid_t uid)
{
	static struct id_cache users;
	struct passwd *pw;
	const char *name;
	int found;

	name = cache_find(&users, uid, &found);
	if (found)
		return name;
	pw = getpwuid(uid);
	return cache_add(&users, uid, pw ? pw->pw_name : NULL);
}

const char *cli_group_name(gid_t gid)
{
	static struct id_cache groups;
	struct group *gr;
	const char *name;
	int found;

	name = cache_find(&groups, gid, &found);
	if (found)
		return name;
	gr = getgrgid(gid);
	return cache_add(&groups, gid, gr ? gr->gr_name : NULL);
}

static int ts_before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

void cli_ls_time(const struct timespec *ts, char *out, size_t size)
{
	static struct timespec now;
	struct timespec half_year_ago;
	struct tm tm;
	int recent;

	/* Read the clock once, and again only for a time beyond it, so a
	 * file written while we list is not taken for a future one. */
	if (now.tv_sec == 0 || !ts_before(ts, &now))
		clock_gettime(CLOCK_REALTIME, &now);
	half_year_ago = now;
	half_year_ago.tv_sec -= HALF_YEAR_SECONDS;
	recent = ts_before(&half_year_ago, ts) && ts_before(ts, &now);
	if (!localtime_r(&ts->tv_sec, &tm) ||
	    strftime(out, size, recent ? "%b %e %H:%M" : "%b %e  %Y",
		     &tm) == 0)
		snprintf(out, size, "%lld", (long long)ts->tv_sec);
}

void cli_stat_time(const struct timespec *ts, char *out, size_t size)
{
	struct tm tm;
	char date[64], zone[16];

	if (!localtime_r(&ts->tv_sec, &tm) ||
	    !strftime(date, sizeof(date), "%Y-%m-%d %H:%M:%S", &tm) ||
	    !strftime(zone, sizeof(zone), "%z", &tm)) {
		snprintf(out, size, "%lld.%09ld", (long long)ts->tv_sec,
			 ts->tv_nsec);
		return;
	}
	snprintf(out, size, "%s.%09ld %s", date, ts->tv_nsec, zone);
}

int cli_digits(unsigned long long v)
{
	int n = 1;

	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}
