"""Who may see or change which application: `yarn.acl.enable`, `yarn.admin.acl` and the submission's
VIEW_APP / MODIFY_APP ACLs (YARN's ApplicationACLsManager), checked for the user `auth` put on the request.
A refusal is YARN's 403 AccessControlException, logged as RMAuditLogger logs a failure."""

from __future__ import annotations

import logging
from functools import lru_cache

from fastapi import Request

from miniyarn.config import YarnConfiguration
from miniyarn.security.acls import AccessControlList, ApplicationAccessType, Policy, can_access, groups_of
from resourcemanager.errors import AccessControlError
from resourcemanager.rmstate import RMApp

ACL_ENABLE_KEY = "yarn.acl.enable"
ADMIN_ACL_KEY = "yarn.admin.acl"

audit = logging.getLogger("resourcemanager.RMAuditLogger")


def policy_from_conf(conf: YarnConfiguration) -> Policy:
    return Policy(acl_enabled=conf.get_bool(ACL_ENABLE_KEY, False),
                  admin_acl=AccessControlList.parse(conf.get_str(ADMIN_ACL_KEY, "*")))


@lru_cache(maxsize=256)
def _groups(user: str) -> tuple[str, ...]:
    return groups_of(user)  # a scan of /etc/group: cached, users' groups change rarely


def user_of(request: Request) -> str:
    return str(getattr(request.state, "user", "") or "")


class Access:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy

    def may(self, user: str, app: RMApp, access: ApplicationAccessType) -> bool:
        if not self.policy.acl_enabled or user == app.user:
            return True
        return can_access(self.policy, user, access, app.user, app.submission.am_container_spec.application_acls,
                          _groups(user))

    def require(self, request: Request, app: RMApp, access: ApplicationAccessType) -> None:
        user = user_of(request)
        if self.may(user, app, access):
            return
        audit.warning("USER=%s\tIP=%s\tOPERATION=%s\tTARGET=%s\tRESULT=FAILURE\tDESCRIPTION=Unauthorized user"
                      "\tPERMISSIONS=User doesn't have permissions to %s\tAPPID=%s", user,
                      request.client.host if request.client else "?", request.method + " " + request.url.path,
                      "RMWebService", access.value, app.app_id)
        raise AccessControlError(f"User {user} cannot perform operation {access.value} on {app.app_id}")
