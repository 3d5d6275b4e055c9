"""Settings shared by the browser tests and their fixtures: the demo logins and
the two screen sizes. (A module of its own, so tests need not import conftest.)"""

#: The password of every demo employee (seed/demo.py).
DEMO_PASSWORD = "Demo-losen-2026"

#: Role key → (login e-mail, name shown in the UI) of the demo employees.
DEMO_USERS = {
    "admin": ("anna.lindqvist@example.se", "Anna Lindqvist"),
    "seller": ("erik.johansson@example.se", "Erik Johansson"),
    "seller2": ("maria.svensson@example.se", "Maria Svensson"),
    "finance": ("karin.nilsson@example.se", "Karin Nilsson"),
    "readonly": ("olof.berg@example.se", "Olof Berg"),
}

DESKTOP = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 667}
