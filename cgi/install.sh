#!/usr/bin/env bash
# Installs (or updates) Dashboard SaaS Industrial in a cPanel account. See README.md.
#
#   bash install.sh DEST                       # from the unpacked package (this folder)
#   bash install.sh DEST dashboard-cpanel.tar.gz   # unpacks the package first
#
# DEST is the folder the site serves, e.g. ~/public_html (the whole domain), a
# subdomain's document root, or ~/public_html/dashboard (then set BASE_PATH=/dashboard).
# Result:
#   DEST/.htaccess              (an existing, different one is kept as .htaccess.bak-DATE)
#   DEST/bin/<name>.fcgi        auth production data downtime metrics dashboard (755)
#   DEST/bin/jobs, bin/dashctl  command line only (755)
#   DEST/bin/.env               created from .env.example when missing, with a new
#                               JWT_SECRET (600); never overwritten
#   DEST/static/                front-end files (644)
# Binaries are replaced by rename, so running FastCGI processes finish undisturbed and
# the next request starts the new version. Running it again is harmless.
set -euo pipefail

die() { printf 'install.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'install.sh: %s\n' "$*"; }

if [ $# -lt 1 ] || [ $# -gt 2 ]; then die "usage: bash install.sh DEST [PACKAGE.tar.gz]"; fi
case "$1" in -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
DEST="$1"
umask 022

SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
TMP=""
cleanup() { if [ -n "$TMP" ]; then rm -rf "$TMP"; fi; }
trap cleanup EXIT
if [ $# -eq 2 ]; then
    [ -f "$2" ] || die "package $2 not found"
    TMP="$(mktemp -d "${TMPDIR:-/tmp}/dashboard-install.XXXXXX")"
    tar -xzf "$2" -C "$TMP" || die "could not unpack $2"
    SRC="$(dirname "$(find "$TMP" -maxdepth 3 -type d -name bin -print -quit)")"
    [ -d "$SRC/bin" ] || die "$2 holds no bin/ folder: is it the dashboard-cpanel package?"
fi
[ -d "$SRC/bin" ] || die "no bin/ folder next to install.sh: run it from the unpacked package or give the .tar.gz"

HTTP_BINS=(auth production data downtime metrics dashboard)
CLI_BINS=(jobs dashctl)
# The package names the web binaries bin/<name>.fcgi (older packages: bin/<name>).
src_bin() { if [ -f "$SRC/bin/$1.fcgi" ]; then echo "$SRC/bin/$1.fcgi"; else echo "$SRC/bin/$1"; fi; }
for b in "${HTTP_BINS[@]}" "${CLI_BINS[@]}"; do
    [ -f "$(src_bin "$b")" ] || die "the package lacks bin/$b"
done

mkdir -p "$DEST/bin" "$DEST/static"
DEST="$(cd "$DEST" && pwd -P)"
# suEXEC refuses programs in folders writable by group or others.
chmod 755 "$DEST" "$DEST/bin" "$DEST/static"

# install_file SRC DST MODE — copy then rename (atomic; no "Text file busy"). Installing the
# unpacked package onto itself (DEST is the package folder) only sets the mode.
install_file() {
    if [ "$1" -ef "$2" ]; then chmod "$3" "$2"; return; fi
    cp "$1" "$2.new.$$"
    chmod "$3" "$2.new.$$"
    mv -f "$2.new.$$" "$2"
}

for b in "${HTTP_BINS[@]}"; do
    install_file "$(src_bin "$b")" "$DEST/bin/$b.fcgi" 755
done
for b in "${CLI_BINS[@]}"; do
    install_file "$(src_bin "$b")" "$DEST/bin/$b" 755
done
say "binaries installed in $DEST/bin"

if [ -d "$SRC/static" ]; then
    [ "$SRC/static" -ef "$DEST/static" ] || cp -R "$SRC/static/." "$DEST/static/"
    find "$DEST/static" -type d -exec chmod 755 {} +
    find "$DEST/static" -type f -exec chmod 644 {} +
fi

# .htaccess (older packages named it htaccess, so that file managers show it).
HT_SRC="$SRC/.htaccess"; [ -f "$HT_SRC" ] || HT_SRC="$SRC/htaccess"
[ -f "$HT_SRC" ] || die "the package lacks htaccess"
if [ -f "$DEST/.htaccess" ] && ! cmp -s "$HT_SRC" "$DEST/.htaccess"; then
    backup="$DEST/.htaccess.bak-$(date +%Y%m%d%H%M%S)"
    cp -p "$DEST/.htaccess" "$backup"
    say "kept the previous .htaccess as $backup (merge any rules of your own back in)"
fi
install_file "$HT_SRC" "$DEST/.htaccess" 644

# bin/.env — configuration and secrets: created once, never overwritten.
ENV_FILE="$DEST/bin/.env"
if [ ! -f "$ENV_FILE" ]; then
    EX="$SRC/.env.example"; [ -f "$EX" ] || EX="$SRC/env.example"
    [ -f "$EX" ] || die "the package lacks .env.example"
    secret="$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')"
    (umask 077; sed "s/^JWT_SECRET=.*/JWT_SECRET=$secret/" "$EX" >"$ENV_FILE")
    say "created $ENV_FILE: edit DATABASE_URL and DB_GLOBAL_NAME before the first request"
    NEW_ENV=1
else
    NEW_ENV=0
fi
chmod 600 "$ENV_FILE"

cat <<EOF

Installed in $DEST
Next steps (see README.md):
EOF
if [ "$NEW_ENV" = 1 ]; then
    echo "  1. Edit $ENV_FILE (database user, password, names)."
else
    echo "  1. $ENV_FILE kept as it was."
fi
cat <<EOF
  2. Create or upgrade the global database:
       cd $DEST/bin && ./dashctl migrate && ./dashctl seed-widget-catalog
  3. First install only: register the tenant and the users (README.md, step 6).
  4. Cron jobs (cPanel → Cron Jobs, or crontab -e):
*/15 * * * * cd "$DEST/bin" && /usr/bin/flock -n "\$HOME/.dashboard-jobs-downtime.lock" ./jobs downtime >> "\$HOME/dashboard-jobs.log" 2>&1
10 3 * * * cd "$DEST/bin" && /usr/bin/flock -n "\$HOME/.dashboard-jobs-partitions.lock" ./jobs partitions >> "\$HOME/dashboard-jobs.log" 2>&1
7 * * * * cd "$DEST/bin" && /usr/bin/flock -n "\$HOME/.dashboard-jobs-housekeeping.lock" ./jobs housekeeping >> "\$HOME/dashboard-jobs.log" 2>&1
  5. Check: curl -s https://YOUR-DOMAIN/api/v1/production/health
EOF
