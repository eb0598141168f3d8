# The machine's ledger (launch's direct launcher, ledger format 1): what
# every job of this machine holds and who waits for what, in order, shared
# by every process that runs jobs here. It is one file, `$L/ledger`,
# replaced only by the holder of the lock: the lock is the file
# `$L/ledger.lock`, created exclusively (`set -C`), whose first line names
# its owner and into which the owner writes the new ledger; renaming it to
# `ledger` commits and unlocks at once. A line per job:
#   next N                                                   the next ticket
#   x SEQ...                                   purged jobs whose files stay
#   h SEQ PID START BOOT CORES MEM TOKENS DEVS               a holder
#   w SEQ PID START BOOT CORES MEM CAPC CAPM TOKENS PLAN LIMIT OVER   a waiter
# PID START BOOT: the job's supervisor (START is field 22 of /proc/PID/stat,
# BOOT the boot id, `=` for that of the line `boot ID`); MEM in KiB; CAPC CAPM the job's own host's cores and
# memory (0: unknown, no limit); TOKENS `-` or `name=K/COUNT,...`; DEVS
# `-` or `cuda:0,...`; PLAN the devices that may serve the job: `|`
# between alternatives, `;` between groups, a group `K/dev,dev,...` (any
# K of those); LIMIT how many later jobs may start before the waiter, OVER
# how many did. A job whose supervisor and command are gone (or are of an
# earlier boot) is purged under the lock, so a share comes back however
# its job ended. `d.SEQ` names a job's directory (whose `pid` file names
# its command); `w.SEQ` is a waiter's FIFO, which it holds open read-write
# and a dispatcher writes a line to, to wake it.

lg_split() {
	[ $# -ge 20 ] || return 1
	lg_s=$1
	shift 19
	lg_st=$1
}

# PID: lg_st (start time) and lg_s (state letter); 1 when it is gone.
lg_stat() {
	lg_l=
	{ read -r lg_l < "/proc/$1/stat"; } 2> /dev/null || return 1
	lg_split ${lg_l##*')'}
}

# PID START BOOT: whether that process still runs.
lg_alive() {
	case $3 in
	- | "$lg_boot") ;;
	=) [ "$lg_lboot" = "$lg_bootw" ] || [ -z "$lg_boot" ] || return 1 ;;
	*) [ -z "$lg_boot" ] || return 1 ;;
	esac
	if [ "$2" = 0 ]; then
		kill -0 "$1" 2> /dev/null
		return
	fi
	lg_stat "$1" || return 1
	[ "$lg_st" = "$2" ] && [ "$lg_s" != Z ]
}

# SEQ PID START BOOT: whether a holder's supervisor, or else its command,
# still runs.
lg_holder_alive() {
	lg_alive "$2" "$3" "$4" && return 0
	lg_dir=
	{ read -r lg_dir < "$L/d.$1"; } 2> /dev/null || return 1
	# Its script wrote the end (a line over the state's blanks): the
	# command is gone.
	lg_x=
	{ read -r lg_x < "$lg_dir/state"; } 2> /dev/null
	[ -z "$lg_x" ] || return 1
	lg_c= lg_cs=
	{
		while read -r lg_k lg_v; do
			case $lg_k in
			cmd) lg_c=$lg_v ;;
			cstat) lg_cs=$lg_v ;;
			esac
		done < "$lg_dir/pid"
	} 2> /dev/null
	[ -n "$lg_c" ] && [ -n "$lg_cs" ] || return 1
	lg_split ${lg_cs##*')'} || return 1
	lg_alive "$lg_c" "$lg_st" "$4"
}

# CORES MEM TOKENS DEVS: adds a holder's share to what is in use.
lg_use() {
	lg_uc=$((lg_uc + $1)) lg_um=$((lg_um + $2))
	[ "$3" = - ] || lg_ut="$lg_ut$3,"
	[ "$4" = - ] || lg_ud="$lg_ud$4,"
}

