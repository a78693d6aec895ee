/* cli.c: parse and check leash's options.
 *
 * getopt_long with a leading '+' stops at the first non-option, so
 * `leash ls -l` runs `ls -l`; `--` works too. Values are checked here, not
 * later, so a typo costs nothing but an error line.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "control.h"

static const char usage_text[] =
	"usage: leash [options] [--] COMMAND [ARGS...]\n"
	"       leash policy check|eval|fmt ...   (see 'leash policy --help')\n"
	"       leash ctl status|mode|policy ...  (see 'leash ctl --help')\n"
	"\n"
	"Runs COMMAND in a sandbox, records what it does in an SQLite audit log,\n"
	"and (as enforcement lands) governs it with a Cedar policy.\n"
	"\n"
	"options:\n"
	"  --mode MODE          record (default), shadow or enforce\n"
	"  --allow-degraded     in enforce mode, run even if some action cannot be enforced\n"
	"  --name NAME          the agent's name in policies (default: the command's name)\n"
	"  --policy FILE        Cedar policy (default: the embedded policy)\n"
	"  --db FILE            audit database (default: $XDG_DATA_HOME/leash/leash.db\n"
	"                       of the invoking user)\n"
	"  --listen ADDR        control server address, HOST:PORT (default " LEASH_DEFAULT_LISTEN
	";\n"
	"                       '': no control server)\n"
	"  --open               open the Control UI in the browser (as the invoking user)\n"
	"  --token TOKEN        the control server's token (default: $LEASH_TOKEN, or random)\n"
	"  -e, --env KEY[=VAL]  set KEY in the command's environment (KEY alone: copy leash's)\n"
	"  -v, --volume SRC:DST[:ro|:rw]\n"
	"                       bind-mount SRC at DST inside the sandbox\n"
	"  --secret NAME=HOST[,HOST]\n"
	"                       the command gets a placeholder in NAME; the proxy puts the\n"
	"                       real value (leash's $NAME, or --secrets) only toward HOSTs\n"
	"  --secrets FILE       NAME=VALUE lines: the values of --secret names\n"
	"  --proxy-ports LIST   TCP ports sent to the proxy (default 80,443)\n"
	"  --upstream-ca FILE   also trust FILE's CA for the proxy's upstream TLS\n"
	"  --resolve NAME=ADDR  the proxy dials ADDR for NAME (tests, pinning)\n"
	"  --dns-upstream ADDR[:PORT]  the resolver leash's DNS forwarder asks (default: resolv.conf)\n"
	"  -q, --quiet          print errors only\n"
	"      --verbose        print every event and more detail\n"
	"  -h, --help           this text\n"
	"      --version        print the version\n"
	"\n"
	"exit status: the command's; 128+N if it was killed by signal N; 2 for bad\n"
	"usage; 125 when leash could not set up the session.\n";

enum {
	OPT_MODE = 256,
	OPT_NAME,
	OPT_DEGRADED,
	OPT_POLICY,
	OPT_DB,
	OPT_LISTEN,
	OPT_OPEN,
	OPT_TOKEN,
	OPT_VERBOSE,
	OPT_VERSION,
	OPT_SECRET,
	OPT_SECRETS,
	OPT_PROXY_PORTS,
	OPT_UPSTREAM_CA,
	OPT_RESOLVE,
	OPT_DNS_UPSTREAM,
};

static const struct option long_options[] = {
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "name", required_argument, NULL, OPT_NAME },
	{ "allow-degraded", no_argument, NULL, OPT_DEGRADED },
	{ "policy", required_argument, NULL, OPT_POLICY },
	{ "db", required_argument, NULL, OPT_DB },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "open", no_argument, NULL, OPT_OPEN },
	{ "token", required_argument, NULL, OPT_TOKEN },
	{ "env", required_argument, NULL, 'e' },
	{ "volume", required_argument, NULL, 'v' },
	{ "secret", required_argument, NULL, OPT_SECRET },
	{ "secrets", required_argument, NULL, OPT_SECRETS },
	{ "proxy-ports", required_argument, NULL, OPT_PROXY_PORTS },
	{ "upstream-ca", required_argument, NULL, OPT_UPSTREAM_CA },
	{ "resolve", required_argument, NULL, OPT_RESOLVE },
	{ "dns-upstream", required_argument, NULL, OPT_DNS_UPSTREAM },
	{ "quiet", no_argument, NULL, 'q' },
	{ "verbose", no_argument, NULL, OPT_VERBOSE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static int check_mode(const char *v, struct config *cfg, char *err, size_t errlen)
{
	if (mode_parse(v, &cfg->mode) < 0) {
		snprintf(err, errlen, "--mode: '%s' is not one of record, shadow, enforce", v);
		return -EINVAL;
	}
	return 0;
}

/* An agent name is a Cedar entity id in our events and the UI: printable,
 * no quotes or backslashes, so it reads the same everywhere. */
