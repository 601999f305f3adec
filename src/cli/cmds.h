/* cmds.h: the subcommands main.c dispatches to. Each reports its own errors, once. */
#pragma once

#include <stdbool.h>

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_maddr(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_ls(int argc, char **argv);

/* Wait for the status of what a supervisor started for us on fd (control.h's X or F),
 * passing on the signals this process gets (sluice exec's loop, without a terminal). */
int exec_wait(int fd, int *ret_status, bool *ret_failed);

/* The exit status of a sluice failure before the command starts. */
#define EXIT_SLUICE 125
