#!/bin/sh
# Make sure what make check uses is installed: cmocka (the suites),
# pkg-config (the install check) and mandoc (the man page check). Install
# them with apt-get where we can, or say in one line how to.
set -u
have() {
	command -v pkg-config >/dev/null 2>&1 && command -v mandoc >/dev/null 2>&1 &&
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
		echo "reexec: installing the test tools with apt-get: libcmocka-dev pkg-config mandoc"
		$SUDO apt-get update -qq >/dev/null &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
				libcmocka-dev pkg-config mandoc >/dev/null &&
			have && exit 0
		echo "reexec: installing libcmocka-dev pkg-config mandoc failed" >&2
		exit 1
	fi
	echo "reexec: the tests need cmocka, pkg-config and mandoc: run 'sudo apt-get install libcmocka-dev pkg-config mandoc', then 'make check' again" >&2
	exit 1
fi
echo "reexec: the tests need cmocka (https://cmocka.org), pkg-config and mandoc: install them, then run 'make check' again" >&2
exit 1
