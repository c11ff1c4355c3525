#!/usr/bin/env python3
"""Serve moto on 127.0.0.1 with the TapStack extensions installed.

    python3 hack/emulator/serve.py --port 0

Port 0 picks a free port. Once the server answers requests, one line goes to
stdout:  "tapstack-emulator ready http://127.0.0.1:<port>"  - the only stdout
output; logs go to stderr. SIGTERM/SIGINT (or, with --exit-on-stdin-eof, the
end of stdin) stop it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 = any free port")
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="stop when stdin closes (the parent died): no orphaned servers",
    )
    args = parser.parse_args()

    started = time.monotonic()
    from werkzeug.serving import make_server

    import tapstack_moto
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )
    from tapstack_moto import control

    types = tapstack_moto.install()
    app = control.wrap(DomainDispatcherApplication(create_backend_app))
    server = make_server(args.host, args.port, app, threaded=True)
    port = server.socket.getsockname()[1]
    # moto builds some URLs (S3 template URLs, SQS queue URLs) from MOTO_PORT.
    os.environ["MOTO_PORT"] = str(port)
    url = f"http://{args.host}:{port}"

    def stop(*_: object) -> None:
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def announce() -> None:
        # Ready means a request went through the whole stack, not just bind().
        urllib.request.urlopen(url + "/_tapstack/health", timeout=10).read()
        print(f"tapstack-emulator ready {url}", flush=True)
        print(
            f"started in {time.monotonic() - started:.2f}s; CloudFormation types added: "
            + ", ".join(types),
            file=sys.stderr,
            flush=True,
        )

    threading.Thread(target=announce, daemon=True).start()
    if args.exit_on_stdin_eof:

        def watch_stdin() -> None:
            while sys.stdin.buffer.read(4096):
                pass
            stop()

        threading.Thread(target=watch_stdin, daemon=True).start()
    stop_background = tapstack_moto.start_background()
    try:
        server.serve_forever()
    finally:
        stop_background()


if __name__ == "__main__":
    main()
