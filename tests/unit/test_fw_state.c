/*
 * test_fw_state: pks-fw's backend-neutral part (fw.c) against a fake
 * backend that records what it is told and fails on request.  No root,
 * no netfilter: what is checked is the state fw.c keeps, the calls it
 * makes and how it undoes a change the backend refused.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include <cmocka.h>

#include "log.h"
#include "pks.h"
#include "fw.h"
#include "fwtest.h"

/* what the fake kernel holds, and what it was asked */
static struct fw_key	held[FW_WINDOWS_MAX];
static size_t		nheld;
static int		n_setup, n_open, n_close, n_closeall;
static int		fail_with;	/* next call fails with this */
static uint32_t		last_timeout;	/* of the last open() */
static struct fw_backend fake;

static int
fake_fail(void)
{
	int	err = fail_with;

	fail_with = 0;
	return err;
}

static int
fake_setup(void)
{
	n_setup++;
	nheld = 0;
	return fake_fail();
}

static size_t
fake_find(const struct fw_key *k)
{
	size_t	i;

	for (i = 0; i < nheld; i++)
		if (memcmp(&held[i], k, sizeof(*k)) == 0)
			return i;
	return nheld;
}

static int
fake_open(const struct fw_rule *r)
{
	int	err;

	n_open++;
	if ((err = fake_fail()) != 0)
		return err;
	last_timeout = r->timeout;
	if (fake_find(&r->key) < nheld) {
		/* only a later end of a rule it holds */
		assert_true(fake.expires);
		return 0;
	}
	held[nheld++] = r->key;
	return 0;
}

static int
fake_close(const struct fw_rule *r)
{
	size_t	i;
	int	err;

	n_close++;
	if ((err = fake_fail()) != 0)
		return err;
	i = fake_find(&r->key);
	assert_true(i < nheld);
	held[i] = held[--nheld];
	return 0;
}

static int
fake_close_all(void)
{
	n_closeall++;
	nheld = 0;
	return fake_fail();
}

static struct fw_backend fake = {
	.name = "fake",
	.setup = fake_setup,
	.open = fake_open,
	.close = fake_close,
	.close_all = fake_close_all,
};

static const struct pks_fw_service svcs[] = {
	{ IPPROTO_TCP, 0, 2222 },
	{ IPPROTO_UDP, 0, 5353 },
	{ IPPROTO_TCP, 0, 2222 },	/* a second copy: ignored */
};
#define NSVCS	(sizeof(svcs) / sizeof(svcs[0]))

/* the fake kernel holds exactly fw.c's rules */
static void
assert_in_step(void)
{
	const struct fw_rule	*r;
	size_t			 n, i;

	r = fw_rules(&n);
	assert_int_equal(n, nheld);
	for (i = 0; i < n; i++)
		assert_true(fake_find(&r[i].key) < nheld);
}

static int
setup(void **state)
{
	(void)state;
	n_setup = n_open = n_close = n_closeall = 0;
	fail_with = 0;
	fake.expires = 0;
	assert_int_equal(fw_init(&fake, svcs, NSVCS), 0);
	assert_int_equal(n_setup, 1);
	return 0;
}

static void
test_services_once(void **state)
{
	size_t	n;

	(void)state;
	(void)fw_services(&n);
	assert_int_equal(n, 2);
}

static void
test_open_close(void **state)
{
	struct pks_window	w4 = win(1, "198.18.0.2", IPPROTO_TCP, 2222);
	struct pks_window	w6 = win(2, "fd00::2", IPPROTO_UDP, 5353);

	(void)state;
	assert_int_equal(fw_open(&w4), 0);
	assert_int_equal(fw_open(&w6), 0);
	assert_int_equal(n_open, 2);
	assert_int_equal(fw_nwindows(), 2);
	assert_int_equal(fw_nrules(AF_INET), 1);
	assert_int_equal(fw_nrules(AF_INET6), 1);
	assert_in_step();
	/* the same request again: nothing new */
	assert_int_equal(fw_open(&w4), 0);
	assert_int_equal(n_open, 2);
	assert_int_equal(fw_close(&w4), 0);
	assert_int_equal(n_close, 1);
	assert_int_equal(fw_close(&w4), ENOENT);
	assert_int_equal(fw_close(&w6), 0);
	assert_int_equal(fw_nwindows(), 0);
	assert_in_step();
}

