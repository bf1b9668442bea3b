/*
 * fuzz_imsg.h: what fuzz_imsg.c and seeds_imsg.c share.
 */
#ifndef PKS_FUZZ_IMSG_H
#define PKS_FUZZ_IMSG_H

/* receivers, chosen by the first input byte (modulo R_MAX); the rest of
 * that byte (divided by R_MAX) sets the size of the pieces written */
enum { R_FRAMING, R_SNIFFER, R_FW, R_WORKER, R_MONITOR, R_MAX };

#endif /* PKS_FUZZ_IMSG_H */
