"""Who may do what: Hadoop's AccessControlList strings and YARN's application ACL check, pure.

An ACL string is `users groups`: comma-separated user names, a space, comma-separated group names;
`*` allows everyone, a blank string (or a single space) nobody. As in YARN, with `yarn.acl.enable` off
everyone may do everything; with it on, an application's owner and the `yarn.admin.acl` admins always
may, and others only if the application's VIEW_APP / MODIFY_APP ACL names them.

>>> acl = AccessControlList.parse("alice,bob ops")
>>> acl.allows("bob", ()), acl.allows("carol", ("ops",)), acl.allows("carol", ())
(True, True, False)
>>> can_access(Policy(acl_enabled=True, admin_acl=AccessControlList.parse("root")), "carol",
...            ApplicationAccessType.VIEW_APP, owner="alice", app_acls={"VIEW_APP": "carol"})
True
"""

from __future__ import annotations

import grp
import pwd
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class ApplicationAccessType(StrEnum):
    VIEW_APP = "VIEW_APP"
    MODIFY_APP = "MODIFY_APP"


@dataclass(frozen=True)
class AccessControlList:
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    everyone: bool = False

    @classmethod
    def parse(cls, text: str) -> AccessControlList:
        text = text.strip("\n")
        if text.strip() == "*":
            return cls(everyone=True)
        users, _, groups = text.partition(" ")
        return cls(users=frozenset(u.strip() for u in users.split(",") if u.strip()),
                   groups=frozenset(g.strip() for g in groups.split(",") if g.strip()))

    def allows(self, user: str, groups: tuple[str, ...]) -> bool:
        return self.everyone or user in self.users or any(g in self.groups for g in groups)

    def __str__(self) -> str:
        if self.everyone:
            return "*"
        return ",".join(sorted(self.users)) + (" " + ",".join(sorted(self.groups)) if self.groups else "")


def groups_of(user: str) -> tuple[str, ...]:
    """The user's Unix groups on this host (Hadoop's ShellBasedUnixGroupsMapping), () if unknown here."""
    try:
        primary = grp.getgrgid(pwd.getpwnam(user).pw_gid).gr_name
    except KeyError:
        return ()
    return (primary, *sorted(g.gr_name for g in grp.getgrall() if user in g.gr_mem and g.gr_name != primary))


@dataclass(frozen=True)
class Policy:
    """`yarn.acl.enable` and `yarn.admin.acl` (Hadoop's default admin ACL is `*`: everyone)."""

    acl_enabled: bool = False
    admin_acl: AccessControlList = field(default_factory=lambda: AccessControlList(everyone=True))

    def is_admin(self, user: str, groups: tuple[str, ...] = ()) -> bool:
        return not self.acl_enabled or self.admin_acl.allows(user, groups)


def can_access(policy: Policy, user: str, access: ApplicationAccessType, owner: str,
               app_acls: Mapping[str, str], groups: tuple[str, ...] = ()) -> bool:
    """YARN's ApplicationACLsManager.checkAccess."""
    if not policy.acl_enabled or user == owner or policy.admin_acl.allows(user, groups):
        return True
    text = app_acls.get(access.value)
    return text is not None and AccessControlList.parse(text).allows(user, groups)