# NAME: lg_n, how many of that token are in use.
lg_tok_used() {
	lg_n=0
	IFS=,
	for lg_x in $lg_ut; do
		case $lg_x in
		"$1="*)
			lg_x=${lg_x#*=}
			lg_n=$((lg_n + ${lg_x%/*}))
			;;
		esac
	done
	IFS=$lg_IFS
}

# PLAN: lg_got, free devices for it; 1 when there are none.
lg_pick() {
	IFS='|'
	for lg_alt in $1; do
		IFS=';'
		lg_got=, lg_ok=1
		for lg_grp in $lg_alt; do
			lg_k=${lg_grp%%/*}
			IFS=,
			for lg_dv in ${lg_grp#*/}; do
				[ "$lg_k" -gt 0 ] || break
				case $lg_ud$lg_got in
				*",$lg_dv,"*) continue ;;
				esac
				lg_got="$lg_got$lg_dv," lg_k=$((lg_k - 1))
			done
			[ "$lg_k" = 0 ] || {
				lg_ok=
				break
			}
		done
		IFS=$lg_IFS
		if [ -n "$lg_ok" ]; then
			lg_got=${lg_got#,}
			lg_got=${lg_got%,}
			return 0
		fi
	done
	IFS=$lg_IFS
	return 1
}

# CORES MEM CAPC CAPM TOKENS PLAN: whether a job fits now (lg_got: its devices).
lg_fits() {
	[ $((lg_uc + $1)) -le "$3" ] || return 1
	[ "$4" = 0 ] || [ $((lg_um + $2)) -le "$4" ] || return 1
	if [ "$5" != - ]; then
		IFS=,
		for lg_t in $5; do
			IFS=$lg_IFS
			lg_k=${lg_t#*=}
			lg_tok_used "${lg_t%%=*}"
			[ $((lg_n + ${lg_k%/*})) -le "${lg_k#*/}" ] || return 1
		done
		IFS=$lg_IFS
	fi
	lg_got=-
	[ "$6" = - ] || lg_pick "$6"
}

# In a round `adopt`: a line of this supervisor is its place (taken for it
# by the process that started it, which said nothing after).
lg_mine_is() {
	[ "$lg_mode" = adopt ] && [ "$3" = $$ ] && [ "$4" = "$lg_start" ] && lg_seq=$2
	:
}

# A waiter's line: whether it still runs (this job's own line does), asked
# of those to start, the first left and one that may not be overtaken;
# when it does not, it is purged.
lg_due() {
	[ "$2" = "$lg_seq" ] && return 0
	lg_alive "$3" "$4" "$5" && return 0
	lg_dead="$lg_dead $2"
	return 1
}

# Under the lock: reads the ledger, purges the dead (and `lg_skip`), adds
# this job when $1 is `new`, starts what fits in order, writes it back.
# lg_started: those started; lg_wake: whom to wake (those, and the first
# of those left).
lg_dispatch() {
	lg_mode=$1 lg_next=1 lg_lboot=- lg_h= lg_w= lg_uc=0 lg_um=0 lg_ud=, lg_ut=, lg_trash=
	if [ -e "$L/ledger" ]; then
		while read -r lg_line; do
			set -- $lg_line
			case $1 in
			next) lg_next=$2 ;;
			boot) lg_lboot=$2 ;;
			x)
				shift
				lg_trash=$*
				;;
			h)
				if [ "$2" != "$lg_skip" ] && lg_holder_alive "$2" "$3" "$4" "$5"; then
					lg_h="$lg_h$lg_line$lg_nl"
					lg_use "$6" "$7" "$8" "$9"
					lg_mine_is "$@"
				else
					lg_dead="$lg_dead $2"
				fi
				;;
			w)
				# A waiter is asked whether it runs only when that matters
				# (lg_due): a round's cost does not grow with the queue.
				if [ "$2" != "$lg_skip" ]; then
					lg_w="$lg_w$lg_line$lg_nl"
					lg_mine_is "$@"
				else
					lg_dead="$lg_dead $2"
				fi
				;;
			esac
		done < "$L/ledger"
	fi
	[ "$lg_mode" = adopt ] && [ -z "$lg_seq" ] && lg_mode=new
	if [ "$lg_mode" = new ]; then
		lg_seq=$lg_next lg_next=$((lg_next + 1))
		printf '%s\n' "$d" > "$L/d.$lg_seq"
		lg_w="${lg_w}w $lg_seq $$ $lg_start = $lg_need 0$lg_nl"
	fi
	lg_g=0 lg_block= lg_started= lg_keep= lg_head=
	IFS=$lg_nl
	for lg_line in $lg_w; do
		IFS=$lg_IFS
		set -- $lg_line
		if [ -z "$lg_block" ] && lg_fits "$6" "$7" "$8" "$9" "${10}" "${11}"; then
			if lg_due "$@"; then
				lg_h="${lg_h}h $2 $3 $4 $5 $6 $7 ${10} $lg_got$lg_nl"
				lg_use "$6" "$7" "${10}" "$lg_got"
				lg_g=$((lg_g + 1)) lg_started="$lg_started $2"
			fi
		elif { [ -n "$lg_head" ] && [ "${13}" -lt "${12}" ]; } || lg_due "$@"; then
			[ "${13}" -lt "${12}" ] || lg_block=1
			lg_keep="$lg_keep$lg_line $lg_g$lg_nl"
			[ -n "$lg_head" ] || lg_head=$2
		fi
		IFS=$lg_nl
	done
	IFS=$lg_IFS
	lg_wake="$lg_started $lg_head"
	# The files of purged jobs go in batches (one `rm` for many).
	lg_trash="$lg_trash $lg_dead" lg_sweep=
	set -- $lg_trash
	if [ $# -ge 32 ]; then
		lg_sweep=$lg_trash lg_trash=
	fi
	{
		printf 'next %s\nboot %s\nx %s\n%s' "$lg_next" "$lg_bootw" "$lg_trash" "$lg_h"
		IFS=$lg_nl
		for lg_line in $lg_keep; do
			IFS=$lg_IFS
			set -- $lg_line
			printf '%s %s %s %s %s %s %s %s %s %s %s %s %s\n' "$1" "$2" "$3" "$4" "$5" \
				"$6" "$7" "$8" "$9" "${10}" "${11}" "${12}" $((${13} + lg_g - ${14}))
			IFS=$lg_nl
		done
		IFS=$lg_IFS
	} >| "$L/ledger.lock"
}

# Takes the lock: spins a little, then sleeps 5 ms between tries; a lock
# held for long (about 2 s) by a process that is gone is broken.
lg_lock() {
	lg_dead= lg_n=0
	until { set -C && true > "$L/ledger.lock"; } 2> /dev/null; do
		set +C
		lg_n=$((lg_n + 1))
		[ $((lg_n % 32)) = 0 ] || continue
		if [ "$lg_n" -ge 12800 ]; then
			lg_n=0 lg_o=
			{ read -r lg_o < "$L/ledger.lock"; } 2> /dev/null
			case $lg_o in
			'lock '*) ;;
			*)
				[ -n "$lg_noowner" ] && lg_o='lock 1 1 -'
				lg_noowner=1
				;;
			esac
			if [ -n "$lg_o" ] && ! lg_alive ${lg_o#lock }; then
				mv -f "$L/ledger.lock" "$L/ledger.stale.$$" 2> /dev/null &&
					rm -f "$L/ledger.stale.$$"
			fi
		fi
		sleep 0.005 2> /dev/null || sleep 1
	done
	set +C
	lg_noowner=
	printf 'lock %s %s %s\n' "$$" "$lg_start" "$lg_bootw" >| "$L/ledger.lock"
}

# Commits the new ledger and unlocks; 1 when the lock was broken meanwhile.
lg_commit() {
	mv -f "$L/ledger.lock" "$L/ledger" 2> /dev/null || return 1
	[ -z "$lg_sweep" ] && return 0
	set --
	for lg_x in $lg_sweep; do
		set -- "$@" "$L/d.$lg_x" "$L/w.$lg_x"
	done
	rm -f "$@"
}

lg_wakeup() {
	for lg_x in $lg_wake; do
		[ "$lg_x" != "$lg_seq" ] && [ -p "$L/w.$lg_x" ] && { printf 'w\n' >&4; } 4<> "$L/w.$lg_x"
	done 2> /dev/null
}

# Lock-free: lg_mine (`h` with lg_devs once started), lg_first (the first
# waiter), lg_stale (someone the first waiter checks is gone).
lg_look() {
	lg_mine= lg_first= lg_stale= lg_hs= lg_lboot=-
	while read -r lg_line; do
		set -- $lg_line
		case $1 in
		boot) lg_lboot=$2 ;;
		h)
			if [ "$2" = "$lg_seq" ]; then
				lg_mine=h lg_devs=$9
				return
			fi
			lg_hs="$lg_hs$lg_line$lg_nl"
			;;
		w)
			lg_first=$2
			[ "$2" = "$lg_seq" ] || lg_alive "$3" "$4" "$5" || lg_stale=1
			break
			;;
		esac
	done < "$L/ledger"
	[ "$lg_first" = "$lg_seq" ] || return 0
	IFS=$lg_nl
	for lg_line in $lg_hs; do
		IFS=$lg_IFS
		set -- $lg_line
		lg_holder_alive "$2" "$3" "$4" "$5" || lg_stale=1
		IFS=$lg_nl
	done
	IFS=$lg_IFS
}

