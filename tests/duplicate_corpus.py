"""A Swedish corpus of true and false duplicate pairs, for the duplicate scoring (services.duplicates).

Companies: (name, organisationsnummer, e-mail, phone, city). Contacts: (first name, last name,
personnummer, e-mail, phone, city, company). Each pair is written as it is met in registers kept
for years: imports, a lead converted twice, a contact typed by two sellers. The true pairs are the
same company or person spelt another way; the false pairs are different ones that look alike
(a namesake, a sister company, a chain's other shop, a family on one landline).
"""

#: Companies as the register first had them.
COMPANIES = [
    ("Svensson Bygg AB", "5560360793", "info@svenssonbygg.se", "+4681234501", "Stockholm"),
    ("Åkerlunds Måleri HB", "9696123456", "kontakt@akerlundsmaleri.se", "+4631223344", "Göteborg"),
    ("Nilsson & Söner Åkeri AB", "5561112223", "order@nilssonsoner.se", "+46406665544", "Malmö"),
    ("Café Björken AB", "5562223334", "hej@cafebjorken.se", "+4618100200", "Uppsala"),
    ("Lindqvist Konsult AB", "5563334445", "anna@lindqvistkonsult.se", "+46812121212", "Stockholm"),
    ("Berg Transport Aktiebolag", "5564445556", "info@bergtransport.se", "+46311234567", "Göteborg"),
    ("Öhrströms Rör & Värme AB", "5565556667", "info@ohrstromsror.se", "+4660112233", "Sundsvall"),
    ("Gustafssons Trädgård HB", "9697234567", "post@gustafssonstradgard.se", "+4619445566", "Örebro"),
    ("Mälardalens Elservice AB", "5566667778", "service@malardalensel.se", "+4621778899", "Västerås"),
    ("Kalmar Fisk och Skaldjur AB", "5567778889", "fisk@kalmarfisk.se", "+4648012345", "Kalmar"),
    ("Norrlands Skog Ekonomisk förening", "7696001122", "kansli@norrlandsskog.se", "+4690123456", "Umeå"),
    ("Jönköpings Bilvård AB", "5568889990", "bokning@jkpgbilvard.se", "+4636121314", "Jönköping"),
    ("Sjöberg Arkitekter AB", "5569990001", "studio@sjobergark.se", "+46855501234", "Stockholm"),
    ("Dala Trähus AB", "5560001112", "info@dalatrahus.se", "+4623112233", "Falun"),
    ("Hälsans Hus i Lund AB", "5560112233", "reception@halsanshus.se", "+4646223344", "Lund"),
    ("Ekström & Partners Revision AB", "5560223344", "revision@ekstrompartners.se", "+46822334455", "Stockholm"),
    ("Västkustens VVS AB", "5560334455", "jour@vastkustensvvs.se", "+4631998877", "Göteborg"),
    ("Bergmans Bageri HB", "9698345678", "bestall@bergmansbageri.se", "+4613334455", "Linköping"),
    ("Gotlands Turistbyrå AB", "5560445566", "info@gotlandsturist.se", "+46498123456", "Visby"),
    ("Karlssons Elektriska AB", "5560556677", "el@karlssonselektriska.se", "+4654667788", "Karlstad"),
    ("Södermalms Tandvård AB", "5560667788", "tid@sodertand.se", "+46864112233", "Stockholm"),
    ("Höglunds Städ & Fönsterputs AB", "5560778899", "stad@hoglunds.se", "+4618556677", "Uppsala"),
    ("Wallin Data Aktiebolag", "5560889900", "support@wallindata.se", "+46406654321", "Malmö"),
    ("Ängelholms Golfklubb", "8450001234", "kansli@angelholmsgk.se", "+4643112345", "Ängelholm"),
    ("Forsberg Måleri & Tapetsering AB", "5560990011", "offert@forsbergmaleri.se", "+4611223344", "Norrköping"),
    ("Blomsterhörnan i Växjö HB", "9699456789", "blommor@blomsterhornan.se", "+46470123456", "Växjö"),
    ("Östgöta Redovisning AB", "5561001122", "ekonomi@ostgotaredovisning.se", "+4613998877", "Linköping"),
    ("Lundgren Fastigheter AB", "5561112233", "uthyrning@lundgrenfast.se", "+46855667788", "Stockholm"),
    ("Strömstads Båtvarv AB", "5561223344", "varvet@stromstadsbatvarv.se", "+46526112233", "Strömstad"),
    ("Holmqvist Juridik AB", "5561334455", "byra@holmqvistjuridik.se", "+4631776655", "Göteborg"),
]


