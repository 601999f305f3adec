/* cmds.h: the subcommands main.c dispatches to. Each reports its own errors, once. */
#pragma once

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_gc(int argc, char **argv);
int cmd_maddr(int argc, char **argv);
int cmd_up(int argc, char **argv);
int cmd_exec(int argc, char **argv);
int cmd_down(int argc, char **argv);
int cmd_ls(int argc, char **argv);

/* The exit status of a sluice failure before the command starts. */
#define EXIT_SLUICE 125