lg_round() {
	lg_lock
	lg_dispatch "$1"
	until lg_commit; do
		lg_lock
		lg_dispatch "$1"
	done
	lg_wakeup
}

# Waits for this job's turn: the first waiter looks every lg_tick seconds
# (for shares of jobs that vanished), the others sleep on their FIFO.
lg_wait() {
	umask 077
	# Whole or not at all, for whoever reads why the job waits.
	if { printf 'ledger %s\nseq %s\n' "$L" "$lg_seq" > "$d/ledger.tmp"; } 2> /dev/null; then
		mv -f "$d/ledger.tmp" "$d/ledger"
	else
		rm -f "$d/ledger.tmp"
	fi
	[ -z "${u:-}" ] || umask "$u"
	mkfifo -m 622 "$L/w.$lg_seq" 2> /dev/null
	exec 3<> "$L/w.$lg_seq"
	(while kill -0 $$ 2> /dev/null; do
		sleep 2
		printf 't\n'
	done) >&3 2> /dev/null &
	lg_timer=$!
	while :; do
		if [ -e "$d/cancel" ]; then
			lg_skip=$lg_seq
			lg_round
			finish 'cancelled' 1
		fi
		lg_look
		if [ "$lg_mine" = h ]; then
			break
		elif [ -z "$lg_first" ]; then
			printf 'launch: this job lost its place in the ledger %s\n' "$L" >&2
			finish 'error lost its place in the machine ledger' 1
		elif [ -n "$lg_stale" ]; then
			lg_round
		elif [ "$lg_first" = "$lg_seq" ]; then
			sleep "$lg_tick" 2> /dev/null || sleep 1
		else
			read -r lg_x <&3
		fi
	done
	kill "$lg_timer" 2> /dev/null
	exec 3<&-
}

