"""Egna fält (FAQ 23): the tabs and fields an administrator adds to the customer
card himself, their values, and what the Rapportgenerator needs of them.

- A custom tab is on the company card (companies and suppliers) or on the
  contact card (contacts and private customers); its fields have one of
  CustomFieldDefinition.TYPES.
- A tab or field in use is deactivated, never deleted (the rule of the sales
  stages), and a field's type cannot change once it holds values.
- A value is parsed from what the employee typed (decimal comma, YYYY-MM-DD or
  DD.MM.YYYY, Ja/Nej) into the column of its type. The whole tab is validated
  before anything is written, so one bad value saves nothing.
- Saving a tab writes one AuditEvent on the customer (its History tab) and
  bumps the customer's version, so it takes part in the card's optimistic
  locking like any other edit of the customer.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal

from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, selectinload

from models import Company, CustomFieldDefinition, CustomFieldValue, CustomTab, utcnow
from services import audit, dates, formatting, layout, money, visibility
from services.validation import InvalidValue

#: The column each type is stored in (a choice is stored as its text).
VALUE_COLUMNS = {
    "text": "value_text",
    "longtext": "value_text",
    "choice": "value_text",
    "number": "value_number",
    "date": "value_date",
    "bool": "value_bool",
}
MAX_LENGTH = {"text": 200, "longtext": 5000}
#: Decimals a number keeps (the column's scale).
NUMBER_PLACES = 4
#: Yes/no as a form posts it: "" (not answered), "1" (Ja), "0" (Nej).
YES, NO = "1", "0"
#: The card tab of a custom tab is "custom<id>"; report columns and conditions "cf<id>" (+ "_from"/"_to").
TAB_PREFIX = "custom"
REPORT_ARG = re.compile(r"cf(\d{1,9})(?:_(from|to))?")


def kind_of(customer) -> str:
    """The kind of card a customer has: "company" (also suppliers) or "contact" (also private customers)."""
    return "company" if isinstance(customer, Company) else "contact"


def owner_column(model):
    """The value column naming a customer of `model` (Company or Contact)."""
    return CustomFieldValue.company_id if model is Company else CustomFieldValue.contact_id


def value_column(definition: CustomFieldDefinition):
    return getattr(CustomFieldValue, VALUE_COLUMNS[definition.field_type])


# --- definitions (Administration – Inställningar – CRM – Egna fält) -----------------


def check_tab(session: Session, tab: CustomTab) -> None:
    """A tab has a name and a card; a tab whose fields hold values stays on its card (they belong to its customers)."""
    with session.no_autoflush:  # compare with the card as saved, not as just changed
        saved_card = tab.id and session.scalar(select(CustomTab.applies_to).where(CustomTab.id == tab.id))
        in_use = (
            bool(saved_card)
            and saved_card != tab.applies_to
            and session.execute(
                select(func.count())
                .select_from(CustomFieldValue)
                .join(CustomFieldValue.field)
                .where(CustomFieldDefinition.tab_id == tab.id)
            ).scalar_one()
            > 0
        )
    tab.name = (tab.name or "").strip()
    if not tab.name:
        raise InvalidValue(_("Give the tab a name."))
    if tab.applies_to not in CustomTab.KINDS:
        raise InvalidValue(_("Choose which card the tab is on."))
    if in_use:
        raise InvalidValue(
            _("The fields of the tab %(name)s hold values of its customers: it stays on its card.", name=tab.name)
        )


def field_in_use(session: Session, definition: CustomFieldDefinition) -> bool:
    return (
        definition.id is not None
        and session.execute(select(func.count()).where(CustomFieldValue.field_id == definition.id)).scalar_one() > 0
    )


def check_label_free(session: Session, definition: CustomFieldDefinition) -> None:
    """Two fields of a tab never share a label (the card would show both under one name; the database
    refuses it too): InvalidValue when another field of the definition's tab has it, in any case."""
    label = (definition.label or "").strip()
    tab_id = definition.tab.id if definition.tab is not None else definition.tab_id
    if not label or tab_id is None:
        return
    with session.no_autoflush:
        taken = session.scalar(
            select(func.count()).where(
                CustomFieldDefinition.tab_id == tab_id,
                func.lower(CustomFieldDefinition.label) == label.lower(),
                CustomFieldDefinition.id != definition.id if definition.id is not None else True,
            )
        )
    if taken:
        raise InvalidValue(_("The name is already used on that tab."))


