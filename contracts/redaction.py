"""Keeping tokens and passwords out of everything the kit prints or writes.

Every credential the kit holds or receives is remembered here, and
``redact`` replaces each of them in a text: replies' reprs, failure
messages, reports and command-line errors all pass through it.

A secret rarely comes back verbatim: a server echoes it lower-cased,
percent-encoded, JSON-escaped, inside Basic auth's base64, or wrapped across
lines (issue 24: transformed tokens reached ``report.md`` 86-95 times). So
``redact`` reads the text as every such spelling reads it: each ``%XX``
(either case of hex, once or twice encoded), ``\\uXXXX``, backslash escape
and HTML/XML entity decoded, whitespace and escaped line breaks dropped, case
ignored. A secret found in that reading is cut from the text where it sat,
whatever spelling it had there. Base64 is sought too, in both alphabets and
at each of the three alignments a secret can have inside a longer encoded
text (``user:password``), in the same reading but with case kept.

Finding each secret with ``str.find`` in one decoded reading keeps this
linear in the text, whatever the number of tokens a run has seen.
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
from urllib.parse import urlsplit, urlunsplit

_SECRETS: set[str] = set()
_SECRETS_LOCK = threading.Lock()
_NEEDLES: tuple[frozenset[str], tuple[list[str], list[str]]] = (frozenset(), ([], []))
_REDACTED = "<redacted>"
_MIN_LENGTH = 4

#: Whitespace or an escaped line break: a wrapped or spaced-out text may hold it anywhere.
_BLANK = r"(?:\s|\\+[nrt])"
_GAP = rf"{_BLANK}*"
_HEX = "[0-9a-fA-F]"
_PERCENT = rf"%{_GAP}(?:2{_GAP}5{_GAP})*{_HEX}{_GAP}{_HEX}"
#: One ``%XX`` escape, not read as the second encoding of another ("%25 00" is "%" and " 00").
_SINGLE_PERCENT = rf"%{_GAP}{_HEX}{_GAP}{_HEX}"
#: What stands in for an escape's first character in a reading that takes it as no escape
#: (one character for one, so positions in the text hold).
_NO_ESCAPE = "\x00"
#: How many spaced-out escapes of a text are each read as no escape: a bound on its readings.
_MAX_SPACED_ESCAPES = 16


def _spelling(percent: str) -> re.Pattern[str]:
    """The spellings that stand for something else; anything between them stands for itself."""
    return re.compile(
        rf"(?P<percent>{percent}(?:{_GAP}{percent})*)"
        rf"|(?P<unicode>\\+{_GAP}[uU]{_GAP}(?:{_HEX}{_GAP}){{3}}{_HEX})"
        rf"|(?P<entity>&{_GAP}(?:#{_GAP}(?:[0-9]{_GAP})+|#{_GAP}[xX]{_GAP}(?:{_HEX}{_GAP})+|(?i:amp|lt|gt|quot|apos));)"
        r"|(?P<blank>\\+[nrt]|\s+)"
        rf"|(?P<escaped>\\+(?!{_GAP}[uU]{_GAP}(?:{_HEX}{_GAP}){{3}}{_HEX}))"
    )


#: How a reading takes ``%``: (its spellings, one escape's pattern, whether escapes decode).
#: "decode" reads ``%25XX`` (spaced out or not) as the twice-encoded ``%XX``; "single" reads
#: each escape once, so an encoded "%" before a gap and two hex digits stays a "%"; "strict"
#: "asis" reads escapes as the characters they are
#: written with.
_PERCENT_MODES = {
    "decode": (_spelling(_PERCENT), re.compile(_PERCENT), True),
    "single": (_spelling(_SINGLE_PERCENT), re.compile(_SINGLE_PERCENT), True),
    "asis": (_spelling(_PERCENT), re.compile(_PERCENT), False),
}
_GAPS = re.compile(_GAP)
#: Escapes as the decoding reads them, and what makes one spaced out.
_ESCAPE = re.compile(
    rf"{_PERCENT}|\\+{_GAP}[uU]{_GAP}(?:{_HEX}{_GAP}){{3}}{_HEX}"
    rf"|&{_GAP}(?:#{_GAP}(?:[0-9]{_GAP})+|#{_GAP}[xX]{_GAP}(?:{_HEX}{_GAP})+);"
)
_SPACED = re.compile(r"\s|\\+[nrt]")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_URL_SAFE = str.maketrans("-_", "+/")


def url_without_credentials(url: str) -> str:
    """``url`` as reports and profiles name it: no ``user:password@`` before the host and
    no query (a ``?token=`` typed into ``--target``), so naming a target never names a secret."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def remember_secret(value: str | None) -> None:
    """Keep ``value`` out of everything ``redact`` touches from now on."""
    if value and len(value) >= _MIN_LENGTH:
        with _SECRETS_LOCK:
            _SECRETS.add(value)


