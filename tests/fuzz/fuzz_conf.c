/*
 * fuzz_conf.c: libFuzzer target for the configuration parser.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Icommon \
 *       tests/fuzz/fuzz_conf.c common/parse.c common/parse_lex.c \
 *       common/parse_value.c common/log.c -o fuzz_conf
 *   ./fuzz_conf -max_len=8192 tests/fuzz/corpus/conf
 *
 * Any input must either parse or be refused with errors: no crash, no
 * leak, no read outside the buffer (it is not NUL-terminated).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* the parser's errors are expected here: keep the output readable */
static void
quiet(int prio, const char *s, size_t len)
{
	(void)prio;
	(void)s;
	(void)len;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static int		 init;
	struct pks_conf		*c;
	struct conf_grant	*g;
	char			*buf;
	size_t			 i;

	if (!init) {
		log_init("fuzz_conf", 1, 0);
		log_setsink(quiet);
		init = 1;
	}
	/* an exact-size copy, so ASan sees any read past the end */
	if ((buf = malloc(len > 0 ? len : 1)) == NULL)
		return 0;
	memcpy(buf, data, len);
	c = conf_parse_buffer("fuzz.conf", buf, len);
	if (c != NULL) {
		/* what the monitor relies on after a successful parse */
		if (c->nservices < 1 || c->nservices > PKS_SERVICES_MAX ||
		    c->nifaces < 1 || c->nifaces > PKS_IFACES_MAX ||
		    c->knock_lo >= c->knock_hi ||
		    c->seq_len < PKS_SEQ_MIN || c->seq_len > PKS_SEQ_MAX)
			abort();
		for (i = 0; i < (size_t)c->nservices; i++)
			if (c->services[i].port == 0 ||
			    conf_service_index(c, c->services[i].name) !=
			    (int)i)
				abort();
		/* merged: one grant per user or chat, sorted */
		for (i = 0; i < c->ngrants; i++) {
			g = &c->grants[i];
			if (g->services == 0 || (i > 0 &&
			    g[-1].kind == g->kind && g[-1].id >= g->id))
				abort();
		}
		conf_free(c);
	}
	free(buf);
	return 0;
}
