# parkdet_mm: one obvious command per job.
#   make install   create .venv (Python 3.11) with the pinned OpenMMLab stack and parkdet_mm
#   make test      run the test suite (installs first when needed)
#   make test-quick the tests that start no tool or training: a developer's inner loop
#   make lint      ruff's checks (pyproject.toml); CI runs it before the tests
#   make demo      the whole pipeline on a synthetic data set, on CPU
#   make demo2021  the 2021 recipe (diet baseline, frozen finetune, NMS ensemble) on
#                  synthetic 2021-format data, on CPU
#   make demo-coco the recipe on a plain COCO set (other classes and ids), on CPU
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.parkdet-installed
# pytest processes for make test (pytest-xdist); the tests' tools run one thread each.
TEST_WORKERS ?= 2

.PHONY: install test test-quick lint demo demo2021 demo-coco

install: $(STAMP)

# mmcv must come before mmdet/mmyolo: pip cannot build it (see tools/install_mmcv.sh), so
# everything else that does not depend on it goes in first, then mmcv, then the rest.
$(STAMP): requirements.txt requirements-nodeps.txt pyproject.toml tools/install_mmcv.sh
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q $$(grep -vE '^(#|$$|mmcv==|mmdet==|mmyolo==)' requirements.txt)
	PY=$(PY) bash tools/install_mmcv.sh
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	$(PY) -c "import parkdet_mm; from mmcv.ops import batched_nms"
	touch $(STAMP)

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) tests

test-quick: install
	$(PY) -m pytest -q -n $(TEST_WORKERS) -m "not tools" tests

lint: install
	$(PY) -m ruff check .

demo: install
	$(PY) tools/run_demo.py

demo2021: install
	$(PY) tools/run_demo.py --recipe 2021

demo-coco: install
	$(PY) tools/run_demo.py --recipe coco
