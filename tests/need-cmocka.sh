#!/bin/sh
# Make sure cmocka, which the test suites use, and pkg-config, which the
# install check uses, are installed: install them with apt-get where we
# can, or say in one line how to.
set -u
have() {
	command -v pkg-config >/dev/null 2>&1 &&
		{ pkg-config --exists cmocka 2>/dev/null || [ -f /usr/include/cmocka.h ]; }
}
have && exit 0
if command -v apt-get >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		SUDO=
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
		SUDO="sudo -n"
	else
		SUDO=no
	fi
	if [ "$SUDO" != no ]; then
		echo "reexec: cmocka or pkg-config is missing; installing libcmocka-dev and pkg-config with apt-get"
		$SUDO apt-get update -qq >/dev/null &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
				libcmocka-dev pkg-config >/dev/null &&
			have && exit 0
		echo "reexec: installing libcmocka-dev failed" >&2
		exit 1
	fi
	echo "reexec: the tests need cmocka and pkg-config: run 'sudo apt-get install libcmocka-dev pkg-config', then 'make check' again" >&2
	exit 1
fi
echo "reexec: the tests need cmocka (https://cmocka.org) and pkg-config: install them, then run 'make check' again" >&2
exit 1
