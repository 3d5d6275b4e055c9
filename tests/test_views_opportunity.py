"""Säljmöjligheter and Säljsteg through HTTP (issue 5): the list and its
filters, the form with its rules, the opportunity page with history and
activities, the Säljmöjligheter tab on the company card, and permissions."""

from decimal import Decimal

import pytest

from extensions import db
from models import Activity, Opportunity, SalesStage
from tests.helpers import count, field_errors, flashes, fresh, sv, text


@pytest.fixture
def stages(app):
    rows = [
        SalesStage(name=n, sort_order=i, probability=p, is_lost=n == "Förlorad")
        for i, (n, p) in enumerate([("Kontakt", 10), ("Offert", 50), ("Förlorad", 0)])
    ]
    db.session.add_all(rows)
    db.session.commit()
    return {s.name: s for s in rows}


@pytest.fixture
def company(make_company, employees):
    return make_company(name="Pipelinebolaget AB", owner=employees["seller"])


def form(customer, stage, **fields):
    data = {
        "title": "Nytt serviceavtal",
        "company": str(customer.id),
        "stage": str(stage.id),
        "amount": "125000,50",
        "probability": "",
        "close_date": "2027-02-28",
        "kind": "new",
        "source": "Mässa",
        "lost_reason": "",
        "description": "",
    }
    data.update(fields)
    return data


def make_opportunity(company, stage, **fields):
    opportunity = Opportunity(title=fields.pop("title", "Avtal"), company=company, stage=stage, **fields)
    db.session.add(opportunity)
    db.session.commit()
    return opportunity


def test_seller_creates_an_opportunity_with_the_stage_probability(login, company, stages, employees):
    seller = login("seller")
    response = seller.post("/admin/opportunity/new/", form(company, stages["Kontakt"], amount="125000.50"))
    assert response.status_code == 302, flashes(seller.client.get(response.headers.get("Location", "/admin/")))
    opportunity = db.session.scalar(db.select(Opportunity))
    assert response.headers["Location"].endswith(f"/admin/opportunity/show/{opportunity.id}")
    assert (opportunity.probability, opportunity.amount, opportunity.company_id) == (
        10,
        Decimal("125000.50"),
        company.id,
    )
    assert opportunity.owner_id == employees["seller"].id  # the one who creates it, unless chosen

    page = text(seller.client.get(f"/admin/opportunity/show/{opportunity.id}"))
    assert "Nytt serviceavtal" in page and "Pipelinebolaget AB" in page
    assert "125\u00a0000,50\u00a0kr" in page
    assert sv("Expected close date") in page and "Kontakt" in page


def test_the_new_form_from_the_card_has_the_customer_chosen(login, company, stages):
    page = text(login("seller").client.get(f"/admin/opportunity/new/?company_id={company.id}"))
    assert "Pipelinebolaget AB" in page


def test_a_lost_opportunity_without_reason_is_not_saved(login, company, stages):
    seller = login("seller")
    response = seller.post("/admin/opportunity/new/", form(company, stages["Förlorad"]))
    assert response.status_code == 200
    assert ("danger", sv("Give the reason the opportunity was lost.")) in flashes(response)
    assert count(db.session, Opportunity) == 0
    response = seller.post("/admin/opportunity/new/", form(company, stages["Förlorad"], lost_reason="Priset"))
    assert response.status_code == 302
    assert count(db.session, Opportunity) == 1


def test_an_opportunity_needs_a_customer(login, stages, company):
    response = login("seller").post("/admin/opportunity/new/", form(company, stages["Kontakt"], company=""))
    assert ("danger", sv("Choose the customer: either a company or a private customer.")) in flashes(response)
    assert count(db.session, Opportunity) == 0


