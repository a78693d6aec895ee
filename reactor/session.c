/* session.c: one session, from the cgroup's birth to its removal.
 *
 * Order matters and is the security argument:
 *  1. cgroup, then the reaper: from here on, leash dying kills the session;
 *  2. store, then modules (BPF attached to the cgroup) before any process
 *     of the session exists, so the first exec is seen;
 *  3. sandbox init (mounts, masks), then modules' session_ready, then GO:
 *     the command starts only when everything that watches it is in place;
 *  4. at the end: drain sources, write the end, kill the cgroup, remove it.
 * Any failure before GO ends the session with status 125 and nothing ran.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <event2/event.h>

#include "bus.h"
#include "ca.h"
#include "cgroup.h"
#include "control.h"
#include "control_mcp.h"
#include "identity.h"
#include "log.h"
#include "module.h"
#include "network.h"
#include "policy.h"
#include "dns.h"
#include "proxy.h"
#include "reactor.h"
#include "reaper.h"
#include "sandbox.h"
#include "session.h"
#include "store.h"
#include "tty.h"

struct session {
	const struct config *cfg;
	struct identity id;
	char uuid[33];
	char db[PATH_MAX];
	char data_dir[PATH_MAX]; /* the default store's directory, masked */
	struct cgroup cg;
	int reaper_fd;
	struct store *store;
	struct tty_relay *tty;
	int slave;
	struct sandbox sb;
	size_t started; /* modules whose session_start ran */
	struct reactor_watch *ctl_watch, *exit_watch;
	struct event *sig[6];
	int exit_status;
	int cmd_status; /* wait status of the command, -1 if unknown */
	bool policy_refused; /* the policy had errors: bad input, exit 2 */
	bool control; /* the control server runs */
	struct ca *ca; /* the user's CA, for the proxy */
	char ca_dir[PATH_MAX];
	char bundle[PATH_MAX]; /* system roots + the CA, bound over the system bundle */
	struct proxy_secret *secrets;
	bool proxy; /* the proxy runs */
	bool dns; /* the DNS forwarder runs */
};

#define SYSTEM_CA_BUNDLE "/etc/ssl/certs/ca-certificates.crt"

static int make_uuid(char *out)
{
	unsigned char b[16];

	if (getrandom(b, sizeof(b), 0) != sizeof(b))
		return -EIO;
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
	return 0;
}

/* The default database: leash.db in the invoking user's data directory. */
static int resolve_db(struct session *s, char *err, size_t errlen)
{
	int rc;

	if (s->cfg->db) {
		snprintf(s->db, sizeof(s->db), "%s", s->cfg->db);
		return 0;
	}
	rc = identity_data_dir(&s->id, s->data_dir, sizeof(s->data_dir), err, errlen);
	if (rc)
		return rc;
	rc = identity_mkdirs(s->data_dir, s->id.uid, s->id.gid);
	if (rc) {
		snprintf(err, errlen, "cannot create '%s': %s", s->data_dir, strerror(-rc));
		return rc;
	}
	snprintf(s->db, sizeof(s->db), "%s/leash.db", s->data_dir);
	return 0;
}

static int64_t boot_to_wall(void)
{
	struct timespec rt, bt;

	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000 + (rt.tv_nsec - bt.tv_nsec);
}

static char *argv_json_text(char *const *argv)
{
	json_t *a = json_array();
	char *text;

	for (int i = 0; argv[i]; i++)
		json_array_append_new(a, record_json_text(argv[i], strlen(argv[i])));
	text = json_dumps(a, JSON_COMPACT);
	json_decref(a);
	return text;
}

/* Sets KV ("KEY=VALUE") in ENV[0..*I), replacing KEY or appending. */
static void env_put(char **env, size_t *i, char *kv)
{
	size_t klen = strchr(kv, '=') - kv + 1;
	size_t j;

	for (j = 0; j < *i; j++)
		if (strncmp(env[j], kv, klen) == 0)
			break;
	env[j] = kv;
	if (j == *i)
		(*i)++;
}

