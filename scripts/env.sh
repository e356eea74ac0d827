# Source this file (bash) to get the project's ROS 2 environment:
#   . scripts/env.sh
# It activates .venv (which puts `ros2` on PATH where make setup installed
# the ROS 2 tools into it), sets the library path the ROS 2 wheels need (so Python
# does not re-execute itself on `import rclpy`), sources the colcon install
# space and keeps DDS traffic on this machine.
_llm_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
. "$_llm_root/.venv/bin/activate"
_llm_site="$(python -c 'import sys; print(f"{sys.prefix}/lib/python{sys.version_info[0]}.{sys.version_info[1]}/site-packages")')"
_llm_ld="$VIRTUAL_ENV/lib"
for _d in "$_llm_site"/ros_*.libs; do
  [ -d "$_d" ] && _llm_ld="$_llm_ld:$_d"
done
export LD_LIBRARY_PATH="$_llm_ld${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export _ROS_WHEELS_BOOTSTRAP_COMPLETE=1
# The wheels install ROS 2 into the venv prefix: make it an underlay for
# ament (resource index) and CMake (find_package).
case ":${AMENT_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
case ":${CMAKE_PREFIX_PATH:-}:" in *":$VIRTUAL_ENV:"*) ;; *)
  export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}" ;;
esac
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export PYTHONUNBUFFERED=1
# llama.cpp's OpenMP threads spin while waiting by default; on a shared or
# busy CPU that made prompt evaluation ~6x slower. Must be set before the
# first `import llama_cpp`.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
if [ -f "$_llm_root/install/local_setup.bash" ]; then
  # colcon's scripts read unset variables; do not let `set -u` callers trip.
  set +u
  # shellcheck disable=SC1091
  . "$_llm_root/install/local_setup.bash"
  # ament_python puts executables in lib/<pkg> (for `ros2 run`); put them on
  # PATH too, so `llm-planner`, `planner_node` and `sim_robot` run directly.
  case ":$PATH:" in *":$_llm_root/install/llm_planner/lib/llm_planner:"*) ;; *)
    export PATH="$_llm_root/install/llm_planner/lib/llm_planner:$PATH" ;;
  esac
fi
unset _llm_root _llm_site _llm_ld _d
