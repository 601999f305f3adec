# sluice: build, test, install. `make deps` installs what building and testing need
# (Debian packages); `make` builds ./sluice; `make check` runs unit and integration tests.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
COMPLETIONDIR ?= $(PREFIX)/share/bash-completion/completions
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR ?=

CC ?= cc
CLANG ?= clang
BPFTOOL ?= bpftool
PKG_CONFIG ?= pkg-config

VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
B := build

CFLAGS ?= -O2 -g
CFLAGS += -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wformat=2 -Wno-format-truncation \
	  -fno-strict-aliasing -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIE \
	  -fvisibility=hidden -D_GNU_SOURCE -DSLUICE_VERSION='"$(VERSION)"' -DSLUICE_PROFILE_DIR='"$(SYSCONFDIR)/sluice"' \
	  $(SRC_INC) -I$(B) -MMD -MP
LDFLAGS ?=
LDFLAGS += -pie -Wl,-z,relro,-z,now
LIBS := -lmnl -lseccomp -lnftnl -lbpf -lcap -lyaml -lsodium -lsystemd -lelf -lz

SAN_CFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
	      -fno-sanitize-recover=all

ifeq ($(V),1)
Q :=
else
Q := @
endif

# src/cli (main, the subcommands, the options) over the library in src/lib, libsluice.a,
# which never prints, exits or touches stdout/stderr (`make lib-boundary` checks its
# objects). The library's folders follow the data flow: base (util, log, text) -> policy
# (addresses, options' policy, profiles, wg-quick) -> plan (facts, the plan) -> apply (the
# cage's sequence, namespaces, records, gc) through kernel (rtnetlink, nftables, eBPF,
# cgroups, capabilities, seccomp, Landlock, WireGuard) -> serve (the supervisor's loop, the
# relay, DNS stub, SOCKS5, unix broker). Objects stay flat in build/.
SRC_DIRS := src/cli $(sort $(wildcard src/lib/*))
SRC_INC := -Iinclude $(addprefix -I,$(SRC_DIRS))
vpath %.c $(SRC_DIRS)
CLI_SRC := $(wildcard src/cli/*.c)
LIB_SRC := $(wildcard src/lib/*/*.c)
LIB_A := $(B)/libsluice.a
LIB_OBJ := $(addprefix $(B)/,$(notdir $(LIB_SRC:.c=.o)))
CLI_OBJ := $(addprefix $(B)/,$(notdir $(CLI_SRC:.c=.o)))
SAN_OBJ := $(addprefix $(B)/san/,$(notdir $(LIB_SRC:.c=.o)))
BPF_SRC := $(wildcard bpf/*.bpf.c)
SKELS := $(BPF_SRC:bpf/%.bpf.c=$(B)/%.skel.h) $(BPF_SRC:bpf/%.bpf.c=$(B)/%.build.h) \
	$(B)/profiles.builtin.h
PROFILES := $(sort $(wildcard profiles/*.yaml))
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_LIB := tests/unit/hookworld.c tests/unit/nlassert.c
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TOOLS := $(B)/tests/probe $(B)/tests/escape

.PHONY: all deps check unit integration system package bench demo fuzz install uninstall clean \
	format lint deb \
	lib-boundary
.DELETE_ON_ERROR:
# Keep the sanitizer objects and BPF objects between runs (they are intermediates).
.SECONDARY:

all: sluice $(TOOLS)

$(LIB_A): $(LIB_OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && ar rcs $@ $^

sluice: $(CLI_OBJ) $(LIB_A)
	@echo "  LD      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(CLI_OBJ) $(LIB_A) $(LIBS)

# What the library's objects call, checked: nothing that prints, exits or names a standard
# stream (the fortified *_chk forms too). The children it forks end with _exit, allowed.
LIB_FORBIDDEN := printf puts putchar putc fputs fputc fwrite fprintf vprintf vfprintf dprintf \
	vdprintf perror exit stdout stderr
lib-boundary: $(LIB_A)
	@bad=$$(nm -A -u $(LIB_A) | awk -v f="$(LIB_FORBIDDEN)" \
		'BEGIN { n = split(f, w, " "); for (i = 1; i <= n; i++) { x[w[i]]; x["__" w[i] "_chk"] } } \
		 $$NF in x { print $$1, $$NF }'); \
	if [ -n "$$bad" ]; then echo "the library prints or exits:"; echo "$$bad"; exit 1; fi; \
	echo "lib-boundary: libsluice.a neither prints nor exits"


$(B)/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	$(Q)$(CC) $(CFLAGS) -c -o $@ $<

$(B)/san/%.o: %.c | $(SKELS)
	@mkdir -p $(@D)
	@echo "  CC-SAN  $<"
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) -c -o $@ $<

# BPF: vmlinux.h from the running kernel's BTF, CO-RE objects, skeletons embedded in sluice.
$(B)/vmlinux.h:
	@mkdir -p $(@D)
	@echo "  BTF     $@"
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@

$(B)/%.bpf.o: bpf/%.bpf.c $(B)/vmlinux.h
	@echo "  BPF     $<"
	$(Q)$(CLANG) -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_x86 -I$(B) -Ibpf \
		-c $< -o $@

$(B)/%.skel.h: $(B)/%.bpf.o
	@echo "  SKEL    $@"
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# The shipped profiles, built in: --profile NAME finds them from any directory (./profiles
# and /etc/sluice still come first). Each file becomes {"NAME", "its text"}.
$(B)/profiles.builtin.h: $(PROFILES)
	@mkdir -p $(@D)
	@echo "  GEN     $@"
	$(Q)for f in $(PROFILES); do n=$${f##*/}; printf '{"%s",\n' "$${n%.yaml}"; \
		sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/"/' -e 's/$$/\\n"/' "$$f"; \
		printf '},\n'; done > $@