ledger_take() {
	set -f
	lg_IFS=$IFS lg_nl='
'
	lg_default_dir
	[ -d "$L" ] || mkdir -p "$L" || finish 'error cannot create the machine ledger' 1
	# The job script has read both already (`boot`, `self`); else read them.
	lg_boot=${boot:-}
	[ -n "$lg_boot" ] || { read -r lg_boot < /proc/sys/kernel/random/boot_id; } 2> /dev/null
	lg_bootw=${lg_boot:--}
	if [ -n "${self:-}" ] && lg_split ${self##*')'}; then
		lg_start=$lg_st
	elif lg_stat $$; then
		lg_start=$lg_st
	else
		lg_start=0
	fi
	lg_skip=
	# Told it waits (`ledger_told.sh`): with that ticket. Started as `sh
	# job.sh spawned stdin` and told nothing: the round finds the place the
	# process that started it took, or makes one.
	if [ -n "$lg_told" ]; then
		lg_wait
	else
		lg_seq=
		lg_mode=new
		[ "${how:-}" = stdin ] && lg_mode=adopt lg_seq=
		lg_round "$lg_mode"
		case " $lg_started " in
		*" $lg_seq "*) lg_look ;;
		*) lg_wait ;;
		esac
	fi
	lg_export "$lg_devs"
	set +f
}
