#!/usr/bin/env python3
"""Schemathesis against a running node's served OpenAPI document (part of `make test`, run by
Tests/Browser/run.sh on the demo network after the console walk).

Every operation of /openapi.yaml is called with generated requests (valid and invalid by the
document) by four callers: anonymous, and signed (RFC 9421, Meridian's `bip340` profile) by a
hospital operator, a clinician of another hospital and a regulator. The check is schemathesis's
`not_a_server_error`: no answer may be a 5xx, whoever asks and whatever they send. Signed routes
must also refuse the anonymous caller (401) -- checked on every anonymous answer of a signed route.

The signing is written here from the profile (docs/ARCHITECTURE.md, "API"): BIP-340 with
coincurve, RFC 9530 Content-Digest, the RFC 9421 signature base, the keyid as a bech32m address
(BIP-350). Demo keys are derived from their public names, as Tools/Demo/DemoCast.swift does.
Exit status: 0 when no 5xx (and no anonymous success on a signed route) was seen, 1 otherwise.
"""
import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
import urllib.parse

import requests
import schemathesis
from coincurve import PrivateKey
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error

# --- bech32m (BIP-350), for the keyid: a Meridian address is bech32m("mer", the 32-byte x-only key) ---
CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3


def _polymod(values):
    generator = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= generator[i] if ((top >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _to_five_bit(data):
    acc, bits, out = 0, 0, []
    for b in data:
        acc = (acc << 8) | b
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append((acc >> bits) & 31)
    if bits:
        out.append((acc << (5 - bits)) & 31)
    return out


def address(xonly: bytes) -> str:
    data = _to_five_bit(xonly)
    polymod = _polymod(_hrp_expand("mer") + data + [0] * 6) ^ BECH32M_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    return "mer1" + "".join(CHARSET[d] for d in data + checksum)


def demo_key(name: str) -> PrivateKey:
    """DemoCast.key: the secret is SHA-256 of "meridian-demo/v1/<name>"."""
    return PrivateKey(hashlib.sha256(f"meridian-demo/v1/{name}".encode()).digest())


class MeridianSignature(requests.auth.AuthBase):
    """Signs each prepared request as the CLIs do (SignedRequests.headers)."""

    COMPONENTS = ["@method", "@target-uri", "content-digest", "meridian-chain", "meridian-audience"]

    def __init__(self, key: PrivateKey, chain: str, audience: str):
        self.key, self.chain, self.audience = key, chain, audience
        self.keyid = address(key.public_key_xonly.format())

    def __call__(self, r):
        body = r.body or b""
        if isinstance(body, str):
            body = body.encode()
        url = urllib.parse.urlsplit(r.url)
        target = f"{url.scheme}://{url.netloc}{r.path_url}"
        digest = "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode() + ":"
        nonce = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")
        params = "(" + " ".join(f'"{c}"' for c in self.COMPONENTS) + ")" + \
            f';created={int(time.time())};nonce="{nonce}";alg="bip340";keyid="{self.keyid}"'
        values = {"@method": r.method.upper(), "@target-uri": target, "content-digest": digest,
                  "meridian-chain": self.chain, "meridian-audience": self.audience}
        base = "\n".join(f'"{c}": {values[c]}' for c in self.COMPONENTS) + f'\n"@signature-params": {params}'
        signature = self.key.sign_schnorr(hashlib.sha256(base.encode()).digest())
        r.headers["Content-Digest"] = digest
        r.headers["Meridian-Chain"] = self.chain
        r.headers["Meridian-Audience"] = self.audience
        r.headers["Signature-Input"] = f"meridian={params}"
        r.headers["Signature"] = "meridian=:" + base64.b64encode(signature).decode() + ":"
        return r


@schemathesis.serializer("application/x-meridian-batches", "application/x-meridian-frames", "application/x-meridian-record")
def binary_body(ctx, value):
    """Meridian's binary bodies (canonical bytes): whatever was generated, as bytes."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    return json.dumps(value).encode() if not isinstance(value, str) else value.encode()


schemathesis.serializer.alias("application/fhir+json", "application/json")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--node", required=True, help="the node's API base URL")
    p.add_argument("--examples", type=int, default=20, help="generated requests per operation and caller")
    p.add_argument("--out", help="where to write the findings (JSON)")
    p.add_argument("--ca", help="the CA certificate an https node's certificate chains to")
    a = p.parse_args()
    verify = a.ca or True   # an https node is checked against its CA, never unverified

    status = requests.get(a.node + "/v1/status", timeout=10, verify=verify).json()
    chain, audience = status["chainID"], status["nodeKey"]
    document = requests.get(a.node + "/openapi.yaml", timeout=10, verify=verify).text
    schema = schemathesis.openapi.from_dict(__import__("yaml").safe_load(document))
    callers = {
        "anonymous": None,
        "operator (hospital-ribeira/admin)": demo_key("hospital-ribeira/admin"),
        "clinician (sakura-general/clinician)": demo_key("sakura-general/clinician"),
        "regulator (dpa-pt/officer)": demo_key("dpa-pt/officer"),
    }
    findings, calls = [], 0
    statuses, refusals = {}, {}
    for who, key in callers.items():
        session = requests.Session()
        session.verify = verify   # (each call also passes it: $REQUESTS_CA_BUNDLE would override a session default)
        if key is not None:
            session.auth = MeridianSignature(key, chain, audience)
            # The signing itself must be right, or every signed call would be a 401 and prove nothing.
            check = session.get(a.node + "/v1/organizations", timeout=10, verify=verify)
            if check.status_code != 200:
                print(f"the signature of {who} is refused ({check.status_code}): {check.text[:300]}")
                sys.exit(1)
        for result in schema.get_all_operations():
            operation = result.ok()
            raw = operation.definition.raw if hasattr(operation.definition, "raw") else operation.definition
            access = (raw or {}).get("x-meridian-access", "")
            if operation.path in ("/v1/events", "/v1/alerts"):
                pass  # WebSocket upgrades: a plain GET must still answer 4xx, never 5xx

            @settings(max_examples=a.examples, deadline=None, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
            @given(case=operation.as_strategy())
            def run(case):
                nonlocal calls
                calls += 1
                response = case.call(base_url=a.node, session=session, timeout=30, verify=verify)
                statuses.setdefault(who, {}).setdefault(response.status_code, 0)
                statuses[who][response.status_code] += 1
                if key is not None and response.status_code == 401:
                    refusals.setdefault(f"{operation.method.upper()} {operation.path}: {response.text[:120]}", 0)
                    refusals[f"{operation.method.upper()} {operation.path}: {response.text[:120]}"] += 1
                if response.status_code >= 500:
                    findings.append({"caller": who, "operation": f"{operation.method.upper()} {operation.path}",
                                     "status": response.status_code, "request": case.as_curl_command(),
                                     "body": response.text[:300]})
                if key is None and access.startswith("signed:") and response.status_code < 400:
                    findings.append({"caller": who, "operation": f"{operation.method.upper()} {operation.path}",
                                     "status": response.status_code, "request": case.as_curl_command(),
                                     "body": "an unsigned request to a signed route was answered: " + response.text[:200]})
                try:
                    case.validate_response(response, checks=[not_a_server_error])
                except Exception:
                    pass  # recorded above with the request; keep exploring

            run()
    print(f"schemathesis: {calls} generated requests to {len(list(schema.get_all_operations()))} operations "
          f"as {len(callers)} callers; {len(findings)} findings")
    for who, counts in statuses.items():
        print(f"  {who}: " + ", ".join(f"{code}×{n}" for code, n in sorted(counts.items())))
    for r, n in sorted(refusals.items())[:15]:
        print(f"  signed but refused ×{n}: {r}")
    for f in findings[:20]:
        print(f"  {f['caller']}: {f['operation']} -> {f['status']}: {f['body']}\n    {f['request']}")
    if a.out:
        with open(a.out, "w") as out:
            json.dump(findings, out, indent=1)
    sys.exit(1 if findings else 0)


if __name__ == "__main__":
    main()