/* The proxy's variables: every common spelling of the proxy and of the CA
 * bundle, so tools that honour them go through the proxy and trust it. */
static void proxy_env(const struct session *s, char **env, size_t *i)
{
	static const char *const proxy_keys[] = { "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY",
						  "http_proxy", "https_proxy", "all_proxy" };
	static const char *const ca_keys[] = { "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
					       "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
					       "GIT_SSL_CAINFO" };
	static char buf[16][PATH_MAX + 32];
	int b = 0;

	if (!s->proxy)
		return;
	for (size_t k = 0; k < sizeof(proxy_keys) / sizeof(proxy_keys[0]); k++) {
		snprintf(buf[b], sizeof(buf[b]), "%s=%s", proxy_keys[k], proxy_url());
		env_put(env, i, buf[b++]);
	}
	/* Nothing bypasses the proxy: leash's own no_proxy is not the agent's. */
	env_put(env, i, (char *)"NO_PROXY=");
	env_put(env, i, (char *)"no_proxy=");
	for (size_t k = 0; k < sizeof(ca_keys) / sizeof(ca_keys[0]); k++) {
		snprintf(buf[b], sizeof(buf[b]), "%s=%s", ca_keys[k],
			 access(SYSTEM_CA_BUNDLE, F_OK) == 0 ? SYSTEM_CA_BUNDLE : s->bundle);
		env_put(env, i, buf[b++]);
	}
}

/* The command's environment: leash's, with the target user's HOME, USER,
 * LOGNAME under sudo, the proxy's variables, then -e on top, and last the
 * secrets' placeholders (never a real value). Caller frees the array only. */
static char **build_env(const struct session *s)
{
	extern char **environ;
	static char home[PATH_MAX + 8], user[80], logname[80];
	const struct config *cfg = s->cfg;
	size_t n = 0, i = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + cfg->nenv + cfg->nsecrets + 24, sizeof(*env));
	if (!env)
		return NULL;
	for (size_t k = 0; k < n; k++)
		env[i++] = environ[k];
	if (s->id.via_sudo) {
		snprintf(home, sizeof(home), "HOME=%s", s->id.home);
		snprintf(user, sizeof(user), "USER=%s", s->id.name);
		snprintf(logname, sizeof(logname), "LOGNAME=%s", s->id.name);
		char *over[] = { home, user, logname };

		for (int k = 0; k < 3; k++) {
			size_t klen = strchr(over[k], '=') - over[k] + 1;
			size_t j;

			for (j = 0; j < i; j++)
				if (strncmp(env[j], over[k], klen) == 0)
					break;
			env[j] = over[k];
			if (j == i)
				i++;
		}
	}
	proxy_env(s, env, &i);
	/* Where `leash mcp wrap` asks for decisions (see control_mcp.h). */
	if (control_mcp_path()) {
		static char mcp[PATH_MAX];

		snprintf(mcp, sizeof(mcp), "%s=%s", CONTROL_MCP_ENV, control_mcp_path());
		env_put(env, &i, mcp);
	}
	for (int k = 0; k < cfg->nenv; k++)
		env_put(env, &i, cfg->env[k]);
	for (int k = 0; k < cfg->nsecrets; k++) {
		static char ph[64][512];

		if (k >= 64)
			break;
		snprintf(ph[k], sizeof(ph[k]), "%s=%s", s->secrets[k].name,
			 s->secrets[k].placeholder);
		env_put(env, &i, ph[k]);
	}
	env[i] = NULL;
	return env;
}

static void publish_session_event(struct session *s, const char *kind)
{
	struct record *ev = record_new(kind);

	if (!ev)
		return;
	json_object_set_new(ev->details, "uuid", json_string(s->uuid));
	if (strcmp(kind, "session.start") == 0) {
		json_t *argv = json_array();

		for (int i = 0; s->cfg->argv[i]; i++)
			json_array_append_new(
				argv, record_json_text(s->cfg->argv[i], strlen(s->cfg->argv[i])));
		json_object_set_new(ev->details, "argv", argv);
		json_object_set_new(ev->details, "uid", json_integer(s->id.uid));
	} else {
		json_object_set_new(ev->details, "exit_status", json_integer(s->exit_status));
		if (s->cmd_status >= 0 && WIFSIGNALED(s->cmd_status))
			json_object_set_new(ev->details, "signal",
					    json_integer(WTERMSIG(s->cmd_status)));
	}
	reactor_publish(ev);
}

