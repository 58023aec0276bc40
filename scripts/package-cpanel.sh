#!/usr/bin/env bash
# Builds the package a cPanel account installs with cgi/install.sh.
#
#   scripts/package-cpanel.sh               # cargo profile "dist" (smaller binaries)
#   PACKAGE_PROFILE=release scripts/package-cpanel.sh   # reuse target/release (faster)
#   PACKAGE_SKIP_BUILD=1 ...                # package what is already built
#
# Output (stdout: its path): target/cpanel/dashboard-cpanel.tar.gz holding
#   dashboard-cpanel/{install.sh,README.md,cron.txt,htaccess,.env.example,VERSION}
#   dashboard-cpanel/bin/{auth,production,data,downtime,metrics,dashboard,jobs,dashctl}
#   dashboard-cpanel/static/...
set -euo pipefail
# shellcheck source=scripts/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO_ROOT"

profile="${PACKAGE_PROFILE:-dist}"
if [ "$profile" = dist ] && ! grep -q '^\[profile\.dist\]' Cargo.toml; then
    profile=release
fi
if [ "${PACKAGE_SKIP_BUILD:-0}" != 1 ]; then
    BUILD_PROFILE="$profile" scripts/build.sh
fi
bin_dir="target/$profile"

out_dir="target/cpanel"
stage="$out_dir/dashboard-cpanel"
rm -rf "$stage"
mkdir -p "$stage/bin" "$stage/static"
for b in auth production data downtime metrics dashboard jobs dashctl; do
    [ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing"
    cp "$bin_dir/$b" "$stage/bin/$b"
    strip "$stage/bin/$b" 2>/dev/null || true
done
if [ -d static ]; then
    # Everything except sources the build turns into other files.
    cp -R static/. "$stage/static/"
fi
cp cgi/install.sh cgi/README.md cgi/cron.txt "$stage/"
cp cgi/.htaccess "$stage/htaccess"
cp cgi/env.example "$stage/.env.example"
{
    echo "version $(sed -n 's/^version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)"
    echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo none)"
    echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) profile $profile"
} >"$stage/VERSION"
chmod 755 "$stage/install.sh" "$stage/bin/"*
tar -C "$out_dir" -czf "$out_dir/dashboard-cpanel.tar.gz" dashboard-cpanel
log "$(du -h "$out_dir/dashboard-cpanel.tar.gz" | cut -f1) $out_dir/dashboard-cpanel.tar.gz"
printf '%s\n' "$REPO_ROOT/$out_dir/dashboard-cpanel.tar.gz"
