#!/usr/bin/env bash
# Builds the installable ZIP of the Moodle plugin local_whatsappnotifier.
#
# Usage: scripts/build-plugin-zip.sh [OUTPUT_DIR_OR_ZIP]
#   OUTPUT_DIR_OR_ZIP  a directory (the ZIP is written inside it) or a path ending in .zip;
#                      default: ./dist/
#
# The archive's single top folder is whatsappnotifier/, the name Moodle's "Install plugins from ZIP"
# expects for a local plugin (it becomes local/whatsappnotifier). Left out: the repository-only
# tooling (ci.sh, the standalone harness and its vector generator, the Go vector test), which needs
# files outside the plugin. PHPUnit tests stay in, as in any Moodle plugin.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
plugin="$root/moodle-plugin"

if ! command -v zip >/dev/null 2>&1; then
    echo "build-plugin-zip.sh: zip not found (Debian: apt-get install -y zip)" >&2
    exit 2
fi
if [ ! -f "$plugin/version.php" ]; then
    echo "build-plugin-zip.sh: $plugin/version.php not found" >&2
    exit 2
fi

release="$(sed -n "s/^\$plugin->release *= *'\([^']*\)'.*/\1/p" "$plugin/version.php")"
version="$(sed -n 's/^\$plugin->version *= *\([0-9]*\).*/\1/p' "$plugin/version.php")"
name="local_whatsappnotifier-${release:-0}-${version:-0}.zip"

target="${1:-dist}"
case "$target" in
    *.zip) out="$target" ;;
    *) out="${target%/}/$name" ;;
esac
mkdir -p "$(dirname "$out")"
out="$(cd "$(dirname "$out")" && pwd)/$(basename "$out")"

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/whatsappnotifier"

# Copy through tar so that the exclusions apply to the whole tree.
tar -C "$plugin" \
    --exclude='./ci.sh' \
    --exclude='./tests/standalone' \
    --exclude='*.go' \
    --exclude='.git*' \
    --exclude='.DS_Store' \
    --exclude='*.swp' \
    --exclude='__pycache__' \
    -cf - . | tar -C "$stage/whatsappnotifier" -xf -

# Fixed timestamps and order make the same sources give the same archive.
find "$stage/whatsappnotifier" -exec touch -h -d '2026-01-01 00:00:00 UTC' {} +
rm -f "$out"
(cd "$stage" && find whatsappnotifier -print | LC_ALL=C sort | zip -q -X "$out" -@)

echo "$out"