def check_field(session: Session, definition: CustomFieldDefinition) -> None:
    """A field has a label, a known type, choices if it is a choice; a field in use keeps its type and card."""
    with session.no_autoflush:  # compare with the type as saved, not as just changed
        saved_type, saved_card = session.execute(
            select(CustomFieldDefinition.field_type, CustomTab.applies_to)
            .join(CustomFieldDefinition.tab)
            .where(CustomFieldDefinition.id == definition.id)
        ).one_or_none() or (None, None)
        in_use = bool(saved_type) and field_in_use(session, definition)
    definition.label = (definition.label or "").strip()
    if not definition.label:
        raise InvalidValue(_("Give the field a label."))
    check_label_free(session, definition)
    if definition.field_type not in CustomFieldDefinition.TYPES:
        raise InvalidValue(_("Choose the type of the field."))
    if definition.field_type == "choice":
        if not definition.choice_list:
            raise InvalidValue(_("A choice field needs its choices, one a line."))
        definition.choices = "\n".join(dict.fromkeys(definition.choice_list))
    if in_use and definition.tab is not None and saved_card != definition.tab.applies_to:
        raise InvalidValue(
            _(
                "The field %(name)s holds values of its customers: it stays on a tab of their card.",
                name=definition.label,
            )
        )
    if in_use and saved_type != definition.field_type:
        raise InvalidValue(
            _(
                "The field %(name)s holds values and its type cannot be changed; add a new field instead.",
                name=definition.label,
            )
        )


def delete_field(session: Session, definition: CustomFieldDefinition) -> None:
    """Delete a field no customer has a value in; a field in use can only be deactivated."""
    if field_in_use(session, definition):
        raise InvalidValue(
            _("The field %(name)s holds values and cannot be deleted; deactivate it instead.", name=definition.label)
        )
    session.delete(definition)


def delete_tab(session: Session, tab: CustomTab) -> None:
    """Delete a tab without fields; a tab with fields can only be deactivated."""
    if session.scalar(select(func.count()).where(CustomFieldDefinition.tab_id == tab.id)):
        raise InvalidValue(
            _("The tab %(name)s has fields and cannot be deleted; deactivate it instead.", name=tab.name)
        )
    session.delete(tab)


def active_tabs(session: Session, kind: str) -> list[CustomTab]:
    """The active tabs of a kind of card that have active fields, in order."""
    tabs = session.scalars(
        select(CustomTab)
        .where(CustomTab.applies_to == kind, CustomTab.active)
        .options(selectinload(CustomTab.fields))
        .order_by(CustomTab.sort_order, CustomTab.id)
    ).all()
    return [tab for tab in tabs if active_fields_of(tab)]


def active_fields_of(tab: CustomTab) -> list[CustomFieldDefinition]:
    return [f for f in tab.fields if f.active]


def active_fields(session: Session, kind: str) -> list[CustomFieldDefinition]:
    """The fields in use on a kind of card (active, on an active tab): what reports offer."""
    return [f for tab in active_tabs(session, kind) for f in active_fields_of(tab)]


def tab_key(tab: CustomTab) -> str:
    return f"{TAB_PREFIX}{tab.id}"


def card_tab_items(session: Session, group: str) -> tuple:
    """The tabs of a card (services.layout group "company_tabs" or "contact_tabs"): its own
    tabs with the active custom tabs before Inställningar and Historik, so that
    Behörigheter hides and orders them like any other tab."""
    items = layout.group_items(group)
    kind = "company" if group == "company_tabs" else "contact"
    custom = tuple(
        layout.Item(tab_key(tab), tab.name, visibility.permission(visibility.Part.CUSTOM))
        for tab in active_tabs(session, kind)
    )
    place = next((n for n, item in enumerate(items) if item.key == "settings"), len(items))
    return items[:place] + custom + items[place:]


def card_tab(session: Session, kind: str, key: str) -> CustomTab | None:
    """The active custom tab a card tab key names, or None."""
    return next((tab for tab in active_tabs(session, kind) if tab_key(tab) == key), None)


