/*
 * sandbox.h - `fusebox run`: a supervisor that traps the filesystem
 * syscalls of a process tree with seccomp user notification and serves
 * those that touch a fusebox mount from the VFS. Everything else is let
 * through (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and the kernel does it.
 *
 * Objects (all owned by the one struct sbx):
 *  - sbx_device: an emulated /dev/fuse. The server gets one end of a
 *    SOCK_SEQPACKET socketpair; fusebox's FUSE client speaks on the other.
 *  - sbx_mount: a device attached at a path by mount(2).
 *  - sbx_vfile: a descriptor a sandboxed process holds on a file of a
 *    mount. The process holds a placeholder (an empty memfd, or a pipe
 *    whose readiness is the file's: vpoll.c) at a number
 *    in the trapped window [SBX_VFD_LO, SBX_VFD_HI); the supervisor finds
 *    the vfile by the placeholder's inode number, so fork, dup by the
 *    kernel, SCM_RIGHTS and exec need no bookkeeping. The last close of
 *    the placeholder is seen by inotify (IN_CLOSE), which drops the vfile.
 *  - sbx_proc: per process state the kernel cannot keep for us: the
 *    current directory when it is inside a mount.
 *  - exec of a program on a mount (sys_exec.c): it runs from a sealed
 *    memfd copy (exec_file.c, exec_copies.c), by a symlink named after
 *    it (exec_links.c), the trapped call redirected in place or by
 *    ptrace (ptrace.c).
 *
 * Locking: sb->lock guards the mount, device, vfile and proc tables and
 * the reference counts in them. It is never held across a request to a
 * server, nor across a call into the VFS. vpoll.c adds two leaves:
 * sb->vpoll_lock (taken under sb->lock) and each mount's vpoll_lock
 * (taken on the receiving thread under the VFS's poll_lock).
 */
#ifndef FUSEBOX_SANDBOX_H
#define FUSEBOX_SANDBOX_H

#include <linux/seccomp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "lib/fs.h"
#include "sandbox/mountopt.h"

/* Descriptors in [768, 1024) are trapped: (fd & ~0xff) == 0x300. The
 * window stays below 1024 for select() and below the usual soft
 * RLIMIT_NOFILE (ADDFD cannot go above it). */
#define SBX_VFD_LO 768
#define SBX_VFD_HI 1024
/* Descriptors below this are trapped too, for the fd calls: shells
 * redirect into 0-9 (`cmd > file` is dup2(ours, 1)), and a file on a
 * mount that lands there keeps working. */
#define SBX_LOW_HI 10
#define SBX_VFD_MASK 0xffffff00u
#define SBX_VFD_VAL 0x300u
/* Emulated /dev/fuse descriptors go to [736, 768): reads on them are
 * trapped so that after unmount they fail with ENODEV as on Linux. */
#define SBX_DEV_LO 736
#define SBX_DEV_HI 768
#define SBX_DEV_MASK 0xffffffe0u
#define SBX_DEV_VAL 0x2e0u

/* FUSE_DEV_IOC_CLONE, _IOR(229, 0, uint32_t), spelled out for BPF. */
#define SBX_FUSE_DEV_IOC_CLONE 0x8004e500u

/* A handler's answer: a value >= 0, a negative errno, or one of these. */
#define SBX_CONTINUE (-100000L) /* let the kernel do the syscall */
#define SBX_SENT (-100001L)	/* already answered (ADDFD with SEND) */

struct sbx;

struct sbx_device {
	struct sbx_device *next;
	int ours;		/* fusebox's end of the socketpair */
	ino_t ino;		/* the server's end, as /proc/PID/fd shows */
	struct sbx_mount *mnt;	/* NULL until mount(2) */
	bool dead;		/* unmounted: reads give ENODEV */
};

struct sbx_mount {
	struct sbx_mount *next;
	int id;			/* mount id in /proc/PID/mountinfo */
	char *path;		/* canonical mountpoint */
	size_t pathlen;
	dev_t under_dev;	/* the directory mounted on */
	ino_t under_ino;
	struct fb_fs *fs;
	struct sbx_device *dev;
	struct sbx_fuse_opts opts;
	unsigned long flags;	/* MS_* as mount(2) got them */
	char fstype[80];
	unsigned refs;		/* table + vfiles + cwds + calls in flight */
	bool detached;
	/* vpoll.c: NOTIFY_POLL wakeups of this mount (vpoll_lock) and the
	 * thread that answers them, started with the first pipe
	 * placeholder. */
	struct sbx *sb;
	pthread_mutex_t vpoll_lock;
	pthread_cond_t vpoll_cv;
	struct sbx_vpoll_wake *vpoll_queue;
	pthread_t vpoll_thread;
	bool vpoll_started, vpoll_stop;
};

