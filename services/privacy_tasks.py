"""Dataskydd on the task queue: invoice data kept under Bokföringslagen is anonymised when its time is up."""

from datetime import date

from services import privacy, tasks


@tasks.periodic(tasks.crontab(minute="20", hour="3"))
def expire_retained_invoice_data() -> None:
    """Every night: the buyer kept on issued invoices past their retention date is anonymised."""
    session = tasks.session()
    privacy.expire_retained(session, date.today())
    session.commit()
