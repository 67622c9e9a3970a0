#!/usr/bin/env bash
# Validates every manifest in deploy/k8s against the Kubernetes schemas, strictly (unknown fields
# are errors), for the oldest and the newest Kubernetes versions we support. Run by scripts/test.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/tools.sh
ensure_kubernetes_validate
manifests=()
for file in deploy/k8s/*.yaml; do
  [[ "$(basename "$file")" == kustomization.yaml ]] || manifests+=("$file")
done
for version in 1.30 1.37; do
  kubernetes-validate --strict --quiet -k "$version" "${manifests[@]}"
done
echo "deploy/k8s: ${#manifests[@]} manifests valid against Kubernetes 1.30 and 1.37 (strict)"