struct sbx_vfile {
	struct sbx_vfile *next;
	dev_t ph_dev;		/* the placeholder's inode */
	ino_t ph_ino;
	int memfd;		/* our own description of the placeholder */
	/* A pipe placeholder (vpoll.c): our end, -1 for a memfd; the
	 * placeholder's access mode, its level and the POLL answer it
	 * shows (sb->vpoll_lock). */
	int ctl;
	int ph_acc;
	int level;
	uint64_t ticket;
	int wd;			/* inotify watch on it */
	struct sbx_mount *mnt;	/* referenced */
	struct vfs_file *f;	/* referenced */
	char *path;		/* absolute, for /proc/PID/fd/N */
	/* Once mapped: the memfd holds the file, as this mapping of it
	 * (mapping.h); made once, under map_lock. */
	struct vfs_mapping *map;
	pthread_mutex_t map_lock;
	/* A FIFO node: one record per node, whose "placeholder" is
	 * fusebox's private FIFO itself, given to the process (data moves
	 * natively; only metadata calls are served). The kernel tells of
	 * no close we could count reliably (a FIFO's inotify close events
	 * coalesce), so the record stays until its mount goes, or until an
	 * unmount finds no process holding the FIFO (sbx_fifo_gc). */
	bool fifo;
	bool gc_seen;		/* sbx_fifo_gc's mark (sb->lock) */
	unsigned refs;		/* the table's, and users' */
	struct fuse_caller who;	/* the opener: FLUSH at the last close */
	/* Processes that took POSIX locks through it (sb->lock). */
#define SBX_LOCK_OWNERS 8
	uint64_t lock_owners[SBX_LOCK_OWNERS];
	unsigned n_lock_owners;
};

struct sbx_proc {
	struct sbx_proc *next;
	pid_t tid;
	pid_t tgid;
	int pidfd;
	struct sbx_cwd *cwd;	/* NULL: the kernel's cwd is the real one */
};

/* A current directory inside a mount, shared by the threads of a
 * process (CLONE_FS); copied on fork. */
struct sbx_cwd {
	unsigned refs;
	struct sbx_mount *mnt;	/* referenced */
	struct vfs_inode *ino;	/* referenced */
	char *path;		/* absolute */
};

struct sbx_options {
	bool debug;
	unsigned max_read;
};

struct sbx {
	struct sbx_options opts;
	int listener;		/* seccomp notification fd */
	int inotify;		/* placeholders' last close */
	int epoll;		/* pidfds of known processes */
	pid_t child;
	pthread_mutex_t lock;
	struct sbx_mount *mounts;
	unsigned n_mounts;	/* read without the lock as a hint */
	int next_mnt_id;
	struct sbx_device *devices;
	struct sbx_vfile *vfiles;
	dev_t memfd_dev;	/* st_dev of placeholders (0: none made) */
	bool killable;		/* trapped calls wait killably (filter.c) */
	bool recv_blocks;	/* RECV alone may wait (run.c) */
	/* sys_inotify.c: the programs' inotify instances (sb->lock), and
	 * the epoll set of their kernel inotify descriptors. */
	struct sbx_inotify *inotifies;
	int ino_epoll;
	dev_t fifo_dev;		/* st_dev of fusebox's private FIFOs */
	/* This kernel refuses O_CREAT|O_DIRECTORY with EINVAL (Linux 6.4
	 * on), before it looks at the path: so does fusebox. */
	bool creat_dir_einval;
	dev_t pipe_dev;		/* st_dev of pipe placeholders (vpoll.c) */
	/* vpoll.c: guards the levels of pipe placeholders; numbers POLLs. */
	pthread_mutex_t vpoll_lock;
	uint64_t vpoll_ticket;
	/* Close events of placeholders: taken and handled (vfd.c). */
	pthread_mutex_t ino_lock;
	pthread_cond_t ino_cv;
	uint64_t ino_taken, ino_done;
	struct sbx_proc *procs;
	unsigned n_vcwd;	/* processes with a cwd in a mount (hint) */
	bool stopping;

