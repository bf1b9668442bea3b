/*
 * fwtest.h: what the pks-fw unit tests share.
 */
#ifndef PKS_TEST_FWTEST_H
#define PKS_TEST_FWTEST_H

#include <arpa/inet.h>
#include <string.h>

/* a window request as the monitor sends it */
static inline struct pks_window
win(uint32_t id, const char *addr, uint8_t proto, uint16_t port)
{
	struct pks_window	w;

	memset(&w, 0, sizeof(w));
	w.id = id;
	w.af = strchr(addr, ':') ? AF_INET6 : AF_INET;
	w.proto = proto;
	w.port = port;
	w.timeout = 60;
	if (inet_pton(w.af, addr, w.addr) != 1)
		fail_msg("bad test address %s", addr);
	return w;
}

#endif