def redact(text: str) -> str:
    """``text`` with every token and password the kit has seen cut out, however spelled."""
    spelled, encoded = _needles()
    if not spelled or not text:
        return text
    cuts = []
    # Every reading is searched: the text decoded once, twice..., read with "%" left as
    # it stands, and decoded escape by escape. A later reading can lose what an earlier one
    # held: "%" just before a secret of hex digits ("% 00000000") decodes with the secret's
    # first two, and an encoded "%" ending a secret ("...%25 00") reads as a twice-encoded
    # escape with the digits after it.
    for reading, starts, ends in _every_reading(text):
        folded = _fold_case(reading)
        unified = reading.translate(_URL_SAFE)
        spans = [*_find(folded, spelled), *_find(unified, encoded)]
        cuts += [(starts[first], ends[last - 1]) for first, last in spans]
    if not cuts:
        return text
    cuts.sort()
    pieces, kept = [], 0
    for start, end in cuts:
        if end <= kept:
            continue
        pieces.append(text[kept : max(start, kept)])
        pieces.append(_REDACTED)
        kept = end
    pieces.append(text[kept:])
    return "".join(pieces)


def _every_reading(text: str) -> list[tuple[str, list[int], list[int]]]:
    """Every reading ``redact`` searches (``_readings``): where the text holds no "%", written
    or spelt by an escape ("\\u0025"), they are all the first."""
    readings = _readings(text, percent="decode")
    # An escape spaced out may be two things side by side: "% 0000000%3A" is a "%" and the
    # secret, "\\U 00000000" a "\\U" and the secret. Each such escape, up to a bound, is
    # also read as no escape (its first character stands for nothing), the rest as before.
    spaced = (m for m in _ESCAPE.finditer(text) if _SPACED.search(m.group()))
    for escape in itertools.islice(spaced, _MAX_SPACED_ESCAPES):
        at = escape.start()
        readings += _readings(text[:at] + _NO_ESCAPE + text[at + 1 :], percent="decode")
    if "%" in text or any("%" in reading for reading, _, _ in readings):
        readings += _readings(text, percent="asis")
        readings += _readings(text, percent="single")
        # A "%" decoded from "%25" kept as it is: blanks read as nothing, so a later reading
        # could take it with the digits after it.
        readings += _readings(text, percent="single", again="asis")
    return readings


def _find(haystack: str, needles: list[str]) -> list[tuple[int, int]]:
    found = []
    for needle in needles:
        at = haystack.find(needle)
        while at != -1:
            found.append((at, at + len(needle)))
            at = haystack.find(needle, at + 1)
    return found


def _readings(
    text: str, *, percent: str, again: str | None = None
) -> list[tuple[str, list[int], list[int]]]:
    """``_read`` again on its own reading while it changes (a URL may carry a JSON escape):
    each reading, with where each of its characters began and ended in ``text``. The first
    reading takes ``%`` as ``percent`` says, the later ones as ``again`` says (the same by
    default)."""
    reading, starts, ends = _read(text, percent=percent)
    found = [(reading, starts, ends)]
    for _ in range(3):
        again_reading, inner_starts, inner_ends = _read(reading, percent=again or percent)
        if again_reading == reading:
            break
        reading = again_reading
        starts = [starts[at] for at in inner_starts]
        ends = [ends[at - 1] for at in inner_ends]
        found.append((reading, starts, ends))
    return found