/* two windows on one key share one rule until the last one closes */
static void
test_shared_rule(void **state)
{
	struct pks_window	a = win(1, "198.18.0.2", IPPROTO_TCP, 2222);
	struct pks_window	b = win(2, "198.18.0.2", IPPROTO_TCP, 2222);

	(void)state;
	assert_int_equal(fw_open(&a), 0);
	assert_int_equal(fw_open(&b), 0);
	assert_int_equal(n_open, 1);
	assert_int_equal(fw_nwindows(), 2);
	assert_int_equal(fw_nrules(AF_INET), 1);
	assert_int_equal(fw_close(&a), 0);
	assert_int_equal(n_close, 0);
	assert_int_equal(nheld, 1);
	assert_int_equal(fw_close(&b), 0);
	assert_int_equal(n_close, 1);
	assert_int_equal(nheld, 0);
}

/* the backend refuses: the state is as before, a retry works */
static void
test_rollback(void **state)
{
	struct pks_window	a = win(1, "198.18.0.2", IPPROTO_TCP, 2222);
	struct pks_window	b = win(2, "198.18.0.3", IPPROTO_TCP, 2222);

	(void)state;
	assert_int_equal(fw_open(&a), 0);
	fail_with = EIO;
	assert_int_equal(fw_open(&b), EIO);
	assert_int_equal(fw_nwindows(), 1);
	assert_int_equal(fw_nrules(AF_INET), 1);
	assert_in_step();
	assert_int_equal(fw_close(&b), ENOENT);
	assert_int_equal(fw_open(&b), 0);
	assert_in_step();

	fail_with = EAGAIN;
	assert_int_equal(fw_close(&a), EAGAIN);
	assert_int_equal(fw_nwindows(), 2);
	assert_int_equal(fw_nrules(AF_INET), 2);
	assert_in_step();
	assert_int_equal(fw_close(&a), 0);
	assert_int_equal(fw_close(&b), 0);
	assert_int_equal(fw_nwindows(), 0);
	assert_in_step();
}

/* close_all forgets the state even when the backend fails */
static void
test_close_all(void **state)
{
	struct pks_window	a = win(1, "198.18.0.2", IPPROTO_TCP, 2222);
	struct pks_window	b = win(2, "fd00::3", IPPROTO_TCP, 2222);

	(void)state;
	assert_int_equal(fw_open(&a), 0);
	assert_int_equal(fw_open(&b), 0);
	fail_with = EPERM;
	assert_int_equal(fw_close_all(), EPERM);
	assert_int_equal(fw_nwindows(), 0);
	assert_int_equal(fw_nrules(AF_INET) + fw_nrules(AF_INET6), 0);
	assert_int_equal(fw_close(&a), ENOENT);
	assert_int_equal(fw_open(&a), 0);
	assert_int_equal(fw_close_all(), 0);
	assert_int_equal(n_closeall, 2);
	assert_in_step();
}

/* every malformed request: EINVAL, and the backend never hears of it */
static void
test_invalid(void **state)
{
	struct pks_window	 bad[20], ok, w;
	struct pks_fw_service	 s;
	size_t			 i, n = 0;

	(void)state;
	ok = win(100, "198.18.0.2", IPPROTO_TCP, 2222);
	assert_int_equal(fw_open(&ok), 0);
	bad[n++] = win(0, "198.18.0.2", IPPROTO_TCP, 2222);
	w = ok; w.id = 5; w.af = AF_UNIX; bad[n++] = w;
	w = ok; w.id = 5; w.af = 0; bad[n++] = w;
	bad[n++] = win(5, "198.18.0.2", IPPROTO_ICMP, 2222);
	bad[n++] = win(5, "198.18.0.2", IPPROTO_TCP, 0);
	bad[n++] = win(5, "198.18.0.2", IPPROTO_TCP, 22);
	bad[n++] = win(5, "198.18.0.2", IPPROTO_UDP, 2222);
	bad[n++] = win(5, "0.0.0.0", IPPROTO_TCP, 2222);
	bad[n++] = win(5, "224.0.0.1", IPPROTO_TCP, 2222);
	bad[n++] = win(5, "255.255.255.255", IPPROTO_TCP, 2222);
	w = ok; w.id = 5; w.addr[15] = 1; bad[n++] = w;
	bad[n++] = win(5, "::", IPPROTO_TCP, 2222);
	bad[n++] = win(5, "ff02::1", IPPROTO_TCP, 2222);
	for (i = 0; i < n; i++) {
		assert_int_equal(fw_check(&bad[i]), EINVAL);
		assert_int_equal(fw_open(&bad[i]), EINVAL);
		assert_int_equal(fw_close(&bad[i]), EINVAL);
	}
	w = ok; w.proto = IPPROTO_UDP; w.port = 5353;
	assert_int_equal(fw_open(&w), EEXIST);		/* id reused */
	assert_int_equal(fw_close(&w), EINVAL);		/* not its key */
	assert_int_equal(n_open, 1);
	assert_int_equal(n_close, 0);
	assert_int_equal(fw_nwindows(), 1);

	/* bad services change nothing, not even the backend's setup */
	memset(&s, 0, sizeof(s));
	s.proto = IPPROTO_TCP;
	assert_int_equal(fw_init(&fake, &s, 1), EINVAL);
	s.port = 22;
	s.pad = 1;
	assert_int_equal(fw_service_add(&s), EINVAL);
	assert_int_equal(fw_init(&fake, svcs, PKS_SERVICES_MAX + 1), EINVAL);
	assert_int_equal(n_setup, 1);
	assert_int_equal(fw_nwindows(), 1);
}

