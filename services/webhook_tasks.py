"""The webhook deliveries' background tasks (services.webhooks says how deliveries work)."""

from models import utcnow
from services import tasks, webhooks


@tasks.task()
def deliver_task(delivery_ids: list[int] | int) -> None:
    """Send deliveries one after another (those still waiting); a failure schedules that one's next try.
    (A single id is a message queued before deliveries were sent in chunks.)"""
    for delivery_id in [delivery_ids] if isinstance(delivery_ids, int) else delivery_ids:
        _deliver(delivery_id)


def _deliver(delivery_id: int) -> None:
    session = tasks.session()
    now = utcnow()
    delivery = webhooks.claim(session, delivery_id, now)
    if delivery is None:
        return  # delivered, failed, or taken by another worker
    pause = webhooks.attempt(session, delivery, now=now)
    session.commit()
    if pause is not None:
        # WEBHOOK_RETRY_SCALE shortens the pauses in tests; production keeps 1.
        tasks.schedule(deliver_task.s([delivery_id]), pause * tasks.app().config.get("WEBHOOK_RETRY_SCALE", 1.0))


@tasks.periodic(tasks.crontab(minute="*"))
def requeue_lost_webhooks() -> None:
    """Once a minute: deliveries whose queue message was lost, or whose worker died, go back in the queue."""
    session = tasks.session()
    ids = webhooks.lost(session, utcnow())
    session.commit()
    webhooks.queue(ids)
