"""One settings object, read from the environment (``HIPEC_*``).

=====================  ==========================================================================
variable               meaning
=====================  ==========================================================================
``HIPEC_REGIMEN_PATH`` folders of user regimen files (``*.toml``), separated by ``os.pathsep``
``HIPEC_DATA_DIR``     where hipec keeps its data (default: the platform's user data folder)
``HIPEC_DATABASE_URL`` SQLAlchemy URL of the case database (default: SQLite in the data folder)
=====================  ==========================================================================
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """hipec's configuration; every field can be set as ``HIPEC_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="HIPEC_", extra="ignore")

    regimen_path: str = ""
    data_dir: Path | None = None
    database_url: str | None = None

    @property
    def regimen_dirs(self) -> list[Path]:
        """The user regimen folders, in the order given."""
        return [Path(p).expanduser() for p in self.regimen_path.split(os.pathsep) if p.strip()]

    @property
    def resolved_data_dir(self) -> Path:
        """The data folder: ``HIPEC_DATA_DIR`` or the platform's user data folder."""
        return self.data_dir or Path(platformdirs.user_data_dir("hipec", appauthor=False))


def get_settings() -> Settings:
    """Read the settings afresh (cheap; lets tests and long-running processes see changes)."""
    return Settings()
