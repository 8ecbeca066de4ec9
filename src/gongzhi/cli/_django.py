"""Start Django for commands that need the database."""

from __future__ import annotations

import os


def setup(*, env: str | None = None, data_dir: str | None = None) -> None:
    """Configure and start Django. ``env`` and ``data_dir`` override the environment
    variables (they must be set before the settings are first imported)."""
    if env:
        os.environ["GONGZHI_ENV"] = env
    if data_dir:
        os.environ["GONGZHI_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gongzhi.settings")
    import django

    django.setup()


def migrate(*, verbosity: int = 1) -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
