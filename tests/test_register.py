"""services.register: duplicate organisationsnummer, linking and unlinking contacts."""

from sqlalchemy import select

from models import AuditEvent, Contact
from services import register, trash
from tests.helpers import links_of

# --- duplicate organisationsnummer ------------------------------------------------------


def test_no_duplicate_for_a_new_or_empty_org_number(session, make_company):
    make_company(org_number="5560360793")
    assert register.company_with_org_number(session, "5567037485") is None
    assert register.company_with_org_number(session, None) is None
    assert register.company_with_org_number(session, "") is None


def test_live_company_with_the_org_number_is_found(session, make_company):
    existing = make_company(org_number="5560360793")
    assert register.company_with_org_number(session, "5560360793") == existing


def test_company_in_the_trash_is_found_too(session, employees, make_company):
    existing = make_company(org_number="5560360793")
    trash.delete(session, employees["admin"], type(existing), [existing.id])
    session.commit()
    found = register.company_with_org_number(session, "5560360793")
    assert found == existing and found.is_deleted


def test_the_live_company_is_preferred_over_one_in_the_trash(session, employees, make_company):
    deleted = make_company(name="Raderad AB", org_number="5560360793")
    trash.delete(session, employees["admin"], type(deleted), [deleted.id])
    session.commit()
    live = make_company(name="Levande AB", org_number="5560360793")
    assert register.company_with_org_number(session, "5560360793") == live


def test_the_company_being_edited_is_not_its_own_duplicate(session, make_company):
    company = make_company(org_number="5560360793")
    assert register.company_with_org_number(session, "5560360793", exclude_id=company.id) is None
    other = make_company(org_number="5560360793")
    assert register.company_with_org_number(session, "5560360793", exclude_id=company.id) == other


def test_a_company_merged_into_another_has_no_org_number_to_the_rule(session, employees, make_company):
    from services import merge

    kept = make_company(name="Behållen AB", org_number="5567037485")
    merged = make_company(name="Sammanslagen AB", org_number="5560360793")
    merge.merge(
        session, employees["admin"], "company", kept.id, merged.id, {"org_number": merge.KEEP, "name": merge.KEEP}
    )
    session.commit()
    assert register.company_with_org_number(session, "5560360793") is None
    assert register.org_number_holders(session, ["5560360793", "5567037485"]) == {
        "5567037485": [register.Holder(kept.id, "Behållen AB", kept.customer_number, False)]
    }
    trash.restore(session, employees["admin"], type(merged), [merged.id])  # restored, it is live and counted
    session.commit()
    assert register.company_with_org_number(session, "5560360793") == merged


def test_the_rule_is_checked_when_the_number_is_set_or_changed_not_when_kept(session, make_company):
    first = make_company(org_number="5560360793")
    second = make_company(org_number="5560360793")  # a duplicate from before the rule
    assert register.org_number_taken(session, "5560360793", company_id=second.id, current="5560360793") is None
    assert register.org_number_taken(session, "5560360793", company_id=second.id, current="5567037485") == first
    assert register.org_number_taken(session, "5560360793") == first  # a new company
    assert register.org_number_taken(session, None, current="5560360793") is None


# --- link_contacts ------------------------------------------------------------------------


def test_link_several_contacts_with_a_role(session, make_company, make_contact):
    company = make_company()
    a, b, c = make_contact(), make_contact(), make_contact()
    added = register.link_contacts(session, company, [a, b, c], role="Styrelseledamot")
    session.commit()
    assert added == [a, b, c]
    assert links_of(session, company) == {a.id: "Styrelseledamot", b.id: "Styrelseledamot", c.id: "Styrelseledamot"}
    session.expire_all()
    assert {x.id for x in company.contacts} == {a.id, b.id, c.id}
    assert [co.id for co in session.get(Contact, a.id).companies] == [company.id]


def test_link_contacts_is_idempotent_and_keeps_the_first_role(session, make_company, make_contact):
    company = make_company()
    a, b = make_contact(), make_contact()
    register.link_contacts(session, company, [a], role="VD")
    session.commit()
    added = register.link_contacts(session, company, [a, b, a], role="Ekonom")
    session.commit()
    assert added == [b]
    assert links_of(session, company) == {a.id: "VD", b.id: "Ekonom"}
    assert register.link_contacts(session, company, [a, b]) == []
    session.commit()
    links = session.scalars(select(AuditEvent).where(AuditEvent.action == "link")).all()
    assert len(links) == 2  # one event per new link, none for the repeats


