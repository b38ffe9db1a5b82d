"""What an operation's form in the HTML directory offers: its fields, typed.

Pure data: the directory renders a ``Field`` as the right input (a number box,
a select of the values the API accepts, a password box); the rules that judge
what is submitted stay with the operation (runtimes/model.py, auth/tokens.py).
"""

from __future__ import annotations

from dataclasses import dataclass

TEXT = "text"
NUMBER = "number"
SELECT = "select"
PASSWORD = "password"
#: A JSON object typed as text (podPlacementPolicy, customResources).
JSON = "json"


@dataclass(frozen=True)
class Field:
    """One input of an operation's form."""

    name: str
    kind: str = TEXT
    #: The values a select offers; an empty first choice means "leave it to the server".
    choices: tuple[str, ...] = ()
    required: bool = False
    #: Shown in an empty box: what the server does when the field is left out.
    placeholder: str = ""