	/* Worker threads taking notifications (run.c). One of them holds
	 * the turn: it alone receives, and it serves what it received
	 * itself, keeping the turn, unless the call is about to wait
	 * (sbx_turn_pass). wlock guards all but the two hints the
	 * watchdog reads (turn_busy, turn_calls: atomics). */
	pthread_mutex_t wlock;
	pthread_cond_t wcv;
	pthread_cond_t turn_cv;
	unsigned workers, idle, max_workers;
	bool turn_taken;
	uint64_t turn_gen;	/* bumped at every hand-off */
	bool turn_busy;		/* the holder is serving a call */
	uint64_t turn_calls;	/* calls the holders received */
};

/* One trapped syscall being handled. */
struct sbx_call {
	struct sbx *sb;
	struct seccomp_notif *n;
	pid_t tid;
	struct fuse_caller who;
	bool who_known;
	/* Answered early, -ERESTARTSYS, for a signal (sbx_call_gone). */
	bool answered;
	/* This call's thread holds the listener's turn (run.c), taken
	 * at turn_gen. */
	bool holds_turn;
	uint64_t turn_gen;
};

/* The kernel's "restart unless the handler lacks SA_RESTART": a trapped
 * call answered with it while a caught signal is pending for the caller
 * ends as a native call interrupted by that signal would. */
#define SBX_ERESTARTSYS 512

/* run.c */
int sbx_run(const struct sbx_options *o, char *const argv[]);
/* Before a call may wait (for a server, a lock, another thread): hand
 * the listener's turn on to another worker, so that other calls -
 * among them the server's own - are still received. Cheap when the
 * turn was already passed. */
void sbx_turn_pass(struct sbx_call *c);

/* filter.c: install the filter in the calling process; returns the
 * listener fd or a negative errno, and whether trapped calls wait
 * killably (SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV). */
int sbx_filter_install(bool *killable);

/* notify.c: talking to the kernel about a trapped call. */
int sbx_reply(struct sbx *sb, uint64_t id, long val);
bool sbx_call_valid(struct sbx_call *c);
/* Whether a trapped call should stop waiting: its caller is gone
 * (killed; under the old interruptible wait, any signal), or a signal it
 * catches is pending, in which case the call is answered -ERESTARTSYS
 * right here and the rest of its work is discarded. close(2),
 * close_range(2), execve(2) and execveat(2) never stop for a signal, as
 * on Linux. */
bool sbx_call_gone(struct sbx_call *c);
/* A signal pending for thread tid, not blocked, that it catches. */
bool sbx_signal_pending(pid_t tid);
/* Copy in the NUL-terminated string at addr (at most size-1 bytes):
 * -EFAULT, -ENAMETOOLONG. */
int sbx_read_str(struct sbx_call *c, uint64_t addr, char *buf, size_t size);
int sbx_read_mem(struct sbx_call *c, uint64_t addr, void *buf, size_t len);
int sbx_write_mem(struct sbx_call *c, uint64_t addr, const void *buf,
		  size_t len);
/* Put fd into the target at a free number of the window and answer the
 * call with it. Returns SBX_SENT or a negative errno. */
long sbx_send_fd(struct sbx_call *c, int fd, int lo, int hi, bool cloexec);
/* The lowest free descriptor of the caller from min below SBX_LOW_HI,
 * or -1. */
int sbx_low_free_fd(struct sbx_call *c, int min);
/* Put fd into the target at exactly newfd (dup2 semantics), answering. */
long sbx_send_fd_at(struct sbx_call *c, int fd, int newfd, bool cloexec);
/* Put fd into the target at newfd (or, newfd < 0, at the lowest free
 * number of the window) without answering the call: the number or a
 * negative errno. */
long sbx_install_fd(struct sbx_call *c, int fd, int newfd, bool cloexec);
const struct fuse_caller *sbx_who(struct sbx_call *c);
/* sbx_who with the caller's umask, for calls that create. */
const struct fuse_caller *sbx_who_umask(struct sbx_call *c);

/* dispatch.c */
long sbx_dispatch(struct sbx_call *c);

/* mounts.c */
void sbx_mount_get(struct sbx_mount *mt);
void sbx_mount_put(struct sbx *sb, struct sbx_mount *mt);
/* The mount whose mountpoint is exactly path, referenced. */
struct sbx_mount *sbx_mount_at(struct sbx *sb, const char *path);
/* The mount over a directory with this identity, referenced. */
struct sbx_mount *sbx_mount_over(struct sbx *sb, dev_t dev, ino_t ino);
long sbx_sys_mount(struct sbx_call *c);
long sbx_sys_umount2(struct sbx_call *c);
void sbx_unmount_all(struct sbx *sb);
/* Drop the FIFO records of mt (every mount: NULL) that no process holds
 * open any more; with all, every one of them. */
