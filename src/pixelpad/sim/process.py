"""Starting and stopping the game process under the clock shim, in a private HOME."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping, Sequence

from pixelpad.sim.errors import GameNotFoundError

GAME_DIRS = ("/usr/games", "/usr/local/games")

# Software GL, silent audio, no desktop services: the same pixels on every run.
BASE_ENV: dict[str, str] = {
    "LIBGL_ALWAYS_SOFTWARE": "1",
    "SDL_AUDIODRIVER": "dummy",
    "ALSOFT_DRIVERS": "null",
    "SDL_VIDEODRIVER": "x11",
    "SDL_JOYSTICK_HIDAPI": "0",
    "SDL_JOYSTICK_DISABLE_UDEV": "1",
    # no D-Bus: libdbus would otherwise fork a dbus-launch child on start, a needless real-time event
    "DBUS_SESSION_BUS_ADDRESS": "disabled:",
    "NO_AT_BRIDGE": "1",
}


def resolve_program(name: str) -> str:
    """Absolute path of ``name`` on PATH or in the Debian games directories."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *GAME_DIRS])
    found = shutil.which(name, path=path)
    if found is None:
        raise GameNotFoundError(f"game command {name!r} not found on PATH or in {', '.join(GAME_DIRS)}")
    return found


class GameProcess:
    """One game process (and its children, in their own session) with its stderr in a log file.

    Args:
        argv: the game's command line.
        env: the environment additions (DISPLAY, LD_PRELOAD, PIXELPAD_SHM...).
        home: the private HOME directory.
    """

    def __init__(self, argv: Sequence[str], *, env: Mapping[str, str], home: str) -> None:
        program = resolve_program(argv[0])
        self._log = tempfile.NamedTemporaryFile(prefix="pixelpad-game-", suffix=".log", delete=False)  # noqa: SIM115
        xdg = {"XDG_CONFIG_HOME": ".config", "XDG_DATA_HOME": ".local/share", "XDG_CACHE_HOME": ".cache"}
        full_env = {
            **os.environ,
            **BASE_ENV,
            "HOME": home,
            **{k: f"{home}/{v}" for k, v in xdg.items()},
            **env,
        }
        # setarch -R: no address-space randomisation, so pointer-keyed containers iterate the same way.
        cmd = ["setarch", platform.machine(), "-R", program, *argv[1:]]
        self._proc = subprocess.Popen(
            cmd, env=full_env, cwd=home, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self._proc.pid

    def poll(self) -> int | None:
        """Exit code, or None while it runs."""
        return self._proc.poll()

    def output_tail(self, n: int = 1500) -> str:
        """The end of what the game wrote to stdout/stderr."""
        try:
            with open(self._log.name, "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - n))
                return f.read().decode("utf-8", "replace").strip()
        except OSError:
            return ""

    def kill(self) -> None:
        """Kill the game's whole process group and reap it (idempotent)."""
        if self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        else:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self._proc.pid, signal.SIGKILL)  # children it left behind

    def close(self) -> None:
        self.kill()
        self._log.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._log.name)
