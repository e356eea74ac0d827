#!/usr/bin/env bash
# make demo TASK="...": planner + loopback robot, the task through the plan service.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# shellcheck disable=SC1091
source scripts/env.sh
exec python scripts/demo.py "$@"
