# cli.test.sh: `sluice check` prints the plan and creates nothing; bad input is exit 125 with
# file:line:column, before anything is made.

TESTS="$TESTS check_prints_plan"
test_check_prints_plan()
{
	[ -f profiles/agent.yaml ] || fail "profiles/agent.yaml is missing"
	base=$(counts)
	OUT=$T/out/check.out
	ERR=$T/out/check.err
	sluice_w check --profile profiles/agent.yaml >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] || fail "check --profile profiles/agent.yaml: $(said)"
	grep -q 'table inet sluice' "$OUT" || fail "no 'table inet sluice' in the plan: $(said)"
	sluice_w check --link veth --proxy "$PROXY_URL" --name plantest >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 0 ] || fail "check --link veth --proxy: $(said)"
	grep -q 'table inet sluice_plantest' "$OUT" || fail "no 'table inet sluice_plantest': $(said)"
	# what the plan says of this proxy, in every part that names it
	hp=${PROXY_URL#*://}
	ip=${hp%:*}
	port=${hp##*:}
	port=${port%/}
	grep -q "^  link       veth sl-[0-9a-f]* (host) .* <-> eth0 (cage)" "$OUT" ||
		fail "no veth link line: $(said)"
	grep -qF "allowed    tcp $ip:$port (proxy)" "$OUT" || fail "no allowed line for $ip:$port: $(said)"
	sed -n '/^table inet sluice {/,/^}/p' "$OUT" | sed -n '/chain output/,/}/p' >"$T/out/chain"
	grep -q 'policy drop;' "$T/out/chain" || fail "the cage's output chain does not drop: $(cat "$T/out/chain")"
	grep -qF "ip daddr $ip tcp dport $port accept" "$T/out/chain" ||
		fail "the cage's output chain does not accept the proxy $ip:$port alone: $(cat "$T/out/chain")"
	[ "$(grep -c ' accept$' "$T/out/chain")" = 3 ] ||
		fail "the output chain accepts more than lo, established and the proxy: $(cat "$T/out/chain")"
	grep -qF "http_proxy=$PROXY_URL" "$OUT" || fail "no http_proxy in the env: $(said)"
	grep -q 'seccomp: denied (EPERM): .*keyctl' "$OUT" || fail "no seccomp denylist: $(said)"
	same_counts "$base" "sluice check"
}

TESTS="$TESTS bad_profile_errors"
test_bad_profile_errors()
{
	base=$(counts)
	bad=$T/out/bad.yaml
	cat >"$bad" <<-EOF
	# a profile whose third line has a key sluice does not know
	# (the lines above and below are fine)
	frobnicate: yes
	EOF
	OUT=$T/out/bad.out
	ERR=$T/out/bad.err
	for verb in check run; do
		if [ $verb = run ]; then
			sluice_w run --profile "$bad" --user root -- /bin/true >"$OUT" 2>"$ERR"
		else
			sluice_w check --profile "$bad" >"$OUT" 2>"$ERR"
		fi
		RC=$?
		[ "$RC" = 125 ] || fail "$verb with an unknown key: $(said)"
		grep -q 'bad\.yaml:3:' "$ERR" || fail "$verb: no 'bad.yaml:3:' in stderr: $(said)"
	done
	sluice_w run --link veth --proxy "not a url at all" --user root -- /bin/true >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] || fail "a bad --proxy: $(said)"
	sluice_w run --link veth --proxy "$PROXY_URL" -- /bin/true >"$OUT" 2>"$ERR"
	RC=$?
	[ "$RC" = 125 ] || fail "running as root without --user root must be refused: $(said)"
	same_counts "$base" "bad input"
}
