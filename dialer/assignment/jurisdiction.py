"""Where a debtor is, for collectors' licences: a US state from the number's area code, else its country.

The number's area code is where it was issued, not where the debtor lives; an account
file that carries an address would be better, and none does yet.  A toll-free or
unplaceable US number gives "US" with no state, which only a licence for every state
("US") covers.
"""

from __future__ import annotations

import functools

import phonenumbers

_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA", "Kansas": "KS",
    "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD", "Massachusetts": "MA",
    "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS", "Missouri": "MO", "Montana": "MT",
    "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH", "New Jersey": "NJ", "New Mexico": "NM",
    "New York": "NY", "North Carolina": "NC", "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK",
    "Oregon": "OR", "Pennsylvania": "PA", "Rhode Island": "RI", "South Carolina": "SC",
    "South Dakota": "SD", "Tennessee": "TN", "Texas": "TX", "Utah": "UT", "Vermont": "VT",
    "Virginia": "VA", "Washington State": "WA", "Washington": "WA", "West Virginia": "WV",
    "Wisconsin": "WI", "Wyoming": "WY", "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
_CODES = frozenset(_STATES.values())


def jurisdiction(e164: str | None) -> str | None:
    """``US-NY``, ``US`` (state unknown), ``CN``…; None when the number says nothing."""
    if not e164:
        return None
    if e164.startswith("+1") and len(e164) >= 5:
        return _north_america(e164[:5])  # the area code decides; cached per area code
    return _country(e164[:4])


@functools.lru_cache(maxsize=2048)
def _north_america(prefix: str) -> str | None:
    try:
        number = phonenumbers.parse(prefix + "5550100", None)
    except phonenumbers.NumberParseException:
        return None
    region = phonenumbers.region_code_for_number(number)
    if region != "US":
        return region or None
    # Imported here: its place names take a second to load, and only runs that place debtors need them.
    from phonenumbers import geocoder

    place = geocoder.description_for_number(number, "en")
    state = place.rsplit(", ", 1)[-1] if ", " in place else _STATES.get(place)
    return f"US-{state}" if state in _CODES else "US"


@functools.lru_cache(maxsize=512)
def _country(prefix: str) -> str | None:
    for length in (2, 3, 4):  # country codes are 1–3 digits
        code = prefix[1:length]
        if code.isdigit():
            region = phonenumbers.region_code_for_country_code(int(code))
            if region and region != "ZZ":
                return region
    return None
