"""Fixtures the flows here borrow from other folders' conftest files.

`make_receiver` and `allow_local` (real webhook receivers on 127.0.0.1) live in
tests/webhooks/conftest.py for now; once the shared helpers are plugins (tests/support/), they
are everywhere and this import finds nothing to do.
"""

try:
    from tests.webhooks.conftest import allow_local, make_receiver  # noqa: F401  (fixtures, used by name)
except ImportError:  # moved to tests/support/webhooks.py, loaded as a plugin
    pass
