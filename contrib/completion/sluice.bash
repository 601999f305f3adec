# bash completion for sluice(1): subcommands, options (read from `sluice run --help`), profile
# names (./profiles, /etc/sluice and the built-in ones), cage names (exec, down) and files.
# Installed as /usr/share/bash-completion/completions/sluice; zsh loads it through
# bashcompinit (contrib/completion/_sluice).

_sluice_profiles()
{
	local f names=
	for f in ./profiles/*.yaml /etc/sluice/*.yaml; do
		[ -e "$f" ] || continue
		f=${f##*/}
		names="$names ${f%.yaml}"
	done
	# sluice names its built-in profiles when asked for one it does not have
	names="$names $(command sluice check --profile ' ' -- true 2>&1 |
		sed -n 's/.*the built-in ones are \([^)]*\)).*/\1/p' | tr -d ,)"
	printf '%s\n' $names | sort -u
}

_sluice_cages()
{
	local f
	for f in /run/sluice/*; do
		[ -e "$f" ] || continue
		f=${f##*/}
		case $f in .*) continue ;; esac
		printf '%s\n' "$f"
	done
}

_sluice()
{
	local cur prev sub i
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}
	sub=${COMP_WORDS[1]}
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "run up exec down ls check gc maddr --help --version" -- "$cur"))
		return
	fi
	# after --, the command and its arguments
	for ((i = 2; i < COMP_CWORD; i++)); do
		if [ "${COMP_WORDS[i]}" = "--" ]; then
			COMPREPLY=($(compgen -c -- "$cur"))
			[ "$i" -lt $((COMP_CWORD - 1)) ] && COMPREPLY=($(compgen -f -- "$cur"))
			return
		fi
	done
	case $prev in
	-p | --profile)
		COMPREPLY=($(compgen -W "$(_sluice_profiles)" -- "$cur") $(compgen -f -X '!*.y*ml' -- "$cur"))
		return ;;
	--link) COMPREPLY=($(compgen -W "none veth wireguard" -- "$cur")); return ;;
	--wg-backend) COMPREPLY=($(compgen -W "auto kernel userspace" -- "$cur")); return ;;
	--unix) COMPREPLY=($(compgen -W "auto strict" -- "$cur")); return ;;
	--seccomp) COMPREPLY=($(compgen -W "default off" -- "$cur")); return ;;
	--check-targets) COMPREPLY=($(compgen -W "warn require off" -- "$cur")); return ;;
	-u | --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
	--wg-config | --audit | --learn | --env-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-e | --env) COMPREPLY=($(compgen -v -- "$cur")); return ;;
	esac
	case $sub in
	exec | down)
		if [ "$COMP_CWORD" -eq 2 ]; then
			COMPREPLY=($(compgen -W "$(_sluice_cages)" -- "$cur"))
			return
		fi ;;
	ls) COMPREPLY=($(compgen -W "--json --help" -- "$cur")); return ;;
	gc) COMPREPLY=($(compgen -W "--unload --help $(_sluice_cages)" -- "$cur")); return ;;
	maddr) [ "$COMP_CWORD" -eq 2 ] && COMPREPLY=($(compgen -W "parse key verify" -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$(command sluice "$sub" --help 2>/dev/null |
			grep -o -- '--[a-z][a-z-]*' | sort -u) --" -- "$cur"))
	fi
}
complete -F _sluice sluice
