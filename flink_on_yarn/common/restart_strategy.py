"""`RestartStrategies`, as PyFlink names them; they become the job's `restart-strategy.*` keys."""

from __future__ import annotations


class RestartStrategyConfiguration:
    def __init__(self, config: dict[str, str]) -> None:
        self.config = config


class RestartStrategies:
    @staticmethod
    def no_restart() -> RestartStrategyConfiguration:
        return RestartStrategyConfiguration({"restart-strategy": "none"})

    @staticmethod
    def fixed_delay_restart(restart_attempts: int, delay_between_attempts: int) -> RestartStrategyConfiguration:
        """Restart from scratch up to `restart_attempts` times, `delay_between_attempts` ms apart."""
        return RestartStrategyConfiguration({
            "restart-strategy": "fixed-delay",
            "restart-strategy.fixed-delay.attempts": str(restart_attempts),
            "restart-strategy.fixed-delay.delay": str(delay_between_attempts),
        })
