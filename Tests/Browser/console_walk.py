#!/usr/bin/env python3
"""The web console in a real browser: headless Chromium (Debian) driven by Selenium (PyPI).

Against a running demo network (Tools/Scripts/demo.sh has played the story), this signs in as
each role through the real sign-in flow (the browser shows a code; meridian-audit or
meridian-wallet signs it), walks every page that role has, checks what it must and must not see,
checks that every other role's pages answer 403, takes a screenshot of each page, runs axe-core
(axe-core 4.9, the accessibility engine PyPI's selenium-axe-python bundles: labels, contrast, ARIA) and a
keyboard walk on every page, and fails on any browser console error.

Usage: console_walk.py --node URL --bin DIR --out DIR [--wallets DIR]
Exit status 0 only if every check passed; each failure is printed.
"""
import argparse
import base64
import csv
import hashlib
import io
import json
import os
import re
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait
from selenium_axe_python import Axe

FAILURES = []
TIMINGS = []


def check(condition, what):
    if not condition:
        FAILURES.append(what)
        print("FAIL", what, flush=True)
    return condition


def spki_pin(node, ca):
    """The base64 SHA-256 of the node's public key (SubjectPublicKeyInfo), read over a TLS connection
    that verifies its chain against the localnet's CA: Chromium trusts exactly this key
    (--ignore-certificate-errors-spki-list), not every certificate."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    host, port = node.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    context = ssl.create_default_context(cafile=ca)
    import socket
    with socket.create_connection((host, int(port)), timeout=30) as raw, context.wrap_socket(raw, server_hostname=host) as tls:
        der = tls.getpeercert(binary_form=True)
    spki = x509.load_der_x509_certificate(der).public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


class Console:
    def __init__(self, node, bin_dir, out, ca=None):
        self.node = node.rstrip("/")
        self.bin = bin_dir
        self.out = out
        # urllib's checks use the localnet's CA (and the host name) like every other client.
        self.tls = ssl.create_default_context(cafile=ca) if ca else None
        options = Options()
        options.binary_location = "/usr/bin/chromium"
        for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                  "--disable-extensions", "--no-first-run"]:
            options.add_argument(a)
        if ca and self.node.startswith("https://"):
            options.add_argument("--ignore-certificate-errors-spki-list=" + spki_pin(self.node, ca))
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(120)
        self.expected_errors = set()

    def close(self):
        self.driver.quit()

    # -- the sign-in flow -------------------------------------------------------------------

    def sign_in(self, tool, actor_args):
        d = self.driver
        d.delete_all_cookies()
        d.get(self.node + "/console/sign-in")
        code = d.find_element(By.CSS_SELECTOR, "p.code").text.strip()
        check(re.fullmatch(r"[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", code) is not None, f"sign-in code looks like a code: {code!r}")
        # Continuing before signing says so (409), and keeps the same code.
        d.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button").click()
        WebDriverWait(d, 20).until(lambda x: not x.title.startswith("Sign in"))
        check("Not signed yet" in d.title, f"continue before signing: 'Not signed yet' page (got {d.title!r})")
        self.expected_errors.add("/console/sign-in")
        result = subprocess.run([os.path.join(self.bin, tool), "sign-in", code, "--node", self.node] + actor_args,
                                capture_output=True, text=True, timeout=60)
        check(result.returncode == 0, f"{tool} sign-in {actor_args}: exit {result.returncode}: {result.stderr.strip()}")
        print(result.stdout.strip(), flush=True)
        d.find_element(By.CSS_SELECTOR, "form[action='/console/sign-in'] button").click()
        WebDriverWait(d, 20).until(lambda x: x.current_url.rstrip("/").endswith("/console"))
        return code, result

    def session_cookie(self):
        c = self.driver.get_cookie("meridian_session")
        return c["value"] if c else None

    def fetch(self, path, cookie=None, method="GET", body=None, headers=None):
        """The raw HTTP answer (status, headers, body) with this browser's session, for exports and statuses."""
        req = urllib.request.Request(self.node + path, method=method, data=body)
        if cookie:
            req.add_header("Cookie", "meridian_session=" + cookie)
        for k, v in (headers or {}).items():
            req.add_header(k, v)
        try:
            with urllib.request.urlopen(req, timeout=60, context=self.tls) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    # -- one page -----------------------------------------------------------------------------

    def visit(self, role, name, path, expect_status=200, must=(), must_not=()):
        d = self.driver
        d.get(self.node + path)
        WebDriverWait(d, 30).until(lambda x: x.execute_script("return document.readyState") == "complete")
        status, _, _ = self.fetch(path, self.session_cookie())
        check(status == expect_status, f"{role} {path}: HTTP {status}, expected {expect_status}")
        if expect_status != 200:
            self.expected_errors.add(path.split("?")[0])
            check(d.title.startswith(str(expect_status)), f"{role} {path}: the page's title names {expect_status} (got {d.title!r})")
        text = d.find_element(By.TAG_NAME, "body").text
        for m in must:
            check(m in text, f"{role} {path}: shows {m!r}")
        for m in must_not:
            check(m not in text, f"{role} {path}: does not show {m!r}")
        nav = d.execute_script("var n = performance.getEntriesByType('navigation')[0]; return n ? [n.responseEnd - n.requestStart, n.loadEventEnd - n.startTime] : null")
        if nav:
            TIMINGS.append({"role": role, "page": name, "path": path, "responseMs": round(nav[0], 1), "loadMs": round(nav[1], 1)})
        d.save_screenshot(os.path.join(self.out, f"{role}-{name}.png"))
        self.console_errors(role, path)
        self.accessibility(role, name, path)
        self.keyboard(role, path)
        return text

    def console_errors(self, role, path):
        for entry in self.driver.get_log("browser"):
            if entry["level"] != "SEVERE":
                continue
            msg = entry["message"]
            # A page this walk asked for with an error status logs its status as a network error: expected.
            if entry.get("source") == "network" and any(p in msg for p in self.expected_errors):
                continue
            check(False, f"{role} {path}: browser console error: {msg}")

    def accessibility(self, role, name, path):
        axe = Axe(self.driver)
        axe.inject()
        results = self.driver.execute_async_script(
            "var done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}})"
            ".then(function (r) { done(r); }).catch(function (e) { done({error: String(e), violations: []}); });")
        check("error" not in results, f"{role} {path}: axe-core ran ({results.get('error')})")
        with open(os.path.join(self.out, f"{role}-{name}.axe.json"), "w") as f:
            json.dump(results["violations"], f, indent=1)
        for v in results["violations"]:
            nodes = "; ".join(n["target"][0] if n["target"] else "?" for n in v["nodes"][:3])
            check(False, f"{role} {path}: accessibility: {v['id']} ({v['impact']}): {v['help']} at {nodes}")

    def keyboard(self, role, path):
        """Tab through the page: the skip link comes first, every link, button and field is reached
        in turn, and each shows a visible focus outline."""
        d = self.driver
        focusable = d.execute_script("""
            var n = 0;
            document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary, [tabindex]:not([tabindex="-1"])')
              .forEach(function (e) { if (e.getClientRects().length > 0 || e.classList.contains('skip')) { e.setAttribute('data-kbd', String(n++)); } });
            document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);
            return n""")
        d.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        first = d.execute_script("return document.activeElement.className")
        check("skip" in (first or ""), f"{role} {path}: the first Tab reaches the skip link (got {first!r})")
        reached = set()
        for _ in range(min(focusable + 1, 400)):
            info = d.execute_script("""
                var e = document.activeElement; var s = getComputedStyle(e);
                return [e.getAttribute('data-kbd'), e.outerHTML.slice(0, 80), s.outlineStyle, s.outlineWidth]""")
            if info[0] is None or info[0] in reached:
                break  # past the last element (focus left the page or wrapped)
            reached.add(info[0])
            check(info[2] != "none" and info[3] != "0px", f"{role} {path}: visible focus on {info[1]!r}")
            d.switch_to.active_element.send_keys(Keys.TAB)
        check(len(reached) == focusable, f"{role} {path}: Tab reaches every focusable element ({len(reached)} of {focusable})")


