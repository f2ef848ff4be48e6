"""When the client opens the socket itself rather than websocket-client."""

from __future__ import annotations

import ssl

import pytest

from gqlws_sync._socket import can_open_directly


@pytest.mark.parametrize(
    "connect_args",
    [
        {"http_proxy_host": "proxy", "http_proxy_port": 3128},
        {"proxy_type": "socks5"},
        {"socket": object()},
    ],
)
def test_proxies_go_through_websocket_client(connect_args: dict[str, object]) -> None:
    """Proxy options (and a socket of the caller's) leave connecting to websocket-client."""
    assert not can_open_directly(connect_args, None)


@pytest.mark.parametrize("variable", ["http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"])
def test_proxy_environment_goes_through_websocket_client(
    monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    """websocket-client honours the proxy environment, so it keeps connecting then."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert can_open_directly({"origin": "x"}, None)
    monkeypatch.setenv(variable, "http://proxy:3128")
    assert not can_open_directly({"origin": "x"}, None)


def test_sslopt_beyond_a_context_goes_through_websocket_client(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Only a ready SSLContext is applied directly; other sslopt keys need websocket-client."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    context = ssl.create_default_context()
    assert can_open_directly({}, {"context": context})
    assert not can_open_directly({}, {"context": context, "check_hostname": False})
    assert not can_open_directly({}, {"ca_certs": "ca.pem"})


def test_redirect_limit_goes_through_websocket_client(monkeypatch: pytest.MonkeyPatch) -> None:
    """Following a redirect means connecting elsewhere: websocket-client's job."""
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY"):
        monkeypatch.delenv(name, raising=False)
    assert can_open_directly({"redirect_limit": 0}, None)
    assert not can_open_directly({"redirect_limit": 2}, None)
