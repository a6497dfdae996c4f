"""A primary generation's tokens as they are chosen, posted to the aggregator while the batch runs, so streams can
show answers as they are generated (the results, posted after, are what is verified and paid)."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import defaultdict
from collections.abc import Mapping

import aiohttp
from solders.keypair import Keypair

from marketplace.errors import ApiError
from marketplace.http import JsonApi
from marketplace.messages import sign_message
from provider.executor import Task
from provider.models import LoadedModel

log = logging.getLogger("tessera.provider")

PROGRESS_INTERVAL = 0.05  # seconds between posts of what grew
FIRST_TOKEN_POLL = 0.01  # a task's first tokens go out within this: they are what a stream waits for most


class ProgressReporter:
    def __init__(self, keypair: Keypair, models: Mapping[str, LoadedModel]) -> None:
        self.keypair, self.models = keypair, models
        self._lock = threading.Lock()  # `hear` runs on the executor's thread, posting on the event loop's
        self._latest: dict[int, tuple[Task, list[int]]] = {}
        self._posted: dict[int, int] = {}  # task -> tokens the aggregator has

    def hear(self, task: Task, tokens: list[int]) -> None:
        with self._lock:
            self._latest[task.id] = (task, list(tokens))

    async def post_until(self, api: JsonApi, running: asyncio.Future) -> None:
        """Posts what grew every PROGRESS_INTERVAL, and a task's first tokens at once, until `running` is done."""
        loop = asyncio.get_running_loop()
        last_post = loop.time()
        while not running.done():
            await asyncio.wait([running], timeout=FIRST_TOKEN_POLL)
            if not running.done() and (self._started_unposted() or loop.time() - last_post >= PROGRESS_INTERVAL):
                await self.post(api)
                last_post = loop.time()

    def _started_unposted(self) -> bool:
        with self._lock:
            return any(task_id not in self._posted for task_id in self._latest)

    async def post(self, api: JsonApi) -> None:
        with self._lock:
            grown = [(task, tokens) for task, tokens in self._latest.values() if len(tokens) > self._posted.get(task.id, 0)]
        by_job: dict[str, list[dict]] = defaultdict(list)
        for task, tokens in grown:
            text = self.models[task.model].tokenizer.decode(tokens, skip_special_tokens=True)
            by_job[task.job].append({"task": task.id, "token_ids": tokens, "text": text})
        for job, partials in by_job.items():
            try:
                await api.post(f"/v1/jobs/{job}/progress", sign_message(self.keypair, "progress", {"partials": partials}, job=job))
            except (ApiError, aiohttp.ClientError) as exc:  # best effort: the results, posted after, carry the answer
                log.debug("progress for job %s not taken: %s", job, exc)
            else:
                self._posted.update({p["task"]: len(p["token_ids"]) for p in partials})
