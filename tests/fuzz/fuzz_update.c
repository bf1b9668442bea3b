/*
 * fuzz_update.c: libFuzzer target for pks-telegram's Bot API parsing
 * (pks-telegram/update.c).  Any input: no crash, no leak, no read out
 * of bounds, and whatever is parsed satisfies what the monitor relies
 * on (NUL-terminated fields, valid arguments, known enum values).
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
 *       -Icommon -Ipks-telegram $(pkg-config --cflags json-c) \
 *       tests/fuzz/fuzz_update.c pks-telegram/update.c common/log.c \
 *       $(pkg-config --libs json-c) -o build/fuzz_update
 *   build/fuzz_update tests/fuzz/corpus/update
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "telegram.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(const struct tg_update *u)
{
	const struct pks_tg_req	*r = &u->req;

	if (memchr(u->cbq_id, '\0', sizeof(u->cbq_id)) == NULL)
		abort();
	if (!u->has_cmd)
		return;
	if (r->cmd <= TG_CMD_NONE || r->cmd >= TG_CMD_MAX ||
	    r->chat_type < TG_CHAT_PRIVATE || r->chat_type > TG_CHAT_CHANNEL ||
	    r->reqid != 0 ||
	    memchr(r->user_name, '\0', sizeof(r->user_name)) == NULL ||
	    memchr(r->arg1, '\0', sizeof(r->arg1)) == NULL ||
	    memchr(r->arg2, '\0', sizeof(r->arg2)) == NULL)
		abort();
	if (r->arg1[0] != '\0' && !conf_valid_name(r->arg1))
		abort();
	/* an address, or a service after a fleet host's name */
	if (r->arg2[0] != '\0' && !tg_valid_addr(r->arg2) &&
	    !conf_valid_name(r->arg2))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct tg_update	ups[TG_UPDATES_MAX];
	struct tg_reply		rp;
	char			name[TG_BOTNAME_MAX];
	size_t			n, i, b;

	log_init("fuzz", 1, 0);		/* debug lines off */
	if (tg_parse_updates((const char *)data, len, "PksTestBot",
	    1700000000, ups, TG_UPDATES_MAX, &n) >= 0)
		for (i = 0; i < n; i++)
			check(&ups[i]);
	if (n > TG_UPDATES_MAX)
		abort();
	if (tg_parse_reply((const char *)data, len, &rp) == 0 &&
	    memchr(rp.desc, '\0', sizeof(rp.desc)) == NULL)
		abort();
	if (tg_parse_getme((const char *)data, len, name, sizeof(name)) == 0 &&
	    memchr(name, '\0', sizeof(name)) == NULL)
		abort();
	if (tg_utf16_to_bytes((const char *)data, len, len / 2, &b) == 0 &&
	    b > len)
		abort();
	return 0;
}