def _read(text: str, *, percent: str = "decode") -> tuple[str, list[int], list[int]]:
    """The decoded reading of ``text``, and where each of its characters began and ended in it;
    ``percent`` says how ``%XX`` escapes are read (``_PERCENT_MODES``)."""
    spelling, piece, decode = _PERCENT_MODES[percent]
    chars: list[str] = []
    starts: list[int] = []
    ends: list[int] = []

    def plain(begin: int, end: int) -> None:
        chars.append(text[begin:end])
        starts.extend(range(begin, end))
        ends.extend(range(begin + 1, end + 1))

    position = 0
    for match in spelling.finditer(text):
        if match.start() > position:
            plain(position, match.start())
        kind = match.lastgroup
        begin, end = match.span()
        if kind == "percent" and not decode:
            for at in range(begin, end):
                if not text[at].isspace():
                    plain(at, at + 1)
        elif kind == "percent":
            for decoded, first, last in _percent_decoded(match.group(), begin, piece):
                if not decoded.isspace():
                    chars.append(decoded)
                    starts.append(first)
                    ends.append(last)
        elif kind == "unicode":
            unit = int(_GAPS.sub("", match.group())[-4:], 16)
            if 0xDC00 <= unit <= 0xDFFF and chars and "\ud800" <= chars[-1] <= "\udbff":
                # JSON spells a character past U+FFFF as two escapes: read them as one.
                high = ord(chars[-1])
                chars[-1] = chr(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))
                ends[-1] = end
            else:
                chars.append(chr(unit))
                starts.append(begin)
                ends.append(end)
        elif kind == "entity":
            chars.append(_entity(_GAPS.sub("", match.group())[1:-1]))
            starts.append(begin)
            ends.append(end)
        position = end  # blanks and the backslashes of an escape read as nothing
    if position < len(text):
        plain(position, len(text))
    return "".join(chars), starts, ends


def _percent_decoded(run: str, offset: int, piece: re.Pattern[str]):
    """Each character a run of ``%XX`` spells, with where its bytes sat; undecodable bytes as-is."""
    pieces = [(m.start(), m.end()) for m in piece.finditer(run)]
    data = bytes(int(_GAPS.sub("", run[start:end])[-2:], 16) for start, end in pieces)
    index = 0
    while index < len(data):
        lead = data[index]
        size = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        try:
            decoded = data[index : index + size].decode("utf-8")
        except UnicodeDecodeError:
            decoded, size = chr(lead), 1
        last = min(index + size, len(pieces)) - 1
        yield decoded, offset + pieces[index][0], offset + pieces[last][1]
        index += size


def _entity(name: str) -> str:
    try:
        if name[:2] in ("#x", "#X"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
    except (ValueError, OverflowError):
        return "\ufffd"
    return _ENTITIES[name.lower()]


def _fold_case(reading: str) -> str:
    folded = reading.lower()
    if len(folded) == len(reading):
        return folded
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in reading)


def _needles() -> tuple[list[str], list[str]]:
    """What to seek: each secret's reading case-folded; the base64 fragments, case kept."""
    global _NEEDLES
    with _SECRETS_LOCK:
        known = frozenset(_SECRETS)
        if _NEEDLES[0] != known:
            spelled: set[str] = set()
            encoded: set[str] = set()
            for secret in known:
                # Upper-casing may lengthen ("ß" is "SS") and lower-casing make "\\R" a line
                # break, which case-folding cannot undo, and swapping case does both at once;
                # a form-encoded space is a "+", in any case.
                cases = (secret, secret.upper(), secret.lower(), secret.swapcase())
                forms = {form for case in cases for form in (case, case.replace(" ", "+"))}
                for form in forms:
                    for reading, _, _ in _every_reading(form):
                        reading = _fold_case(reading)
                        if len(reading) >= _MIN_LENGTH:
                            spelled.add(reading)
                encoded |= _base64_fragments(secret)
            _NEEDLES = (known, (sorted(spelled), sorted(encoded)))
        return _NEEDLES[1]


def _base64_fragments(secret: str) -> set[str]:
    """The part of the secret's base64 that is the same whatever bytes surround it, per alignment."""
    data = secret.encode("utf-8")
    fragments = set()
    for offset in range(3):
        encoded = base64.b64encode(bytes(offset) + data + bytes(2)).decode("ascii")
        first = -(-8 * offset // 6)  # the first character made of the secret's bits only
        last = 8 * (offset + len(data)) // 6
        fragment = encoded[first:last]
        if len(fragment) >= _MIN_LENGTH:
            fragments.add(fragment)
    return fragments
