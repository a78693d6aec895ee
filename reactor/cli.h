/* cli.h: leash's command line, parsed and checked into struct config.
 *
 * Every bad option or value is reported in one line and gives exit status
 * 2 (CLI_USAGE), before anything is created.
 */
#ifndef LEASH_CLI_H
#define LEASH_CLI_H

#include <stdbool.h>

#include "record.h"
#include "log.h"
#include "sandbox.h"

#define CLI_USAGE 2

struct config {
	enum mode mode;
	const char *policy; /* NULL: the embedded default */
	const char *db; /* NULL: the per-user default */
	const char *listen; /* HOST:PORT of the control server; "" for none */
	bool listen_set; /* --listen given: a busy port is an error, not a fallback */
	bool open; /* --open: the UI in the invoking user's browser */
	const char *token; /* --token or $LEASH_TOKEN; NULL: random */
	const char *name; /* the agent's name (principal Agent::"NAME"); NULL: from the command */
	bool allow_degraded; /* enforce what can be enforced, report the rest */
	char **env; /* KEY=VALUE for the command, from -e */
	int nenv;
	struct volume *volumes;
	int nvolumes;
	const char *upstream_ca; /* --upstream-ca: an extra CA for the proxy's upstream TLS */
	char **resolve; /* --resolve NAME=ADDR pins for the proxy (borrowed from argv) */
	int nresolve;
	const char *dns_upstream; /* --dns-upstream ADDR[:PORT] for the DNS forwarder, or NULL */
	char **secrets; /* --secret NAME=HOST[,HOST] (borrowed from argv) */
	int nsecrets;
	const char *secrets_file; /* --secrets FILE: NAME=VALUE lines */
	unsigned short proxy_ports[16]; /* TCP ports redirected to the proxy */
	int nproxy_ports;
	enum log_level verbosity;
	char **argv; /* the command, NULL-terminated */
};

enum cli_result {
	CLI_RUN = 0, /* run the session in CFG */
	CLI_DONE, /* --help or --version printed: exit 0 */
	CLI_ERROR, /* message in ERR: exit 2 */
};

enum cli_result cli_parse(int argc, char **argv, struct config *cfg, char *err, size_t errlen);
void cli_free(struct config *cfg);

#define LEASH_DEFAULT_LISTEN "127.0.0.1:18080"

#endif
