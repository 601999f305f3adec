#!/bin/sh
# systemd.test.sh: sluice@.service and sluice@.socket under a real systemd: PID 1 of a
# container booted from this machine's own OS (systemd-nspawn --volatile=yes --directory=/,
# its network private: nothing it does leaves this machine). Run as root from anywhere:
#
#   sh tests/system/systemd.test.sh
#
# Checks: start returns after READY; status shows sluice's STATUS; the cage's cgroup is below
# the unit's; the command reaches only its proxy (whose credentials the profile holds), and
# its denial is in the journal with fields of its own; stop and a kill -9 of the supervisor
# leave nothing; socket activation delivers a connection to a caged service; a unit without
# a profile fails and says why.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
M=sluice-systest-$$
LOG=$(mktemp /tmp/sluice-systest.XXXXXX)
NSPAWN=
FAILS=0
PASSES=0

say() { printf '%s\n' "$*"; }
ok() { PASSES=$((PASSES + 1)); say "ok $1"; }
bad() { FAILS=$((FAILS + 1)); say "FAIL $1"; }
# inside CMD...: run CMD in the container (all its namespaces), bounded.
inside() { timeout 60 nsenter -t "$PID1" -a "$@"; }

stop_container() {
	[ -n "$NSPAWN" ] || return 0
	kill "$NSPAWN" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$NSPAWN" 2>/dev/null || break; sleep 0.1; done
	kill -9 "$NSPAWN" 2>/dev/null
	NSPAWN=
}
trap 'stop_container; rm -f "$LOG"' EXIT INT TERM

[ "$(id -u)" = 0 ] || { say "systemd.test.sh: needs root"; exit 1; }
command -v systemd-nspawn >/dev/null || { say "systemd.test.sh: no systemd-nspawn (apt-get install systemd-container)"; exit 1; }
[ -x "$ROOT/sluice" ] || { say "systemd.test.sh: build ./sluice first (make)"; exit 1; }

# --register=no --keep-unit: no machined here; --capability and --system-call-filter give
# the container's root what sluice needs (eBPF, pidfd_getfd, mounts for the cage).
setsid systemd-nspawn --register=no --keep-unit --private-network --volatile=yes --directory=/ \
	--bind-ro="$ROOT" --capability=all \
	--system-call-filter="bpf perf_event_open pidfd_getfd process_vm_readv process_vm_writev kcmp @mount" \
	--console=pipe -M "$M" --boot systemd.firstboot=off </dev/null >"$LOG" 2>&1 &
NSPAWN=$!
PID1=
for _ in $(seq 100); do
	PID1=$(pgrep -P "$NSPAWN" | head -1)
	[ -n "$PID1" ] && [ "$(cat /proc/$PID1/comm 2>/dev/null)" = systemd ] && break
	sleep 0.1
done
[ -n "$PID1" ] || { say "the container did not boot: $(tail -5 "$LOG")"; exit 1; }
state=
for _ in $(seq 100); do
	state=$(inside systemctl is-system-running --wait 2>/dev/null) && break
	case $state in running | degraded) break ;; esac
	sleep 0.1
done
case $state in
running | degraded) ;;
*) say "the container's systemd is $state"; exit 1 ;;
esac
say "# systemd $(inside systemctl --version | sed -n '1s/systemd \([0-9]*\).*/\1/p') is PID 1 of container $M ($state)"

