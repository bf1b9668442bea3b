# make check-system: the Debian packages (make deb), lintian-clean,
# installed in a Debian 12 that systemd boots in a systemd-nspawn
# container (root file system cached in build/system/rootfs), and the
# admin's path walked there.  Needs root and tests/system/packages.txt.
check-system: lint-deb $(BUILD)/pks-knock
	PKS_BUILD=$(abspath $(BUILD)) prove -e '' $(PROVE_FLAGS) \
	    tests/system/check_system.py

.PHONY: check-system
