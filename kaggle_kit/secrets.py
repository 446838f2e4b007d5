"""Credential values: checked for shape before anything uses them, and scrubbed from every text kit shows.

A secret can reach a message in many forms: as typed, stripped of a trailing
line break, escaped by ``repr`` or JSON (``\\r``), URL-encoded, inside an HTTP
Basic header (base64 of ``username:key``), or cut short by a display. ``Scrubber``
replaces each of them with ``***``. ``known_secrets`` gathers every credential
this machine would give the Kaggle client (variables, token files, kaggle.json,
proxy passwords), so the command line can scrub any error on its way out.

>>> Scrubber(["s3cr3t-token-value\\r"])("bad header: 'Bearer s3cr3t-token-value\\\\r'")
"bad header: 'Bearer ***'"
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Iterable, Mapping
from urllib.parse import quote, quote_plus, unquote, urlsplit

MASK = "***"
MIN_SECRET = 6  # shorter values would mangle ordinary text; real keys and tokens are 32+ characters
SHOWN_PREFIX = 16  # a display that cuts a long secret short still shows its start
NAME_MAX = 255  # bytes in one path component (Linux): the client tests KAGGLE_API_TOKEN as a path first
TOKEN_FILES = ("access_token", "access_token.txt")
PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY")


def shape_problem(name: str, value: str) -> str | None:
    """What is wrong with a credential's characters (never quoting it), or None.

    ``name`` says where the value came from (``KAGGLE_API_TOKEN``, a file path).
    """
    if "\r" in value or "\n" in value:
        return (f"{name} contains a line break (\\r or \\n, as an env file saved with Windows line endings "
                "leaves behind): remove it")
    if value != value.strip():
        return f"{name} starts or ends with spaces: remove them"
    if any(not (32 < ord(char) < 127) for char in value):
        return (f"{name} holds characters no Kaggle credential has (spaces, control or non-ASCII characters): "
                "copy it again from https://www.kaggle.com/settings")
    return None


def too_long_for_a_path(value: str) -> bool:
    """True when ``os.stat(value)`` would fail with "File name too long" instead of answering."""
    return any(len(part.encode()) > NAME_MAX for part in value.split("/")) or len(value.encode()) >= 4096


def secret_forms(secret: str) -> set[str]:
    """The spellings of ``secret`` a message may contain."""
    forms = {secret, secret.strip(), repr(secret)[1:-1], json.dumps(secret)[1:-1], quote(secret, safe=""),
             quote_plus(secret)}
    stripped = secret.strip()
    if len(stripped) >= 2 * SHOWN_PREFIX:
        forms.add(stripped[:SHOWN_PREFIX])
    return {form for form in forms if len(form) >= MIN_SECRET}


def basic_credentials(username: str, key: str) -> str:
    """The HTTP Basic value the client sends for ``username:key``."""
    return base64.b64encode(f"{username}:{key}".encode()).decode()


class Scrubber:
    """Replaces every form of the given secrets in a text with ``***``."""

    def __init__(self, secrets: Iterable[str]):
        forms: set[str] = set()
        for secret in secrets:
            if secret:
                forms |= secret_forms(secret)
        self._forms = sorted(forms, key=len, reverse=True)  # longest first: no half-replaced secret

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, MASK)
        return text

    def __bool__(self) -> bool:
        return bool(self._forms)


def known_secrets(env: Mapping[str, str] | None = None) -> list[str]:
    """Every credential value this machine holds for Kaggle (and proxies); never raises."""
    env = os.environ if env is None else env
    home = Path(env.get("HOME") or Path.home())
    secrets = [env.get("KAGGLE_KEY", "")]
    token = env.get("KAGGLE_API_TOKEN", "")
    named_file = bool(token) and not too_long_for_a_path(token) and _is_file(Path(token))
    secrets.append(_read_small(Path(token)) if named_file else token)  # a path is not the secret; its content is
    secrets += [_read_small(home / ".kaggle" / name) for name in TOKEN_FILES]
    for folder in _config_dirs(env, home):
        values = _json_file(folder / "kaggle.json")
        key, username = str(values.get("key", "")), str(values.get("username", ""))
        secrets += [key, basic_credentials(username, key) if key else ""]
    if env.get("KAGGLE_KEY"):
        secrets.append(basic_credentials(env.get("KAGGLE_USERNAME", ""), env["KAGGLE_KEY"]))
    for name in PROXY_VARIABLES:
        password = _url_password(env.get(name, ""))
        secrets += [password, unquote(password)]
    return [secret for secret in secrets if secret]


def scrub(text: str, env: Mapping[str, str] | None = None) -> str:
    """``text`` with every known secret replaced by ``***``."""
    return Scrubber(known_secrets(env))(text)


def _config_dirs(env: Mapping[str, str], home: Path) -> list[Path]:
    folders = [home / ".kaggle", Path(env.get("XDG_CONFIG_HOME") or home / ".config") / "kaggle"]
    if env.get("KAGGLE_CONFIG_DIR"):
        folders.insert(0, Path(env["KAGGLE_CONFIG_DIR"]))
    return folders


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def _read_small(path: Path) -> str:
    try:
        if path.is_file() and path.stat().st_size < 65536:
            return path.read_text(encoding="utf-8", errors="replace").strip()
    except (OSError, ValueError):
        pass
    return ""


def _json_file(path: Path) -> dict:
    try:
        value = json.loads(_read_small(path) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _url_password(url: str) -> str:
    try:
        return urlsplit(url).password or ""
    except ValueError:
        return ""


def redact_url(url: str) -> str:
    """``url`` without its user info and query (a signed URL's signature is a credential too)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    except ValueError:
        return "<unreadable URL>"
    return f"{parts.scheme}://{host}{parts.path}" if parts.scheme else parts.path
