"""The SSRF table, address by address: at the check itself, at registration, and on callback_url.

No network: IP literals are parsed, never resolved, and host names resolve from `fake_dns`.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from app.webhooks.ssrf import UnsafeURL, url_check
from tests import factories as f
from tests.support import ROOT
from tests.support.auth import authenticate

# (url, what the fake DNS answers for its host name, a phrase the refusal must contain)
REFUSED = [
    ("http://127.0.0.1/hook", None, "loopback"),
    ("http://127.200.1.1/", None, "loopback"),
    ("http://[::1]/", None, "loopback"),
    ("http://0.0.0.0/", None, "unspecified"),
    ("http://[::]/", None, "unspecified"),
    ("http://10.0.0.1/", None, "private"),
    ("http://172.16.0.1/", None, "private"),
    ("http://172.31.255.254/", None, "private"),
    ("http://192.168.1.10/", None, "private"),
    ("http://100.64.0.1/", None, "carrier-grade NAT"),
    ("http://100.127.255.254/", None, "carrier-grade NAT"),
    ("http://169.254.169.254/latest/meta-data/", None, "link-local"),
    ("http://[fe80::1]/", None, "link-local"),
    ("http://[fe80::1%25eth0]/", None, "link-local"),
    ("http://[fc00::1]/", None, "unique local"),
    ("http://[fd12:3456:789a::1]/", None, "unique local"),
    ("http://224.0.0.1/", None, "multicast"),
    ("http://239.255.255.250/", None, "multicast"),
    ("http://[ff02::1]/", None, "multicast"),
    ("http://240.0.0.1/", None, "reserved"),
    ("http://255.255.255.255/", None, "reserved"),
    ("http://192.0.2.10/", None, "private"),  # documentation range
    ("http://[::ffff:127.0.0.1]/", None, "loopback address (127.0.0.1) inside an IPv6"),
    ("http://[::ffff:7f00:1]/", None, "loopback address (127.0.0.1) inside an IPv6"),
    ("http://[::ffff:169.254.169.254]/", None, "link-local"),
    ("http://[::ffff:10.0.0.1]/", None, "private address (10.0.0.1) inside an IPv6"),
    ("http://[2002:7f00:1::]/", None, "loopback address (127.0.0.1) inside an IPv6"),  # 6to4
    ("http://[64:ff9b::7f00:1]/", None, "reserved"),  # NAT64
    ("http://2130706433/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://0177.0.0.1/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://0x7f000001/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://0x7F.0.0.1/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://127.1/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://0/", None, "non-standard spelling of an IPv4 address (read as 0.0.0.0)"),
    ("http://017700000001/", None, "non-standard spelling of an IPv4 address (read as 127.0.0.1)"),
    ("http://0xa9fea9fe/", None, "non-standard spelling of an IPv4 address (read as 169.254.169.254)"),
    ("http://1572395042/", None, "non-standard spelling"),  # 93.184.216.34, public, still refused
    ("ftp://hooks.example.com/", None, "scheme 'ftp' is not allowed"),
    ("file:///etc/passwd", None, "scheme 'file' is not allowed"),
    ("gopher://hooks.example.com:70/", None, "scheme 'gopher' is not allowed"),
    ("http://user:secret@93.184.216.34/", None, "credentials"),
    ("https://user@93.184.216.34/", None, "credentials"),
    ("http://localtest.example/", ["127.0.0.1"], "'localtest.example' resolves to 127.0.0.1, a loopback"),
    ("http://internal.example/", ["10.1.2.3"], "resolves to 10.1.2.3, a private"),
    ("http://metadata.example/", ["169.254.169.254"], "resolves to 169.254.169.254, a link-local"),
    ("http://v6.example/", ["::1"], "resolves to ::1, a loopback"),
    ("http://mapped.example/", ["::ffff:192.168.0.1"], "private address (192.168.0.1) inside an IPv6"),
    # Every address a name resolves to must be public, not just the first.
    ("http://mixed.example/", ["93.184.216.34", "192.168.0.10"], "resolves to 192.168.0.10, a private"),
    ("http://nowhere.example/", [], "could not be resolved"),
    # Port 0 was read as "no port" (the scheme's default) and accepted.
    ("https://93.184.216.34:0/hook", None, "the port 0 is outside 1-65535"),
    ("https://93.184.216.34:000/hook", None, "the port 0 is outside 1-65535"),
    ("http://[2606:2800:220:1:248:1893:25c8:1946]:0/", None, "the port 0 is outside 1-65535"),
    ("https://hooks.example.com:0/", ["93.184.216.34"], "the port 0 is outside 1-65535"),
    ("https://93.184.216.34:65536/", None, "the port 65536 is outside 1-65535"),
    ("https://93.184.216.34:99999/", None, "the port 99999 is outside 1-65535"),
]

ALLOWED = [
    ("http://93.184.216.34/hook", None, "93.184.216.34"),
    ("https://93.184.216.34:8443/a/b?c=1", None, "93.184.216.34"),
    ("http://1.1.1.1/", None, "1.1.1.1"),
    ("https://93.184.216.34:1/", None, "93.184.216.34"),
    ("https://93.184.216.34:65535/", None, "93.184.216.34"),
    ("http://[2606:2800:220:1:248:1893:25c8:1946]/", None, "2606:2800:220:1:248:1893:25c8:1946"),
    ("http://[::ffff:93.184.216.34]/", None, "93.184.216.34"),
    ("https://hooks.example.com/stripe-like", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"], "93.184.216.34"),
]


def _dns(fake_dns, url: str, answer: list[str] | None) -> None:
    if answer:
        fake_dns.table[url.split("//")[1].split("/")[0].split(":")[0]] = answer


def _ids(table: list) -> list[str]:
    return [row[0] for row in table]


@pytest.mark.parametrize(("url", "answer", "reason"), REFUSED, ids=_ids(REFUSED))
def test_it_refuses_each_unsafe_form(fake_dns, url: str, answer, reason: str) -> None:
    _dns(fake_dns, url, answer)
    with pytest.raises(UnsafeURL) as exc:
        url_check(url)
    assert reason in str(exc.value)
    if answer is None:
        assert fake_dns.lookups == [], "IP literals are judged as written, never resolved"


@pytest.mark.parametrize(("url", "answer", "address"), ALLOWED, ids=_ids(ALLOWED))
def test_it_allows_public_addresses_and_connects_to_the_checked_one(fake_dns, url: str, answer, address: str) -> None:
    _dns(fake_dns, url, answer)
    assert url_check(url).address == address


def test_it_keeps_host_port_and_path_for_the_request(fake_dns) -> None:
    fake_dns.table["hooks.example.com"] = ["93.184.216.34"]
    checked = url_check("HTTPS://Hooks.Example.com:8443/in/box?x=1#fragment")
    assert (checked.scheme, checked.host, checked.port, checked.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/in/box?x=1",
    )
    assert fake_dns.lookups == ["hooks.example.com"]
    assert url_check("http://93.184.216.34:/").port == 80  # an empty port is the scheme's default, as urlsplit reads it
    assert url_check("https://[2606:2800:220:1:248:1893:25c8:1946]/").port == 443


def test_it_exempts_only_the_allowlisted_hosts(fake_dns, settings) -> None:
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1", "receiver.local"]
    fake_dns.table.update({"receiver.local": ["10.0.0.7"], "localhost": ["127.0.0.1"]})
    assert url_check("http://127.0.0.1:8080/").address == "127.0.0.1"
    assert url_check("http://receiver.local/").address == "10.0.0.7"
    # The allowlist names an address, so a name resolving to it passes too; other forms do not.
    assert url_check("http://localhost/").address == "127.0.0.1"
    for url in ("http://127.0.0.2/", "http://2130706433/", "http://[::1]/"):
        with pytest.raises(UnsafeURL):
            url_check(url)


def test_it_allows_nothing_local_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k != "WEBHOOK_ALLOWED_HOSTS"}
    probe = "from django.conf import settings; print(settings.WEBHOOK_ALLOWED_HOSTS)"
    out = subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {probe}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"


# At registration: the API answers 400 problem+json naming the field ------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(("url", "answer", "reason"), REFUSED, ids=_ids(REFUSED))
def test_it_refuses_unsafe_endpoint_urls_at_registration(api_client, fake_dns, url: str, answer, reason: str) -> None:
    _dns(fake_dns, url, answer)
    authenticate(api_client, f.user())

    resp = api_client.post("/api/v1/webhook-endpoints/", {"url": url}, format="json")

    assert resp.status_code == 400, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    body = resp.json()
    assert body["errors"][0]["field"] == "url"
    assert reason in body["errors"][0]["message"]
    assert body["detail"].startswith("url: This URL cannot receive webhooks:")


@pytest.mark.django_db
def test_it_registers_a_public_endpoint(api_client, fake_dns) -> None:
    fake_dns.table["hooks.example.com"] = ["93.184.216.34"]
    authenticate(api_client, f.user())
    resp = api_client.post("/api/v1/webhook-endpoints/", {"url": "https://hooks.example.com/in"}, format="json")
    assert resp.status_code == 201, resp.content


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:9/", "http://0x7f000001/", "http://internal.example/", "https://93.184.216.34:0/hook"]
)
def test_it_refuses_unsafe_callback_urls_on_recommendation_requests(api_client, fake_dns, url: str) -> None:
    fake_dns.table["internal.example"] = ["10.0.0.5"]
    job = f.job()
    authenticate(api_client, job.client.user)

    resp = api_client.post(f"/api/v1/jobs/{job.pk}/recommendations/", {"callback_url": url}, format="json")

    assert resp.status_code == 400, resp.content
    assert resp["Content-Type"] == "application/problem+json"
    assert resp.json()["errors"][0]["field"] == "callback_url"
    assert "cannot receive webhooks" in resp.json()["errors"][0]["message"]


@pytest.mark.django_db
def test_it_refuses_unsafe_callback_urls_on_bid_suggestions(api_client, fake_dns) -> None:
    cleaner = f.cleaner()
    job = f.job()
    authenticate(api_client, cleaner.user)

    resp = api_client.post(
        f"/api/v1/jobs/{job.pk}/bid-suggestions/", {"callback_url": "http://169.254.169.254/"}, format="json"
    )

    assert resp.status_code == 400, resp.content
    assert resp.json()["errors"][0]["field"] == "callback_url"
    assert "link-local" in resp.json()["errors"][0]["message"]
