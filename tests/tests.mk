# tests/tests.mk: included by the GNUmakefile.
#
# Unit tests: tests/unit/test_<part>_<what>.c, cmocka, linked with common/
# and with the objects of the program folder <part> names.  End-to-end
# tests: tests/e2e/t_*.py (or .sh), TAP, run as root in network
# namespaces they create.  prove(1) runs them all.

UNIT_SRCS	:= $(wildcard tests/unit/test_*.c)
UNIT_BINS	:= $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
E2E_TESTS	:= $(sort $(wildcard tests/e2e/t_*.py tests/e2e/t_*.sh))

part_dir	= $(if $(filter common,$(1)),,$(if $(filter monitor,$(1)),pks-monitor,$(if $(filter knock,$(1)),client,pks-$(1))))
part_of		= $(word 2,$(subst _, ,$(notdir $(1))))
part_libs	= $(if $(filter telegram,$(1)),$(call lib_of,libcurl json-c),) \
		  $(if $(filter sniffer,$(1)),$(call lib_of,libpcap),) \
		  $(if $(filter fw,$(1)),$(call lib_of,libip4tc libip6tc libnftnl libmnl),)

.SECONDEXPANSION:
$(BUILD)/tests/%: tests/unit/%.c $(COMMON_LIB) \
    $$(if $$(call part_dir,$$(call part_of,$$*)),$$(BUILD)/lib$$(call part_dir,$$(call part_of,$$*)).a,) \
    $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit \
	    $(if $(call part_dir,$(call part_of,$*)),-I$(call part_dir,$(call part_of,$*)),) \
	    $(ALL_LDFLAGS) -o $@ $< \
	    $(if $(call part_dir,$(call part_of,$*)),$(BUILD)/lib$(call part_dir,$(call part_of,$*)).a,) \
	    $(COMMON_LIB) $(call lib_of,cmocka libseccomp) \
	    $(call part_libs,$(call part_of,$*))

unit: $(UNIT_BINS)

# the whole suite, built with test hooks, in build/test (or build/asan
# with SANITIZE=1)
check: lint-man
	$(MAKE) TESTHOOKS=1 all unit fuzz-replay client-windows
	$(MAKE) TESTHOOKS=1 run-tests

# sandboxed children cannot run LeakSanitizer (it needs ptrace at exit)
ifeq ($(SANITIZE),1)
TEST_ENV	:= ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
		   UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
endif

# the tests that read the firewall: run-tests runs them on iptables
# (PKS_TEST_FIREWALL's default, and every e2e test), then once more on
# nftables; t_nft.py and t_fault_iptables.py choose their own backend
FW_TESTS	:= $(addprefix tests/e2e/,t_fw_traffic.py t_knock_opens.py \
		   t_ipv6.py t_window_expiry.py t_sequence_refused.py \
		   t_two_users.py t_replay.py t_bound_address.py t_confinement.py \
		   t_fault_alloc.py t_fault_kill.py t_admin_expiry.py t_sweeps.py \
		   t_fw_observe.py)

# t_fault_kill: three cycles of kills at random moments in this pass, two
# in the nftables one: each victim is killed five times in all, as in one
# run of the script alone (its default, PKS_FAULT_CYCLES=5)
run-tests: unit fuzz-replay
	$(TEST_ENV) CMOCKA_MESSAGE_OUTPUT=TAP PKS_BUILD=$(abspath $(BUILD)) \
	    PKS_FAULT_CYCLES=3 \
	    prove -e '' $(PROVE_FLAGS) $(UNIT_BINS) $(E2E_TESTS)
	$(MAKE) run-tests-nftables

# only pks-fw's rules differ between the backends
run-tests-nftables:
	$(TEST_ENV) PKS_TEST_FIREWALL=nftables PKS_FAULT_CYCLES=2 \
	    PKS_BUILD=$(abspath $(BUILD)) \
	    prove -e '' $(PROVE_FLAGS) $(FW_TESTS)

# the chosen tests (default: every e2e test) N times, to flush out
# races: make check-repeat N=20 TESTS="tests/e2e/t_replay.py ..."
# prints how many runs of each passed and failed; the output of each
# failed run is kept in $(BUILD)/repeat/
N		?= 10
TESTS		?= $(E2E_TESTS)

check-repeat:
	$(MAKE) TESTHOOKS=1 all unit fuzz-replay client-windows
	$(MAKE) TESTHOOKS=1 run-repeat

run-repeat:
	$(TEST_ENV) CMOCKA_MESSAGE_OUTPUT=TAP PKS_BUILD=$(abspath $(BUILD)) \
	    sh tests/repeat.sh $(N) $(BUILD)/repeat $(TESTS)

check-asan:
	$(MAKE) SANITIZE=1 all unit fuzz-replay
	$(MAKE) SANITIZE=1 run-tests

lint-man:
	mandoc -Tlint -W warning doc/*.[158]

.PHONY: unit check run-tests run-tests-nftables check-repeat run-repeat check-asan lint-man
