#!/bin/sh
# Make sure cmocka, which the test suites use, is installed: install it with
# apt-get where we can, or say in one line how to.
set -u
have() {
	pkg-config --exists cmocka 2>/dev/null || [ -f /usr/include/cmocka.h ]
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
		echo "reexec: cmocka is missing; installing libcmocka-dev with apt-get"
		$SUDO apt-get update -qq >/dev/null &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
				libcmocka-dev pkg-config >/dev/null &&
			have && exit 0
		echo "reexec: installing libcmocka-dev failed" >&2
		exit 1
	fi
	echo "reexec: the tests need cmocka: run 'sudo apt-get install libcmocka-dev', then 'make check' again" >&2
	exit 1
fi
echo "reexec: the tests need cmocka (https://cmocka.org): install its development package, then run 'make check' again" >&2
exit 1
