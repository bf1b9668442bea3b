/*
 * test_common_parse.c: pks.conf(5).  Good files parse to the right
 * values; every class of mistake is refused with its message and line.
 */
#include <netinet/in.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "conf.h"
#include "log.h"

#define FILE_NAME	"t.conf"
#define SVC		"service ssh {\n\tport 22\n}\n"
#define NLOGS		64
/* the rest of a valid fleet block, after its broker line */
#define FLEET_REST	"\tca-file \"/etc/pks/ca.pem\"\n\tname web1\n" \
			"\tpassword-file \"/etc/pks/fleet-pw\"\n" \
			"\tsecret-file \"/etc/pks/fleet-web1\"\n"
/* the same for a front (no secret-file of its own) */
#define FRONT_REST	"\tca-file \"/etc/pks/ca.pem\"\n\tname front\n" \
			"\tpassword-file \"/etc/pks/fleet-pw\"\n\trole front\n"
#define TG		"telegram {\n}\n"

static char	logs[NLOGS][1200];
static int	nlogs;

static void
sink(int prio, const char *s, size_t len)
{
	(void)prio;
	if (nlogs >= NLOGS)
		return;
	if (len >= sizeof(logs[0]))
		len = sizeof(logs[0]) - 1;
	memcpy(logs[nlogs], s, len);
	logs[nlogs++][len] = '\0';
}

static int
setup(void **state)
{
	(void)state;
	nlogs = 0;
	return 0;
}

static void
dump_logs(void)
{
	int	i;

	for (i = 0; i < nlogs; i++)
		print_message("logged: %s\n", logs[i]);
}

/* a line that holds "file:line: msg" was logged */
static void
assert_logged(const char *file, int line, const char *msg)
{
	char	want[1200];
	int	i;

	snprintf(want, sizeof(want), "%s:%d: %s", file, line, msg);
	for (i = 0; i < nlogs; i++)
		if (strstr(logs[i], want) != NULL)
			return;
	print_message("wanted: %s\n", want);
	dump_logs();
	fail();
}

static void
assert_logged_text(const char *msg)
{
	int	i;

	for (i = 0; i < nlogs; i++)
		if (strstr(logs[i], msg) != NULL)
			return;
	print_message("wanted: %s\n", msg);
	dump_logs();
	fail();
}

static struct pks_conf *
parse(const char *text)
{
	return conf_parse_buffer(FILE_NAME, text, strlen(text));
}

static struct pks_conf *
parse_ok(const char *text)
{
	struct pks_conf	*c;

	c = parse(text);
	if (c == NULL)
		dump_logs();
	assert_non_null(c);
	assert_int_equal(nlogs, 0);
	return c;
}

/*
 * Error classes: the file is refused, the message names the line, and
 * recovery does not add errors of its own (nerr lines in all).
 */
struct ecase {
	const char	*name;
	const char	*text;
	int		 line;
	const char	*msg;
	int		 nerr;
};

