#!/usr/bin/env bash
# The main job, locally: a Kubernetes control plane built from source, the AWS
# emulator (moto with the project's CloudFormation extensions, its databases
# real PostgreSQL servers and its DMS task real logical replication), the
# manager, and the sample PaymentMigration, watched with kubectl while the
# operator creates its TapStack and takes it through Preflight, FullLoad and
# Replicating with a payment workload writing throughout, a replication lag
# breach, an approved cutover (traffic steps, the freeze, the writer flip) with
# the workload still writing, the ledger check of the target, and the deletion.
# Everything it starts is stopped when it ends (or on Ctrl-C).
#
# Env: DEMO_TIMEOUT (seconds to wait for the stack, default 180),
#      DEMO_KEEP=1 (stay up until Ctrl-C to try kubectl yourself),
#      DEMO_DEBUG=1 (copy the manager, emulator and control-plane logs to /tmp).
set -euo pipefail
cd "$(dirname "$0")/.."

TIMEOUT=${DEMO_TIMEOUT:-180}
# control POSTs to the emulator's control API (what DMS decides on its own:
# how fast it loads, the latency it publishes).
control() { curl -fsS -X POST -H 'Content-Type: application/json' -d "$2" "$endpoint/_tapstack/$1" >/dev/null; }
# condition prints one condition of the sample as TYPE=STATUS (REASON): MESSAGE.
condition() {
  kubectl get pm payments-pr6185 -o jsonpath="{range .status.conditions[?(@.type==\"$1\")]}{.type}={.status} ({.reason}): {.message}{end}"
  echo
}
# wait_for waits until the jsonpath $1 of the sample prints $2.
wait_for() {
  for _ in $(seq 1 $((TIMEOUT * 2))); do
    [[ $(kubectl get pm payments-pr6185 -o jsonpath="$1") == "$2" ]] && return 0
    sleep 0.5
  done
  echo "demo: $1 never became $2 within ${TIMEOUT}s; the manager said:"
  tail -n 20 "$work/manager.log"
  return 1
}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  [[ -n ${DEMO_DEBUG:-} ]] && cp "$work"/*.log /tmp/ 2>/dev/null; rm -rf "$work"
  echo "demo: stopped everything it started"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "building the control plane binaries (cached after the first run), the manager and the CLI"
assets=$(hack/envtest-bins.sh)
export KUBEBUILDER_ASSETS=$assets
go build -o "$work/manager" ./cmd/manager
go build -o "$work/controlplane" ./hack/controlplane
go build -o "$work/tapstack" ./cmd/tapstack
go build -o "$work/paymentload" ./cmd/paymentload
kubectl() { "$assets/kubectl" --kubeconfig "$work/kubeconfig" "$@"; }

step "starting the AWS emulator"
# The emulator stops by itself when this script dies (its stdin closes).
mkfifo "$work/emulator.in"
python3 hack/emulator/serve.py --port 0 --exit-on-stdin-eof <"$work/emulator.in" >"$work/emulator.out" 2>"$work/emulator.log" &
pids+=($!)
exec 8>"$work/emulator.in"
endpoint=""
for _ in $(seq 1 120); do
  endpoint=$(sed -n 's/^tapstack-emulator ready //p' "$work/emulator.out")
  [[ -n $endpoint ]] && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/emulator.log"; exit 1; }
  sleep 0.25
done
[[ -n $endpoint ]] || { echo "demo: the emulator did not start"; tail "$work/emulator.log"; exit 1; }
echo "AWS endpoint: $endpoint"
export AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
unset AWS_PROFILE AWS_SESSION_TOKEN

step "starting a local control plane with the PaymentMigration CRD and the approval webhook"
# The API server calls the manager's admission webhook (config/webhook) on a
# local port, with a certificate the control plane generates; the manager
# serves it with the flags the control plane writes.
"$work/controlplane" --write-kubeconfig "$work/kubeconfig" --crd-dir config/crd/bases \
  --webhook-config config/webhook/manifests.yaml --write-webhook-flags "$work/webhook.flags" >"$work/controlplane.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  grep -q "ready" "$work/controlplane.log" 2>/dev/null && break
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/controlplane.log"; exit 1; }
  sleep 0.5
done
kubectl get crd paymentmigrations.payments.tapstack.io

step "starting the manager (AWS calls go to the emulator through the SDK's standard settings)"
mapfile -t webhook_flags <"$work/webhook.flags"
KUBECONFIG=$work/kubeconfig "$work/manager" --metrics-bind-address=0 --health-probe-bind-address=0 "${webhook_flags[@]}" \
  --s3-path-style --requeue-fast=1s --sample-full-load=2s --sample-replicating=5s --sample-validation=5s \
  >"$work/manager.log" 2>&1 &
pids+=($!)
# The webhook's failurePolicy is Fail: until the manager serves it, the API
# server refuses every write of a PaymentMigration.
webhook_host=$(sed -n 's/^--webhook-host=//p' "$work/webhook.flags")
webhook_port=$(sed -n 's/^--webhook-port=//p' "$work/webhook.flags")
served=""
for _ in $(seq 1 120); do
  if (exec 3<>"/dev/tcp/$webhook_host/$webhook_port") 2>/dev/null; then served=1; break; fi
  kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/manager.log"; exit 1; }
  sleep 0.25
done
[[ -n $served ]] || { echo "demo: the manager does not serve its webhook on $webhook_host:$webhook_port"; tail -n 20 "$work/manager.log"; exit 1; }

step "the template the operator will deploy: tapstack synth -f config/samples/payments_v1alpha1_paymentmigration.yaml"
"$work/tapstack" synth -f config/samples/payments_v1alpha1_paymentmigration.yaml -o "$work/tapstack.json"
python3 - "$work/tapstack.json" <<'PY'
import collections, json, sys
t = json.load(open(sys.argv[1]))
types = collections.Counter(r["Type"].split("::")[1] for r in t["Resources"].values())
print(f"{len(t['Resources'])} resources, {len(t['Outputs'])} outputs:", ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
PY

step "kubectl apply -f config/samples/payments_v1alpha1_paymentmigration.yaml   (with the rehearsal's shorter waits, below)"
# Lag samples are CloudWatch's one-minute datapoints; a rehearsal asks for one
# sample under the threshold instead of three (three minutes), and the traffic
# steps 5 s apart instead of 120 s (with the weighted records' TTL 5 s, not 60 s).
kubectl patch --local -f config/samples/payments_v1alpha1_paymentmigration.yaml --type merge \
  -p '{"spec":{"cutover":{"gates":{"consecutiveLagSamples":1},"stepIntervalSeconds":5},"traffic":{"recordTTLSeconds":5}}}' -o yaml | kubectl apply -f -

step "kubectl get paymentmigration -o wide -w   (stack, preflight, full load, replication; at most ${TIMEOUT}s)"
"$assets/kubectl" --kubeconfig "$work/kubeconfig" get paymentmigration -o wide -w &
watcher=$!
wait_for '{.status.conditions[?(@.type=="StackReady")].status}' "True"

# The databases, reached as the service reaches them: through the stack's
# secrets (host, port, user, password), over TLS.
secret_arn() { kubectl get pm payments-pr6185 -o jsonpath="{.status.stack.outputs.$1DbSecretArn}"; }
# db_conn SIDE writes SIDE.password and prints the paymentload flags of SIDE.
db_conn() {
  aws --endpoint-url "$endpoint" secretsmanager get-secret-value --secret-id "$(secret_arn "$1")" \
    --query SecretString --output text | python3 -c '
import json, sys
s = json.load(sys.stdin)
open(sys.argv[1], "w").write(s["password"])
print("-host", s["host"], "-port", s["port"], "-user", s["username"], "-dbname", s["dbname"], "-password-file", sys.argv[1], "-sslmode require")
' "$work/$1.password"
}
source_db=$(db_conn Source)
target_db=$(db_conn Target)
# rows SIDE prints the row counts of the payment tables of one side.
rows() {
  read -r _ host _ port _ user _ db _ pwfile _ <<<"$2"
  PGPASSWORD=$(cat "$pwfile") psql -X -A -t -F ' ' "host=$host port=$port user=$user dbname=$db sslmode=require connect_timeout=3" -c \
    "SELECT 'payments', count(*) FROM payments UNION ALL SELECT 'transactions', count(*) FROM transactions" 2>/dev/null |
    paste -sd' ' | sed "s/^/$1: /; s/\$/ /" || echo "$1: (not reachable)"
}

# The source already holds payments.
# shellcheck disable=SC2086
"$work/paymentload" seed $source_db -rows 50000 -keys-out "$work/seed.keys" | sed 's/^/  seed: /'
# Every 3 s, the row counts of both sides (the source counted first, so a
# target can read a few rows ahead while the workload writes).
( while sleep 3; do printf '  rows   %s   %s\n' "$(rows source "$source_db")" "$(rows target "$target_db")"; done ) &
counter=$!
pids+=("$counter")

# The payment service writes 200 payments/s, each with its idempotency key, as
# the service does: as its own role (the one the cutover fences), through the
# writer record db.payments.internal, resolved on every new connection. This
# machine has no DNS for the private zone: the workload reads the record from
# Route 53's API and connects to the server the record names (the emulator's
# servers listen on their own ports). The role exists once preflight passed.
wait_for '{.status.conditions[?(@.type=="PreflightPassed")].status}' "True"
app_db=$(aws --endpoint-url "$endpoint" secretsmanager get-secret-value \
  --secret-id "$(kubectl get pm payments-pr6185 -o jsonpath='{.status.stack.outputs.AppDbSecretArn}')" \
  --query SecretString --output text | python3 -c '
import json, sys
s = json.load(sys.stdin)
open(sys.argv[1], "w").write(s["password"])
print("-host", s["host"], "-port", s["port"], "-user", s["username"], "-dbname", s["dbname"], "-password-file", sys.argv[1], "-sslmode require")
' "$work/app.password")
zone_id=$(kubectl get pm payments-pr6185 -o jsonpath='{.status.stack.outputs.HostedZoneId}')
addr_ports=$(curl -fsS "$endpoint/_tapstack/rds/servers" | python3 -c '
import json, sys
print(" ".join("-addr-port %s=%d" % (s["host"], s["port"]) for s in json.load(sys.stdin)["servers"]))')
echo "  the service's connection: $app_db -route53-zone $zone_id $addr_ports"
# shellcheck disable=SC2086
"$work/paymentload" run $app_db -route53-zone "$zone_id" $addr_ports -rate 200 -refund-every -1 -progress 0 \
  -keys-out "$work/run.keys" >"$work/paymentload.out" 2>&1 &
load=$!
pids+=("$load")
wait_for '{.status.phase}/{.status.conditions[?(@.type=="LagWithinThreshold")].status}' "Replicating/True"
sleep 6 # CDC carries on while the workload writes

step "DMS now reports 95 s of target latency (over the 60 s threshold): LAG jumps, READY and the cutover gates drop"
task_arn=$(kubectl get pm payments-pr6185 -o jsonpath='{.status.stack.outputs.DMSTaskArn}')
control dms/task "{\"taskArn\": \"$task_arn\", \"latencySource\": 40, \"latencyTarget\": 95}"
wait_for '{.status.conditions[?(@.type=="LagWithinThreshold")].reason}' "LagAboveThreshold"
condition CutoverReady
step "DMS publishes the measured latency again: the gates pass"
control dms/task "{\"taskArn\": \"$task_arn\", \"latencySource\": null, \"latencyTarget\": null}"
wait_for '{.status.conditions[?(@.type=="CutoverReady")].status}' "True"
condition CutoverReady

step "kubectl patch pm payments-pr6185 --type merge -p '{\"spec\":{\"cutover\":{\"approved\":true}}}'   (steps 10/25/50/100 %, the freeze, the writer flip)"
kubectl patch pm payments-pr6185 --type merge -p '{"spec":{"cutover":{"approved":true}}}'
kubectl get pm payments-pr6185 -o jsonpath='{"  approved by (stamped by the admission webhook): "}{.metadata.annotations.payments\.tapstack\.io/approved-by}{" at "}{.metadata.annotations.payments\.tapstack\.io/approved-at}{"\n"}'
wait_for '{.status.cutover.state}' "Completed"
sleep 3 # the service writes to the target now
kill "$counter" 2>/dev/null || true
kill -INT "$load"
wait "$load" || true

step "the payment workload's figures (it wrote the whole time: to the source, through the freeze, then to the target)"
sed 's/^/  /' "$work/paymentload.out"
kubectl get pm payments-pr6185 -o jsonpath='{"  freeze (fence applied -> writer on the target): "}{.status.cutover.freezeMillis}{" ms; sessions ended: "}{.status.cutover.ledger.sessionsTerminated}{", sequences set: "}{.status.cutover.ledger.sequencesSet}{"\n"}'

step "the ledger check on the target: every acknowledged payment, seeded, written before or after the flip, exactly once"
# shellcheck disable=SC2086
"$work/paymentload" check $target_db -keys "$work/seed.keys" -keys "$work/run.keys" -wait 60s | sed 's/^/  /'
printf '  rows   %s   %s\n' "$(rows source "$source_db")" "$(rows target "$target_db")"
sleep 1
kill "$watcher" 2>/dev/null || true
wait "$watcher" 2>/dev/null || true

step "what the operator wrote back"
for c in StackReady PreflightPassed ReplicationRunning LagWithinThreshold DataValidated CutoverReady CutoverComplete Ready; do condition "$c"; done
kubectl get pm payments-pr6185 -o jsonpath='{"full load: "}{.status.replication.fullLoadPercent}{"%, tables loaded: "}{.status.replication.tablesLoaded}{", validation: "}{.status.replication.validationState}{"\n"}'
echo "history:"
kubectl get pm payments-pr6185 -o jsonpath='{range .status.history[*]}  {.time}  {.phase}  {.message}{"\n"}{end}'
echo "a few of the stack's outputs:"
for key in DMSTaskArn SourceDbEndpoint LoadBalancerDnsName DashboardUrl; do
  printf '  %-22s %s\n' "$key" "$(kubectl get pm payments-pr6185 -o jsonpath="{.status.stack.outputs.$key}")"
done

step "the stack and the task, as the AWS CLI sees them"
aws --endpoint-url "$endpoint" cloudformation describe-stacks --stack-name TapStackpr6185 \
  --query 'Stacks[0].[StackName,StackStatus]' --output text
aws --endpoint-url "$endpoint" cloudformation list-stack-resources --stack-name TapStackpr6185 \
  --query 'length(StackResourceSummaries)' --output text | sed 's/^/  resources: /'
aws --endpoint-url "$endpoint" dms describe-replication-tasks \
  --query 'ReplicationTasks[0].[ReplicationTaskIdentifier,Status,MigrationType]' --output text

step "bad input is refused by the API server, naming the field"
kubectl patch pm payments-pr6185 --type merge -p '{"spec":{"cutover":{"steps":[10,50]}}}' || true
kubectl patch pm payments-pr6185 --type merge -p '{"spec":{"environmentSuffix":"other"}}' || true
step "the approver cannot be rewritten: the webhook keeps the stamp and says so"
kubectl annotate pm payments-pr6185 --overwrite payments.tapstack.io/approved-by=mallory
kubectl get pm payments-pr6185 -o jsonpath='{"  approved by: "}{.metadata.annotations.payments\.tapstack\.io/approved-by}{"\n"}'

if [[ -n ${DEMO_KEEP:-} ]]; then
  step "running until Ctrl-C; in another terminal:"
  echo "  export KUBECONFIG=$work/kubeconfig AWS_ENDPOINT_URL=$endpoint AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1"
  echo "  $assets/kubectl get pm -w"
  echo "  $assets/kubectl patch pm payments-pr6185 --type merge -p '{\"spec\":{\"tags\":{\"MigrationPhase\":\"rehearsal\"}}}'   # a change set updates the stack"
  echo "  $assets/kubectl patch pm payments-pr6185 --type merge -p '{\"spec\":{\"replication\":{\"paused\":true}}}'   # stops the DMS task; false resumes it"
  echo "  $assets/kubectl delete pm payments-pr6185      # stops DMS, empties the buckets, deletes the stack, then the CR"
  wait "${pids[0]}"
  exit 0
fi

step "kubectl delete pm payments-pr6185   (the operator stops DMS, empties the buckets and deletes the stack first)"
kubectl delete pm payments-pr6185 --timeout="${TIMEOUT}s"
aws --endpoint-url "$endpoint" cloudformation describe-stacks --stack-name TapStackpr6185 2>&1 | tail -n 1 || true

echo
echo "demo: done in $(( $(date +%s) - started ))s. Run DEMO_KEEP=1 make demo to keep everything up and try kubectl yourself."