/* Which mechanism enforces what, decided by what this kernel offers (the
 * bpf LSM or fanotify for files and programs...): one line on stderr and
 * one session.enforcement event, so an audit log says how its decisions
 * were enforced. */
static void publish_enforcement(void)
{
	struct record *ev = record_new("session.enforcement");
	char line[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < modules_count; i++) {
		const char *b = modules[i]->backend ? modules[i]->backend() : NULL;

		if (!b)
			continue;
		if (ev)
			json_object_set_new(ev->details, modules[i]->name, json_string(b));
		if (len < sizeof(line))
			len += snprintf(line + len, sizeof(line) - len, "%s%s %s", len ? ", " : "",
					modules[i]->name, b);
	}
	log_info("enforcement: %s", line);
	if (ev)
		reactor_publish(ev);
}

/* ---- the running session: control messages, signals, exit ------------ */

/* ^Z reached the command and it stopped: give the user their terminal and
 * stop leash too, as a shell job would; on `fg`, take it back and resume
 * the command. Only when leash is the terminal's foreground job; otherwise
 * nobody could resume it, so the command is resumed at once. */
static void on_command_stopped(struct session *s)
{
	if (s->tty && tcgetpgrp(STDIN_FILENO) == getpgrp()) {
		tty_relay_suspend(s->tty);
		kill(getpid(), SIGTSTP);
		tty_relay_resume(s->tty);
	}
	sandbox_send(&s->sb, SANDBOX_CONT, 0);
}

static void on_ctl(void *arg)
{
	struct session *s = arg;
	struct sandbox_msg m;

	while (sandbox_recv(&s->sb, &m) == 0) {
		switch (m.type) {
		case SANDBOX_STOPPED:
			on_command_stopped(s);
			break;
		case SANDBOX_EXITED:
			s->cmd_status = m.value;
			break;
		default:
			break;
		}
	}
}

static void on_init_exit(void *arg)
{
	struct session *s = arg;

	s->exit_status = sandbox_wait(&s->sb);
	reactor_unwatch(s->exit_watch);
	s->exit_watch = NULL;
	reactor_stop();
}

static void on_signal(evutil_socket_t signo, short what, void *arg)
{
	struct session *s = arg;

	if (signo == SIGWINCH) {
		tty_relay_winch(s->tty);
		return;
	}
	/* TERM, INT, HUP, QUIT to leash go to the command: leash ends when
	 * the command does. */
	log_debug("forwarding signal %d to the command", (int)signo);
	sandbox_send(&s->sb, SANDBOX_SIGNAL, signo);
}

static int watch_signals(struct session *s)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH, SIGUSR1 };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		s->sig[i] = evsignal_new(reactor_base(), sigs[i], on_signal, s);
		if (!s->sig[i] || event_add(s->sig[i], NULL) < 0)
			return -ENOMEM;
	}
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* ---- set-up and tear-down --------------------------------------------- */

/* The agent's name: --name, or the command's basename made safe for a
 * Cedar id in events (anything odd becomes '_'). */
static void agent_name(const struct config *cfg, char *out, size_t len)
{
	const char *base = cfg->name ? cfg->name : strrchr(cfg->argv[0], '/');
	size_t n = 0;

	base = cfg->name ? cfg->name : base ? base + 1 : cfg->argv[0];
	for (; base[n] && n + 1 < len && n < 64; n++)
		out[n] = (isgraph((unsigned char)base[n]) && base[n] != '"' && base[n] != '\\')
				 ? base[n]
				 : '_';
	out[n] = '\0';
	if (!n)
		snprintf(out, len, "agent");
}

/* The policy file, or the embedded default for this workspace and home.
 * A policy with errors is refused here, before anything exists; its
 * diagnostics go to stderr. */
