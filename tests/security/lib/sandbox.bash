# Shared helpers for the sandbox shell tests (sourced, not a test itself).
# Finds a driver for `silo debug sandbox-exec` (the silo binary once the
# command is wired, else the test_sandbox_native executable, which doubles as
# the driver), the helper binary, and prints TAP.

sb_skip() { echo "1..0 # SKIP $*"; exit 77; }

sb_init() {
	: "${SILO_BUILD:?SILO_BUILD not set}"
	: "${SILO_SRC:?SILO_SRC not set}"
	if [ -n "${SILO_BIN:-}" ] && "$SILO_BIN" debug sandbox-exec --help 2>&1 |
		grep -q 'usage: silo debug sandbox-exec'; then
		SB_DRV=("$SILO_BIN" debug sandbox-exec)
	elif [ -x "$SILO_BUILD/tests/test_sandbox_native" ]; then
		SB_DRV=("$SILO_BUILD/tests/test_sandbox_native" sandbox-exec)
	else
		sb_skip "no sandbox-exec driver built"
	fi
	if [ -z "${SILO_HELPER_BIN:-}" ]; then
		[ -x "$SILO_BUILD/silo-helper" ] || sb_skip "silo-helper not built"
		SILO_HELPER_BIN=$SILO_BUILD/silo-helper
	fi
	SB_T=$(mktemp -d /tmp/silo-sbtest.XXXXXX)
	chmod 755 "$SB_T"
	# the unprivileged user may not reach the build tree (a clone in root's
	# 0700 home): it runs copies staged where it can read them
	if [ "$(id -u)" = 0 ]; then
		mkdir -m 755 "$SB_T/bin"
		cp "${SB_DRV[0]}" "$SILO_HELPER_BIN" "$SB_T/bin/"
		SB_DRV[0]=$SB_T/bin/${SB_DRV[0]##*/}
		SILO_HELPER_BIN=$SB_T/bin/${SILO_HELPER_BIN##*/}
	fi
	export SILO_HELPER_BIN
	# scratch directories of the sandboxes under test go here, so a test can
	# check that none is left behind
	mkdir -m 1777 "$SB_T/scratch-root"
	export TMPDIR=$SB_T/scratch-root
	trap 'sb_cleanup' EXIT
	SB_N=0
	SB_FAILED=0
	SB_USER=$(id -un)
}

sb_cleanup() {
	rm -rf "$SB_T"
}

# Unprivileged test user: created when running as root and absent.
sb_have_user() {
	[ "$(id -u)" = 0 ] || return 1
	id silotest >/dev/null 2>&1 || useradd -m -s /bin/sh silotest >/dev/null 2>&1 || return 1
	command -v runuser >/dev/null || return 1
	return 0
}

# sb_exec [driver options...] -- CMD...: runs the driver as $SB_USER.
sb_exec() {
	if [ "$SB_USER" = "$(id -un)" ]; then
		"${SB_DRV[@]}" "$@"
	else
		(cd "$SB_T" && runuser -u "$SB_USER" -- env SILO_HELPER_BIN="$SILO_HELPER_BIN" TMPDIR="$TMPDIR" \
			SILO_TEST_ENV_SECRET="${SILO_TEST_ENV_SECRET:-}" \
			${SILO_SANDBOX_TMPFS_MB:+SILO_SANDBOX_TMPFS_MB=$SILO_SANDBOX_TMPFS_MB} \
			${SILO_SANDBOX_MEMORY_MB:+SILO_SANDBOX_MEMORY_MB=$SILO_SANDBOX_MEMORY_MB} \
			${SILO_SANDBOX_PIDS_MAX:+SILO_SANDBOX_PIDS_MAX=$SILO_SANDBOX_PIDS_MAX} \
			"${SB_DRV[@]}" "$@")
	fi
}

sb_ok() {
	SB_N=$((SB_N + 1))
	echo "ok $SB_N - [$SB_USER] $1"
}

sb_notok() {
	SB_N=$((SB_N + 1))
	SB_FAILED=$((SB_FAILED + 1))
	echo "not ok $SB_N - [$SB_USER] $1"
	shift
	for l in "$@"; do echo "#   $l"; done
}

sb_check() { # sb_check DESC CONDITION-COMMAND...
	local d=$1
	shift
	if "$@"; then sb_ok "$d"; else sb_notok "$d"; fi
}

sb_finish() {
	echo "1..$SB_N"
	[ "$SB_FAILED" = 0 ]
}

# Builds tests/security/try_syscall.c statically into $SB_T/try-syscall.
sb_build_try() {
	command -v cc >/dev/null || sb_skip "no C compiler for try-syscall"
	cc -static -O1 -o "$SB_T/try-syscall" "$SILO_SRC/tests/security/try_syscall.c" ||
		sb_skip "cannot build try-syscall"
}
