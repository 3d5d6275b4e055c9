"""services.search: the one quick search behind lists, look-ups and people search."""

import pytest

from models import Company, Contact, Employee
from services import accounts, search, trash


@pytest.fixture(autouse=True, params=["ids first", "dense"])
def answering_path(request, monkeypatch):
    """Every test both ways services.search answers: the few matching ids from the index, then sorted;
    and, for a term matching more rows than CANDIDATE_LIMIT, the condition checked along the sort order."""
    if request.param == "dense":
        monkeypatch.setattr(search, "CANDIDATE_LIMIT", 0)
    return request.param


def names(rows) -> list[str]:
    return sorted(row.name for row in rows)


@pytest.fixture
def register(make_company, make_contact):
    """A small register with Swedish names, numbers and places."""
    companies = {
        "svea": make_company(
            name="Svea Kaffe AB",
            org_number="5560360793",
            email="info@sveakaffe.se",
            phone="+46812345678",
            postal_city="Stockholm",
        ),
        "ostgota": make_company(
            name="Östgöta Fastigheter AB",
            org_number="5567037485",
            email="kontor@ostgota.se",
            phone="+4613123456",
            postal_city="Linköping",
            visit_city="Norrköping",
        ),
        "angelholm": make_company(
            name="Ängelholms Åkeri AB", email="order@akeri.se", phone="+46431123456", postal_city="Ängelholm"
        ),
        "goteborg": make_company(name="Göteborgs Hamnkafé AB", postal_city="Göteborg", vat_number="SE556703748501"),
    }
    contacts = {
        "asa": make_contact(
            first_name="Åsa",
            last_name="Öberg",
            email="asa.oberg@example.se",
            mobile="+46701234567",
            postal_city="Malmö",
            companies=[companies["svea"]],
        ),
        "lars": make_contact(first_name="Lars", last_name="Holm", email="lars@sveakaffe.se", phone="+46812345600"),
    }
    return companies, contacts


# --- companies ----------------------------------------------------------------------


def test_search_by_part_of_the_name(session, register):
    assert names(search.search(session, Company, "kaffe")) == ["Svea Kaffe AB"]


def test_search_by_customer_number(session, register):
    companies, _ = register
    target = companies["ostgota"]
    assert [c.id for c in search.search(session, Company, str(target.customer_number))] == [target.id]


@pytest.mark.parametrize("typed", ["556036-0793", "5560360793", "556036"])
def test_search_by_org_number_with_or_without_dash(session, register, typed):
    assert names(search.search(session, Company, typed)) == ["Svea Kaffe AB"]


def test_search_by_email(session, register):
    assert names(search.search(session, Company, "kontor@ostgota.se")) == ["Östgöta Fastigheter AB"]
    assert names(search.search(session, Company, "akeri.se")) == ["Ängelholms Åkeri AB"]


@pytest.mark.parametrize("typed", ["08-123 456 78", "08-12345678", "0812345678", "+46812345678", '"08-123 456 78"'])
def test_phone_typed_the_swedish_way_matches_the_stored_e164(session, register, typed):
    assert names(search.search(session, Company, typed)) == ["Svea Kaffe AB"]


def test_phone_with_area_code_matches(session, register):
    assert names(search.search(session, Company, "013-12 34 56")) == ["Östgöta Fastigheter AB"]


def test_search_by_city_postal_or_visiting(session, register):
    assert names(search.search(session, Company, "linköping")) == ["Östgöta Fastigheter AB"]
    assert names(search.search(session, Company, "Norrköping")) == ["Östgöta Fastigheter AB"]


def test_search_by_vat_number(session, register):
    assert names(search.search(session, Company, "SE556703748501")) == ["Göteborgs Hamnkafé AB"]


@pytest.mark.parametrize(
    "typed, found",
    [
        ("östgöta", "Östgöta Fastigheter AB"),
        ("ÖSTGÖTA", "Östgöta Fastigheter AB"),
        ("ängelholms åkeri", "Ängelholms Åkeri AB"),
        ("ÄNGELHOLM", "Ängelholms Åkeri AB"),
        ("åKERI", "Ängelholms Åkeri AB"),
        ("GÖTEBORG", "Göteborgs Hamnkafé AB"),
        ("hamnkafÉ", "Göteborgs Hamnkafé AB"),
    ],
)
def test_swedish_letters_match_case_insensitively_on_every_database(session, register, typed, found):
    assert names(search.search(session, Company, typed)) == [found]


