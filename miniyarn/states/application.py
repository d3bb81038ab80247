"""RMApp: an application's states and the events that move it (YARN's RMAppImpl, simplified)."""

from __future__ import annotations

from enum import StrEnum

from miniyarn.states import StateMachine


class YarnApplicationState(StrEnum):
    NEW = "NEW"
    NEW_SAVING = "NEW_SAVING"
    SUBMITTED = "SUBMITTED"
    ACCEPTED = "ACCEPTED"
    RUNNING = "RUNNING"
    FINAL_SAVING = "FINAL_SAVING"
    FINISHING = "FINISHING"
    KILLING = "KILLING"  # killed while its AM container runs: waiting for that container to stop
    FINISHED = "FINISHED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class FinalApplicationStatus(StrEnum):
    UNDEFINED = "UNDEFINED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    KILLED = "KILLED"


class AppEvent(StrEnum):
    START = "START"  # submission received, being saved
    APP_NEW_SAVED = "APP_NEW_SAVED"
    APP_ACCEPTED = "APP_ACCEPTED"  # queue admitted it; first attempt created
    ATTEMPT_REGISTERED = "ATTEMPT_REGISTERED"
    ATTEMPT_UNREGISTERED = "ATTEMPT_UNREGISTERED"  # AM said it is done
    ATTEMPT_FAILED_RETRY = "ATTEMPT_FAILED_RETRY"  # attempt failed, another one allowed
    ATTEMPT_FAILED = "ATTEMPT_FAILED"  # attempt failed, no attempts left
    ATTEMPT_FINISHED = "ATTEMPT_FINISHED"  # AM container exited after unregistering
    APP_REJECTED = "APP_REJECTED"
    KILL = "KILL"
    ATTEMPT_KILLED = "ATTEMPT_KILLED"  # a KILLING app's AM container stopped (or never reported back)
    APP_SAVED = "APP_SAVED"  # final state stored


S = YarnApplicationState
E = AppEvent

# A kill of an app whose AM container runs goes to KILLING until that container stops; of one without it,
# straight to saving its end. Ending events go through FINAL_SAVING, whose APP_SAVED leads to the state the
# ending event was saving for (YARN's targetedFinalState): a multi-arc, the caller names the target.
_KILL = frozenset({S.KILLING, S.FINAL_SAVING})
_SAVED = frozenset({S.FINISHING, S.FINISHED, S.FAILED, S.KILLED})

APP_MACHINE: StateMachine[YarnApplicationState, AppEvent] = StateMachine(
    "RMApp",
    {
        (S.NEW, E.START): S.NEW_SAVING,
        (S.NEW, E.KILL): S.KILLED,
        (S.NEW, E.APP_REJECTED): S.FAILED,
        (S.NEW_SAVING, E.APP_NEW_SAVED): S.SUBMITTED,
        (S.NEW_SAVING, E.KILL): S.KILLED,
        (S.NEW_SAVING, E.APP_REJECTED): S.FAILED,
        (S.SUBMITTED, E.APP_ACCEPTED): S.ACCEPTED,
        (S.SUBMITTED, E.APP_REJECTED): S.FAILED,
        (S.SUBMITTED, E.KILL): S.KILLED,
        (S.ACCEPTED, E.ATTEMPT_REGISTERED): S.RUNNING,
        (S.ACCEPTED, E.ATTEMPT_FAILED_RETRY): S.ACCEPTED,
        (S.ACCEPTED, E.ATTEMPT_FAILED): S.FINAL_SAVING,
        (S.ACCEPTED, E.ATTEMPT_UNREGISTERED): S.FINAL_SAVING,
        (S.ACCEPTED, E.KILL): _KILL,
        (S.RUNNING, E.ATTEMPT_UNREGISTERED): S.FINAL_SAVING,
        (S.RUNNING, E.ATTEMPT_FAILED_RETRY): S.ACCEPTED,
        (S.RUNNING, E.ATTEMPT_FAILED): S.FINAL_SAVING,
        (S.RUNNING, E.KILL): _KILL,
        (S.FINAL_SAVING, E.APP_SAVED): _SAVED,
        (S.FINAL_SAVING, E.KILL): S.FINAL_SAVING,
        (S.FINISHING, E.ATTEMPT_FINISHED): S.FINISHED,
        # Killed after its AM unregistered, before that AM exited: ends KILLED, as it always has here
        # (YARN ignores the kill and ends FINISHED).
        (S.FINISHING, E.KILL): _KILL,
        # A KILLING app's AM may still register or unregister before its container stops: it stays KILLING.
        (S.KILLING, E.KILL): S.KILLING,
        (S.KILLING, E.ATTEMPT_REGISTERED): S.KILLING,
        (S.KILLING, E.ATTEMPT_UNREGISTERED): S.KILLING,
        (S.KILLING, E.ATTEMPT_KILLED): S.FINAL_SAVING,
        (S.FINISHED, E.KILL): S.FINISHED,
        (S.FAILED, E.KILL): S.FAILED,
        (S.KILLED, E.KILL): S.KILLED,
        (S.KILLED, E.ATTEMPT_FINISHED): S.KILLED,
        (S.FAILED, E.ATTEMPT_FINISHED): S.FAILED,
        (S.FINISHED, E.ATTEMPT_FINISHED): S.FINISHED,
    },
    frozenset({S.FINISHED, S.FAILED, S.KILLED}),
)

FINAL_STATES = APP_MACHINE.final


# What clients see: YARN's YarnApplicationState has no FINAL_SAVING, FINISHING or KILLING (RMAppState does).
CLIENT_STATES = (S.NEW, S.NEW_SAVING, S.SUBMITTED, S.ACCEPTED, S.RUNNING, S.FINISHED, S.FAILED, S.KILLED)


def client_view(state: YarnApplicationState, final: FinalApplicationStatus,
                unregistered_with: FinalApplicationStatus | None,
                before_killing: YarnApplicationState | None = None,
                ) -> tuple[YarnApplicationState, FinalApplicationStatus]:
    """(state, final status) as YARN reports them: FINISHING (the AM unregistered, its container has yet to
    exit) is FINISHED with the status the AM gave; FINAL_SAVING shows the state before it, and KILLING the
    state it was killed in (YARN's stateBeforeKilling).

    >>> client_view(S.FINISHING, FinalApplicationStatus.UNDEFINED, FinalApplicationStatus.SUCCEEDED)
    (<YarnApplicationState.FINISHED: 'FINISHED'>, <FinalApplicationStatus.SUCCEEDED: 'SUCCEEDED'>)
    """
    if state is S.KILLING:
        return client_view(before_killing or S.RUNNING, final, unregistered_with)
    if state is S.FINISHING:
        return S.FINISHED, unregistered_with or final
    if state is S.FINAL_SAVING:
        return S.RUNNING, final
    return state, final

