#!/usr/bin/python3
"""A hostile API server for the client's tests: it answers as fast as TLS goes, faster than
any decoder reads, so whatever the client buffers ahead of its decoder shows in its memory.

flood_server.py list BYTES CERT KEY   every request: a NodeList of BYTES (junk the decoder
                                      skips), with Content-Length
flood_server.py watch CERT KEY        every request: a chunked watch stream of BOOKMARK
                                      events without end
Prints "ACCEPT 127.0.0.1:PORT" once it listens (as openssl s_server does)."""

import socket
import ssl
import sys
import threading

mode, cert, key = sys.argv[1], sys.argv[-2], sys.argv[-1]
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(cert, key)
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(8)
print(f"ACCEPT 127.0.0.1:{listener.getsockname()[1]}", flush=True)


def answer_list(conn, size):
    head = b'{"kind":"NodeList","metadata":{"resourceVersion":"1"},"junk":['
    chunk = b"1," * (256 * 1024)
    count = max(0, (size - len(head) - 2) // len(chunk))
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                 % (len(head) + count * len(chunk) + 2) + head)
    for _ in range(count):
        conn.sendall(chunk)
    conn.sendall(b"1]")


def answer_watch(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                 b"Transfer-Encoding: chunked\r\n\r\n")
    line = b'{"type":"BOOKMARK","object":{"kind":"Node","metadata":{"resourceVersion":"7"}}}\n'
    data = line * (256 * 1024 // len(line))
    chunk = b"%x\r\n%s\r\n" % (len(data), data)
    while True:
        conn.sendall(chunk)


def serve(raw):
    try:
        conn = context.wrap_socket(raw, server_side=True)
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                return
            request += data
        if mode == "list":
            answer_list(conn, int(sys.argv[2]))
        else:
            answer_watch(conn)
    except (OSError, ssl.SSLError):
        pass  # the client hung up: what it is meant to do
    finally:
        raw.close()


while True:
    client, _ = listener.accept()
    threading.Thread(target=serve, args=(client,), daemon=True).start()
