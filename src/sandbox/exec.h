/*
 * exec.h - between sys_exec.c (an exec call: what runs, and how the call
 * is made to run it) and exec_file.c (a file of a mount opened to be run,
 * and its copy given to the caller).
 */
#ifndef FUSEBOX_SANDBOX_EXEC_H
#define FUSEBOX_SANDBOX_EXEC_H

#include "sandbox/sandbox.h"

#define SBX_EXEC_HEAD 256	/* what Linux reads first: BINPRM_BUF_SIZE */
#define SBX_EXEC_MAX_SCRIPTS 5	/* a sixth nested "#!" gives ELOOP */

/* A file of a mount opened to be run. */
struct sbx_exec_file {
	struct sbx_mount *mnt;	/* referenced */
	struct vfs_file *f;
	char path[PATH_MAX];	/* absolute */
	char head[SBX_EXEC_HEAD]; /* zero-padded past the end of the file */
	struct sbx_exec_key key;
};

/* A "#!" line, parsed. */
struct sbx_shebang {
	char name[SBX_EXEC_HEAD];
	char arg[SBX_EXEC_HEAD];
	bool has_arg;
	size_t name_end;	/* where the line goes on after the name */
};

bool sbx_exec_is_script(const char *head);
bool sbx_exec_is_elf(const char *head);
/* Linux's checks (do_open_execat, may_open), then OPEN and the head. */
int sbx_exec_open(struct sbx_call *c, const struct sbx_target *t,
		  struct sbx_exec_file *x);
/* The same for what path names, as the caller would resolve it: 1 with x
 * filled, 0 when it is not on a mount (t: the kernel's to open), or an
 * error. */
int sbx_exec_open_path(struct sbx_call *c, const char *path,
		       struct sbx_exec_file *x, struct sbx_target *t);
void sbx_exec_close(struct sbx *sb, struct sbx_exec_file *x);
/* The ELF program x in the caller, close-on-exec: the descriptor. */
long sbx_exec_load_elf(struct sbx_call *c, struct sbx_exec_file *x);
/* A copy of x in the caller, kept open across exec: first (if any),
 * then x from offset skip. The descriptor. */
long sbx_exec_load_copy(struct sbx_call *c, struct sbx_exec_file *x,
			const char *first, off_t skip);
/* binfmt_script's reading of a "#!" line: 0 or -ENOEXEC. */
int sbx_exec_parse_shebang(const char *head, struct sbx_shebang *sh);

#endif
