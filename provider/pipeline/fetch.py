"""Getting a model's fragments from peers that hold them: the manifest first (checked against the digest asked
for), then each file, resumed where an earlier attempt stopped and checked against its sha256 before it is
put in place. A peer that serves bytes that do not hash right is refused and reported; the next peer is tried.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from marketplace.pipeline.errors import FragmentCorrupt, FragmentError, StageUnavailable
from marketplace.pipeline.fragments import Fragment, Manifest
from marketplace.pipeline.store import MANIFEST, FragmentStore

log = logging.getLogger("tessera.fetch")
CHUNK = 1 << 20


@dataclass
class FetchReport:
    fetched: list[str] = field(default_factory=list)  # what was downloaded (file names, fragment labels)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (peer, why): corrupt or substituted bytes
    resumed_bytes: int = 0  # bytes an earlier, interrupted attempt had already brought


class FragmentFetcher:
    def __init__(self, store: FragmentStore, peers: Sequence[str], session: aiohttp.ClientSession) -> None:
        self.store, self.peers, self.http = store, [p.rstrip("/") for p in peers], session
        self.report = FetchReport()

    async def model(self, digest: str) -> Manifest:
        """The model's manifest, config and tokenizer in the store, from a peer when they are not there yet."""
        try:
            manifest = self.store.manifest(digest)
            if self.store.has_model_files(manifest):
                return manifest
        except FragmentError:
            pass
        for peer in self._live_peers():
            try:
                async with self.http.get(f"{peer}/v1/models/{digest}/files/{MANIFEST}") as response:
                    if response.status != 200:
                        continue
                    manifest = Manifest.from_json(await response.json(), expected_digest=digest)
                for name, sha in manifest.files.items():
                    await self._download(peer, f"/v1/models/{digest}/files/{name}", self.store.model_dir(digest) / name, sha)
                with self.store.writing(self.store.model_dir(digest) / MANIFEST) as out:
                    out.write(json.dumps(manifest.to_json(), indent=1).encode())
                self.report.fetched.append(f"manifest {digest[:16]}…")
                return manifest
            except FragmentCorrupt as exc:
                self._refuse(peer, str(exc))
            except (aiohttp.ClientError, OSError, ValueError, FragmentError) as exc:
                log.warning("peer %s could not serve model %s: %s", peer, digest, exc)
        raise StageUnavailable(f"no peer of {self.peers} served model {digest} intact")

    async def fragment(self, fragment: Fragment) -> Path:
        """The fragment in the store, verified; downloaded from the first peer that serves it intact."""
        path = self.store.fragment_path(fragment.sha256)
        if path.is_file():
            try:
                return self.store.verified_fragment(fragment)
            except FragmentCorrupt as exc:  # damaged on this disk: fetched again
                log.error("%s; fetching it again", exc)
                path.unlink()
        for peer in self._live_peers():
            try:
                await self._download(peer, f"/v1/fragments/{fragment.sha256}", path, fragment.sha256)
                self.report.fetched.append(fragment.label)
                return path
            except FragmentCorrupt as exc:
                self._refuse(peer, str(exc))
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("peer %s could not serve %s: %s", peer, fragment.label, exc)
        raise StageUnavailable(f"no peer of {self.peers} served {fragment.label} ({fragment.sha256}) intact")

    def _live_peers(self) -> list[str]:
        refused = {peer for peer, _ in self.report.refused}
        return [peer for peer in self.peers if peer not in refused]

    def _refuse(self, peer: str, why: str) -> None:
        log.error("refused peer %s: %s", peer, why)
        self.report.refused.append((peer, why))

    async def _download(self, peer: str, path: str, target: Path, sha256: str) -> None:
        """Into `<target>.partial`, from where an earlier attempt stopped (HTTP Range); renamed once it hashes right."""
        partial = target.with_name(target.name + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        have = partial.stat().st_size if partial.exists() else 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        async with self.http.get(peer + path, headers=headers) as response:
            resumed = response.status == 206
            if response.status not in (200, 206, 416):  # 416: the partial file is already whole; hash it
                raise aiohttp.ClientResponseError(response.request_info, (), status=response.status,
                                                  message=f"{path}: HTTP {response.status}")
            if response.status != 416:
                with partial.open("ab" if resumed else "wb") as out:
                    async for block in response.content.iter_chunked(CHUNK):
                        out.write(block)
        if resumed:
            self.report.resumed_bytes += have
        digest = hashlib.sha256()
        with partial.open("rb") as handle:
            for block in iter(lambda: handle.read(CHUNK), b""):
                digest.update(block)
        if digest.hexdigest() != sha256:
            partial.unlink()
            raise FragmentCorrupt(f"{peer}{path} served bytes hashing to {digest.hexdigest()}, not {sha256}")
        partial.replace(target)
