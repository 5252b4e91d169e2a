"""System checks: settings that would break observability without saying so."""

from __future__ import annotations

from ipaddress import ip_network

from django.conf import settings
from django.core.checks import Error, register


@register()
def metrics_networks_check(app_configs, **kwargs) -> list[Error]:
    errors = []
    for net in settings.METRICS_ALLOWED_NETWORKS:
        try:
            ip_network(net, strict=False)
        except ValueError:
            errors.append(
                Error(
                    f"METRICS_ALLOWED_NETWORKS holds {net!r}, which is not a network.",
                    hint="Use CIDR notation, e.g. 127.0.0.0/8,::1/128,10.0.0.0/8.",
                    id="observability.E001",
                )
            )
    return errors
