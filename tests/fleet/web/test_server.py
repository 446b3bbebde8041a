"""The runner (uvicorn in a thread or in a running loop) and the rate limits of the public
pages, over real sockets: a flood gets 429 pages, other clients do not, a refused form
changes nothing, and a proxy's X-Forwarded-For counts only when the proxy is trusted."""

from __future__ import annotations

import asyncio
import socket
import threading

import httpx
import pytest

from fleet.escalation import alerts
from fleet.web.app import create_app
from fleet.web.server import WebServer, WebServerError
from fleet.web.settings import WebSettings
from tests.escalation_helpers import config
from tests.web_helpers import WebRig, web_config


def app(**settings):
    return create_app(WebSettings(**settings), config(), b"k" * 32)


def test_port_0_picks_a_free_port_and_stop_frees_it():
    server = WebServer(app(), "127.0.0.1", 0)
    port = server.start()
    assert port > 0 and server.url == f"http://127.0.0.1:{port}"
    assert httpx.get(f"{server.url}/healthz").text == "ok"
    server.stop()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{port}/healthz")
    again = WebServer(app(), "127.0.0.1", port)  # the port is free again at once
    assert again.start() == port
    again.stop()


def test_a_port_in_use_is_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(WebServerError) as error:
            WebServer(app(), "127.0.0.1", port).start()
    assert f"cannot listen on 127.0.0.1:{port}" in str(error.value) and "fix:" in str(error.value) and "0 turns the web pages off" in str(error.value)


def test_uvicorns_own_info_lines_are_quiet_but_its_errors_are_not(caplog):
    import logging

    caplog.set_level(logging.DEBUG)
    server = WebServer(app(), "127.0.0.1", 0)
    server.start()
    server.stop()
    uvicorn_records = [r for r in caplog.records if r.name.startswith("uvicorn")]
    assert uvicorn_records == [], [r.getMessage() for r in uvicorn_records]
    assert any(r.name == "fleet.web" and r.getMessage() == "web server listening" for r in caplog.records)

    async def broken(scope, receive, send):  # an app whose startup fails: uvicorn reports it at ERROR
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.failed", "message": "no store"})

    caplog.clear()
    with pytest.raises(WebServerError):
        WebServer(broken, "127.0.0.1", 0).start()
    assert any(r.name == "uvicorn.error" and r.levelno == logging.ERROR for r in caplog.records), [(r.name, r.getMessage()) for r in caplog.records]


def test_accepted_connections_have_nagle_off():
    """uvicorn serves the socket WebServer binds through asyncio, which switches Nagle off only
    on sockets that say they are TCP: else each kept-alive response waits for a delayed ACK."""

    async def accepted_nodelay() -> int:
        server = WebServer(app(), "127.0.0.1", 0)
        flags: asyncio.Future = asyncio.get_running_loop().create_future()

        class Probe(asyncio.Protocol):
            def connection_made(self, transport) -> None:
                flags.set_result(transport.get_extra_info("socket").getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))

        listening = await asyncio.get_running_loop().create_server(Probe, sock=server._bind())
        _, writer = await asyncio.open_connection("127.0.0.1", server.port)
        value = await asyncio.wait_for(flags, 10)
        writer.close()
        listening.close()
        return value

    assert in_a_thread(accepted_nodelay) != 0


def in_a_thread(coroutine_function):
    """Run an asyncio program in a thread of its own: Playwright's sync API (the browser tests)
    keeps a loop running in the test thread."""
    results: list = []
    runner = threading.Thread(target=lambda: results.append(asyncio.run(coroutine_function())))
    runner.start()
    runner.join(30)
    assert results, "the asyncio program did not finish"
    return results[0]


def test_served_inside_a_running_asyncio_loop():
    async def main() -> str:
        server = WebServer(app(), "127.0.0.1", 0)
        serving = asyncio.create_task(server.serve())
        port = await server.started()
        async with httpx.AsyncClient() as client:
            reply = await client.get(f"http://127.0.0.1:{port}/healthz")
        server.request_stop()
        await asyncio.wait_for(serving, 10)
        return reply.text

    assert in_a_thread(main) == "ok"


@pytest.fixture
def limited(store, clock):
    rig = WebRig(web_config(), clock, settings=WebSettings(pages_per_minute=5, forms_per_minute=3)).start()
    yield rig
    rig.stop()


def test_flooding_the_pages_gets_429_pages_and_other_clients_are_not_held_up(limited):
    _, link = limited.help_alert()
    with httpx.Client(headers={"Accept-Language": "en"}) as phone:
        codes = [phone.get(link).status_code for _ in range(8)]
        assert codes == [200] * 5 + [429] * 3
        flooded = phone.get(link)
        assert "Too many requests" in flooded.text and "Wait a minute" in flooded.text
        assert flooded.headers["content-type"].startswith("text/html") and int(flooded.headers["retry-after"]) > 0
        assert flooded.headers["referrer-policy"] == "no-referrer", "refusals carry the security headers too"
        assert phone.get(f"{limited.base}/healthz").status_code == 200, "health checks are never limited"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.2")) as other_phone:
        assert other_phone.get(link).status_code == 200, "another address has its own allowance"


def test_flooding_the_form_gets_429_and_changes_nothing(limited):
    alert_id, link = limited.help_alert()
    with httpx.Client() as phone:
        codes = [phone.post(link, data={"name": " "}).status_code for _ in range(3)]  # refused forms still count
        assert codes == [400, 400, 400]
        assert phone.post(link, data={"name": "Ayşe"}).status_code == 429
    assert alerts.get_alert(alert_id).state == "open", "the form that was turned away did nothing"


def test_a_proxys_forwarded_address_counts_only_when_the_proxy_is_trusted(store, clock):
    for device, trusted, expected in (("kiosk-1", ["127.0.0.1"], [200, 200, 200]), ("kiosk-2", [], [200, 200, 429])):
        rig = WebRig(web_config(), clock, settings=WebSettings(pages_per_minute=2, trusted_proxies=trusted)).start()
        try:
            _, link = rig.help_alert(device)
            codes = [httpx.get(link, headers={"X-Forwarded-For": f"203.0.113.{n}"}).status_code for n in (1, 1, 2)]
            assert codes == expected
        finally:
            rig.stop()


def test_a_flood_is_logged_once_a_minute_per_client(limited, caplog):
    _, link = limited.help_alert()
    with httpx.Client() as phone:
        codes = [phone.get(link).status_code for _ in range(25)]
    assert codes.count(429) == 20
    assert [r.client for r in caplog.records if r.getMessage().startswith("rate limit reached")] == ["127.0.0.1"]
