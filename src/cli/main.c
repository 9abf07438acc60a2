/*
 * main.c - the fusebox command: parses the command line, starts the FUSE
 * server with fb_spawn(), runs one subcommand against it and stops it.
 *
 * It owns the exit status: 2 for usage errors (found before any server is
 * started), 1 when the server cannot be started or refuses INIT, else
 * whatever the subcommand returns. The server's own exit status is never
 * passed on: a server that is told to stop may exit non-zero, and that
 * says nothing about whether our output was right.
 */
#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#define CLI_VERSION "0.1"

struct cli_cmd {
	const char *name;
	int (*run)(struct fb_fs *fs, const struct cli_args *a);
	int min_paths;
	int max_paths;		/* -1: no limit */
	int takes_all;		/* accepts -a */
};

static const struct cli_cmd cmds[] = {
	{ "ls", cli_ls, 0, 1, 1 },
	{ "cat", cli_cat, 1, -1, 0 },
	{ "stat", cli_stat, 1, -1, 0 },
	{ "tree", cli_tree, 0, 1, 0 },
};

static const char help_text[] =
"usage: fusebox [OPTIONS] COMMAND [ARGS...] -- SERVER [SERVER-ARGS...]\n"
"\n"
"Read the filesystem of a FUSE server without mounting it. fusebox starts\n"
"SERVER, speaks the FUSE protocol to it itself (a FUSE client in user\n"
"space), runs one COMMAND and stops the server again. Nothing is mounted\n"
"in the kernel.\n"
"\n"
"SERVER gets its mountpoint as \"/dev/fd/N\", a FUSE channel that is\n"
"already open: an argument \"{}\" is replaced by it, otherwise it is\n"
"appended to SERVER-ARGS. So only servers that accept /dev/fd/N as their\n"
"mountpoint work - libfuse 3 servers (since libfuse 3.3) do.\n"
"\n"
"       fusebox run [OPTIONS] [--] PROGRAM [ARGS...]\n"
"\n"
"`fusebox run` runs PROGRAM in a sandbox where FUSE servers mount without\n"
"privileges or kernel FUSE (see `fusebox run --help`).\n"
"\n"
"Commands (PATH is a path inside the served filesystem, / is its root):\n"
"  ls [-a] [PATH]  list directory PATH (default /) as `ls -l` does, or\n"
"                  `ls -la` with -a (--all); a PATH that is not a\n"
"                  directory gets its own single line\n"
"  cat PATH...     write the contents of each file to standard output\n"
"  stat PATH...    show the status of each file as `stat` does (a\n"
"                  symlink is shown, not followed)\n"
"  tree [PATH]     draw the tree below directory PATH (default /) as\n"
"                  `tree` does, with its closing count of directories\n"
"                  and files\n"
"\n"
"The output is byte for byte what GNU ls and stat, and tree, print for the\n"
"same files on a kernel FUSE mount under LC_ALL=C when their output is not\n"
"a terminal.\n"
"\n"
"Options (before COMMAND, or anywhere before --):\n"
"  --debug         log every FUSE request and reply on standard error\n"
"  --max-read=N    ask the server for READ requests of at most N bytes\n"
"  -h, --help      show this help and exit\n"
"  --version       show the version and exit\n"
"\n"
"Exit status:\n"
"  0  success\n"
"  1  a PATH could not be read, the output could not be written, or the\n"
"     server could not be started, refused INIT or went away\n"
"  2  bad usage (the server is not started)\n"
"The server's own exit status is not passed on.\n"
"\n"
"Examples:\n"
"  fusebox tree / -- build/fbdemo\n"
"  fusebox cat /hello -- build/servers/hello_ll\n"
"  fusebox ls -a / -- build/servers/passthrough_ll -o source=/etc\n";

void cli_error(const struct cli_args *a, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "%s: %s: ", CLI_NAME, a->cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));

static void usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", CLI_NAME);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nusage: %s [OPTIONS] COMMAND [ARGS...] -- SERVER "
		"[SERVER-ARGS...]\nTry '%s --help' for more information.\n",
		CLI_NAME, CLI_NAME);
	exit(2);
}

static const struct cli_cmd *find_cmd(const char *name)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(cmds[i].name, name) == 0)
			return &cmds[i];
	return NULL;
}

static uint32_t parse_max_read(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || *end || errno || v == 0 || v > UINT32_MAX || *s == '-')
		usage_error("--max-read wants a whole number of bytes from 1 "
			    "to %u, not '%s'", UINT32_MAX, s);
	return (uint32_t)v;
}

