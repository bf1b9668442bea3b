/*
 * net.c: name resolution and the knocks themselves, for POSIX and for
 * Winsock.  A TCP knock is one SYN: a non-blocking connect() queues it
 * and returns at once, and the socket is closed right away, so the kernel
 * neither waits for the answer nor sends the SYN again.  A UDP knock is
 * one empty datagram.  Neither needs any privilege.
 */
#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
#include <windows.h>
#include <io.h>
#else
#include <sys/types.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <time.h>
#include <unistd.h>
#endif
#include <stdio.h>
#include <string.h>

#include "knock.h"

#ifdef _WIN32
typedef SOCKET	sock_t;
#define BADSOCK		INVALID_SOCKET
#define sockclose	closesocket
#define sockerr()	WSAGetLastError()
#define INPROGRESS(e)	((e) == WSAEWOULDBLOCK || (e) == WSAEINPROGRESS)
#define REFUSED(e)	((e) == WSAECONNREFUSED)
#else
typedef int	sock_t;
#define BADSOCK		(-1)
#define sockclose	close
#define sockerr()	errno
#define INPROGRESS(e)	((e) == EINPROGRESS)
#define REFUSED(e)	((e) == ECONNREFUSED)
#endif

static const char *
errstr(int e)
{
#ifdef _WIN32
	static char	buf[32];

	snprintf(buf, sizeof(buf), "Winsock error %d", e);
	return (buf);
#else
	return (strerror(e));
#endif
}

int
net_init(char *err, size_t errlen)
{
#ifdef _WIN32
	WSADATA	wsa;
	int	e;

	if ((e = WSAStartup(MAKEWORD(2, 2), &wsa)) != 0) {
		snprintf(err, errlen, "WSAStartup: %s", errstr(e));
		return (-1);
	}
#else
	(void)err;
	(void)errlen;
#endif
	return (0);
}

/* Resolve once; family is AF_UNSPEC, AF_INET or AF_INET6. */
int
net_resolve(const char *host, int family, struct target *t, char *err,
    size_t errlen)
{
	struct addrinfo	 hints, *res;
	int		 e;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;	/* one entry per address */
	if ((e = getaddrinfo(host, NULL, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", host, gai_strerror(e));
		return (-1);
	}
	if (res->ai_addrlen > sizeof(t->ss)) {
		freeaddrinfo(res);
		snprintf(err, errlen, "%s: address too long", host);
		return (-1);
	}
	memset(t, 0, sizeof(*t));
	memcpy(&t->ss, res->ai_addr, res->ai_addrlen);
	t->len = (socklen_t)res->ai_addrlen;
	freeaddrinfo(res);
	if (getnameinfo((struct sockaddr *)&t->ss, t->len, t->addr,
	    sizeof(t->addr), NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(t->addr, sizeof(t->addr), "%s", host);
	return (0);
}

static int
nonblock(sock_t s)
{
#ifdef _WIN32
	u_long	on = 1;

	return (ioctlsocket(s, FIONBIO, &on) == 0 ? 0 : -1);
#else
	int	fl;

	if ((fl = fcntl(s, F_GETFL)) == -1)
		return (-1);
	return (fcntl(s, F_SETFL, fl | O_NONBLOCK));
#endif
}

int
net_knock(const struct target *t, const struct knock *k, char *err,
    size_t errlen)
{
	struct sockaddr_storage	 ss = t->ss;
	struct sockaddr		*sa = (struct sockaddr *)&ss;
	const char		*what;
	sock_t			 s;
	int			 e = 0, udp = k->proto == KNOCK_UDP;

	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(k->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(k->port);

	what = "socket";
	s = socket(ss.ss_family, udp ? SOCK_DGRAM : SOCK_STREAM,
	    udp ? IPPROTO_UDP : IPPROTO_TCP);
	if (s == BADSOCK) {
		e = sockerr();
		goto fail;
	}
	if (udp) {
		what = "sendto";
		if (sendto(s, "", 0, 0, sa, t->len) != 0)
			e = sockerr();
	} else {
		what = "connect";
		/*
		 * EINPROGRESS: the SYN is sent.  On loopback the answer may
		 * already be in: connected, or refused.  Both mean it left.
		 */
		if (nonblock(s) == -1) {
			what = "non-blocking socket";
			e = sockerr();
		} else if (connect(s, sa, t->len) != 0) {
			e = sockerr();
			if (INPROGRESS(e) || REFUSED(e))
				e = 0;
		}
	}
	sockclose(s);
	if (e == 0)
		return (0);
 fail:
	snprintf(err, errlen, "%s %s/%u: %s: %s", t->addr,
	    ports_protoname(k->proto), k->port, what, errstr(e));
	return (-1);
}

void
net_sleep(unsigned int ms)
{
#ifdef _WIN32
	Sleep(ms);
#else
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
#endif
}

int
net_isatty(int fd)
{
#ifdef _WIN32
	return (_isatty(fd));
#else
	return (isatty(fd));
#endif
}

long
net_read(int fd, void *buf, size_t len)
{
#ifdef _WIN32
	return (_read(fd, buf, (unsigned int)len));
#else
	ssize_t	r;

	while ((r = read(fd, buf, len)) == -1 && errno == EINTR)
		;
	return ((long)r);
#endif
}
