# SPDX-License-Identifier: Apache-2.0
# bash completion for blocksnoop(8): its options, the doctor and agent
# subcommands, PIDs and thread ids, option values and files. Installed as
# share/bash-completion/completions/blocksnoop; needs nothing but bash.
#
# The options themselves come from the program's own --help (that of the
# subcommand being completed), read once per shell: an option added to
# --help completes with no change here. What an option's value is (a
# file, a directory, a PID, one of a few words) is known here, by name.

# The long and short options the --help of "$1 $2" lists (one per line):
# the leading words of its option lines, those that start with "-".
_blocksnoop_options()
{
	"$1" ${2:+"$2"} --help 2>/dev/null |
		sed -n 's/^ \{1,8\}\(-[^ ,]*\(, --[^ ]*\)\{0,1\}\).*/\1/p' |
		tr ',' '\n' | tr -d ' ' | sed -n 's/^\(-[-a-zA-Z0-9]*\).*/\1/p' | grep -vx -- --
}

# The numeric entries of a /proc directory: PIDs, or a process's threads.
_blocksnoop_ids()
{
	local d
	for d in "$1"/[0-9]*; do
		[[ -e $d ]] && printf '%s\n' "${d##*/}"
	done
}

_blocksnoop()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local sub="" pid="" i w cache

	COMPREPLY=()
	# The subcommand, the PID already given, and whether a "--" starts
	# a command before the word being completed.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ $w == -- && $sub != agent ]]; then
			if ((i == COMP_CWORD - 1)); then
				mapfile -t COMPREPLY < <(compgen -c -- "$cur")
			else
				mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			fi
			return 0
		fi
		if ((i == 1)) && [[ $w == doctor || $w == agent ]]; then
			sub=$w
		elif [[ $w =~ ^[0-9]+$ && ${COMP_WORDS[i-1]} != -* ]]; then
			pid=$w
		fi
	done

	case $prev in
	--log-file | --austin | --kubelet-token-file | --kubelet-ca-file | --folded | --speedscope)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		compopt -o filenames 2>/dev/null
		return 0 ;;
	--austin-root | --flame-dir)
		mapfile -t COMPREPLY < <(compgen -d -- "$cur")
		compopt -o filenames 2>/dev/null
		return 0 ;;
	--sampler)
		mapfile -t COMPREPLY < <(compgen -W 'builtin austin none' -- "$cur")
		return 0 ;;
	--fail-on)
		mapfile -t COMPREPLY < <(compgen -W 'none event error' -- "$cur")
		return 0 ;;
	--tid)
		# The threads of the PID given, else any process's.
		if [[ -n $pid && -d /proc/$pid/task ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$(_blocksnoop_ids "/proc/$pid/task")" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_blocksnoop_ids /proc)" -- "$cur")
		fi
		return 0 ;;
	esac
	# Any other option that takes a value (a number, a name, an address):
	# nothing to offer, and no option either.
	if [[ $prev == -* ]] && _blocksnoop_takes_value "$sub" "$prev"; then
		return 0
	fi

	if [[ $cur == -* ]]; then
		cache=_blocksnoop_opts_${sub:-main}
		if [[ -z ${!cache} ]]; then
			printf -v "$cache" '%s' "$(_blocksnoop_options "${COMP_WORDS[0]}" "$sub")"
		fi
		mapfile -t COMPREPLY < <(compgen -W "${!cache}" -- "$cur")
		return 0
	fi
	case $sub in
	agent)
		return 0 ;;
	doctor)
		[[ -z $pid ]] && mapfile -t COMPREPLY < <(compgen -W "$(_blocksnoop_ids /proc)" -- "$cur")
		return 0 ;;
	esac
	if [[ -z $pid ]]; then
		if ((COMP_CWORD == 1)); then
			mapfile -t COMPREPLY < <(compgen -W "doctor agent $(_blocksnoop_ids /proc)" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$(_blocksnoop_ids /proc)" -- "$cur")
		fi
	fi
	return 0
}

# Whether option $2 of subcommand $1 ("" for none) takes a value: its
# --help line names one after it ("--threshold MS").
_blocksnoop_takes_value()
{
	local cache=_blocksnoop_valued_${1:-main}
	if [[ -z ${!cache} ]]; then
		printf -v "$cache" ' %s ' "$("${COMP_WORDS[0]}" ${1:+"$1"} --help 2>/dev/null |
			sed -n 's/^ \{1,8\}\(-[a-zA-Z], \)\{0,1\}\(-[-a-zA-Z0-9]*\) [A-Z[a-z].*/\2/p' |
			tr '\n' ' ')"
		# The short forms of valued long options (-t).
		[[ ${!cache} == *" --threshold "* ]] && printf -v "$cache" '%s-t ' "${!cache}"
	fi
	[[ ${!cache} == *" $2 "* ]]
}

complete -F _blocksnoop blocksnoop
