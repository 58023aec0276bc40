#!/usr/bin/env bash
# Builds the cPanel bundle (make cpanel-bundle): one archive that a shared-hosting account
# unpacks as the document root of the site, or installs with install.sh.
#
#   scripts/package-cpanel.sh                 # cargo zigbuild for glibc 2.17, profile "dist"
#   PACKAGE_BIN_DIR=DIR scripts/package-cpanel.sh   # package the binaries in DIR (no build)
#   PACKAGE_NATIVE=1 [PACKAGE_PROFILE=release] [PACKAGE_SKIP_BUILD=1] ...
#                                             # plain cargo build (the build machine's glibc)
# More settings: PACKAGE_GLIBC (2.17), PACKAGE_PROFILE (dist), PACKAGE_OUT_DIR
# (<target dir>/cpanel), PACKAGE_TARGET_DIR (the zigbuild's cargo target dir, default
# <machine cache>/cpanel-target), PACKAGE_SKIP_FRONTEND=1 (do not rebuild a stale static/dist).
#
# Output (stdout: the archive's path): <out dir>/dashboard-cpanel.tar.gz holding
#   dashboard-cpanel/.htaccess              routing to the binaries, CGIPassAuth On,
#                                           FastCGI where mod_fcgid exists, else CGI
#   dashboard-cpanel/bin/<group>.fcgi       auth production data downtime metrics dashboard
#   dashboard-cpanel/bin/jobs, bin/dashctl  cron and SSH only (the .htaccess refuses bin/)
#   dashboard-cpanel/static/dist/...        the built front end
#   dashboard-cpanel/.env.example           copy to bin/.env and fill it in
#   dashboard-cpanel/{README.md,cron.txt,install.sh,VERSION,SHA256SUMS}
# The folder is a complete document root: unpack it where the (sub)domain points, write
# bin/.env, done (README.md); install.sh puts the same into any folder, and updates it.
#
# The default build targets glibc 2.17 (CentOS/CloudLinux 7 and every newer host) through
# Zig, and fails when a binary needs a newer glibc symbol (objdump -T). Missing tools are
# installed once: cargo-zigbuild (cargo install, ~8 minutes on 2 cores) and Zig (the PyPI
# package ziglang, in .run/pytools). Sizes and glibc needs are printed (stderr).
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

HTTP_BINS=(auth production data downtime metrics dashboard)
CLI_BINS=(jobs dashctl)
GLIBC="${PACKAGE_GLIBC:-2.17}"
TRIPLE="x86_64-unknown-linux-gnu"
profile="${PACKAGE_PROFILE:-dist}"
if ! grep -q "^\[profile\.$profile\]" Cargo.toml && [ "$profile" != release ] && [ "$profile" != dev ]; then
    die "Cargo.toml has no [profile.$profile]"
fi
out_dir="${PACKAGE_OUT_DIR:-$TARGET_DIR/cpanel}"
mode=zig
if [ -n "${PACKAGE_BIN_DIR:-}" ]; then
    mode=given
elif [ "${PACKAGE_NATIVE:-0}" = 1 ]; then
    mode=native
fi

# ---------------------------------------------------------------- tools
# Zig: on PATH, importable as the Python module ziglang, or installed into .run/pytools.
ensure_zig() {
    command -v zig >/dev/null 2>&1 && return 0
    python3 -c 'import ziglang' >/dev/null 2>&1 && return 0
    local venv="$RUN_ROOT/pytools"
    if ! "$venv/bin/python3" -c 'import ziglang' >/dev/null 2>&1; then
        command -v python3 >/dev/null 2>&1 || die "python3 is needed to install Zig (pip package ziglang)"
        log "installing Zig (PyPI package ziglang) into $venv"
        mkdir_public "$RUN_ROOT"
        [ -x "$venv/bin/python3" ] || python3 -m venv "$venv" || die "python3 -m venv failed (apt-get install python3-venv)"
        "$venv/bin/pip" install -q --disable-pip-version-check ziglang || die "pip install ziglang failed"
    fi
    # cargo-zigbuild runs `python3 -m ziglang` when no zig is on PATH.
    export PATH="$venv/bin:$PATH"
}

ensure_zigbuild() {
    cargo zigbuild --help >/dev/null 2>&1 && return 0
    log "installing cargo-zigbuild (cargo install --locked; several minutes, once)"
    cargo install --locked cargo-zigbuild >&2 || die "cargo install cargo-zigbuild failed"
}

# static/dist is embedded in the binaries and shipped: rebuild it when its sources are newer.
frontend_stale() {
    [ -f package.json ] || return 1
    local manifest=static/dist/manifest.json
    [ -f "$manifest" ] || return 0
    [ -n "$(find static/src templates package.json package-lock.json scripts/build-frontend.mjs \
        -newer "$manifest" -print -quit 2>/dev/null)" ]
}