static int load_policy(struct session *s)
{
	const struct config *cfg = s->cfg;
	char cwd[PATH_MAX], name[80], *text = NULL;
	struct policy *p;
	size_t len = 0;
	int rc;

	if (cfg->policy) {
		FILE *f = fopen(cfg->policy, "re");

		if (!f || getdelim(&text, &len, '\0', f) < 0) {
			log_err("--policy: cannot read '%s': %s", cfg->policy,
				f && feof(f) ? "the file is empty" : strerror(errno));
			if (f)
				fclose(f);
			free(text);
			return -EIO;
		}
		fclose(f);
		len = strlen(text);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		text = policy_default_text(cwd, s->id.home);
		if (!text)
			return -ENOMEM;
		len = strlen(text);
	}
	rc = policy_build(text, len, cfg->policy ? cfg->policy : "(default)", &p, NULL, stderr);
	free(text);
	if (rc) {
		log_err("the policy has errors; nothing was started");
		return rc;
	}
	agent_name(cfg, name, sizeof(name));
	policy_init(name, p, cfg->mode, cfg->allow_degraded);
	return 0;
}

static int start_modules(struct session *s, char *err, size_t errlen)
{
	for (; s->started < modules_count; s->started++) {
		const struct module *m = modules[s->started];
		int rc;

		if (!m->session_start)
			continue;
		rc = m->session_start(err, errlen);
		if (rc)
			return rc;
		log_debug("module %s started", m->name);
	}
	return 0;
}

static int ready_modules(char *err, size_t errlen)
{
	for (size_t i = 0; i < modules_count; i++) {
		int rc = modules[i]->session_ready ? modules[i]->session_ready(err, errlen) : 0;

		if (rc)
			return rc;
	}
	return 0;
}

static uint64_t end_modules(void)
{
	uint64_t lost = 0;

	for (size_t i = modules_count; i-- > 0;) {
		if (modules[i]->session_end)
			modules[i]->session_end();
		if (modules[i]->lost)
			lost += modules[i]->lost();
	}
	return lost;
}

static void fini_modules(void)
{
	for (size_t i = modules_count; i-- > 0;)
		if (modules[i]->fini)
			modules[i]->fini();
}

/* The proxy, once the modules run: the user's CA (made on first use next
 * to the database), the bundle the agent trusts, the listener, and the
 * kernel's redirect of the proxied ports to it. */
static int start_proxy(struct session *s, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	struct proxy_opts o = { 0 };
	struct sockaddr_storage ss;
	socklen_t sl;
	uint16_t ports[16];
	int rc;

	if (s->data_dir[0]) {
		snprintf(s->ca_dir, sizeof(s->ca_dir), "%s", s->data_dir);
	} else {
		char *slash;

		snprintf(s->ca_dir, sizeof(s->ca_dir), "%s", s->db);
		slash = strrchr(s->ca_dir, '/');
		if (slash && slash != s->ca_dir)
			*slash = '\0';
		else
			snprintf(s->ca_dir, sizeof(s->ca_dir), "%s", slash ? "/" : ".");
	}
	rc = ca_open(&s->ca, s->ca_dir, s->id.uid, s->id.gid, err, errlen);
	if (rc)
		return rc;
	snprintf(s->bundle, sizeof(s->bundle), "%s/%s", s->ca_dir, CA_BUNDLE_NAME);
	rc = ca_write_bundle(s->ca, SYSTEM_CA_BUNDLE, s->bundle);
	if (rc) {
		snprintf(err, errlen, "proxy: cannot write '%s': %s", s->bundle, strerror(-rc));
		return rc;
	}
	rc = proxy_secrets_build(cfg->secrets, cfg->nsecrets, cfg->secrets_file, &s->secrets, err,
				 errlen);
	if (rc)
		return rc;
	o = (struct proxy_opts){
		.ca = s->ca,
		.upstream_ca = cfg->upstream_ca,
		.resolve = cfg->resolve,
		.nresolve = cfg->nresolve,
		.secrets = s->secrets,
		.nsecrets = cfg->nsecrets,
	};
	rc = proxy_start(&o, err, errlen);
	if (rc)
		return rc;
	s->proxy = true;
	for (int i = 0; i < cfg->nproxy_ports; i++)
		ports[i] = cfg->proxy_ports[i];
	if (proxy_address(&ss, &sl) < 0 ||
	    (rc = network_set_proxy((struct sockaddr_in *)&ss, ports, cfg->nproxy_ports)) < 0) {
		snprintf(err, errlen, "proxy: cannot redirect the session's connections: %s",
			 strerror(rc ? -rc : EIO));
		return rc ? rc : -EIO;
	}
	rc = dns_start(&(struct dns_opts){ .upstream = cfg->dns_upstream,
					   .resolve = cfg->resolve,
					   .nresolve = cfg->nresolve },
		       err, errlen);
	s->dns = rc == 0;
	return rc;
}