DEMO_KEYS = None  # the directory of the demo cast's keystores (--demo-keys)


def demo(bin_dir, actor):
    """A CLI's key arguments for a demo actor: its keystore, written by meridian-demo keys (sealed
    with $MERIDIAN_PASSPHRASE), as the production CLIs take any key."""
    r = subprocess.run([os.path.join(bin_dir, "meridian-demo"), "keys", "--dir", DEMO_KEYS, actor], capture_output=True, text=True, check=True)
    return ["--keystore", r.stdout.strip()]


def address(bin_dir, actor):
    r = subprocess.run([os.path.join(bin_dir, "meridian-wallet"), "address"] + demo(bin_dir, actor), capture_output=True, text=True, check=True)
    return r.stdout.strip()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--node", required=True)
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--ca", help="the CA certificate an https node's certificate chains to (the CLIs read $MERIDIAN_CA)")
    ap.add_argument("--demo-keys", required=True, help="where the demo cast's keystores are (meridian-demo keys --dir)")
    args = ap.parse_args()
    global DEMO_KEYS
    DEMO_KEYS = args.demo_keys
    os.makedirs(args.out, exist_ok=True)
    maria, hans = address(args.bin, "maria"), address(args.bin, "hans")
    c = Console(args.node, args.bin, args.out, args.ca)
    try:
        walk(c, args, maria, hans)
    finally:
        c.close()
    with open(os.path.join(args.out, "timings.json"), "w") as f:
        json.dump(TIMINGS, f, indent=1)
    if TIMINGS:
        loads = sorted(t["responseMs"] for t in TIMINGS)
        print(f"pages: {len(loads)}; server response p50 {loads[len(loads) // 2]} ms, max {loads[-1]} ms (timings.json)")
    print(f"screenshots and axe reports in {args.out}")
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed")
        return 1
    print("every console check passed")
    return 0


