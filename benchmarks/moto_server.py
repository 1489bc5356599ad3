"""``python -m benchmarks.moto_server``: moto's server on 127.0.0.1, in a process of its own.

Prints the server's URL on the first line of stdout, then serves until its
stdin closes. The end-to-end benchmark runs it this way so that the server
does not share the benchmark's interpreter lock with the clients it serves.
"""

from __future__ import annotations

import logging
import sys


def main() -> int:
    """Serve on 127.0.0.1 and a free port until stdin reaches end of file."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        if host != "127.0.0.1":
            print(f"error: moto's server bound {host}, not 127.0.0.1", flush=True)
            return 1
        print(f"http://127.0.0.1:{port}", flush=True)
        sys.stdin.read()
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
