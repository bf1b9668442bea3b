/*
 * hmac.h: HMAC-SHA256 (RFC 2104, FIPS 180-4), for the fleet's
 * front-to-host authentication, in the monitor.  Small and self-contained
 * so the root process needs no crypto library (test_common_hmac checks
 * the RFC 4231 vectors).
 */
#ifndef PKS_HMAC_H
#define PKS_HMAC_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

struct sha256 {
	uint32_t	h[8];
	uint64_t	bytes;		/* hashed so far */
	uint8_t		buf[SHA256_BLOCK];
	size_t		nbuf;
};

struct hmac {
	struct sha256	inner;
	uint8_t		okey[SHA256_BLOCK];	/* key ^ opad */
};

/* hmac.c */
void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, uint8_t[SHA256_LEN]);
void	hmac_init(struct hmac *, const void *, size_t);
void	hmac_update(struct hmac *, const void *, size_t);
void	hmac_final(struct hmac *, uint8_t[SHA256_LEN]);
int	hmac_equal(const uint8_t *, const uint8_t *, size_t);

#endif /* PKS_HMAC_H */
