"""The API in front of the internet's clients, on loopback: directly (`python flask_app.py`, as it runs on a server)
and behind the compose stack's front (Debian's nginx running deploy/nginx.conf, as the official image does in compose).

- 50 connections sending their header one byte every 2 s do not delay a well-behaved client (single-passenger p99
  within `P99_MS` meanwhile);
- an upload at the body limit (SPACESHIP_MAX_CSV_BYTES) never leaves /health/live unanswered for more than 1 s;
- a stalled body and idle connections are closed within their timeouts (the front's: deploy/nginx.conf; the
  server's own: `serving.request_seconds` and `serving.keepalive`).
Bounded: at most 52 connections at once, each test well under 60 s.
"""
import pytest

from conftest import free_port, need
from slow_clients import (NGINX, Front, LivenessWatch, SlowClients, front_timeouts, latencies, percentile,
                          seconds_until_closed, upload_csv)
from spaceship_clf.core import get_settings
from spaceship_clf.data import make_passengers

P99_MS = 50
SLACK = 3.0  # seconds a close may take beyond its timeout (timers, a busy 2-core machine)


@pytest.fixture(params=["direct", "front"])
def target(request, start_server, tmp_path):
    "(name, base URL) of the API: `python flask_app.py` itself, or nginx with deploy/nginx.conf in front of it."
    api = start_server(args=["--workers", "2"]).wait("/health/ready")
    if request.param == "direct":
        yield "direct", api.url
        return
    need(NGINX is not None, "nginx is not installed (apt-get install nginx)")
    front = Front(tmp_path / "front", f"127.0.0.1:{api.port}", free_port(), get_settings().serving.max_csv_bytes).wait()
    try:
        yield "front", front.url
    finally:
        front.stop()


def closing_timeouts(name: str) -> dict[str, float]:
    "How long a stalled body, a silent new connection and an idle kept-alive one may stay open, in seconds."
    if name == "front":
        t = front_timeouts()
        return {"body": t["client_body_timeout"], "silent": t["client_header_timeout"], "idle": t["keepalive_timeout"]}
    serving = get_settings().serving
    # the fair gevent worker: a request must arrive within request_seconds, a new or idle connection speak within keepalive
    assert hasattr(serving, "request_seconds"), "the server has no deadline on a request's I/O (serving.request_seconds) yet"
    return {"body": serving.request_seconds, "silent": serving.keepalive, "idle": serving.keepalive}


def test_slow_headers_do_not_delay_a_well_behaved_client(target, report):
    name, url = target
    attack = SlowClients(url, n=50, interval=2.0, kind="headers")
    attack.start()
    try:
        measured = latencies(url, seconds=8)
    finally:
        attack.stop()
    assert attack.sent >= 50  # the attack ran meanwhile
    p99 = percentile(measured, 99)
    report(f"{name}: a well-behaved client's p99 {p99:.1f} ms under 50 slow-header connections")
    assert p99 <= P99_MS, f"{name}: p99 {p99:.1f} ms under 50 slow-header connections ({len(measured)} requests)"


@pytest.fixture(scope="module")
def csv_at_the_limit() -> bytes:
    "Valid passengers in Kaggle's CSV format, as close under SPACESHIP_MAX_CSV_BYTES as whole rows allow."
    limit = get_settings().serving.max_csv_bytes
    sample = make_passengers(2000, seed=5, labelled=False).to_csv(index=False).encode()
    rows = int(limit / (len(sample) / 2000) * 0.97)
    body = make_passengers(rows, seed=5, labelled=False).to_csv(index=False).encode()
    body = body[:body.rfind(b"\n", 0, limit) + 1]  # whole rows, at most the limit
    assert len(body) > 0.9 * limit
    return body


def test_an_upload_at_the_limit_leaves_health_answered(target, csv_at_the_limit, report):
    name, url = target
    watch = LivenessWatch(url)
    watch.start()
    try:
        status = upload_csv(url, csv_at_the_limit)
    finally:
        gap = watch.stop()
    report(f"{name}: /health/live at most {gap:.2f} s without an answer during a {len(csv_at_the_limit):,}-byte upload")
    assert status == 200, f"{name}: a {len(csv_at_the_limit):,}-byte CSV at the limit was answered {status}"
    assert watch.answers > 0 and gap <= 1.0, f"{name}: /health/live unanswered for {gap:.2f} s during the upload"


def test_slow_bodies_and_idle_connections_are_closed(target):
    name, url = target
    from concurrent.futures import ThreadPoolExecutor
    limits = closing_timeouts(name)
    stalled_body = b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\nContent-Length: 100000\r\n\r\nPassengerId,"
    keepalive = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"
    cases = {"body": stalled_body, "silent": b"", "idle": keepalive}
    with ThreadPoolExecutor(len(cases)) as pool:  # at once: the test lasts as long as the longest timeout
        closed = {k: pool.submit(seconds_until_closed, url, send, limits[k] + 2 * SLACK) for k, send in cases.items()}
        closed = {k: f.result() for k, f in closed.items()}
    for case, seconds in closed.items():
        assert seconds <= limits[case] + SLACK, f"{name}: {case} connection open {seconds:.1f} s (timeout {limits[case]:g} s)"
