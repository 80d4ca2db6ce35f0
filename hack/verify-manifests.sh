#!/usr/bin/env bash
# verify-manifests.sh CONTROLLER_GEN: fails when the checked-in generated files differ from what
# controller-gen makes of api/ now: the CRD in config/crd/bases and
# api/v1alpha1/zz_generated.deepcopy.go. It generates into a temporary directory and diffs, so
# the work tree is never changed. `make verify-manifests` runs it; `make manifests` fixes it.
set -euo pipefail

controller_gen=${1:?usage: hack/verify-manifests.sh CONTROLLER_GEN}
cd "$(dirname "$0")/.."

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The same generators and paths as `make manifests`; only the output directories differ.
# output:object:dir collects every package's deepcopy file in one directory, which is right while
# api/v1alpha1 is the only API package.
"$controller_gen" crd object paths=./api/... \
	output:crd:artifacts:config="$tmp/crd" output:object:dir="$tmp/object"

stale=0
if ! diff -ru config/crd/bases "$tmp/crd"; then
	stale=1
fi
if ! diff -u api/v1alpha1/zz_generated.deepcopy.go "$tmp/object/zz_generated.deepcopy.go"; then
	stale=1
fi
if [ "$stale" -ne 0 ]; then
	echo >&2
	echo "verify-manifests: the generated files are stale: api/ changed but config/crd/bases or" >&2
	echo "api/v1alpha1/zz_generated.deepcopy.go were not regenerated (diff above: - checked in, + generated)." >&2
	echo "Run 'make manifests' and commit the result." >&2
	exit 1
fi
echo "verify-manifests: config/crd/bases and api/v1alpha1/zz_generated.deepcopy.go are up to date."