/* The control server, once the policy is in force (see control.h). */
static int start_control(struct session *s, const char *cwd, char *err, size_t errlen)
{
	const struct config *cfg = s->cfg;
	struct control_opts o = {
		.listen = cfg->listen,
		.fallback = !cfg->listen_set,
		.token = cfg->token,
		.db = s->db,
		.uuid = s->uuid,
		.cwd = cwd,
		.open = cfg->open,
		.uid = s->id.uid,
		.gid = s->id.gid,
	};
	struct sockaddr_storage ss;
	socklen_t sslen;
	int rc;

	if (!cfg->listen[0])
		return 0;
	rc = control_start(&o, err, errlen);
	if (rc)
		return rc;
	s->control = true;
	/* The agent never reaches the control server, whatever the policy. */
	if (control_address(&ss, &sslen) < 0 ||
	    (rc = network_protect((struct sockaddr *)&ss, sslen)) < 0) {
		snprintf(err, errlen, "control: cannot keep the agent from the control server");
		return rc ? rc : -EIO;
	}
	log_info("control: %s", control_url());
	return 0;
}

static int setup(struct session *s, char *err, size_t errlen)
{
	struct session_info info = { 0 };
	struct store_session row = { 0 };
	pid_t reaper;
	char cwd[PATH_MAX], *command;
	int rc;

	if (geteuid() != 0) {
		snprintf(err, errlen, "must run as root (try 'sudo leash ...')");
		return -EPERM;
	}
	rc = identity_resolve(&s->id, err, errlen);
	if (rc)
		return rc;
	if (make_uuid(s->uuid) < 0 || !getcwd(cwd, sizeof(cwd))) {
		snprintf(err, errlen, "cannot start: %s", strerror(errno));
		return -errno;
	}
	rc = resolve_db(s, err, errlen);
	if (rc)
		return rc;
	rc = load_policy(s);
	if (rc) {
		s->policy_refused = true;
		return rc;
	}
	rc = cgroup_create(&s->cg, s->uuid, err, errlen);
	if (rc)
		return rc;
	s->reaper_fd = reaper_start(s->cg.path, &reaper);
	if (s->reaper_fd < 0) {
		snprintf(err, errlen, "cannot start the reaper: %s", strerror(-s->reaper_fd));
		return s->reaper_fd;
	}
	rc = reactor_init();
	if (rc) {
		snprintf(err, errlen, "cannot create the event loop");
		return rc;
	}
	rc = store_open(&s->store, s->db, s->id.uid, s->id.gid, err, errlen);
	if (rc)
		return rc;
	command = argv_json_text(s->cfg->argv);
	row = (struct store_session){
		.uuid = s->uuid,
		.started_ns = record_now_ns(),
		.command_json = command ? command : "[]",
		.cwd = cwd,
		.uid = s->id.uid,
		.gid = s->id.gid,
		.mode = s->cfg->mode,
		.policy = policy_current()->origin,
		.cgroup = s->cg.path,
		.cgroup_id = s->cg.id,
	};
	rc = store_session_begin(s->store, &row, err, errlen);
	free(command);
	if (rc || (rc = store_attach(s->store, reactor_base())))
		return rc;
	/* The first event of every session, before any module speaks. */
	publish_session_event(s, "session.start");

	info = (struct session_info){
		.uuid = s->uuid,
		.cgroup_path = s->cg.path,
		.cgroup_id = s->cg.id,
		.cgroup_level = s->cg.level,
		.cgroup_fd = s->cg.fd,
		.boot_to_wall_ns = boot_to_wall(),
	};
	reactor_set_session(&info);
	rc = start_modules(s, err, errlen);
	if (rc)
		return rc;
	/* Every module compiles the first policy before the command exists. */
	rc = policy_apply(NULL, s->cfg->mode, "start", err, errlen);
	if (rc)
		return rc;
	publish_enforcement();
	rc = start_proxy(s, err, errlen);
	if (rc)
		return rc;
	/* Without it `leash mcp wrap` refuses every tool call: not fatal. */
	if (control_mcp_start(s->uuid, s->id.uid, s->id.gid, err, errlen) < 0)
		log_warn("%s", err);
	err[0] = '\0';
	return start_control(s, cwd, err, errlen);
}