# A build id for each object (its hash): the loader stamps it into the programs it leaves
# attached, and replaces programs of another build rather than guess their maps.
$(B)/%.build.h: $(B)/%.bpf.o
	@echo "  BUILDID $@"
	$(Q)printf '#define %s_BPF_BUILD 0x%sULL\n' "$$(echo $* | tr a-z A-Z)" \
		"$$(sha256sum $< | cut -c1-16)" > $@

$(B)/tests/test_%: tests/unit/test_%.c $(UNIT_LIB) $(UNIT_LIB:.c=.h) $(SAN_OBJ)
	@mkdir -p $(@D)
	@echo "  TEST    $@"
	$(Q)$(CC) $(CFLAGS) $(SAN_CFLAGS) -o $@ $< $(UNIT_LIB) $(SAN_OBJ) $(LIBS) -lcmocka

$(B)/tests/probe: tests/lib/probe.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lcap

$(B)/tests/escape: tests/lib/escape.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $< -lpthread

# libFuzzer harnesses for the parsers of untrusted input; FUZZ_SECONDS each.
FUZZ_SECONDS ?= 60
FUZZ_BIN := $(patsubst tests/fuzz/%.c,$(B)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
# The parsers are pure: each harness links them all (and nothing that touches the kernel).
FUZZ_SRC := $(addprefix src/lib/,policy/addr.c policy/policy.c policy/profile.c \
	    policy/wgconf.c base/log.c base/util.c base/text.c serve/dns.c serve/dns_wire.c \
	    serve/socks5.c serve/httphead.c \
	    serve/loop.c serve/broker.c serve/unixpath.c serve/control.c kernel/nl.c)
# fuzz_wgconf includes wgconf.c itself (for its static helpers)
$(B)/fuzz/fuzz_wgconf: FUZZ_SRC := $(filter-out %/wgconf.c,$(FUZZ_SRC))
$(B)/fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRC) $(B)/profiles.builtin.h
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE $(SRC_INC) -I$(B) -o $@ $< $(FUZZ_SRC) -lyaml \
		-lmnl -lseccomp -lcap -lsodium -lpthread

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do mkdir -p $(B)/corpus/$${f##*/}; \
		$$f -max_total_time=$(FUZZ_SECONDS) $(B)/corpus/$${f##*/}; done

deps:
	sh contrib/deps.sh

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

integration: sluice $(TOOLS)
	sh tests/integration/run.sh

# Installs what it needs first: a fresh machine has none of it.
check:
	sh contrib/deps.sh
	$(MAKE) lib-boundary unit integration system package

# The units under a real systemd (a container booted from this machine's OS), and the
# Debian package installed and removed.
system: sluice
	sh tests/system/systemd.test.sh

package:
	sh tests/package/deb.sh

demo: sluice
	sh contrib/demo.sh

$(B)/bench/tcpblast: bench/tcpblast.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $<

$(B)/bench/unixcost: bench/unixcost.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $<

$(B)/bench/hookcost: bench/hookcost.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) -o $@ $<

# The least program doing a link-none cage's kernel work, linked to libc alone and, as
# sluice is, to sluice's libraries too (kept though unused, to measure loading them).
$(B)/bench/floor: bench/floor.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $<

$(B)/bench/floor-libs: bench/floor.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $< -Wl,--no-as-needed $(LIBS)

bench: sluice $(TOOLS) $(B)/bench/tcpblast $(B)/bench/hookcost $(B)/bench/unixcost $(B)/bench/floor $(B)/bench/floor-libs
	sh bench/run.sh

install: sluice
	install -Dm755 sluice $(DESTDIR)$(BINDIR)/sluice
	install -Dm644 $(LIB_A) $(DESTDIR)$(PREFIX)/lib/libsluice.a
	install -Dm644 include/sluice.h $(DESTDIR)$(PREFIX)/include/sluice.h
	install -Dm644 man/sluice.1 $(DESTDIR)$(MANDIR)/man1/sluice.1
	install -Dm644 man/sluice.yaml.5 $(DESTDIR)$(MANDIR)/man5/sluice.yaml.5
	install -d $(DESTDIR)$(SYSCONFDIR)/sluice
	for p in profiles/*.yaml; do install -m644 $$p $(DESTDIR)$(SYSCONFDIR)/sluice/; done
	install -Dm644 contrib/completion/sluice.bash \
		$(DESTDIR)$(COMPLETIONDIR)/sluice
	install -d $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions
	sed 's|/usr/share/bash-completion/completions/sluice|$(COMPLETIONDIR)/sluice|' \
		contrib/completion/_sluice >$(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_sluice
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	for u in contrib/systemd/*.in; do \
		sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' $$u \
			>$(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in) && \
		chmod 644 $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in); done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sluice $(DESTDIR)$(MANDIR)/man1/sluice.1 \
		$(DESTDIR)$(MANDIR)/man5/sluice.yaml.5 \
		$(DESTDIR)$(PREFIX)/lib/libsluice.a $(DESTDIR)$(PREFIX)/include/sluice.h \
		$(DESTDIR)$(COMPLETIONDIR)/sluice $(DESTDIR)$(PREFIX)/share/zsh/vendor-completions/_sluice
	for u in contrib/systemd/*.in; do rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$$(basename $$u .in); done

# The Debian package, built by dpkg-buildpackage from a copy of the tracked files in
# build/deb (so neither ./build nor anything outside the tree is touched): build/deb/
# sluice_VERSION_amd64.deb, copied to build/. Installs what packaging needs first.
DEB := $(B)/sluice_$(VERSION)_amd64.deb
deb:
	sh contrib/deps.sh deb
	@test "$$(dpkg-parsechangelog -l debian/changelog -S Version)" = "$(VERSION)" || \
		{ echo "debian/changelog's version is not VERSION ($(VERSION))" >&2; exit 1; }
	rm -rf $(B)/deb && mkdir -p $(B)/deb/sluice-$(VERSION)
	if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		git ls-files -z | xargs -0 cp --parents -t $(B)/deb/sluice-$(VERSION); \
	else \
		tar --exclude=./build --exclude=./sluice -cf - . | tar -xf - -C $(B)/deb/sluice-$(VERSION); \
	fi
	cd $(B)/deb/sluice-$(VERSION) && dpkg-buildpackage -us -uc -b
	cp $(B)/deb/sluice_$(VERSION)_amd64.deb $(DEB)
	lintian --fail-on error $(DEB)
	@echo "deb: $(DEB)"

format:
	clang-format -i include/*.h src/*/*.[ch] src/lib/*/*.[ch] bpf/*.c tests/unit/*.c tests/lib/*.c

lint: $(SKELS)
	clang-tidy src/cli/*.c src/lib/*/*.c -- $(CFLAGS)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance $(SRC_INC) -I$(B) src

clean:
	rm -rf $(B) sluice

# A build made before the sources moved into folders has dependency files naming src/X.c:
# those are out of date, not missing (the objects are rebuilt from where the sources are).
src/%.c: ;

-include $(wildcard $(B)/*.d $(B)/san/*.d $(B)/tests/*.d)
