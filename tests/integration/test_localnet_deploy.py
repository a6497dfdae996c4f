"""A user deploys their own program over RPC the way the Solana CLI does (loader-v3: buffer, chunked writes,
deploy, upgrade, set authority, close), calls it, and finds it again after kill -9 and a restart on the same ledger."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from solana.rpc.async_api import AsyncClient
from solana.rpc.core import RPCException
from solders.instruction import Instruction
from solders.keypair import Keypair

from localnet import deploy
from localnet.process import LocalnetProcess
from marketplace.keys import load_keypair, write_keypair
from marketplace.sbf.linker import link
from tests.integration.conftest import SOL
from tests.integration.test_localnet_clients import send
from tests.unit.test_linker import compile_snippet


def program(tmp_path, version: str) -> bytes:
    (tmp_path / version).mkdir()
    body = f'uint64_t entrypoint(const unsigned char *in) {{ sol_log_("{version}", {len(version)}); return 0; }}'
    return link(compile_snippet(tmp_path / version, body))


async def logs_of_a_call(client: AsyncClient, payer: Keypair, program_id) -> list[str]:
    signature = await send(client, [Instruction(program_id, b"", [])], [payer])
    return (await client.get_transaction(signature)).value.transaction.meta.log_messages


async def test_deploy_upgrade_freeze_and_restart(tmp_path):
    v1, v2 = program(tmp_path, "hello v1"), program(tmp_path, "hello v2")
    ledger, payer, address = tmp_path / "ledger", Keypair(), Keypair()
    async with LocalnetProcess(ledger=ledger) as net:
        client = AsyncClient(net.url)
        await client.request_airdrop(payer.pubkey(), 10 * SOL)
        await deploy.deploy(client, payer, address, v1 + bytes(3_000))  # long enough for several writes
        assert "Program log: hello v1" in await logs_of_a_call(client, payer, address.pubkey())
        account = (await client.get_account_info(address.pubkey())).value
        assert account.executable and account.owner == deploy.LOADER_V3
        await deploy.upgrade_program(client, payer, address.pubkey(), v2)
        assert "Program log: hello v2" in await logs_of_a_call(client, payer, address.pubkey())
        spare = await deploy.write_buffer(client, payer, v1)
        before = (await client.get_balance(payer.pubkey())).value
        await send(client, [deploy.close(spare, payer.pubkey(), payer.pubkey())], [payer])
        assert (await client.get_balance(payer.pubkey())).value > before  # the buffer's rent came back
        assert (await client.get_account_info(spare)).value is None
        await send(client, [deploy.set_authority(deploy.programdata_address(address.pubkey()), payer.pubkey(), None)], [payer])
        with pytest.raises(RPCException, match="Incorrect authority|immutable|IncorrectAuthority"):
            await deploy.upgrade_program(client, payer, address.pubkey(), v1)
        await client.close()
        net.kill()  # kill -9: what was acknowledged is on the ledger
    async with LocalnetProcess(ledger=ledger) as net:
        client = AsyncClient(net.url)
        assert "Program log: hello v2" in await logs_of_a_call(client, payer, address.pubkey())
        await client.close()


async def test_a_stranger_cannot_write_to_or_upgrade_what_is_not_theirs(net, client, wallet):
    stranger = Keypair()
    await client.request_airdrop(stranger.pubkey(), SOL)
    buffer = await deploy.write_buffer(client, wallet, b"\0" * 100)
    with pytest.raises(RPCException):
        await send(client, [deploy.write(buffer, stranger.pubkey(), 0, b"evil")], [stranger])
    data = bytes((await client.get_account_info(buffer)).value.data)
    assert data[deploy.BUFFER_METADATA:deploy.BUFFER_METADATA + 4] == b"\0\0\0\0"


async def test_the_cli_deploys_and_then_upgrades_a_program(tmp_path):
    v1, v2 = program(tmp_path, "cli v1"), program(tmp_path, "cli v2")
    so = tmp_path / "hello.so"
    payer = Keypair()
    write_keypair(tmp_path / "payer.json", payer)
    async with LocalnetProcess() as net:
        client = AsyncClient(net.url)
        await client.request_airdrop(payer.pubkey(), 10 * SOL)

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, "-m", "localnet", "deploy", str(so), "--keypair", str(tmp_path / "payer.json"),
                                   "--url", net.url, *args], capture_output=True, text=True, timeout=120)

        so.write_bytes(v1)
        first = await asyncio.to_thread(cli)
        assert first.returncode == 0 and "Deployed" in first.stdout, first.stderr
        address = load_keypair(tmp_path / "hello-keypair.json").pubkey()  # written beside the program
        assert f"Program Id: {address}" in first.stdout
        assert "Program log: cli v1" in await logs_of_a_call(client, payer, address)
        so.write_bytes(v2)
        second = await asyncio.to_thread(cli)
        assert second.returncode == 0 and "Upgraded" in second.stdout, second.stderr
        assert "Program log: cli v2" in await logs_of_a_call(client, payer, address)
        broke = await asyncio.to_thread(cli, "--program-id", str(tmp_path / "payer.json"))  # an address holding lamports
        assert broke.returncode != 0 and "deploy failed" in broke.stderr
        await client.close()
