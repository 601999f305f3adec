# privilege.test.sh: a cage's processes hold no capabilities and cannot undo their confinement.

TESTS="$TESTS no_capabilities"
test_no_capabilities()
{
	for user in root nobody; do
		cage $user -- "$PROBE" caps
		[ "$RC" = 0 ] || fail "--user $user: capabilities left: $(said)"
		grep -q '^ok eff=0 prm=0 inh=0 bnd=0 amb=0$' "$OUT" || fail "--user $user: $(said)"
	done
}

TESTS="$TESTS nft_flush_fails"
test_nft_flush_fails()
{
	cage root -- /bin/sh -c '
		/usr/sbin/nft flush ruleset
		echo "flush $?"
		/usr/sbin/nft add table inet sluice_escape
		echo "add $?"
		printf "tcp "
		$1 connect tcp $2 80' sh "$PROBE" $NET_IP
	grep -q '^flush [0-9]' "$OUT" || fail "the cage did not run nft: $(said)"
	grep -q '^flush 0$' "$OUT" && fail "nft flush ruleset succeeded in the cage"
	grep -q '^add 0$' "$OUT" && fail "nft add table succeeded in the cage"
	denied tcp
}

TESTS="$TESTS cgroup_escape_fails"
test_cgroup_escape_fails()
{
	# Try the cgroup2 root as the cage sees it in its mountinfo, and the host's path.
	cage root -- /bin/sh -c '
		PATH=/usr/sbin:/usr/bin:/sbin:/bin
		cg=$(awk "{ for (i = 7; i <= NF; i++) if (\$i == \"-\") break;
			    if (\$(i + 1) == \"cgroup2\") { print \$5; exit } }" /proc/self/mountinfo)
		for root in "$cg" "$2"; do
			[ -n "$root" ] && [ -e "$root/cgroup.procs" ] || continue
			if echo $$ >"$root/cgroup.procs"; then
				echo "moved $root"
			else
				echo "refused $root"
			fi
		done
		printf "tcp "
		$1 connect tcp $3 80' sh "$PROBE" "$CG2" $NET_IP
	# No cgroup.procs visible at all is fine too (nothing to write to); the cage must have run.
	grep -q '^tcp ' "$OUT" || fail "the cage did not run the script: $(said)"
	grep -q '^moved ' "$OUT" && fail "a cage process moved itself: $(grep '^moved ' "$OUT")"
	denied tcp
}

TESTS="$TESTS cage_user_nobody_is_confined"
test_cage_user_nobody_is_confined()
{
	probes nobody "tcp connect tcp $NET_IP 80" "proxy connect tcp $WORLD_IP $PROXY_PORT"
	allowed proxy
	[ "$(verdict tcp)" = EPERM ] || fail "expected EPERM: $(grep '^tcp ' "$OUT")"
}

TESTS="$TESTS supplementary_groups_are_the_users"
test_supplementary_groups_are_the_users()
{
	# A user in a second group: the cage's process has exactly the groups the host lists.
	grp=sltestg$$
	groupadd "$grp" && usermod -aG "$grp" nobody || fail "cannot add a test group"
	gid=$(getent group "$grp" | cut -d: -f3)
	want=$(id -G nobody | tr ' ' '\n' | sort -n | tr '\n' ' ')
	cage nobody -- /bin/sh -c 'id -G'
	got=$(tr ' ' '\n' <"$OUT" | grep . | sort -n | tr '\n' ' ')
	gpasswd -d nobody "$grp" >/dev/null
	groupdel "$grp"
	[ "$RC" = 0 ] || fail "id -G failed: $(said)"
	case " $want" in *" $gid "*) ;; *) fail "nobody is not in $grp ($gid): $want" ;; esac
	[ "$got" = "$want" ] || fail "groups in the cage: '$got', expected '$want'"

	# Run as the user who started sluice, the command keeps that user's groups as they are
	# (here root's, plus two it was given), as any command it starts would.
	next_name
	got=$(setpriv --groups 0,4,24 timeout 30 nsenter --net=/run/netns/$W "$SLUICE" run \
		--name "$NAME" --user root -- /bin/sh -c 'id -G' 2>&1 | tr ' ' '\n' | sort -n |
		tr '\n' ' ')
	[ "$got" = "0 4 24 " ] || fail "root's groups in the cage: '$got', expected '0 4 24 '"
}
