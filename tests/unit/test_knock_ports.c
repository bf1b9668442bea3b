/*
 * test_knock_ports: the client's port parser, on command line arguments
 * and on lines pasted from the Telegram bot.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "ports.h"

static struct knockseq	seq;
static char		err[KNOCK_ERRLEN], host[64];

static int
setup(void **state)
{
	(void)state;
	memset(&seq, 0, sizeof(seq));
	memset(err, 0, sizeof(err));
	strcpy(host, "unset");
	return (0);
}

/* the sequence is exactly these TCP ports */
static void
want_tcp(const unsigned short *p, size_t n)
{
	size_t	i;

	assert_int_equal(seq.n, n);
	for (i = 0; i < n; i++) {
		assert_int_equal(seq.k[i].port, p[i]);
		assert_int_equal(seq.k[i].proto, KNOCK_TCP);
	}
}

static const unsigned short three[] = { 41233, 9120, 60111 };

static void
line_ok(const char *line)
{
	setup(NULL);
	assert_int_equal(ports_line(&seq, line, KNOCK_TCP, host,
	    sizeof(host), err, sizeof(err)), 0);
	want_tcp(three, 3);
}

static void
line_err(const char *line, const char *msg)
{
	setup(NULL);
	seq.n = 2;			/* an error must leave these */
	seq.k[0].port = 7;
	assert_int_equal(ports_line(&seq, line, KNOCK_TCP, host,
	    sizeof(host), err, sizeof(err)), -1);
	assert_string_equal(err, msg);
	assert_int_equal(seq.n, 2);
	assert_int_equal(seq.k[0].port, 7);
}

static void
plain_list(void **state)
{
	(void)state;
	line_ok("41233 9120 60111");
	assert_string_equal(host, "");
	line_ok("  41233\t9120   60111 \r");
}

static void
separators(void **state)
{
	(void)state;
	line_ok("41233, 9120, 60111");
	line_ok("41233,9120,60111");
	line_ok("41233; 9120 | 60111");
	line_ok("41233-9120-60111");
	line_ok("41233 \xe2\x86\x92 9120 \xe2\x86\x92 60111");	/* arrows */
	line_ok("41233\xc2\xa0" "9120\xc2\xa0" "60111");	/* nbsp */
	line_ok("(41233) [9120] {60111}");
	line_ok("`41233 9120 60111`");
}

static void
pasted_command(void **state)
{
	(void)state;
	line_ok("pks-knock host 41233 9120 60111");
	assert_string_equal(host, "host");
	line_ok("pks-knock 198.18.0.1 41233, 9120 60111");
	assert_string_equal(host, "198.18.0.1");
	line_ok("pks-knock server2.example.com 41233 9120 60111");
	assert_string_equal(host, "server2.example.com");
	line_ok("pks-knock fd00::1 41233 9120 60111");
	assert_string_equal(host, "fd00::1");
	line_ok("$ ./pks-knock -v -d 50 h 41233 9120 60111");
	assert_string_equal(host, "h");
	line_ok("Knock with: `pks-knock -4 h 41233 9120 60111`");
	assert_string_equal(host, "h");
	line_ok("pks-knock h 41233 9120 60111 -- ssh -p 2222 u@h");
	line_ok("C:\\bin\\PKS-KNOCK.EXE h 41233 9120 60111");
	line_ok("pks-knock -d50 -- h 41233 9120 60111");
	assert_string_equal(host, "h");
}

