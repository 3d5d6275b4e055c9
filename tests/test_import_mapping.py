"""Column mapping: headers matched to fields, editable, saved and reused."""

import pytest

from services.importing import jobs
from services.importing.fields import COMPANY, CONTACT, LEAD, PRIVATE_CUSTOMER, normalise_header
from tests.helpers import sv


def test_headers_are_normalised_for_matching():
    assert normalise_header(" Org.nr ") == "orgnr"
    assert normalise_header("Företagsnamn") == "foretagsnamn"
    assert normalise_header("E-post") == "epost"


def test_swedish_headers_are_matched():
    headers = [
        "Företagsnamn",
        "Org.nr",
        "Postnummer",
        "Ort",
        "Kundansvarig",
        "Kategori",
        "Bransch",
        "Leverantör",
        "Fakturaadress",
        "Rabatt %",
        "Betalningsvillkor",
        "Okänd kolumn",
    ]
    assert COMPANY.auto_map(headers) == {
        "0": "name",
        "1": "org_number",
        "2": "postal_postcode",
        "3": "postal_city",
        "4": "owner",
        "5": "categories",
        "6": "industry",
        "7": "is_supplier",
        "8": "invoice_street",
        "9": "discount_percent",
        "10": "payment_terms_days",
    }


def test_english_headers_and_field_labels_are_matched():
    assert COMPANY.auto_map(["Company name", "Organisation number", "Zip code", "City", "Email", "Website"]) == {
        "0": "name",
        "1": "org_number",
        "2": "postal_postcode",
        "3": "postal_city",
        "4": "email",
        "5": "website",
    }
    assert CONTACT.auto_map(["First name", "Last name", "E-mail", "Mobil", "Företagets orgnr"]) == {
        "0": "first_name",
        "1": "last_name",
        "2": "email",
        "3": "mobile",
        "4": "company_org_number",
    }
    assert PRIVATE_CUSTOMER.auto_map(["Personnummer", "Kundnummer"]) == {"0": "personal_number", "1": "customer_number"}
    assert LEAD.auto_map(["Företag", "Källa", "Leadstatus"]) == {"0": "company_name", "1": "source", "2": "status"}


def test_first_column_wins_when_two_mean_the_same_field():
    assert COMPANY.auto_map(["Namn", "Företagsnamn"]) == {"0": "name"}


def test_saved_mapping_is_applied_by_header_name():
    saved = {"Kundens namn": "name", "Organisationsnr": "org_number", "Borttaget fält": "nonexistent"}
    assert COMPANY.apply_saved(["Organisationsnr", "Övrigt", "kundens NAMN"], saved) == {"0": "org_number", "2": "name"}


@pytest.fixture
def job(session, employees, tmp_path, app):
    import io

    from services import storage as storage_module

    storage = storage_module.from_config(app.config)
    data = "Kundens namn;Organisationsnr;Övrigt\nAlfa AB;556036-0793;x\n".encode()
    created = jobs.create_job(
        session,
        storage,
        entity="company",
        filename="f.csv",
        stream=io.BytesIO(data),
        actor=employees["admin"],
        max_bytes=10**6,
    )
    session.commit()
    return created


def test_the_user_edits_the_mapping_and_saves_it_for_the_next_file(session, job, employees):
    headers = ["Kundens namn", "Organisationsnr", "Övrigt"]
    assert job.mapping == {}
    assert jobs.unmapped_columns(job, headers) == headers
    jobs.configure(
        session,
        job,
        actor=job.created_by,
        mapping={"0": "name", "1": "org_number", "2": ""},
        mode="upsert",
        match_key="org_number",
        all_or_nothing=True,
        headers=headers,
    )
    saved = jobs.save_mapping(session, job, "Från gamla systemet", headers, employees["admin"])
    session.commit()
    assert saved.mapping == {"Kundens namn": "name", "Organisationsnr": "org_number"}
    assert (job.mode, job.match_key, job.all_or_nothing) == ("upsert", "org_number", True)
    assert jobs.unmapped_columns(job, headers) == ["Övrigt"]
    job.mapping = {}
    jobs.apply_mapping(job, saved, headers)
    assert job.mapping == {"0": "name", "1": "org_number"}
    again = jobs.save_mapping(session, job, "Från gamla systemet", headers, employees["admin"])
    assert again.id == saved.id and len(jobs.mappings_for(session, "company")) == 1


