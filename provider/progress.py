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


class ProgressReporter:
    def __init__(self, keypair: Keypair, models: Mapping[str, LoadedModel]) -> None:
        self.keypair, self.models = keypair, models
        self._lock = threading.Lock()  # `hear` runs on the executor's thread, posting on the event loop's
        self._latest: dict[int, tuple[Task, list[int]]] = {}
        self._posted: dict[int, int] = {}  # task -> tokens the aggregator has
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = asyncio.Event()  # a task's first tokens were heard: set on the event loop's thread

    def hear(self, task: Task, tokens: list[int]) -> None:
        with self._lock:
            first = task.id not in self._latest
            self._latest[task.id] = (task, list(tokens))
        if first and self._loop is not None:  # a task's first tokens are what a stream waits for most: wake the poster
            self._loop.call_soon_threadsafe(self._started.set)

    async def post_until(self, api: JsonApi, running: asyncio.Future) -> None:
        """Posts a task's first tokens as soon as they are heard, then what grew every PROGRESS_INTERVAL, until
        `running` is done."""
        loop = self._loop = asyncio.get_running_loop()
        last_post = loop.time()
        while not running.done():
            started = asyncio.ensure_future(self._started.wait())
            await asyncio.wait([running, started], timeout=max(last_post + PROGRESS_INTERVAL - loop.time(), 0),
                               return_when=asyncio.FIRST_COMPLETED)
            started.cancel()
            self._started.clear()  # what set it is in `_latest` already: the check below sees it
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