def test_every_word_must_match(session, register):
    assert names(search.search(session, Company, "svea stockholm")) == ["Svea Kaffe AB"]
    assert names(search.search(session, Company, "STOCKHOLM kaffe 5560360793")) == ["Svea Kaffe AB"]
    assert names(search.search(session, Company, "svea göteborg")) == []
    assert names(search.search(session, Company, "fastigheter linköping norrköping")) == ["Östgöta Fastigheter AB"]


def test_accents_fold_but_the_swedish_letters_stay_letters_of_their_own(session, register, make_company):
    make_company(name="Bjørn Ærø Fisk AS", postal_city="Tromsø")
    make_company(name="Müller Bäckerei GmbH")
    assert names(search.search(session, Company, "hamnkafe")) == ["Göteborgs Hamnkafé AB"]
    assert names(search.search(session, Company, "björn ärö")) == ["Bjørn Ærø Fisk AS"]
    assert names(search.search(session, Company, "TROMSÖ")) == ["Bjørn Ærø Fisk AS"]
    assert names(search.search(session, Company, "muller")) == ["Müller Bäckerei GmbH"]
    # a and o are not å, ä, ö: "goteborg" is not "Göteborg" (Östgöta's e-mail has "ostgota" as written)
    assert names(search.search(session, Company, "goteborg")) == []
    assert names(search.search(session, Company, "ostgota fastigheter")) == ["Östgöta Fastigheter AB"]
    assert names(search.search(session, Company, '"ostgota fastigheter"')) == []
    assert names(search.search(session, Company, "angelholm")) == []
    assert names(search.search(session, Company, "backerei")) == []
    assert search.fold("ÅÄÖ Éé Üü Øø Ææ") == "åäö ee uu öö ää"


@pytest.mark.parametrize(
    "typed, found",
    [
        ("s", ["Svea Kaffe AB"]),
        ("SV", ["Svea Kaffe AB"]),
        ("ö", ["Östgöta Fastigheter AB"]),
        ("Än", ["Ängelholms Åkeri AB"]),
        ("ha", ["Göteborgs Hamnkafé AB"]),  # a word of the name begins with it
        ("ka", ["Svea Kaffe AB"]),
        ("ab", ["Göteborgs Hamnkafé AB", "Svea Kaffe AB", "Ängelholms Åkeri AB", "Östgöta Fastigheter AB"]),
        ("ff", []),  # inside "Kaffe", but no word begins with it
        ("an", []),  # nor with "an" (Ä is not A)
        ("li", []),  # Linköping is a city, not a word of a name
        ("kaffe ab", ["Svea Kaffe AB"]),
        ("gö hamnkafé", ["Göteborgs Hamnkafé AB"]),
        ("gö linköping", []),
    ],
)
def test_one_or_two_characters_find_a_word_of_the_name_beginning_with_them(session, register, typed, found):
    assert names(search.search(session, Company, typed)) == found


def test_contacts_by_the_beginning_of_either_name(session, register):
    assert names(search.search(session, Contact, "ö")) == ["Åsa Öberg"]
    assert names(search.search(session, Contact, "åS")) == ["Åsa Öberg"]
    assert names(search.search(session, Contact, "ho")) == ["Lars Holm"]
    assert names(search.search(session, Contact, "la ho")) == ["Lars Holm"]
    assert names(search.search(session, Contact, "ma")) == []  # Malmö is her city, not her name


@pytest.mark.parametrize("typed", ["556036 0793", "556036-0793", "070-123 45 67", "+46 70 123 45 67", "0701234567"])
def test_numbers_typed_in_groups_are_one_number(session, register, typed):
    assert search.words(f"foo {typed}") == ["foo", typed]
    found = search.search(session, Contact if typed.startswith(("0", "+")) else Company, typed)
    assert len(found) == 1


def test_words_keep_text_and_numbers_apart():
    assert search.words("Kaffe 123 45 AB") == ["Kaffe", "123 45", "AB"]
    assert search.words('"08-123 456 78" svea') == ["08-123 456 78", "svea"]
    assert search.words("  ") == []


def test_a_quoted_phrase_is_one_word(session, register):
    assert search.words('"Svea Kaffe" AB') == ["Svea Kaffe", "AB"]
    assert names(search.search(session, Company, '"kaffe ab"')) == ["Svea Kaffe AB"]
    assert names(search.search(session, Company, '"ab svea"')) == []