static const struct ecase ecases[] = {
	{ "unknown_keyword_is_refused", "bogus 1\n" SVC, 1,
	    "unknown keyword \"bogus\"", 1 },
	{ "unknown_keyword_in_block_is_refused",
	    "service ssh {\n\tport 22\n\tcolour blue\n}\n", 3,
	    "service ssh: unknown keyword \"colour\"", 1 },
	{ "unknown_keyword_in_telegram_is_refused",
	    "telegram {\n\ttoken \"x\"\n}\n" SVC, 2,
	    "telegram: unknown keyword \"token\"", 1 },
	{ "word_is_not_a_number", "sequence-length abc\n" SVC, 1,
	    "sequence-length: \"abc\" is not a number", 1 },
	{ "trailing_junk_is_not_a_number", "sequence-length 3x\n" SVC, 1,
	    "sequence-length: \"3x\" is not a number", 1 },
	{ "plus_sign_is_not_a_number", "knock-timeout +5\n" SVC, 1,
	    "knock-timeout: \"+5\" is not a number", 1 },
	{ "overflow_is_detected",
	    "max-sources 99999999999999999999999\n" SVC, 1,
	    "max-sources: 99999999999999999999999 is out of range "
	    "(16..1048576)", 1 },
	{ "sequence_length_out_of_range", "sequence-length 17\n" SVC, 1,
	    "sequence-length: 17 is out of range (3..16)", 1 },
	{ "sequence_length_too_short", "sequence-length 1\n" SVC, 1,
	    "sequence-length: 1 is out of range (3..16)", 1 },
	/* two ports are guessed in seconds (issue 13, H1) */
	{ "sequence_length_two_is_refused", "sequence-length 2\n" SVC, 1,
	    "sequence-length: 2 is out of range (3..16)", 1 },
	{ "sequence_lifetime_out_of_range", "sequence-lifetime 9\n" SVC, 1,
	    "sequence-lifetime: 9 is out of range (10..86400)", 1 },
	{ "recovery_valid_unit", "recovery-valid 2y\n" SVC, 1,
	    "recovery-valid: \"2y\" is not a number", 1 },
	{ "recovery_valid_too_short", "recovery-valid 59m\n" SVC, 1,
	    "recovery-valid: out of range (3600s..31536000s, like 90d)", 1 },
	{ "recovery_valid_too_long", "recovery-valid 366d\n" SVC, 1,
	    "recovery-valid: out of range (3600s..31536000s, like 90d)", 1 },
	{ "recovery_valid_zero", "recovery-valid 0d\n" SVC, 1,
	    "recovery-valid: 0 is out of range (1..31536000)", 1 },
	{ "knock_timeout_negative", "knock-timeout -5\n" SVC, 1,
	    "knock-timeout: -5 is out of range (1..300)", 1 },
	{ "max_sources_too_small", "max-sources 15\n" SVC, 1,
	    "max-sources: 15 is out of range (16..1048576)", 1 },
	{ "port_zero_is_refused", "service ssh {\n\tport 0\n}\n", 2,
	    "port: 0 is out of range (1..65535)", 1 },
	{ "port_too_large_is_refused", "service ssh {\n\tport 65536\n}\n", 2,
	    "port: 65536 is out of range (1..65535)", 1 },
	{ "open_for_out_of_range",
	    "service ssh {\n\tport 22\n\topen-for 86401\n}\n", 3,
	    "open-for: 86401 is out of range (1..86400)", 1 },
	{ "protocol_must_be_tcp_or_udp",
	    "service ssh {\n\tport 22\n\tprotocol icmp\n}\n", 3,
	    "protocol: \"icmp\" is not tcp or udp", 1 },
	{ "knock_protocol_must_be_tcp_or_udp",
	    "service ssh {\n\tport 22\n\tknock-protocol sctp\n}\n", 3,
	    "knock-protocol: \"sctp\" is not tcp or udp", 1 },
	{ "unterminated_string_is_refused", "\nuser \"_pks\n" SVC, 2,
	    "unterminated string", 1 },
	{ "invalid_escape_is_refused", "chroot \"/var\\n\"\n" SVC, 1,
	    "invalid escape in string", 1 },
	{ "missing_close_brace_is_refused", "service ssh {\n\tport 22\n", 1,
	    "service ssh: missing '}' (block not closed)", 1 },
	{ "missing_open_brace_is_refused", "service ssh port 22\n" SVC, 1,
	    "service ssh: expected '{', got \"port\"", 1 },
	{ "unexpected_close_brace_is_refused", SVC "}\n", 4,
	    "unexpected '}'", 1 },
	{ "unclosed_list_is_refused", SVC "allow user { 1 2\n\n", 4,
	    "allow user: missing '}' to close the list", 1 },
	{ "junk_after_statement_is_refused", "user \"a\" \"b\"\n" SVC, 1,
	    "unexpected \"b\" at end of statement", 1 },
	{ "missing_value_is_refused", "user\n" SVC, 1,
	    "user: value expected, got end of line", 1 },
	{ "duplicate_service_is_refused", SVC "service ssh {\n\tport 23\n}\n",
	    4, "service \"ssh\" defined twice (first at line 1)", 1 },
	{ "duplicate_port_is_refused", SVC "service alt {\n\tport 22\n}\n",
	    4, "service alt: port 22/tcp is already protected by service ssh",
	    1 },
	{ "duplicate_keyword_is_refused", "user \"a\"\nuser \"b\"\n" SVC, 2,
	    "user given twice (first at line 1)", 1 },
	{ "unknown_firewall_is_refused", "firewall ipfw\n" SVC, 1,
	    "firewall: \"ipfw\" is not auto, nftables or iptables", 1 },
	{ "firewall_case_matters", "firewall NFTables\n" SVC, 1,
	    "firewall: \"NFTables\" is not auto, nftables or iptables", 1 },
	{ "duplicate_firewall_is_refused",
	    "firewall nftables\nfirewall iptables\n" SVC, 2,
	    "firewall given twice (first at line 1)", 1 },
	{ "unknown_mode_is_refused", "mode enforcing\n" SVC, 1,
	    "mode: \"enforcing\" is not observe or enforce", 1 },
	{ "duplicate_mode_is_refused", "mode observe\nmode enforce\n" SVC,
	    2, "mode given twice (first at line 1)", 1 },
	{ "nflog_group_out_of_range", "nflog-group 65536\n" SVC, 1,
	    "nflog-group: 65536 is out of range (0..65535)", 1 },
	{ "nflog_group_not_a_number", "nflog-group ulogd\n" SVC, 1,
	    "nflog-group: \"ulogd\" is not a number", 1 },
	{ "duplicate_nflog_group_is_refused",
	    "nflog-group 1\nnflog-group 2\n" SVC, 2,
	    "nflog-group given twice (first at line 1)", 1 },
	{ "always_host_bits_are_refused",
	    SVC "allow-always 198.18.0.5/24 to { ssh }\n", 4,
	    "allow-always: 198.18.0.5/24 has host bits set beyond /24", 1 },
	{ "always_v6_host_bits_are_refused",
	    SVC "allow-always fd00::1/64 to ssh\n", 4,
	    "allow-always: fd00::1/64 has host bits set beyond /64", 1 },
	{ "always_not_an_address_is_refused",
	    SVC "allow-always mgmt.example to { ssh }\n", 4,
	    "allow-always: \"mgmt.example\" is not an IPv4 or IPv6 address "
	    "or prefix", 1 },
	{ "always_zero_prefix_is_refused",
	    SVC "allow-always 0.0.0.0/0 to { ssh }\n", 4,
	    "allow-always: 0.0.0.0/0 would let every address in", 1 },
	{ "always_prefix_too_long_is_refused",
	    SVC "allow-always 198.18.0.0/33 to { ssh }\n", 4,
	    "allow-always: 33 is out of range (1..32)", 1 },
	{ "always_prefix_not_a_number_is_refused",
	    SVC "allow-always 198.18.0.0/x to { ssh }\n", 4,
	    "allow-always: \"x\" is not a number", 1 },
	{ "always_unknown_service_is_refused",
	    SVC "allow-always 198.18.0.0/24 to { ssh web }\n", 4,
	    "allow-always: service \"web\" is not defined", 1 },
	{ "always_without_to_is_refused",
	    SVC "allow-always 198.18.0.0/24 { ssh }\n", 4,
	    "allow-always: expected \"to\", got '{'", 1 },
	{ "duplicate_keyword_in_block_is_refused",
	    "service ssh {\n\tport 22\n\tport 23\n}\n", 3,
	    "port given twice (first at line 2)", 1 },
	{ "duplicate_telegram_is_refused", "telegram {\n}\ntelegram {\n}\n"
	    SVC, 3, "telegram block given twice (first at line 1)", 1 },
	{ "service_without_port_is_refused", "service ssh {\n\topen-for 5\n}\n",
	    1, "service ssh: no port given", 1 },
	{ "service_name_with_bad_chars_is_refused",
	    "service \"s h\" {\n\tport 22\n}\n", 1,
	    "service: service name \"s h\" may hold only letters, digits", 1 },
	{ "service_name_too_long_is_refused",
	    "service abcdefghijabcdefghijabcdefghij12 {\n\tport 22\n}\n", 1,
	    "service: service name \"abcdefghijabcdefghijabcdefghij12\" is too "
	    "long "
	    "(max 31 bytes)", 1 },
	{ "undefined_service_is_refused", SVC "allow user 1 to { ssh web }\n",
	    4, "allow: service \"web\" is not defined", 1 },
	{ "undefined_macro_is_refused", "user $nope\n" SVC, 1,
	    "macro \"nope\" is not defined", 1 },
	{ "macro_used_before_definition_is_refused",
	    "user $u\nu = \"x\"\n" SVC, 1, "macro \"u\" is not defined", 1 },
	{ "recursive_macro_is_refused", "a = \"$a\"\nuser $a\n" SVC, 2,
	    "macro \"a\": expansion too deep", 1 },
	{ "dollar_without_name_is_refused", "user $\n" SVC, 1,
	    "'$' not followed by a macro name", 1 },
	{ "macro_named_like_keyword_is_refused", "service = \"x\"\n" SVC, 1,
	    "macro name \"service\" is a keyword", 1 },
	{ "invalid_macro_name_is_refused", "1a = \"x\"\n" SVC, 1,
	    "invalid macro name \"1a\"", 1 },
	{ "no_service_is_refused", "user \"_pks\"\n", 2,
	    "no service defined (at least one is required)", 1 },
	{ "user_id_zero_is_refused", SVC "allow user 0 to ssh\n", 4,
	    "allow user: 0 is out of range (1..9223372036854775807)", 1 },
	{ "negative_user_id_is_refused", SVC "allow user -5 to ssh\n", 4,
	    "allow user: -5 is out of range", 1 },
	{ "user_id_overflow_is_refused",
	    SVC "allow user 9223372036854775808 to ssh\n", 4,
	    "allow user: 9223372036854775808 is out of range", 1 },
	{ "chat_id_zero_is_refused", SVC "allow chat 0 to ssh\n", 4,
	    "allow chat: 0 is not a chat id", 1 },
	{ "allow_without_kind_is_refused", SVC "allow 5 to ssh\n", 4,
	    "allow: expected user or chat, got \"5\"", 1 },
	{ "allow_without_to_is_refused", SVC "allow user 5 ssh\n", 4,
	    "allow user: expected \"to\", got \"ssh\"", 1 },
	{ "empty_list_is_refused", SVC "allow user { } to ssh\n", 4,
	    "allow user: empty list", 1 },
	{ "admin_needs_user", SVC "admin chat 5\n", 4,
	    "admin: expected user, got \"chat\"", 1 },
	{ "notify_id_must_be_positive", SVC "notify user -1\n", 4,
	    "notify user: -1 is out of range", 1 },
	{ "knock_ports_needs_range", "knock-ports 20000\n" SVC, 1,
	    "knock-ports: expected LO-HI, got \"20000\"", 1 },
	{ "knock_ports_low_below_high", "knock-ports 3000-2000\n" SVC, 1,
	    "knock-ports: 3000-2000: the low port must be below the high one",
	    1 },
	{ "knock_ports_out_of_range", "knock-ports 0-2000\n" SVC, 1,
	    "knock-ports: 0 is out of range (1..65535)", 1 },
	{ "knock_ports_junk", "knock-ports 1000-20x\n" SVC, 1,
	    "knock-ports: \"20x\" is not a number", 1 },
	{ "knock_ports_too_few_for_sequence",
	    "knock-ports 20000-20050\nsequence-length 3\n" SVC, 1,
	    "knock-ports 20000-20050: too few ports for sequence-length 3 "
	    "(needs at least 99)", 1 },
	{ "interface_name_too_long", "interface \"abcdefghijklmnop\"\n" SVC, 1,
	    "interface: \"abcdefghijklmnop\" is not 1 to 15 bytes long", 1 },
	{ "interface_name_with_slash", "interface \"a/b\"\n" SVC, 1,
	    "interface: \"a/b\" is not a valid interface name", 1 },
	{ "interface_given_twice", "interface eth0\ninterface eth0\n" SVC, 2,
	    "interface \"eth0\" given twice", 1 },
	{ "interface_any_is_alone", "interface eth0\ninterface any\n" SVC, 2,
	    "interface \"any\" cannot be combined with other interfaces", 1 },
	{ "api_url_plain_http_is_refused",
	    "telegram {\n\tapi-url \"http://api.telegram.org\"\n}\n" SVC, 2,
	    "api-url: \"http://api.telegram.org\" must start with https://",
	    1 },
	{ "api_url_lookalike_local_is_refused",
	    "telegram {\n\tapi-url \"http://127.0.0.1.evil.example\"\n}\n" SVC,
	    2, "api-url: \"http://127.0.0.1.evil.example\" must start", 1 },
	{ "api_url_userinfo_trick_is_refused",
	    "telegram {\n\tapi-url \"http://localhost:@evil.example/\"\n}\n"
	    SVC, 2, "api-url: \"http://localhost:@evil.example/\" must start",
	    1 },
	{ "api_url_without_host_is_refused",
	    "telegram {\n\tapi-url \"https://\"\n}\n" SVC, 2,
	    "api-url: \"https://\" has no host", 1 },
	{ "relative_path_is_refused", "chroot \"var/empty\"\n" SVC, 1,
	    "chroot: \"var/empty\" is not an absolute path", 1 },
	{ "empty_string_is_refused", "user \"\"\n" SVC, 1,
	    "user: empty value", 1 },
	{ "control_socket_must_fit_sun_path",
	    "control-socket \"/run/"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.sock\"\n" SVC,
	    1, "control-socket: \"/run/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\" "
	    "is too long (max 107 bytes)", 1 },
	{ "stray_brace_at_top_is_refused", "{ user \"x\" }\n" SVC, 1,
	    "unexpected '{'", 1 },
	{ "control_character_is_refused", "user \"a\x01\"\n" SVC, 1,
	    "control character 0x01 in file", 1 },
	/* fleet { }: every piece checked, the block's line named; a bad
	 * broker is also a missing one */
	{ "fleet_broker_must_be_mqtts",
	    "fleet {\n\tbroker \"https://b.example\"\n" FLEET_REST "}\n" SVC,
	    2, "broker: \"https://b.example\" must start with mqtts://", 2 },
	{ "fleet_broker_port_is_checked",
	    "fleet {\n\tbroker \"mqtts://b:70000\"\n" FLEET_REST "}\n" SVC,
	    2, "broker: \"mqtts://b:70000\" has a port out of 1..65535", 2 },
	{ "fleet_broker_needs_a_host",
	    "fleet {\n\tbroker \"mqtts://:8883\"\n" FLEET_REST "}\n" SVC,
	    2, "broker: \"mqtts://:8883\" has no host", 2 },
	{ "fleet_broker_nothing_after",
	    "fleet {\n\tbroker \"mqtts://b/x\"\n" FLEET_REST "}\n" SVC,
	    2, "broker: \"mqtts://b/x\" must be mqtts://HOST[:PORT]", 2 },
	{ "fleet_role_is_front_or_host",
	    "fleet {\n\tbroker \"mqtts://b\"\n\trole boss\n" FLEET_REST
	    "}\n" SVC, 3, "role: \"boss\" is not front or host", 1 },
	{ "fleet_needs_a_broker", "fleet {\n" FLEET_REST "}\n" SVC, 1,
	    "fleet: no broker given", 1 },
	{ "fleet_needs_a_name",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tpassword-file \"/p\"\n}\n" SVC, 1,
	    "fleet: no name given", 1 },
	{ "fleet_name_is_a_name",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tpassword-file \"/p\"\n\tname \"a/b\"\n}\n" SVC, 1,
	    "fleet: name \"a/b\" is not 1 to 31 letters", 1 },
	{ "fleet_name_all_is_reserved",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tpassword-file \"/p\"\n\tname all\n}\n" SVC, 1,
	    "fleet: name \"all\" names every host", 1 },
	/* names the front would read as another word (/recovery revoke 5,
	 * /revoke 6123456789): refused on both sides */
	{ "fleet_name_revoke_is_reserved",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tpassword-file \"/p\"\n\tname revoke\n}\n" SVC, 1,
	    "fleet: name \"revoke\" is a word of /recovery revoke ID|all", 1 },
	{ "fleet_name_digits_is_a_user_id",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tpassword-file \"/p\"\n\tname 6123\n}\n" SVC, 1,
	    "fleet: name \"6123\" is all digits, as a user id", 1 },
	{ "fleet_needs_credentials",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tname web1\n}\n" SVC, 1, "fleet: no credentials", 1 },
	{ "fleet_cert_needs_key",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tca-file \"/c\"\n"
	    "\tname web1\n\tcert-file \"/x\"\n}\n" SVC, 1,
	    "fleet: cert-file and key-file go together", 1 },
	{ "fleet_needs_a_ca",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tsecret-file \"/s\"\n\tname web1\n"
	    "\tpassword-file \"/p\"\n}\n" SVC, 1, "fleet: no ca-file given",
	    1 },
	{ "fleet_front_needs_telegram",
	    "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "}\n" SVC, 1, "fleet: role front needs a telegram block", 1 },
	{ "fleet_timeout_is_bounded",
	    "fleet {\n\tbroker \"mqtts://b\"\n\ttimeout 61\n" FLEET_REST
	    "}\n" SVC, 3, "timeout: 61 is out of range (1..60)", 1 },
	{ "fleet_block_given_twice",
	    "fleet {\n\tbroker \"mqtts://b\"\n" FLEET_REST "}\n"
	    "fleet {\n}\n" SVC, 8, "fleet block given twice (first at "
	    "line 1)", 1 },
	{ "fleet_unknown_keyword",
	    "fleet {\n\tbroker \"mqtts://b\"\n\ttopic x\n" FLEET_REST
	    "}\n" SVC, 3, "fleet: unknown keyword \"topic\"", 1 },
	/* the keys the front and each host share (fleetauth.c) */
	{ "fleet_host_needs_a_secret",
	    "fleet {\n\tbroker \"mqtts://b\"\n\tca-file \"/c\"\n"
	    "\tname web1\n\tpassword-file \"/p\"\n}\n" SVC, 1,
	    "fleet: no secret-file given", 1 },
	{ "fleet_front_has_no_secret_file",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\tsecret-file \"/s\"\n}\n" SVC, 9, "fleet: secret-file is a "
	    "host's", 1 },
	{ "fleet_host_lines_are_a_fronts",
	    "fleet {\n\tbroker \"mqtts://b\"\n" FLEET_REST
	    "\thost web2 secret-file \"/s\"\n}\n" SVC, 7, "fleet: host "
	    "lines are a front's", 1 },
	{ "fleet_host_line_shape",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 key \"/s\"\n}\n" SVC, 9, "host web2: expected "
	    "secret-file, got \"key\"", 1 },
	{ "fleet_host_line_path",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"s\"\n}\n" SVC, 9, "host web2: "
	    "secret-file \"s\" is not an absolute path", 1 },
	{ "fleet_host_line_name",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost a/b secret-file \"/s\"\n}\n" SVC, 9, "host: \"a/b\"", 1 },
	{ "fleet_host_line_all",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost all secret-file \"/s\"\n}\n" SVC, 9, "host: \"all\" "
	    "names every host", 1 },
	{ "fleet_host_line_revoke",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost revoke secret-file \"/s\"\n}\n" SVC, 9, "host: "
	    "\"revoke\" is a word of /recovery revoke ID|all", 1 },
	{ "fleet_host_line_digits",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost 42 secret-file \"/s\"\n}\n" SVC, 9, "host: \"42\" "
	    "is all digits, as a user id", 1 },
	/* a rotation: the key replaced, still accepted (fleet.md) */
	{ "fleet_host_line_previous_shape",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"/s\" previous \"/o\"\n}\n" SVC, 9,
	    "host web2: expected previous-secret-file, got \"previous\"", 1 },
	{ "fleet_host_line_previous_path",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"/s\" previous-secret-file o\n}\n"
	    SVC, 9, "host web2: previous-secret-file \"o\" is not an "
	    "absolute path", 1 },
	{ "fleet_host_line_previous_missing",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"/s\" previous-secret-file\n}\n"
	    SVC, 9, "host: value expected, got end of line", 1 },
	{ "fleet_host_line_previous_then_more",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"/s\" previous-secret-file \"/o\" "
	    "x\n}\n" SVC, 9, "unexpected \"x\" at end of statement", 1 },
	{ "fleet_front_has_no_previous_secret_file",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\tprevious-secret-file \"/s\"\n}\n" SVC, 9, "fleet: "
	    "previous-secret-file is a host's", 1 },
	{ "fleet_previous_secret_file_path",
	    "fleet {\n\tbroker \"mqtts://b\"\n" FLEET_REST
	    "\tprevious-secret-file o\n}\n" SVC, 7, "previous-secret-file: "
	    "\"o\" is not an absolute path", 1 },
	{ "fleet_previous_secret_file_twice",
	    "fleet {\n\tbroker \"mqtts://b\"\n" FLEET_REST
	    "\tprevious-secret-file \"/o\"\n\tprevious-secret-file \"/p\"\n"
	    "}\n" SVC, 8, "previous-secret-file given twice", 1 },
	{ "fleet_host_line_twice",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web2 secret-file \"/s\"\n"
	    "\thost web2 secret-file \"/t\"\n}\n" SVC, 10, "host web2 given "
	    "twice (first at line 9)", 1 },
	/* /generate NAME means a service of the front's if it has one */
	{ "fleet_host_line_a_service",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost ssh secret-file \"/s\"\n}\n" SVC, 9, "fleet: host ssh "
	    "is also a service here", 1 },
	{ "fleet_front_name_a_service",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n\tca-file \"/c\"\n"
	    "\tname ssh\n\tpassword-file \"/p\"\n\trole front\n}\n" SVC,
	    3, "fleet: host ssh is also a service here", 1 },
	{ "fleet_host_line_own_name",
	    TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost front secret-file \"/s\"\n}\n" SVC, 9, "fleet: host "
	    "front is this host's own name", 1 },
};
#define NECASES	(sizeof(ecases) / sizeof(ecases[0]))

