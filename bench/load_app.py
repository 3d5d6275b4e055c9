"""The app as the load run (bench/scale_bench.py load) serves it: the login rate limit off, since
all fifty simulated users log in from 127.0.0.1 within seconds (the limit is per address and is
tested in tests/test_auth.py); everything else as in production.

    gunicorn -w 4 'bench.load_app:app'
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402

app = create_app({"RATELIMIT_ENABLED": False})
