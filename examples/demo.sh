#!/usr/bin/env bash
# `make demo`: chatbot as a service on a local control plane.
#
# Starts the control plane, installs the CRDs, runs bot-operator in the
# background, applies the samples (a Secret, a Bot, two Events, an
# EventBinding), waits until the Bot is Ready, shows what the operator made,
# edits an Event to show the rules following, and stops everything cleanly.
#
# There is no kubelet: the Bot's pods stay Pending. Ready means "credentials
# present and Deployment, Service and ConfigMap applied".
set -euo pipefail
cd "$(dirname "$0")/.."
TESTENV=${KUBE_TESTENV:-target/testenv/kube-testenv}
KUBECTL=${KUBECTL:-target/testenv/kubectl}
MANIFESTS=examples/bot-operator/manifests
SAMPLES=examples/samples
dir=$(mktemp -d /tmp/botops-demo.XXXXXX)
operator_pid=

echo "== building bot-operator"
cargo build -q -p bot-operator

coproc PLANE { "$TESTENV" --dir "$dir" --stop-on-stdin-eof; }
plane_pid=$PLANE_PID
stop_operator() {
  if [[ -n "$operator_pid" ]] && kill -0 "$operator_pid" 2>/dev/null; then
    kill -TERM "$operator_pid" 2>/dev/null || true   # SIGTERM: the operator drains and exits
    wait "$operator_pid" 2>/dev/null || true
  fi
  operator_pid=
}
cleanup() {
  stop_operator
  exec {PLANE[1]}>&- 2>/dev/null || true   # EOF on its stdin: clean stop
  wait "$plane_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
read -r kubeconfig <&"${PLANE[0]}"
export KUBECONFIG=$kubeconfig
k() { "$KUBECTL" "$@"; }

echo "== control plane up; kubeconfig: $kubeconfig"
k version 2>/dev/null | grep -i server

echo "== installing the CRDs"
k apply -f "$MANIFESTS/crds.yaml"
k wait --for condition=Established --timeout=60s \
  crd/bots.botops.dev crd/events.botops.dev crd/eventbindings.botops.dev
echo "== RBAC for the operator's ServiceAccount; the operator Deployment validated (server-side dry run)"
k apply -f "$MANIFESTS/rbac.yaml"
k apply --dry-run=server -f "$MANIFESTS/operator.yaml"

echo "== starting bot-operator (log: operator.log, shown at the end)"
RUST_LOG=${RUST_LOG:-info} cargo run -q -p bot-operator >"$dir/operator.log" 2>&1 &
operator_pid=$!

echo "== applying the samples"
k apply -f "$SAMPLES/"

echo "== waiting for the Bot to be Ready"
if ! k wait --for condition=Ready --timeout=60s bot/hello-bot; then
  echo "!! not Ready; its conditions:"
  k get bot hello-bot -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
fi

echo "== what the operator made"
k get bots,botevent,evb,deploy,svc,cm -o wide   # `botevent`: the Event short name (plural `events` is core's)
echo "== Bot status"
k get bot hello-bot -o yaml | sed -n '/^status:/,$p'
echo "== EventBinding status"
k get evb hello-bot-events -o yaml | sed -n '/^status:/,$p'
echo "== rules ConfigMap (hello-bot-rules, rules.json)"
k get cm hello-bot-rules -o jsonpath='{.data.rules\.json}'
echo "== pod template rules checksum: $(k get deploy hello-bot -o jsonpath='{.spec.template.metadata.annotations.botops\.dev/rules-checksum}')"

echo "== editing the greeting's reply; the rules follow"
k patch botevent greeting --type merge -p '{"spec":{"actions":[{"reply":"Hello again, from an edited Event!"}]}}'
for _ in $(seq 1 100); do
  if k get cm hello-bot-rules -o jsonpath='{.data.rules\.json}' | grep -q 'edited Event'; then break; fi
  sleep 0.2
done
k get cm hello-bot-rules -o jsonpath='{.data.rules\.json}' | grep '"reply"'
echo "== pod template rules checksum: $(k get deploy hello-bot -o jsonpath='{.spec.template.metadata.annotations.botops\.dev/rules-checksum}')"

echo "== stopping the operator"
stop_operator
echo "== operator log"
cat "$dir/operator.log"
echo "== stopping the control plane"