static void
test_error_case(void **state)
{
	const struct ecase	*e = *state;

	assert_null(parse(e->text));
	assert_logged(FILE_NAME, e->line, e->msg);
	if (nlogs != e->nerr) {
		dump_logs();
		assert_int_equal(nlogs, e->nerr);
	}
}

/* the example of design.md, comments and all */
static const char example[] =
    "# /etc/pks/pks.conf\n"
    "admins = \"{ 6123456789 6123456790 }\"    # macro, used below as "
    "$admins\n"
    "\n"
    "user \"_pks\"                  # unprivileged user of the children\n"
    "chroot \"/var/lib/pks/empty\"  # empty, root-owned directory\n"
    "interface \"eth0\"             # repeatable; \"any\" captures on every "
    "interface\n"
    "knock-ports 20000-60000      # ports sequences are drawn from\n"
    "sequence-length 3\n"
    "sequence-lifetime 300        # seconds a sequence stays valid\n"
    "knock-timeout 10             # seconds allowed between two knocks\n"
    "max-sources 65536            # cap on sources tracked by the sniffer\n"
    "control-socket \"/run/pks/pks.sock\"\n"
    "\n"
    "telegram {\n"
    "\ttoken-file \"/etc/pks/token\"          # root-owned, mode 0600\n"
    "\tapi-url \"https://api.telegram.org\"   # a local Bot API server or a "
    "test server\n"
    "\tca-file \"/etc/ssl/certs/ca-certificates.crt\"\n"
    "}\n"
    "\n"
    "service ssh {\n"
    "\tport 22\n"
    "\tprotocol tcp\n"
    "\topen-for 30                # window length in seconds\n"
    "}\n"
    "\n"
    "allow user $admins to { ssh }\n"
    "allow chat -1001234567890 to { ssh }    # members of this group\n";

