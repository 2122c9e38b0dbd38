#!/usr/bin/env python3
"""Fake LLM provider servers for silo's tests, on loopback, over HTTPS.

One program, three wire formats (--kind):
  anthropic  POST /v1/messages         (Messages API; SSE when "stream": true)
  openai     POST /v1/responses        (Responses API; SSE when "stream": true)
  local      POST /v1/chat/completions (chat completions; SSE) + GET /v1/models
  realtime   GET /v1/realtime?model=M upgraded to a WebSocket (Realtime API,
             text only: session.update, conversation.item.create,
             response.create -> response.* events, response.done)

The behaviour of one request is chosen by the model name, so a test needs
no side channel:
  *-tool       first turn answers a tool call; once the last message holds
               a tool result, a text answer ("multi-turn")
  *-think      (anthropic) a thinking block before the text; (openai) a
               reasoning item with encrypted_content
  *-max        stop because of max tokens
  *-e401 *-e400 *-e404 *-e429 *-e500 *-e529   that HTTP error, in the
               provider's error body; 429 carries retry-after: 7
  *-reset      a few events, then the TCP connection is reset
  *-cut        a few events, then a clean close without the final event
  *-badsse     a data line that is not JSON
  *-truncjson  (non-stream) a body cut in the middle of the JSON
  *-streamerr  an error event inside a 200 stream (overloaded)
  *-slow       waits 3 s before answering (timeouts, cancellation)
  *-long       a long streamed text (N deltas from --long-deltas)
  *-exit       a whole headless session: calls Exit{message="Done by fake."}
  *-session    a whole session: Read README.md, then Exit with a message
               quoting the start of what Read returned
  *-ctl        (local) text, then Read README.md, then Exit, all carrying
               terminal control sequences (OSC 52 clipboard write, window
               title, screen clear, a C1 CSI) that must never reach a
               terminal unescaped
Anything else: a short text answer.

Every request is appended to --log as one JSON line: method, path, headers,
body (parsed JSON when it is JSON), and key_leaks: where else than its own
header the expected key (--key) appeared. A wrong or missing key answers
401 in the provider's format. --port 0 picks a port; the port is printed
on stdout as "PORT <n>" once listening.
"""
import argparse
import base64
import hashlib
import json
import os
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ARGS = None
LOG_LOCK = threading.Lock()


def log_request(rec):
    if not ARGS.log:
        return
    with LOG_LOCK:
        with open(ARGS.log, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec, sort_keys=True) + "\n")


def scenario(model):
    for s in ("tool", "think", "max", "exit", "session", "ctl", "e401", "e400", "e404", "e429", "e500", "e529",
              "reset", "cut", "badsse", "truncjson", "streamerr", "slow", "long"):
        if model.endswith("-" + s):
            return s
    return "text"


def plan(sc, results):
    """The tool call this turn makes, as (name, input), or None for text.
    results: the tool results (strings) the request ends with."""
    if sc == "tool" and not results:
        return ("Read", {"path": "README.md"})
    if sc == "exit" and not results:
        return ("Exit", {"message": "Done by fake."})
    if sc == "ctl":
        if not results:
            return ("Read", {"path": "README.md\x1b]0;pwned-title\x07"})
        if not any("exiting" in r for r in results):
            return ("Exit", {"message": "Done\x1b]52;c;aGFja2Vk\x07 and\x1b[2J\x1b[H clean\u009b31m"})
    if sc == "session":
        if not results:
            return ("Read", {"path": "README.md"})
        if not any("exiting" in r for r in results):
            return ("Exit", {"message": "Done by fake: " + results[0][:40]})
    return None


def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(c.get("text", "") for c in content if isinstance(c, dict))
    return ""


