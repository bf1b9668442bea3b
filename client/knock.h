/*
 * knock.h: the platform side of pks-knock (POSIX sockets or Winsock),
 * kept apart from the parser and from main().
 */
#ifndef PKS_KNOCK_H
#define PKS_KNOCK_H

#include <stddef.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#else
#include <sys/types.h>
#include <sys/socket.h>
#endif

#include "ports.h"

/* exit statuses, as sysexits(3) numbers them (MinGW has no sysexits.h) */
#define KX_OK		0
#define KX_USAGE	64
#define KX_NOHOST	68
#define KX_UNAVAILABLE	69
#define KX_OSERR	71
#define KX_NOTFOUND	127	/* the command to run does not exist */

struct target {
	struct sockaddr_storage	ss;
	socklen_t		len;
	char			addr[64];	/* numeric, for -v */
};

/* net.c */
int	net_init(char *, size_t);
int	net_resolve(const char *, int, struct target *, char *, size_t);
int	net_knock(const struct target *, const struct knock *, char *,
	    size_t);
void	net_sleep(unsigned int);
int	net_isatty(int);
long	net_read(int, void *, size_t);

/* run.c */
int	run_command(char **);

#endif /* PKS_KNOCK_H */