static void
pasted_udp(void **state)
{
	size_t	i;

	(void)state;
	setup(NULL);
	assert_int_equal(ports_line(&seq, "pks-knock -vu h 1 2:tcp 3",
	    KNOCK_TCP, host, sizeof(host), err, sizeof(err)), 0);
	assert_int_equal(seq.n, 3);
	assert_int_equal(seq.k[0].proto, KNOCK_UDP);
	assert_int_equal(seq.k[1].proto, KNOCK_TCP);
	assert_int_equal(seq.k[2].proto, KNOCK_UDP);
	/* "-d u": u is the delay's argument, not the -u flag */
	setup(NULL);
	assert_int_equal(ports_line(&seq, "pks-knock -d u h 1 2", KNOCK_TCP,
	    host, sizeof(host), err, sizeof(err)), 0);
	for (i = 0; i < seq.n; i++)
		assert_int_equal(seq.k[i].proto, KNOCK_TCP);
	assert_string_equal(host, "h");
}

static void
pasted_without_ports(void **state)
{
	(void)state;
	setup(NULL);
	assert_int_equal(ports_line(&seq, "pks-knock", KNOCK_TCP, host,
	    sizeof(host), err, sizeof(err)), 0);
	assert_int_equal(seq.n, 0);
	assert_int_equal(ports_line(&seq, "pks-knock -v h -- ssh h",
	    KNOCK_TCP, host, sizeof(host), err, sizeof(err)), 0);
	assert_int_equal(seq.n, 0);
	assert_string_equal(host, "h");
	/* the first word after the command is its host, even a number */
	assert_int_equal(ports_line(&seq, "pks-knock 41233 9120", KNOCK_TCP,
	    host, sizeof(host), err, sizeof(err)), 0);
	assert_int_equal(seq.n, 1);
	assert_int_equal(seq.k[0].port, 9120);
	assert_string_equal(host, "41233");
}

static void
range(void **state)
{
	static const unsigned short edges[] = { 1, 65535, 41233 };

	(void)state;
	setup(NULL);
	assert_int_equal(ports_line(&seq, "1 65535 0041233", KNOCK_TCP,
	    host, sizeof(host), err, sizeof(err)), 0);
	want_tcp(edges, 3);
	line_err("70000", "70000: port out of range");
	line_err("1 2 65536", "65536: port out of range");
	line_err("0", "0: port out of range");
	line_err("000", "000: port out of range");
	line_err("99999999999999999999999",
	    "99999999999999999999999: port out of range");
	line_err("70000:udp", "70000: port out of range");
	line_err("pks-knock h 1 70000", "70000: port out of range");
}

static void
junk(void **state)
{
	(void)state;
	line_err("abc", "abc: not a port");
	line_err("41233 9120 x", "x: not a port");
	line_err("12x", "12x: not a port");
	line_err("1.5", "1.5: not a port");
	line_err("198.18.0.1 41233", "198.18.0.1: not a port");
	line_err("Your sequence: 41233 9120 60111", "Your: not a port");
	line_err("pks-knock: 41233", "pks: not a port");
	line_err("pks-knock h 1 2 junk -- ssh", "junk: not a port");
	line_err("0x10", "0x10: not a port");
	/* a long word is cut in the message */
	line_err("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa: not a port");
}

static void
empty(void **state)
{
	(void)state;
	assert_int_equal(ports_line(&seq, "", KNOCK_TCP, host, sizeof(host),
	    err, sizeof(err)), 0);
	assert_int_equal(seq.n, 0);
	assert_int_equal(ports_line(&seq, " ,, ;\t", KNOCK_TCP, host,
	    sizeof(host), err, sizeof(err)), 0);
	assert_int_equal(seq.n, 0);
}

static void
too_many(void **state)
{
	char	buf[256];
	int	i;

	(void)state;
	buf[0] = '\0';
	for (i = 1; i <= KNOCK_MAX; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%d ",
		    1000 + i);
	assert_int_equal(ports_scan(&seq, buf, KNOCK_TCP, err, sizeof(err)),
	    0);
	assert_int_equal(seq.n, KNOCK_MAX);
	assert_int_equal(seq.k[KNOCK_MAX - 1].port, 1000 + KNOCK_MAX);
	strcat(buf, "2000");
	line_err(buf, "too many ports (at most 16)");
	/* the limit counts what the sequence already holds */
	setup(NULL);
	assert_int_equal(ports_scan(&seq, "1 2 3 4 5 6 7 8 9 10", KNOCK_TCP,
	    err, sizeof(err)), 0);
	assert_int_equal(ports_scan(&seq, "11 12 13 14 15 16 17", KNOCK_TCP,
	    err, sizeof(err)), -1);
	assert_string_equal(err, "too many ports (at most 16)");
	assert_int_equal(seq.n, 10);
}

