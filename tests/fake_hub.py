"""A stand-in for the Hugging Face Hub's HTTP API on 127.0.0.1, enough for `upload_folder`:
repository creation, the preupload check (every file a regular upload) and the commit (files
sent inline, as NDJSON). It keeps what was uploaded and which token each request carried.

    with FakeHub() as hub:   # then HF_ENDPOINT=hub.url
        ...
        hub.repos["user/name"]["README.md"]  -> bytes
"""

from __future__ import annotations

import base64
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeHub:
    def __init__(self, token: str = "hf_test_token"):
        self.token = token
        self.repos: dict[str, dict[str, bytes]] = {}
        self.requests: list[tuple[str, str, str | None]] = []  # (method, path, authorization)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # quiet
                pass

            def _reply(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def do_GET(self) -> None:
                hub.requests.append(("GET", self.path, self.headers.get("Authorization")))
                if self.path.startswith("/api/whoami"):
                    self._reply(200, {"type": "user", "name": "tester", "auth": {}})
                else:
                    self._reply(404, {"error": f"not in the fake hub: GET {self.path}"})

            def do_POST(self) -> None:
                hub.requests.append(("POST", self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != f"Bearer {hub.token}":
                    self._body()
                    self._reply(401, {"error": "Invalid credentials in Authorization header"})
                    return
                if self.path == "/api/validate-yaml":  # the model card's front matter
                    self._body()
                    self._reply(200, {"warnings": []})
                    return
                if self.path == "/api/repos/create":
                    request = json.loads(self._body())
                    repo = f"{request.get('organization') or 'tester'}/{request['name']}"
                    hub.repos.setdefault(repo, {})
                    self._reply(200, {"url": f"{hub.url}/{repo}", "name": repo})
                    return
                match = re.fullmatch(r"/api/models/([^/]+/[^/]+)/(preupload|commit)/([^/?]+)", self.path)
                if not match or match.group(1) not in hub.repos:
                    self._body()
                    self._reply(404, {"error": f"not in the fake hub: POST {self.path}"})
                    return
                repo, action = match.group(1), match.group(2)
                if action == "preupload":
                    files = json.loads(self._body())["files"]
                    self._reply(200, {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                                for f in files]})
                    return
                for line in self._body().decode().splitlines():
                    entry = json.loads(line)
                    if entry.get("key") == "file":
                        value = entry["value"]
                        hub.repos[repo][value["path"]] = base64.b64decode(value["content"])
                self._reply(200, {"success": True, "commitOid": "0" * 40,
                                  "commitUrl": f"{hub.url}/{repo}/commit/{'0' * 40}"})

        return Handler
