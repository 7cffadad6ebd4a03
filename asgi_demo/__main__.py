"""``python -m asgi_demo <command>``: Django's manage.py, plus ``serve`` and ``worker``."""

import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "asgi_demo.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(argv)


if __name__ == "__main__":
    main(["python -m asgi_demo", *sys.argv[1:]])
