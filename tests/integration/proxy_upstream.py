#!/usr/bin/env python3
"""Test upstream for the proxy tests and benchmark: HTTP on one port and
HTTPS on another, run inside a network namespace the test creates.

Paths: /echo (request line, headers and their sha256 as JSON), /big?n=N (N bytes),
/chunked (chunked body), /body (POST: length + sha256 of the body),
/reset (abrupt RST), /redirect?to=URL (302 to URL),
/dribble?n=K (the request headers as JSON, chunked, K bytes per chunk and
one write each), anything else: 200 "ok". TRACE echoes the request back
(message/http), as servers that allow it do. Like many servers, GET
ignores a request body, so a body is read as the next request.
Usage: proxy_upstream.py ADDR HTTP_PORT HTTPS_PORT CERT KEY [HTTPS_PORT...]
"""
import hashlib
import json
import socket
import ssl
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BIG = b"x" * (1 << 20)


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, *a):
        pass

    def send_body(self, body, ctype="text/plain"):
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length", "0"))
        return self.rfile.read(n)

    def do_GET(self):
        path, _, query = self.path.partition("?")
        if path == "/echo":
            body = json.dumps({"line": self.requestline,
                               "headers": [[k, v] for k, v in self.headers.items()],
                               "sha256": {k: hashlib.sha256(v.encode()).hexdigest()
                                          for k, v in self.headers.items()}})
            self.send_body(body.encode(), "application/json")
        elif path == "/big":
            n = int(query.split("=")[1]) if "=" in query else len(BIG)
            self.send_response(200)
            self.send_header("Content-Length", str(n))
            self.end_headers()
            while n > 0 and self.command != "HEAD":
                k = min(n, len(BIG))
                self.wfile.write(BIG[:k])
                n -= k
        elif path == "/chunked" and self.request_version == "HTTP/1.0":
            # as a real server does: no chunking for 1.0, the close ends it
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"hello chunked world")
            self.close_connection = True
        elif path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for part in (b"hello ", b"chunked ", b"world"):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/garbage":
            # not HTTP, and the connection stays open
            self.wfile.write(b"SSH-2.0-garbage\r\n\r\n")
            self.wfile.flush()
            time.sleep(3)
            self.close_connection = True
        elif path == "/redirect":
            self.send_response(302)
            self.send_header("Location", query.partition("=")[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif path == "/dribble":
            k = int(query.split("=")[1]) if "=" in query else 1
            body = json.dumps({"headers": [[k2, v] for k2, v in self.headers.items()]})
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Echo-Auth", self.headers.get("Authorization", ""))
            self.end_headers()
            self.wfile.flush()
            data = body.encode()
            for i in range(0, len(data), k):
                part = data[i:i + k]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                self.wfile.flush()
                time.sleep(0.001)
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
        else:
            self.send_body(b"ok\n")

    do_HEAD = do_GET

    def do_TRACE(self):
        body = (self.requestline + "\r\n" + str(self.headers)).encode()
        self.send_body(body, "message/http")

    def do_POST(self):
        data = self.read_body()
        body = json.dumps({"len": len(data), "sha256": hashlib.sha256(data).hexdigest()})
        self.send_body(body.encode(), "application/json")

    do_PUT = do_POST


class S(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512


def main():
    addr, hp, sp, cert, key = sys.argv[1:6]
    plain = S((addr, int(hp)), H)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    tls = []
    for port in [sp] + sys.argv[6:]:
        t = S((addr, int(port)), H)
        t.socket = ctx.wrap_socket(t.socket, server_side=True)
        tls.append(t)
    threading.Thread(target=plain.serve_forever, daemon=True).start()
    for t in tls[1:]:
        threading.Thread(target=t.serve_forever, daemon=True).start()
    print("ready", flush=True)
    tls[0].serve_forever()


if __name__ == "__main__":
    main()
