"""Which of the PostgreSQL driver's errors mean the database is away (a hub answers 503 busy, the station comes
back later) and which are a fault of ours (500): `storage.errors.is_unreachable`, on psycopg2's own classes."""

import peewee
import psycopg2
import psycopg2.errors
import pytest

from storage.errors import is_unreachable


def _from_server(error: psycopg2.Error, sqlstate: str) -> psycopg2.Error:
    """The error as the driver raises it for what the server said: with the server's SQLSTATE (set as
    unpickling sets it; the attribute is read-only otherwise)."""
    error.__setstate__({"pgerror": str(error), "pgcode": sqlstate})
    return error


@pytest.mark.parametrize(
    "error",
    [
        psycopg2.OperationalError("server closed the connection unexpectedly"),
        psycopg2.InterfaceError("connection already closed"),
        psycopg2.DatabaseError("server closed the connection unexpectedly"),  # a crash, read over the unix socket
        _from_server(psycopg2.errors.AdminShutdown("terminating connection due to administrator command"), "57P01"),
        _from_server(psycopg2.errors.CannotConnectNow("the database system is starting up"), "57P03"),
    ],
    ids=repr,
)
def test_the_driver_losing_the_server_reads_as_the_database_away_raw_or_wrapped(error):
    assert is_unreachable(error)
    assert is_unreachable(peewee.OperationalError(error)) and is_unreachable(peewee.DatabaseError(error))


@pytest.mark.parametrize(
    "error",
    [
        _from_server(psycopg2.errors.UniqueViolation("duplicate key value violates unique constraint"), "23505"),
        _from_server(psycopg2.DatabaseError("an internal error the server reported"), "XX000"),
        _from_server(psycopg2.errors.QueryCanceled("canceling statement due to statement timeout"), "57014"),
        psycopg2.ProgrammingError("can't adapt type 'object'"),  # ours, found before anything was sent
        ValueError("not the driver's at all"),
    ],
    ids=repr,
)
def test_a_statement_refused_or_a_mistake_of_ours_is_no_database_away(error):
    assert not is_unreachable(error)
    assert not is_unreachable(peewee.DatabaseError(error))
