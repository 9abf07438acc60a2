/*
 * log.c - messages about misbehaving servers, and opcode names.
 *
 * A hostile server can make every reply bad; the log keeps at most
 * LOG_BURST lines per second and counts the rest, so it cannot be used to
 * fill a disk or drown other output.
 */
#include <linux/fuse.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "fuse/conn.h"

#define LOG_BURST 20

static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t log_second;
static unsigned log_count, log_dropped;

void fuse_log_bad(struct fuse_conn *c, const char *fmt, ...)
{
	struct timespec now;
	char line[512];
	va_list ap;

	(void)c;
	clock_gettime(CLOCK_MONOTONIC, &now);
	pthread_mutex_lock(&log_lock);
	if (now.tv_sec != log_second) {
		if (log_dropped)
			fprintf(stderr, "fusebox: %u more bad replies not "
					"logged\n",
				log_dropped);
		log_second = now.tv_sec;
		log_count = log_dropped = 0;
	}
	if (log_count++ >= LOG_BURST) {
		log_dropped++;
		pthread_mutex_unlock(&log_lock);
		return;
	}
	pthread_mutex_unlock(&log_lock);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "fusebox: %s\n", line);
}

static const char *const opcode_names[] = {
	[FUSE_LOOKUP] = "LOOKUP",	  [FUSE_FORGET] = "FORGET",
	[FUSE_GETATTR] = "GETATTR",	  [FUSE_SETATTR] = "SETATTR",
	[FUSE_READLINK] = "READLINK",	  [FUSE_SYMLINK] = "SYMLINK",
	[FUSE_MKNOD] = "MKNOD",		  [FUSE_MKDIR] = "MKDIR",
	[FUSE_UNLINK] = "UNLINK",	  [FUSE_RMDIR] = "RMDIR",
	[FUSE_RENAME] = "RENAME",	  [FUSE_LINK] = "LINK",
	[FUSE_OPEN] = "OPEN",		  [FUSE_READ] = "READ",
	[FUSE_WRITE] = "WRITE",		  [FUSE_STATFS] = "STATFS",
	[FUSE_RELEASE] = "RELEASE",	  [FUSE_FSYNC] = "FSYNC",
	[FUSE_SETXATTR] = "SETXATTR",	  [FUSE_GETXATTR] = "GETXATTR",
	[FUSE_LISTXATTR] = "LISTXATTR",	  [FUSE_REMOVEXATTR] = "REMOVEXATTR",
	[FUSE_FLUSH] = "FLUSH",		  [FUSE_INIT] = "INIT",
	[FUSE_OPENDIR] = "OPENDIR",	  [FUSE_READDIR] = "READDIR",
	[FUSE_RELEASEDIR] = "RELEASEDIR", [FUSE_FSYNCDIR] = "FSYNCDIR",
	[FUSE_GETLK] = "GETLK",		  [FUSE_SETLK] = "SETLK",
	[FUSE_SETLKW] = "SETLKW",	  [FUSE_ACCESS] = "ACCESS",
	[FUSE_CREATE] = "CREATE",	  [FUSE_INTERRUPT] = "INTERRUPT",
	[FUSE_BMAP] = "BMAP",		  [FUSE_DESTROY] = "DESTROY",
	[FUSE_IOCTL] = "IOCTL",		  [FUSE_POLL] = "POLL",
	[FUSE_NOTIFY_REPLY] = "NOTIFY_REPLY",
	[FUSE_BATCH_FORGET] = "BATCH_FORGET",
	[FUSE_FALLOCATE] = "FALLOCATE",	  [FUSE_READDIRPLUS] = "READDIRPLUS",
	[FUSE_RENAME2] = "RENAME2",	  [FUSE_LSEEK] = "LSEEK",
	[FUSE_COPY_FILE_RANGE] = "COPY_FILE_RANGE",
	[FUSE_SETUPMAPPING] = "SETUPMAPPING",
	[FUSE_REMOVEMAPPING] = "REMOVEMAPPING",
	[FUSE_SYNCFS] = "SYNCFS",	  [FUSE_TMPFILE] = "TMPFILE",
};

const char *fuse_opcode_name(uint32_t opcode)
{
	if (opcode < sizeof(opcode_names) / sizeof(opcode_names[0]) &&
	    opcode_names[opcode])
		return opcode_names[opcode];
	return "UNKNOWN";
}
