/* silo: entry point; dispatches to the command implementations in cli/. */
#include "cli/cli.h"

int main(int argc, char **argv)
{
	return cli_main(argc, argv);
}
