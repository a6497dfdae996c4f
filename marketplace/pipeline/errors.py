"""Errors of pipelined models. Each has a stable `code`; stage servers answer with it.

    PipelineError
    ├── FragmentError            a fragment or manifest cannot be used               (fragment_invalid)
    │   └── FragmentCorrupt      bytes whose sha256 is not the one named              (fragment_corrupt)
    ├── ActivationMalformed      activation bytes of the wrong size or shape          (activation_malformed)
    ├── SessionError             a stage session cannot take this step
    │   ├── SessionUnknown       no such session (never opened, closed or expired)    (session_unknown)
    │   ├── SessionOutOfOrder    a step number other than the next one               (step_out_of_order)
    │   └── SessionTooLong       past the length the session was opened with          (session_too_long)
    ├── StageFull                the node holds as many sessions as it can            (stage_full)
    ├── StageUnavailable         no holder of a span answered                         (stage_unavailable)
    └── ReceiptInvalid           a step receipt that does not verify or match         (receipt_invalid)
"""

from __future__ import annotations


class PipelineError(Exception):
    code = "pipeline_error"


class FragmentError(PipelineError):
    code = "fragment_invalid"


class FragmentCorrupt(FragmentError):
    code = "fragment_corrupt"


class ActivationMalformed(PipelineError):
    code = "activation_malformed"


class SessionError(PipelineError):
    code = "session_invalid"


class SessionUnknown(SessionError):
    code = "session_unknown"


class SessionOutOfOrder(SessionError):
    code = "step_out_of_order"


class SessionTooLong(SessionError):
    code = "session_too_long"


class StageFull(PipelineError):
    code = "stage_full"


class StageUnavailable(PipelineError):
    code = "stage_unavailable"


class ReceiptInvalid(PipelineError):
    code = "receipt_invalid"
