"""Flower's configuration file (`celery flower --conf=config/flower.py`): every path behind its auth.

Flower 2.2 checks `--basic-auth` only in the handlers decorated with tornado's `authenticated`;
`/metrics` (task and worker names, counts) and `/healthcheck` are not, and answer anyone who
can reach the port. Flower runs this file as Python at start (tornado's `parse_config_file`;
names that match a Flower option would be read as options, and this file defines none), so
it makes every request to a Flower handler prove the basic-auth credentials first, in
`prepare()`, whatever the handler. Flower's static files (its own CSS, JavaScript and images,
nothing about the cluster) stay public: tornado's StaticFileHandler serves them.
tests/observability/test_flower.py walks Flower's URL table against a running Flower.
"""


def _every_handler_behind_basic_auth() -> None:
    from flower.api import BaseApiHandler
    from flower.views import BaseHandler

    for handler in (BaseHandler, BaseApiHandler):  # BaseApiHandler.prepare does not call BaseHandler's
        prepare = handler.prepare

        def guarded(self, _prepare=prepare):
            if self.application.options.basic_auth:
                # Raises HTTPError(401) unless the request carries one of the configured user:password pairs.
                self.get_current_user()
            return _prepare(self)

        handler.prepare = guarded


_every_handler_behind_basic_auth()
del _every_handler_behind_basic_auth