static void
suffix(void **state)
{
	(void)state;
	assert_int_equal(ports_scan(&seq, "1:udp 2:tcp 3 4:UDP", KNOCK_TCP,
	    err, sizeof(err)), 0);
	assert_int_equal(seq.n, 4);
	assert_int_equal(seq.k[0].proto, KNOCK_UDP);
	assert_int_equal(seq.k[1].proto, KNOCK_TCP);
	assert_int_equal(seq.k[2].proto, KNOCK_TCP);
	assert_int_equal(seq.k[3].proto, KNOCK_UDP);
	assert_int_equal(seq.k[0].port, 1);
	setup(NULL);
	assert_int_equal(ports_scan(&seq, "5 6:tcp", KNOCK_UDP, err,
	    sizeof(err)), 0);
	assert_int_equal(seq.k[0].proto, KNOCK_UDP);
	assert_int_equal(seq.k[1].proto, KNOCK_TCP);
}

static void
bad_suffix(void **state)
{
	(void)state;
	line_err("1:xyz", "1:xyz: unknown protocol (tcp or udp)");
	line_err("1:", "1:: unknown protocol (tcp or udp)");
	line_err("1:udp:tcp", "1:udp:tcp: unknown protocol (tcp or udp)");
	line_err("1:udpx", "1:udpx: unknown protocol (tcp or udp)");
	line_err(":udp", ":udp: not a port");
	line_err("x:udp", "x:udp: not a port");
}

static void
args(void **state)
{
	(void)state;
	assert_int_equal(ports_arg(&seq, "41233", KNOCK_TCP, err,
	    sizeof(err)), 0);
	assert_int_equal(ports_arg(&seq, "9120,", KNOCK_TCP, err,
	    sizeof(err)), 0);
	assert_int_equal(ports_arg(&seq, "60111:udp", KNOCK_TCP, err,
	    sizeof(err)), 0);
	assert_int_equal(seq.n, 3);
	assert_int_equal(seq.k[1].port, 9120);
	assert_int_equal(seq.k[2].proto, KNOCK_UDP);
	assert_int_equal(ports_arg(&seq, "-5", KNOCK_TCP, err, sizeof(err)),
	    -1);
	assert_string_equal(err, "-5: not a port");
	assert_int_equal(ports_arg(&seq, ",", KNOCK_TCP, err, sizeof(err)),
	    -1);
	assert_string_equal(err, ",: not a port");
	assert_int_equal(ports_arg(&seq, "", KNOCK_TCP, err, sizeof(err)),
	    -1);
	assert_int_equal(ports_arg(&seq, "70000", KNOCK_TCP, err,
	    sizeof(err)), -1);
	assert_string_equal(err, "70000: port out of range");
	assert_int_equal(seq.n, 3);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(plain_list, setup),
		cmocka_unit_test_setup(separators, setup),
		cmocka_unit_test_setup(pasted_command, setup),
		cmocka_unit_test_setup(pasted_udp, setup),
		cmocka_unit_test_setup(pasted_without_ports, setup),
		cmocka_unit_test_setup(range, setup),
		cmocka_unit_test_setup(junk, setup),
		cmocka_unit_test_setup(empty, setup),
		cmocka_unit_test_setup(too_many, setup),
		cmocka_unit_test_setup(suffix, setup),
		cmocka_unit_test_setup(bad_suffix, setup),
		cmocka_unit_test_setup(args, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