def test_a_mapping_saved_for_another_kind_of_import_is_refused(session, job, employees):
    from models import ImportMapping

    headers = ["Kundens namn", "Organisationsnr", "Övrigt"]
    jobs.configure(
        session,
        job,
        actor=job.created_by,
        mapping={"0": "name"},
        mode="create",
        match_key="org_number",
        all_or_nothing=False,
        headers=headers,
    )
    contacts = ImportMapping(
        name="Kontakter",
        entity="contact",
        mapping={"Organisationsnr": "company_org_number", "Kundens namn": "first_name"},
    )
    session.add(contacts)
    session.flush()
    with pytest.raises(jobs.ImportProblem) as refused:
        jobs.apply_mapping(job, contacts, headers)
    assert str(refused.value) == sv(
        "The saved column mapping %(name)s is for another kind of import.", name="Kontakter"
    )
    assert job.mapping == {"0": "name"}


@pytest.mark.parametrize(
    "mapping, mode, key",
    [
        ({"0": "name", "1": "name"}, "create", "org_number"),
        ({"0": "no_such_field"}, "create", "org_number"),
        ({"7": "name"}, "create", "org_number"),
        ({"0": "name"}, "sometimes", "org_number"),
        ({"0": "name"}, "create", "personal_number"),
    ],
)
def test_invalid_mappings_are_refused(session, job, mapping, mode, key):
    with pytest.raises(jobs.ImportProblem):
        jobs.configure(
            session,
            job,
            actor=job.created_by,
            mapping=mapping,
            mode=mode,
            match_key=key,
            all_or_nothing=False,
            headers=["Kundens namn", "Organisationsnr", "Övrigt"],
        )


def test_an_importer_who_may_not_see_invoice_settings_cannot_set_them(session, employees, app, login):
    """An employee with import.run but without the Inställningar tab (tab.settings): the file's
    Rabatt and Valuta columns are not mapped at upload, not offered on the mapping page, and a
    mapping posted for them anyway is refused, so no customer's invoice settings change."""
    import io

    from services import permissions
    from services import storage as storage_module

    seller = employees["seller"]
    permissions.set_overrides(employees["admin"], seller, grant={"import.run"}, revoke={"tab.settings"})
    session.commit()
    headers = ["Företagsnamn", "Rabatt", "Valuta"]
    data = ";".join(headers) + "\nAlfa AB;50;EUR\n"
    job = jobs.create_job(
        session,
        storage_module.from_config(app.config),
        entity="company",
        filename="rabatt.csv",
        stream=io.BytesIO(data.encode()),
        actor=seller,
        max_bytes=10**6,
    )
    session.commit()
    assert job.mapping == {"0": "name"}  # an administrator's upload maps all three (below)
    page = login("seller").client.get(f"/admin/import/job/{job.id}/mapping").get_data(as_text=True)
    assert 'value="name"' in page and 'value="discount_percent"' not in page and 'value="currency"' not in page
    with pytest.raises(jobs.ImportProblem) as refused:
        jobs.configure(
            session,
            job,
            actor=seller,
            mapping={"0": "name", "1": "discount_percent"},
            mode="create",
            match_key="org_number",
            all_or_nothing=False,
            headers=headers,
        )
    assert str(refused.value) == sv(
        "You may not set %(field)s: it belongs to the customers' invoice settings.", field=sv("Discount %")
    )
    admin_job = jobs.create_job(
        session,
        storage_module.from_config(app.config),
        entity="company",
        filename="rabatt.csv",
        stream=io.BytesIO(data.encode()),
        actor=employees["admin"],
        max_bytes=10**6,
    )
    assert admin_job.mapping == {"0": "name", "1": "discount_percent", "2": "currency"}
