/* main.c: leash's entry point: subcommands, or a session around a command. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "session.h"

/* Until the Cedar engine's command lands in policy_cmd.c. */
int policy_cmd_main(int argc, char **argv) __attribute__((weak));

int main(int argc, char **argv)
{
	struct config cfg;
	char err[512] = "";
	int status;

	if (argc > 1 && strcmp(argv[1], "policy") == 0) {
		if (!policy_cmd_main) {
			log_err("policy commands are not in this build");
			return CLI_USAGE;
		}
		return policy_cmd_main(argc - 1, argv + 1);
	}
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