# --- values ---------------------------------------------------------------------------


#: Digits a number may have before the decimal comma (the column is NUMERIC(18, 4)).
NUMBER_DIGITS = 14


def _type_message(definition: CustomFieldDefinition) -> str:
    """What a value of the field's type looks like, for a value of another kind."""
    kind = definition.field_type
    if kind == "number":
        return _("Not a number; write for example 1 250,50.")
    if kind == "date":
        return _("Not a date; write YYYY-MM-DD or DD.MM.YYYY.")
    if kind == "bool":
        return _("Choose yes or no.")
    return _("Write the value as text.")


def _number(number: Decimal) -> Decimal:
    if not number.is_finite():
        raise InvalidValue(_("Not a number; write for example 1 250,50."))
    if -int(number.as_tuple().exponent) > NUMBER_PLACES:
        raise InvalidValue(_("At most %(places)s decimals.", places=NUMBER_PLACES))
    if abs(number) >= Decimal(10) ** NUMBER_DIGITS:
        raise InvalidValue(_("At most %(digits)s digits before the decimal comma.", digits=NUMBER_DIGITS))
    return number


def _from_json(definition: CustomFieldDefinition, raw):
    """A value given as JSON (the API), not typed: a yes/no as true/false, a number as a number, any
    field as text; a list, an object or a value of another type is refused with the type's message
    (it was stored as Python's text of it, "['a']")."""
    kind = definition.field_type
    if isinstance(raw, bool):
        if kind == "bool":
            return raw
    elif isinstance(raw, int | float | Decimal):
        if kind == "number":
            return _number(Decimal(str(raw)))
        if kind in ("text", "longtext", "choice") or (kind == "bool" and raw in (0, 1)):
            return str(raw)
    raise InvalidValue(_type_message(definition))


def parse_value(definition: CustomFieldDefinition, raw, *, current=None):
    """The value to store for what was typed (a text; from the API also a JSON number or true/false),
    None for nothing; InvalidValue with a Swedish message.

    `current` is the stored value, kept valid for a choice no longer in the list."""
    if raw is not None and not isinstance(raw, str):
        raw = _from_json(definition, raw)
        if not isinstance(raw, str):
            return raw
    text = "" if raw is None else raw.strip()
    if not text:
        return None
    kind = definition.field_type
    if kind in MAX_LENGTH:
        if len(text) > MAX_LENGTH[kind]:
            raise InvalidValue(_("At most %(max)s characters.", max=MAX_LENGTH[kind]))
        return text
    if kind == "number":
        try:
            number = money.parse(text)
        except ValueError:
            raise InvalidValue(_("Not a number; write for example 1 250,50.")) from None
        return _number(number)
    if kind == "date":
        return dates.parse_date(text)
    if kind == "bool":
        if text.lower() in (YES, "ja", "yes", "true", "on"):
            return True
        if text.lower() in (NO, "nej", "no", "false", "off"):
            return False
        raise InvalidValue(_("Choose yes or no."))
    if text not in definition.choice_list and text != current:
        raise InvalidValue(_("Choose one of the listed values."))
    return text


def plain_number(value: Decimal | None) -> Decimal | None:
    """A stored number without the column's trailing zeros (25.0000 → 25, 1250.5000 → 1250.5)."""
    if value is None:
        return None
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def display(definition: CustomFieldDefinition, value) -> str:
    """A value as the card and the reports show it, and as a form is filled with it."""
    if value is None:
        return ""
    if definition.field_type == "number":
        return formatting.number(value, min_places=2)
    if definition.field_type == "bool":
        return formatting.boolean(value)
    if definition.field_type == "date":
        return value.isoformat()
    return str(value)


def form_value(definition: CustomFieldDefinition, value) -> str:
    """A value as the card's form is filled with it: a number the way it is read back when saved
    (services.formatting.decimal_input; "1,250" in English would be read as 1.25)."""
    number = plain_number(value) if definition.field_type == "number" else None
    if number is not None:
        places = max(2, -int(number.as_tuple().exponent)) if number != number.to_integral_value() else 0
        return formatting.decimal_input(number, places, locale=str(get_locale()))
    return display(definition, value)


