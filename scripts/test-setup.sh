#!/usr/bin/env bash
# What the tests need beyond the Python environment: Debian's chromium and chromedriver for the
# app's end-to-end test (Playwright drives /usr/bin/chromium; it cannot download its own browser
# on these machines). Idempotent: does nothing when both are already there.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    sudo=sudo
else
    sudo=
fi
echo "installing Debian's chromium and chromium-driver for the browser test" >&2
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get install -y -q chromium chromium-driver >/dev/null 2>&1 || {
    $sudo apt-get update -q >/dev/null && $sudo apt-get install -y -q chromium chromium-driver >/dev/null
}
