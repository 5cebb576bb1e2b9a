"""`flask --app wsgi campaigns send FILE.csv --name … --from … --body … [--wait]`.

The campaign is created exactly as the API would (same checks, same bad-row handling); the
delivery worker sends it. With --wait, a progress bar follows it until it is completed or cancelled.
"""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from app.campaigns import intake, service
from app.campaigns.models import FINISHED, Campaign
from app.extensions import db


@click.group("campaigns", cls=AppGroup, help="Bulk messaging: send a campaign from a CSV file.")
def campaigns() -> None:
    pass


@campaigns.command("send", help="Create a campaign for the recipients in FILE (CSV with a 'phone' header).")
@click.argument("file", type=click.File("rb"))
@click.option("--name", required=True, help="The campaign's name.")
@click.option("--from", "from_", required=True, multiple=True, help="Our number; repeat for a sender pool.")
@click.option("--body", required=True, help="The message: a template with {{ name }}, {{ fields.<column> }}.")
@click.option("--send-at", default=None, help="ISO 8601 time to start (default now).")
@click.option("--rate", "rate", type=int, default=None, help="Messages per minute per sender number.")
@click.option("--wait", is_flag=True, help="Show a progress bar until the campaign is done.")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between progress checks.")
def send(
    file,
    name: str,
    from_: tuple[str, ...],
    body: str,
    send_at: str | None,
    rate: int | None,
    wait: bool,
    poll: float,
) -> None:
    data = {
        "name": name,
        "from": list(from_) if len(from_) > 1 else from_[0],
        "body": body,
        "send_at": send_at,
        "rate_per_minute": rate,
    }
    try:
        campaign = intake.create(data, file.read(), created_by="cli")
    except intake.IntakeError as exc:
        db.session.rollback()
        raise click.ClickException(exc.message) from None
    db.session.commit()
    counts = service.counts(campaign.id)
    click.echo(
        f"campaign {campaign.id} “{campaign.name}”: {counts['pending']} to send, "
        f"{counts['total'] - counts['pending']} set aside (status {campaign.status})"
    )
    for row in campaign.rejected or []:
        click.echo(f"  row {row['row']}: {row['phone']}: {row['reason']}")
    if wait:
        follow(campaign.id, poll)


def follow(campaign_id: int, poll: float) -> None:
    """Redraw a progress bar from the counts until the campaign is completed or cancelled."""
    total = service.counts(campaign_id)["total"]
    done = 0
    with click.progressbar(length=total, label="sending", show_pos=True, show_percent=True) as bar:
        while True:
            db.session.expire_all()
            status = db.session.get(Campaign, campaign_id).status
            counts = service.counts(campaign_id)
            db.session.rollback()
            now_done = sum(counts[b] for b in FINISHED)
            bar.update(now_done - done)
            done = now_done
            if status in ("completed", "cancelled"):
                break
            time.sleep(poll)
    summary = ", ".join(f"{k} {counts[k]}" for k in FINISHED + ("replies",) if counts[k])
    click.echo(f"campaign {campaign_id} {status}: {summary or 'nothing sent'}")
