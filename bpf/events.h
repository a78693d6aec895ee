/* events.h: the one contract between leash's BPF programs and the reactor.
 *
 * Every record in the ring buffer starts with struct ev_header (type,
 * version, size, kernel time). The reactor checks all three before it reads
 * a payload, so a stale object or a torn record is counted and dropped, never
 * trusted. Layouts are plain data with explicit padding, zeroed before use,
 * and pinned by static asserts so BPF (clang -target bpf) and the reactor
 * (gcc) agree byte for byte.
 *
 * When adding an event kind: add an EV_* type, a struct with the header
 * first, a size assert, the decoder in reactor/ (modules/process.c for
 * process events) and the schema documentation in schema/.
 */
#ifndef LEASH_BPF_EVENTS_H
#define LEASH_BPF_EVENTS_H

#ifdef __bpf__
/* vmlinux.h already defines __u8 .. __u64 */
#else
#include <linux/types.h>
#endif

#define EV_VERSION 1

enum ev_type {
	EV_EXEC = 1,
	EV_EXIT = 2,
};

#define EV_PATH_MAX 256 /* executable path, NUL-terminated, may be truncated */
#define EV_ARGS_MAX 1024 /* argv, NUL-separated as in /proc/PID/cmdline */
#define EV_COMM_LEN 16

/* ev_exec.flags */
#define EV_F_ARGS_TRUNCATED (1u << 0) /* argv did not fit in EV_ARGS_MAX */
#define EV_F_PATH_TRUNCATED (1u << 1) /* filename did not fit in EV_PATH_MAX */
#define EV_F_ANON (1u << 2) /* the program has no name on disk (memfd, deleted, O_TMPFILE) */
#define EV_F_KILLED (1u << 3) /* ...and was killed before its first instruction */

struct ev_header {
	__u16 type; /* enum ev_type */
	__u16 version; /* EV_VERSION */
	__u32 size; /* bytes of the whole record, header included */
	__u64 time_ns; /* bpf_ktime_get_boot_ns() at the hook */
};

/* The task a record is about. Pids are as seen from the initial pid
 * namespace (the reactor's view), not from inside the session. */
struct ev_task {
	__u32 pid; /* tgid */
	__u32 tid;
	__u32 ppid; /* tgid of real_parent */
	__u32 uid; /* real uid */
	__u32 gid;
	__u32 _pad;
	__u64 cgroup_id;
	char comm[EV_COMM_LEN];
};

struct ev_exec {
	struct ev_header hdr;
	struct ev_task task;
	__u32 old_pid; /* pid before exec (differs when a thread execs) */
	__u32 flags; /* EV_F_* */
	__u32 args_len; /* bytes used in args, NULs included */
	__u32 argc; /* number of arguments captured */
	__u64 ino; /* inode of the executed file, to match a fanotify decision */
	__u32 dev; /* its device, as the kernel encodes it (major << 20 | minor) */
	__u32 _pad2;
	char path[EV_PATH_MAX];
	char args[EV_ARGS_MAX];
};

struct ev_exit {
	struct ev_header hdr;
	struct ev_task task;
	__u32 exit_code; /* wait status: (status << 8) | termsig, core bit 0x80 */
	__u32 _pad;
};

/* Index into stats_map (a per-CPU array): counters the reactor sums and
 * reports, so that loss in the kernel is never silent. */
enum ev_stat {
	STAT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: ring buffer full */
	STAT_EXEC_SEEN,
	STAT_EXIT_SEEN,
	STAT_MAX,
};

_Static_assert(sizeof(struct ev_header) == 16, "ev_header layout");
_Static_assert(sizeof(struct ev_task) == 48, "ev_task layout");
_Static_assert(sizeof(struct ev_exec) == 16 + 48 + 32 + EV_PATH_MAX + EV_ARGS_MAX,
	       "ev_exec layout");
_Static_assert(sizeof(struct ev_exit) == 16 + 48 + 8, "ev_exit layout");

