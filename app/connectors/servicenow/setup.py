"""The ServiceNow set-up check (POST /api/v1/connectors/{id}/check): the credentials, that the
work-note journal is readable (a retried write-back looks there first), and per surveyed table
that it exists, that its resolved states are its own (sys_choice), and that the score column is
there (sys_dictionary)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from app.connectors import checks
from app.connectors.base import ConnectorConfig
from app.connectors.checks import Check
from app.connectors.servicenow import client
from app.connectors.servicenow.payloads import resolved_states


async def check(http: httpx.AsyncClient, connector: ConnectorConfig) -> list[Check]:
    """Credentials, then per surveyed table its resolved states and score column."""

    async def credentials() -> str:
        await client.read_users(http, connector)
        return "the Table API answers and sys_user is readable"

    found = [await checks.run("credentials", credentials)]
    if not found[0].ok:
        return found  # every other probe would fail the same way
    options = connector.options
    if options.work_note:

        async def journal() -> str:
            await client.read_journal(http, connector)
            return "sys_journal_field is readable (a retried write-back checks its work notes)"

        found.append(await checks.run("journal", journal))
    for table in options.tables:
        chain: list[str] = []  # filled by the states probe, used by the column probe
        probe = _states_probe(http, connector, table, chain)
        found.append(await checks.run(f"states:{table}", probe))
        if options.score_field and chain:
            probe = _column_probe(http, connector, chain, options.score_field)
            found.append(await checks.run(f"field:{table}.{options.score_field}", probe))
    return found


def _states_probe(
    http: httpx.AsyncClient, connector: ConnectorConfig, table: str, chain: list[str]
) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        chain[:] = await client.table_chain(http, connector, table)
        if not chain:
            raise checks.CheckFailed(f"this instance has no table {table} (sys_db_object)")
        choices = await client.state_choices(http, connector, chain)
        listed = ", ".join(f"{v} {label}" for v, label in choices.items())
        if not choices:
            raise checks.CheckFailed(
                f"no state choices of {table} are readable: the account needs read access to "
                "sys_choice"
            )
        wanted = resolved_states(table, connector.options.resolved_states)
        if not wanted:
            raise checks.CheckFailed(
                f"XPulse knows no resolved states of {table}: set resolved_states, e.g. "
                f'{{"{table}": ["<value>"]}} (its states: {listed})'
            )
        by_label = {label.lower(): value for value, label in choices.items()}
        missing = [s for s in wanted if s not in choices and s.lower() not in by_label]
        if missing:
            raise checks.CheckFailed(
                f"resolved_states names {', '.join(missing)}, not states of {table} "
                f"(its states: {listed})"
            )
        labels = [s for s in wanted if s not in choices]
        if labels and connector.options.poll:
            values = ", ".join(f"{by_label[s.lower()]} for {s}" for s in labels)
            raise checks.CheckFailed(
                f"the catch-up poll asks for state values, not labels: write {values}"
            )
        return "resolved states: " + ", ".join(
            f"{v} {choices[v]}" if v in choices else f"{by_label[v.lower()]} {v}" for v in wanted
        )

    return probe


def _column_probe(
    http: httpx.AsyncClient, connector: ConnectorConfig, chain: list[str], column: str
) -> Callable[[], Awaitable[str]]:
    async def probe() -> str:
        if not await client.has_column(http, connector, chain, column):
            raise checks.CheckFailed(
                f"{chain[0]} has no column {column} (sys_dictionary, read with the account's "
                "rights): add an Integer column, or set score_field to null"
            )
        return f"{chain[0]}.{column} exists"

    return probe
