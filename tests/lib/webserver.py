"""webserver.py: the test internet's web server (tests/lib/world.sh).

Serves DIR on each ADDR:PORT given, one thread per address, logging requests to stderr.
http.server's own HTTPServer resolves its address with socket.getfqdn() when it binds, a
DNS query that waits out its timeout in a world with no resolver: so we bind without it.
Usage: python3 webserver.py DIR PORT ADDR...
"""
import functools
import http.server
import socket
import socketserver
import sys
import threading


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)
        self.server_name = self.server_address[0]
        self.server_port = self.server_address[1]


def serve(addr, port, handler):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    cls = type("Server%d" % family, (Server,), {"address_family": family})
    httpd = cls((addr, port), handler)
    print("serving %s port %d" % (addr, port), file=sys.stderr, flush=True)
    httpd.serve_forever()


def main():
    directory, port, addrs = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=directory)
    threads = [threading.Thread(target=serve, args=(a, port, handler), daemon=True) for a in addrs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


if __name__ == "__main__":
    main()