void sbx_fifo_gc(struct sbx *sb, struct sbx_mount *mt, bool all);

/* device.c */
long sbx_dev_open(struct sbx_call *c, int flags);
struct sbx_device *sbx_dev_by_ino(struct sbx *sb, ino_t ino);
long sbx_dev_read(struct sbx_call *c);
long sbx_dev_ioctl(struct sbx_call *c);
/* The largest message a server may splice in: a reply of 256 pages. */
#define SBX_DEV_MSG_MAX (256 * 4096 + 4096)
long sbx_dev_splice_write(struct sbx_call *c);
void sbx_dev_shutdown(struct sbx *sb, struct sbx_device *d);

/* resolve.c: where a path a sandboxed process names lands. */
enum sbx_where { SBX_NATIVE, SBX_VIRTUAL, SBX_DEVFUSE };
struct sbx_target {
	enum sbx_where where;
	struct sbx_mount *mnt;	/* SBX_VIRTUAL: referenced */
	struct vfs_inode *ino;	/* SBX_VIRTUAL: referenced */
	/* SBX_VIRTUAL: the absolute path. SBX_NATIVE with rewrite: the
	 * native path the walk reached from inside a mount, which the
	 * kernel cannot reach from the caller's arguments (so the call is
	 * done by us, on this path). */
	char path[4096];
	bool rewrite;
};
#define SBX_FOLLOW 1		/* follow a symlink in the last component */
#define SBX_EMPTY_PATH 2	/* "" names dirfd itself */
#define SBX_PARENT 4		/* stop at the parent: for calls that create */
/* SBX_FOLLOW and SBX_EMPTY_PATH for a syscall's AT_* flags. */
int sbx_at_flags(int at_flags);
/* 0 with *t filled, or a negative errno the syscall must return. */
int sbx_resolve(struct sbx_call *c, int dirfd, const char *path, int flags,
		struct sbx_target *t);
void sbx_target_put(struct sbx *sb, struct sbx_target *t);

/* sys_modify.c: the directory that holds a path's last name, for calls
 * that make or remove a name. */
struct sbx_named {
	struct sbx_target dir;	/* VIRTUAL: the directory in the mount */
	struct vfs_last last;
	bool mountpoint;	/* native dir, and the name is a mountpoint */
};
/* 0 with nm filled (put it), SBX_CONTINUE for "" (the kernel's ENOENT),
 * or a negative errno. */
long sbx_parent_of_path(struct sbx_call *c, int dirfd, const char *path,
			struct sbx_named *nm);
void sbx_named_put(struct sbx *sb, struct sbx_named *nm);

/* sys_inotify.c: inotify instances of the sandboxed programs. */
struct sbx_inotify;
long sbx_sys_inotify_init(struct sbx_call *c, int flags);
long sbx_sys_inotify_add_watch(struct sbx_call *c);
long sbx_sys_inotify_rm_watch(struct sbx_call *c);
/* read/ioctl on a descriptor: *mine says whether it is an instance's. */
long sbx_inotify_fd_call(struct sbx_call *c, bool *mine);
/* The instance whose last close raised wd's event, out of the table
 * (sb->lock held); then sbx_inotify_closed with no lock held. */
struct sbx_inotify *sbx_inotify_unlink_locked(struct sbx *sb, int wd);
void sbx_inotify_closed(struct sbx *sb, struct sbx_inotify *gone);
void *sbx_inotify_forwarder(void *arg);
/* Whether the caller's fd is an instance (readlink of /proc/PID/fd/N). */
bool sbx_inotify_is(struct sbx_call *c, int fd);
/* open(2) of /proc/PID/fdinfo/N for an instance: its watches, as Linux
 * shows them; SBX_CONTINUE for any other path. */
long sbx_inotify_fdinfo_open(struct sbx_call *c, const char *path,
			     int flags);
/* sys_path.c: answer an open(2) with a read-only file holding text. */
long sbx_serve_text(struct sbx_call *c, const char *name, const char *text,
		    size_t len, int flags);

/* sys_socket.c: bind(2) and connect(2) of Unix sockets named on a
 * mount. */
long sbx_sys_bind(struct sbx_call *c);
long sbx_sys_connect(struct sbx_call *c);