static void
test_design_example_parses(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok(example);
	assert_string_equal(c->user, "_pks");
	assert_string_equal(c->chroot, "/var/lib/pks/empty");
	assert_int_equal(c->nifaces, 1);
	assert_string_equal(c->ifaces[0], "eth0");
	assert_int_equal(c->knock_lo, 20000);
	assert_int_equal(c->knock_hi, 60000);
	assert_int_equal(c->seq_len, 3);
	assert_int_equal(c->seq_lifetime, 300);
	assert_int_equal(c->knock_timeout, 10);
	assert_int_equal(c->max_sources, 65536);
	assert_int_equal(c->recovery_valid, 90 * 86400);
	assert_string_equal(c->control_socket, "/run/pks/pks.sock");
	assert_int_equal(c->has_telegram, 1);
	assert_string_equal(c->token_file, "/etc/pks/token");
	assert_string_equal(c->api_url, "https://api.telegram.org");
	assert_string_equal(c->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c->nservices, 1);
	assert_string_equal(c->services[0].name, "ssh");
	assert_int_equal(c->services[0].port, 22);
	assert_int_equal(c->services[0].proto, IPPROTO_TCP);
	assert_int_equal(c->services[0].knock_proto, IPPROTO_TCP);
	assert_int_equal(c->services[0].open_for, 30);
	/* users first, then chats, each sorted by id */
	assert_int_equal(c->ngrants, 3);
	assert_int_equal(c->grants[0].kind, GRANT_USER);
	assert_true(c->grants[0].id == 6123456789LL);
	assert_int_equal(c->grants[0].services, 1);
	assert_int_equal(c->grants[1].kind, GRANT_USER);
	assert_true(c->grants[1].id == 6123456790LL);
	assert_int_equal(c->grants[1].services, 1);
	assert_int_equal(c->grants[2].kind, GRANT_CHAT);
	assert_true(c->grants[2].id == -1001234567890LL);
	assert_int_equal(c->grants[2].services, 1);
	assert_int_equal(c->nadmins, 0);
	assert_int_equal(c->nnotify, 0);
	conf_free(c);
}