@pytest.mark.parametrize("owner", ["99999", "abc", "99999999999999999999"])
def test_an_owner_who_is_no_employee_is_refused_next_to_the_field(login, company, stages, employees, owner):
    """Not silently given to whoever saves it."""
    seller = login("seller")
    response = seller.post("/admin/opportunity/new/", form(company, stages["Kontakt"], owner=owner))
    assert response.status_code == 200
    assert field_errors(response, "owner") == [sv("No record with id %(id)s.", id=owner)]
    assert count(db.session, Opportunity) == 0

    opportunity = make_opportunity(company, stages["Kontakt"], owner=employees["admin"])
    data = form(company, stages["Kontakt"], title=opportunity.title, owner=owner, version=str(opportunity.version))
    response = seller.post(f"/admin/opportunity/edit/?id={opportunity.id}", data)
    assert response.status_code == 200
    assert field_errors(response, "owner") == [sv("No record with id %(id)s.", id=owner)]
    assert fresh(db.session, Opportunity, opportunity.id).owner_id == employees["admin"].id


def test_editing_the_stage_is_kept_in_the_history_shown_on_the_page(login, company, stages, employees):
    opportunity = make_opportunity(company, stages["Kontakt"], owner=employees["seller"])
    seller = login("seller")
    data = form(
        company,
        stages["Offert"],
        title=opportunity.title,
        owner=str(employees["seller"].id),
        probability="10",
        version=str(opportunity.version),
    )
    response = seller.post(f"/admin/opportunity/edit/?id={opportunity.id}", data)
    assert response.status_code == 302
    opportunity = fresh(db.session, Opportunity, opportunity.id)
    assert opportunity.stage.name == "Offert" and opportunity.probability == 50  # followed the stage
    page = text(seller.client.get(f"/admin/opportunity/show/{opportunity.id}"))
    history = page.split('id="opportunity-history"')[1]
    assert "Kontakt" in history and "Offert" in history and employees["seller"].name in history


def test_list_filters_by_owner_stage_and_customer(login, company, make_company, stages, employees):
    other = make_company(name="Annat Bolag AB")
    make_opportunity(company, stages["Kontakt"], title="Först", owner=employees["seller"])
    make_opportunity(other, stages["Offert"], title="Andra", owner=employees["admin"])
    client = login("readonly").client
    assert "Först" in text(client.get("/admin/opportunity/")) and "Andra" in text(client.get("/admin/opportunity/"))
    by_owner = text(client.get(f"/admin/opportunity/?flt0_0={employees['seller'].id}"))
    assert "Först" in by_owner and "Andra" not in by_owner
    by_stage = text(client.get(f"/admin/opportunity/?flt0_1={stages['Offert'].id}"))
    assert "Andra" in by_stage and "Först" not in by_stage
    by_customer = text(client.get("/admin/opportunity/?flt0_2=annat"))
    assert "Andra" in by_customer and "Först" not in by_customer
    searched = text(client.get("/admin/opportunity/?search=pipeline"))
    assert "Först" in searched and "Andra" not in searched


def test_readonly_sees_but_cannot_change(login, company, stages):
    opportunity = make_opportunity(company, stages["Kontakt"])
    readonly = login("readonly")
    assert readonly.client.get(f"/admin/opportunity/show/{opportunity.id}").status_code == 200
    assert readonly.client.get("/admin/opportunity/new/").status_code == 403
    assert readonly.post("/admin/opportunity/new/", form(company, stages["Kontakt"])).status_code == 403
    assert (
        readonly.post(
            f"/admin/opportunity/show/{opportunity.id}/activities", {"kind": "task", "subject": "Ring"}
        ).status_code
        == 403
    )
    assert count(db.session, Opportunity) == 1


def test_activity_created_from_the_opportunity_is_on_the_customer_card(login, company, stages):
    opportunity = make_opportunity(company, stages["Offert"])
    seller = login("seller")
    response = seller.post(
        f"/admin/opportunity/show/{opportunity.id}/activities",
        {"kind": "meeting", "subject": "Genomgång av offert", "due_at": "2027-01-15T10:00"},
    )
    assert response.status_code == 302
    activity = db.session.scalar(db.select(Activity))
    assert (activity.opportunity_id, activity.company_id, activity.kind) == (opportunity.id, company.id, "meeting")
    assert activity.due_at.isoformat() == "2027-01-15T09:00:00"  # 10:00 in Stockholm, stored in UTC
    assert "Genomgång av offert" in text(seller.client.get(f"/admin/opportunity/show/{opportunity.id}"))
    assert "Genomgång av offert" in text(seller.client.get(f"/admin/company/card/{company.id}/tab/activities"))

    response = seller.post(f"/admin/opportunity/show/{opportunity.id}/activities", {"kind": "task", "subject": ""})
    assert response.status_code == 200
    assert count(db.session, Activity) == 1


