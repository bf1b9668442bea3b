/*
 * stamp.c: when the kernel had a captured packet, on CLOCK_MONOTONIC.
 *
 * A capture stamps each frame by the wall clock (CLOCK_REALTIME: what
 * the packet socket gives; the eBPF side records bpf_ktime_get_ns(),
 * CLOCK_MONOTONIC).  The sniffer reads both clocks at each batch
 * (stamp_read()) and turns a stamp into monotonic time by their
 * difference, which only a step of the wall clock changes (slewing
 * moves both alike).  A step between a frame's stamp and its read
 * would shift that frame's time by the step: backward, later, so a
 * wrong hit the kernel recorded just after a step could be taken for
 * one before it (range_dropped()) and not reset a knock.
 *
 * So the difference used is the highest measured lately: a frame
 * stamped under a higher one comes out earlier than it was, which only
 * counts more of what the kernel recorded against it (a knock reset, never
 * one let through).  After a backward step the old, higher difference
 * is kept for STAMP_HOLD_NS, past which no frame stamped before the
 * step is still unread (a capture is read at least once a second); a
 * forward step takes over at once.  A frame whose time comes out later
 * than the reading was captured during the read: the reading's time, as
 * early as it can have been.  One older than STAMP_AGE_MAX_NS has none
 * (0: unknown, which counts everything recorded against it).
 */
#include <stdint.h>

#include "sniffer.h"

/* read by this one, not the other, and slower: a step, not jitter */
#define STAMP_JITTER_NS		100000LL	/* 0.1 ms */

void
stamp_read(struct stamp_clock *c, uint64_t mono, int64_t real)
{
	int64_t	 off = real - (int64_t)mono;

	/* read monotonic first: the delay between the two readings only
	 * makes off higher, frames earlier */
	if (!c->init || off > c->level + STAMP_JITTER_NS ||
	    off < c->level - STAMP_JITTER_NS) {
		if (c->init && off < c->hi - STAMP_JITTER_NS) {
			c->hold = mono + STAMP_HOLD_NS;
			c->back = c->hi - off;
			c->steps++;
		}
		c->level = off;
	} else if (off < c->level)
		c->level = off;	/* the least delayed reading of it */
	if (!c->init || mono >= c->hold || c->level > c->hi)
		c->hi = c->level;
	c->init = 1;
	c->mono = mono;
}

/* a frame stamped at ns (wall clock), in monotonic ns; 0: not known */
uint64_t
stamp_mono(const struct stamp_clock *c, int64_t ns)
{
	int64_t	 t = ns - c->hi;

	if (!c->init || t <= 0)
		return (0);
	/* captured after the reading (during the read): it was no
	 * earlier than the reading */
	if ((uint64_t)t > c->mono)
		return (c->mono);
	if (c->mono - (uint64_t)t > STAMP_AGE_MAX_NS)
		return (0);
	return ((uint64_t)t);
}
