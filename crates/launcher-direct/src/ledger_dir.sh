# The ledger's directory `$L`, when it is empty: the per-user one, under
# `$XDG_STATE_HOME` (when absolute), else `~/.local/state`.
lg_default_dir() {
	[ -z "$L" ] || return 0
	L=${XDG_STATE_HOME:-}
	case $L in
	/*) ;;
	*) L=$HOME/.local/state ;;
	esac
	L=$L/launch/ledger
}