def test_activity_is_marked_done_and_reopened_on_the_opportunity_page(login, company, make_company, stages):
    opportunity = make_opportunity(company, stages["Offert"])
    other = make_opportunity(make_company(name="Annat AB"), stages["Offert"], title="Annan affär")
    seller = login("seller")
    seller.post(f"/admin/opportunity/show/{opportunity.id}/activities", {"kind": "task", "subject": "Skicka offert"})
    activity = db.session.scalar(db.select(Activity))
    page = text(seller.client.get(f"/admin/opportunity/show/{opportunity.id}"))
    assert f"/admin/opportunity/show/{opportunity.id}/activities/{activity.id}/done" in page
    assert sv("Mark done") in page

    done_url = f"/admin/opportunity/show/{opportunity.id}/activities/{activity.id}/done"
    assert seller.post(done_url, {"done": "1"}).status_code == 302
    assert fresh(db.session, Activity, activity.id).done is True
    assert sv("Reopen") in text(seller.client.get(f"/admin/opportunity/show/{opportunity.id}"))
    assert seller.post(done_url, {"done": "0"}).status_code == 302
    assert fresh(db.session, Activity, activity.id).done is False

    # Another opportunity's URL does not reach this activity; a reader may not change it.
    assert (
        seller.post(f"/admin/opportunity/show/{other.id}/activities/{activity.id}/done", {"done": "1"}).status_code
        == 404
    )
    assert login("readonly").post(done_url, {"done": "1"}).status_code == 403
    assert fresh(db.session, Activity, activity.id).done is False


def test_company_card_has_a_sales_opportunities_tab(login, company, stages):
    make_opportunity(company, stages["Offert"], title="Takomläggning", amount=Decimal("99000"))
    seller = login("seller").client
    card = text(seller.get(f"/admin/company/card/{company.id}"))
    assert sv("Sales opportunities") in card
    tab = text(seller.get(f"/admin/company/card/{company.id}/tab/opportunities"))
    assert "Takomläggning" in tab and "99\u00a0000,00\u00a0kr" in tab
    assert "/admin/opportunity/new/?" in tab and f"company_id={company.id}" in tab
    readonly_tab = text(login("readonly").client.get(f"/admin/company/card/{company.id}/tab/opportunities"))
    assert "Takomläggning" in readonly_tab and "/admin/opportunity/new/" not in readonly_tab


def test_sales_stages_are_managed_by_administrators(login, stages, company):
    admin = login("admin")
    response = admin.post(
        "/admin/salesstage/new/", {"name": "Demo", "sort_order": "5", "probability": "40", "active": "y"}
    )
    assert response.status_code == 302
    assert db.session.scalar(db.select(SalesStage.probability).where(SalesStage.name == "Demo")) == 40
    response = admin.post("/admin/salesstage/new/", {"name": "Fel", "sort_order": "6", "probability": "140"})
    assert response.status_code == 200 and count(db.session, SalesStage, SalesStage.name == "Fel") == 0
    assert login("seller").client.get("/admin/salesstage/").status_code == 403


def test_a_stage_in_use_is_not_deleted(login, company, stages):
    make_opportunity(company, stages["Kontakt"])
    admin = login("admin")
    response = admin.post("/admin/salesstage/delete/", {"id": str(stages["Kontakt"].id)}, follow_redirects=True)
    assert any("Kontakt" in message for _category, message in flashes(response))
    assert count(db.session, SalesStage, SalesStage.name == "Kontakt") == 1
    admin.post("/admin/salesstage/delete/", {"id": str(stages["Offert"].id)})
    assert count(db.session, SalesStage, SalesStage.name == "Offert") == 0


# --- the pipeline board (slice 3b) ---------------------------------------------------


