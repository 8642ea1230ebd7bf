#!/bin/sh
# The sandbox example's child works in its own namespaces (or, where they
# are refused, as an unprivileged user), and its private file never shows
# on the host.
set -u
out=$("$1/sandbox" 2>&1) || { echo "sandbox failed: $out"; exit 1; }
case $out in
"sandbox: uid 0 in new user and mount namespaces, private /tmp
sandbox: wrote /tmp/reexec-sandbox-secret
host: /tmp/reexec-sandbox-secret is not visible") ;;
"sandbox: no namespaces here; "*"
host: /tmp/reexec-sandbox-secret is not visible")
	echo "check-sandbox: note: namespaces refused here, fallback checked" ;;
*) printf 'unexpected:\n%s\n' "$out"; exit 1 ;;
esac
