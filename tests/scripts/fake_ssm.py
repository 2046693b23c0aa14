"""A local SSM endpoint for the tests, strict the way AWS is.

Every request is checked against botocore's official SSM service model (operation from
X-Amz-Target, required members, types, lengths, enums and patterns — see
check_put_inventory.walk) and its SigV4 signature is verified with the test credentials. It
answers GetDeployablePatchSnapshotForInstance with a snapshot URL it serves itself, and records
PutInventory bodies. Anything invalid gets AWS's error shape and status 400.

It also answers as S3 for the bucket `denied-bucket`: 403 AccessDenied, as S3 does.

Usage: fake_ssm.py CONFIG.json
CONFIG: {"port_file": P, "record": R, "snapshot": FILE (JSON served at the snapshot URL),
         "gzip_snapshot": bool (or a file SNAPSHOT.gzip exists), "access_key": AK, "secret_key": SK, "region": REGION,
         "fail": {"Operation": ["ErrorCode", ...]}   (one error per call, in order, then success),
         "tls": optional {"cert": PEM, "key": PEM}   (serve https; the snapshot URL is then
                https://localhost:PORT/…),
         "snapshot_host": optional host of the snapshot URL (default 127.0.0.1; a virtual
                machine reaches this host at another address)}
A test may inject more failures later by writing {"Operation": [codes]} to R.inject.
Writes the chosen port to P when ready; appends one JSON line per accepted request to R:
{"operation": ..., "body": ...}; and per refused request {"operation": ..., "refused": reason}.
"""
import datetime
import gzip
import hashlib
import hmac
import http.server
import json
import os
import sys
import urllib.parse

import botocore.session
from botocore.validate import validate_parameters

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from check_put_inventory import walk  # noqa: E402
from common import config, recorder, serve  # noqa: E402

CONFIG = config()
record = recorder(CONFIG["record"])
MODEL = botocore.session.get_session().get_service_model("ssm")
FAIL = {op: list(codes) for op, codes in CONFIG.get("fail", {}).items()}