/* vfd.c */
struct sbx_vfile *sbx_vfile_of(struct sbx_call *c, int fd);
/* The POSIX lock owner for the caller's process, remembered by v so
 * that its locks go at v's last close. */
uint64_t sbx_lock_owner(struct sbx_call *c, struct sbx_vfile *v);
/* Whether fd is one of our descriptors. */
bool sbx_vfile_is(struct sbx_call *c, int fd);
void sbx_vfile_put(struct sbx *sb, struct sbx_vfile *v);
/* Hand the target a new descriptor on f (reference passed in). */
long sbx_vfile_send(struct sbx_call *c, struct sbx_mount *mt,
		    struct vfs_file *f, const char *path, bool cloexec,
		    int at_fd);
/* For mmap: the placeholder's memfd becomes a mapping of the file
 * (mapping.h), filled with it; once per vfile. */
int sbx_vfile_materialize(struct sbx_call *c, struct sbx_vfile *v);
/* The vfile whose placeholder is inode (dev, ino), referenced, or NULL. */
struct sbx_vfile *sbx_vfile_by_placeholder(struct sbx *sb, dev_t dev,
					   ino_t ino);
/* A memfd holding the file's data at its current offset, for a
 * descriptor that leaves the window (dup2 to 0 for `cmd < file`). */
int sbx_vfile_copy(struct sbx_call *c, struct sbx_vfile *v);
void *sbx_inotify_thread(void *arg);
/* Drain with wait, when placeholders exist: before a call that reaches a
 * mount, so that a program's close(2) is seen by the server first. */
void sbx_vfile_settle(struct sbx *sb);
long sbx_sys_close(struct sbx_call *c);
/* procs.c: forget the threads that ended (waits up to timeout_ms for
 * one); the reaper thread loops on it. */
int sbx_procs_reap(struct sbx *sb, int timeout_ms);
void sbx_vfile_drain(struct sbx *sb, bool wait);

/* vpoll.c: placeholders whose readiness is the file's, for poll,
 * select and epoll without trapping them. */
struct sbx_vpoll_probe {
	uint64_t seq, ticket;
	unsigned events;
};
/* At open: whether f's server answers POLL; p holds its answer. */
bool sbx_vpoll_probe(struct sbx_call *c, struct vfs_file *f,
		     struct sbx_vpoll_probe *p);
/* Make v's pipe (v->ctl) showing p's answer; returns the placeholder
 * descriptor to send, or a negative errno. */
int sbx_vpoll_placeholder(struct sbx_vfile *v,
			  const struct sbx_vpoll_probe *p);
/* Once v is in the table. */
void sbx_vpoll_installed(struct sbx_call *c, struct sbx_vfile *v,
			 const struct sbx_vpoll_probe *p);
/* After a call that may change what v's file has (read, write, ioctl). */
void sbx_vpoll_after(struct sbx_call *c, struct sbx_vfile *v);
void sbx_vpoll_refresh(struct sbx *sb, struct sbx_vfile *v,
		       const struct fuse_caller *who);
/* The VFS hook for NOTIFY_POLL (ctx = the mount). */
void sbx_vpoll_wake(void *ctx, struct vfs_file *f);
/* A new mount's wakeup queue and hook; at its end, after its last
 * reference, the hook goes and its thread (if any) ends. */
void sbx_vpoll_mount_init(struct sbx *sb, struct sbx_mount *mt);
void sbx_vpoll_mount_end(struct sbx_mount *mt);

/* procs.c */
/* The cwd of the caller when it lies in a mount, referenced; NULL. */
struct sbx_cwd *sbx_cwd_get(struct sbx_call *c);
void sbx_cwd_put(struct sbx *sb, struct sbx_cwd *cwd);
/* Set (cwd != NULL, reference passed in) or clear the caller's cwd. */
int sbx_cwd_set(struct sbx_call *c, struct sbx_cwd *cwd);
void *sbx_reaper_thread(void *arg);
pid_t sbx_tgid(struct sbx_call *c);

/* sys_path.c, sys_fd.c: handlers. */
long sbx_sys_open(struct sbx_call *c, int dirfd, uint64_t path, int flags);
long sbx_sys_openat2(struct sbx_call *c);
long sbx_sys_stat(struct sbx_call *c, int dirfd, uint64_t path,
		  uint64_t buf, int flags);
long sbx_sys_statx(struct sbx_call *c);
long sbx_sys_access(struct sbx_call *c, int dirfd, uint64_t path, int mode,
		    int flags);
long sbx_sys_readlink(struct sbx_call *c, int dirfd, uint64_t path,
		      uint64_t buf, size_t size);
