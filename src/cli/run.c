/*
 * run.c - `fusebox run`: run a program in the sandbox where FUSE servers
 * mount without privileges and without the kernel's FUSE.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "sandbox/sandbox.h"
#include "vfs/pagecache.h"

static const char run_help[] =
"usage: fusebox run [OPTIONS] [--] PROGRAM [ARGS...]\n"
"\n"
"Run PROGRAM, and every process it starts, in a sandbox where FUSE works\n"
"with no privileges and no kernel FUSE: inside it, open(\"/dev/fuse\") and\n"
"mount(2) of type fuse (as libfuse, fusermount3 and go-fuse do them) are\n"
"served by fusebox, and every process of the sandbox sees the mount.\n"
"fusebox traps the sandbox's filesystem syscalls (seccomp user\n"
"notification); paths outside fusebox mounts are left to the kernel.\n"
"\n"
"  fusebox run -- sh -c 'squashfuse app.sqfs /tmp/m && ls /tmp/m'\n"
"\n"
"Mounts are read-write (read-only with mount -o ro). Programs that live\n"
"on a mount run from a copy of the file (see docs/sandbox.md, \"exec\").\n"
"When PROGRAM exits, fusebox unmounts what is still mounted (DESTROY, then\n"
"the server's reads fail with ENODEV), waits up to 2 s for the remaining\n"
"processes of the sandbox, ends those that are left (SIGTERM, then\n"
"SIGKILL) and exits with PROGRAM's status (128+N if a signal N ended it).\n"
"\n"
"Options:\n"
"  --debug         log FUSE requests and the syscalls fusebox serves\n"
"  --max-read=N    READ requests of at most N bytes (unless the mount\n"
"                  sets max_read)\n"
"  --cache-size=SIZE  memory for cached file data, all mounts together\n"
"                  (bytes, or with K, M, G; default: FUSEBOX_CACHE_SIZE,\n"
"                  else 1/16 of RAM within 16M..2G)\n"
"  --no-writeback  do not offer servers writeback caching: each write\n"
"                  reaches the server before it returns (default: offer\n"
"                  it unless FUSEBOX_WRITEBACK=0; a server that takes it\n"
"                  gets written data on fsync, close, unmount and when\n"
"                  dirty data fills half the cache)\n"
"  -h, --help      show this help and exit\n"
"\n"
"Exit status: PROGRAM's; 125 if the sandbox cannot be set up, 126 if\n"
"PROGRAM cannot be run, 127 if it is not found.\n"
"See docs/sandbox.md for what programs see and what is not done yet.\n";

int cli_run(int argc, char *argv[])
{
	struct sbx_options o = { 0 };
	int i;

	for (i = 1; i < argc; i++) {
		const char *arg = argv[i];

		if (!strcmp(arg, "--")) {
			i++;
			break;
		} else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(run_help, stdout);
			return 0;
		} else if (!strcmp(arg, "--debug")) {
			o.debug = true;
		} else if (!strncmp(arg, "--max-read=", 11)) {
			char *end;
			unsigned long v = strtoul(arg + 11, &end, 10);

			if (!arg[11] || *end || !v || v > 0xffffffffUL) {
				fprintf(stderr, "fusebox run: --max-read wants "
					"a whole number of bytes, not '%s'\n",
					arg + 11);
				return 2;
			}
			o.max_read = (unsigned)v;
		} else if (!strncmp(arg, "--cache-size=", 13)) {
			size_t v;

			if (vfs_pc_parse_size(arg + 13, &v) || !v) {
				fprintf(stderr, "fusebox run: --cache-size "
					"wants a size like 64M, not '%s'\n",
					arg + 13);
				return 2;
			}
			vfs_pc_set_limit(v);
		} else if (!strcmp(arg, "--no-writeback")) {
			vfs_pc_set_writeback(false);
		} else if (arg[0] == '-') {
			fprintf(stderr, "fusebox run: unknown option '%s'\n"
				"Try 'fusebox run --help' for more "
				"information.\n", arg);
			return 2;
		} else {
			break;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "fusebox run: no PROGRAM given\n"
			"usage: fusebox run [OPTIONS] [--] PROGRAM [ARGS...]\n");
		return 2;
	}
	return sbx_run(&o, argv + i);
}
