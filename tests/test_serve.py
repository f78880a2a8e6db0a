"""stylecam serve: access rules and messages as pure functions, then one real server (a subprocess with a
random decoder) spoken to with a WebSocket client, and the real page in headless Chromium with a fake camera."""
from __future__ import annotations

import base64
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from conftest import synthetic_rgb
from stylecam.errors import UserError
from stylecam.live.keys import LiveState
from stylecam.serve import access
from stylecam.serve import protocol as P
from stylecam.serve.chromium import Chromium, find_chromium, write_y4m

websockets = pytest.importorskip("websockets", reason="stylecam serve needs websockets (the [serve] extra)")
from websockets.exceptions import InvalidStatus  # noqa: E402
from websockets.sync.client import connect  # noqa: E402

TOKEN = "test-token-1234"
STYLES = ("picabia_udnie", "monet_water_lilies_1919", "vallotton_portrait_woodcut")
SIZE = 128


# -- pure parts -------------------------------------------------------------------------------

def test_token_checked_from_query_or_cookie():
    port = 8765
    assert access.token_ok(None, "/", None, port)                         # no token: none needed
    assert access.token_ok(TOKEN, f"/?token={TOKEN}", None, port)
    assert access.token_ok(TOKEN, "/app.js", f"{access.cookie_name(port)}={TOKEN}", port)
    assert not access.token_ok(TOKEN, "/", None, port)
    assert not access.token_ok(TOKEN, "/?token=wrong", f"{access.cookie_name(port)}={TOKEN}", port)  # the query wins
    assert not access.token_ok(TOKEN, "/", f"{access.cookie_name(9999)}={TOKEN}", port)   # another server's cookie


def test_token_required_off_loopback():
    assert access.choose_token("127.0.0.1", None) is None
    assert access.choose_token("::1", None) is None
    generated = access.choose_token("0.0.0.0", None)
    assert generated and len(generated) >= 16 and generated != access.choose_token("0.0.0.0", None)
    assert access.choose_token("0.0.0.0", "my-long-secret") == "my-long-secret"
    for bad in ("short", "has space in it", "semi;colon1"):
        with pytest.raises(UserError, match="--token"):
            access.choose_token("0.0.0.0", bad)


def test_host_and_origin_rules():
    assert access.host_ok("127.0.0.1", 8765, "127.0.0.1:8765")
    assert access.host_ok("127.0.0.1", 8765, "localhost:8765")
    assert access.host_ok("127.0.0.1", 8765, "[::1]:8765")
    assert not access.host_ok("127.0.0.1", 8765, "attacker.example:8765")    # DNS rebinding
    assert not access.host_ok("127.0.0.1", 8765, "127.0.0.1:9999")
    assert not access.host_ok("127.0.0.1", 8765, None)
    assert access.host_ok("0.0.0.0", 8765, "anything:8765")                # the token guards it there
    assert access.origin_ok("http://127.0.0.1:8765", "127.0.0.1:8765")
    assert access.origin_ok(None, "127.0.0.1:8765")
    assert not access.origin_ok("https://evil.example", "127.0.0.1:8765")


def test_settings_are_checked():
    s = P.apply_settings(LiveState(networks=("full", "lite")), {"alpha": 0.25, "style": 2, "split": True, "model": "lite"}, 3)
    assert (s.alpha, s.style, s.split, s.model) == (0.25, 2, True, "lite")
    for bad, match in (({"alpha": 2}, "alpha"), ({"alpha": float("nan")}, "alpha"), ({"alpha": True}, "alpha"),
                       ({"style": 3}, "style"), ({"style": "1"}, "style"), ({"split": 1}, "split"),
                       ({"model": "huge"}, "network"), ({"quit": True}, "unknown setting")):
        with pytest.raises(P.ProtocolError, match=match):
            P.apply_settings(LiveState(networks=("full", "lite")), bad, 3)
    with pytest.raises(P.ProtocolError, match="unknown key"):
        P.control_key({"key": "q"})                # quitting is not the page's to do
    assert P.control_key({"key": "N"}) == "n"


def test_binary_messages_round_trip():
    assert P.parse_binary(P.frame_message(7, b"jpeg")) == (P.FRAME, 7, b"jpeg")
    assert P.parse_binary(P.upload_message("mé.png", b"\x89PNG")) == (P.UPLOAD, "mé.png", b"\x89PNG")
    with pytest.raises(P.ProtocolError):
        P.parse_binary(b"\x09junk")


def test_page_files_ship_with_the_package():
    import fnmatch
    import tomllib
    from importlib import resources

    from stylecam.serve.server import STATIC
    cfg = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())["tool"]["setuptools"]
    patterns = cfg["package-data"]["stylecam.serve"]
    for name, _ in STATIC.values():
        assert resources.files("stylecam.serve").joinpath("static", name).is_file()
        assert any(fnmatch.fnmatch(f"static/{name}", pattern) for pattern in patterns), name
    page = resources.files("stylecam.serve").joinpath("static", "index.html").read_text()
    assert "http" not in page.replace('lang="en"', "")            # nothing from elsewhere: works offline


