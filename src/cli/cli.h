/*
 * cli.h - what the files of the fusebox command share: the parsed command
 * line, the subcommands' entry points and the output helpers.
 *
 * main.c parses the arguments, starts the server and calls one run
 * function; each subcommand (ls.c, cat.c, stat.c, tree.c) only reads the
 * filesystem and prints. A run function returns the exit status
 * (0 = all went well, 1 = something failed and was reported on stderr).
 */
#ifndef FUSEBOX_CLI_H
#define FUSEBOX_CLI_H

#include <stddef.h>
#include <sys/stat.h>
#include <time.h>

#include "fusebox.h"

#define CLI_NAME "fusebox"

struct cli_args {
	const char *cmd;	/* subcommand name, for messages */
	int all;		/* ls -a */
	int npaths;
	char **paths;		/* operands; never NULL when npaths > 0 */
};

int cli_ls(struct fb_fs *fs, const struct cli_args *a);
int cli_cat(struct fb_fs *fs, const struct cli_args *a);
int cli_stat(struct fb_fs *fs, const struct cli_args *a);
int cli_tree(struct fb_fs *fs, const struct cli_args *a);

/* "fusebox: CMD: " + printf-style message + "\n" on stderr. */
void cli_error(const struct cli_args *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* One directory's entries, as read with getdents64, in the order
 * LC_COLLATE sorts them (the order ls and tree print). */
struct cli_dir {
	char **names;
	size_t count;
};

/* Read directory fd (an fb_open()ed directory) into d; hidden names
 * (leading '.') are skipped unless all. 0 or a negative errno. */
int cli_dir_read(struct fb_fs *fs, int fd, int all, struct cli_dir *d);
void cli_dir_free(struct cli_dir *d);

/* Symlink target of path relative to dirfd, NUL-terminated, malloc()ed;
 * NULL with *err set to a negative errno on failure. */
char *cli_readlink(struct fb_fs *fs, int dirfd, const char *path, int *err);

/* Formatting shared by ls and stat (format.c). */
void cli_mode_string(mode_t mode, char out[11]);
/* User or group name of an id; NULL when the id has no name here. */
const char *cli_user_name(uid_t uid);
const char *cli_group_name(gid_t gid);
/* The time as `ls -l` shows it: "%b %e %H:%M" for the last six months,
 * "%b %e  %Y" otherwise. */
void cli_ls_time(const struct timespec *ts, char *out, size_t size);
/* The time as `stat` shows it: "2024-01-31 12:00:00.000000000 +0000". */
void cli_stat_time(const struct timespec *ts, char *out, size_t size);

/* Number of decimal digits of v. */
int cli_digits(unsigned long long v);

/* run.c: `fusebox run`, with argv[0] == "run". */
int cli_run(int argc, char *argv[]);

#endif
