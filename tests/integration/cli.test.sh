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