# The world inside: lo, a proxy that wants credentials, a web target, a service the cage must
# not reach; the units from the tree (its binary), the profiles.
inside sh -eu -c '
	ip link set lo up
	mkdir -p /var/tmp/st/www /etc/sluice /etc/systemd/system/sluice@web.socket.d
	chmod 1777 /var/tmp/st
	echo hello-web >/var/tmp/st/www/index.html
	printf "Port 18888\nListen 127.0.0.1\nBasicAuth alice pw-s3cr3t\nLogFile \"/var/tmp/st/tp.log\"\n" >/var/tmp/st/tp.conf
	systemd-run -q --unit=st-proxy tinyproxy -d -c /var/tmp/st/tp.conf
	systemd-run -q --unit=st-web python3 -m http.server 18081 --bind 127.0.0.1 --directory /var/tmp/st/www
	systemd-run -q --unit=st-forbidden sh -c "exec python3 -m http.server 18082 --bind 127.0.0.1 2>/var/tmp/st/forbidden.log"
	for u in "$0"/contrib/systemd/*.in; do
		sed -e "s|@BINDIR@|$0|g" -e "s|@SYSCONFDIR@|/etc|g" "$u" >/etc/systemd/system/$(basename "$u" .in)
	done
	cat >/var/tmp/st/agent.sh <<-EOS
	#!/bin/sh
	curl -s -m 5 --noproxy "" http://127.0.0.1:18081/ >/var/tmp/st/web.out 2>&1
	curl -s -m 2 --noproxy "*" http://127.0.0.1:18082/ >/var/tmp/st/direct.out 2>&1; echo "rc=\$?" >>/var/tmp/st/direct.out
	curl -s -m 2 --noproxy "*" http://192.0.2.1:80/ >/dev/null 2>&1
	exec sleep 1000
	EOS
	cat >/var/tmp/st/act.py <<-EOS
	import os, socket
	lst = socket.socket(fileno=3)
	while True:
	    c, _ = lst.accept()
	    c.sendall(b"hello from the cage %s %d\n" % (os.environ["LISTEN_FDS"].encode(), os.getpid()))
	    c.close()
	EOS
	chmod 755 /var/tmp/st/agent.sh
	printf "proxy: http://alice:pw-s3cr3t@127.0.0.1:18888\nuser: nobody\ncommand: [/var/tmp/st/agent.sh]\n" >/etc/sluice/agent.yaml
	printf "user: nobody\ncommand: [python3, /var/tmp/st/act.py]\n" >/etc/sluice/web.yaml
	chmod 600 /etc/sluice/agent.yaml
	printf "[Socket]\nListenStream=127.0.0.1:18090\n" >/etc/systemd/system/sluice@web.socket.d/listen.conf
	systemctl daemon-reload
' "$ROOT" || { say "setting up the container failed"; exit 1; }

# What a cage leaves, as the container sees it: records, netns binds, sluice's cgroups below
# system.slice, nftables tables, links.
counts() {
	inside sh -c '
		cg=$(grep -m1 " - cgroup2 " /proc/self/mountinfo | cut -d" " -f5)
		printf "records=%s netns=%s cgroups=%s tables=%s links=%s" \
			"$(ls -A /run/sluice 2>/dev/null | grep -v "^\.lock$" | wc -l)" \
			"$(ls -A /run/netns 2>/dev/null | wc -l)" \
			"$(find "$cg/system.slice" -name "sluice*" -path "*sluice@*" -type d 2>/dev/null | wc -l)" \
			"$(nft list tables 2>/dev/null | wc -l)" "$(ip -o link | wc -l)"'
}
journal() { inside journalctl -u "$1" --no-pager -o cat -n 30; }
base=$(counts)

# 1. start returns after READY: the command runs by then
inside systemctl start sluice@agent
st=$(inside systemctl show -p ActiveState,SubState --value sluice@agent | tr '\n' ' ')
cg=$(inside sh -c 'grep -m1 " - cgroup2 " /proc/self/mountinfo | cut -d" " -f5')
procs=$(inside sh -c "cat '$cg/system.slice/system-sluice.slice/sluice@agent.service/sluice/agent/cgroup.procs' 2>/dev/null | wc -l")
if [ "$st" = "active running " ] && [ "$procs" -ge 2 ]; then
	ok "start returns after READY: $st, $procs processes in the cage's cgroup"
else
	bad "start: state '$st', $procs processes in the cage's cgroup: $(journal sluice@agent)"
fi

# 2. status shows the STATUS line
status=$(inside systemctl show -p StatusText --value sluice@agent)
case $status in
"cage agent, link none, reaches: "*) ok "status: $status" ;;
*) bad "StatusText '$status'" ;;
esac
inside systemctl status sluice@agent --no-pager 2>/dev/null | grep -q "Status: \"cage agent" ||
	bad "systemctl status does not show it"

# 3. the cage's cgroup is below the unit's delegated one
if inside test -d "$cg/system.slice/system-sluice.slice/sluice@agent.service/sluice/agent"; then
	ok "the cage's cgroup: system.slice/system-sluice.slice/sluice@agent.service/sluice/agent"
else
	bad "no cage cgroup below the unit: $(inside find "$cg/system.slice" -name 'sluice*')"
fi

# 4. only the proxy: the web target through it (with the profile's credentials), nothing
# else; the forbidden service's own log saw no request; the denial in the journal, with fields
for _ in $(seq 50); do inside test -s /var/tmp/st/direct.out && break; sleep 0.1; done
sleep 1
if inside grep -qx hello-web /var/tmp/st/web.out; then
	ok "the caged command fetched through its proxy (credentials added by the supervisor)"
else
	bad "not fetched through the proxy: $(inside cat /var/tmp/st/web.out) $(journal sluice@agent)"
fi
if inside grep -q "GET" /var/tmp/st/forbidden.log; then
	bad "the forbidden service was reached: $(inside cat /var/tmp/st/forbidden.log)"
elif inside grep -q "^rc=0" /var/tmp/st/direct.out; then
	bad "a direct connect succeeded: $(inside cat /var/tmp/st/direct.out)"
else
	ok "nothing but the proxy reached: the forbidden service saw no request"
fi
if journal sluice@agent | grep -q "refused curl\[[0-9]*\] connect 192.0.2.1:80/tcp" &&
	inside journalctl SLUICE_CAGE=agent SLUICE_LAYER=ip_hooks SLUICE_DESTINATION=192.0.2.1 -o cat --no-pager | grep -q refused; then
	ok "the denial is in the journal, with SLUICE_CAGE, SLUICE_LAYER, SLUICE_DESTINATION"
else
	bad "no denial in the journal: $(journal sluice@agent)"
fi
if inside sh -c 'for p in $(cat '"'$cg/system.slice/system-sluice.slice/sluice@agent.service/sluice/agent/cgroup.procs'"'); do tr "\0" "\n" </proc/$p/cmdline; tr "\0" "\n" </proc/$p/environ; done' | grep -q pw-s3cr3t; then
	bad "the proxy's password is in a caged process's command line or environment"
else
	ok "the proxy's password is in no caged process's command line or environment"
fi

# 5. stop leaves nothing
inside systemctl stop sluice@agent
now=$(counts)
if [ "$now" = "$base" ] && [ "$(inside systemctl show -p ActiveState --value sluice@agent)" = inactive ]; then
	ok "stop leaves nothing ($now)"
else
	bad "stop: before [$base] after [$now], $(inside systemctl show -p ActiveState,Result sluice@agent | tr '\n' ' ')"
fi

# 6. so does a kill -9 of the supervisor (the unit's cgroup goes, ExecStopPost runs gc NAME)
inside systemctl start sluice@agent
main=$(inside systemctl show -p MainPID --value sluice@agent)
inside kill -9 "$main"
for _ in $(seq 100); do
	case $(inside systemctl show -p ActiveState --value sluice@agent) in
	failed | inactive) break ;;
	esac
	sleep 0.1
done
now=$(counts)
if [ "$now" = "$base" ] && journal sluice@agent | grep -q "removed cage agent"; then
	ok "kill -9 of the supervisor leaves nothing ($now; ExecStopPost: removed cage agent)"
else
	bad "kill -9: before [$base] after [$now]: $(journal sluice@agent)"
fi
inside systemctl reset-failed sluice@agent 2>/dev/null

# 7. socket activation: the first connection starts sluice@web, whose caged command accepts
inside systemctl start sluice@web.socket
got=$(inside timeout 20 python3 -c '
import socket
s = socket.create_connection(("127.0.0.1", 18090), timeout=15)
print(s.makefile().readline().strip())')
case $got in
"hello from the cage 1 "*)
	if [ "$(inside systemctl show -p ActiveState --value sluice@web)" = active ]; then
		ok "socket activation: '$got' (sluice@web started by the connection)"
	else
		bad "sluice@web is not active after the connection"
	fi ;;
*) bad "socket activation: got '$got': $(journal sluice@web)" ;;
esac
inside systemctl stop sluice@web.socket sluice@web
now=$(counts)
[ "$now" = "$base" ] && ok "stopping the socket and the service leaves nothing" ||
	bad "socket activation: before [$base] after [$now]"

# 8. a unit without a profile fails, and says why
if inside systemctl start sluice@nosuch 2>/dev/null; then
	bad "sluice@nosuch started"
elif journal sluice@nosuch | grep -q "sluice: .*nosuch.yaml"; then
	ok "sluice@nosuch fails: $(journal sluice@nosuch | grep -m1 'sluice: ')"
else
	bad "sluice@nosuch: no reason in the journal: $(journal sluice@nosuch)"
fi
inside systemctl reset-failed 2>/dev/null

stop_container
say "$PASSES passed, $FAILS failed"
[ "$FAILS" = 0 ]