static int check_name(const char *v, char *err, size_t errlen)
{
	size_t n = strlen(v);

	for (size_t i = 0; i < n; i++) {
		if (!isgraph((unsigned char)v[i]) || v[i] == '"' || v[i] == '\\') {
			n = 0;
			break;
		}
	}
	if (n == 0 || n > 64) {
		snprintf(err, errlen,
			 "--name: '%s' is not 1-64 printable characters without quotes", v);
		return -EINVAL;
	}
	return 0;
}

static int check_file(const char *opt, const char *v, char *err, size_t errlen)
{
	struct stat st;

	if (stat(v, &st) < 0) {
		snprintf(err, errlen, "%s: cannot use '%s': %s", opt, v, strerror(errno));
		return -errno;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: '%s' is not a regular file", opt, v);
		return -EINVAL;
	}
	return 0;
}

/* --db FILE: the file may not exist yet; its directory must. */
static int check_db(const char *v, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	struct stat st;
	char *slash;

	if (!*v) {
		snprintf(err, errlen, "--db: empty path");
		return -EINVAL;
	}
	snprintf(dir, sizeof(dir), "%s", v);
	slash = strrchr(dir, '/');
	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--db: directory '%s' does not exist", dir);
		return -ENOENT;
	}
	if (stat(v, &st) == 0 && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "--db: '%s' is not a regular file", v);
		return -EINVAL;
	}
	return 0;
}

/* HOST:PORT with an IPv4 literal, [IPv6] or localhost, port 1..65535;
 * '' turns the control server off. */
static int check_listen(const char *v, char *err, size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(v, ':');
	unsigned char addr[16];
	char *end;
	long port;
	size_t hl;

	if (!*v)
		return 0;
	if (!colon || colon == v)
		goto bad;
	hl = colon - v;
	if (hl >= sizeof(host))
		goto bad;
	memcpy(host, v, hl);
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 1 || port > 65535)
		goto bad;
	if (strcmp(host, "localhost") == 0 || inet_pton(AF_INET, host, addr) == 1)
		return 0;
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, addr) == 1)
			return 0;
	}
bad:
	snprintf(
		err, errlen,
		"--listen: '%s' is not HOST:PORT (an IPv4 address, [IPv6] or localhost, port 1-65535)",
		v);
	return -EINVAL;
}

static int check_token(const char *what, const char *v, char *err, size_t errlen)
{
	if (control_token_check(v) < 0) {
		snprintf(err, errlen,
			 "%s: the token must be 16-128 characters of A-Z a-z 0-9 . _ ~ -", what);
		return -EINVAL;
	}
	return 0;
}

