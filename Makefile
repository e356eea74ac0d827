# llm_planner developer entry points. `make setup` once, then `make test`.
SHELL := /bin/bash
.DEFAULT_GOAL := help
TASK ?= Go to the kitchen and grab a banana

.PHONY: help setup test model demo eval eval-tune bench clean

help:
	@echo "make setup   - .venv with ROS 2 Jazzy wheels, llama-cpp-python; colcon build (idempotent)"
	@echo "make test    - the whole test suite: unit, integration over DDS, linters"
	@echo "make model   - install the demo model (Qwen2.5-Coder-1.5B-Instruct Q4_K_M) into models/"
	@echo "make demo    - planner + loopback robot run TASK=\"...\" end to end"
	@echo "make eval    - plan quality on the frozen (test) half of eval/devset.yaml, demo model"
	@echo "make eval-tune - the same on the tuning half"
	@echo "make bench   - planning speed figures against a seed-style baseline"

setup:
	@scripts/setup.sh

test: setup
	@scripts/run_tests.sh

model: setup
	@.venv/bin/python scripts/fetch_model.py

demo: setup model
	@scripts/demo.sh "$(TASK)"

eval: setup model
	@source scripts/env.sh && python eval/run_eval.py --split test

eval-tune: setup model
	@source scripts/env.sh && python eval/run_eval.py --split tune

bench: setup model
	@source scripts/env.sh && python benchmarks/bench_planning.py

clean:
	rm -rf build install log