# -- a real server ------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve_cmd(*args) -> list[str]:
    return [sys.executable, "-m", "stylecam", "serve", *args]


@pytest.fixture(scope="module")
def server(lively_decoder):
    """One server for the module: token, two tabs at most, 0.1 MB uploads, three built-in styles."""
    port = _free_port()
    args = ["--port", str(port), "--token", TOKEN, "--decoder", str(lively_decoder), "--model", "full",
            "--backend", "torch", "--device", "cpu", "--size", str(SIZE), "--max-clients", "2", "--max-upload", "0.1"]
    for s in STYLES:
        args += ["-s", s]
    proc = subprocess.Popen(_serve_cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True).start()
    address = proc.stdout.readline()
    assert "serving on" in address, f"no address printed; stderr: {''.join(lines)}"
    yield {"port": port, "url": f"http://127.0.0.1:{port}/", "proc": proc, "stderr": lines}
    proc.send_signal(signal.SIGTERM)               # a clean exit on SIGTERM
    assert proc.wait(30) == 128 + signal.SIGTERM
    time.sleep(0.2)
    assert not any("Traceback" in line for line in lines), "".join(lines)


def _ws(server, token=TOKEN, **kw):
    return connect(f"ws://127.0.0.1:{server['port']}/ws" + (f"?token={token}" if token else ""),
                   open_timeout=20, max_size=8 << 20, **kw)