static void
test_defaults(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok("service ssh { port 22 }");
	assert_string_equal(c->user, "_pks");
	assert_string_equal(c->chroot, "/var/lib/pks/empty");
	assert_int_equal(c->nifaces, 1);
	assert_string_equal(c->ifaces[0], "any");
	assert_int_equal(c->knock_lo, 20000);
	assert_int_equal(c->knock_hi, 60000);
	assert_int_equal(c->seq_len, 3);
	assert_int_equal(c->seq_lifetime, 300);
	assert_int_equal(c->knock_timeout, 10);
	assert_int_equal(c->max_sources, 65536);
	assert_string_equal(c->control_socket, "/run/pks/pks.sock");
	assert_string_equal(c->state_file, "/var/lib/pks/state");
	assert_int_equal(c->firewall, PKS_FW_AUTO);
	assert_int_equal(c->has_telegram, 0);
	assert_string_equal(c->token_file, "/etc/pks/token");
	assert_string_equal(c->api_url, "https://api.telegram.org");
	assert_string_equal(c->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c->services[0].proto, IPPROTO_TCP);
	assert_int_equal(c->services[0].knock_proto, IPPROTO_TCP);
	assert_int_equal(c->services[0].open_for, 30);
	assert_int_equal(c->ngrants, 0);
	assert_null(c->grants);
	conf_free(c);
}

