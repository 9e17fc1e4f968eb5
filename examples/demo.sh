#!/usr/bin/env bash
# `make demo`: chatbot as a service on a local control plane.
#
# 1. Starts the control plane, installs the CRDs and RBAC, and runs TWO
#    bot-operator processes with leader election: one leads, one stands by
#    with warm caches.
# 2. Applies the samples (a Secret, a Bot, two Events, an EventBinding) and
#    waits until the operator has applied the Bot's Deployment, Service and
#    rules ConfigMap.
# 3. Runs bot-engine as a local process the way the Bot's pod runs it (rules
#    from the ConfigMap in kubelet's `..data` layout, credentials from the
#    Secret as environment), in front of a local stand-in of the LINE reply
#    API, sends a signed LINE webhook saying "hi", and prints the reply that
#    reached the stand-in.
# 4. Edits the greeting Event: the operator updates the ConfigMap, the file is
#    swapped as kubelet would, and the SAME engine process answers with the
#    new text (reloaded without a restart).
# 5. Stops the leading operator; the standby takes the Lease over at once and
#    keeps reconciling (a replica change made afterwards is applied).
#
# There is no kubelet: the Bot's pods stay Pending, so the Bot is honestly
# `Applied=True`, `Available=False`, `Ready=False`; the local engine proves
# the answering path instead.
set -euo pipefail
cd "$(dirname "$0")/.."
TESTENV=${KUBE_TESTENV:-target/testenv/kube-testenv}
KUBECTL=${KUBECTL:-target/testenv/kubectl}
MANIFESTS=examples/bot-operator/manifests
SAMPLES=examples/samples
BIN=${CARGO_TARGET_DIR:-target}/debug
dir=$(mktemp -d /tmp/botops-demo.XXXXXX)
pids=()

echo "== building bot-operator, bot-engine and platform-standin"
cargo build -q -p bot-operator -p bot-engine

