"""Credentials of the probes: `${secret:NAME}` in config/probes.yaml resolves here, never in the YAML.

Lookup order for NAME: the environment variable MOTCUA_SECRET_<NAME>, then the secrets file (a YAML
mapping NAME: value) whose path comes from env MOTCUA_SECRETS_FILE or else the probes file's
`secrets_file`. Values are never logged nor stored: `redact(text)` replaces every value that was
handed out (and every value of the file) by '***' in messages.
"""
from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

import yaml

from config.errors import ConfigError

ENV_PREFIX = "MOTCUA_SECRET_"
ENV_FILE = "MOTCUA_SECRETS_FILE"
MASK = "***"


class SecretMissing(KeyError):
    """A ${secret:NAME} that neither the environment nor the secrets file provides."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return (f"secret {self.name} is not set (environment variable {ENV_PREFIX}{self.name} "
                f"or the secrets file, {ENV_FILE})")


class Secrets:
    def __init__(self, values: Mapping[str, str] | None = None, *, env: Mapping[str, str] | None = None,
                 source: str = "") -> None:
        self._file = {str(k): str(v) for k, v in (values or {}).items()}
        self._env = os.environ if env is None else env
        self._used: set[str] = set(v for v in self._file.values() if v)
        self.source = source

    def __repr__(self) -> str:  # never the values
        return f"Secrets({len(self._file)} from file {self.source or '-'}, env prefix {ENV_PREFIX})"

    def has(self, name: str) -> bool:
        """Whether the environment or the file provides it (its value not read)."""
        return ENV_PREFIX + name in self._env or name in self._file

    def get(self, name: str) -> str:
        v = self._env.get(ENV_PREFIX + name)
        if v is None:
            v = self._file.get(name)
        if v is None:
            raise SecretMissing(name)
        if v:
            self._used.add(v)
        return v

    def redact(self, text: str) -> str:
        if not text:
            return text
        # longest first so a value containing another is masked whole
        for v in sorted(self._used, key=len, reverse=True):
            if len(v) >= 3 and v in text:
                text = text.replace(v, MASK)
        return text


def load_secrets(path: Path | str | None = None, *, env: Mapping[str, str] | None = None) -> Secrets:
    """Secrets from env and the secrets file (env MOTCUA_SECRETS_FILE overrides `path`).

    A missing file given explicitly is a ConfigError; no file at all is fine (env only)."""
    env_map = os.environ if env is None else env
    file_path = env_map.get(ENV_FILE) or (str(path) if path is not None else None)
    if not file_path:
        return Secrets({}, env=env_map)
    p = Path(file_path)
    if not p.exists():
        raise ConfigError(f"{p}: secrets file not found")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        # never echo the file's content: it holds credentials
        raise ConfigError(f"{p}: not valid YAML{where}") from None
    except (UnicodeDecodeError, OSError) as e:
        raise ConfigError(f"{p}: cannot read the secrets file: {e.__class__.__name__}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: expected a mapping NAME: value at the top level")
    bad = [str(k) for k, v in data.items() if not isinstance(v, (str, int, float)) or isinstance(v, bool)]
    if bad:
        raise ConfigError(f"{p}: values must be text; check key(s) {', '.join(bad)}")
    return Secrets({str(k): str(v) for k, v in data.items()}, env=env_map, source=str(p))


MAX_TOKEN_FILE = 4096  # a token file holds one line: never read more


def read_token_file(path: str | Path, *, min_length: int, private: bool, error: type[Exception] = ConfigError,
                    hint: str = "") -> str:
    """A shared token: the first line of a small regular file, bounded before it is read; `private`
    refuses a file others may read. `error` is raised with a plain message, `hint` added to the
    message of a token too short (how to make one)."""
    p = Path(path)
    try:
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):
            raise error(f"token file {p}: not a regular file")
        if st.st_size > MAX_TOKEN_FILE:
            raise error(f"token file {p}: {st.st_size} bytes; a token file holds one line")
        if private and os.name == "posix" and st.st_mode & 0o077:
            raise error(f"token file {p}: others may read it (mode {stat.S_IMODE(st.st_mode):o}); chmod 600 {p}")
        with open(p, encoding="utf-8") as f:
            text = f.read(MAX_TOKEN_FILE)
    except OSError as e:
        raise error(f"token file {p}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise error(f"token file {p}: not UTF-8 text") from None
    token = (text.splitlines() or [""])[0].strip()
    if len(token) < min_length:
        raise error(f"token file {p}: the token is too short ({len(token)} characters; at least {min_length}"
                    f"{'; ' + hint if hint else ''})")
    return token
