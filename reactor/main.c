/* main.c: leash's entry point: subcommands, or a session around a command. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "ca.h"
#include "cli.h"
#include "ctl.h"
#include "identity.h"
#include "log.h"
#include "mcp_wrap.h"
#include "policy.h"
#include "policy_cmd.h"
#include "session.h"
#include "synth.h"

/* `leash policy default`: the embedded policy as a session started here
 * by this user would use it. */
static int print_default_policy(void)
{
	struct identity id;
	char err[256], cwd[PATH_MAX], *text;

	if (identity_resolve(&id, err, sizeof(err)) < 0 || !getcwd(cwd, sizeof(cwd))) {
		log_err("policy default: %s", err);
		return 1;
	}
	text = policy_default_text(cwd, id.home);
	if (!text)
		return 1;
	fputs(text, stdout);
	free(text);
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
	int status;

	if (argc == 3 && strcmp(argv[1], "policy") == 0 && strcmp(argv[2], "default") == 0)
		return print_default_policy();
	if (argc > 2 && strcmp(argv[1], "policy") == 0 && strcmp(argv[2], "synthesize") == 0)
		return synth_main(argc - 2, argv + 2);
	if (argc > 1 && strcmp(argv[1], "policy") == 0)
		return policy_cmd_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "ca") == 0)
		return ca_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "mcp") == 0)
		return mcp_wrap_main(argc - 1, argv + 1);
	switch (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
	case CLI_DONE:
		cli_free(&cfg);
		return 0;
	case CLI_ERROR:
		log_err("%s", err);
		cli_free(&cfg);
		return CLI_USAGE;
	case CLI_RUN:
		break;
	}
	status = session_run(&cfg);
	cli_free(&cfg);
	return status;
}
