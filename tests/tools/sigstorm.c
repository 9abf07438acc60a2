/*
 * sigstorm - calls that must not fail with EINTR while a caught signal
 * (handler without SA_RESTART) arrives every few microseconds: close(2)
 * of pipe ends around fork (as a shell does while SIGCHLD comes in), and
 * stat/open/read/close of a file (on a FUSE mount, Linux waits for a
 * prompt server without being interrupted).
 *
 * Usage: sigstorm N [FILE [USEC]]: N rounds; with USEC, SIGALRM comes
 * every USEC microseconds too. Prints one line of counts; exits 1 if any
 * call failed with EINTR or a closed descriptor stayed open.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_signal(int sig)
{
	(void)sig;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal }; /* no SA_RESTART */
	long usec = argc > 3 ? atol(argv[3]) : 0;
	struct itimerval it = { { 0, usec }, { 0, usec } };
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	const char *file = argc > 2 && *argv[2] ? argv[2] : NULL;
	long close_eintr = 0, left_open = 0, file_eintr = 0, other = 0;

	sigemptyset(&sa.sa_mask);
	if (getenv("SIGSTORM_RESTART"))
		sa.sa_flags = SA_RESTART; /* then nothing may fail at all */
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGALRM, &sa, NULL);
	if (usec)
		setitimer(ITIMER_REAL, &it, NULL);
	for (int i = 0; i < n; i++) {
		int p[2];
		pid_t c;

		if (pipe(p) < 0) {
			perror("pipe");
			return 2;
		}
		c = fork();
		if (c == 0)
			_exit(0);
		if (close(p[1]) < 0 && errno == EINTR)
			close_eintr++;
		if (fcntl(p[1], F_GETFD) >= 0) {
			left_open++;
			close(p[1]);
		}
		close(p[0]);
		while (c > 0 && waitpid(c, NULL, 0) < 0 && errno == EINTR)
			;
		if (file) {
			struct stat st;
			char buf[64];
			int fd;

			if (stat(file, &st) < 0)
				errno == EINTR ? file_eintr++ : other++;
			fd = open(file, O_RDONLY);
			if (fd < 0) {
				errno == EINTR ? file_eintr++ : other++;
				continue;
			}
			if (read(fd, buf, sizeof(buf)) < 0)
				errno == EINTR ? file_eintr++ : other++;
			if (close(fd) < 0 && errno == EINTR)
				close_eintr++;
		}
	}
	printf("close_eintr=%ld left_open=%ld file_eintr=%ld other_errors=%ld\n",
	       close_eintr, left_open, file_eintr, other);
	return close_eintr || left_open || file_eintr || other ? 1 : 0;
}
