"""Portal's account lockout policy, as data.

[doc] ArcGIS Server's built-in store locks an account after five consecutive
failed sign-ins within 15 minutes, for 15 minutes
(https://enterprise.arcgis.com/en/server/latest/administer/windows/user-account-lockout-policy.htm).
[capture] Portal users report the same: five wrong passwords lock the account
for 15 minutes, and since 11.1 an administrator can change both numbers
(community.esri.com idea "Lockout lasts for 15 minutes, Add Unlock Function").
So the emulator locks by default with those numbers (``Settings.lockout``;
``nbmock serve --lockout-attempts``, 0 turns it off).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LockoutPolicy:
    attempts: int = 5
    window_minutes: float = 15
    lock_minutes: float = 15


#: [doc][capture] see the module's docstring.
PORTAL_LOCKOUT = LockoutPolicy()