def trailing(items, pred, get):
    out = []
    for it in reversed(items):
        if not isinstance(it, dict) or not pred(it):
            break
        out.insert(0, text_of(get(it)))
    return out


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-provider/1"

    def log_message(self, fmt, *a):  # quiet
        pass

    # --- plumbing -------------------------------------------------------
    def send_json(self, status, obj, extra=None):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def start_stream(self):
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()

    def chunk(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def event(self, name, obj):
        if name:
            self.chunk("event: %s\ndata: %s\n\n" % (name, json.dumps(obj)))
        else:
            self.chunk("data: %s\n\n" % json.dumps(obj))

    def reset(self):
        self.wfile.flush()
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            raw = sock.unwrap() if isinstance(sock, ssl.SSLSocket) else sock
        except (ssl.SSLError, OSError):
            raw = sock
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        raw.close()
        self.close_connection = True

    # --- entry ------------------------------------------------------------
    def do_GET(self):
        self.handle_any(None)

    def do_POST(self):
        n = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(n) if n else b""
        self.handle_any(raw)

    def handle_any(self, raw):
        headers = [[k.lower(), v] for k, v in self.headers.items()]
        body = None
        text = raw.decode("utf-8", "replace") if raw is not None else ""
        try:
            body = json.loads(text) if text else None
        except ValueError:
            body = text
        key = ARGS.key
        leaks = []
        key_header = {"anthropic": "x-api-key", "openai": "authorization",
                      "local": "authorization", "realtime": "authorization"}[ARGS.kind]
        for k, v in headers:
            if key and key in v and k != key_header:
                leaks.append("header " + k)
        if key and key in text:
            leaks.append("body")
        if key and key in self.path:
            leaks.append("path")
        log_request({"method": self.command, "path": self.path, "headers": headers,
                     "body": body, "key_leaks": leaks})
        if key:
            got = self.headers.get(key_header) or ""
            want = key if ARGS.kind == "anthropic" else "Bearer " + key
            if got != want:
                return self.error(401)
        if ARGS.kind == "anthropic":
            return self.anthropic(body)
        if ARGS.kind == "openai":
            return self.openai(body)
        if ARGS.kind == "realtime":
            return self.realtime()
        return self.local(body)

    # --- errors in each provider's format -----------------------------------
    ERR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                 404: "not_found_error", 429: "rate_limit_error", 500: "api_error",
                 529: "overloaded_error"}

    def error(self, status):
        extra = {"retry-after": "7"} if status == 429 else None
        if ARGS.kind == "anthropic":
            t = self.ERR_TYPES.get(status, "api_error")
            msg = {401: "invalid x-api-key", 404: "model: not found",
                   529: "Overloaded"}.get(status, "fake error %d" % status)
            return self.send_json(status, {"type": "error", "error": {"type": t, "message": msg},
                                           "request_id": "req_fake"}, extra)
        code = {401: "invalid_api_key", 404: "model_not_found", 429: "rate_limit_exceeded",
                500: "server_error", 529: "server_is_overloaded"}.get(status)
        msg = {401: "Incorrect API key provided.", 404: "The model does not exist.",
               529: "The server is overloaded."}.get(status, "fake error %d" % status)
        return self.send_json(status, {"error": {"message": msg, "type": "invalid_request_error"
                                                 if status < 500 else "server_error",
                                                 "param": None, "code": code}}, extra)

    def common_errors(self, sc):
        if sc.startswith("e") and sc[1:].isdigit():
            self.error(int(sc[1:]))
            return True
        if sc == "slow":
            time.sleep(3)
        return False

    # --- anthropic ------------------------------------------------------------
    def anthropic(self, body):
        if self.path != "/v1/messages" or not isinstance(body, dict):
            return self.error(404 if self.path != "/v1/messages" else 400)
        model = body.get("model", "")
        sc = scenario(model)
        if self.common_errors(sc):
            return
        msgs = body.get("messages") or []
        last = msgs[-1] if msgs else {}
        content = last.get("content") if isinstance(last.get("content"), list) else []
        results = [text_of(b.get("content")) for b in content
                   if isinstance(b, dict) and b.get("type") == "tool_result"]
        after_tool = bool(results)
        call = plan(sc, results)
        blocks, stop = [], "end_turn"
        if sc == "think":
            blocks.append({"type": "thinking", "thinking": "Let me think.", "signature": "sig-abc"})
        if call:
            inp = dict(call[1], limit=10) if sc == "tool" else call[1]
            blocks.append({"type": "text", "text": "Reading it."})
            blocks.append({"type": "tool_use", "id": "toolu_%02d" % (len(msgs) // 2 + 1)
                           if sc != "tool" else "toolu_01", "name": call[0], "input": inp})
            stop = "tool_use"
        elif sc == "max":
            blocks.append({"type": "text", "text": "Partial"})
            stop = "max_tokens"
        elif sc == "long":
            blocks.append({"type": "text", "text": "x" * ARGS.long_deltas})
        else:
            blocks.append({"type": "text", "text": "Bye." if sc in ("exit", "session") else
                           "All done." if after_tool else "Hello from fake."})
        usage = {"input_tokens": 100 + len(msgs), "output_tokens": 20,
                 "cache_creation_input_tokens": 50, "cache_read_input_tokens": 30}
        if not body.get("stream"):
            if sc == "truncjson":
                data = json.dumps({"id": "msg_1", "type": "message", "role": "assistant",
                                   "content": blocks}).encode()[:40]
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            return self.send_json(200, {"id": "msg_1", "type": "message", "role": "assistant",
                                        "model": model, "content": blocks, "stop_reason": stop,
                                        "stop_sequence": None, "usage": usage})
        self.start_stream()
        self.event("message_start", {"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": model,
            "stop_reason": None, "stop_sequence": None,
            "usage": dict(usage, output_tokens=1)}})
        self.chunk(": keepalive comment\n\n")
        self.event("ping", {"type": "ping"})
        if sc == "badsse":
            self.chunk("event: content_block_start\ndata: {not json\n\n")
            return self.end_stream()
        if sc == "streamerr":
            self.event("error", {"type": "error", "error": {"type": "overloaded_error",
                                                            "message": "Overloaded"}})
            return self.end_stream()
        for i, b in enumerate(blocks):
            if b["type"] == "text":
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "text", "text": ""}})
                text = b["text"]
                step = 1 if sc == "long" else 4
                for j in range(0, len(text), step):
                    self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "text_delta",
                                                                 "text": text[j:j + step]}})
                    if sc in ("reset", "cut") and j >= 4:
                        return self.reset() if sc == "reset" else self.end_stream()
            elif b["type"] == "tool_use":
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "tool_use", "id": b["id"],
                                                                     "name": b["name"], "input": {}}})
                js = json.dumps(b["input"])
                for j in range(0, len(js), 7):
                    self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                       "delta": {"type": "input_json_delta",
                                                                 "partial_json": js[j:j + 7]}})
            elif b["type"] == "thinking":
                self.event("content_block_start", {"type": "content_block_start", "index": i,
                                                   "content_block": {"type": "thinking",
                                                                     "thinking": ""}})
                self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": {"type": "thinking_delta",
                                                             "thinking": b["thinking"]}})
                self.event("content_block_delta", {"type": "content_block_delta", "index": i,
                                                   "delta": {"type": "signature_delta",
                                                             "signature": b["signature"]}})
            self.event("content_block_stop", {"type": "content_block_stop", "index": i})
        self.event("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": stop, "stop_sequence": None},
                                     "usage": {"output_tokens": usage["output_tokens"]}})
        self.event("message_stop", {"type": "message_stop"})
        self.end_stream()

    # --- openai responses -------------------------------------------------------
    def openai(self, body):
        if self.path != "/v1/responses" or not isinstance(body, dict):
            return self.error(404 if self.path != "/v1/responses" else 400)
        model = body.get("model", "")
        sc = scenario(model)
        if self.common_errors(sc):
            return
        items = body.get("input") or []
        results = trailing(items, lambda it: it.get("type") == "function_call_output",
                           lambda it: it.get("output"))
        after_tool = bool(results)
        call = plan(sc, results)
        output, status, incomplete = [], "completed", None
        if sc == "think":
            output.append({"type": "reasoning", "id": "rs_1", "summary": [],
                           "encrypted_content": "gAAAAencrypted"})
        if call:
            cid = "call_1" if sc == "tool" else "call_%d" % (len(items) + 1)
            output.append({"type": "function_call", "id": "fc_1", "call_id": cid,
                           "name": call[0], "arguments": json.dumps(call[1]),
                           "status": "completed"})
        else:
            text = {"max": "Partial", "long": "y" * ARGS.long_deltas, "exit": "Bye.",
                    "session": "Bye."}.get(sc, "All done." if after_tool else "Hello from fake.")
            output.append({"type": "message", "id": "msg_1", "status": "completed",
                           "role": "assistant", "content": [{"type": "output_text", "text": text,
                                                             "annotations": []}]})
        if sc == "max":
            status, incomplete = "incomplete", {"reason": "max_output_tokens"}
        usage = {"input_tokens": 200 + len(items), "input_tokens_details": {"cached_tokens": 0},
                 "output_tokens": 30, "output_tokens_details": {"reasoning_tokens": 0},
                 "total_tokens": 230 + len(items)}
        resp = {"id": "resp_1", "object": "response", "created_at": 1700000000,
                "status": status, "error": None, "incomplete_details": incomplete,
                "model": model, "output": output, "usage": usage}
        if not body.get("stream"):
            if sc == "truncjson":
                data = json.dumps(resp).encode()[:50]
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            return self.send_json(200, resp)
        self.start_stream()
        seq = [0]

        def ev(t, **kw):
            kw["type"] = t
            kw["sequence_number"] = seq[0]
            seq[0] += 1
            self.event(t, kw)
        ev("response.created", response=dict(resp, status="in_progress", output=[], usage=None))
        ev("response.in_progress", response=dict(resp, status="in_progress", output=[], usage=None))
        if sc == "badsse":
            self.chunk("event: response.output_item.added\ndata: {\"type\": nope}\n\n")
            return self.end_stream()
        if sc == "streamerr":
            ev("error", code="server_is_overloaded", message="The server is overloaded.", param=None)
            return self.end_stream()
        for i, item in enumerate(output):
            ev("response.output_item.added", output_index=i, item=dict(item, status="in_progress"))
            if item["type"] == "message":
                text = item["content"][0]["text"]
                ev("response.content_part.added", item_id=item["id"], output_index=i,
                   content_index=0, part={"type": "output_text", "text": "", "annotations": []})
                step = 1 if sc == "long" else 5
                for j in range(0, len(text), step):
                    ev("response.output_text.delta", item_id=item["id"], output_index=i,
                       content_index=0, delta=text[j:j + step])
                    if sc in ("reset", "cut") and j >= 5:
                        return self.reset() if sc == "reset" else self.end_stream()
                ev("response.output_text.done", item_id=item["id"], output_index=i,
                   content_index=0, text=text)
                ev("response.content_part.done", item_id=item["id"], output_index=i,
                   content_index=0, part=item["content"][0])
            elif item["type"] == "function_call":
                ev("response.function_call_arguments.delta", item_id=item["id"], output_index=i,
                   delta=item["arguments"])
                ev("response.function_call_arguments.done", item_id=item["id"], output_index=i,
                   arguments=item["arguments"])
            ev("response.output_item.done", output_index=i, item=item)
        ev("response.incomplete" if status == "incomplete" else "response.completed",
           response=resp)
        self.end_stream()

    # --- realtime (WebSocket) ---------------------------------------------------
    def ws_send(self, obj, opcode=1):
        data = json.dumps(obj).encode() if opcode == 1 else obj
        n = len(data)
        if n < 126:
            head = struct.pack("!BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack("!BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
        self.wfile.write(head + data)
        self.wfile.flush()

    def ws_recv(self):
        """One client message (unmasked) or None at close/EOF."""
        while True:
            h = self.rfile.read(2)
            if len(h) < 2:
                return None
            op, n = h[0] & 0x0F, h[1] & 0x7F
            if not h[1] & 0x80:
                raise ValueError("client frame not masked")
            if n == 126:
                n = struct.unpack("!H", self.rfile.read(2))[0]
            elif n == 127:
                n = struct.unpack("!Q", self.rfile.read(8))[0]
            mask = self.rfile.read(4)
            data = bytearray(self.rfile.read(n))
            for i in range(n):
                data[i] ^= mask[i & 3]
            if op == 8:
                self.ws_send(bytes(data[:2]) or b"\x03\xe8", opcode=8)
                return None
            if op == 9:
                self.ws_send(bytes(data), opcode=10)
                continue
            if op == 1:
                return data.decode()

    def realtime(self):
        from urllib.parse import urlparse, parse_qs
        u = urlparse(self.path)
        model = (parse_qs(u.query).get("model") or [""])[0]
        sc = scenario(model)
        if u.path != "/v1/realtime":
            return self.error(404)
        if sc.startswith("e") and sc[1:].isdigit():
            return self.error(int(sc[1:]))
        key = self.headers.get("sec-websocket-key", "")
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        self.ws_send({"type": "session.created", "event_id": "ev_0",
                      "session": {"type": "realtime", "object": "realtime.session",
                                  "id": "sess_1", "model": model,
                                  "output_modalities": ["audio"]}})
        items = []
        n = 0
        while True:
            text = self.ws_recv()
            if text is None:
                return
            ev = json.loads(text)
            log_request({"ws_event": ev, "key_leaks": ["ws event"] if ARGS.key and
                         ARGS.key in text else []})
            t = ev.get("type")
            n += 1
            if t == "session.update":
                self.ws_send({"type": "session.updated", "event_id": "ev_%d" % n,
                              "session": dict(ev.get("session") or {}, id="sess_1")})
            elif t == "conversation.item.create":
                item = dict(ev.get("item") or {}, id="item_%d" % n)
                items.append(item)
                self.ws_send({"type": "conversation.item.added", "event_id": "ev_%d" % n,
                              "previous_item_id": None, "item": item})
            elif t == "response.create":
                return self.realtime_response(model, sc, items)

    def realtime_response(self, model, sc, items):
        results = trailing(items, lambda it: it.get("type") == "function_call_output",
                           lambda it: it.get("output"))
        after_tool = bool(results)
        call = plan(sc, results)
        if sc == "streamerr":
            self.ws_send({"type": "error", "event_id": "ev_e",
                          "error": {"type": "server_error", "code": "server_is_overloaded",
                                    "message": "The server is overloaded.", "param": None}})
            return self.ws_recv()
        self.ws_send({"type": "response.created", "event_id": "ev_r",
                      "response": {"id": "resp_1", "object": "realtime.response",
                                   "status": "in_progress", "output": []}})
        status, details = "completed", None
        if call:
            out = {"id": "item_fc", "type": "function_call", "status": "completed",
                   "name": call[0],
                   "call_id": "call_1" if sc == "tool" else "call_%d" % (len(items) + 1),
                   "arguments": json.dumps(call[1])}
            self.ws_send({"type": "response.output_item.added", "response_id": "resp_1",
                          "output_index": 0, "item": dict(out, arguments="")})
            self.ws_send({"type": "response.function_call_arguments.delta",
                          "response_id": "resp_1", "item_id": "item_fc", "output_index": 0,
                          "call_id": out["call_id"], "delta": out["arguments"]})
            self.ws_send({"type": "response.function_call_arguments.done",
                          "response_id": "resp_1", "item_id": "item_fc", "output_index": 0,
                          "call_id": out["call_id"], "arguments": out["arguments"]})
        else:
            text = {"max": "Partial", "long": "w" * ARGS.long_deltas, "exit": "Bye.",
                    "session": "Bye."}.get(sc, "All done." if after_tool else "Hello from fake.")
            if sc == "max":
                status, details = "incomplete", {"type": "incomplete",
                                                 "reason": "max_output_tokens"}
            out = {"id": "item_msg", "type": "message", "status": "completed",
                   "role": "assistant", "content": [{"type": "output_text", "text": text}]}
            self.ws_send({"type": "response.output_item.added", "response_id": "resp_1",
                          "output_index": 0, "item": dict(out, content=[])})
            step = 1 if sc == "long" else 5
            for j in range(0, len(text), step):
                self.ws_send({"type": "response.output_text.delta", "response_id": "resp_1",
                              "item_id": "item_msg", "output_index": 0, "content_index": 0,
                              "delta": text[j:j + step]})
                if sc == "reset" and j >= 5:
                    return self.reset()
            self.ws_send({"type": "response.output_text.done", "response_id": "resp_1",
                          "item_id": "item_msg", "output_index": 0, "content_index": 0,
                          "text": text})
        self.ws_send({"type": "response.output_item.done", "response_id": "resp_1",
                      "output_index": 0, "item": out})
        self.ws_send({"type": "response.done", "event_id": "ev_d", "response": {
            "id": "resp_1", "object": "realtime.response", "status": status,
            "status_details": details, "output": [out],
            "usage": {"total_tokens": 340 + len(items), "input_tokens": 300 + len(items),
                      "output_tokens": 40,
                      "input_token_details": {"cached_tokens": 0, "text_tokens": 300,
                                              "audio_tokens": 0},
                      "output_token_details": {"text_tokens": 40, "audio_tokens": 0}}}})
        # wait for the client's close
        while self.ws_recv() is not None:
            pass

    # --- chat completions (local) -------------------------------------------------
    def local(self, body):
        if self.command == "GET":
            if self.path == "/v1/models":
                return self.send_json(200, {"object": "list", "data": [
                    {"id": "fake-local-model", "object": "model", "owned_by": "me"}]})
            if self.path == "/health":
                return self.send_json(200, {"status": "ok"})
            return self.error(404)
        if self.path != "/v1/chat/completions" or not isinstance(body, dict):
            return self.error(404 if self.path != "/v1/chat/completions" else 400)
        model = body.get("model", "")
        sc = scenario(model)
        if self.common_errors(sc):
            return
        msgs = body.get("messages") or []
        results = trailing(msgs, lambda m: m.get("role") == "tool", lambda m: m.get("content"))
        after_tool = bool(results)
        call = plan(sc, results)
        calls, text, finish = None, None, "stop"
        if call:
            cid = "call_1" if sc == "tool" else "call_%d" % (len(msgs) + 1)
            calls = [{"id": cid, "type": "function",
                      "function": {"name": call[0], "arguments": json.dumps(call[1])}}]
            finish = "tool_calls"
        else:
            text = {"max": "Partial", "long": "z" * ARGS.long_deltas, "exit": "Bye.",
                    "session": "Bye."}.get(sc, "All done." if after_tool else "Hello from fake.")
            if sc == "max":
                finish = "length"
        usage = {"prompt_tokens": 50 + len(msgs), "completion_tokens": 10,
                 "total_tokens": 60 + len(msgs)}
        if not body.get("stream"):
            if sc == "truncjson":
                data = b'{"id":"chatcmpl-1","choices":[{"index":0,"mess'
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            msg = {"role": "assistant", "content": text}
            if calls:
                msg["tool_calls"] = calls
            return self.send_json(200, {"id": "chatcmpl-1", "object": "chat.completion",
                                        "created": 1700000000, "model": model,
                                        "choices": [{"index": 0, "message": msg,
                                                     "finish_reason": finish}],
                                        "usage": usage})
        self.start_stream()

        def chunk(delta, fin=None, **kw):
            obj = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1700000000,
                   "model": model, "choices": [{"index": 0, "delta": delta,
                                                "finish_reason": fin}]}
            obj.update(kw)
            self.event(None, obj)
        chunk({"role": "assistant", "content": ""})
        if sc == "badsse":
            self.chunk("data: {\"choices\": [\n\n")
            return self.end_stream()
        if calls:
            c = calls[0]
            if sc == "ctl":
                chunk({"content": "Looking\x1b[2J\x1b]52;c;eA==\x07 now"})
            chunk({"tool_calls": [{"index": 0, "id": c["id"], "type": "function",
                                   "function": {"name": c["function"]["name"], "arguments": ""}}]})
            args = c["function"]["arguments"]
            for j in range(0, len(args), 6):
                chunk({"tool_calls": [{"index": 0, "function": {"arguments": args[j:j + 6]}}]})
        else:
            step = 1 if sc == "long" else 4
            for j in range(0, len(text), step):
                chunk({"content": text[j:j + step]})
                if sc in ("reset", "cut") and j >= 4:
                    return self.reset() if sc == "reset" else self.end_stream()
        chunk({}, finish)
        self.event(None, {"id": "chatcmpl-1", "object": "chat.completion.chunk",
                          "created": 1700000000, "model": model, "choices": [], "usage": usage})
        self.chunk("data: [DONE]\n\n")
        self.end_stream()


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # clients that hang up (cancel, timeout tests) are not errors here
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, BrokenPipeError, OSError)):
            return
        super().handle_error(request, client_address)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", required=True,
                    choices=["anthropic", "openai", "local", "realtime"])
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--cert")
    ap.add_argument("--keyfile")
    ap.add_argument("--key", default="", help="expected API key")
    ap.add_argument("--log")
    ap.add_argument("--long-deltas", type=int, default=20000)
    ARGS = ap.parse_args()
    srv = Server(("127.0.0.1", ARGS.port), Handler)
    if ARGS.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(ARGS.cert, ARGS.keyfile)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    print("PORT %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
