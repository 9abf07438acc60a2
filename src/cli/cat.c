/*
 * cat.c - `fusebox cat PATH...`: the bytes of each file, in order, on
 * standard output.
 *
 * A file that cannot be opened or read is reported and skipped, as cat
 * does; a failed write to standard output ends the command, since every
 * later byte would be lost too. Output bypasses stdio: nothing else is
 * printed on stdout by this command, and big reads go straight through.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

/* Big enough that one fb_read becomes several READ requests at the
 * server's max_read, which is what a reader of big files does. */
#define CAT_BUF_SIZE (256 * 1024)

static int write_all(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(STDOUT_FILENO, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* 0 when the file was copied, 1 when it could not be read (reported),
 * or a negative errno when standard output failed. */
static int cat_one(struct fb_fs *fs, const struct cli_args *a,
		   const char *path, char *buf)
{
	ssize_t n;
	int fd, rc = 0;

	fd = fb_open(fs, path, O_RDONLY);
	if (fd < 0) {
		cli_error(a, "%s: %s", path, strerror(-fd));
		return 1;
	}
	while ((n = fb_read(fs, fd, buf, CAT_BUF_SIZE)) > 0) {
		rc = write_all(buf, (size_t)n);
		if (rc < 0)
			break;
	}
	if (n < 0) {
		cli_error(a, "%s: %s", path, strerror((int)-n));
		rc = 1;
	}
	fb_close(fs, fd);
	return rc;
}

int cli_cat(struct fb_fs *fs, const struct cli_args *a)
{
	char *buf = malloc(CAT_BUF_SIZE);
	int status = 0;

	if (!buf) {
		cli_error(a, "%s", strerror(ENOMEM));
		return 1;
	}
	for (int i = 0; i < a->npaths; i++) {
		int rc = cat_one(fs, a, a->paths[i], buf);

		if (rc < 0) {
			/* A reader that went away (`| head`) is not news. */
			if (rc != -EPIPE)
				cli_error(a, "write error: %s",
					  strerror(-rc));
			status = 1;
			break;
		}
		status |= rc;
	}
	free(buf);
	return status;
}