static void
test_every_setting(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok(
	    "user pks\r\n"
	    "chroot \"/srv/empty\"\n"
	    "interface eth0\ninterface \"wlan0\"\n"
	    "knock-ports 1000-1100\n"
	    "sequence-length 3\n"
	    "sequence-lifetime 86400\n"
	    "knock-timeout 300\n"
	    "max-sources 1048576\n"
	    "recovery-valid 2w\n"
	    "control-socket \"/tmp/p.sock\"\n"
	    "state-file \"/tmp/state\"\n"
	    "firewall iptables\n"
	    "telegram { token-file \"/tmp/tok\"\n"
	    "api-url \"http://127.0.0.1:8081/bot\" }\n"
	    "service dns {\n\tport 53\n\tprotocol udp\n"
	    "\tknock-protocol udp\n\topen-for 86400\n}\n"
	    "service web_2-x {\n\tport 1050\n}\n");
	assert_string_equal(c->user, "pks");
	assert_string_equal(c->chroot, "/srv/empty");
	assert_int_equal(c->nifaces, 2);
	assert_string_equal(c->ifaces[1], "wlan0");
	assert_int_equal(c->knock_lo, 1000);
	assert_int_equal(c->knock_hi, 1100);
	assert_int_equal(c->seq_len, 3);
	assert_int_equal(c->seq_lifetime, 86400);
	assert_int_equal(c->knock_timeout, 300);
	assert_int_equal(c->max_sources, 1048576);
	assert_int_equal(c->recovery_valid, 14 * 86400);
	assert_string_equal(c->control_socket, "/tmp/p.sock");
	assert_string_equal(c->state_file, "/tmp/state");
	assert_int_equal(c->firewall, PKS_FW_IPTABLES);
	assert_int_equal(c->has_telegram, 1);
	assert_string_equal(c->token_file, "/tmp/tok");
	assert_string_equal(c->api_url, "http://127.0.0.1:8081/bot");
	assert_string_equal(c->ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c->nservices, 2);
	assert_int_equal(c->services[0].proto, IPPROTO_UDP);
	assert_int_equal(c->services[0].knock_proto, IPPROTO_UDP);
	assert_int_equal(c->services[0].open_for, 86400);
	/* a protected port inside knock-ports is allowed */
	assert_int_equal(c->services[1].port, 1050);
	assert_int_equal(conf_service_index(c, "web_2-x"), 1);
	assert_int_equal(conf_service_index(c, "dns"), 0);
	assert_int_equal(conf_service_index(c, "web"), -1);
	assert_int_equal(conf_service_index(c, NULL), -1);
	conf_free(c);
}

static void
test_firewall_backends(void **state)
{
	static const struct { const char *v; int kind; } tab[] = {
		{ "auto", PKS_FW_AUTO },
		{ "nftables", PKS_FW_NFTABLES },
		{ "iptables", PKS_FW_IPTABLES },
		{ "\"nftables\"", PKS_FW_NFTABLES },
	};
	struct pks_conf	*c;
	char		 buf[128];
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		snprintf(buf, sizeof(buf), "firewall %s\nservice ssh { port 22 "
		    "}", tab[i].v);
		c = parse_ok(buf);
		assert_int_equal(c->firewall, tab[i].kind);
		conf_free(c);
	}
}

static void
test_mode_and_always(void **state)
{
	struct pks_conf	*c;
	uint8_t		 v6[16] = { 0xfd, 0, 0, 0, 0, 0, 0, 0x01 };

	(void)state;
	c = parse_ok(SVC "service web {\n\tport 80\n}\n"
	    "net = \"10.1.0.0/16\"\n"
	    "allow-always $net to { ssh web }\n"
	    "allow-always 198.18.0.3 to ssh\n"
	    "allow-always fd00:0:0:1::/64 to web\n"
	    "mode observe\nnflog-group 0\n");
	assert_int_equal(c->mode, PKS_MODE_OBSERVE);
	assert_int_equal(c->nflog_group, 0);
	assert_int_equal(c->nalways, 3);
	assert_int_equal(c->always[0].af, AF_INET);
	assert_int_equal(c->always[0].plen, 16);
	assert_memory_equal(c->always[0].addr, "\x0a\x01\0\0", 4);
	assert_int_equal(c->always[0].services, 3);
	assert_int_equal(c->always[1].plen, 32);
	assert_memory_equal(c->always[1].addr, "\xc6\x12\0\x03", 4);
	assert_int_equal(c->always[1].services, 1);
	assert_int_equal(c->always[2].af, AF_INET6);
	assert_int_equal(c->always[2].plen, 64);
	assert_memory_equal(c->always[2].addr, v6, 16);
	assert_int_equal(c->always[2].services, 2);
	conf_free(c);
	c = parse_ok(SVC);
	assert_int_equal(c->mode, PKS_MODE_ENFORCE);
	assert_int_equal(c->nflog_group, PKS_NFLOG_GROUP);
	assert_int_equal(c->nalways, 0);
	conf_free(c);
}

/* 6 services, CONF_ALWAYS_MAX allow-always lines to the first n+1 */
static size_t
always_lines(char *buf, size_t size, int n)
{
	static const char	*to[] = { "ssh", "ssh s0", "ssh s0 s1",
				    "ssh s0 s1 s2", "ssh s0 s1 s2 s3" };
	size_t			 len;
	int			 i;

	len = snprintf(buf, size, "%s", SVC);
	for (i = 0; i < 5; i++)
		len += snprintf(buf + len, size - len,
		    "service s%d {\n\tport %d\n}\n", i, 100 + i);
	for (i = 0; i < CONF_ALWAYS_MAX; i++)
		len += snprintf(buf + len, size - len,
		    "allow-always 10.0.%d.0/24 to { %s }\n", i, to[n]);
	return len;
}

/* allow-always: CONF_ALWAYS_MAX lines, PKS_ALLOW_MAX pairs */
static void
test_always_limits(void **state)
{
	static char	 buf[64 * 1024];
	struct pks_conf	*c;
	size_t		 len;

	(void)state;
	len = always_lines(buf, sizeof(buf), 2);
	c = parse_ok(buf);
	assert_int_equal(c->nalways, CONF_ALWAYS_MAX);
	conf_free(c);
	snprintf(buf + len, sizeof(buf) - len,
	    "allow-always 10.1.0.0/24 to ssh\n");
	assert_null(parse(buf));
	assert_logged_text("allow-always: at most 64 lines");
	/* 64 lines of 5 services: more pairs than pks-fw takes */
	nlogs = 0;
	(void)always_lines(buf, sizeof(buf), 4);
	assert_null(parse(buf));
	assert_logged_text("allow-always: 320 prefix and service pairs, at "
	    "most 256");
}

static void
test_local_api_urls(void **state)
{
	const char	*ok[] = {
		"http://127.0.0.1", "http://127.0.0.1:8081/", "http://[::1]",
		"http://[::1]:80/x", "http://localhost", "http://localhost:1",
		"https://tg.example:8443/"
	};
	char		 buf[256];
	struct pks_conf	*c;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		snprintf(buf, sizeof(buf), "telegram {\n api-url \"%s\"\n}\n"
		    SVC, ok[i]);
		c = parse_ok(buf);
		assert_string_equal(c->api_url, ok[i]);
		conf_free(c);
	}
}