def _swap_legal_form(name: str) -> str:
    if name.endswith(" AB"):
        return name[:-3] + " Aktiebolag"
    if name.endswith(" Aktiebolag"):
        return name[:-11] + " AB"
    if name.endswith(" HB"):
        return name[:-3] + " Handelsbolag"
    return name + " AB"


def _ascii(text: str) -> str:
    return text.translate(str.maketrans("åäöÅÄÖé", "aaoAAOe"))


def _and(name: str) -> str:
    return name.replace(" & ", " och ") if " & " in name else name.replace(" och ", " & ")


def _typo(name: str) -> str:
    words = name.split()
    longest = max(range(len(words)), key=lambda i: len(words[i]))
    word = words[longest]
    words[longest] = word[:3] + word[4:]  # one letter lost
    return " ".join(words)


def _without_legal_form(name: str) -> str:
    for form in (" Aktiebolag", " AB", " HB", " Ekonomisk förening"):
        if name.endswith(form):
            return name[: -len(form)]
    return name


def company_true_pairs():
    """The same company, entered twice: (a, b, description)."""
    pairs = []
    for i, (name, org, email, phone, city) in enumerate(COMPANIES):
        base = (name, org, email, phone, city)
        pairs += [
            (base, (_swap_legal_form(name), "", "", "", city), "legal form spelt out, same city"),
            (base, (_ascii(_without_legal_form(name)), "", email, "", ""), "typed without å/ä/ö, same e-mail"),
            (base, (_without_legal_form(name) + f" i {city}", org, "", "", ""), "'i <ort>' and the same org.nr"),
            (base, (_typo(name), "", "", phone, city), "a letter lost, same phone"),
            (base, (_and(_ascii(name)), "", "", "", city), "&/och and å/ä/ö, same city"),
        ]
        if i % 3 == 0:
            pairs.append((base, ("Firma " + name.split()[0], org, "", "", ""), "another name, same org.nr"))
    return pairs


#: Different companies that look alike.
COMPANY_FALSE_PAIRS = [
    (("Svensson Bygg AB", "5560360793", "", "", "Stockholm"), ("Svensson Måleri AB", "", "", "", "Stockholm")),
    (("Svensson Bygg AB", "5560360793", "", "", ""), ("Svensson Bygg AB", "5569988776", "", "", "")),
    (("ICA Kvantum Malmborgs", "", "", "", "Lund"), ("ICA Kvantum Malmborgs", "", "", "", "Malmö")),
    (("Nordic Data AB", "", "", "", "Stockholm"), ("Nordisk Data AB", "", "", "", "Stockholm")),
    (("Berg Transport AB", "", "", "+46311234567", ""), ("Berg Bygg AB", "", "", "+46311234567", "")),
    (("Lindqvist Konsult AB", "", "", "", "Stockholm"), ("Lindgren Konsult AB", "", "", "", "Stockholm")),
    (("Café Björken AB", "", "", "", "Uppsala"), ("Café Eken AB", "", "", "", "Uppsala")),
    (("Dala Trähus AB", "5560001112", "", "", ""), ("Dala Trähus Försäljning AB", "5560001113", "", "", "")),
]


def company_false_pairs():
    """Different companies: hand-written look-alikes, sister companies, chains, and neighbours in one town."""
    pairs = [(a, b, "look-alike") for a, b in COMPANY_FALSE_PAIRS]
    for i, (name, org, email, phone, city) in enumerate(COMPANIES):
        first_word = name.split()[0]
        other = COMPANIES[(i + 7) % len(COMPANIES)]
        pairs += [
            (
                (name, org, email, phone, city),
                (f"{first_word} Holding AB", str(int(org) + 1), "", "", city),
                "sister company: own org.nr",
            ),
            ((name, "", "", "", city), (name, "", "", "", other[4]), "a chain's shop in another town")
            if other[4] != city
            else ((name, org, "", "", city), (name, str(int(org) + 7), "", "", city), "namesake, own org.nr"),
            ((name, org, email, phone, city), (other[0], "", "", "", city), "another company in the same town"),
        ]
    return pairs


