/*
 * spawn.c - start a FUSE server on one end of a socketpair, and stop it
 * at unmount.
 *
 * The server gets its end as the mountpoint "/dev/fd/N", which libfuse 3
 * takes as an already-open /dev/fuse. Servers that daemonize leave the
 * child we started; we find them again by the socket they hold.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fuse/chan.h"
#include "lib/fs.h"

#define STOP_WAIT_MS 3000

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The argument vector with "{}" replaced by (or else ending in) mnt. */
static char **server_argv(char *const argv[], const char *mnt)
{
	int n = 0, replaced = 0;
	char **v;

	while (argv[n])
		n++;
	v = calloc((size_t)n + 2, sizeof(*v));
	if (!v)
		return NULL;
	for (int i = 0; i < n; i++) {
		if (!strcmp(argv[i], "{}")) {
			v[i] = (char *)mnt;
			replaced = 1;
		} else {
			v[i] = argv[i];
		}
	}
	if (!replaced)
		v[n] = (char *)mnt;
	return v;
}

int fb_spawn(char *const argv[], const struct fb_options *opts,
	     struct fb_fs **out)
{
	int sv[2], ep[2], err, child_err = 0;
	long server_max_msg;
	char mnt[32];
	char **v;
	struct stat st;
	pid_t pid;
	ssize_t n;

	if (!argv || !argv[0])
		return -EINVAL;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (pipe2(ep, O_CLOEXEC) < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	snprintf(mnt, sizeof(mnt), "/dev/fd/%d", sv[1]);
	v = server_argv(argv, mnt);
	if (!v) {
		err = -ENOMEM;
		goto fail;
	}
	fstat(sv[1], &st);
	server_max_msg = fuse_socket_grow(sv[1], 2 * 1024 * 1024);
	pid = fork();
	if (pid < 0) {
		err = -errno;
		free(v);
		goto fail;
	}
	if (pid == 0) {
		/* The server keeps its end across exec; nothing else. */
		fcntl(sv[1], F_SETFD, 0);
		execvp(v[0], v);
		child_err = errno;
		if (write(ep[1], &child_err, sizeof(child_err)) < 0)
			_exit(127);
		_exit(127);
	}
	free(v);
	close(ep[1]);
	close(sv[1]);
	n = read(ep[0], &child_err, sizeof(child_err));
	close(ep[0]);
	if (n == sizeof(child_err)) {
		waitpid(pid, NULL, 0);
		close(sv[0]);
		return -child_err;
	}
	err = fb_mount_chan(sv[0], opts, server_max_msg, out);
	if (err) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return err;
	}
	(*out)->server_pid = pid;
	(*out)->server_sock = st.st_ino;
	return 0;
fail:
	close(ep[0]);
	close(ep[1]);
	close(sv[0]);
	close(sv[1]);
	return err;
}

/* Processes holding the server's end of the channel. */
static int socket_holders(ino_t sock, pid_t *pids, int max)
{
	char want[64], path[300], link[64];
	DIR *proc = opendir("/proc");
	struct dirent *pe;
	int n = 0;

	if (!proc)
		return 0;
	snprintf(want, sizeof(want), "socket:[%lu]", (unsigned long)sock);
	while (n < max && (pe = readdir(proc))) {
		pid_t pid = (pid_t)atoi(pe->d_name);
		DIR *fds;
		struct dirent *fe;

		if (pid <= 0 || pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/fd", pid);
		fds = opendir(path);
		if (!fds)
			continue;
		while ((fe = readdir(fds))) {
			ssize_t l;

			snprintf(path, sizeof(path), "/proc/%d/fd/%s", pid,
				 fe->d_name);
			l = readlink(path, link, sizeof(link) - 1);
			if (l <= 0)
				continue;
			link[l] = '\0';
			if (!strcmp(link, want)) {
				pids[n++] = pid;
				break;
			}
		}
		closedir(fds);
	}
	closedir(proc);
	return n;
}

void fb_server_stop(struct fb_fs *fs, int *status)
{
	pid_t pids[16];
	int n;

	(void)status;
	if (!fs->server_pid)
		return;
	n = socket_holders(fs->server_sock, pids, 16);
	for (int i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	/* Let them leave their read() and exit before the channel closes,
	 * so libfuse ends its loop cleanly rather than on a short read. */
	for (int waited = 0; n && waited < STOP_WAIT_MS; waited += 10) {
		if (!socket_holders(fs->server_sock, pids, 16))
			break;
		sleep_ms(10);
	}
}

void fb_server_reap(struct fb_fs *fs, int *status)
{
	int st = 0;

	for (int waited = 0; waited < STOP_WAIT_MS; waited += 10) {
		pid_t r = waitpid(fs->server_pid, &st, WNOHANG);

		if (r == fs->server_pid || (r < 0 && errno == ECHILD)) {
			*status = r == fs->server_pid ? st : 0;
			return;
		}
		sleep_ms(10);
	}
	kill(fs->server_pid, SIGKILL);
	waitpid(fs->server_pid, &st, 0);
	*status = st;
}