static void
test_macros(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok(
	    "sshport = 2222\n"
	    "one = \"1\"\n"
	    "both = \"{ $one 2 }\"\n"
	    "svcs = \"{ ssh web }\"\n"
	    "lit = \"x\"\n"
	    "user \"$lit\"\n"			/* no expansion inside quotes */
	    "service ssh { port $sshport }\n"
	    "service web { port 443 }\n"
	    "allow user $both to $svcs\n"
	    "one = \"3\"\n"			/* redefinition: later wins */
	    "allow user $one to ssh\n");
	assert_string_equal(c->user, "$lit");
	assert_int_equal(c->services[0].port, 2222);
	assert_int_equal(c->ngrants, 3);
	assert_true(c->grants[0].id == 1);
	assert_int_equal(c->grants[0].services, 3);
	assert_true(c->grants[1].id == 2);
	assert_int_equal(c->grants[1].services, 3);
	assert_true(c->grants[2].id == 3);
	assert_int_equal(c->grants[2].services, 1);
	conf_free(c);
}

static void
test_grants_merge(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok(
	    "allow user 7 to a\n"		/* before a is defined */
	    "service a { port 1 }\nservice b { port 2 }\n"
	    "service c { port 3 }\n"
	    "allow user { 7\n  8 } to {\n b c }\n"
	    "allow chat 7 to b\n"
	    "allow chat -9223372036854775808 to { a a }\n"
	    "allow user 9223372036854775807 to c\n"
	    "admin user { 5 3 5 }\nadmin user 3\n"
	    "notify user 9\n");
	assert_int_equal(c->ngrants, 5);
	assert_int_equal(c->grants[0].kind, GRANT_USER);
	assert_true(c->grants[0].id == 7);
	assert_int_equal(c->grants[0].services, 0x7);
	assert_true(c->grants[1].id == 8);
	assert_int_equal(c->grants[1].services, 0x6);
	assert_true(c->grants[2].id == INT64_MAX);
	assert_int_equal(c->grants[2].services, 0x4);
	assert_int_equal(c->grants[3].kind, GRANT_CHAT);
	assert_true(c->grants[3].id == INT64_MIN);
	assert_int_equal(c->grants[3].services, 0x1);
	assert_int_equal(c->grants[4].kind, GRANT_CHAT);
	assert_true(c->grants[4].id == 7);
	assert_int_equal(c->grants[4].services, 0x2);
	assert_int_equal(c->nadmins, 2);
	assert_true(c->admins[0] == 3 && c->admins[1] == 5);
	assert_int_equal(c->nnotify, 1);
	assert_true(c->notify[0] == 9);
	conf_free(c);
}

static void
test_sixty_four_services(void **state)
{
	char		*buf;
	struct pks_conf	*c;
	size_t		 len = 0, size = 8192;
	int		 i;

	(void)state;
	assert_non_null(buf = malloc(size));
	for (i = 0; i < PKS_SERVICES_MAX; i++)
		len += snprintf(buf + len, size - len,
		    "service s%d { port %d }\n", i, 100 + i);
	snprintf(buf + len, size - len, "allow user 1 to s63\n");
	c = parse_ok(buf);
	assert_int_equal(c->nservices, PKS_SERVICES_MAX);
	assert_true(c->grants[0].services == 1ULL << 63);
	conf_free(c);

	/* one more is refused */
	snprintf(buf + len, size - len, "service s64 { port 99 }\n");
	assert_null(parse(buf));
	assert_logged(FILE_NAME, PKS_SERVICES_MAX + 1,
	    "too many services (max 64)");
	free(buf);
}

static void
test_too_many_interfaces(void **state)
{
	char	buf[1024];
	size_t	len = 0;
	int	i;

	(void)state;
	for (i = 0; i <= PKS_IFACES_MAX; i++)
		len += snprintf(buf + len, sizeof(buf) - len,
		    "interface eth%d\n", i);
	snprintf(buf + len, sizeof(buf) - len, SVC);
	assert_null(parse(buf));
	assert_logged(FILE_NAME, PKS_IFACES_MAX + 1,
	    "too many interfaces (max 16)");
	assert_int_equal(nlogs, 1);
}

static void
test_line_too_long(void **state)
{
	char	*buf;
	size_t	 len = 5000;

	(void)state;
	assert_non_null(buf = malloc(len + 64));
	strcpy(buf, SVC "# ");
	memset(buf + strlen(buf), 'x', len);
	strcpy(buf + strlen(SVC) + 2 + len, "\n");
	assert_null(parse(buf));
	assert_logged(FILE_NAME, 4, "line too long (max 4096 bytes)");
	assert_int_equal(nlogs, 1);
	free(buf);
}

/* a fleet block: every setting lands where it should */
static void
test_fleet_block(void **state)
{
	struct pks_conf	*c;

	(void)state;
	c = parse_ok("telegram {\n}\nfleet {\n"
	    "\tbroker \"mqtts://[fd00::1]:8883\"\n"
	    "\tca-file \"/etc/pks/fleet-ca.pem\"\n"
	    "\tcert-file \"/etc/pks/front.pem\"\n"
	    "\tkey-file \"/etc/pks/front.key\"\n"
	    "\tname front-1\n\trole front\n\ttimeout 9\n}\n" SVC);
	assert_int_equal(c->has_fleet, 1);
	assert_string_equal(c->fleet_broker, "mqtts://[fd00::1]:8883");
	assert_string_equal(c->fleet_ca, "/etc/pks/fleet-ca.pem");
	assert_string_equal(c->fleet_cert, "/etc/pks/front.pem");
	assert_string_equal(c->fleet_key, "/etc/pks/front.key");
	assert_string_equal(c->fleet_password, "");
	assert_string_equal(c->fleet_name, "front-1");
	assert_int_equal(c->fleet_role, PKS_FLEET_FRONT);
	assert_int_equal(c->fleet_timeout, 9);
	assert_int_equal(c->nfleet_hosts, 0);
	conf_free(c);
	/* a front names each host's key */
	c = parse_ok(TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web1 secret-file \"/etc/pks/fleet/web1\"\n"
	    "\thost web-2 secret-file \"/etc/pks/fleet/web-2\"\n}\n" SVC);
	assert_int_equal(c->nfleet_hosts, 2);
	assert_string_equal(c->fleet_hosts[1].name, "web-2");
	assert_string_equal(c->fleet_hosts[1].key[CONF_KEY_NOW].path,
	    "/etc/pks/fleet/web-2");
	assert_int_equal(c->fleet_hosts[1].line, 10);
	assert_string_equal(c->fleet_secret[CONF_KEY_NOW].path, "");
	assert_string_equal(c->fleet_hosts[1].key[CONF_KEY_PREVIOUS].path,
	    "");
	conf_free(c);
	/* and the key it replaces, during a rotation */
	c = parse_ok(TG "fleet {\n\tbroker \"mqtts://b\"\n" FRONT_REST
	    "\thost web1 secret-file \"/etc/pks/fleet/web1.new\" "
	    "previous-secret-file \"/etc/pks/fleet/web1\"\n}\n" SVC);
	assert_string_equal(c->fleet_hosts[0].key[CONF_KEY_NOW].path,
	    "/etc/pks/fleet/web1.new");
	assert_string_equal(c->fleet_hosts[0].key[CONF_KEY_PREVIOUS].path,
	    "/etc/pks/fleet/web1");
	assert_int_equal(c->fleet_hosts[0].key[CONF_KEY_PREVIOUS].line, 9);
	conf_free(c);
	/* the defaults: a host, 5 s */
	c = parse_ok("fleet {\n\tbroker \"mqtts://broker.example\"\n"
	    FLEET_REST "}\n" SVC);
	assert_int_equal(c->fleet_role, PKS_FLEET_HOST);
	assert_int_equal(c->fleet_timeout, 5);
	assert_string_equal(c->fleet_name, "web1");
	assert_string_equal(c->fleet_secret[CONF_KEY_NOW].path,
	    "/etc/pks/fleet-web1");
	assert_int_equal(c->fleet_secret[CONF_KEY_NOW].line, 6);
	assert_string_equal(c->fleet_secret[CONF_KEY_PREVIOUS].path, "");
	conf_free(c);
	c = parse_ok("fleet {\n\tbroker \"mqtts://b\"\n" FLEET_REST
	    "\tprevious-secret-file \"/etc/pks/fleet-web1.old\"\n}\n" SVC);
	assert_string_equal(c->fleet_secret[CONF_KEY_PREVIOUS].path,
	    "/etc/pks/fleet-web1.old");
	assert_int_equal(c->fleet_secret[CONF_KEY_PREVIOUS].line, 7);
	conf_free(c);
	c = parse_ok(SVC);
	assert_int_equal(c->has_fleet, 0);
	conf_free(c);
}

