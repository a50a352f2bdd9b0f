#!/usr/bin/env bash
# Checks the Moodle plugin without Moodle: php -l on every PHP file, then the standalone harness
# against the shared webhook vectors. PHPUnit tests need a Moodle checkout and are not run here.
#
# Usage: moodle-plugin/ci.sh   (from anywhere; needs php-cli, e.g. Debian's php-cli package)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

if ! command -v php >/dev/null 2>&1; then
    echo "moodle-plugin/ci.sh: php not found; install the PHP CLI (Debian: apt-get install -y php-cli)" >&2
    exit 1
fi
echo "moodle-plugin/ci.sh: $(php -r 'echo "PHP ", PHP_VERSION;')"

lint_failed=0
count=0
while IFS= read -r -d '' file; do
    count=$((count + 1))
    if ! out="$(php -l "$file" 2>&1)"; then
        echo "$out" >&2
        lint_failed=$((lint_failed + 1))
    fi
done < <(find "$here" -type f -name '*.php' -not -path '*/node_modules/*' -not -path '*/vendor/*' -print0 | sort -z)

if [ "$count" -eq 0 ]; then
    echo "moodle-plugin/ci.sh: no PHP files found under $here" >&2
    exit 1
fi
if [ "$lint_failed" -ne 0 ]; then
    echo "moodle-plugin/ci.sh: php -l failed for $lint_failed of $count files" >&2
    exit 1
fi
echo "moodle-plugin/ci.sh: php -l clean for $count files"

php "$here/tests/standalone/run.php" "$here/../testdata/webhook-vectors.json"
