#!/usr/bin/env bash
# `make demo`: the local control plane, up, serving, and down again.
set -euo pipefail
cd "$(dirname "$0")/.."
TESTENV=${KUBE_TESTENV:-target/testenv/kube-testenv}
KUBECTL=${KUBECTL:-target/testenv/kubectl}
dir=$(mktemp -d /tmp/botops-demo.XXXXXX)
coproc PLANE { "$TESTENV" --dir "$dir" --stop-on-stdin-eof; }
plane_pid=$PLANE_PID
cleanup() {
  exec {PLANE[1]}>&- 2>/dev/null || true   # EOF on its stdin: clean stop
  wait "$plane_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
read -r kubeconfig <&"${PLANE[0]}"
k() { "$KUBECTL" --kubeconfig "$kubeconfig" "$@"; }

echo "== control plane up; kubeconfig: $kubeconfig"
k version
echo "== API resources served"
k api-resources --verbs=list -o wide | head -n 40
echo "== namespaces"
k get namespaces
echo "== stopping"