#: People: first, last, personnummer, e-mail, phone, city, company.
PEOPLE = [
    ("Åsa", "Öberg", "197203154821", "asa.oberg@svenssonbygg.se", "+46701112233", "Stockholm", 1),
    ("Erik", "Johansson", "198011021234", "erik.johansson@bergtransport.se", "+46702223344", "Göteborg", 6),
    ("Maria", "Svensson", "", "maria@cafebjorken.se", "+46703334455", "Uppsala", 4),
    ("Björn", "Ängström", "", "bjorn.angstrom@malardalensel.se", "+46704445566", "Västerås", 9),
    ("Karin", "Nilsson", "196512249876", "karin@nilssonsoner.se", "+46705556677", "Malmö", 3),
    ("Göran", "Lööf", "", "goran.loof@sjobergark.se", "+46706667788", "Stockholm", 13),
    ("Sofia", "Lindqvist", "", "sofia@lindqvistkonsult.se", "+46707778899", "Stockholm", 5),
    ("Per", "Håkansson", "", "per.hakansson@dalatrahus.se", "+46708889900", "Falun", 14),
    ("Ingrid", "Sjöström", "195907301111", "ingrid@ohrstromsror.se", "+46709990011", "Sundsvall", 7),
    ("Lars", "Bergström", "", "lars.bergstrom@vastkustensvvs.se", "+46730001122", "Göteborg", 17),
    ("Eva", "Karlsson", "", "eva@karlssonselektriska.se", "+46731112233", "Karlstad", 20),
    ("Mikael", "Forsberg", "", "mikael@forsbergmaleri.se", "+46732223344", "Norrköping", 25),
    ("Helena", "Wallin", "", "helena.wallin@wallindata.se", "+46733334455", "Malmö", 23),
    ("Jörgen", "Holmqvist", "", "jorgen@holmqvistjuridik.se", "+46734445566", "Göteborg", 30),
    ("Linnéa", "Ekström", "", "linnea@ekstrompartners.se", "+46735556677", "Stockholm", 16),
    ("Anders", "Gustafsson", "", "anders@gustafssonstradgard.se", "+46736667788", "Örebro", 8),
    ("Malin", "Höglund", "", "malin@hoglunds.se", "+46737778899", "Uppsala", 22),
    ("Johan", "Strömberg", "", "johan@stromstadsbatvarv.se", "+46738889900", "Strömstad", 29),
    ("Ulla", "Bergman", "194804041234", "ulla@bergmansbageri.se", "+46739990011", "Linköping", 18),
    ("Peter", "Lundgren", "", "peter@lundgrenfast.se", "+46760001122", "Stockholm", 28),
]


def contact_true_pairs():
    """The same person, entered twice."""
    pairs = []
    for first, last, pnr, email, phone, city, company in PEOPLE:
        base = (first, last, pnr, email, phone, city, company)
        pairs += [
            (base, (_ascii(first), _ascii(last), "", "", "", "", company), "typed without å/ä/ö, same company"),
            (base, (first, last, "", email, "", "", None), "same e-mail"),
            (base, (first[0] + ".", last, "", "", phone, "", None), "initial only, same mobile"),
            (
                base,
                (first, _typo(last) if len(last) > 5 else last + "s", "", "", "", city, company),
                "typo, same company",
            ),
        ]
        if pnr:
            pairs.append((base, (first, last + "-" + "Berg", pnr, "", "", "", None), "married name, same personnummer"))
    return pairs


def contact_false_pairs():
    """Different people: namesakes in one town, a family on one landline, colleagues."""
    pairs = [
        (
            ("Anna", "Andersson", "", "", "", "Stockholm", None),
            ("Anna", "Andersson", "", "", "", "Stockholm", None),
            "namesakes in one town",
        ),
        (
            ("Lars", "Berg", "", "", "+4681234567", "Stockholm", None),
            ("Karin", "Berg", "", "", "+4681234567", "Stockholm", None),
            "a family on one landline",
        ),
        (
            ("Anna", "Andersson", "198001011234", "", "", "", None),
            ("Anna", "Andersson", "198502021234", "", "", "", None),
            "namesakes, own personnummer",
        ),
        (
            ("Björn", "Larsson", "", "bjorn.larsson@renprodukter.se", "+4690124496", "Umeå", 3),
            ("Björn", "Nilsson", "", "bjorn.nilsson@renprodukter.se", "+4690124496", "Umeå", 3),
            "colleagues with the same first name on one switchboard",
        ),
        (
            ("Lena", "Pettersson", "", "lena.pettersson@hamnkafe.se", "+4619507489", "Göteborg", 4),
            ("Linnéa", "Pettersson", "", "linnea.pettersson@hamnkafe.se", "+4619507489", "Göteborg", 4),
            "sisters at one company",
        ),
    ]
    for i, (first, last, pnr, email, phone, city, company) in enumerate(PEOPLE):
        colleague = PEOPLE[(i + 1) % len(PEOPLE)]
        pairs += [
            (
                (first, last, pnr, email, phone, city, company),
                (colleague[0], last, "", "", "", city, company),
                "a relative or colleague with the same last name at the same company",
            ),
            (
                (first, last, "", "", "", city, company),
                (first, colleague[1], "", "", "", city, company),
                "a colleague with the same first name",
            ),
            (
                (first, last, "", email, "", city, None),
                (first, last, "", "", "", "Kiruna" if city != "Kiruna" else "Lund", None),
                "a namesake in another town",
            ),
        ]
    return pairs
