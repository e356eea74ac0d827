#!/usr/bin/env bash
# The ROS 2 command-line and launch tools (ros2cli with its verbs, launch,
# launch_ros, launch_testing(_ros), rosidl_runtime_py) for .venv: they are not
# published as wheels, so they install from their Python sources.
#
# Called by scripts/setup.sh. Prints one word on stdout, the mode:
#   system  - an apt ROS 2 install provides them (/opt/ros/$ROS_DISTRO, or
#             `ros2` / `import launch_testing` already working outside .venv):
#             nothing is installed, the system's tools are used;
#   vendor  - installed from the source tree (see below) into .venv;
#             composition_interfaces is then built by setup.sh with colcon;
#   none    - no sources: nothing installed, the tests that need the tools skip.
#
# Source tree: $ROS2_PY_VENDOR if set (e.g. a folder of checkouts of the
# upstream jazzy branches of ros2/launch, launch_ros, ros2cli,
# rosidl_runtime_py, rcl_interfaces, or one package folder per package), else
# ../shared/vendor/ros2-jazzy-python beside the repository. Read-only is fine:
# the packages are copied to a scratch folder before pip builds them.
# Idempotent: a stamp in .venv holds the hash of the sources and of the
# requirements; a second run with the same sources does nothing.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# The packages, in dependency order; every one must be found.
packages=(rosidl_runtime_py launch launch_xml launch_yaml launch_ros launch_testing
          launch_testing_ros ros2cli ros2pkg ros2interface ros2node ros2topic ros2service
          ros2action ros2param ros2lifecycle ros2run ros2launch)

# An apt install of ROS 2 brings its own tools: use them.
if [ -z "${ROS2_PY_VENDOR:-}" ]; then
  if [ -n "${ROS_DISTRO:-}" ] && [ -x "/opt/ros/${ROS_DISTRO}/bin/ros2" ]; then
    echo "setup_ros_tools: using the system's ROS 2 tools (/opt/ros/${ROS_DISTRO})" >&2
    echo system
    exit 0
  fi
  ros2_bin="$(command -v ros2 || true)"
  if [ -n "$ros2_bin" ] && [ "${ros2_bin#"$root/.venv/"}" = "$ros2_bin" ]; then
    echo "setup_ros_tools: using the system's ROS 2 tools ($ros2_bin)" >&2
    echo system
    exit 0
  fi
fi

vendor="${ROS2_PY_VENDOR:-$root/../shared/vendor/ros2-jazzy-python}"
if [ ! -d "$vendor" ]; then
  echo "setup_ros_tools: no ROS 2 tool sources at $vendor (set ROS2_PY_VENDOR);" \
       "ros2 launch / ros2cli / launch_testing are not installed and their tests skip" >&2
  echo none
  exit 0
fi
vendor="$(cd "$vendor" && pwd)"

# Each package's folder: <vendor>/<pkg> (this layout) or <vendor>/<repo>/<pkg>
# (checkouts of the upstream repositories).
declare -A where=()
for pkg in "${packages[@]}" composition_interfaces; do
  for candidate in "$vendor/$pkg" "$vendor"/*/"$pkg"; do
    if [ -f "$candidate/package.xml" ]; then
      where[$pkg]="$candidate"
      break
    fi
  done
  if [ -z "${where[$pkg]:-}" ]; then
    echo "setup_ros_tools: package $pkg not found under $vendor" >&2
    exit 1
  fi
done

stamp=.venv/.llm_planner_ros_tools
want="$( (cd "$vendor" && find . -type f ! -path '*/.git/*' -print0 | sort -z \
          | xargs -0 sha256sum; cat "$root/requirements.txt" "$root/constraints.txt") \
        | sha256sum | cut -d' ' -f1) $vendor"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup_ros_tools: installing the ROS 2 tools from $vendor" >&2
  scratch="$(mktemp -d)"
  trap 'rm -rf "$scratch"' EXIT
  dirs=()
  for pkg in "${packages[@]}"; do
    cp -r "${where[$pkg]}" "$scratch/$pkg"
    chmod -R u+w "$scratch/$pkg"
    dirs+=("$scratch/$pkg")
  done
  # --no-deps: their Python dependencies are pinned in requirements.txt.
  # The build's deprecation warnings go to a log, shown only on failure.
  if ! .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps \
      --force-reinstall "${dirs[@]}" > "$scratch/pip.log" 2>&1; then
    cat "$scratch/pip.log" >&2
    echo "setup_ros_tools: pip install of the ROS 2 tools failed" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
# The interface package for colcon (setup.sh adds it to --base-paths).
echo "vendor ${where[composition_interfaces]}"