/* a backend whose kernel expires rules hears of every later end */
static void
test_extend(void **state)
{
	struct pks_window	a = win(1, "198.18.0.2", IPPROTO_TCP, 2222);
	struct pks_window	b = win(2, "198.18.0.2", IPPROTO_TCP, 2222);

	(void)state;
	a.timeout = 30;
	assert_int_equal(fw_open(&a), 0);
	a.timeout = 90;				/* extended: iptables */
	assert_int_equal(fw_open(&a), 0);	/* has no use for it */
	assert_int_equal(n_open, 1);
	assert_int_equal(fw_close(&a), 0);

	fake.expires = 1;
	a.timeout = 30;
	assert_int_equal(fw_open(&a), 0);
	assert_int_equal(last_timeout, 30);
	a.timeout = 90;
	assert_int_equal(fw_open(&a), 0);
	assert_int_equal(n_open, 3);
	assert_int_equal(last_timeout, 90);
	b.timeout = 10;				/* ends sooner: nothing */
	assert_int_equal(fw_open(&b), 0);
	assert_int_equal(n_open, 3);
	b.timeout = 200;			/* later: one more */
	fail_with = EIO;			/* refused: b not opened */
	b.id = 3;
	assert_int_equal(fw_open(&b), EIO);
	assert_int_equal(fw_nwindows(), 2);
	assert_int_equal(fw_open(&b), 0);
	assert_int_equal(last_timeout, 200);
	assert_int_equal(fw_nwindows(), 3);
	assert_int_equal(fw_nrules(AF_INET), 1);
	/* a timeout out of range: refused */
	b.id = 4;
	b.timeout = 0;
	assert_int_equal(fw_open(&b), EINVAL);
	b.timeout = PKS_WINDOW_MAX + 1;
	assert_int_equal(fw_open(&b), EINVAL);
	assert_int_equal(fw_nwindows(), 3);
	assert_in_step();
}

static void
test_limits(void **state)
{
	struct pks_fw_service	s;
	struct pks_window	w;
	uint32_t		i;
	size_t			n;

	(void)state;
	for (i = 0; i < FW_WINDOWS_MAX; i++) {
		w = win(i + 1, "198.18.0.0", IPPROTO_TCP, 2222);
		w.addr[2] = 1 + i / 250;
		w.addr[3] = 1 + i % 250;
		assert_int_equal(fw_open(&w), 0);
	}
	w = win(FW_WINDOWS_MAX + 1, "198.19.0.1", IPPROTO_TCP, 2222);
	assert_int_equal(fw_open(&w), ENOSPC);
	assert_int_equal(fw_nwindows(), FW_WINDOWS_MAX);
	assert_in_step();

	memset(&s, 0, sizeof(s));
	s.proto = IPPROTO_UDP;
	(void)fw_services(&n);
	for (i = 0; n < PKS_SERVICES_MAX; i++, n++) {
		s.port = 10000 + i;
		assert_int_equal(fw_service_add(&s), 0);
	}
	s.port = 9999;
	assert_int_equal(fw_service_add(&s), ENOSPC);
	s.port = 10000;		/* one it has: fine */
	assert_int_equal(fw_service_add(&s), 0);
}

static void
quiet_sink(int prio, const char *msg, size_t len)
{
	(void)prio;
	(void)msg;
	(void)len;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_services_once, setup),
		cmocka_unit_test_setup(test_open_close, setup),
		cmocka_unit_test_setup(test_shared_rule, setup),
		cmocka_unit_test_setup(test_rollback, setup),
		cmocka_unit_test_setup(test_close_all, setup),
		cmocka_unit_test_setup(test_invalid, setup),
		cmocka_unit_test_setup(test_extend, setup),
		cmocka_unit_test_setup(test_limits, setup),
	};

	log_init("test_fw_state", 1, 0);
	log_setsink(quiet_sink);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