long sbx_sys_statfs(struct sbx_call *c, uint64_t path, uint64_t buf);
long sbx_sys_getxattr(struct sbx_call *c, bool follow);
long sbx_sys_listxattr(struct sbx_call *c, bool follow);
long sbx_sys_chdir(struct sbx_call *c);
long sbx_sys_getcwd(struct sbx_call *c);

/* sys_exec.c: execve (dirfd AT_FDCWD, flags 0) and execveat of a program
 * that lives on a mount: it runs from a sealed memfd copy. */
long sbx_sys_execve(struct sbx_call *c, int dirfd, uint64_t path, int flags);
/* exec_copies.c: the copies exec made. A file's identity: a copy of it
 * is good while this holds. */
struct sbx_exec_key {
	int mnt_id;
	uint64_t nodeid, generation, size;
	int64_t mtime, ctime;
	uint32_t mtimensec, ctimensec;
};
/* Remember memfd (sealed) as a copy of path; with key, keep it open to
 * be given again (sbx_exec_copy_find: a new descriptor, or -1). */
void sbx_exec_copy_add(int memfd, const char *path,
		       const struct sbx_exec_key *key);
int sbx_exec_copy_find(const struct sbx_exec_key *key);
/* The mount path of a copy: link is a /proc path that stat(2) follows
 * to it (readlink of /proc/PID/exe and /proc/PID/fd/N). */
bool sbx_exec_name_of(const char *link, char *out, size_t size);

/* exec_links.c: a symlink DIR/SLOT/name -> target, for the kernel to
 * run target as "name" (its comm); out gets its path. */
int sbx_exec_link(const char *name, const char *target, char *out,
		  size_t size);
bool sbx_exec_link_is(const char *path);
void sbx_exec_links_remove(void);

/* ptrace.c: run a trapped execve/execveat again with another path and,
 * with n_pre, argv[0] replaced by pre[0...n_pre). */
struct sbx_redirect {
	const char *path;
	const char *const *pre;
	size_t n_pre;
};
/* Trace the caller (PTRACE_SEIZE): 0, or a negative errno (EPERM when
 * ptrace is refused; ENOSYS off x86_64). Once begun, always end. */
int sbx_trace_begin(struct sbx_call *c);
/* Answer the call: run it again as rd says, or (rd NULL) fail it with
 * err; then detach. Returns SBX_SENT. */
long sbx_trace_end(struct sbx_call *c, const struct sbx_redirect *rd,
		   long err);
/* run.c's waits: a status they took for pid. true: a ptrace stop of a
 * thread being traced here, which is ptrace.c's and not the reaper's. */
bool sbx_trace_status(pid_t pid, int status);
/* sys_modify.c: path calls that change a mount, and their descriptor
 * forms (fchmod, fchown, ftruncate, fsetxattr, fremovexattr). */
long sbx_sys_modify(struct sbx_call *c);
long sbx_sys_fchange(struct sbx_call *c);

/* Served the same way for a path and for a descriptor. */
long sbx_statfs_of(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, uint64_t buf);
long sbx_xattr_get(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, bool list);
long sbx_enter_dir(struct sbx_call *c, struct sbx_mount *mt,
		   struct vfs_inode *ino, const char *path);

long sbx_sys_read(struct sbx_call *c);
long sbx_sys_pread(struct sbx_call *c);
long sbx_sys_readv(struct sbx_call *c, bool positional, bool v2);
/* write, pwrite64, writev, pwritev, pwritev2 */
long sbx_sys_write(struct sbx_call *c, bool positional, bool vec, bool v2);
long sbx_sys_copy_file_range(struct sbx_call *c);
long sbx_sys_lseek(struct sbx_call *c);
long sbx_sys_fstat(struct sbx_call *c);
long sbx_sys_fstatfs(struct sbx_call *c);
long sbx_sys_getdents64(struct sbx_call *c);
long sbx_sys_fchdir(struct sbx_call *c);
long sbx_sys_fcntl(struct sbx_call *c);
long sbx_sys_dup(struct sbx_call *c, int newfd, int flags, bool dup2);
long sbx_sys_fgetxattr(struct sbx_call *c);
long sbx_sys_flistxattr(struct sbx_call *c);
/* sys_mmap.c */
long sbx_sys_mmap(struct sbx_call *c);
long sbx_sys_msync(struct sbx_call *c);
long sbx_sys_fd_other(struct sbx_call *c);

#endif
