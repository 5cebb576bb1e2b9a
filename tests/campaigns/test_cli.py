"""`flask --app wsgi campaigns send FILE.csv --name … --from … --body … [--wait]`."""

from __future__ import annotations

from sqlalchemy import func, select

from app.campaigns.models import Campaign
from app.extensions import db
from tests.campaigns.helpers import numbers_inside_the_window
from tests.conftest import OUR


def write_csv(tmp_path, phones, extra: str = ""):
    path = tmp_path / "list.csv"
    path.write_text("phone,name\n" + "".join(f"{p},Friend {i}\n" for i, p in enumerate(phones)) + extra)
    return str(path)


def test_send_and_wait_until_done(app, worker, sandbox, tmp_path) -> None:
    phones = numbers_inside_the_window(3)
    path = write_csv(tmp_path, phones, extra="oops,Bad\n")
    args = ["campaigns", "send", path, "--name", "CLI sale", "--from", OUR, "--body", "Hi {{ name }}"]
    result = app.test_cli_runner().invoke(args=[*args, "--rate", "600", "--wait", "--poll", "0.2"])
    assert result.exit_code == 0, result.output
    assert "3 to send, 1 set aside" in result.output
    assert "row 5: oops" in result.output
    assert "sending" in result.output  # the progress bar's label
    assert "completed: delivered 3, skipped_invalid 1" in result.output
    bodies = sorted(m["body"] for m in sandbox.messages() if m["direction"] == "outbound")
    assert bodies == ["Hi Friend 0", "Hi Friend 1", "Hi Friend 2"]


def test_bad_input_exits_non_zero_and_creates_nothing(app, tmp_path) -> None:
    path = write_csv(tmp_path, ["+12125550100"])
    runner = app.test_cli_runner()
    for extra, words in (
        (["--from", "12345"], "unknown sender"),
        (["--from", OUR, "--send-at", "yesterday"], "send_at"),
    ):
        result = runner.invoke(args=["campaigns", "send", path, "--name", "x", "--body", "Hi", *extra])
        assert result.exit_code != 0 and words in result.output, result.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    result = runner.invoke(
        args=["campaigns", "send", str(empty), "--name", "x", "--from", OUR, "--body", "Hi"]
    )
    assert result.exit_code != 0 and "empty" in result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Campaign)) == 0
        db.session.remove()