static int valid_env_name(const char *s, size_t n)
{
	if (!n || !(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return 0;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_'))
			return 0;
	return 1;
}

static int add_env(struct config *cfg, const char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	size_t n = eq ? (size_t)(eq - v) : strlen(v);
	char *kv, **env;

	if (!valid_env_name(v, n)) {
		snprintf(err, errlen, "-e: '%.*s' is not a valid variable name", (int)n, v);
		return -EINVAL;
	}
	if (eq) {
		kv = strdup(v);
	} else {
		const char *val = getenv(v);

		if (!val) {
			snprintf(err, errlen, "-e %s: '%s' is not set in leash's environment", v,
				 v);
			return -EINVAL;
		}
		if (asprintf(&kv, "%s=%s", v, val) < 0)
			kv = NULL;
	}
	env = kv ? realloc(cfg->env, (cfg->nenv + 1) * sizeof(*env)) : NULL;
	if (!env) {
		free(kv);
		return -ENOMEM;
	}
	env[cfg->nenv++] = kv;
	cfg->env = env;
	return 0;
}

/* SRC:DST[:ro|:rw]. SRC must exist (it is resolved now, so a symlink
 * swapped later cannot redirect the mount); DST must be absolute and of the
 * same kind (directory or file) as SRC. */
static int add_volume(struct config *cfg, const char *v, char *err, size_t errlen)
{
	char *copy = strdup(v), *src, *dst, *opt, real[PATH_MAX];
	struct volume *vols, vol = { 0 };
	struct stat ss, ds;
	int rc = -EINVAL;

	if (!copy)
		return -ENOMEM;
	src = copy;
	dst = strchr(src, ':');
	if (!dst || dst == src || !dst[1])
		goto bad;
	*dst++ = '\0';
	opt = strchr(dst, ':');
	if (opt) {
		*opt++ = '\0';
		if (strcmp(opt, "ro") == 0)
			vol.ro = true;
		else if (strcmp(opt, "rw") != 0)
			goto bad;
	}
	if (dst[0] != '/') {
		snprintf(err, errlen, "-v %s: destination '%s' is not an absolute path", v, dst);
		goto out;
	}
	if (!realpath(src, real) || stat(real, &ss) < 0) {
		snprintf(err, errlen, "-v %s: cannot use source '%s': %s", v, src, strerror(errno));
		goto out;
	}
	if (stat(dst, &ds) < 0) {
		snprintf(err, errlen, "-v %s: destination '%s' does not exist: %s", v, dst,
			 strerror(errno));
		goto out;
	}
	if (S_ISDIR(ss.st_mode) != S_ISDIR(ds.st_mode)) {
		snprintf(err, errlen, "-v %s: '%s' and '%s' are not both directories or both files",
			 v, src, dst);
		goto out;
	}
	vol.src = strdup(real);
	vol.dst = strdup(dst);
	vols = realloc(cfg->volumes, (cfg->nvolumes + 1) * sizeof(*vols));
	if (!vol.src || !vol.dst || !vols) {
		free(vol.src);
		free(vol.dst);
		rc = -ENOMEM;
		goto out;
	}
	vols[cfg->nvolumes++] = vol;
	cfg->volumes = vols;
	rc = 0;
	goto out;
bad:
	snprintf(err, errlen, "-v: '%s' is not SRC:DST[:ro|:rw]", v);
out:
	free(copy);
	return rc;
}

/* Appends V to the (argv-borrowed) list *LIST. */
static int push_arg(char ***list, int *n, char *v, char *err, size_t errlen)
{
	char **l = realloc(*list, (*n + 1) * sizeof(*l));

	if (!l) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	l[(*n)++] = v;
	*list = l;
	return 0;
}

static int add_secret(struct config *cfg, char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');

	if (!eq || eq == v || !eq[1] ||
	    strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") !=
		    (size_t)(eq - v)) {
		snprintf(err, errlen, "--secret: '%s' is not NAME=HOST[,HOST]", v);
		return -EINVAL;
	}
	return push_arg(&cfg->secrets, &cfg->nsecrets, v, err, errlen);
}

static int add_resolve(struct config *cfg, char *v, char *err, size_t errlen)
{
	const char *eq = strchr(v, '=');
	unsigned char b[16];

	if (!eq || eq == v ||
	    (inet_pton(AF_INET, eq + 1, b) != 1 && inet_pton(AF_INET6, eq + 1, b) != 1)) {
		snprintf(err, errlen, "--resolve: '%s' is not NAME=ADDR", v);
		return -EINVAL;
	}
	return push_arg(&cfg->resolve, &cfg->nresolve, v, err, errlen);
}

static int parse_ports(struct config *cfg, const char *v, char *err, size_t errlen)
{
	const char *p = v;

	cfg->nproxy_ports = 0;
	while (*p) {
		char *end;
		unsigned long n = strtoul(p, &end, 10);

		if (end == p || n == 0 || n > 65535 || (*end && *end != ',') ||
		    cfg->nproxy_ports ==
			    (int)(sizeof(cfg->proxy_ports) / sizeof(cfg->proxy_ports[0]))) {
			snprintf(err, errlen, "--proxy-ports: '%s' is not a list of up to 16 ports",
				 v);
			return -EINVAL;
		}
		cfg->proxy_ports[cfg->nproxy_ports++] = (unsigned short)n;
		p = *end ? end + 1 : end;
	}
	return 0;
}

enum cli_result cli_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen)
{
	int c, rc = 0;

	memset(cfg, 0, sizeof(*cfg));
	cfg->mode = MODE_RECORD;
	cfg->listen = LEASH_DEFAULT_LISTEN;
	cfg->verbosity = LOG_NORMAL;
	cfg->proxy_ports[0] = 80;
	cfg->proxy_ports[1] = 443;
	cfg->nproxy_ports = 2;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+:e:v:qh", long_options, NULL)) != -1) {
		switch (c) {
		case OPT_MODE:
			rc = check_mode(optarg, cfg, err, errlen);
			break;
		case OPT_NAME:
			rc = check_name(optarg, err, errlen);
			cfg->name = optarg;
			break;
		case OPT_DEGRADED:
			cfg->allow_degraded = true;
			break;
		case OPT_POLICY:
			rc = check_file("--policy", optarg, err, errlen);
			cfg->policy = optarg;
			break;
		case OPT_DB:
			rc = check_db(optarg, err, errlen);
			cfg->db = optarg;
			break;
		case OPT_LISTEN:
			rc = check_listen(optarg, err, errlen);
			cfg->listen = optarg;
			cfg->listen_set = true;
			break;
		case OPT_OPEN:
			cfg->open = true;
			break;
		case OPT_TOKEN:
			rc = check_token("--token", optarg, err, errlen);
			cfg->token = optarg;
			break;
		case 'e':
			rc = add_env(cfg, optarg, err, errlen);
			break;
		case 'v':
			rc = add_volume(cfg, optarg, err, errlen);
			break;
		case OPT_SECRET:
			rc = add_secret(cfg, optarg, err, errlen);
			break;
		case OPT_SECRETS:
			rc = check_file("--secrets", optarg, err, errlen);
			cfg->secrets_file = optarg;
			break;
		case OPT_PROXY_PORTS:
			rc = parse_ports(cfg, optarg, err, errlen);
			break;
		case OPT_UPSTREAM_CA:
			rc = check_file("--upstream-ca", optarg, err, errlen);
			cfg->upstream_ca = optarg;
			break;
		case OPT_RESOLVE:
			rc = add_resolve(cfg, optarg, err, errlen);
			break;
		case OPT_DNS_UPSTREAM:
			cfg->dns_upstream = optarg;
			break;
		case 'q':
			cfg->verbosity = LOG_QUIET;
			break;
		case OPT_VERBOSE:
			cfg->verbosity = LOG_VERBOSE;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return CLI_DONE;
		case OPT_VERSION:
			printf("leash %s\n", LEASH_VERSION);
			return CLI_DONE;
		case ':':
			snprintf(err, errlen, "option '%s' needs a value", argv[optind - 1]);
			return CLI_ERROR;
		default:
			if (optopt)
				snprintf(err, errlen, "unknown option '-%c' (try 'leash --help')",
					 optopt);
			else
				snprintf(err, errlen, "unknown option '%s' (try 'leash --help')",
					 argv[optind - 1]);
			return CLI_ERROR;
		}
		if (rc < 0)
			return CLI_ERROR;
	}
	if (!cfg->token && getenv("LEASH_TOKEN")) {
		cfg->token = getenv("LEASH_TOKEN");
		if (check_token("LEASH_TOKEN", cfg->token, err, errlen) < 0)
			return CLI_ERROR;
	}
	if (optind >= argc) {
		snprintf(err, errlen, "no command given (try 'leash --help')");
		return CLI_ERROR;
	}
	cfg->argv = argv + optind;
	return CLI_RUN;
}

void cli_free(struct config *cfg)
{
	for (int i = 0; i < cfg->nenv; i++)
		free(cfg->env[i]);
	free(cfg->env);
	for (int i = 0; i < cfg->nvolumes; i++) {
		free(cfg->volumes[i].src);
		free(cfg->volumes[i].dst);
	}
	free(cfg->volumes);
	free(cfg->resolve);
	free(cfg->secrets);
	memset(cfg, 0, sizeof(*cfg));
}
