/*
 * testrnd.h: the unit tests' random numbers, xorshift64: repeatable
 * from run to run (a failure can be replayed), set by TESTRND_SEED.
 */
#ifndef PKS_TESTRND_H
#define PKS_TESTRND_H

#include <stdint.h>

#ifndef TESTRND_SEED
#define TESTRND_SEED	0x9e3779b97f4a7c15ULL
#endif

static uint64_t	 rng = TESTRND_SEED;

static uint32_t
rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng >> 32);
}

#endif /* PKS_TESTRND_H */