# ---------------------------------------------------------------- build
case "$mode" in
    given)
        bin_dir="$PACKAGE_BIN_DIR"
        ;;
    native)
        if [ "${PACKAGE_SKIP_BUILD:-0}" != 1 ]; then
            BUILD_PROFILE="$profile" scripts/build.sh >&2
        fi
        bin_dir="$TARGET_DIR/$profile"
        ;;
    zig)
        if [ "${PACKAGE_SKIP_FRONTEND:-0}" != 1 ] && frontend_stale; then
            log "building the front end (static/dist is older than its sources)"
            BUILD_SKIP_CARGO=1 scripts/build.sh >&2
        fi
        ensure_zig
        ensure_zigbuild
        pkgs=()
        for b in "${HTTP_BINS[@]}" "${CLI_BINS[@]}"; do pkgs+=(-p "$b"); done
        log "cargo zigbuild --profile $profile --target $TRIPLE.$GLIBC (${HTTP_BINS[*]} ${CLI_BINS[*]})"
        t0="$(now_ms)"
        # The bundle's own target dir in the machine cache (lib.sh): the glibc-2.17 build
        # shares nothing with the native one, and a fresh clone reuses its dependencies.
        zig_target_dir="${PACKAGE_TARGET_DIR:-$CACHE_ROOT/cpanel-target}"
        cargo zigbuild --profile "$profile" --target "$TRIPLE.$GLIBC" --target-dir "$zig_target_dir" \
            "${pkgs[@]}" >&2
        log "built in $(fmt_ms $(( $(now_ms) - t0 )))"
        bin_dir="$zig_target_dir/$TRIPLE/$profile"
        ;;
esac

# ---------------------------------------------------------------- checks
# The newest GLIBC_x.y symbol version a binary needs ("" when it needs none).
max_glibc() {
    objdump -T "$1" 2>/dev/null | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/^GLIBC_//' | sort -uV | tail -n 1
}
version_le() {   # A B: true when A <= B
    [ "$(printf '%s\n%s\n' "$1" "$2" | sort -V | head -n 1)" = "$1" ]
}

command -v objdump >/dev/null 2>&1 || die "objdump is missing (apt-get install binutils)"
bad=()
total=0
printf '%-10s %10s  %s\n' binary bytes "needs glibc" >&2
for b in "${HTTP_BINS[@]}" "${CLI_BINS[@]}"; do
    f="$bin_dir/$b"
    [ -x "$f" ] || die "$f is missing"
    need="$(max_glibc "$f")"
    size="$(stat -c %s "$f")"
    total=$((total + size))
    printf '%-10s %10s  %s\n' "$b" "$size" "${need:-none}" >&2
    if [ "$mode" = zig ] && [ -n "$need" ] && ! version_le "$need" "$GLIBC"; then
        bad+=("$b needs GLIBC_$need")
    fi
done
printf '%-10s %10s\n' total "$total" >&2
[ "${#bad[@]}" -eq 0 ] || die "built for glibc $GLIBC but: ${bad[*]}"

# ---------------------------------------------------------------- stage
stage="$out_dir/dashboard-cpanel"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/static"
for b in "${HTTP_BINS[@]}"; do
    cp "$bin_dir/$b" "$stage/bin/$b.fcgi"
done
for b in "${CLI_BINS[@]}"; do
    cp "$bin_dir/$b" "$stage/bin/$b"
done
strip "$stage/bin/"* 2>/dev/null || true
if [ -d static/dist ]; then
    # Only the built front end is served (/static/dist/...); static/src is its source.
    cp -R static/dist "$stage/static/dist"
else
    warn "static/dist does not exist: the bundle has no front end (run make build)"
fi
cp cgi/.htaccess "$stage/.htaccess"
cp cgi/env.example "$stage/.env.example"
cp cgi/install.sh cgi/README.md cgi/cron.txt "$stage/"
case "$mode" in
    zig) built_for="$TRIPLE, glibc $GLIBC or newer (cargo zigbuild)" ;;
    *) built_for="$TRIPLE, glibc $(max_glibc "$stage/bin/dashboard.fcgi") or newer" ;;
esac
{
    echo "Dashboard SaaS Industrial $(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n 1)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    if [ "$mode" = given ]; then
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from the binaries of $bin_dir"
    else
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ), profile $profile"
    fi
    echo "for $built_for"
} >"$stage/VERSION"
(cd "$stage" && sha256sum bin/* >SHA256SUMS)
find "$stage" -type d -exec chmod 755 {} +
find "$stage" -type f -exec chmod 644 {} +
chmod 755 "$stage/install.sh" "$stage/bin/"*

archive="$out_dir/dashboard-cpanel.tar.gz"
tar -C "$out_dir" --sort=name --owner=0 --group=0 --numeric-owner -czf "$archive.tmp" dashboard-cpanel
mv -f "$archive.tmp" "$archive"
log "$(du -h "$archive" | cut -f1) $archive ($(head -n 1 "$stage/VERSION"), for $built_for)"
printf '%s\n' "$archive"
