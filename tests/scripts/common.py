"""What the test servers share: the configuration file, the request record, and serving on a
port chosen by the system, written to the configuration's port file once ready."""
import http.server
import json
import os
import sys


def config():
    """The configuration file named on the command line."""
    return json.load(open(sys.argv[1]))


def recorder(path):
    """A function appending one JSON line per call to `path`."""
    def record(entry):
        with open(path, "a") as out:
            out.write(json.dumps(entry) + "\n")
    return record


def serve(handler, port_file, address="127.0.0.1", port=0, wrap=None):
    """Serves `handler`, threaded; `wrap` may replace the listening socket (TLS)."""
    server = http.server.ThreadingHTTPServer((address, port), handler)
    if wrap:
        server.socket = wrap(server.socket)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(port_file + ".tmp", port_file)
    server.serve_forever()