/* ---- network (modules/network.c, bpf/network.bpf.c) ----------------------
 *
 * The kernel decides a connect or an unconnected UDP send from two maps:
 * protect_map (leash's own endpoints: always denied) and policy_map, an
 * array of maps whose one slot holds the LPM trie compiled from the policy
 * in force. Keys put the family first so that an IPv6 prefix never covers
 * an IPv4 address; IPv4 sits in the first 4 address bytes, the rest zero;
 * the port (big-endian) comes after the 16 address bytes, so a rule on one
 * port is a 152-bit prefix. Each trie entry carries the union of every rule
 * whose prefix contains it (ancestors included), so the longest match alone
 * gives deny-overrides.
 */
enum {
	/* cgroup/connect4, connect6: TCP or UDP connect(); lsm/socket_connect
	 * (network_lsm.bpf.c, flags NET_F_LSM): any inet connect() */
	EV_NET_CONNECT = 32,
	/* cgroup/sendmsg4, sendmsg6: UDP send with an address; the same from
	 * lsm/socket_sendmsg */
	EV_NET_SENDMSG = 33,
	/* cgroup/sock_create: an inet socket of a protocol the hooks do not
	 * all decide, refused in enforce mode (reason NET_REASON_PROTOCOL; no
	 * destination: addr and port are zero) */
	EV_NET_SOCKET = 34,
};

#define NET_FAMILY_V4 4
#define NET_FAMILY_V6 6

/* Prefix lengths in struct net_key, in bits of data. */
#define NET_PLEN_FAMILY 8
#define NET_PLEN_ADDR(bits) (NET_PLEN_FAMILY + (bits))
#define NET_PLEN_PORT (NET_PLEN_FAMILY + 128 + 16)

struct net_key {
	__u32 prefixlen; /* LPM trie: bits of the data below that matter */
	__u8 family; /* NET_FAMILY_V4 or NET_FAMILY_V6 */
	__u8 addr[16]; /* network order; IPv4 in addr[0..3], then zeros */
	__u8 port[2]; /* network order */
	__u8 _pad;
};

/* net_verdict.action */
enum {
	NET_ALLOW = 1,
	NET_DENY = 2,
	/* Reserved for the transparent proxy: rewrite the destination to
	 * the redirect_map entry redirect_id (not compiled yet). */
	NET_REDIRECT = 3,
};

/* net_verdict.reason and ev_net.reason */
enum {
	NET_REASON_POLICY = 1, /* a rule matched: set_id names them */
	NET_REASON_DEFAULT = 2, /* no rule matched: default deny */
	NET_REASON_MODE = 3, /* record or shadow: the kernel allows all */
	NET_REASON_PROTECTED = 4, /* one of leash's own endpoints */
	NET_REASON_NO_POLICY = 5, /* no policy compiled yet: deny */
	NET_REASON_PROTOCOL = 9, /* EV_NET_SOCKET: a protocol no hook decides */
};

struct net_verdict {
	__u32 gen; /* the compiled set this came from (modules/network.c) */
	__u32 set_id; /* the trie entry whose rules decided, in that set */
	__u16 action; /* NET_ALLOW, NET_DENY (NET_REDIRECT reserved) */
	__u16 mode; /* enum mode the set was compiled for */
	__u16 reason; /* NET_REASON_* */
	__u16 _pad;
	__u32 redirect_id; /* NET_REDIRECT only: key into a future redirect_map */
	__u32 _pad2;
};

/* protect_map key: one address and port; addr all zero = every address
 * (a listener on 0.0.0.0 or ::). Family 0 (addr zero): some endpoint on
 * this port is protected, for destinations with the unspecified address,
 * which the kernel connects to a local one (loopback, or the socket's own
 * bound address: `::` from a socket bound to ::ffff:127.0.0.1 reaches
 * 127.0.0.1). */
