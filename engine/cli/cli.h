/* cli: command-line parsing (option tables shared with --help and man
 * pages) and the command implementations. */
#ifndef CLI_H
#define CLI_H
int cli_main(int argc, char **argv);
#endif
