# The job's place in the machine's ledger, when the process that started
# it (`sh job.sh spawned stdin`) took it and says so on standard input: `h
# SEQ DEVS`, it holds its share, and its command runs at once (the shell
# never reads the protocol after this); `w SEQ -`, it waits with that
# ticket (`lg_told`).

# DEVS: the job's devices, in its environment.
lg_export() {
	[ "$1" != - ] || set -- ''
	export LAUNCH_ACCELERATORS="$1"
	# KIND=VAR lists the host's index of each device of that kind; KIND#=VAR
	# numbers them from 0 instead.
	for lg_kv in $lg_kinds; do
		lg_k=${lg_kv%%=*} lg_list= lg_i=0
		IFS=,
		for lg_dv in $1; do
			case $lg_dv in
			"${lg_k%#}":*)
				case $lg_k in
				*'#') lg_dv=:$lg_i lg_i=$((lg_i + 1)) ;;
				esac
				lg_list="$lg_list${lg_list:+,}${lg_dv#*:}"
				;;
			esac
		done
		IFS=$lg_IFS
		export "${lg_kv#*=}=$lg_list"
	done
}

lg_told=
if [ "${how:-}" = stdin ] && read -r lg_k lg_seq lg_devs; then
	if [ "$lg_k" = h ]; then
		lg_IFS=$IFS
		set -f
		lg_export "$lg_devs"
		set +f
		run_job "$@"
	fi
	lg_told=1
fi
