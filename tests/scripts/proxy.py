"""A recording HTTP forward proxy for the tests, on loopback.

Plain requests in absolute form (`GET http://host:port/path HTTP/1.1`) are forwarded and
answered; `CONNECT host:port` opens a tunnel (for https endpoints). Every request is recorded,
one JSON line each: {"method": ..., "target": "host:port", "path": ..., "auth": bool}.
With "auth": "user:password" in the configuration, a request without that
Proxy-Authorization (Basic) gets 407 and is recorded with "refused": true.

Usage: proxy.py CONFIG.json
CONFIG: {"port_file": P, "record": R, "auth": optional "user:password"}
Writes the chosen port to P when ready.
"""
import base64
import http.client
import http.server
import json
import os
import select
import socket
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import config, recorder, serve  # noqa: E402

CONFIG = config()
record = recorder(CONFIG["record"])



class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def authorised(self, target):
        wanted = CONFIG.get("auth")
        given = self.headers.get("Proxy-Authorization", "")
        ok = True
        if wanted:
            ok = given == "Basic " + base64.b64encode(wanted.encode()).decode()
        if not ok:
            record({"method": self.command, "target": target, "path": self.path,
                    "auth": bool(given), "refused": True})
            self.send_response(407)
            self.send_header("Proxy-Authenticate", 'Basic realm="test"')
            self.send_header("Content-Length", "0")
            self.end_headers()
        return ok

    def do_CONNECT(self):
        target = self.path
        if not self.authorised(target):
            return
        record({"method": "CONNECT", "target": target, "path": "",
                "auth": "Proxy-Authorization" in self.headers})
        host, port = target.rsplit(":", 1)
        try:
            upstream = socket.create_connection((host, int(port)), timeout=10)
        except OSError:
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        sockets = [self.connection, upstream]
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                break
            done = False
            for sock in readable:
                data = sock.recv(65536)
                if not data:
                    done = True
                    break
                (upstream if sock is self.connection else self.connection).sendall(data)
            if done:
                break
        upstream.close()
        self.close_connection = True

    def forward(self):
        url = urllib.parse.urlsplit(self.path)
        target = url.netloc
        if not self.authorised(target):
            return
        record({"method": self.command, "target": target, "path": url.path,
                "auth": "Proxy-Authorization" in self.headers})
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("proxy-authorization", "proxy-connection", "connection")}
        upstream = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=30)
        path = url.path + ("?" + url.query if url.query else "")
        upstream.request(self.command, path or "/", body=body, headers=headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status, answer.reason)
        for key, value in answer.getheaders():
            if key.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = forward
    do_POST = forward
    do_PUT = forward
    do_HEAD = forward


def main():
    serve(Handler, CONFIG["port_file"])


if __name__ == "__main__":
    main()
