"""YARN's exceptions as the RM raises them; the REST layer maps each to its status and body."""

from __future__ import annotations


class YarnError(Exception):
    status = 400
    exception = "YarnException"
    java_class = "org.apache.hadoop.yarn.exceptions.YarnException"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequestError(YarnError):
    status = 400
    exception = "BadRequestException"
    java_class = "org.apache.hadoop.yarn.webapp.BadRequestException"


class NotFoundError(YarnError):
    status = 404
    exception = "NotFoundException"
    java_class = "org.apache.hadoop.yarn.webapp.NotFoundException"


class AccessControlError(YarnError):
    status = 403
    exception = "AccessControlException"
    java_class = "org.apache.hadoop.security.AccessControlException"


class InvalidResourceRequest(BadRequestError):
    exception = "InvalidResourceRequestException"
    java_class = "org.apache.hadoop.yarn.exceptions.InvalidResourceRequestException"


class InvalidQueue(BadRequestError):
    exception = "YarnException"
    java_class = "org.apache.hadoop.yarn.exceptions.YarnException"


class AMRMError(YarnError):
    """A refused AMRM call; `exception` names YARN's class so AMs can tell the cases apart."""

    def __init__(self, exception: str, message: str) -> None:
        super().__init__(message)
        self.exception = exception