static int start_command(struct session *s, char *err, size_t errlen)
{
	char wal[PATH_MAX + 8], shm[PATH_MAX + 8], cgroot[PATH_MAX];
	const char *masks[8] = { 0 };
	struct volume *vols;
	int nvols = s->cfg->nvolumes;
	const char *readonly[2] = { 0 };
	struct session_info info = *reactor_session();
	struct sandbox_spec spec = { 0 };
	char cwd[PATH_MAX];
	char **env;
	int rc;

	rc = tty_relay_open(&s->tty, &s->slave, err, errlen);
	if (rc)
		return rc;
	/* The audit log is invisible to the agent: the whole default data
	 * directory, or the database and its WAL files. */
	if (s->data_dir[0]) {
		masks[0] = s->data_dir;
	} else {
		snprintf(wal, sizeof(wal), "%s-wal", s->db);
		snprintf(shm, sizeof(shm), "%s-shm", s->db);
		masks[0] = s->db;
		masks[1] = wal;
		masks[2] = shm;
	}
	/* The control server's run files hold its token. */
	masks[s->data_dir[0] ? 1 : 3] = CONTROL_RUN_DIR;
	/* The CA's key, wherever the CA lives. */
	if (s->ca)
		masks[s->data_dir[0] ? 2 : 4] = ca_key_path(s->ca);
	/* The agent trusts leash's CA: the combined bundle over the system's. */
	vols = calloc(nvols + 1, sizeof(*vols));
	if (!vols)
		return -ENOMEM;
	if (nvols)
		memcpy(vols, s->cfg->volumes, nvols * sizeof(*vols));
	if (s->proxy && access(SYSTEM_CA_BUNDLE, F_OK) == 0)
		vols[nvols++] = (struct volume){ .src = s->bundle,
						 .dst = (char *)SYSTEM_CA_BUNDLE,
						 .ro = true };
	/* cgroupfs read-only inside: even a uid-0 command without
	 * capabilities owns root's cgroup files and could move itself out. */
	if (cgroup_root(cgroot, sizeof(cgroot)) == 0)
		readonly[0] = cgroot;
	env = build_env(s);
	if (!env || !getcwd(cwd, sizeof(cwd))) {
		free(env);
		free(vols);
		return -ENOMEM;
	}
	spec = (struct sandbox_spec){
		.argv = s->cfg->argv,
		.envp = env,
		.cwd = cwd,
		.uid = s->id.uid,
		.gid = s->id.gid,
		.groups = s->id.groups,
		.ngroups = s->id.ngroups,
		.volumes = vols,
		.nvolumes = nvols,
		.masks = masks,
		.readonly = readonly,
		.cgroup_fd = s->cg.fd,
		.stdio = { s->slave >= 0 ? s->slave : 0, s->slave >= 0 && isatty(1) ? s->slave : 1,
			   s->slave >= 0 && isatty(2) ? s->slave : 2 },
		.ctty = s->slave,
	};
	rc = sandbox_start(&s->sb, &spec, err, errlen);
	free(env);
	free(vols);
	if (s->slave >= 0)
		close(s->slave);
	s->slave = -1;
	if (rc)
		return rc;
	info.init_pid = s->sb.pid;
	reactor_set_session(&info);
	rc = ready_modules(err, errlen);
	if (rc)
		return rc;
	s->ctl_watch = reactor_watch_fd(s->sb.ctl, on_ctl, s);
	s->exit_watch = reactor_watch_fd(s->sb.pidfd, on_init_exit, s);
	if (!s->ctl_watch || !s->exit_watch || watch_signals(s) < 0)
		return -ENOMEM;
	if (s->tty && (rc = tty_relay_start(s->tty)) < 0)
		return rc;
	log_info("session %.8s: recording to %s", s->uuid, s->db);
	return sandbox_send(&s->sb, SANDBOX_GO, 0);
}

