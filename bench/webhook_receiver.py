#!/usr/bin/env python3
"""A webhook receiver for bench/webhooks.sh: answers 200 and writes, per event, the time
from the change (the payload's timestamp, taken in the change's transaction) to arrival.
    webhook_receiver.py PORT OUT_FILE"""
import datetime
import http.server
import json
import sys
import time


class Receiver(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        arrived = time.time()
        event = json.loads(body)
        at = datetime.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        with open(sys.argv[2], "a") as out:
            out.write(f"{self.headers['webhook-id']} {arrived - at.timestamp():.6f}\n")
        self.send_response(200)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Receiver).serve_forever()