def test_like_wildcards_and_quotes_are_taken_literally(session, register, make_company):
    make_company(name="100% Ekologiskt AB")
    make_company(name='Bar "Kvarnen" HB')
    make_company(name="%Procent AB")
    assert names(search.search(session, Company, "100%")) == ["100% Ekologiskt AB"]
    assert names(search.search(session, Company, '"0% eko"')) == ["100% Ekologiskt AB"]
    assert names(search.search(session, Company, "%")) == ["%Procent AB"]  # a name beginning with it
    assert names(search.search(session, Company, "_")) == []
    assert names(search.search(session, Company, "e_o")) == []
    assert names(search.search(session, Company, '"kvarnen"')) == ['Bar "Kvarnen" HB']
    assert names(search.search(session, Company, 'r "kva')) == []  # an unclosed quote is no error


def test_empty_search_lists_everything_live(session, register):
    assert len(search.search(session, Company, "")) == 4
    assert len(search.search(session, Company, None)) == 4


def test_no_match(session, register):
    assert search.search(session, Company, "finnsinte") == []


def test_companies_in_the_trash_are_not_found(session, employees, register):
    companies, _ = register
    trash.delete(session, employees["admin"], Company, [companies["svea"].id])
    session.commit()
    assert search.search(session, Company, "kaffe") == []
    assert search.search(session, Company, "5560360793") == []
    # one- and two-character words (an OR of name columns and word starts) keep the trash out too
    assert search.search(session, Company, "sv") == []
    assert companies["svea"] not in search.search(session, Company, "ab")
    assert search.search(session, Company, "kaffe ab") == []


def test_extra_condition_and_limit(session, register):
    companies, _ = register
    rows = search.search(session, Company, "+46", extra=Company.postal_city == "Linköping")
    assert [c.id for c in rows] == [companies["ostgota"].id]
    assert len(search.search(session, Company, "+46")) == 3
    assert len(search.search(session, Company, "+46", limit=2)) == 2


# --- contacts and people -----------------------------------------------------------


def test_contacts_by_name_email_phone_and_city(session, register):
    assert names(search.search(session, Contact, "åsa öberg")) == ["Åsa Öberg"]
    assert names(search.search(session, Contact, "ÅSA")) == ["Åsa Öberg"]
    assert names(search.search(session, Contact, "lars@sveakaffe.se")) == ["Lars Holm"]
    assert names(search.search(session, Contact, "070-123 45 67")) == ["Åsa Öberg"]
    assert names(search.search(session, Contact, "malmö")) == ["Åsa Öberg"]


def test_contact_in_the_trash_is_not_found(session, employees, register):
    _, contacts = register
    trash.delete(session, employees["seller"], Contact, [contacts["asa"].id])
    session.commit()
    assert search.search(session, Contact, "åsa") == []
    assert all(p["obj"].id != contacts["asa"].id for p in search.people(session, "åsa"))


def test_people_mixes_contacts_and_employees_with_their_kind(session, register):
    accounts.create_employee(session, email="lars.berg@example.se", name="Lars Berg", role="seller", password=None)
    session.commit()
    people = search.people(session, "lars")
    assert [(p["kind"], p["name"]) for p in people] == [("employee", "Lars Berg"), ("contact", "Lars Holm")]
    employee_row = people[0]
    assert isinstance(employee_row["obj"], Employee)
    assert employee_row["email"] == "lars.berg@example.se"
    contact_row = people[1]
    assert isinstance(contact_row["obj"], Contact)
    assert contact_row["phone"] == "+46812345600"


def test_people_shows_the_mobile_when_there_is_no_phone(session, register):
    [row] = search.people(session, "öberg")
    assert (row["kind"], row["phone"]) == ("contact", "+46701234567")


def test_people_finds_employees_by_email(session, employees):
    rows = search.people(session, "seller@example.se")
    assert [(r["kind"], r["name"]) for r in rows] == [("employee", "Test Seller")]


def test_people_limit(session, make_contact, employees):
    for _ in range(5):
        make_contact(last_name="Testsson")
    assert len(search.people(session, "test", limit=3)) == 3
    assert len(search.people(session, "test")) == 5 + len(employees)


def test_opportunities_and_leads_are_searched_by_the_same_service(session, make_company):
    from models import Lead, Opportunity, SalesStage

    stage = SalesStage(name="Offert", sort_order=3, probability=50)
    company = make_company(name="Sökbolaget Åre AB")
    session.add_all(
        [
            stage,
            Opportunity(title="Nytt tak", company=company, stage=stage),
            Lead(company_name="Fjällstugan Björk AB", contact_first_name="Åsa", contact_last_name="Ek", status="new"),
        ]
    )
    session.commit()
    assert [o.title for o in search.search(session, Opportunity, "åre")] == ["Nytt tak"]  # by its customer
    assert [o.title for o in search.search(session, Opportunity, "tak")] == ["Nytt tak"]
    assert [lead.company_name for lead in search.search(session, Lead, "åsa ek")] == ["Fjällstugan Björk AB"]
