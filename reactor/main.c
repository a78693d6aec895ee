/* main.c: leash's entry point: subcommands, or a session around a command. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "ctl.h"
#include "log.h"
#include "policy_cmd.h"
#include "session.h"

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
	int status;

	if (argc > 1 && strcmp(argv[1], "policy") == 0)
		return policy_cmd_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "ctl") == 0)
		return ctl_main(argc - 1, argv + 1);
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
