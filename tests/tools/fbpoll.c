/*
 * fbpoll.c - libfuse's ioctl_client and poll_client, done through
 * libfusebox (fb_ioctl, fb_poll) against a server that fb_spawn starts,
 * printing what those clients print, so that the tests can hold the
 * output to what the clients give on a kernel mount.
 *
 *   fbpoll ioctl -- SERVER [ARGS...]   get, set 4096, get, set 3, get the
 *                                      size of /fioc (the ioctl example)
 *   fbpoll poll -- SERVER [ARGS...]    16 rounds of poll over /0 ... /F
 *                                      (the poll example), as poll_client
 *                                      does them with select
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#include "fusebox.h"

#define FIOC_GET_SIZE _IOR('E', 0, size_t)
#define FIOC_SET_SIZE _IOW('E', 1, size_t)
#define FSEL_FILES 16

static int do_ioctl(struct fb_fs *fs)
{
	static const long sets[] = { -1, 4096, -1, 3, -1 };
	int fd = fb_open(fs, "/fioc", O_RDWR);

	if (fd < 0) {
		printf("open: %s\n", strerror(-fd));
		return 1;
	}
	for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
		size_t size = sets[i] < 0 ? 0 : (size_t)sets[i];
		int r = fb_ioctl(fs, fd,
				 sets[i] < 0 ? FIOC_GET_SIZE : FIOC_SET_SIZE,
				 &size);

		if (r < 0)
			printf("ioctl: %s\n", strerror(-r));
		else if (sets[i] < 0)
			printf("%zu\n", size);
	}
	fb_close(fs, fd);
	return 0;
}

static int do_poll(struct fb_fs *fs)
{
	static const char hex[] = "0123456789ABCDEF";
	struct pollfd p[FSEL_FILES];

	for (int i = 0; i < FSEL_FILES; i++) {
		char name[3] = { '/', hex[i], 0 };

		p[i].fd = fb_open(fs, name, O_RDONLY);
		if (p[i].fd < 0) {
			printf("open: %s\n", strerror(-p[i].fd));
			return 1;
		}
		p[i].events = POLLIN;
	}
	for (int round = 0; round < 16; round++) {
		static char buf[4096];
		int r = fb_poll(fs, p, FSEL_FILES, -1);

		if (r < 0) {
			printf("poll: %s\n", strerror(-r));
			return 1;
		}
		for (int i = 0; i < FSEL_FILES; i++) {
			if (!(p[i].revents & POLLIN)) {
				printf("_:   ");
				continue;
			}
			printf("%X:", i);
			r = (int)fb_read(fs, p[i].fd, buf, sizeof(buf));
			if (r < 0) {
				printf("read: %s\n", strerror(-r));
				return 1;
			}
			printf("%02d ", r);
		}
		printf("\n");
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct fb_fs *fs;
	int r, rc;

	if (argc < 4 || strcmp(argv[2], "--") != 0 ||
	    (strcmp(argv[1], "ioctl") && strcmp(argv[1], "poll"))) {
		fprintf(stderr, "usage: fbpoll ioctl|poll -- SERVER [ARGS...]\n");
		return 2;
	}
	r = fb_spawn(argv + 3, NULL, &fs);
	if (r == 0)
		r = fb_wait_init(fs);
	if (r) {
		fprintf(stderr, "fbpoll: %s: %s\n", argv[3], strerror(-r));
		return 1;
	}
	rc = argv[1][0] == 'i' ? do_ioctl(fs) : do_poll(fs);
	fflush(stdout);
	fb_unmount(fs);
	return rc;
}
