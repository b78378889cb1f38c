"""`chalice local` with a listen backlog that takes a burst of clients (the local stack's API).

socketserver listens with a backlog of 5, so more than about ten clients connecting at the same
instant (a race test, the console and a script) got connection resets from the local stack,
never from API Gateway. Same command line as `chalice local`:

    python -m devtools.local_api local --stage local --port 8000 --no-autoreload
"""

from __future__ import annotations

import sys

from chalice import local
from chalice.cli import main

BACKLOG = 128  # what Werkzeug (moto's server) and most WSGI servers listen with

local.ThreadedHTTPServer.request_queue_size = BACKLOG

if __name__ == "__main__":
    sys.argv = ["chalice", *sys.argv[1:]]
    sys.exit(main())