static void
test_nul_byte(void **state)
{
	static const char	text[] = SVC "user \"a\0b\"\n";

	(void)state;
	assert_null(conf_parse_buffer(FILE_NAME, text, sizeof(text) - 1));
	assert_logged(FILE_NAME, 4, "NUL byte in file");
	assert_int_equal(nlogs, 1);
}

static void
test_file_too_large(void **state)
{
	char	*buf;
	size_t	 len = 1024 * 1024 + 1;

	(void)state;
	assert_non_null(buf = malloc(len));
	memset(buf, '\n', len);
	assert_null(conf_parse_buffer(FILE_NAME, buf, len));
	assert_logged_text("t.conf: file too large (1048577 bytes, max "
	    "1048576)");
	/* exactly the limit is fine (and holds no service) */
	nlogs = 0;
	assert_null(conf_parse_buffer(FILE_NAME, buf, len - 1));
	assert_logged_text("no service defined");
	free(buf);
}

/* macros that double at each level cannot make the parser work forever */
static void
test_macro_bomb_is_bounded(void **state)
{
	char	buf[2048];
	size_t	len = 0;
	int	i, j, n = 0;

	(void)state;
	len += snprintf(buf, sizeof(buf), "m0 = \"1\"\n");
	for (i = 1; i < 8; i++) {
		len += snprintf(buf + len, sizeof(buf) - len, "m%d = \"", i);
		for (j = 0; j < 8; j++)
			len += snprintf(buf + len, sizeof(buf) - len, "$m%d ",
			    i - 1);
		len += snprintf(buf + len, sizeof(buf) - len, "\"\n");
	}
	snprintf(buf + len, sizeof(buf) - len, "admin user { $m7 }\n" SVC);
	assert_null(parse(buf));
	assert_logged(FILE_NAME, 9, "too many macro expansions (max 4096)");
	for (i = 0; i < nlogs; i++)
		if (strstr(logs[i], "too many macro expansions") != NULL)
			n++;
	assert_int_equal(n, 1);
}

/* the parser goes on after an error and reports the next ones */
static void
test_reports_every_error(void **state)
{
	(void)state;
	assert_null(parse(
	    "bogus\n"
	    "service ssh {\n\tport x\n\tfoo\n}\n"
	    "sequence-length 99\n"
	    "allow user 1 to nothere\n"
	    "user $undef\n"));
	assert_logged(FILE_NAME, 1, "unknown keyword \"bogus\"");
	assert_logged(FILE_NAME, 3, "port: \"x\" is not a number");
	assert_logged(FILE_NAME, 4, "service ssh: unknown keyword \"foo\"");
	assert_logged(FILE_NAME, 6, "sequence-length: 99 is out of range");
	assert_logged(FILE_NAME, 8, "macro \"undef\" is not defined");
	assert_logged(FILE_NAME, 7, "allow: service \"nothere\" is not "
	    "defined");
	assert_int_equal(nlogs, 6);
}

static void
test_error_flood_is_capped(void **state)
{
	char	buf[4096];
	size_t	len = 0;
	int	i;

	(void)state;
	for (i = 0; i < 200; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "x\n");
	assert_null(parse(buf));
	assert_int_equal(nlogs, 51);
	assert_logged(FILE_NAME, 51, "too many errors, not reporting more");
}

#define T(f)	cmocka_unit_test_setup(f, setup)

static const struct CMUnitTest ftests[] = {
	T(test_design_example_parses),
	T(test_defaults),
	T(test_every_setting),
	T(test_firewall_backends),
	T(test_mode_and_always),
	T(test_always_limits),
	T(test_local_api_urls),
	T(test_macros),
	T(test_grants_merge),
	T(test_sixty_four_services),
	T(test_too_many_interfaces),
	T(test_line_too_long),
	T(test_fleet_block),
	T(test_nul_byte),
	T(test_file_too_large),
	T(test_macro_bomb_is_bounded),
	T(test_reports_every_error),
	T(test_error_flood_is_capped),
};
#define NFTESTS	(sizeof(ftests) / sizeof(ftests[0]))

int
main(void)
{
	struct CMUnitTest	tests[NECASES + NFTESTS];
	size_t			i;

	log_init("test_common_parse", 1, 0);
	log_setsink(sink);
	for (i = 0; i < NECASES; i++) {
		tests[i].name = ecases[i].name;
		tests[i].test_func = test_error_case;
		tests[i].setup_func = setup;
		tests[i].teardown_func = NULL;
		tests[i].initial_state = (void *)&ecases[i];
	}
	for (i = 0; i < NFTESTS; i++)
		tests[NECASES + i] = ftests[i];
	return cmocka_run_group_tests_name("common_parse", tests, NULL, NULL);
}