struct net_protect_key {
	__u8 family;
	__u8 _pad;
	__u16 port; /* host order */
	__u8 addr[16];
};

struct ev_net {
	struct ev_header hdr;
	struct ev_task task;
	__u8 addr[16]; /* as in struct net_key (IPv4-mapped IPv6 became IPv4) */
	__u16 port; /* host order */
	__u8 family; /* NET_FAMILY_* */
	__u8 mapped; /* 1: the caller used an IPv4-mapped IPv6 address */
	__u16 protocol; /* IPPROTO_TCP, IPPROTO_UDP, ... */
	__u16 sock_type; /* SOCK_STREAM, SOCK_DGRAM */
	__u16 action; /* what the kernel did: NET_ALLOW or NET_DENY */
	__u16 mode; /* the mode of the set that decided */
	__u16 reason; /* NET_REASON_* */
	__u16 flags; /* NET_F_* */
	__u32 gen;
	__u32 set_id;
};

/* ev_net.flags */
#define NET_F_LSM (1u << 0) /* decided by lsm/socket_connect or socket_sendmsg */
#define NET_F_FOREIGN (1u << 1) /* the socket was made outside the session (fd passing) */

/* Index into the network object's stats_map. */
enum net_stat {
	NET_STAT_RINGBUF_DROPS = 0,
	NET_STAT_SEEN,
	NET_STAT_DENIED,
	NET_STAT_LSM_SEEN, /* calls of the session the LSM hooks decided */
	NET_STAT_LSM_DENIED,
	NET_STAT_MAX,
};

_Static_assert(sizeof(struct net_key) == 24, "net_key layout");
_Static_assert(sizeof(struct net_verdict) == 24, "net_verdict layout");
_Static_assert(sizeof(struct net_protect_key) == 20, "net_protect_key layout");
_Static_assert(sizeof(struct ev_net) == 16 + 48 + 16 + 16 + 8, "ev_net layout");

/* ---- the transparent proxy (modules/network.c, reactor/proxy.c) -----------
 *
 * proxy_map slot 0 says where leash's proxy listens. A TCP connect of the
 * session to a port in redirect_ports_map is rewritten to the proxy (in
 * every mode, before the policy trie: the proxy decides by name) and its
 * original destination kept in origdst_cookie_map by socket cookie; the
 * sockops program moves it to origdst_port_map keyed by the client's local
 * port once the connection exists, where the proxy finds it on accept.
 * Connects to the proxy itself are allowed; UDP to a redirected port (QUIC
 * on 443) is refused so that clients fall back to TCP. The kernel's action
 * for a redirect is NET_REDIRECT in ev_net.
 */
enum {
	NET_REASON_PROXY = 6, /* the proxy itself, or redirected to it */
	NET_REASON_QUIC = 7, /* UDP to a redirected port: refused */
};

struct net_proxy_conf {
	__u32 ip4; /* network order */
	__u16 port; /* host order */
	__u16 enabled;
};

struct net_origdst {
	__u8 family; /* NET_FAMILY_* */
	__u8 _pad;
	__u16 port; /* host order */
	__u32 pid; /* the process that connected */
	__u8 addr[16]; /* as in struct net_key */
};

_Static_assert(sizeof(struct net_proxy_conf) == 8, "net_proxy_conf layout");
_Static_assert(sizeof(struct net_origdst) == 24, "net_origdst layout");

