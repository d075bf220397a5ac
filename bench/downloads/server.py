#!/usr/bin/env python3
"""A stand-in for the avatar API and its CDN, on 127.0.0.1, for the download
benchmark: every request waits LATENCY seconds first, like a distant server.

  GET /v1/avatars/models/m/inferences/small  -> DONE, COUNT urls of SIZE bytes
  GET /v1/avatars/models/m/inferences/big    -> DONE, one url of BIG bytes
  GET /files/N.jpg                           -> SIZE deterministic bytes (Range ok)
  GET /big/1.jpg                             -> BIG bytes, streamed

Usage: server.py PORT [LATENCY_MS] [COUNT] [SIZE] [BIG]
"""
import json
import random
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(sys.argv[1])
LATENCY = float(sys.argv[2] if len(sys.argv) > 2 else 50) / 1000
COUNT = int(sys.argv[3] if len(sys.argv) > 3 else 60)
SIZE = int(sys.argv[4] if len(sys.argv) > 4 else 150_000)
BIG = int(sys.argv[5] if len(sys.argv) > 5 else 500_000_000)

BLOB = random.Random(42).randbytes(SIZE)
CHUNK = random.Random(7).randbytes(1 << 20)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def send(self, status, body, headers=()):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        time.sleep(LATENCY)
        base = f"http://127.0.0.1:{PORT}"
        if self.path.startswith("/v1/avatars/models/m/inferences/"):
            which = self.path.rsplit("/", 1)[1]
            if which == "big":
                data = [{"url": f"{base}/big/1.jpg", "style": "big"}]
            else:
                data = [{"url": f"{base}/files/{n}.jpg", "style": "realistic"} for n in range(1, COUNT + 1)]
            body = json.dumps({"status": "DONE", "data": data}).encode()
            return self.send(200, body, [("Content-Type", "application/json")])
        if self.path.startswith("/files/"):
            start = 0
            spec = self.headers.get("Range", "")
            if spec.startswith("bytes="):
                start = int(spec[6:].split("-")[0])
                return self.send(206, BLOB[start:], [("Content-Range", f"bytes {start}-{SIZE - 1}/{SIZE}")])
            return self.send(200, BLOB)
        if self.path.startswith("/big/"):
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            left = BIG
            while left > 0:
                piece = CHUNK[: min(left, len(CHUNK))]
                self.wfile.write(piece)
                left -= len(piece)
            return None
        return self.send(404, b'{"detail":"not found"}')


ThreadingHTTPServer.daemon_threads = True
# The default backlog of 5 drops connections when 8 clients arrive at once.
ThreadingHTTPServer.request_queue_size = 128
ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
