"""Connection options shared by ``send`` and ``spool retry``: flags with environment defaults.

The API secret is read from ``EXPONEA_API_SECRET`` only (a flag would show it in ``ps``).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from ga_ee_bridge.errors import ConfigError
from ga_ee_bridge.send.client import Exponea
from ga_ee_bridge.send.request import DEFAULT_BASE_URL

__all__ = ["ConfigError", "add_connection_arguments", "client_from_args", "has_connection"]


def add_connection_arguments(parser: argparse.ArgumentParser) -> None:
    """Add ``--project-token``, ``--api-key-id``, ``--public-token``, ``--base-url`` and friends."""
    group = parser.add_argument_group(
        "connection", "defaults from EXPONEA_PROJECT_TOKEN, EXPONEA_API_KEY_ID, "
        "EXPONEA_API_SECRET (environment only), EXPONEA_PUBLIC_TOKEN, EXPONEA_BASE_URL")
    group.add_argument("--project-token", default=os.environ.get("EXPONEA_PROJECT_TOKEN"),
                       metavar="TOKEN", help="the project's token (Project settings > Access "
                       "management > API); default EXPONEA_PROJECT_TOKEN")
    group.add_argument("--api-key-id", default=os.environ.get("EXPONEA_API_KEY_ID"),
                       metavar="ID", help="private API key id, with EXPONEA_API_SECRET "
                       "(environment only); default EXPONEA_API_KEY_ID")
    group.add_argument("--public-token", default=os.environ.get("EXPONEA_PUBLIC_TOKEN"),
                       metavar="TOKEN", help="public access instead of a private key; default "
                       "EXPONEA_PUBLIC_TOKEN")
    group.add_argument("--base-url", default=os.environ.get("EXPONEA_BASE_URL") or DEFAULT_BASE_URL,
                       metavar="URL", help="the API's address (your instance's, or a local "
                       "test server); default EXPONEA_BASE_URL, else the public API")
    group.add_argument("--max-rps", type=float, default=None, metavar="N",
                       help="at most N requests per second "
                            "(the API's default limit: 6,000 a minute per IP)")
    group.add_argument("--max-retry-time", type=float, default=300.0, metavar="SECONDS",
                       help="keep retrying a failing batch this long (default: 300)")
    group.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS",
                       help="timeout of each HTTP request (default: 10)")


def has_connection(args: argparse.Namespace) -> bool:
    """True when a project token was given."""
    return bool(args.project_token)


def client_from_args(args: argparse.Namespace, **options: Any) -> Exponea:
    """An :class:`Exponea` client from the connection arguments; ConfigError when incomplete."""
    if not args.project_token:
        raise ConfigError("no project token: set EXPONEA_PROJECT_TOKEN or --project-token")
    secret = os.environ.get("EXPONEA_API_SECRET")
    if args.public_token and (args.api_key_id or secret):
        raise ConfigError("give either a public token or an API key id and secret, not both")
    if not args.public_token and not (args.api_key_id and secret):
        raise ConfigError("no credentials: set EXPONEA_API_KEY_ID and EXPONEA_API_SECRET "
                          "(private access) or EXPONEA_PUBLIC_TOKEN (public access)")
    if args.max_rps is not None and args.max_rps <= 0:
        raise ConfigError(f"--max-rps must be positive, got {args.max_rps:g}")
    return Exponea(
        args.project_token,
        api_key_id=None if args.public_token else args.api_key_id,
        api_secret=None if args.public_token else secret,
        public_token=args.public_token or None,
        base_url=args.base_url, max_rps=args.max_rps, max_retry_time=args.max_retry_time,
        timeout=args.timeout, **options,
    )
