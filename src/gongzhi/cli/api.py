"""``gongzhi api …``: API tokens, partner keys, idempotency records.

    gongzhi api token create --user USERNAME [--expires DAYS] [--name TEXT]
    gongzhi api token list [--user USERNAME]
    gongzhi api token revoke PREFIX
    gongzhi api key create --bureau CODE [--expires DAYS] [--name TEXT]
    gongzhi api key list [--bureau CODE]
    gongzhi api key revoke PREFIX
    gongzhi api purge-idempotency [--days N]

``create`` prints the secret once on stdout (details on stderr); only its digest is
stored. Exit codes: 0 done, 1 not found, 2 usage error.
"""

from __future__ import annotations

import sys


def register(subparsers) -> None:
    p = subparsers.add_parser("api", help="REST API: tokens, partner keys, idempotency records")
    sub = p.add_subparsers(dest="api_command", metavar="ACTION")

    tok = sub.add_parser("token", help="personal API tokens of users")
    tsub = tok.add_subparsers(dest="token_command", metavar="ACTION")
    tc = tsub.add_parser("create", help="create a token and print its secret once")
    tc.add_argument("--user", required=True, metavar="USERNAME")
    tc.add_argument("--expires", type=int, metavar="DAYS", help="valid for DAYS days (default: no expiry)")
    tc.add_argument("--name", default="", help="what the token is for")
    tc.set_defaults(func=run_token_create)
    tl = tsub.add_parser("list", help="list tokens (never the secrets)")
    tl.add_argument("--user", metavar="USERNAME")
    tl.set_defaults(func=run_list, which="token")
    tr = tsub.add_parser("revoke", help="revoke a token by its prefix")
    tr.add_argument("prefix")
    tr.set_defaults(func=run_revoke, which="token")
    tok.set_defaults(func=lambda args: (tok.print_help(), 2)[1])

    key = sub.add_parser("key", help="push keys of partner bureaus")
    ksub = key.add_subparsers(dest="key_command", metavar="ACTION")
    kc = ksub.add_parser("create", help="create a partner key (scope push) and print its secret once")
    kc.add_argument("--bureau", required=True, metavar="CODE")
    kc.add_argument("--expires", type=int, metavar="DAYS", help="valid for DAYS days (default: no expiry)")
    kc.add_argument("--name", default="", help="which partner system uses it")
    kc.set_defaults(func=run_key_create)
    kl = ksub.add_parser("list", help="list partner keys (never the secrets)")
    kl.add_argument("--bureau", metavar="CODE")
    kl.set_defaults(func=run_list, which="key")
    kr = ksub.add_parser("revoke", help="revoke a partner key by its prefix")
    kr.add_argument("prefix")
    kr.set_defaults(func=run_revoke, which="key")
    key.set_defaults(func=lambda args: (key.print_help(), 2)[1])

    pu = sub.add_parser("purge-idempotency", help="delete push idempotency records past their retention")
    pu.add_argument("--days", type=int, metavar="N", help="keep the last N days (default GONGZHI_API_IDEMPOTENCY_DAYS or 7)")
    pu.set_defaults(func=run_purge)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _setup() -> None:
    from gongzhi.cli import _django

    _django.setup()


def _positive(days) -> bool:
    if days is not None and days <= 0:
        print("--expires must be a positive number of days", file=sys.stderr)
        return False
    return True


def _show_secret(issued, label: str) -> int:
    """The secret on stdout (for scripts), what it is on stderr: shown this once only."""
    expiry = issued.obj.expires.isoformat() if issued.obj.expires else "never"
    print(f"{label}, expires {expiry}; the secret is shown only now:", file=sys.stderr)
    print(issued.secret)
    return 0


def run_token_create(args) -> int:
    if not _positive(args.expires):
        return 2
    _setup()
    from gongzhi.accounts.models import User
    from gongzhi.api import services

    user = User.objects.filter(username=args.user).first()
    if user is None:
        print(f"no user {args.user!r}", file=sys.stderr)
        return 1
    issued = services.create_token(user=user, name=args.name, expires_in_days=args.expires)
    return _show_secret(issued, f"token {issued.obj.prefix}… for {user.username}")


def run_key_create(args) -> int:
    if not _positive(args.expires):
        return 2
    _setup()
    from gongzhi.api import services
    from gongzhi.registry.models import Bureau

    bureau = Bureau.objects.filter(code=args.bureau).first()
    if bureau is None:
        print(f"no bureau {args.bureau!r}", file=sys.stderr)
        return 1
    issued = services.create_partner_key(bureau=bureau, name=args.name, expires_in_days=args.expires)
    return _show_secret(issued, f"partner key {issued.obj.prefix}… for {bureau.code} (scope push)")


def run_list(args) -> int:
    _setup()
    from gongzhi.api.models import ApiToken, PartnerKey
    from gongzhi.cli.registry import format_table

    if args.which == "token":
        qs = ApiToken.objects.select_related("user")
        if args.user:
            qs = qs.filter(user__username=args.user)
        rows = [[t.prefix, t.user.username, t.name, t.state(), _t(t.created), _t(t.last_used), _t(t.expires)] for t in qs]
        header = ["prefix", "user", "name", "state", "created", "last used", "expires"]
    else:
        qs = PartnerKey.objects.select_related("bureau")
        if args.bureau:
            qs = qs.filter(bureau__code=args.bureau)
        rows = [[k.prefix, k.bureau.code, k.name, k.scope, k.state(), _t(k.created), _t(k.last_used), _t(k.expires)] for k in qs]
        header = ["prefix", "bureau", "name", "scope", "state", "created", "last used", "expires"]
    print(format_table(header, rows))
    return 0


def _t(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


def run_revoke(args) -> int:
    _setup()
    from gongzhi.api import services
    from gongzhi.api.models import ApiToken, PartnerKey

    model = ApiToken if args.which == "token" else PartnerKey
    matches = list(model.objects.filter(prefix=args.prefix))
    if len(matches) != 1:
        print(f"{len(matches)} {args.which}s with prefix {args.prefix!r}: give the full prefix shown by 'list'", file=sys.stderr)
        return 1
    services.revoke(obj=matches[0])
    print(f"revoked {args.which} {args.prefix}…", file=sys.stderr)
    return 0


def run_purge(args) -> int:
    if args.days is not None and args.days < 0:
        print("--days must not be negative", file=sys.stderr)
        return 2
    _setup()
    import datetime as dt

    from gongzhi.api import services

    n = services.purge_idempotency(older_than=dt.timedelta(days=args.days) if args.days is not None else None)
    print(f"deleted {n} idempotency records", file=sys.stderr)
    return 0
