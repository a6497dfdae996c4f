"""Errors of the provider node. Each has a stable `code`, reported in results and logs.

    ProviderError
    ├── ModelLoadError      a model directory cannot be loaded            (model_unloadable)
    ├── DeviceUnavailable   --device names one torch does not see         (device_unavailable)
    ├── ModelMissing        a task names a model this node does not serve  (model_missing)
    ├── InputTooLarge       a task's input is over this node's limits      (input_too_large)
    ├── TaskMalformed       a task payload this node cannot interpret      (task_malformed)
    ├── AggregatorRefused   the aggregator answered with an error          (aggregator_refused)
    └── StakeError          a staking command cannot be carried out        (stake_refused)
"""

from __future__ import annotations


class ProviderError(Exception):
    code = "provider_error"


class ModelLoadError(ProviderError):
    code = "model_unloadable"


class DeviceUnavailable(ProviderError):
    code = "device_unavailable"


class ModelMissing(ProviderError):
    code = "model_missing"


class InputTooLarge(ProviderError):
    code = "input_too_large"


class TaskMalformed(ProviderError):
    code = "task_malformed"


class AggregatorRefused(ProviderError):
    code = "aggregator_refused"

    def __init__(self, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{status} {error_code}: {message}")
        self.status = status
        self.error_code = error_code


class StakeError(ProviderError):
    code = "stake_refused"