def _rows(session: Session, customer, fields) -> dict[int, CustomFieldValue]:
    stmt = select(CustomFieldValue).where(
        owner_column(type(customer)) == customer.id, CustomFieldValue.field_id.in_([f.id for f in fields])
    )
    return {row.field_id: row for row in session.scalars(stmt)}


def values_of(session: Session, customer, fields) -> dict[int, object]:
    """Field id → stored value of `customer` for `fields` (those without a value left out)."""
    return _stored(_rows(session, customer, fields), fields)


def _stored(rows: dict[int, CustomFieldValue], fields) -> dict[int, object]:
    return {f.id: getattr(rows[f.id], VALUE_COLUMNS[f.field_type]) for f in fields if f.id in rows}


class InvalidValues(InvalidValue):
    """Values that cannot be stored: field id → Swedish message."""

    def __init__(self, errors: dict[int, str]):
        super().__init__(_("Nothing was saved: correct the marked fields."))
        self.errors = errors


def save_tab(session: Session, customer, tab: CustomTab, data: Mapping[str, object], *, partial: bool = False) -> dict:
    """Store the values of `tab`'s active fields posted as `field-<id>`; returns the changes.

    Everything is validated first (InvalidValues names each bad field) and
    nothing is written unless all values are good.

    A required field: saving the whole tab (the card's form, which shows every field) needs a value
    in each; a `partial` save (the API's PATCH) touches only the fields in `data` and checks only
    those, so a required field is never emptied, while a customer saved before the field became
    required can still have its other values changed."""
    fields = active_fields_of(tab)
    if partial:
        fields = [f for f in fields if f"field-{f.id}" in data]
    rows = _rows(session, customer, fields)
    current = _stored(rows, fields)
    parsed, errors = {}, {}
    for definition in fields:
        try:
            value = parse_value(definition, data.get(f"field-{definition.id}"), current=current.get(definition.id))
        except InvalidValue as exc:
            errors[definition.id] = str(exc)
            continue
        if value is None and definition.required:
            errors[definition.id] = _("Fill in %(field)s.", field=definition.label)
        parsed[definition] = value
    if errors:
        raise InvalidValues(errors)
    changes = {}
    for definition, value in parsed.items():
        old = current.get(definition.id)
        if old == value:
            continue
        changes[definition.label] = [display(definition, old) or None, display(definition, value) or None]
        row = rows.get(definition.id)
        if value is None:
            session.delete(row)
            continue
        if row is None:
            row = CustomFieldValue(field_id=definition.id, **{owner_column(type(customer)).key: customer.id})
            session.add(row)
        setattr(row, VALUE_COLUMNS[definition.field_type], value)
    if changes:
        audit.record(session, customer, "update", changes)
        customer.updated_at = utcnow()  # a new version: an edit begun before this one is refused
    return changes


# --- the Rapportgenerator --------------------------------------------------------------


def report_value(definition: CustomFieldDefinition):
    """The value of `definition` on a report row (its `custom_values` loaded up front)."""
    column = VALUE_COLUMNS[definition.field_type]

    def value(row):
        found = next((getattr(v, column) for v in row.custom_values if v.field_id == definition.id), None)
        return plain_number(found) if definition.field_type == "number" else found

    return value


def sort_expression(definition: CustomFieldDefinition, model):
    """The value as a correlated SQL subquery, for ORDER BY."""
    return (
        select(value_column(definition))
        .where(CustomFieldValue.field_id == definition.id, owner_column(model) == model.id)
        .correlate(model)
        .scalar_subquery()
    )


def condition(definition: CustomFieldDefinition, model, bound: str | None, text: str):
    """The report condition on a custom field: text contains, a choice or yes/no equals,
    a number or date from (bound "from") or to (bound "to"), both inclusive."""
    value = parse_value(definition, text, current=text)
    column = value_column(definition)
    if definition.field_type in ("text", "longtext"):
        test = func.lower(column).contains(value.lower(), autoescape=True)
    elif bound == "from":
        test = column >= value
    elif bound == "to":
        test = column <= value
    else:
        test = column == value
    return model.custom_values.any(and_(CustomFieldValue.field_id == definition.id, test))
