"""An instance metadata service (IMDSv2) stand-in for the tests.

PUT /latest/api/token gives a session token; every GET must carry it
(X-aws-ec2-metadata-token) or gets 401, as IMDSv2 answers. Serves the instance id, the
region and the role credentials the AWS SDK's credential chain asks for. Records each request,
one JSON line: {"method": ..., "path": ..., "token": bool}.

Usage: fake_imds.py CONFIG.json
CONFIG: {"port_file": P, "record": R, "address": "127.0.0.1" (default) or e.g. "169.254.169.254",
         "port": 0 (default: any), "instance_id": ..., "region": ...,
         "access_key": ..., "secret_key": ...}
Writes the chosen port to P when ready.
"""
import datetime
import http.server
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import config, recorder, serve  # noqa: E402

CONFIG = config()
record = recorder(CONFIG["record"])
TOKEN = "test-imds-session-token"



class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, text, content_type="text/plain"):
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        record({"method": "PUT", "path": self.path, "token": False})
        if self.path != "/latest/api/token":
            return self.reply(404, "")
        self.send_response(200)
        self.send_header("X-aws-ec2-metadata-token-ttl-seconds",
                         self.headers.get("X-aws-ec2-metadata-token-ttl-seconds", "21600"))
        self.send_header("Content-Length", str(len(TOKEN)))
        self.end_headers()
        self.wfile.write(TOKEN.encode())

    def do_GET(self):
        has_token = self.headers.get("X-aws-ec2-metadata-token") == TOKEN
        record({"method": "GET", "path": self.path, "token": has_token})
        if not has_token:
            return self.reply(401, "")
        expiration = (datetime.datetime.now(datetime.timezone.utc)
                      + datetime.timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
        answers = {
            "/latest/meta-data/instance-id": CONFIG["instance_id"],
            "/latest/meta-data/placement/region": CONFIG["region"],
            "/latest/meta-data/iam/security-credentials/": "test-role",
            "/latest/meta-data/iam/security-credentials/test-role": json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": CONFIG["access_key"],
                "SecretAccessKey": CONFIG["secret_key"], "Token": "test-session-token",
                "Expiration": expiration,
                "LastUpdated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }),
        }
        if self.path not in answers:
            return self.reply(404, "")
        self.reply(200, answers[self.path])


def main():
    serve(Handler, CONFIG["port_file"], CONFIG.get("address", "127.0.0.1"), CONFIG.get("port", 0))


if __name__ == "__main__":
    main()
