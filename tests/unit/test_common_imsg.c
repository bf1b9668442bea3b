/*
 * test_common_imsg.c: the framing, and every way it can be malformed.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "imsg.h"
#include "pks.h"

struct pair {
	int		s[2];
	struct imsgbuf	rx;
	struct imsgbuf	tx;
};

static int
setup(void **state)
{
	struct pair	*p = calloc(1, sizeof(*p));

	assert_non_null(p);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, p->s), 0);
	fcntl(p->s[0], F_SETFL, O_NONBLOCK);
	fcntl(p->s[1], F_SETFL, O_NONBLOCK);
	imsgbuf_init(&p->tx, p->s[0]);
	imsgbuf_init(&p->rx, p->s[1]);
	*state = p;
	return 0;
}

static int
teardown(void **state)
{
	struct pair	*p = *state;

	imsgbuf_clear(&p->tx);
	imsgbuf_clear(&p->rx);
	close(p->s[0]);
	if (p->s[1] != -1)
		close(p->s[1]);
	free(p);
	return 0;
}

/* write raw bytes, bypassing imsg_compose */
static void
raw(struct pair *p, const void *buf, size_t len)
{
	assert_int_equal(write(p->s[0], buf, len), (ssize_t)len);
}

static void
raw_hdr(struct pair *p, uint32_t type, uint32_t len)
{
	struct imsg_hdr	h = { type, len, 0, 1 };

	raw(p, &h, sizeof(h));
}

static void
test_roundtrip(void **state)
{
	struct pair		*p = *state;
	struct imsg		 im;
	struct pks_knock	 k = { 7, 2, { 0 }, { 198, 18, 0, 2 } };

	assert_int_equal(imsg_compose(&p->tx, IMSG_KNOCK_DONE, 5, -1, &k,
	    sizeof(k)), 0);
	assert_int_equal(imsgbuf_write(&p->tx), 0);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), 1);
	assert_int_equal(im.hdr.type, IMSG_KNOCK_DONE);
	assert_int_equal(im.hdr.peerid, 5);
	assert_int_equal(im.len, sizeof(k));
	assert_int_equal(im.fd, -1);
	assert_memory_equal(im.data, &k, sizeof(k));
	imsg_free(&im);
	assert_int_equal(imsg_get(&p->rx, &im), 0);
}

static void
test_short_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	uint8_t		 b[8] = { IMSG_READY };

	raw(p, b, sizeof(b));
	assert_int_equal(imsgbuf_read(&p->rx), 8);
	/* not an error yet: more may come */
	assert_int_equal(imsg_get(&p->rx, &im), 0);
}

static void
test_len_over_limit(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;

	raw_hdr(p, IMSG_LOG, IMSG_MAX_SIZE + 1);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_len_under_header(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;

	raw_hdr(p, IMSG_READY, IMSG_HEADER_SIZE - 1);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_unknown_type(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;

	raw_hdr(p, IMSG_MAX, IMSG_HEADER_SIZE);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), -1);
	assert_int_equal(errno, EBADMSG);

	/* type 0 is not a type either */
	imsgbuf_clear(&p->rx);
	raw_hdr(p, IMSG_NONE, IMSG_HEADER_SIZE);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), -1);

	/* and the sender refuses to make one */
	assert_int_equal(imsg_compose(&p->tx, IMSG_MAX, 0, -1, NULL, 0), -1);
	assert_int_equal(errno, EINVAL);
}

static void
test_truncated_payload(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	uint8_t		 half[10] = { 0 };

	raw_hdr(p, IMSG_LOG, IMSG_HEADER_SIZE + 20);
	raw(p, half, sizeof(half));
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), 0);
	/* the rest arrives: now it is whole */
	raw(p, half, sizeof(half));
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), 1);
	assert_int_equal(im.len, 20);
	imsg_free(&im);
}

static void
test_split_reads(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	uint8_t		 all[IMSG_HEADER_SIZE + 100];
	struct imsg_hdr	 h = { IMSG_LOG, sizeof(all), 0, 1 };
	size_t		 i;

	memcpy(all, &h, sizeof(h));
	for (i = sizeof(h); i < sizeof(all); i++)
		all[i] = i;
	/* one byte at a time */
	for (i = 0; i < sizeof(all); i++) {
		assert_int_equal(imsg_get(&p->rx, &im), 0);
		raw(p, all + i, 1);
		assert_int_equal(imsgbuf_read(&p->rx), 1);
	}
	assert_int_equal(imsg_get(&p->rx, &im), 1);
	assert_memory_equal(im.data, all + sizeof(h), 100);
	imsg_free(&im);
}