def sign(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


def check_signature(method, path, query, headers, body):
    """SigV4 as AWS verifies it: rebuild the canonical request from what arrived."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return "no SigV4 Authorization header"
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    access_key, date, region, service, terminator = fields["Credential"].split("/")
    if access_key != CONFIG["access_key"]:
        return f"unknown access key {access_key}"
    if (region, service, terminator) != (CONFIG["region"], "ssm", "aws4_request"):
        return f"credential scope {region}/{service}/{terminator}"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed or "x-amz-date" not in signed:
        return "host and x-amz-date must be signed"
    amz_date = headers["x-amz-date"]
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 300:
        return "request time too skewed"
    payload_hash = hashlib.sha256(body).hexdigest()
    if headers.get("x-amz-content-sha256", payload_hash) != payload_hash:
        return "x-amz-content-sha256 does not match the body"
    canonical_query = "&".join(
        f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
        for k, v in sorted(urllib.parse.parse_qsl(query, keep_blank_values=True))
    )
    canonical_headers = "".join(f"{h}:{' '.join(headers[h].split())}\n" for h in signed)
    canonical = "\n".join([method, path or "/", canonical_query, canonical_headers,
                           fields["SignedHeaders"], payload_hash])
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    key = sign(sign(sign(sign(("AWS4" + CONFIG["secret_key"]).encode(), date), region), service),
               "aws4_request")
    expected = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, fields["Signature"]):
        return "signature does not match"
    return None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/x-amz-json-1.1", extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def error(self, code, message, status=400):
        self.reply(status, {"__type": code, "message": message})

    def do_GET(self):
        if self.path.startswith("/denied-bucket/"):
            # As S3 answers a GetObject the caller may not make.
            return self.reply(403, b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied"
                              b"</Code><Message>Access Denied</Message></Error>", "application/xml")
        if not self.path.startswith("/snapshot/"):
            return self.reply(404, b"", "text/plain")
        snapshot_id = self.path[len("/snapshot/"):]
        if snapshot_id in OVERRIDDEN:
            data = json.dumps(OVERRIDDEN[snapshot_id]).encode()
        else:
            with open(CONFIG["snapshot"], "rb") as f:
                data = f.read()
        if CONFIG.get("gzip_snapshot") or os.path.exists(CONFIG["snapshot"] + ".gzip"):
            data = gzip.compress(data)
        self.reply(200, data, "application/octet-stream")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        target = self.headers.get("X-Amz-Target", "")
        operation = target.split(".", 1)[1] if target.startswith("AmazonSSM.") else target
        headers = {k.lower(): v for k, v in self.headers.items()}
        parsed = urllib.parse.urlsplit(self.path)
        problem = check_signature("POST", parsed.path, parsed.query, headers, body)
        if problem:
            record({"operation": operation, "refused": problem})
            return self.error("InvalidSignatureException", problem)
        if operation not in MODEL.operation_names:
            record({"operation": operation, "refused": "unknown operation"})
            return self.error("UnknownOperationException", operation)
        try:
            request = json.loads(body or b"{}")
            shape = MODEL.operation_model(operation).input_shape
            validate_parameters(request, shape)
            problems = []
            walk(shape, request, "$", problems)
            if problems:
                raise ValueError("; ".join(problems))
        except Exception as e:  # every validation problem is the client's
            record({"operation": operation, "refused": str(e)})
            return self.error("ValidationException", str(e))
        # More failures to inject, from RECORD.inject when a test writes it.
        inject = CONFIG["record"] + ".inject"
        if os.path.exists(inject):
            for op, codes in json.load(open(inject)).items():
                FAIL.setdefault(op, []).extend(codes)
            os.remove(inject)
        if FAIL.get(operation):
            code = FAIL[operation].pop(0)
            record({"operation": operation, "body": request, "failed": code})
            status = 500 if code in ("InternalServerError",) else 400
            return self.error(code, f"injected {code}", status)
        record({"operation": operation, "body": request})
        if operation == "GetDeployablePatchSnapshotForInstance":
            port = self.server.server_address[1]
            if "BaselineOverride" in request:
                # As the service: the snapshot is computed from the override baseline.
                OVERRIDDEN[request["SnapshotId"]] = snapshot_from_override(request["BaselineOverride"])
            return self.reply(200, {
                "InstanceId": request["InstanceId"],
                "SnapshotId": request["SnapshotId"],
                "SnapshotDownloadUrl": (f"https://localhost:{port}" if CONFIG.get("tls")
                                        else f"http://{CONFIG.get('snapshot_host', '127.0.0.1')}:{port}")
                + f"/snapshot/{request['SnapshotId']}",
                "Product": CONFIG.get("product", "AmazonLinux2023"),
            })
        if operation == "PutInventory":
            return self.reply(200, {"Message": "ok"})
        return self.error("UnknownOperationException", f"{operation} is not served here")


OVERRIDDEN = {}


def snapshot_from_override(override):
    """The snapshot document (camelCase, spec section 1.3) the service serves for a BaselineOverride."""
    def filters(group):
        return {"filters": [{"key": f["Key"], "values": f["Values"]}
                            for f in (group or {}).get("PatchFilters", [])]}
    rules = [{
        "filterGroup": filters(rule.get("PatchFilterGroup")),
        "complianceLevel": rule.get("ComplianceLevel", "UNSPECIFIED"),
        "enableNonSecurity": rule.get("EnableNonSecurity", False),
        "approveAfterDays": rule.get("ApproveAfterDays"),
        "approveUntilDate": rule.get("ApproveUntilDate"),
    } for rule in (override.get("ApprovalRules") or {}).get("PatchRules", [])]
    return {
        "patchBaseline": {
            "accountId": "123456789012",
            "baselineId": "pb-0123456789abcdef0",
            "name": override.get("Name", "override"),
            "operatingSystem": override["OperatingSystem"],
            "globalFilters": filters(override.get("GlobalFilters")),
            "approvalRules": {"rules": rules},
            "approvedPatches": override.get("ApprovedPatches", []),
            "approvedPatchesComplianceLevel": override.get("ApprovedPatchesComplianceLevel", "UNSPECIFIED"),
            "approvedPatchesEnableNonSecurity": override.get("ApprovedPatchesEnableNonSecurity", False),
            "rejectedPatches": override.get("RejectedPatches", []),
            "rejectedPatchesAction": override.get("RejectedPatchesAction", "ALLOW_AS_DEPENDENCY"),
            "createdTime": 1700000000.0,
            "modifiedTime": 1700000000.0,
            "description": "override",
            "sources": [{"name": s["Name"], "products": s["Products"], "configuration": s["Configuration"]}
                        for s in override.get("Sources", [])],
        },
        "patchGroup": None,
        "patches": [],
        "enableApplicationPatches": False,
        "requiredFeatures": [],
    }


def main():
    wrap = None
    if CONFIG.get("tls"):
        import ssl
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(CONFIG["tls"]["cert"], CONFIG["tls"]["key"])

        def wrap(sock):
            return context.wrap_socket(sock, server_side=True)
    serve(Handler, CONFIG["port_file"], wrap=wrap)


if __name__ == "__main__":
    main()
