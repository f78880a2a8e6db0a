"""Every command-line entry point, in-process: --help works, a usage mistake is one line and exit
status 2, and each main() runs inside the one wrapper (``stylecam.entry.entry_point``), which turns
a UserError into one line + exit 2 and SIGTERM into exit 143. `stylecam`'s own commands have
their --help tests in test_cli_image.py."""
from __future__ import annotations

import importlib
import importlib.util
import os
import signal
import time
from pathlib import Path

import pytest

from stylecam.entry import entry_point
from stylecam.errors import UserError

ROOT = Path(__file__).resolve().parent.parent

ENTRIES = {   # module (python -m) or script -> the program name its usage line shows
    "stylecam.cli": "stylecam",
    "export.onnx": "python -m export.onnx",
    "export.trt": "python -m export.trt",
    "export.parity": "python -m export.parity",
    "export.int8_bench": "python -m export.int8_bench",
    "export.cpu_bench": "python -m export.cpu_bench",
    "export.gpu_bench": "python3 -m export.gpu_bench",
    "train.__main__": "python -m train",
    "train.lite": "python -m train.lite",
    "train.evaluate": "python -m train.evaluate",
    "train.speed": "python -m train.speed",
    "stylecam.tools.calibrate": "python -m stylecam.tools.calibrate",
    "stylecam.tools.make_bank": "python -m stylecam.tools.make_bank",
    "stylecam.tools.flicker_report": "python -m stylecam.tools.flicker_report",
    "stylecam.live.bench": "python -m stylecam.live.bench",
    "stylecam.serve.bench": "python -m stylecam.serve.bench",
    "scripts/video_check.py": "python scripts/video_check.py",
    "scripts/gpu_data.py": "python scripts/gpu_data.py",
    "scripts/alpha_sweep.py": "python scripts/alpha_sweep.py",
    "scripts/convert_selfie_segmentation.py": "python scripts/convert_selfie_segmentation.py",
    "scripts/astronaut_clip.py": "python scripts/astronaut_clip.py",
    "scripts/mask_picture.py": "python scripts/mask_picture.py",
    "scripts/serve_screenshot.py": "python scripts/serve_screenshot.py",
}


def _main(entry: str):
    if entry.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(entry).stem, ROOT / entry)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.main
    return importlib.import_module(entry).main


def test_every_entry_point_is_listed():
    found = {".".join(p.relative_to(ROOT).with_suffix("").parts)
             for top in ("stylecam", "export", "train") for p in (ROOT / top).rglob("*.py")
             if "__name__ == \"__main__\"" in p.read_text()}
    found |= {str(p.relative_to(ROOT)) for p in (ROOT / "scripts").glob("*.py")
              if "__name__ == \"__main__\"" in p.read_text()}
    assert found == set(ENTRIES)


@pytest.mark.parametrize("entry", ENTRIES)
def test_help(entry, capsys):
    assert _main(entry)(["--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {ENTRIES[entry]}") and "--help" in out


@pytest.mark.parametrize("entry", ENTRIES)
def test_a_usage_mistake_is_one_line(entry, capsys):
    assert _main(entry)(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(ENTRIES[entry]) and "Traceback" not in err, err


@entry_point("probe")
def _probe(action: str) -> int:
    if action == "error":
        raise UserError("what went wrong")
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(10)               # the signal ends this sleep
    return 0


@pytest.mark.parametrize("entry", ENTRIES)
def test_each_main_runs_in_the_one_wrapper(entry):
    assert _main(entry).__code__ is _probe.__code__       # entry_point's wrapper, not a copy of it


def test_the_wrapper_gives_one_line_and_2_for_a_user_error_and_143_for_sigterm(capsys):
    handler = signal.getsignal(signal.SIGTERM)
    assert _probe("error") == 2
    assert capsys.readouterr().err == "probe: what went wrong\n"
    t0 = time.monotonic()
    assert _probe("term") == 143
    assert time.monotonic() - t0 < 5
    assert capsys.readouterr().err == "probe: stopped by SIGTERM\n"
    assert signal.getsignal(signal.SIGTERM) == handler            # the handler is put back
