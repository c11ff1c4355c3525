#!/usr/bin/env bash
# The main job, locally: a Kubernetes control plane built from source, the CRD,
# the manager, and the sample PaymentMigration, watched with kubectl. Everything
# it starts is stopped when it ends (or on Ctrl-C).
#
# Env: DEMO_WATCH_SECONDS (how long to watch, default 30), DEMO_KEEP=1 (stay up until Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."

WATCH_SECONDS=${DEMO_WATCH_SECONDS:-30}
work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
  echo "demo: stopped everything it started"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }

step "building the control plane binaries (cached after the first run)"
assets=$(hack/envtest-bins.sh)
export KUBEBUILDER_ASSETS=$assets
kubectl() { "$assets/kubectl" --kubeconfig "$work/kubeconfig" "$@"; }

step "building the manager"
go build -o "$work/manager" ./cmd/manager
go build -o "$work/controlplane" ./hack/controlplane

step "starting a local control plane with the PaymentMigration CRD"
"$work/controlplane" --write-kubeconfig "$work/kubeconfig" --crd-dir config/crd/bases >"$work/controlplane.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 120); do
  [[ -s $work/kubeconfig ]] && grep -q "ready" "$work/controlplane.log" && break
  kill -0 "${pids[0]}" 2>/dev/null || { cat "$work/controlplane.log"; exit 1; }
  sleep 0.5
done
kubectl get crd paymentmigrations.payments.tapstack.io

step "starting the manager"
KUBECONFIG=$work/kubeconfig "$work/manager" --metrics-bind-address=0 --health-probe-bind-address=0 >"$work/manager.log" 2>&1 &
pids+=($!)

step "kubectl apply -f config/samples/payments_v1alpha1_paymentmigration.yaml"
kubectl apply -f config/samples/payments_v1alpha1_paymentmigration.yaml

step "kubectl get paymentmigration -w   (for ${WATCH_SECONDS}s)"
timeout "$WATCH_SECONDS" "$assets/kubectl" --kubeconfig "$work/kubeconfig" get paymentmigration -w || true

step "the migration as the API server stored it (defaults filled in)"
kubectl get pm payments-pr6185 -o yaml

step "bad input is refused by the API server, naming the field"
kubectl patch pm payments-pr6185 --type merge -p '{"spec":{"cutover":{"steps":[10,50]}}}' || true
kubectl patch pm payments-pr6185 --type merge -p '{"spec":{"environmentSuffix":"other"}}' || true

step "the manager's log (last lines)"
tail -n 3 "$work/manager.log"

if [[ -n ${DEMO_KEEP:-} ]]; then
  step "running until Ctrl-C; in another terminal:"
  echo "  export KUBECONFIG=$work/kubeconfig"
  echo "  $assets/kubectl get pm -w"
  wait "${pids[0]}"
else
  echo
  echo "demo: set DEMO_KEEP=1 to keep the control plane and manager running and try kubectl yourself"
fi
