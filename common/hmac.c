/*
 * hmac.c: SHA-256 and HMAC-SHA256, written from FIPS 180-4 and RFC 2104.
 * Nothing here allocates or makes a system call.
 */
#include <string.h>

#include "hmac.h"

static const uint32_t	k256[64] = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b,
	0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
	0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
	0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
	0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152,
	0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
	0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
	0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
	0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
	0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f,
	0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
	0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define ROR(x, n)	(((x) >> (n)) | ((x) << (32 - (n))))

static void
block(struct sha256 *s, const uint8_t *p)
{
	uint32_t	w[64], v[8], t1, t2;
	int		i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		    (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (; i < 64; i++)
		w[i] = (ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^
		    (w[i - 2] >> 10)) + w[i - 7] + (ROR(w[i - 15], 7) ^
		    ROR(w[i - 15], 18) ^ (w[i - 15] >> 3)) + w[i - 16];
	memcpy(v, s->h, sizeof(v));
	for (i = 0; i < 64; i++) {
		t1 = v[7] + (ROR(v[4], 6) ^ ROR(v[4], 11) ^ ROR(v[4], 25)) +
		    ((v[4] & v[5]) ^ (~v[4] & v[6])) + k256[i] + w[i];
		t2 = (ROR(v[0], 2) ^ ROR(v[0], 13) ^ ROR(v[0], 22)) +
		    ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
		memmove(v + 1, v, 7 * sizeof(v[0]));
		v[4] += t1;
		v[0] = t1 + t2;
	}
	for (i = 0; i < 8; i++)
		s->h[i] += v[i];
}

void
sha256_init(struct sha256 *s)
{
	static const uint32_t	iv[8] = {
		0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
		0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19
	};

	memset(s, 0, sizeof(*s));
	memcpy(s->h, iv, sizeof(iv));
}

void
sha256_update(struct sha256 *s, const void *data, size_t len)
{
	const uint8_t	*p = data;
	size_t		 n;

	s->bytes += len;
	while (len > 0) {
		n = SHA256_BLOCK - s->nbuf;
		if (n > len)
			n = len;
		memcpy(s->buf + s->nbuf, p, n);
		s->nbuf += n;
		p += n;
		len -= n;
		if (s->nbuf == SHA256_BLOCK) {
			block(s, s->buf);
			s->nbuf = 0;
		}
	}
}

void
sha256_final(struct sha256 *s, uint8_t out[SHA256_LEN])
{
	uint64_t	bits = s->bytes * 8;
	uint8_t		pad = 0x80, len[8];
	int		i;

	sha256_update(s, &pad, 1);
	pad = 0;
	while (s->nbuf != SHA256_BLOCK - 8)
		sha256_update(s, &pad, 1);
	for (i = 0; i < 8; i++)
		len[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha256_update(s, len, 8);
	for (i = 0; i < 8; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
	explicit_bzero(s, sizeof(*s));
}

void
hmac_init(struct hmac *m, const void *key, size_t klen)
{
	uint8_t		k[SHA256_BLOCK], ikey[SHA256_BLOCK];
	struct sha256	s;
	size_t		i;

	memset(k, 0, sizeof(k));
	if (klen > SHA256_BLOCK) {
		sha256_init(&s);
		sha256_update(&s, key, klen);
		sha256_final(&s, k);
	} else if (klen > 0)
		memcpy(k, key, klen);
	for (i = 0; i < SHA256_BLOCK; i++) {
		ikey[i] = k[i] ^ 0x36;
		m->okey[i] = k[i] ^ 0x5c;
	}
	sha256_init(&m->inner);
	sha256_update(&m->inner, ikey, sizeof(ikey));
	explicit_bzero(k, sizeof(k));
	explicit_bzero(ikey, sizeof(ikey));
}

void
hmac_update(struct hmac *m, const void *data, size_t len)
{
	sha256_update(&m->inner, data, len);
}

void
hmac_final(struct hmac *m, uint8_t out[SHA256_LEN])
{
	struct sha256	outer;
	uint8_t		ih[SHA256_LEN];

	sha256_final(&m->inner, ih);
	sha256_init(&outer);
	sha256_update(&outer, m->okey, sizeof(m->okey));
	sha256_update(&outer, ih, sizeof(ih));
	sha256_final(&outer, out);
	explicit_bzero(ih, sizeof(ih));
	explicit_bzero(m, sizeof(*m));
}

/* 1 if a and b (len bytes) are equal, in a time that does not depend on
 * where they differ */
int
hmac_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t	d = 0;
	size_t			i;

	for (i = 0; i < len; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}
