# shellcheck shell=bash
# Shared set-up for scripts/run.sh and scripts/test.sh (sourced, not executed).
#
#   ensure_system_packages   Debian packages (apt-get as root; otherwise print the sudo line and stop)
#   ensure_venv              .venv made with the python3 on PATH (3.11 or newer)
#   ensure_requirements P    pinned requirements for profile P (run | test), skipped when unchanged
#   manage ARGS...           python manage.py ARGS... inside the virtualenv

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT_DIR/.venv"
PY="$VENV/bin/python"

# weasyprint's libraries and a font, Chromium for the browser tests, xmlsec1 for the test SAML identity
# provider (pysaml2 signs with it), and the PDF / QR tools later features use (tickets are checked with
# pdftotext and zbarimg).
SYSTEM_PACKAGES=(
    libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz0b libharfbuzz-subset0 fonts-dejavu-core
    chromium xmlsec1
    poppler-utils zbar-tools
)

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }
die() { printf '\033[31mError: %s\033[0m\n' "$*" >&2; exit 1; }

# Which of the given Debian packages are not installed (dpkg -s: no network, fast).
missing_packages() {
    local pkg
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || printf '%s\n' "$pkg"
    done
}

python_ok() {
    command -v python3 >/dev/null 2>&1 && python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

ensure_system_packages() {
    command -v dpkg >/dev/null 2>&1 || die "this set-up expects Debian (dpkg/apt-get); install the equivalent of: ${SYSTEM_PACKAGES[*]}"
    local wanted=("${SYSTEM_PACKAGES[@]}")
    if ! python_ok; then
        wanted+=(python3 python3-venv)
    elif [[ "$(readlink -f "$(command -v python3)")" == /usr/bin/* ]]; then
        wanted+=(python3-venv)  # Debian's own python3 needs it for "python3 -m venv"
    fi
    local missing
    mapfile -t missing < <(missing_packages "${wanted[@]}")
    if ((${#missing[@]} == 0)); then
        return 0
    fi
    if [[ "$(id -u)" != 0 ]]; then
        printf 'These Debian packages are missing: %s\nInstall them, then run this again:\n\n' "${missing[*]}" >&2
        printf '    sudo apt-get update && sudo apt-get install -y --no-install-recommends %s\n\n' "${missing[*]}" >&2
        exit 1
    fi
    say "Installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update
    apt-get install -y --no-install-recommends "${missing[@]}"
}

ensure_venv() {
    python_ok || die "Python 3.11 or newer is needed as python3 on PATH (found: $(python3 --version 2>&1 || echo none))"
    if [[ -x "$PY" ]] && ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
        say "The virtualenv in .venv is broken or too old: making a new one"
        rm -rf "$VENV"
    fi
    if [[ ! -x "$PY" ]]; then
        say "Creating .venv with $(python3 --version)"
        python3 -m venv "$VENV"
    fi
}

requirements_hash() {
    (cd "$ROOT_DIR" && sha256sum "$@") | sha256sum | cut -d' ' -f1
}

# Install the pinned requirements of a profile, only when the requirement files changed since the
# last install (a stamp in .venv remembers their hash). "test" also satisfies "run".
ensure_requirements() {
    local profile="$1" files
    case "$profile" in
        run) files=(requirements.txt) ;;
        test) files=(requirements.txt requirements-dev.txt) ;;
        *) die "unknown requirements profile: $profile" ;;
    esac
    local want test_hash
    want="$(requirements_hash "${files[@]}")"
    test_hash="$(requirements_hash requirements.txt requirements-dev.txt)"
    if [[ "$(cat "$VENV/.stamp-$profile" 2>/dev/null)" == "$want" ]] ||
        [[ "$(cat "$VENV/.stamp-test" 2>/dev/null)" == "$test_hash" ]]; then
        return 0
    fi
    say "Installing Python requirements (${files[-1]})"
    # lxml and xmlsec come as wheels only: built from source they would each link their own libxml2
    # and xmlsec refuses to import. Playwright is told never to fetch browsers: Debian's chromium is used.
    PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 "$PY" -m pip install --disable-pip-version-check --quiet \
        --only-binary lxml,xmlsec -r "$ROOT_DIR/${files[-1]}"
    "$PY" -c 'import lxml.etree, xmlsec' || die "lxml and xmlsec do not import together (different libxml2 builds?)"
    printf '%s\n' "$want" >"$VENV/.stamp-$profile"
}

manage() {
    "$PY" "$ROOT_DIR/manage.py" "$@"
}

# Migrations, and static files when they are served from STATIC_ROOT (DEBUG off uses the manifest).
prepare_database_and_static() {
    say "Applying migrations"
    manage migrate --noinput
    mkdir -p "$ROOT_DIR/var/static"  # whitenoise warns when STATIC_ROOT does not exist
    if ! is_true "${DEBUG:-}"; then
        say "Collecting static files"
        manage collectstatic --noinput --verbosity 0
    fi
}

is_true() {
    case "${1,,}" in
        1 | true | yes | on) return 0 ;;
        *) return 1 ;;
    esac
}