coproc PLANE { "$TESTENV" --dir "$dir/plane" --stop-on-stdin-eof; }
plane_pid=$PLANE_PID
stop() { # stop PID: SIGTERM, then wait
  if [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}
cleanup() {
  for pid in "${pids[@]}"; do stop "$pid"; done
  exec {PLANE[1]}>&- 2>/dev/null || true   # EOF on its stdin: clean stop
  wait "$plane_pid" 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT
read -r kubeconfig <&"${PLANE[0]}"
export KUBECONFIG=$kubeconfig
k() { "$KUBECTL" "$@"; }
# A free TCP port on 127.0.0.1.
free_port() {
  local port
  for port in $(seq "$1" $(( $1 + 200 ))); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
  done
  echo "no free port from $1" >&2; return 1
}
# Waits until a shell condition (a string, evaluated each time) holds, up to 30 s.
until_ok() {
  local i
  for i in $(seq 1 150); do if eval "$1" >/dev/null 2>&1; then return 0; fi; sleep 0.2; done
  echo "!! timed out waiting for: $1" >&2; return 1
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
# GET http://127.0.0.1:$1$2 with bash alone; prints the body.
http_get() {
  local response
  exec 3<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$2" >&3
  response=$(cat <&3); exec 3<&-
  printf '%s\n' "${response#*$'\r\n\r\n'}"
}
holder() { k get lease -n botops-system bot-operator -o jsonpath='{.spec.holderIdentity}' 2>/dev/null; }

echo "== control plane up; kubeconfig: $kubeconfig"
k version 2>/dev/null | grep -i server

echo "== installing the CRDs"
k apply -f "$MANIFESTS/crds/"
k wait --for condition=Established --timeout=60s \
  crd/bots.botops.dev crd/events.botops.dev crd/eventbindings.botops.dev
echo "== RBAC for the operator's ServiceAccount; the operator Deployment validated (server-side dry run)"
k apply -f "$MANIFESTS/rbac.yaml"
k apply --dry-run=server -f "$MANIFESTS/operator.yaml"

echo "== starting two bot-operator replicas with leader election (logs: operator-a.log, operator-b.log)"
port=18280
for name in operator-a operator-b; do
  port=$(free_port $(( port + 1 )))
  POD_NAME=$name RUST_LOG=${RUST_LOG:-info} "$BIN/bot-operator" --lease-namespace botops-system \
    --http-address "127.0.0.1:$port" >"$dir/$name.log" 2>&1 &
  pids+=($!)
  declare "pid_${name//-/_}=$!" "port_${name//-/_}=$port"
done
until_ok 'test -n "$(holder)"'
leader=$(holder); leader=${leader%%_*}
echo "   the Lease bot-operator is held by: $(holder)"
leader_port_var="port_${leader//-/_}"
until_ok 'http_get "${!leader_port_var}" /readyz | grep -q "^ok"'
echo "   $leader /readyz?verbose:"
http_get "${!leader_port_var}" '/readyz?verbose' | sed 's/^/     /'

echo "== applying the samples"
k apply -f "$SAMPLES/"

echo "== waiting until the operator has applied the Bot's objects"
if ! k wait --for condition=Applied --timeout=60s bot/hello-bot; then
  echo "!! not applied; its conditions:"
  k get bot hello-bot -o jsonpath='{range .status.conditions[*]}{.type}={.status} {.reason}: {.message}{"\n"}{end}'
  exit 1
fi

echo "== what the operator made"
k get bots,botevent,evb,deploy,svc,cm -o wide   # `botevent`: the Event short name (plural `events` is core's)
echo "== Bot conditions (no kubelet here: Applied, but not Available, so not Ready)"
k get bot hello-bot -o jsonpath='{range .status.conditions[*]}   {.type}={.status} ({.reason}) {.message}{"\n"}{end}'
echo "   endpoint the platform must call: $(k get bot hello-bot -o jsonpath='{.status.endpoint}')"
echo "== EventBinding status"
k get evb hello-bot-events -o yaml | sed -n '/^status:/,$p'

# --- the bot answers ---------------------------------------------------------
# The rules volume as kubelet lays a ConfigMap out: rules.json -> ..data/rules.json,
# ..data -> a timestamped directory, swapped atomically on every change.
rules_dir=$dir/etc-bot
mkdir -p "$rules_dir"
project_rules() {
  local stamp=..$(date +%s%N)
  mkdir "$rules_dir/$stamp"
  k get cm hello-bot-rules -o jsonpath='{.data.rules\.json}' >"$rules_dir/$stamp/rules.json"
  ln -sfn "$stamp" "$rules_dir/..data_tmp" && mv -T "$rules_dir/..data_tmp" "$rules_dir/..data"
  ln -sfn ..data/rules.json "$rules_dir/rules.json"
}
project_rules
secret() { k get secret line-credentials -o jsonpath="{.data.$1}" | base64 -d; }
standin_port=$(free_port 18090)
"$BIN/platform-standin" serve --port "$standin_port" --record "$dir/replies.jsonl" 2>"$dir/standin.log" &
pids+=($!)
engine_port=$(free_port 18180)
echo "== starting bot-engine as the pod would (rules volume, Secret as environment; log: engine.log)"
env BOT_NAME=hello-bot BOT_PLATFORM=line BOT_PORT="$engine_port" BOT_BIND_ADDRESS=127.0.0.1 \
  BOT_RULES="$rules_dir/rules.json" BOT_API_BASE_URL="http://127.0.0.1:$standin_port" \
  channelSecret="$(secret channelSecret)" channelToken="$(secret channelToken)" \
  "$BIN/bot-engine" >"$dir/engine.log" 2>&1 &
engine_pid=$!
pids+=($engine_pid)
until_ok 'port_open "$engine_port"'
reply_count() { [[ -f "$dir/replies.jsonl" ]] && wc -l <"$dir/replies.jsonl" || echo 0; }
say() { # say TEXT: a signed LINE webhook; waits for the reply at the stand-in and prints it
  local before; before=$(reply_count)
  echo "   user -> LINE -> bot-engine: \"$1\" (signed with the channel secret)"
  "$BIN/platform-standin" send line --url "http://127.0.0.1:$engine_port/webhook/line" \
    --secret "$(secret channelSecret)" --text "$1" --reply-token "demo-$RANDOM" | sed 's/^/   engine answered the webhook: /'
  until_ok 'test "$(reply_count)" -gt "$before"'
  echo "   bot-engine -> LINE reply API (what the stand-in received):"
  tail -n 1 "$dir/replies.jsonl" | sed 's/^/     /'
}
echo "== a LINE user says hi"
say "hi there"

echo "== editing the greeting's reply; the rules follow, and the running engine reloads them"
k patch botevent greeting --type merge -p '{"spec":{"actions":[{"reply":"Hello again, from an edited Event!"}]}}'
until_ok 'k get cm hello-bot-rules -o jsonpath="{.data.rules\.json}" | grep -q "edited Event"'
project_rules   # what kubelet does with the ConfigMap volume
until_ok 'test "$(grep -c "rules loaded" "$dir/engine.log")" -ge 2'
say "hi again"
echo "   the same engine process ($engine_pid) answered both: no restart"
echo "== pod template rules checksum (pods roll too): $(k get deploy hello-bot -o jsonpath='{.spec.template.metadata.annotations.botops\.dev/rules-checksum}')"

# --- leader failover ---------------------------------------------------------
leader_pid_var="pid_${leader//-/_}"
echo "== stopping the leader ($leader, SIGTERM: it releases the Lease)"
stop "${!leader_pid_var}"
until_ok 'test -n "$(holder)" -a "$(holder | cut -d_ -f1)" != "$leader"'
echo "   the Lease is now held by: $(holder)"
echo "== scaling the Bot to 2 replicas; the new leader reconciles"
k patch bot hello-bot --type merge -p '{"spec":{"replicas":2}}'
until_ok 'test "$(k get deploy hello-bot -o jsonpath="{.spec.replicas}")" = 2'
echo "   Deployment hello-bot replicas: $(k get deploy hello-bot -o jsonpath='{.spec.replicas}')"

new_leader=$(holder | cut -d_ -f1); new_port_var="port_${new_leader//-/_}"
echo "== some of $new_leader's /metrics"
http_get "${!new_port_var}" /metrics | grep -E '^(workqueue_adds_total|controller_runtime_reconcile_total|leader_election_master_status)' | head -n 8 | sed 's/^/   /' || true

echo "== stopping"
for pid in "${pids[@]}"; do stop "$pid"; done
for log in operator-a operator-b; do
  echo "== $log log (last lines)"
  tail -n 12 "$dir/$log.log"
done
echo "== engine log"
cat "$dir/engine.log"
echo "== stopping the control plane"