/* ---- BPF LSM backend (modules/lsm.c, bpf/lsm.bpf.c) ------------------------
 *
 * File opens (lsm/file_open) and execs (lsm/bprm_check_security) of the
 * session are decided from one LPM trie, held in lsm_policy_map slot 0 and
 * swapped whole on every policy or mode change. Its key is the class of
 * the access, the resource type, then the Cedar resource id as bytes:
 * File::"/a/b" is "/a/b" and Dir::"/a/b/" is "/a/b/", each followed by
 * NUL padding. A rule `resource in Dir::"/a/"` is the prefix "/a/" (so it
 * covers /a itself and below, never /ab); `resource == File::"/a/b"` is
 * "/a/b" plus the NUL, so only that file. Each entry carries the union of
 * every rule whose prefix contains it, so the longest match alone gives
 * deny-overrides. A prefix-length-0 entry always exists: no rule matched.
 * An id longer than LSM_KEY_PATH bytes is looked up by its first
 * LSM_KEY_PATH bytes: exact, because rules longer than that are refused
 * when the policy is compiled (so none can be cut by the truncation).
 *
 * Hard links and renames: the same trie holds, for each file and directory
 * a forbid names (forbidden_inodes.h), one entry per class keyed by type
 * LSM_TYPE_INODE and the file's struct lsm_inode_id, whose value is the
 * verdict of its forbidden name in that class (flagged LSM_V_INODE). An
 * access to that inode is decided by it, whatever name it uses; being in
 * the trie, these entries are swapped with the policy they came from.
 * Type LSM_TYPE_ABOVE keys, class LSM_CLASS_WRITE only, the directories
 * above a forbidden name whose read-write verdict denies, with that
 * verdict: renaming one would move the forbidden name (only
 * lsm/inode_rename looks them up).
 */
enum {
	EV_LSM_FILE = 48, /* file_open or bprm_check_security */
};

#define LSM_KEY_PATH 254 /* resource id bytes in struct lsm_key */
#define LSM_PATH_MAX 4096 /* bpf_d_path buffer; longer paths fail closed */
#define LSM_PLEN_MAX (8 * (2 + LSM_KEY_PATH))

/* lsm_key.cls: what the access is */
enum {
	LSM_CLASS_READ = 1, /* open without FMODE_WRITE: FileOpen + FileOpenReadOnly */
	LSM_CLASS_WRITE = 2, /* FMODE_WRITE or O_TRUNC: FileOpen + FileOpenReadWrite */
	LSM_CLASS_EXEC = 3, /* ProcessExec */
};

/* lsm_key.type */
enum {
	LSM_TYPE_FILE = 1,
	LSM_TYPE_DIR = 2,
	LSM_TYPE_INODE = 3, /* path holds a struct lsm_inode_id */
	LSM_TYPE_ABOVE = 4, /* the same, of a directory above a forbidden name */
};

/* The key's path bytes of an inode entry: dev is the kernel's encoding
 * (sb->s_dev, major << 20 | minor), not stat(2)'s. */
struct lsm_inode_id {
	__u32 dev;
	__u32 ino_lo;
	__u32 ino_hi;
};

#define LSM_PLEN_INODE (8 * (2 + sizeof(struct lsm_inode_id)))

struct lsm_key {
	__u32 prefixlen;
	__u8 cls;
	__u8 type;
	char path[LSM_KEY_PATH];
};

/* lsm_verdict.action, ev_lsm_file.action */
enum {
	LSM_ALLOW = 1,
	LSM_DENY = 2,
};

/* lsm_verdict.reason, ev_lsm_file.reason */
enum {
	LSM_REASON_POLICY = 1, /* rules matched: set_id names them */
	LSM_REASON_DEFAULT = 2, /* no rule matched: default deny */
	LSM_REASON_NO_POLICY = 3, /* no policy committed yet: deny in enforce */
	LSM_REASON_NO_PATH = 4, /* bpf_d_path failed (too long): deny in enforce */
};

struct lsm_verdict {
	__u32 gen; /* the compiled set this entry came from */
	__u32 set_id; /* the entry, in that set */
	__u16 action; /* LSM_ALLOW or LSM_DENY, what the policy says */
	__u16 mode; /* enum mode the set was compiled for: only enforce denies */
	__u16 reason; /* LSM_REASON_* */
	__u16 flags; /* LSM_V_* */
};

/* lsm_verdict.flags */
#define LSM_V_INODE (1u << 0) /* an inode entry: the verdict of the forbidden name */

