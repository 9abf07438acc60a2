/*
 * fakesrv.h - a scripted FUSE server for tests, and a tiny case runner.
 *
 * The server owns one end of a SOCK_SEQPACKET socketpair; fusebox gets the
 * other through fb_mount(). A thread reads one request per message,
 * records it, and asks the test's handler what to do. The handler may let
 * the server answer from its small in-memory tree (FAKESRV_DEFAULT), answer
 * itself with any bytes at all (FAKESRV_DONE, also for "never answer"), or
 * park the request to be answered later from another thread (FAKESRV_HOLD).
 *
 * Everything here is thread safe: one mutex guards the tree, the records,
 * the parked requests and the counters. The handler runs without it.
 */
#ifndef FUSEBOX_TESTS_FAKESRV_H
#define FUSEBOX_TESTS_FAKESRV_H

#include <linux/fuse.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "fusebox.h"

struct fakesrv;

/* One request as the handler sees it. Pointers stay valid only during the
 * handler call (or, for a parked request, until it is answered). */
struct fakesrv_req {
	struct fuse_in_header h;
	const unsigned char *arg;	/* bytes after the header */
	size_t arglen;
	const char *name;	/* LOOKUP / GETXATTR name, else NULL */
	uint64_t fh, offset;	/* READ, READDIR(PLUS), RELEASE(DIR) */
	uint32_t size;		/* READ, READDIR(PLUS), GETXATTR, LISTXATTR */
};

/* What the server recorded about one request. BATCH_FORGET makes one
 * record per forgotten node. */
struct fakesrv_rec {
	uint32_t opcode;
	uint64_t nodeid, unique;
	uint64_t offset, fh;
	uint32_t size;
	uint64_t nlookup;	/* FORGET, BATCH_FORGET */
	char name[256];
};

enum fakesrv_action {
	FAKESRV_DEFAULT,	/* answer from the tree */
	FAKESRV_DONE,		/* the handler answered (or chose not to) */
	FAKESRV_HOLD,		/* park it; fakesrv_release() answers later */
};

typedef enum fakesrv_action (*fakesrv_handler)(struct fakesrv *srv,
						const struct fakesrv_req *req,
						void *arg);

/* Set before fakesrv_start(); defaults in brackets. */
struct fakesrv_cfg {
	uint32_t major, minor;	/* INIT reply [7, 38] */
	uint64_t init_flags;	/* offered back, ANDed with the client's */
	uint32_t max_write;	/* [131072] */
	uint16_t max_pages;	/* [32] */
	uint64_t entry_valid_ms, attr_valid_ms;	/* [1000, 1000] */
	/* A LOOKUP of a missing name: nodeid 0 with this timeout when
	 * neg_entry, else an ENOENT error. [false, 0] */
	bool neg_entry;
	uint64_t neg_valid_ms;
	uint32_t open_flags;	/* FOPEN_* in OPEN replies [0] */
};

struct fakesrv *fakesrv_new(void);
struct fakesrv_cfg *fakesrv_cfg(struct fakesrv *srv);
/* Add a node under parent (FUSE_ROOT_ID for the root); returns its nodeid.
 * data: file contents or symlink target; NULL with size > 0 gives
 * fakesrv_pattern() bytes. */
uint64_t fakesrv_add(struct fakesrv *srv, uint64_t parent, const char *name,
		     mode_t mode, const void *data, size_t size);
/* The server changes a file behind the client's back: new contents
 * (NULL: pattern bytes) and mtime (0: the default). */
void fakesrv_set_file(struct fakesrv *srv, uint64_t nodeid,
		      const void *data, size_t size, uint64_t mtime);
void fakesrv_add_xattr(struct fakesrv *srv, uint64_t nodeid,
		       const char *name, const void *value, size_t len);
/* The byte at offset off of a file made with data NULL. */
unsigned char fakesrv_pattern(uint64_t nodeid, uint64_t off);

/* Start the server thread; *client_fd is the end for fb_mount(). */
int fakesrv_start(struct fakesrv *srv, fakesrv_handler h, void *arg,
		  int *client_fd);
/* fakesrv_start + fb_mount. */
int fakesrv_mount(struct fakesrv *srv, fakesrv_handler h, void *arg,
		  const struct fb_options *opts, struct fb_fs **fs);
/* Close the server's end (the client sees the server die), stop the
 * thread, free everything. */
void fakesrv_free(struct fakesrv *srv);
/* Close the server's end now, as a crashing server would. */
void fakesrv_close(struct fakesrv *srv);

/* Replies; any thread may send them. */
int fakesrv_reply(struct fakesrv *srv, uint64_t unique, int error,
		  const void *payload, size_t len);
int fakesrv_reply_raw(struct fakesrv *srv, const void *msg, size_t len);
int fakesrv_reply_default(struct fakesrv *srv, const struct fakesrv_req *req);
/* The default reply (header included) into buf, without sending it:
 * its length, 0 for requests that get no reply, or -ENOSPC. */
