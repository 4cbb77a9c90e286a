#!/usr/bin/env bash
# Installs the Firebase CLI (npm package firebase-tools, for its Auth emulator, which needs only
# Node.js) into .cache/firebase-tools of the checkout (ignored by git) and prints the firebase
# binary's path (--ignore-scripts: the Auth emulator needs none of the native builds some
# dependencies would compile). Used by the tests that sign in (shared/signin/authemu), .ci/run and dev --serve.
set -euo pipefail
cd "$(dirname "$0")/../.."
version=15.37.0
dir=.cache/firebase-tools
bin=$dir/node_modules/.bin/firebase
if [[ -x $bin && $(cat "$dir/.version" 2>/dev/null) == "$version" ]]; then
  echo "$PWD/$bin"
  exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "npm is not installed: the Auth emulator (firebase-tools) needs Node.js and npm" >&2
  exit 1
fi
mkdir -p "$dir"
npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" "firebase-tools@$version" >&2
echo "$version" >"$dir/.version"
echo "$PWD/$bin"
