#!/usr/bin/env python3
"""A local HTTP server that speaks the Bedrock control-plane calls moto lacks, for the test suite.

moto answers GetModelInvocationLoggingConfiguration but not ListProvisionedModelThroughputs,
ListInferenceProfiles or ListTagsForResource. This server answers those three from per-Region state that a
test sets with `POST /_stub/estate/<region>` (JSON: {"throughputs": [...], "profiles": [...], "tags": {arn: {k: v}}}),
answers `GET /logging/modelinvocations` with 403 AccessDeniedException for Regions set with
`POST /_stub/deny/<region>`, and forwards everything else to moto unchanged.

Usage: bedrock-stub.py PORT MOTO_URL
"""
import json
import re
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

STATE = {}
DENIED = set()
MOTO = sys.argv[2].rstrip("/")


def region_of(headers):
    m = re.search(r"Credential=[^/]+/\d+/([^/]+)/", headers.get("Authorization", ""))
    return m.group(1) if m else "us-east-1"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def reply(self, status, body, content_type="application/json", extra=None):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def handle_any(self, method):
        path = urlparse(self.path).path
        payload = self.body()
        region = region_of(self.headers)
        state = STATE.get(region, {})
        if method == "POST" and path.startswith("/_stub/estate/"):
            STATE[path.rsplit("/", 1)[1]] = json.loads(payload or b"{}")
            return self.reply(200, {"ok": True})
        if method == "POST" and path.startswith("/_stub/deny/"):
            DENIED.add(path.rsplit("/", 1)[1])
            return self.reply(200, {"ok": True})
        if path == "/logging/modelinvocations" and region in DENIED:
            return self.reply(403, {"message": "User is not authorized to perform bedrock:GetModelInvocationLoggingConfiguration"},
                              extra={"x-amzn-ErrorType": "AccessDeniedException"})
        if method == "GET" and path == "/provisioned-model-throughputs":
            return self.reply(200, {"provisionedModelSummaries": state.get("throughputs", [])})
        if method == "GET" and path == "/inference-profiles":
            return self.reply(200, {"inferenceProfileSummaries": state.get("profiles", [])})
        if method == "POST" and path == "/listTagsForResource":
            arn = json.loads(payload or b"{}").get("resourceARN", "")
            tags = state.get("tags", {}).get(arn, {})
            return self.reply(200, {"tags": [{"key": k, "value": v} for k, v in tags.items()]})
        request = urllib.request.Request(MOTO + self.path, data=payload if payload else None, method=method)
        for k, v in self.headers.items():
            if k.lower() not in ("host", "content-length", "connection"):
                request.add_header(k, v)
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                status, data, headers = r.status, r.read(), r.headers
        except urllib.error.HTTPError as e:
            status, data, headers = e.code, e.read(), e.headers
        extra = {k: v for k, v in headers.items() if k.lower().startswith("x-amz")}
        self.reply(status, data, headers.get("Content-Type", "application/json"), extra)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def log_message(self, *args):
        pass


ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