static void teardown(struct session *s)
{
	uint64_t lost;

	/* Init still running (set-up failed, or the loop did): end it now, so
	 * its exit is in the ring buffer before the modules drain. */
	if (s->sb.pid > 0 && s->exit_watch) {
		kill(s->sb.pid, SIGKILL);
		s->exit_status = sandbox_wait(&s->sb);
		if (s->exit_status == 128 + SIGKILL && !s->ctl_watch)
			s->exit_status = SESSION_SETUP_FAILED;
	}
	/* The proxy's last requests are published while the store is open. */
	if (s->proxy)
		proxy_stop();
	s->proxy = false;
	if (s->dns)
		dns_stop();
	s->dns = false;
	control_mcp_stop();
	lost = end_modules();

	if (s->store) {
		if (s->sb.pid > 0)
			publish_session_event(s, "session.end");
		if (store_session_end(s->store, s->exit_status, lost) < 0)
			log_err("store: cannot record the end of the session in '%s'", s->db);
		if (lost || store_dropped(s->store))
			log_warn("session %.8s: %llu events lost (see the stats.loss rows)",
				 s->uuid, (unsigned long long)(lost + store_dropped(s->store)));
	}
	tty_relay_close(s->tty);
	s->tty = NULL;
	fini_modules();
	for (size_t i = 0; i < sizeof(s->sig) / sizeof(s->sig[0]); i++)
		if (s->sig[i])
			event_free(s->sig[i]);
	reactor_unwatch(s->ctl_watch);
	reactor_unwatch(s->exit_watch);
	if (s->control)
		control_stop();
	store_close(s->store);
	ca_close(s->ca);
	s->ca = NULL;
	proxy_secrets_free(s->secrets, s->cfg->nsecrets);
	s->secrets = NULL;
	sandbox_close(&s->sb);
	if (s->cg.fd >= 0) {
		cgroup_kill(&s->cg);
		cgroup_close(&s->cg);
		if (cgroup_remove_path(s->cg.path, 2000) < 0)
			log_warn("cannot remove cgroup '%s'", s->cg.path);
	}
	if (s->reaper_fd >= 0)
		close(s->reaper_fd);
	reactor_fini();
}

int session_run(const struct config *cfg)
{
	struct session s = { .cfg = cfg, .reaper_fd = -1, .slave = -1, .cmd_status = -1 };
	char err[512] = "";
	int rc;

	s.cg.fd = -1;
	s.sb.pid = -1;
	s.sb.ctl = s.sb.pidfd = -1;
	log_set_level(cfg->verbosity);
	rc = setup(&s, err, sizeof(err));
	if (!rc)
		rc = start_command(&s, err, sizeof(err));
	if (rc) {
		if (!s.policy_refused)
			log_err("%s", err[0] ? err : strerror(-rc));
		s.exit_status = s.policy_refused ? CLI_USAGE : SESSION_SETUP_FAILED;
		teardown(&s);
		policy_fini();
		return s.exit_status;
	}
	if (reactor_run() < 0)
		log_err("the event loop failed");
	teardown(&s);
	policy_fini();
	return s.exit_status;
}