def test_board_has_a_column_per_active_stage_and_filters_by_owner_and_group(login, company, stages, employees):
    from models import EmployeeGroup

    make_opportunity(company, stages["Kontakt"], title="Säljarens affär", owner=employees["seller"])
    make_opportunity(company, stages["Offert"], title="Chefens affär", owner=employees["admin"], amount=Decimal("1000"))
    db.session.add(EmployeeGroup(name="Säljteam Syd", kind="sales", members=[employees["seller"]]))
    db.session.commit()
    group = db.session.scalar(db.select(EmployeeGroup))
    client = login("readonly").client
    page = text(client.get("/admin/opportunity/board"))
    assert page.index("Kontakt") < page.index("Offert") < page.index("Förlorad")
    assert "Säljarens affär" in page and "Chefens affär" in page and "1\u00a0000,00\u00a0kr" in page
    assert "pipeline-move" not in page  # read-only: no moving
    by_owner = text(client.get(f"/admin/opportunity/board?owner={employees['admin'].id}"))
    assert "Chefens affär" in by_owner and "Säljarens affär" not in by_owner
    by_group = text(client.get(f"/admin/opportunity/board?group={group.id}"))
    assert "Säljarens affär" in by_group and "Chefens affär" not in by_group


def test_drag_to_another_stage_writes_the_stage_and_its_history(login, company, stages):
    opportunity = make_opportunity(company, stages["Kontakt"])
    seller = login("seller")
    response = seller.post(
        "/admin/opportunity/board/move",
        {"id": opportunity.id, "stage": stages["Offert"].id},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 200 and response.get_json()["probability"] == 50
    opportunity = fresh(db.session, Opportunity, opportunity.id)
    assert opportunity.stage.name == "Offert"
    assert [(c.field, c.old_value, c.new_value) for c in opportunity.changes if c.field == "stage"][0] == (
        "stage",
        "Kontakt",
        "Offert",
    )


def test_drag_to_lost_needs_the_reason(login, company, stages):
    opportunity = make_opportunity(company, stages["Offert"])
    seller = login("seller")
    response = seller.post(
        "/admin/opportunity/board/move",
        {"id": opportunity.id, "stage": stages["Förlorad"].id},
        headers={"X-Requested-With": "fetch"},
    )
    assert response.status_code == 400
    assert response.get_json()["message"] == sv("Give the reason the opportunity was lost.")
    assert fresh(db.session, Opportunity, opportunity.id).stage.name == "Offert"
    response = seller.post(
        "/admin/opportunity/board/move", {"id": opportunity.id, "stage": stages["Förlorad"].id, "lost_reason": "Priset"}
    )
    assert response.status_code == 302
    assert fresh(db.session, Opportunity, opportunity.id).lost_reason == "Priset"


def test_readonly_cannot_move(login, company, stages):
    opportunity = make_opportunity(company, stages["Kontakt"])
    response = login("readonly").post(
        "/admin/opportunity/board/move", {"id": opportunity.id, "stage": stages["Offert"].id}
    )
    assert response.status_code == 403
    assert fresh(db.session, Opportunity, opportunity.id).stage.name == "Kontakt"


def test_the_list_leads_to_the_board(login, stages):
    page = text(login("readonly").client.get("/admin/opportunity/"))
    assert 'href="/admin/opportunity/board"' in page and sv("Pipeline") in page


def test_a_customer_in_the_trash_takes_its_opportunities_off_the_list_and_board_until_restored(
    login, company, make_company, stages, employees
):
    from models import Company
    from services import trash

    make_opportunity(company, stages["Kontakt"], title="Papperskorgens affär")
    make_opportunity(make_company(name="Levande AB"), stages["Kontakt"], title="Levande affär")
    trash.delete(db.session, employees["admin"], Company, [company.id])
    db.session.commit()
    client = login("seller").client
    for url in ("/admin/opportunity/", "/admin/opportunity/board"):
        page = text(client.get(url))
        assert "Levande affär" in page and "Papperskorgens affär" not in page
    trash.restore(db.session, employees["admin"], Company, [company.id])
    db.session.commit()
    assert "Papperskorgens affär" in text(client.get("/admin/opportunity/board"))