ssize_t fakesrv_build_reply(struct fakesrv *srv, const struct fakesrv_req *req,
			    void *buf, size_t cap);

/* Pieces for hand-made replies. */
int fakesrv_attr(struct fakesrv *srv, uint64_t nodeid, struct fuse_attr *a);
int fakesrv_entry(struct fakesrv *srv, uint64_t nodeid,
		  struct fuse_entry_out *e);
/* Append one record at buf+pos; returns the new pos, or 0 if it does not
 * fit in cap. namelen is written as given (the name is padded with 'x' if
 * namelen is longer than name). */
size_t fakesrv_put_dirent(void *buf, size_t cap, size_t pos, uint64_t ino,
			  uint64_t off, uint32_t type, const char *name,
			  uint32_t namelen);
size_t fakesrv_put_direntplus(void *buf, size_t cap, size_t pos,
			      const struct fuse_entry_out *e, uint64_t off,
			      uint32_t type, const char *name,
			      uint32_t namelen);

/* Parked requests. */
int fakesrv_nheld(struct fakesrv *srv);
/* Wait until at least n are parked: 0, or -ETIMEDOUT. */
int fakesrv_wait_held(struct fakesrv *srv, int n, int timeout_ms);
/* Answer parked requests with the default reply: unique 0 = all. Returns
 * how many were answered. */
int fakesrv_release(struct fakesrv *srv, uint64_t unique);
/* Take the oldest parked request without answering it; free it with
 * fakesrv_req_free(). NULL if none. */
struct fakesrv_req *fakesrv_take_held(struct fakesrv *srv);
void fakesrv_req_free(struct fakesrv_req *req);

/* Records. opcode 0 / nodeid 0 / name NULL match any. */
int fakesrv_count(struct fakesrv *srv, uint32_t opcode, uint64_t nodeid,
		  const char *name);
int fakesrv_wait_count(struct fakesrv *srv, uint32_t opcode, int n,
		       int timeout_ms);
/* Copy of all records; free() it. */
size_t fakesrv_records(struct fakesrv *srv, struct fakesrv_rec **out);
/* Lookups handed out (LOOKUP and READDIRPLUS replies sent) and nlookup
 * forgotten, per nodeid. */
uint64_t fakesrv_lookups(struct fakesrv *srv, uint64_t nodeid);
uint64_t fakesrv_forgets(struct fakesrv *srv, uint64_t nodeid);
/* Count n lookups of nodeid handed out by a hand-made reply. */
void fakesrv_note_lookup(struct fakesrv *srv, uint64_t nodeid, uint64_t n);
/* FORGETs for nodeids the server never made. */
uint64_t fakesrv_bad_forgets(struct fakesrv *srv);
/* FORGETs that, when they arrived, took a node's count past the lookups
 * handed out so far (the root starts at 1), or forgot 0 lookups. */
uint64_t fakesrv_over_forgets(struct fakesrv *srv);
uint64_t fakesrv_max_nodeid(struct fakesrv *srv);
/* Requests received and not yet answered: now, and the most ever. */
int fakesrv_outstanding(struct fakesrv *srv);
int fakesrv_max_outstanding(struct fakesrv *srv);
/* True once the client closed its end (or fakesrv_close ran). */
bool fakesrv_closed(struct fakesrv *srv);
int fakesrv_wait_closed(struct fakesrv *srv, int timeout_ms);

const char *fakesrv_opname(uint32_t opcode);
uint64_t fakesrv_now_ms(void);
void fakesrv_sleep_ms(unsigned ms);

/* Case runner: `prog --list` prints the names; `prog NAME` runs one case
 * under a watchdog (timeout_s) and exits with its result: 0 pass, 77 skip,
 * anything else fail. */
struct fakesrv_case {
	const char *name;
	int (*fn)(void);
};
int fakesrv_main(const struct fakesrv_case *cases, size_t n, int argc,
		 char **argv, unsigned timeout_s);

#define FS_FAIL 1
#define FS_SKIP 77

/* Fail the case with a message when cond is false. */
#define FS_CHECK(cond, ...)                                                  \
	do {                                                                 \
		if (!(cond)) {                                               \
			fprintf(stderr, "%s:%d: check failed: %s\n  ",       \
				__FILE__, __LINE__, #cond);                  \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
			return FS_FAIL;                                      \
		}                                                            \
	} while (0)

/* Expect a call's result to equal want (both as long long). */
#define FS_CHECK_EQ(got, want)                                               \
	do {                                                                 \
		long long got_ = (long long)(got);                           \
		long long want_ = (long long)(want);                         \
		FS_CHECK(got_ == want_, "%s = %lld, expected %s = %lld",     \
			 #got, got_, #want, want_);                          \
	} while (0)

#endif