def test_link_without_role(session, make_company, make_contact):
    company = make_company()
    a = make_contact()
    register.link_contacts(session, company, [a])
    session.commit()
    assert links_of(session, company) == {a.id: None}


def test_link_skips_contacts_in_the_trash(session, employees, make_company, make_contact):
    company = make_company()
    live, deleted = make_contact(), make_contact()
    trash.delete(session, employees["admin"], Contact, [deleted.id])
    session.commit()
    assert register.link_contacts(session, company, [deleted, live]) == [live]
    session.commit()
    assert links_of(session, company) == {live.id: None}


def test_a_contact_can_belong_to_several_companies(session, make_company, make_contact):
    first, second = make_company(name="Första AB"), make_company(name="Andra AB")
    person = make_contact()
    register.link_contacts(session, first, [person], role="VD")
    register.link_contacts(session, second, [person], role="Styrelseordförande")
    session.commit()
    session.expire_all()
    assert sorted(c.name for c in session.get(Contact, person.id).companies) == ["Andra AB", "Första AB"]


# --- unlink -------------------------------------------------------------------------------


def test_unlink_removes_only_the_link(session, make_company, make_contact):
    company = make_company()
    other = make_company()
    person = make_contact(companies=[company, other], role="VD")
    assert register.unlink_contact(session, company, person) is True
    session.commit()
    assert links_of(session, company) == {}
    assert links_of(session, other) == {person.id: "VD"}
    assert session.get(Contact, person.id) is not None
    assert not session.get(Contact, person.id).is_deleted


def test_unlink_of_a_contact_that_is_not_linked_does_nothing(session, make_company, make_contact):
    company = make_company()
    person = make_contact()
    assert register.unlink_contact(session, company, person) is False
    session.commit()
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "unlink")).all() == []


def test_relink_after_unlink(session, make_company, make_contact):
    company = make_company()
    person = make_contact(companies=[company], role="VD")
    register.unlink_contact(session, company, person)
    session.commit()
    session.expire_all()
    assert register.link_contacts(session, company, [person], role="Konsult") == [person]
    session.commit()
    assert links_of(session, company) == {person.id: "Konsult"}


def test_a_link_is_in_the_contact_s_own_history_and_register_extract(
    session, employees, login, make_company, make_contact
):
    """Linking and unlinking were only in the company's history: the contact's Historik, register extract and
    erasure did not know them. Now each is in both."""
    from services import privacy
    from tests.helpers import sv, text

    company = make_company(name="Norrlands Bygg AB")
    person = make_contact(first_name="Åsa", last_name="Öberg")
    register.link_contacts(session, company, [person], "VD")
    session.commit()
    register.unlink_contact(session, company, person)
    session.commit()
    own = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "contact", AuditEvent.entity_id == person.id)
        .order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.changes) for e in own if e.action.endswith(("_to", "_from"))] == [
        ("linked_to", {"company": [None, "Norrlands Bygg AB"], "role": "VD"}),
        ("unlinked_from", {"company": ["Norrlands Bygg AB", None]}),
    ]
    history = text(login("admin").client.get(f"/admin/contact/card/{person.id}/tab/history"))
    assert sv("Linked to a company") in history and sv("Unlinked from a company") in history
    assert "Norrlands Bygg AB" in history
    register.link_contacts(session, company, [person], "VD")
    session.commit()
    on_the_company = text(login("admin").client.get(f"/admin/company/card/{company.id}/tab/history"))
    assert on_the_company.count(sv("Contact linked")) == 2 and sv("Linked to a company") not in on_the_company
    document = privacy.extract(session, employees["admin"], privacy.find_subject(session, "contact", person.id))
    extracted = next(place for place in document["places"] if place["key"] == "history")["rows"]
    assert [row["action"] for row in extracted if row["action"].endswith(("_to", "_from"))] == [
        "linked_to",
        "unlinked_from",
        "linked_to",
    ]
