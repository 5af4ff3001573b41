"""The `studysync` command: dev tokens, migrations, and the local stack."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

import grpc

from clients.packages_admin import add_subcommands as add_packages_commands
from services.runtime.keys import find_dev_keys, mint_token


def _admin_token() -> str:
    """What `studysync packages …` sends without --token: a short-lived admin token, dev key."""
    return mint_token(find_dev_keys(), "admin-cli", [], ["admin"], 600)


def _token(args: argparse.Namespace) -> int:
    print(mint_token(find_dev_keys(), args.sub, args.profile, args.role, args.ttl))
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from devstack.registry import SPECS
    from services.runtime import db, migrations

    async def run() -> None:
        for spec in SPECS:
            if args.service in (None, spec.name):
                settings = spec.settings()
                engine = db.create_engine(settings.database_url, settings.db_schema, settings.db_pool_size)
                try:
                    await migrations.upgrade(engine, spec.migrations_dir, settings.db_schema)
                finally:
                    await engine.dispose()
                print(f"{spec.name}: migrated ({settings.db_schema})")

    asyncio.run(run())
    return 0


def _up(args: argparse.Namespace) -> int:
    from devstack.stack import run_forever

    return run_forever()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="studysync", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    token = commands.add_parser(
        "token",
        help="print a token signed with the dev key",
        description="Print a token signed with the running stack's dev key: the one in "
        "STUDYSYNC_STATE_DIR, else in .studysync of the working folder or a parent, else of this "
        "checkout. Never makes a new key (the stack would reject its tokens).",
    )
    token.add_argument("--sub", required=True, help="user id (claim sub)")
    token.add_argument("--profile", action="append", default=[], help="a profile the user may act for")
    token.add_argument("--role", action="append", default=[], help="a role, e.g. admin")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (default 3600)")
    token.set_defaults(run=_token)

    migrate = commands.add_parser("migrate", help="apply each service's migrations")
    migrate.add_argument("service", nargs="?", choices=["progress", "packages", "sync"])
    migrate.set_defaults(run=_migrate)

    up = commands.add_parser("up", help="run the three services and Envoy until Ctrl-C")
    up.set_defaults(run=_up)

    add_packages_commands(commands, default_token=_admin_token)

    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except BrokenPipeError:  # `studysync packages list | head`: the reader has what it wanted
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a Unix tool killed by the closed pipe reports
    except grpc.RpcError as error:  # a refused call: say what the server said, not where we were
        print(f"error: {error.code().name}: {error.details()}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