/* ev_lsm_file.flags */
#define LSM_F_DENIED (1u << 0) /* the kernel refused the access (EPERM) */
#define LSM_F_LONG (1u << 1) /* the id was longer than LSM_KEY_PATH */
#define LSM_F_NO_PATH (1u << 2) /* no path: path_len is 0 */
#define LSM_F_INODE (1u << 3) /* decided by the inode's forbidden name (v is its verdict) */
#define LSM_F_LOADER (1u << 4) /* an executable mapping made by the dynamic loader */
#define LSM_F_LINK (1u << 5) /* a hard link (lsm/inode_link) */
#define LSM_F_MPROTECT (1u << 6) /* the loader made a file mapping executable */
#define LSM_F_RENAME_FROM (1u << 7) /* a rename's old name (lsm/inode_rename) */
#define LSM_F_RENAME_TO (1u << 8) /* a rename's new name */
#define LSM_F_UNLINK (1u << 9) /* unlink, rmdir */
#define LSM_F_CREATE (1u << 10) /* mkdir, mknod, symlink */
#define LSM_F_SETATTR (1u << 11) /* truncate, chmod, chown */
#define LSM_F_ABOVE (1u << 12) /* a rename of a directory above a forbidden name */

/* A record of variable size: the path's bytes (NUL included) follow the
 * fixed part, and hdr.size is offsetof(path) + path_len rounded up to 8. */
struct ev_lsm_file {
	struct ev_header hdr;
	struct ev_task task;
	__u8 cls; /* LSM_CLASS_* */
	__u8 type; /* LSM_TYPE_* */
	__u16 flags; /* LSM_F_* */
	__u32 path_len; /* bytes of path, NUL included; 0 when none */
	struct lsm_verdict v;
	__u64 ino; /* the inode opened or executed */
	__u32 dev; /* its device, major << 20 | minor */
	__u32 f_mode;
	char path[LSM_PATH_MAX];
};

/* Index into the lsm object's stats_map. */
enum lsm_stat {
	LSM_STAT_RINGBUF_DROPS = 0,
	LSM_STAT_SEEN, /* hook calls from the session */
	LSM_STAT_DENIED,
	LSM_STAT_NO_PATH,
	LSM_STAT_INODE, /* accesses decided by an inode entry */
	LSM_STAT_MAX,
};

_Static_assert(sizeof(struct lsm_key) == 4 + 2 + LSM_KEY_PATH, "lsm_key layout");
_Static_assert(sizeof(struct lsm_verdict) == 16, "lsm_verdict layout");
_Static_assert(sizeof(struct lsm_inode_id) == 12, "lsm_inode_id layout");
_Static_assert(sizeof(struct ev_lsm_file) == 16 + 48 + 8 + 16 + 16 + LSM_PATH_MAX,
	       "ev_lsm_file layout");

/* ---- the DNS forwarder (reactor/dns.c, modules/network.c) ----------------
 *
 * dns_map slot 0 (a struct net_proxy_conf) says where leash's DNS forwarder
 * listens, UDP and TCP on one port. The session's TCP connects and UDP
 * connects and sends to port 53 go there instead, in every mode (kernel
 * action NET_REDIRECT, reason NET_REASON_DNS). For UDP the server the
 * agent chose is kept in dns_origdst_map by socket cookie, and
 * cgroup/recvmsg4/6 report the forwarder's replies as coming from it
 * (resolvers drop answers from an address they did not ask). Addresses the
 * forwarder answered for a name a NetworkConnect rule names are added to
 * the policy trie in force with set_id >= NET_DYN_BASE, until their TTL
 * runs out (modules/network.c, network_bind_name).
 */
enum {
	NET_REASON_DNS = 8, /* redirected to, or a connect to, the DNS forwarder */
};

#define NET_DNS_PORT 53
#define NET_DYN_BASE 0x80000000u /* net_verdict.set_id of a name binding */

#endif
