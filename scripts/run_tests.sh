#!/usr/bin/env bash
# The test suite, against the built workspace: unit tests, integration tests
# across processes over real DDS (isolated: loopback only, a per-run domain id
# chosen by test/conftest.py), real llama.cpp inference on a tiny GGUF the
# suite writes itself, and the linters. Extra arguments go to pytest.
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
# shellcheck disable=SC1091
source scripts/env.sh
started=$SECONDS
python -m pytest test -ra "$@"
rc=$?
took=$((SECONDS - started))
printf 'run_tests: the suite took %dm%02ds (exit status %d)\n' $((took / 60)) $((took % 60)) "$rc"
if [ "$rc" -eq 5 ]; then
  echo "run_tests: pytest collected no test; that is a failure" >&2
  exit 1
fi
exit "$rc"
