"""A stage's sessions: each keeps its span's KV cache between steps; idle ones expire; a full stage refuses.

Steps are numbered from 0 and taken in order. A step sent again (its answer was lost on the way) is answered
again from the last answer, not recomputed: the cache has already moved past it.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from solders.keypair import Keypair

from marketplace.pipeline import activations
from marketplace.pipeline.errors import SessionOutOfOrder, SessionTooLong, SessionUnknown, StageFull
from marketplace.pipeline.receipts import StepReceipt, receipts_root, sign_step
from provider.pipeline.spans import SpanModel

DEFAULT_IDLE_TIMEOUT = 120.0  # seconds without a step before a session's cache is dropped
FINISHED_KEPT = 4096  # closed sessions whose receipts' root is kept for a commitment asked later


@dataclass
class Session:
    id: str
    max_length: int
    cache: object
    last_used: float
    length: int = 0  # tokens in the cache
    next_step: int = 0
    last_answer: tuple[bytes, bytes, StepReceipt] | None = None  # (input sha256, output, receipt) of the last step
    receipts: list[StepReceipt] = field(default_factory=list)


@dataclass(frozen=True)
class StepAnswer:
    output: bytes
    receipt: StepReceipt
    length: int  # tokens in the session after this step


class StageSessions:
    def __init__(self, span: SpanModel, keypair: Keypair, max_sessions: int = 8,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT, now: Callable[[], float] = time.monotonic) -> None:
        self.span, self.keypair = span, keypair
        self.max_sessions, self.idle_timeout, self._now = max_sessions, idle_timeout, now
        self._sessions: dict[str, Session] = {}
        self._finished: OrderedDict[str, bytes] = OrderedDict()  # closed session -> its receipts' root
        config = span.config
        self.max_positions = int(getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048))

    def __len__(self) -> int:
        return len(self._sessions)

    def expire(self) -> int:
        """Closes sessions idle past the timeout (their receipts' roots are kept, as at any close)."""
        cutoff = self._now() - self.idle_timeout
        idle = [key for key, session in self._sessions.items() if session.last_used < cutoff]
        for key in idle:
            self.close(key)
        return len(idle)

    def open(self, max_length: int) -> Session:
        self.expire()
        if not 1 <= max_length <= self.max_positions:
            raise SessionTooLong(f"max_length must be 1-{self.max_positions} tokens (the model's positions), not {max_length}")
        if len(self._sessions) >= self.max_sessions:
            raise StageFull(f"this stage holds {len(self._sessions)} sessions, its limit; try another holder of "
                            f"layers {self.span.span}")
        session = Session(secrets.token_hex(16), max_length, self.span.new_cache(), self._now())
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session:
        session = self._sessions.get(session_id)
        if session is None:
            raise SessionUnknown(f"no session {session_id} on this stage (never opened, closed, or idle past "
                                 f"{self.idle_timeout:.0f} s)")
        return session

    def close(self, session_id: str) -> None:
        """Frees the session's cache; its receipts' root is kept, for the commitment the market may ask for."""
        session = self.get(session_id)
        del self._sessions[session_id]
        if session.receipts:
            self._finished[session_id] = receipts_root(session.receipts)
            while len(self._finished) > FINISHED_KEPT:
                self._finished.popitem(last=False)

    def step(self, session_id: str, step: int, data: bytes) -> StepAnswer:
        """Runs the span on `data` (the new tokens' hidden states) and signs a receipt for the answer."""
        session = self.get(session_id)
        input_sha = activations.sha256(data)
        if step == session.next_step - 1 and session.last_answer and session.last_answer[0] == input_sha:
            _, output, receipt = session.last_answer
            return StepAnswer(output, receipt, session.length)
        if step != session.next_step:
            raise SessionOutOfOrder(f"session {session_id} expects step {session.next_step}, not {step}")
        hidden = activations.decode(data, self.span.hidden_size)
        if session.length + hidden.shape[1] > session.max_length:
            raise SessionTooLong(f"{session.length} + {hidden.shape[1]} tokens exceed the session's {session.max_length}")
        output = activations.encode(self.span.forward(hidden, session.length, session.cache))
        receipt = sign_step(self.keypair, self.span.manifest.digest, session_id, step, self.span.span, input_sha,
                            activations.sha256(output))
        session.length += hidden.shape[1]
        session.next_step += 1
        session.last_used = self._now()
        session.last_answer = (input_sha, output, receipt)
        session.receipts.append(receipt)
        return StepAnswer(output, receipt, session.length)

    def receipts_root(self, session_id: str) -> bytes:
        """What this stage commits for the session: the Merkle root of its receipts."""
        if session_id in self._finished:
            return self._finished[session_id]
        session = self.get(session_id)
        if not session.receipts:
            raise SessionUnknown(f"session {session_id} has taken no step: nothing to commit")
        return receipts_root(session.receipts)

    def recompute(self, data: bytes) -> bytes:
        """The span's output for a whole recorded sequence in one prefill from position 0 (a check, no session)."""
        hidden = activations.decode(data, self.span.hidden_size)
        return activations.encode(self.span.forward(hidden, 0))

    def trace(self, data: bytes) -> list[bytes]:
        """Every layer's output for a recorded sequence: what a referee compares to name the first divergent layer."""
        hidden = activations.decode(data, self.span.hidden_size)
        return [activations.encode(layer) for layer in self.span.trace(hidden)]
