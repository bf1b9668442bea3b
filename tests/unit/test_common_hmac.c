/*
 * test_common_hmac.c: SHA-256 against FIPS 180 examples, HMAC-SHA256
 * against every RFC 4231 test case, fed whole and byte by byte.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hmac.h"

static void
hex(const uint8_t *b, size_t n, char *out)
{
	size_t	i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void
check_sha(const void *msg, size_t len, const char *want)
{
	struct sha256	s;
	uint8_t		d[SHA256_LEN];
	char		h[2 * SHA256_LEN + 1];
	size_t		i;

	sha256_init(&s);
	sha256_update(&s, msg, len);
	sha256_final(&s, d);
	hex(d, sizeof(d), h);
	assert_string_equal(h, want);
	/* the same, one byte at a time: block edges in every place */
	sha256_init(&s);
	for (i = 0; i < len; i++)
		sha256_update(&s, (const uint8_t *)msg + i, 1);
	sha256_final(&s, d);
	hex(d, sizeof(d), h);
	assert_string_equal(h, want);
}

static void
sha256_vectors(void **unused)
{
	static uint8_t	million[1000000];

	(void)unused;
	check_sha("", 0, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	check_sha("abc", 3, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	check_sha("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
	memset(million, 'a', sizeof(million));
	check_sha(million, sizeof(million), "cdc76e5c9914fb9281a1c7e284d73e67"
	    "f1809a48a497200e046d39ccc7112cd0");
}

static void
check_hmac(const uint8_t *key, size_t klen, const void *msg, size_t len,
    const char *want)
{
	struct hmac	m;
	uint8_t		d[SHA256_LEN];
	char		h[2 * SHA256_LEN + 1];

	hmac_init(&m, key, klen);
	hmac_update(&m, msg, len);
	hmac_final(&m, d);
	hex(d, sizeof(d), h);
	/* case 5 gives the first 128 bits only */
	assert_memory_equal(h, want, strlen(want));
}

static void
rfc4231(void **unused)
{
	uint8_t	k[131], dd[50];
	size_t	i;

	(void)unused;
	memset(k, 0x0b, 20);
	check_hmac(k, 20, "Hi There", 8, "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	check_hmac((const uint8_t *)"Jefe", 4, "what do ya want for nothing?",
	    28, "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	memset(k, 0xaa, 20);
	memset(dd, 0xdd, sizeof(dd));
	check_hmac(k, 20, dd, 50, "773ea91e36800e46854db8ebd09181a7"
	    "2959098b3ef8c122d9635514ced565fe");
	for (i = 0; i < 25; i++)
		k[i] = (uint8_t)(i + 1);
	memset(dd, 0xcd, sizeof(dd));
	check_hmac(k, 25, dd, 50, "82558a389a443c0ea4cc819899f2083a"
	    "85f0faa3e578f8077a2e3ff46729665b");
	memset(k, 0x0c, 20);
	check_hmac(k, 20, "Test With Truncation", 20,
	    "a3b6167473100ee06e0c796c2955552b");
	memset(k, 0xaa, sizeof(k));
	check_hmac(k, 131, "Test Using Larger Than Block-Size Key - Hash Key "
	    "First", 54, "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54");
	check_hmac(k, 131, "This is a test using a larger than block-size key "
	    "and a larger than block-size data. The key needs to be hashed "
	    "before being used by the HMAC algorithm.", 152,
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
}

static void
equal(void **unused)
{
	uint8_t	a[SHA256_LEN], b[SHA256_LEN];
	size_t	i;

	(void)unused;
	memset(a, 7, sizeof(a));
	memcpy(b, a, sizeof(b));
	assert_true(hmac_equal(a, b, sizeof(a)));
	for (i = 0; i < sizeof(a); i++) {
		b[i] ^= 0x80;
		assert_false(hmac_equal(a, b, sizeof(a)));
		b[i] ^= 0x80;
	}
}

int
main(void)
{
	const struct CMUnitTest	tests[] = {
		cmocka_unit_test(sha256_vectors),
		cmocka_unit_test(rfc4231),
		cmocka_unit_test(equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
