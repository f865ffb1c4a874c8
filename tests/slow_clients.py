"""Slow and greedy clients, a well-behaved one, and Debian's nginx running deploy/nginx.conf on loopback: what
tests/test_front.py asserts with and bench/slow_clients.py prints figures from. Loopback only, every loop bounded."""
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
FRONT_CONFIG = ROOT / "deploy" / "nginx.conf"
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
ONE = {"PassengerId": "0013_01", "HomePlanet": "Earth", "CryoSleep": True, "Cabin": "G/3/S", "Destination": "TRAPPIST-1e",
       "Age": 27.0, "VIP": False, "RoomService": 0.0, "FoodCourt": 0.0, "ShoppingMall": 0.0, "Spa": 0.0, "VRDeck": 0.0,
       "Name": "Nelly Carsoning"}


def render_front_config(variables: dict) -> str:
    "deploy/nginx.conf with its ${NAME} variables replaced, as the official image's envsubst does (nginx's own $vars stay)."
    text = FRONT_CONFIG.read_text()
    missing = set(re.findall(r"\$\{(\w+)\}", text)) - set(variables)
    assert not missing, f"no value for {missing}"
    return re.sub(r"\$\{(\w+)\}", lambda m: str(variables[m.group(1)]), text)


def front_timeouts() -> dict[str, float]:
    "The front's timeouts in seconds, as deploy/nginx.conf sets them (`client_header_timeout`, ...)."
    return {k: float(v) for k, v in re.findall(r"^\s*(\w+_timeout)\s+(\d+)s;", FRONT_CONFIG.read_text(), re.M)}


class Front:
    "Debian's nginx with deploy/nginx.conf on 127.0.0.1:`port`, in front of the API at `api` (host:port)."
    def __init__(self, folder: Path, api: str, port: int, max_body: int):
        self.folder, self.port, self.url = folder, port, f"http://127.0.0.1:{port}"
        (folder / "logs").mkdir(parents=True, exist_ok=True)
        config = render_front_config({"SPACESHIP_MAX_CSV_BYTES": max_body, "NGINX_RESOLVER": "127.0.0.1",
                                      "NGINX_PORT": f"127.0.0.1:{port}", "API_ADDRESS": api})
        config = config.replace("/var/log/nginx/", f"{folder}/logs/")  # the paths of this run, not the system's
        (folder / "nginx.conf").write_text(config)
        self.process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                         "-g", f"daemon off; pid {folder}/nginx.pid;"],
                                        stdout=subprocess.DEVNULL, stderr=open(folder / "logs/stderr.log", "wb"),
                                        start_new_session=True)

    def wait(self, timeout: float = 20) -> "Front":
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (self.folder / "logs/stderr.log").read_text()
            try:
                if requests.get(self.url + "/health/live", timeout=2).status_code == 200: return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError(f"nginx did not answer within {timeout}s: {(self.folder / 'logs/error.log').read_text()}")

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try: self.process.wait(timeout=10)
            except subprocess.TimeoutExpired: self.process.kill(); self.process.wait(timeout=10)


def address(url: str) -> tuple[str, int]:
    host, port = url.split("//")[1].split(":")
    assert host == "127.0.0.1", "loopback only"
    return host, int(port)


class SlowClients(threading.Thread):
    """`n` connections that each trickle a request one byte every `interval` seconds, reconnecting when the server
    closes them, until `stop()`: `kind` "headers" trickles the header, "body" sends the header at once and trickles the
    body. `closed` counts the connections the server cut off, `sent` the bytes trickled."""
    HEADER = b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"

    def __init__(self, url: str, n: int = 50, interval: float = 2.0, kind: str = "headers"):
        super().__init__(daemon=True)
        self.addr, self.n, self.interval, self.kind = address(url), n, interval, kind
        self.halt, self.closed, self.sent = threading.Event(), 0, 0

    def connect(self) -> socket.socket:
        s = socket.create_connection(self.addr, timeout=5)
        s.sendall(self.HEADER + (b"Content-Length: 1000000\r\n\r\n" if self.kind == "body" else b""))
        s.setblocking(False)
        return s

    def run(self):
        conns = [self.connect() for _ in range(self.n)]
        while not self.halt.wait(self.interval):
            for i, s in enumerate(conns):
                try:
                    s.send(b"X" if self.kind == "headers" else b"P"); self.sent += 1  # a header line that never ends, or body
                except OSError:  # closed by the server: come back, as an attacker would
                    self.closed += 1; s.close(); conns[i] = self.connect()
        for s in conns: s.close()

    def stop(self):
        self.halt.set(); self.join(timeout=10)


def latencies(url: str, seconds: float) -> list[float]:
    "Milliseconds of single-passenger `POST /predict` requests sent one after another for `seconds` (a new connection each)."
    out, deadline = [], time.monotonic() + seconds
    while time.monotonic() < deadline:
        start = time.perf_counter()
        try:
            ok = requests.post(url + "/predict", json=ONE, timeout=5).status_code == 200
        except requests.RequestException:
            ok = False
        out.append((time.perf_counter() - start) * 1000 if ok else float("inf"))
    return out


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))]


class LivenessWatch(threading.Thread):
    "Asks `/health/live` every 50 ms until `stop()`; `longest_gap` is the longest time without an answer, in seconds."
    def __init__(self, url: str):
        super().__init__(daemon=True)
        self.url, self.halt, self.longest_gap, self.answers = url, threading.Event(), 0.0, 0

    def run(self):
        last = time.monotonic()
        while not self.halt.is_set():
            try:
                ok = requests.get(self.url + "/health/live", timeout=2).status_code == 200
            except requests.RequestException:
                ok = False
            now = time.monotonic()
            self.longest_gap = max(self.longest_gap, now - last)  # since the previous answer, this one's wait included
            if ok: self.answers += 1; last = now
            time.sleep(0.05)

    def stop(self) -> float:
        self.halt.set(); self.join(timeout=10)
        return self.longest_gap


def seconds_until_closed(url: str, send: bytes, limit: float) -> float:
    "Seconds until the server closes a connection that sent `send` and then nothing (at most `limit`)."
    start = time.monotonic()
    with socket.create_connection(address(url), timeout=limit) as s:
        s.sendall(send)
        try:
            while s.recv(65536):  # a reply (a 408, or the answer before an idle keep-alive) is read and waited past
                pass
        except socket.timeout:
            return float("inf")
        except OSError:  # reset: closed too
            pass
    return time.monotonic() - start


def upload_csv(url: str, body: bytes) -> int:
    "Status of `POST /predict` with a CSV body (a broken pipe when the server answers early: its reply still counts)."
    try:
        return requests.post(url + "/predict", data=body, headers={"Content-Type": "text/csv"}, timeout=120).status_code
    except requests.ConnectionError as e:
        raise AssertionError(f"the upload got no answer: {e}")