def _json(ws, kind: str, where=lambda m: True, timeout=30) -> dict:
    """The next JSON message of this kind that ``where`` accepts (others are skipped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ws.recv(timeout=deadline - time.monotonic())
        if isinstance(message, str) and json.loads(message)["type"] == kind and where(json.loads(message)):
            return json.loads(message)
    raise TimeoutError(kind)


def _frame(ws, timeout=30) -> tuple:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = ws.recv(timeout=deadline - time.monotonic())
        if isinstance(message, bytes):
            return P.parse_binary(message)
    raise TimeoutError("frame")


def _http(server, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request
    req = urllib.request.Request(server["url"].rstrip("/") + path, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_http_needs_the_token(server):
    status, body = _http(server, "/")
    assert status == 403 and b"wrong or missing token" in body
    assert _http(server, "/?token=nope")[0] == 403
    status, body = _http(server, f"/?token={TOKEN}")
    assert status == 200 and b"<canvas" in body
    cookie = f"{access.cookie_name(server['port'])}={TOKEN}"
    status, body = _http(server, "/thumb/1.jpg", {"Cookie": cookie})
    assert status == 200 and cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR) is not None
    assert _http(server, "/thumb/99.jpg", {"Cookie": cookie})[0] == 404
    assert _http(server, f"/?token={TOKEN}", {"Host": "attacker.example:80"})[0] == 403


def test_websocket_refusals(server):
    for token in (None, "wrong-token-0000"):
        with pytest.raises(InvalidStatus, match="403"):
            _ws(server, token)
    with pytest.raises(InvalidStatus, match="403"):
        _ws(server, origin="http://evil.example")


def test_frames_uploads_and_tabs(server):
    camera = cv2.cvtColor(synthetic_rgb(96, 128, seed=3), cv2.COLOR_RGB2BGR)
    jpeg = cv2.imencode(".jpg", camera)[1].tobytes()
    with _ws(server) as a, _ws(server) as b:
        hello = _json(a, "hello")
        assert hello["styles"] == list(STYLES) and hello["max_upload"] == 100_000
        with pytest.raises(InvalidStatus, match="503"):       # --max-clients 2
            _ws(server)
        a.send(P.frame_message(41, jpeg))
        kind, frame_id, out = _frame(a)
        stylized = cv2.imdecode(np.frombuffer(out, np.uint8), cv2.IMREAD_COLOR)
        assert (kind, frame_id, stylized.shape) == (P.FRAME, 41, camera.shape)
        assert np.abs(stylized.astype(int) - camera).mean() > 10             # stylized, not the camera

        # each tab its own state: a's alpha is not b's
        a.send(json.dumps({"set": {"alpha": 0.3}}))
        _json(a, "hud", lambda m: m["alpha"] == 0.3)
        b.send(json.dumps({"key": "n"}))
        hud_b = _json(b, "hud", lambda m: m["style_index"] == 1)
        assert hud_b["alpha"] == 1.0
        b.send(json.dumps({"key": "g"}))                                    # the person mask, as in the window
        _json(b, "hud", lambda m: m["state"]["mask"] == "background")
        b.send(P.frame_message(7, jpeg))
        assert _frame(b)[1] == 7                                            # nobody in it: still a frame
        a.send(json.dumps({"set": {"alpha": 7}}))
        assert "alpha" in _json(a, "error")["text"]

        # uploads: too big, not an image, then a real painting that becomes a style of a's only
        a.send(P.upload_message("huge.png", b"\x89PNG" + bytes(200_000)))
        assert "limited to" in _json(a, "error")["text"]
        a.send(P.upload_message("notes.png", b"this is not a picture"))
        assert "notes.png: not a readable image" in _json(a, "error")["text"]
        bomb = cv2.imencode(".png", np.zeros((2200, 4000), np.uint8), [cv2.IMWRITE_PNG_COMPRESSION, 9])[1]
        a.send(P.upload_message("bomb.png", bomb.tobytes()))              # 9 KB, 8.8 megapixels
        assert "too many pixels" in _json(a, "error")["text"]
        painting = cv2.imencode(".png", np.repeat(np.arange(64, dtype=np.uint8)[None, :, None] * 4, 64, 0)
                                .repeat(3, 2))[1].tobytes()
        a.send(P.upload_message("mine.png", painting))
        added = _json(a, "style_added")
        assert added == {"type": "style_added", "index": 3, "name": "mine.png"}
        a.send(json.dumps({"set": {"style": 3}}))
        _json(a, "hud", lambda m: m["style_index"] == 3)
        a.send(P.frame_message(42, jpeg))
        _frame(a)
        assert _json(a, "hud")["style"].startswith("mine.png")
        b.send(json.dumps({"set": {"style": 3}}))
        assert "style 3" in _json(b, "error")["text"]                       # b has three styles only
    # both tabs gone: their places are free again
    deadline = time.monotonic() + 10
    while True:
        try:
            with _ws(server) as c:
                assert _json(c, "hello")["styles"] == list(STYLES)        # a new tab: no upload of a's
            break
        except InvalidStatus:
            assert time.monotonic() < deadline, "a closed tab kept its place"
            time.sleep(0.2)


@pytest.mark.parametrize("args, message", [
    (["--host", "no-such-host.invalid"], "--host no-such-host.invalid"),
    (["--token", "short"], "--token"),
    (["--port", "70000"], "--port"),
])
def test_bad_options_are_one_line(args, message, capsys):
    from stylecam.cli import main
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_port_in_use_is_one_line(capsys):
    from stylecam.cli import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        assert main(["serve", "--port", str(s.getsockname()[1])]) == 2      # before any model loads
    err = capsys.readouterr().err
    assert "is in use" in err and len(err.strip().splitlines()) == 1, err


# -- the page in a real browser ------------------------------------------------------------------

def _shown(browser) -> np.ndarray:
    data = browser.evaluate("stylecam.snapshot().shown")
    png = base64.b64decode(data.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR).astype(int)


def _fresh_frame(browser, timeout=30) -> np.ndarray:
    """A frame rendered after the last change: two more frames shown than now."""
    n = browser.evaluate("stylecam.stats.frames")
    browser.wait_for(f"stylecam.stats.frames >= {n + 2}", timeout)
    return _shown(browser)


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium here (Debian: apt-get install chromium)")
def test_page_in_chromium(server, tmp_path):
    still = synthetic_rgb(120, 160, seed=5)                  # a still camera: changes come from the controls
    clip = write_y4m([still] * 10, tmp_path / "camera.y4m")
    with Chromium(server["url"] + f"?token={TOKEN}", clip) as browser:
        browser.wait_for("window.stylecam && stylecam.stats.frames >= 3", 60)
        first = _fresh_frame(browser)
        camera = cv2.cvtColor(still, cv2.COLOR_RGB2BGR)
        camera = cv2.resize(camera, (first.shape[1], first.shape[0]), interpolation=cv2.INTER_AREA).astype(int)
        assert first.shape[:2] == (96, 128)
        same = np.abs(_fresh_frame(browser) - first).mean()        # JPEG both ways: not bit-exact
        assert np.abs(first - camera).mean() > 10 * max(same, 1)     # stylized: not the camera's picture

        browser.evaluate("document.querySelectorAll('#styles button')[1].click()")     # a thumbnail
        browser.wait_for("stylecam.stats.hud.style_index === 1")
        second = _fresh_frame(browser)
        assert np.abs(second - first).mean() > 5 * max(same, 1)

        browser.evaluate("const a = document.getElementById('alpha'); a.value = 0; "
                         "a.dispatchEvent(new Event('input'))")                        # the α slider
        browser.wait_for("stylecam.stats.hud.alpha === 0")
        faint = _fresh_frame(browser)
        assert np.abs(faint - second).mean() > 5 * max(same, 1)

        browser.call("Input.dispatchKeyEvent", type="keyDown", key="c", text="c")  # a key, as in the live window
        browser.wait_for("stylecam.stats.hud.state.keep_colors === true")

        browser.evaluate("stylecam.upload(new File([new Uint8Array([1, 2, 3, 4])], 'broken.png'))")
        error = browser.wait_for("stylecam.stats.errors.find(e => e.includes('broken.png'))")
        assert "not a readable image" in error
        assert "broken.png" in browser.evaluate("document.getElementById('message').textContent")

        fps, latency = browser.evaluate("[1000 / stylecam.stats.intervals.at(-1), stylecam.stats.latencies.at(-1)]")
        assert fps > 0 and latency > 0

        browser.navigate(server["url"] + "?token=wrong-token-0000")
        text = browser.wait_for("document.body && document.body.innerText.includes('token') && document.body.innerText")
        assert "wrong or missing token" in text
