"""Sessions end with the account's logout or password change, on every browser that holds one; a new password
must be a new, not-common one. Through the Flask test client on a real county hub (SQLite file)."""

from __future__ import annotations

import pytest

from harness.web import GIVEN_PASSWORD, account_to_change, login, token
from provisioning.operators import create_operator
from storage.database import db
from storage.migrations import migrate
from storage.models import Credential
from web import create_app


@pytest.fixture
def app(county_node):
    return create_app(node=county_node)


def _logged_in(app, username="li", password="agent-pass-1"):
    client = app.test_client()
    assert login(client, username, password).status_code == 302
    return client


def _is_logged_in(client) -> bool:
    return client.get("/password").status_code == 200


def _change(client, old: str, new: str) -> str:
    data = {"old": old, "new": new, "again": new, "csrf_token": token(client, "/password")}
    return client.post("/password", data=data).get_data(as_text=True)


def test_logging_out_ends_every_session_of_the_account_and_a_copied_cookie_with_it(app):
    office, home = _logged_in(app), _logged_in(app)
    copied = app.test_client()
    copied.set_cookie("session", office.get_cookie("session").value)
    assert _is_logged_in(copied)
    office.post("/logout", data={"csrf_token": token(office, "/password")})
    assert not _is_logged_in(office) and not _is_logged_in(home) and not _is_logged_in(copied)
    assert _is_logged_in(_logged_in(app))  # and one can log in again


def test_a_password_change_ends_the_accounts_other_sessions_and_keeps_the_one_that_changed_it(app):
    office, home = _logged_in(app), _logged_in(app)
    _change(office, "agent-pass-1", "a-fresh-secret-7")
    assert _is_logged_in(office) and not _is_logged_in(home)
    assert login(app.test_client(), "li", "a-fresh-secret-7").status_code == 302


def test_a_forced_change_refuses_the_same_password_and_keeps_asking(app, county_node):
    account_to_change(county_node, "new.admin", "admin")
    client = _logged_in(app, "new.admin", GIVEN_PASSWORD)
    assert "不能与原密码相同" in _change(client, GIVEN_PASSWORD, GIVEN_PASSWORD)
    assert Credential.get_by_id("new.admin").must_change
    assert client.get("/admin/operators").headers["Location"].endswith("/password")


@pytest.mark.parametrize(
    ("new", "problem"),
    [("short-1", "至少 10 位"), ("li", "至少 10 位"), ("password123", "太常见"), ("1234567890", "太常见")],
)
def test_a_weak_new_password_is_refused_in_chinese_and_the_old_one_still_works(app, new, problem):
    client = _logged_in(app)
    assert problem in _change(client, "agent-pass-1", new)
    assert login(app.test_client(), "li", "agent-pass-1").status_code == 302


def test_an_account_named_as_its_password_is_refused(county_node):
    from provisioning.operators import AccountRefused

    with pytest.raises(AccountRefused, match="不能与用户名相同"):
        create_operator(
            county_node.events,
            county_node.identity.station,
            username="liu.wenjun1",
            name="刘文君",
            role="agent",
            password="Liu.Wenjun1",
        )


def test_a_database_of_version_11_keeps_its_credentials_through_the_session_migration(sqlite_database):
    migrate(target=11)  # frozen: the credential table as made before 12, without a session epoch
    assert "session_epoch" not in {column.name for column in db.get_columns("credential")}
    db.execute_sql(
        "INSERT INTO credential (username, password_hash, must_change, failed_attempts) VALUES ('li', 'h', 0, 0)"
    )
    migrate()
    assert Credential.get_by_id("li").password_hash == "h" and Credential.get_by_id("li").session_epoch == 0


def test_wrong_old_passwords_on_the_change_page_count_towards_the_lockout(app):
    client = _logged_in(app)
    for _ in range(5):
        assert "原密码不正确" in _change(client, "not-my-password", "a-fresh-secret-7")
    assert "已锁定" in _change(client, "agent-pass-1", "a-fresh-secret-7")
    assert "已锁定" in login(app.test_client(), "li", "agent-pass-1").get_data(as_text=True)


def test_refused_choices_of_a_new_password_do_not_lock_out_the_person_choosing(app):
    """Five tries at a password the rules refuse are not wrong guesses: the right one then goes through."""
    client = _logged_in(app)
    for weak in ("password123", "agent-pass-1", "1234567890", "password123", "a123456789", "1234567890"):
        assert "已锁定" not in _change(client, "agent-pass-1", weak)
    assert "已锁定" not in _change(client, "agent-pass-1", "Qingshan-valley-7")
    assert login(app.test_client(), "li", "Qingshan-valley-7").status_code == 302
