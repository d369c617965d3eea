"""Word 97–2003 (.doc) and WPS (.wps) → lines, through LibreOffice headless.

No maintained pure-Python reader handles both formats, LibreOffice does: the file is
written to a private temporary directory and converted with
``soffice --headless --convert-to "txt:Text (encoded):UTF8"``, which writes one
paragraph per line.  Each conversion runs with a profile of its own
(``-env:UserInstallation=file:///tmp/…``): two conversions sharing the user's profile
would wait on its lock or hand the file to the other instance and exit at once; HOME
points at the temporary directory too, so a daemon user without a writable home (the
Docker image, a system account) converts all the same.  A conversion that takes
longer than ``TIMEOUT`` seconds is killed with its process group.

Without ``soffice``/``libreoffice`` on PATH the document is "not extracted", said so
("未安装 LibreOffice"); the caller still stores the file.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

from monitor.errors import DocumentUnreadableError

TIMEOUT = 120.0
_FILTER = "txt:Text (encoded):UTF8"


def soffice() -> str | None:
    """The LibreOffice executable, or None when it is not installed."""
    return shutil.which("soffice") or shutil.which("libreoffice")


def extract_office(body: bytes, fmt: str) -> list[str]:
    """The lines of a .doc/.wps file; raises DocumentUnreadableError."""
    program = soffice()
    if program is None:
        raise DocumentUnreadableError(
            f"未安装 LibreOffice，未提取文本（.{fmt} 需要 soffice 转换，PATH 中没有）")
    with tempfile.TemporaryDirectory(prefix="monitor-office-") as tmp:
        source = Path(tmp) / f"document.{fmt}"
        source.write_bytes(body)
        out = Path(tmp) / "out"
        _convert(program, source, out, Path(tmp) / "profile")
        result = out / "document.txt"
        if not result.exists():
            raise DocumentUnreadableError(
                f"文件损坏或格式无法识别，未提取文本（LibreOffice 未能转换 .{fmt} 文件）")
        return result.read_text("utf-8", errors="replace").splitlines()


def _convert(program: str, source: Path, out: Path, profile: Path) -> None:
    cmd = [program, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
           "--nologo", "--nodefault", "--convert-to", _FILTER, "--outdir", str(out),
           str(source)]
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True,
                            env={**os.environ, "HOME": str(profile.parent)})
    try:
        proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired as exc:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise DocumentUnreadableError(
            f"转换超时，未提取文本（LibreOffice 超过 {TIMEOUT:.0f} 秒）") from exc