/* Whether prog names something exec() could run, searched in PATH as
 * fb_spawn() does; used only to explain a failed start. */
static int runnable(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	if (!path)
		path = "/bin:/usr/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (snprintf(buf, sizeof(buf), "%.*s%s%s", (int)len, path,
			     len ? "/" : "", prog) < (int)sizeof(buf) &&
		    access(buf, X_OK) == 0)
			return 1;
		path += len + (path[len] == ':');
	}
	return 0;
}

static void start_failed(const char *prog, const char *why)
{
	if (!runnable(prog)) {
		fprintf(stderr, "%s: cannot run server '%s': not found or "
			"not executable\n", CLI_NAME, prog);
		return;
	}
	fprintf(stderr, "%s: server '%s' did not start: %s\n"
		"%s: (the server must take /dev/fd/N as its mountpoint, as "
		"libfuse 3 servers do)\n", CLI_NAME, prog, why, CLI_NAME);
}

/* Runs the subcommand against a freshly started server; returns the exit
 * status. */
static int run_with_server(const struct cli_cmd *cmd, struct cli_args *a,
			   char **server, const struct fb_options *opts)
{
	struct fb_fs *fs;
	int rc, status;

	rc = fb_spawn(server, opts, &fs);
	if (rc < 0) {
		start_failed(server[0], strerror(-rc));
		return 1;
	}
	rc = fb_wait_init(fs);
	if (rc < 0) {
		const char *why = fb_conn_error(fs);

		start_failed(server[0], why ? why : strerror(-rc));
		fb_unmount(fs);
		return 1;
	}
	/* A reader of our output that goes away (`| head`) must not kill
	 * us before the server is stopped; write errors are reported. Set
	 * only now so the server does not inherit it. */
	signal(SIGPIPE, SIG_IGN);
	status = cmd->run(fs, a);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "%s: %s: write error: %s\n", CLI_NAME,
				a->cmd, strerror(errno));
		status = 1;
	}
	fb_unmount(fs);
	return status;
}

int main(int argc, char *argv[])
{
	struct fb_options opts;
	struct cli_args a = { 0 };
	const struct cli_cmd *cmd = NULL;
	int sep = argc;
	int status;

	setlocale(LC_ALL, "");
	if (argc > 1 && !strcmp(argv[1], "run"))
		return cli_run(argc - 1, argv + 1);
	fb_options_init(&opts);
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			sep = i;
			break;
		}
	}
	a.paths = calloc((size_t)argc, sizeof(char *));
	if (!a.paths) {
		perror(CLI_NAME);
		return 1;
	}
	for (int i = 1; i < sep; i++) {
		const char *arg = argv[i];

		if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
			fputs(help_text, stdout);
			return 0;
		} else if (strcmp(arg, "--version") == 0) {
			printf("%s %s\n", CLI_NAME, CLI_VERSION);
			return 0;
		} else if (strcmp(arg, "--debug") == 0) {
			opts.debug = 1;
		} else if (strncmp(arg, "--max-read=", 11) == 0) {
			opts.max_read = parse_max_read(arg + 11);
		} else if (strcmp(arg, "--max-read") == 0) {
			if (++i >= sep)
				usage_error("--max-read needs a value");
			opts.max_read = parse_max_read(argv[i]);
		} else if (strcmp(arg, "-a") == 0 ||
			   strcmp(arg, "--all") == 0) {
			a.all = 1;
		} else if (arg[0] == '-' && arg[1]) {
			usage_error("unknown option '%s'", arg);
		} else if (!cmd) {
			cmd = find_cmd(arg);
			if (!cmd)
				usage_error("unknown command '%s' (ls, cat, "
					    "stat or tree)", arg);
			a.cmd = cmd->name;
		} else {
			a.paths[a.npaths++] = argv[i];
		}
	}
	if (!cmd)
		usage_error("no command given (ls, cat, stat or tree)");
	if (a.all && !cmd->takes_all)
		usage_error("%s: -a is an option of ls only", cmd->name);
	if (a.npaths < cmd->min_paths)
		usage_error("%s: no PATH given", cmd->name);
	if (cmd->max_paths >= 0 && a.npaths > cmd->max_paths)
		usage_error("%s: takes at most one PATH", cmd->name);
	if (sep == argc)
		usage_error("no server given: end the command with "
			    "-- SERVER [SERVER-ARGS...]");
	if (sep + 1 == argc)
		usage_error("no server given after --");
	status = run_with_server(cmd, &a, argv + sep + 1, &opts);
	free(a.paths);
	return status;
}
