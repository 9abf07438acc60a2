/*
 * stat.c - `fusebox stat PATH...`: GNU stat's default output for each
 * PATH, symlinks shown rather than followed.
 *
 * The layout is GNU coreutils 9's: the Device line gives major,minor in
 * decimal, device files get a "Device type" field, and " Birth: -" closes
 * every block because FUSE attributes carry no birth time. File names are
 * printed as they are, as stat does in its default format.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "cli.h"

static const char *type_name(const struct stat *st)
{
	switch (st->st_mode & S_IFMT) {
	case S_IFREG:
		return st->st_size == 0 ? "regular empty file" :
					  "regular file";
	case S_IFDIR: return "directory";
	case S_IFLNK: return "symbolic link";
	case S_IFBLK: return "block special file";
	case S_IFCHR: return "character special file";
	case S_IFIFO: return "fifo";
	case S_IFSOCK: return "socket";
	default: return "weird file";
	}
}

static void print_status(const char *path, const char *target,
			 const struct stat *st)
{
	const char *user = cli_user_name(st->st_uid);
	const char *group = cli_group_name(st->st_gid);
	char mode[11], atime[96], mtime[96], ctime_[96];
	char size[32], blocks[32], blksize[32], ino[32], nlink[32];

	cli_mode_string(st->st_mode, mode);
	cli_stat_time(&st->st_atim, atime, sizeof(atime));
	cli_stat_time(&st->st_mtim, mtime, sizeof(mtime));
	cli_stat_time(&st->st_ctim, ctime_, sizeof(ctime_));
	/* Left-aligned fields are padded as text, so print numbers first. */
	snprintf(size, sizeof(size), "%lld", (long long)st->st_size);
	snprintf(blocks, sizeof(blocks), "%lld", (long long)st->st_blocks);
	snprintf(blksize, sizeof(blksize), "%ld", (long)st->st_blksize);
	snprintf(ino, sizeof(ino), "%llu", (unsigned long long)st->st_ino);
	snprintf(nlink, sizeof(nlink), "%lu", (unsigned long)st->st_nlink);

	printf("  File: %s", path);
	if (target)
		printf(" -> %s", target);
	printf("\n  Size: %-10s\tBlocks: %-10s IO Block: %-6s %s\n", size,
	       blocks, blksize, type_name(st));
	printf("Device: %u,%u\tInode: %-11s Links: ", major(st->st_dev),
	       minor(st->st_dev), ino);
	if (S_ISCHR(st->st_mode) || S_ISBLK(st->st_mode))
		printf("%-5s Device type: %u,%u\n", nlink,
		       major(st->st_rdev), minor(st->st_rdev));
	else
		printf("%s\n", nlink);
	printf("Access: (%04o/%s)  Uid: (%5u/%8s)   Gid: (%5u/%8s)\n",
	       (unsigned)(st->st_mode & 07777), mode, (unsigned)st->st_uid,
	       user ? user : "UNKNOWN", (unsigned)st->st_gid,
	       group ? group : "UNKNOWN");
	printf("Access: %s\nModify: %s\nChange: %s\n Birth: -\n", atime,
	       mtime, ctime_);
}

int cli_stat(struct fb_fs *fs, const struct cli_args *a)
{
	int status = 0;

	for (int i = 0; i < a->npaths; i++) {
		const char *path = a->paths[i];
		char *target = NULL;
		struct stat st;
		int rc = fb_lstat(fs, path, &st);

		if (rc < 0) {
			cli_error(a, "cannot stat '%s': %s", path,
				  strerror(-rc));
			status = 1;
			continue;
		}
		if (S_ISLNK(st.st_mode)) {
			target = cli_readlink(fs, FB_AT_FDCWD, path, &rc);
			if (!target) {
				cli_error(a, "cannot read symbolic link "
					  "'%s': %s", path, strerror(-rc));
				status = 1;
			}
		}
		print_status(path, target, &st);
		free(target);
	}
	return status;
}
