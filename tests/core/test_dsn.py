"""The PostgreSQL DSN parser: libpq's rules (checked against the real libpq), passwords
refused in every form, clean errors that never contain the DSN, and the probe side
(``pg_params``) raising that clean error instead of a ``ValueError`` carrying a password."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from core.config import DsnError, Target, parse_dsn
from core.errors import ConfigError
from core.probes.base import ProbeContext
from core.probes.postgres import PostgresProbe, pg_params
from tests.support.libpq import LibpqNotAvailableError, conninfo_parse

SECRET = "LITERAL-SECRET-9f8e7d"


def libpq(text: str) -> dict[str, str] | None:
    try:
        return conninfo_parse(text)
    except LibpqNotAvailableError as exc:
        if os.environ.get("CI") == "true":
            raise
        pytest.skip(str(exc))


# DSNs without a password that libpq accepts: every field must come out the same.
ACCEPTED = [
    "postgresql://",
    "postgres://db.internal",
    "postgresql://app@db.internal:5432/app",
    "postgresql://app@127.0.0.1/app?sslmode=require&application_name=netmon",
    "postgresql://h1:5432,h2:5433,h3/app",
    "postgresql://h1,h2:5433/app",
    "postgresql://[::1]:5432/app",
    "postgresql://app@[2001:db8::1],[::1]:6432/app",
    "postgresql://%2Fvar%2Frun%2Fpostgresql/app",
    "postgresql://us%40er@h/d%20b",
    "postgresql://us%3Aer@h/db",
    "postgresql:///app?host=/tmp&port=6543",
    "postgresql://h/d?application_name=a@b",
    "postgresql://h/db#not-a-fragment",
    "postgresql://h:5432/",
    "postgresql://h?dbname=x&user=y",
    "host=db.internal port=5432 dbname=app user=app",
    "host=h1,h2 port=5432,5433 dbname=app",
    "  host = h   dbname = 'my db'  ",
    r"host=h dbname='it\'s' user=a\ b",
    "host=h dbname=''",
    "dbname='a'host=h",
    "hostaddr=127.0.0.1 port=6432",
]


@pytest.mark.parametrize("text", ACCEPTED)
def test_fields_match_libpq(text: str) -> None:
    want = libpq(text)
    assert want is not None and "password" not in want
    dsn = parse_dsn(text)
    assert ",".join(dsn.hosts) == want.get("host", "")
    assert ",".join(str(p) if p else "" for p in dsn.ports) == want.get("port", "")
    assert dsn.user == want.get("user")
    assert dsn.database == want.get("dbname")
    others = {k: v for k, v in want.items() if k not in ("host", "port", "user", "dbname")}
    assert dict(dsn.params) == others


PASSWORDS = [
    f"postgresql://app:{SECRET}#x@127.0.0.1/app",
    f"postgresql://app:{SECRET}?x@127.0.0.1/app",
    f"postgresql://app:{SECRET}@h1:5432,h2:5433/app",
    f"postgresql://app:{SECRET}@[::1]:5432/app",
    f"postgresql://:{SECRET}@h/app",
    f"postgres://app:{SECRET}@@h/app",
    f"postgresql://app@h/app?password={SECRET}",
    f"postgresql://app@h/app?sslmode=require&pass%77ord={SECRET}",
    f"postgresql://app@h/app?sslpassword={SECRET}",
    f"host=h user=app password={SECRET}",
    f"host=h password = '{SECRET} x'",
    f"host=h password='{SECRET} \\' x' dbname=d",
    f"password={SECRET}\\ x host=h",
]


@pytest.mark.parametrize("text", PASSWORDS)
def test_a_password_is_refused_in_every_form(text: str) -> None:
    reference = libpq(text)
    assert reference is not None and ({"password", "sslpassword"} & reference.keys())
    with pytest.raises(DsnError) as info:
        parse_dsn(text)
    assert info.value.secret
    assert SECRET not in str(info.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"postgresql://app:{SECRET}/x@127.0.0.1/app", "port"),  # libpq: host 'app', port '...'
        ("postgresql://app@127.0.0.1:99999/app", "port 99999 is out of range"),
        ("postgresql://app@127.0.0.1:0/app", "port 0 is out of range"),
        ("postgresql://app@[::1/app", "']'"),
        ("postgresql://app@[]/app", "empty"),
        ("host=h1,h2,h3 port=1,2", "3 hosts but 2 ports"),
        ("postgresql://h/app?sslmode", "'='"),
        ("postgresql://h/app?a=b=c", "'='"),
        ("postgresql://h/d%zz", "percent"),
        ("postgresql://h/d%00", "percent"),
        (f"mysql://app:{SECRET}@h/db", "postgresql://"),
        (f"POSTGRESQL://app:{SECRET}@h/db", "postgresql://"),
        (f"host=h {SECRET}", "'='"),
        (f"host=h dbname='{SECRET}", "unterminated"),
        (f"host=h password='{SECRET}", "password_keyring"),  # the password is named first
        ("host=h port=abc", "port"),
        ("", "empty"),
    ],
)
def test_malformed_dsns_give_a_clean_error_without_the_text(text: str, words: str) -> None:
    with pytest.raises(DsnError) as info:
        parse_dsn(text)
    message = str(info.value)
    assert words in message
    assert SECRET not in message and "\n" not in message


def test_a_port_that_may_be_a_password_says_so() -> None:
    with pytest.raises(DsnError) as info:
        parse_dsn(f"postgresql://app:{SECRET}/x@127.0.0.1/app")
    assert info.value.secret and "password_keyring" in str(info.value)


def test_pg_params_reads_every_form() -> None:
    params = pg_params(Target(name="db", kind="postgres",
                              dsn="host=db.internal port=6432 user=app dbname='my db'"))
    assert (params.host, params.port, params.user, params.database) == (
        "db.internal", 6432, "app", "my db")
    params = pg_params(Target(name="db", kind="postgres", dsn="postgresql://h1:7,h2/x"))
    assert (params.host, params.port, params.user, params.database) == ("h1", 7, "postgres", "x")


async def test_the_probe_reports_a_malformed_dsn_cleanly() -> None:
    # A Target built in code skips config validation: the probe must still not leak.
    target = Target(name="db", kind="postgres",
                    dsn=f"postgresql://app:{SECRET}#x@127.0.0.1/app")
    with pytest.raises(ConfigError) as info:
        pg_params(target)
    assert SECRET not in str(info.value) and "password_keyring" in str(info.value)
    probe = PostgresProbe(target, ProbeContext(default_timeout_s=1.0))
    result = await probe.run()
    assert not result.ok and result.error
    assert SECRET not in repr(result) and "password_keyring" in result.error
    assert result.checked_at <= datetime.now(UTC)
