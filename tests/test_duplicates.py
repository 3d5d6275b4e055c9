"""services.duplicates: Swedish name normalisation, scoring on a corpus, the blocked scan, one record's check."""

import pytest

from services import duplicates
from services.duplicates import THRESHOLD, company_name_key, score
from tests import duplicate_corpus as corpus


def company_entry(ident, record):
    name, org, email, phone, city = record
    return duplicates._entry_of_row("company", (ident, name, org, email, phone, city, None))


def contact_entry(ident, record):
    first, last, pnr, email, phone, city, company = record
    entry = duplicates._entry_of_row("contact", (ident, first, last, pnr, email, phone, None, city))
    entry.companies = (company,) if company else ()
    return entry


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Svensson Bygg AB", "svensson bygg"),
        ("Svensson Bygg Aktiebolag", "svensson bygg"),
        ("Åkerlunds Måleri HB", "akerlunds maleri"),
        ("Nilsson & Söner AB i Stockholm", "nilsson och soner"),
        ("Norrlands Skog Ek. för.", "norrlands skog"),
        ("Café Björken (publ)", "cafe bjorken"),
        ("AB", "ab"),
    ],
)
def test_company_names_are_normalised_the_swedish_way(name, key):
    assert company_name_key(name) == key


def _measure(pairs, make_entry, kind):
    outcome = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    wrong = []
    for truth, rows in pairs:
        for a, b, why in rows:
            value, reasons = score(kind, make_entry(1, a), make_entry(2, b))
            predicted = value >= THRESHOLD
            outcome[("t" if predicted == truth else "f") + ("p" if predicted else "n")] += 1
            if predicted != truth:
                wrong.append((why, a[:2], b[:2], value, reasons))
    return outcome, wrong


def test_scoring_on_the_swedish_corpus_is_precise(capsys):
    company = [(True, corpus.company_true_pairs()), (False, corpus.company_false_pairs())]
    contact = [(True, corpus.contact_true_pairs()), (False, corpus.contact_false_pairs())]
    results = {
        "company": _measure(company, company_entry, "company"),
        "contact": _measure(contact, contact_entry, "contact"),
    }
    total = {k: sum(r[0][k] for r in results.values()) for k in ("tp", "fp", "fn", "tn")}
    pairs = sum(total.values())
    precision = total["tp"] / (total["tp"] + total["fp"])
    recall = total["tp"] / (total["tp"] + total["fn"])
    with capsys.disabled():
        print(
            f"\nduplicate corpus: {pairs} pairs, threshold {THRESHOLD}: precision {precision:.3f}, recall {recall:.3f}"
        )
        for kind, (counts, wrong) in results.items():
            print(f"  {kind}: {counts}")
            for miss in wrong:
                print("   ", miss)
    assert pairs >= 200
    assert precision >= 0.95
    assert recall >= 0.85


def test_different_organisation_numbers_are_never_duplicates():
    a = company_entry(1, ("Svensson Bygg AB", "5560360793", "info@svenssonbygg.se", "", "Stockholm"))
    b = company_entry(2, ("Svensson Bygg AB", "5569988776", "info@svenssonbygg.se", "", "Stockholm"))
    assert score("company", a, b) == (0, [])


def test_the_scan_finds_the_pairs_by_blocking_without_comparing_everything(monkeypatch):
    entries = [company_entry(i, c) for i, c in enumerate(corpus.COMPANIES, start=1)]
    variants = [
        company_entry(1001, ("Svensson Bygg Aktiebolag", "", "", "", "Stockholm")),
        company_entry(1002, ("Akerlunds Maleri", "", "kontakt@akerlundsmaleri.se", "", "")),
        company_entry(1003, ("Firma Lindqvist", "5563334445", "", "", "")),
        company_entry(1004, ("Bergs Transport", "", "", "+46311234567", "")),
    ]
    compared = []
    real_score = duplicates.score

    def counting(kind, a, b):
        compared.append((a.id, b.id))
        return real_score(kind, a, b)

    monkeypatch.setattr(duplicates, "score", counting)
    found = duplicates.find_pairs("company", entries + variants)
    assert set(found) == {(1, 1001), (2, 1002), (5, 1003), (6, 1004)}
    assert found[(5, 1003)][1] == ["same_org_number"]
    assert "same_phone" in found[(6, 1004)][1]
    everything = len(entries + variants) * (len(entries + variants) - 1) // 2
    assert len(compared) < everything / 10
