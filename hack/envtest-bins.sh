#!/usr/bin/env bash
# Builds the control-plane binaries envtest needs (kube-apiserver, etcd) and a
# kubectl of the same minor from their Go modules, and prints the directory that
# holds them (use it as KUBEBUILDER_ASSETS).
#
# Prebuilt envtest archives cannot be downloaded everywhere we run, but the Go
# module proxy always can be reached, so we build from source. The result is cached
# outside the repository, keyed by version, so a fresh clone on the same machine
# (CI) pays the ~5 minute cold build once.
#
# Usage: hack/envtest-bins.sh            # build if needed, print the directory
# Env:   KUBE_VERSION, ETCD_VERSION, ENVTEST_CACHE
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
ETCD_VERSION=${ETCD_VERSION:-v3.6.6}
CACHE_ROOT=${ENVTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/payment-migration-operator/envtest}
dest="$CACHE_ROOT/k8s-$KUBE_VERSION-etcd-$ETCD_VERSION"

log() { echo "envtest-bins: $*" >&2; }

complete() { [[ -x $dest/kube-apiserver && -x $dest/etcd && -x $dest/kubectl ]]; }

if complete; then
  echo "$dest"
  exit 0
fi

mkdir -p "$CACHE_ROOT"
# Two builds racing on the same cache (make test and make demo started together)
# would both spend five minutes and then clobber each other's output.
exec 9>"$CACHE_ROOT/.lock"
flock 9
if complete; then
  echo "$dest"
  exit 0
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS=-mod=mod CGO_ENABLED=0
staging_version="v0.${KUBE_VERSION#v1.}"

# --- kube-apiserver and kubectl --------------------------------------------------
# k8s.io/kubernetes requires its staging modules (k8s.io/api, k8s.io/apiserver, ...)
# at v0.0.0 and replaces them with ./staging paths that do not exist in the module
# zip. A wrapper module replaces each with the published release of the same minor.
log "building kube-apiserver and kubectl $KUBE_VERSION (cold build takes about 5 minutes)"
mkdir -p "$work/kube"
kube_mod=$(cd "$work/kube" && go mod download -json "k8s.io/kubernetes@$KUBE_VERSION" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
[[ -f $kube_mod ]] || { log "could not fetch go.mod of k8s.io/kubernetes@$KUBE_VERSION"; exit 1; }
go_directive=$(sed -n 's/^go \(.*\)$/\1/p' "$kube_mod" | head -n1)
{
  echo "module envtestbins/kube"
  echo
  echo "go $go_directive"
  echo
  echo "require k8s.io/kubernetes $KUBE_VERSION"
  echo
  # Every "k8s.io/<name> => ./staging/src/k8s.io/<name>" line names one staging module.
  grep -oE 'k8s\.io/[a-z0-9-]+ => \./staging/src/k8s\.io/[a-z0-9-]+' "$kube_mod" |
    awk -v v="$staging_version" '{print "replace " $1 " => " $1 " " v}'
} >"$work/kube/go.mod"
cat >"$work/kube/tools.go" <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
(cd "$work/kube" && go mod tidy -e >&2 && go build -trimpath -o "$work/out/" k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kubectl >&2)

# --- etcd ---------------------------------------------------------------------------
# The etcd binary's main lives in the repository's root module, which is awkward to
# consume; etcdmain in the server module is the same entry point.
log "building etcd $ETCD_VERSION"
mkdir -p "$work/etcd"
cat >"$work/etcd/go.mod" <<GOMOD
module envtestbins/etcd

go 1.24

require go.etcd.io/etcd/server/v3 $ETCD_VERSION
GOMOD
cat >"$work/etcd/main.go" <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
(cd "$work/etcd" && go mod tidy >&2 && go build -trimpath -o "$work/out/etcd" . >&2)

mkdir -p "$dest.tmp"
mv "$work/out/kube-apiserver" "$work/out/kubectl" "$work/out/etcd" "$dest.tmp/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
log "ready: $dest"
echo "$dest"
