#!/bin/sh
# The sandbox example's child works as root of its own namespaces, pid 1
# of its pid namespace, and its private file never shows on the host;
# where the kernel refuses the namespaces, the start says so.
set -u
out=$("$1/sandbox" 2>&1) || { echo "sandbox failed: $out"; exit 1; }
out=$(printf '%s\n' "$out" | grep -v '^host: the sandbox.s memory is limited')
case $out in
"sandbox: uid 0, pid 1, private /tmp
sandbox: wrote /tmp/reexec-sandbox-secret
host: /tmp/reexec-sandbox-secret is not visible") ;;
"host: no sandbox here: "*"
host: /tmp/reexec-sandbox-secret is not visible")
	echo "check-sandbox: note: namespaces refused here: $out" ;;
*) printf 'unexpected:\n%s\n' "$out"; exit 1 ;;
esac