def walk(c, args, maria, hans):
    # -- Before sign-in: every role page asks for a session (401), never shows data.
    c.expected_errors.update(["/console/network", "/console/audit", "/console/me", "/console/alerts"])
    for p in ["/console/network", "/console/audit", "/console/me", "/console/alerts"]:
        status, _, body = c.fetch(p)
        check(status == 401, f"anonymous {p}: 401 (got {status})")
        check(b"Sign in" in body, f"anonymous {p}: the page says to sign in")

    # -- Bad sign-ins: a forged signature (403), a replayed one (409), an unknown code (404).
    c.driver.get(c.node + "/console/sign-in")
    code = c.driver.find_element(By.CSS_SELECTOR, "p.code").text.strip()
    forged = json.dumps({"key": maria, "signature": "11" * 64}).encode()
    status, _, body = c.fetch(f"/console/challenges/{code}", method="POST", body=forged, headers={"Content-Type": "application/json"})
    check(status == 403, f"forged sign-in signature: 403 (got {status} {body[:120]!r})")
    code2, _ = c.sign_in("meridian-wallet", demo(args.bin, "maria"))
    replay = subprocess.run([os.path.join(args.bin, "meridian-wallet"), "sign-in", code2, "--node", c.node] + demo(args.bin, "maria"), capture_output=True, text=True)
    check(replay.returncode != 0, "a used sign-in code cannot be signed again (the wallet exits non-zero)")
    status, _, _ = c.fetch("/console/challenges/ZZZZ-ZZZZ-ZZZZ")
    check(status == 404, f"unknown sign-in code: 404 (got {status})")
    status, _, _ = c.fetch("/console/me", cookie="00" * 32)
    check(status == 401, f"a made-up session cookie: 401 (got {status})")

    # -- Patient (Maria): her own data only.
    text = c.visit("patient", "accesses", "/console/me", must=["Who accessed my data", "Sakura General", "JP", "BREAK-GLASS"])
    c.visit("patient", "consents", "/console/me/consents", must=["sakura-general", "Revoke this consent", "active"])
    c.driver.find_element(By.CSS_SELECTOR, "details summary").click()
    check("meridian-wallet consent revoke" in c.driver.find_element(By.TAG_NAME, "body").text, "patient consents: the revoke command for the wallet to sign")
    for p in ["/console/audit", "/console/network", "/console/alerts", "/console/audit/export.csv"]:
        c.visit("patient", "forbidden-" + p.strip("/").replace("/", "-"), p, expect_status=403)
    c.visit("patient", "oversized-query", "/console/me?" + "x=" + "a" * 3000, expect_status=414)
    c.visit("patient", "unknown-parameter", "/console/me?page=2", expect_status=400)

    # -- Jean amended his consent: its earlier version is listed.
    c.sign_in("meridian-wallet", demo(args.bin, "jean"))
    c.visit("patient-jean", "consents", "/console/me/consents", must=["chao-phraya", "Earlier versions"])

    # -- A patient of the bedside sensors (the one who deteriorates): devices, NEWS2 and alerts.
    c.sign_in("meridian-wallet", demo(args.bin, "sensors/1/patient/0"))
    c.visit("sensor-patient", "devices", "/console/me/devices", must=["Devices paired to you", "pulse-oximeter"])
    c.visit("sensor-patient", "health", "/console/me/health", must=["Latest NEWS2", "Alerts raised for you", "sakura-general"])
    c.visit("sensor-patient", "accesses", "/console/me", must=["Who accessed my data", "alert-delivery"])

    # -- Portuguese regulator: its jurisdiction (PT), the network, the reports; not Hans (DE/ES/TH).
    c.sign_in("meridian-audit", demo(args.bin, "dpa-pt/officer"))
    c.visit("regulator", "home", "/console", must=["jurisdiction PT"])
    c.visit("regulator", "network", "/console/network", must=["Validators", "hospital-ribeira", "Missed precommits", "Equivocation evidence"])
    c.visit("regulator", "blocks", "/console/blocks", must=["Blocks, newest first"])
    busy = c.driver.execute_script("var r = Array.from(document.querySelectorAll('tbody tr')).find(r => r.children[2].textContent !== '0'); return r ? r.children[0].textContent : null")
    check(busy is not None, "the blocks page lists a block with transactions")
    c.visit("regulator", "block", f"/console/blocks/{busy or 1}", must=["State root", "Finalised by", "Transactions of block"])
    tx = c.driver.execute_script("var a = document.querySelector('a[href^=\"/console/transactions/\"]'); return a ? a.getAttribute('href') : null")
    if check(tx is not None, "the block lists a transaction"):
        c.visit("regulator", "transaction", tx, must=["Outcome", "Events"])
    c.visit("regulator", "governance", "/console/governance", must=["Governance", "Votes"])
    c.visit("regulator", "audit", "/console/audit", must=["jurisdiction PT", "✔ proven at"], must_not=["✘"])
    c.visit("regulator", "audit-maria", f"/console/audit?patient={maria}", must=["sakura-general", "adequacy-decision"])
    c.visit("regulator", "audit-hans", f"/console/audit?patient={hans}", must=["No entry on this page matches."], must_not=["clinica-sol"])
    c.visit("regulator", "audit-denied", "/console/audit?decision=denied", must=["denied"])
    c.visit("regulator", "reports", "/console/audit/reports", must=["PT → JP", "adequacy-decision", "Break-glass uses", "Denied attempts"])
    c.visit("regulator", "bad-search", "/console/audit?patient=not-an-address", expect_status=400, must=["patient"])
    c.visit("regulator", "bad-time", "/console/audit?from=yesterday", expect_status=400)
    for p in ["/console/me", "/console/alerts"]:
        c.visit("regulator", "forbidden-" + p.strip("/").replace("/", "-"), p, expect_status=403)
    # Exports of the page the regulator sees: CSV and a FHIR Bundle the R4B models accept.
    cookie = c.session_cookie()
    status, headers, body = c.fetch(f"/console/audit/export.csv?patient={maria}", cookie)
    check(status == 200 and headers.get("Content-Type", "").startswith("text/csv"), f"CSV export: 200 text/csv (got {status})")
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    check(len(rows) > 0 and all(r["patient"] == maria for r in rows), "CSV export: Maria's rows only")
    status, headers, body = c.fetch(f"/console/audit/export.fhir.json?patient={maria}", cookie)
    check(status == 200, f"FHIR export: 200 (got {status})")
    from fhir.resources.R4B.bundle import Bundle
    try:
        bundle = Bundle.model_validate_json(body) if hasattr(Bundle, "model_validate_json") else Bundle.parse_raw(body)
        check(bundle.type == "collection" and len(bundle.entry or []) == len(rows), "FHIR export: a collection Bundle with one AuditEvent per CSV row")
        check(all(e.resource.get_resource_type() == "AuditEvent" for e in bundle.entry or []), "FHIR export: every entry is an AuditEvent")
    except Exception as e:  # noqa: BLE001 — any validation error is a failure to report
        check(False, f"FHIR export: fhir.resources R4B rejects the Bundle: {e}")

    # The German regulator sees Hans's trail (Klinikum Spree, Clínica Sol are DE/ES: DE is in it).
    c.sign_in("meridian-audit", demo(args.bin, "dpa-de/officer"))
    c.visit("regulator-de", "audit-hans", f"/console/audit?patient={hans}", must=["klinikum-spree"])

    # -- Hospital operator (Hospital Ribeira's admin): the network and its own organisation's entries.
    c.sign_in("meridian-audit", demo(args.bin, "hospital-ribeira/admin"))
    c.visit("operator", "network", "/console/network", must=["Validators", "Height"])
    # Live: the page's height follows the chain over the console's WebSocket. A view of the audit
    # page (recorded on the trail) makes the next block.
    before = int(c.driver.find_element(By.CSS_SELECTOR, "[data-live=height]").text)
    c.fetch("/console/audit", c.session_cookie())
    try:
        WebDriverWait(c.driver, 60).until(lambda x: int(x.find_element(By.CSS_SELECTOR, "[data-live=height]").text) > before)
        check(True, "network page: live height")
    except Exception:  # noqa: BLE001
        check(False, f"network page: the height did not follow the chain live (stayed {before})")
    check("connected" in c.driver.find_element(By.CSS_SELECTOR, "[data-live=note]").text, "network page: the live note says connected")
    text = c.visit("operator", "audit", "/console/audit", must=["organisation hospital-ribeira"])
    orgs = c.driver.execute_script("return Array.from(document.querySelectorAll('tbody tr')).map(r => r.children[3].textContent)")
    check(len(orgs) > 0 and all(o == "hospital-ribeira" for o in orgs), f"operator audit: only hospital-ribeira's entries ({set(orgs)})")
    for p in ["/console/me", "/console/alerts"]:
        c.visit("operator", "forbidden-" + p.strip("/").replace("/", "-"), p, expect_status=403)

    # -- Clinician at Sakura General: the alerts Maria's consent lets this node send there.
    c.sign_in("meridian-audit", demo(args.bin, "sakura-general/clinician"))
    c.visit("clinician", "alerts", "/console/alerts", must=["Alerts, newest first", "NEWS2"])
    rows = c.driver.execute_script("return document.querySelectorAll('#alerts tr').length")
    check(rows >= 1, f"clinician: at least one alert listed ({rows})")
    # Live: another traveller deteriorates (meridian-sensors, seed 2); her alert appears on the open page.
    sensors = subprocess.Popen([os.path.join(args.bin, "meridian-sensors"), "--node", c.node, "--patients", "1", "--seconds", "120",
                                "--seed", "2", "--alert-hospital", "sakura-general"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={k: v for k, v in os.environ.items() if k not in ("MERIDIAN_FEED_TOKEN", "MERIDIAN_MLLP")})
    try:
        WebDriverWait(c.driver, 240).until(lambda x: x.execute_script("return document.querySelectorAll('#alerts tr').length") > rows)
        cells = c.driver.execute_script("return Array.from(document.querySelectorAll('#alerts tr')[0].children).map(td => td.textContent)")
        check(len(cells) == 8 and "NEWS2" not in cells[3] and re.match(r"\d+ \(", cells[3]) is not None and cells[7] == "Acknowledge",
              f"clinician: the live alert row has NEWS2, its values and an Acknowledge button ({cells})")
    except Exception:  # noqa: BLE001
        check(False, "clinician: a new alert did not appear live on the open page")
    finally:
        out, _ = sensors.communicate(timeout=300)
        check(sensors.returncode == 0, f"meridian-sensors (seed 2) exit {sensors.returncode}: {out[-400:]}")
    c.driver.save_screenshot(os.path.join(c.out, "clinician-alerts-live.png"))
    c.console_errors("clinician", "/console/alerts (live)")
    # Acknowledge the newest alert with its button: the node records it in the clinician's name, and
    # once in a block the row says who acknowledged it.
    try:
        c.driver.find_element(By.CSS_SELECTOR, "#alerts tr:first-child form[action='/console/alerts/acknowledge'] button").click()
        WebDriverWait(c.driver, 20).until(lambda x: "acknowledged=" in x.current_url)
        check("acknowledg" in c.driver.find_element(By.CSS_SELECTOR, "p.notice").text.lower(), "clinician: the page confirms the acknowledgement")

        def acknowledged(x):
            x.refresh()
            return any(td.text.startswith("Acknowledged by") for td in x.find_elements(By.CSS_SELECTOR, "#alerts td"))
        WebDriverWait(c.driver, 120, poll_frequency=1).until(acknowledged)
        check(True, "clinician: the acknowledged alert shows who acknowledged it")
        c.driver.save_screenshot(os.path.join(c.out, "clinician-alert-acknowledged.png"))
    except Exception as e:  # noqa: BLE001
        check(False, f"clinician: acknowledging an alert from the console failed ({e})")
    c.console_errors("clinician", "/console/alerts (acknowledged)")
    for p in ["/console/audit", "/console/network", "/console/me"]:
        c.visit("clinician", "forbidden-" + p.strip("/").replace("/", "-"), p, expect_status=403)

    # -- Signing out ends the session: the same cookie gets 401.
    cookie = c.session_cookie()
    c.driver.get(c.node + "/console")
    c.driver.find_element(By.CSS_SELECTOR, "form[action='/console/sign-out'] button").click()
    WebDriverWait(c.driver, 20).until(lambda x: "/console/sign-in" in x.current_url)
    status, _, _ = c.fetch("/console/alerts", cookie)
    check(status == 401, f"after sign-out the old session cookie gets 401 (got {status})")

    # -- Views of personal audit data are on the trail: Maria's trail now shows the regulator's views.
    #    Read as Maria herself (the API answers a patient's trail to the patient, in signed requests);
    #    an unsigned read is refused.
    status, _, _ = c.fetch(f"/v1/audit?patient={maria}&limit=1000")
    check(status == 401, f"an unsigned read of Maria's trail is refused (got {status})")
    deadline = time.time() + 60
    seen = False
    while time.time() < deadline and not seen:
        r = subprocess.run([os.path.join(args.bin, "meridian-audit"), "trail", "--patient", maria, "--format", "json", "--node", c.node]
                           + demo(args.bin, "maria"), capture_output=True, text=True, timeout=60)
        seen = r.returncode == 0 and any(e.get("kind") == "console-view" and e.get("purpose") == "HCOMPL" for e in json.loads(r.stdout or "[]"))
        if not seen:
            time.sleep(0.5)
    check(seen, "the regulator's view of Maria's entries is an entry on her trail (console-view, HCOMPL)")


if __name__ == "__main__":
    sys.exit(main())