static void
test_many_in_one_read(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	uint32_t	 i, v;

	for (i = 1; i <= 100; i++)
		assert_int_equal(imsg_compose(&p->tx, IMSG_SEQ_DEL, 0, -1, &i,
		    sizeof(i)), 0);
	assert_int_equal(imsgbuf_write(&p->tx), 0);
	assert_true(imsgbuf_read(&p->rx) > 0);
	for (i = 1; i <= 100; i++) {
		assert_int_equal(imsg_get(&p->rx, &im), 1);
		assert_int_equal(im.len, sizeof(v));
		memcpy(&v, im.data, sizeof(v));
		assert_int_equal(v, i);
		imsg_free(&im);
	}
	assert_int_equal(imsg_get(&p->rx, &im), 0);
}

static void
test_eof_mid_message(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	uint8_t		 b[4] = { 0 };

	raw_hdr(p, IMSG_LOG, IMSG_HEADER_SIZE + 50);
	raw(p, b, sizeof(b));
	close(p->s[0]);
	p->s[0] = socket(AF_UNIX, SOCK_STREAM, 0);	/* for teardown */
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), 0);
	/* EOF: the half message never completes */
	assert_int_equal(imsgbuf_read(&p->rx), 0);
	assert_int_equal(imsg_get(&p->rx, &im), 0);
}

static void
test_fd_passing(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	int		 pfd[2];
	char		 c = 0;

	assert_int_equal(pipe(pfd), 0);
	assert_int_equal(imsg_compose(&p->tx, IMSG_TG_TOKEN, 0, pfd[0], NULL,
	    0), 0);
	assert_int_equal(imsgbuf_write(&p->tx), 0);
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), 1);
	assert_true(im.fd >= 0);
	assert_int_equal(write(pfd[1], "x", 1), 1);
	assert_int_equal(read(im.fd, &c, 1), 1);
	assert_int_equal(c, 'x');
	close(im.fd);
	close(pfd[1]);
	imsg_free(&im);
}

static void
test_fd_flag_without_fd(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	struct imsg_hdr	 h = { IMSG_TG_TOKEN, IMSG_HEADER_SIZE, 0x80000000U,
	    1 };

	/* the header says an fd travels with it, but none came */
	raw(p, &h, sizeof(h));
	assert_true(imsgbuf_read(&p->rx) > 0);
	assert_int_equal(imsg_get(&p->rx, &im), -1);
	assert_int_equal(errno, EBADMSG);
}

static void
test_payload_limit(void **state)
{
	struct pair	*p = *state;
	static uint8_t	 big[IMSG_MAX_PAYLOAD + 1];

	assert_int_equal(imsg_compose(&p->tx, IMSG_LOG, 0, -1, big,
	    IMSG_MAX_PAYLOAD + 1), -1);
	assert_int_equal(errno, EMSGSIZE);
	assert_int_equal(imsg_compose(&p->tx, IMSG_LOG, 0, -1, big,
	    IMSG_MAX_PAYLOAD), 0);
}

static void
test_write_backlog(void **state)
{
	struct pair	*p = *state;
	struct imsg	 im;
	static uint8_t	 big[8000];
	int		 i, got = 0, r;

	/* more than the socket holds: the rest waits for the reader */
	for (i = 0; i < 200; i++)
		assert_int_equal(imsg_compose(&p->tx, IMSG_LOG, 0, -1, big,
		    sizeof(big)), 0);
	assert_int_equal(imsgbuf_write(&p->tx), 1);
	assert_true(imsgbuf_pending(&p->tx));
	while (got < 200) {
		if (imsgbuf_read(&p->rx) == -1)
			assert_int_equal(errno, EAGAIN);
		while ((r = imsg_get(&p->rx, &im)) == 1) {
			assert_int_equal(im.len, sizeof(big));
			imsg_free(&im);
			got++;
		}
		assert_int_not_equal(r, -1);
		(void)imsgbuf_write(&p->tx);
	}
	assert_false(imsgbuf_pending(&p->tx));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_short_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_len_over_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_len_under_header, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_unknown_type, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_truncated_payload, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_split_reads, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_many_in_one_read, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_eof_mid_message, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fd_passing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_fd_flag_without_fd,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_limit, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_write_backlog, setup,
		    teardown),
	};

	return cmocka_run_group_tests_name("common_imsg", tests, NULL, NULL);
}
