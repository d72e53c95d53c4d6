"""GET /api/v1/comments and the dashboard's ticket and comment lists: the answers behind a
figure, filtered like it, with the minimum group size and the per-agent switch respected."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from app.config import Settings
from tests.conftest import make_settings
from tests.scoring.builders import Case, seed

JAN = {"date_from": "2026-01-01", "date_to": "2026-01-31"}
E, L = "Email", "Laptop"
CASES = [
    Case(
        "2026-01-05T10:00",
        E,
        "Desk",
        "ann",
        True,
        10,
        comment="Quick and friendly",
        factors=("fast",),
    ),
    Case(
        "2026-01-06T10:00",
        E,
        "Desk",
        "ann",
        True,
        3,
        comment="Had to call THREE times",
        lost="1_2h",
        factors=("repeat_explain",),
    ),
    Case("2026-01-07T10:00", E, "Desk", "ann", True, 8, comment="   "),  # blank: not a comment
    Case("2026-01-08T10:00", E, "Desk", "ann", True, 2, comment="100% broken_again"),
    Case(
        "2026-01-09T10:00", L, "Field", "bob", True, 4, "faces-5", comment="fine, three days late"
    ),
    Case(
        "2026-01-10T10:00",
        L,
        "Field",
        "bob",
        True,
        1,
        "faces-5",
        comment="three weeks!",
        automated=True,
    ),
    Case("2026-02-10T10:00", E, "Desk", "ann", True, 0, comment="three in February"),
]


@pytest.fixture
def k() -> int:
    return 0  # a test sets the minimum group size with @pytest.mark.parametrize("k", …)


@pytest.fixture
def agent_figures() -> bool:
    return True


@pytest.fixture
def settings(pg_url: str, k: int, agent_figures: bool) -> Settings:
    return make_settings(pg_url, privacy={"min_group_responses": k, "agent_figures": agent_figures})


@pytest.fixture
async def cases(session: AsyncSession) -> list:
    return await seed(session, CASES)


async def comments(client: httpx.AsyncClient, headers: dict, **params) -> httpx.Response:
    return await client.get("/api/v1/comments", params={**JAN, **params}, headers=headers)


async def test_counted_comments_newest_first(client, read_headers, cases) -> None:
    response = await comments(client, read_headers)
    assert response.status_code == 200, response.text
    body = response.json()
    texts = [i["comment"] for i in body["items"]]
    # Newest first; the blank one, the scanner's click and February's are not there.
    assert texts == [
        "fine, three days late",
        "100% broken_again",
        "Had to call THREE times",
        "Quick and friendly",
    ]
    first = body["items"][0]
    assert first["band"] == "happy" and first["score"] == 4 and first["scale"] == "faces-5"
    assert first["ticket"]["number"] == "INC00005"
    assert first["ticket"]["url"] == "http://127.0.0.1:9/ticket/5"
    assert first["ticket"]["agent"] == "bob" and body["next_cursor"] is None
    called = body["items"][2]
    assert called["negative_factors"] == ["repeat_explain"] and called["lost_minutes"] == 90


async def test_search_band_and_filter(client, read_headers, cases) -> None:
    found = (await comments(client, read_headers, q="three")).json()["items"]
    assert [i["comment"] for i in found] == ["fine, three days late", "Had to call THREE times"]
    # LIKE wildcards in the text are searched for as themselves.
    assert [
        i["comment"] for i in (await comments(client, read_headers, q="0%")).json()["items"]
    ] == ["100% broken_again"]
    assert (await comments(client, read_headers, q="n_a")).json()["items"][0]["comment"] == (
        "100% broken_again"
    )
    assert (await comments(client, read_headers, q="o_e")).json()["items"] == []
    unhappy = (await comments(client, read_headers, band="unhappy")).json()["items"]
    assert {i["comment"] for i in unhappy} == {"Had to call THREE times", "100% broken_again"}
    laptop = (await comments(client, read_headers, service=L)).json()["items"]
    assert [i["ticket"]["service"] for i in laptop] == [L]
    bad = await comments(client, read_headers, band="furious")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("application/problem+json")


async def test_pages_follow_the_cursor(client, read_headers, cases) -> None:
    first = (await comments(client, read_headers, limit=3)).json()
    assert len(first["items"]) == 3 and first["next_cursor"]
    rest = (await comments(client, read_headers, limit=3, cursor=first["next_cursor"])).json()
    assert [i["comment"] for i in rest["items"]] == ["Quick and friendly"]
    assert rest["next_cursor"] is None
    bad = await comments(client, read_headers, cursor="nonsense")
    assert bad.status_code == 400 and bad.json()["type"].endswith("/invalid-cursor")


async def test_a_key_is_needed(client, cases) -> None:
    response = await client.get("/api/v1/comments")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("k", [3])
async def test_a_small_group_hides_its_comments(client, read_headers, cases) -> None:
    # Laptop has 1 counted response (the scanner's click is not counted): fewer than 3.
    small = (await comments(client, read_headers, service=L)).json()
    assert small == {"filter": small["filter"], "hidden": "fewer than 3 responses"}
    large = (await comments(client, read_headers, service=E)).json()
    assert len(large["items"]) == 3
    # Unfiltered, the comments are not one group's: they are all listed.
    assert len((await comments(client, read_headers)).json()["items"]) == 4


@pytest.mark.parametrize("agent_figures", [False])
async def test_agent_figures_off(client, read_headers, cases) -> None:
    refused = await comments(client, read_headers, agent="ann")
    assert refused.status_code == 403 and refused.json()["type"].endswith("/agent-figures-off")
    listed = await comments(client, read_headers)
    assert listed.status_code == 200
    assert all("agent" not in i["ticket"] for i in listed.json()["items"])
    assert '"ann"' not in listed.text and '"bob"' not in listed.text


async def test_openapi_documents_the_contract(client) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/api/v1/comments"]["get"]
    params = {p["name"] for p in operation["parameters"]}
    assert {"q", "band", "service", "agent", "date_from", "tz", "cursor", "limit"} <= params
    for status in ("400", "401", "403", "422"):
        assert status in operation["responses"], status
        content = operation["responses"][status]["content"]
        assert "application/problem+json" in content, status
    ok = str(operation["responses"]["200"])
    assert "Page_Answer_" in ok and "HiddenAnswers" in ok


# --- the dashboard's lists ------------------------------------------------------------------


async def _sign_in(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    key = headers["Authorization"].removeprefix("Bearer ")
    assert (await client.post("/dashboard/login", data={"key": key})).status_code == 303


async def test_the_ticket_list_is_filtered_like_the_figure(client, read_headers, cases) -> None:
    assert (await client.get("/dashboard/tickets")).status_code == 303  # signed out
    await _sign_in(client, read_headers)
    page = await client.get(
        "/dashboard/tickets",
        params={**JAN, "service": E, "band": "unhappy"},
        headers={"Accept-Language": "de-DE,de;q=0.9"},
    )
    assert (
        page.status_code == 200 and "default-src 'none'" in page.headers["content-security-policy"]
    )
    rows = (
        page.text.split('id="ticket-list"')[1].split("</tbody>")[0].split('<tr class="ticket">')[1:]
    )
    assert len(rows) == 2
    assert 'href="http://127.0.0.1:9/ticket/4"' in rows[0] and "INC00004" in rows[0]
    assert "Ich musste mein Problem mehrmals erklären" in rows[1]  # the factor, in German
    assert "90 min" in rows[1] and "<td>ann</td>" in rows[1]
    # The filter bar offers the values in the data and keeps the chosen one.
    assert '<option value="Email" selected>' in page.text and '<option value="Laptop">' in page.text


async def test_the_comments_page_searches(client, read_headers, cases) -> None:
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard/comments", params={**JAN, "q": "three"})).text
    listed = page.split('id="comment-list"')[1].split("</ol>")[0]
    assert listed.count('<li class="comment">') == 2
    assert "Had to call THREE times" in listed and "Quick and friendly" not in listed
    assert 'value="three"' in page


@pytest.mark.parametrize("k", [3])
async def test_the_lists_hide_a_small_group(client, read_headers, cases) -> None:
    await _sign_in(client, read_headers)
    for path in ("/dashboard/tickets", "/dashboard/comments"):
        page = (await client.get(path, params={**JAN, "service": L})).text
        assert "fewer than 3 responses" in page and "INC00005" not in page, path


@pytest.mark.parametrize("agent_figures", [False])
async def test_the_lists_without_agent_figures(client, read_headers, cases) -> None:
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard/tickets", params=JAN)).text
    assert "<th>Agent</th>" not in page and "<td>ann</td>" not in page
    assert 'name="agent"' not in page
    refused = await client.get("/dashboard/tickets", params={**JAN, "agent": "ann"})
    assert refused.status_code == 403 and "XPULSE_PRIVACY__AGENT_FIGURES" in refused.text


async def test_the_overview_shows_rounded_singular_and_reasoned_figures(
    client, read_headers, admin_headers, cases
) -> None:
    body = {"name": "Everyone", "scope": "all", "min_happiness": 0}
    assert (await client.post("/api/v1/xlas", json=body, headers=admin_headers)).status_code == 201
    await _sign_in(client, read_headers)
    page = (await client.get("/dashboard", params={**JAN, "service": L})).text
    # The XLA is judged for this month, which has no answers: at risk, and the page says why.
    xlas = page.split('id="xlas"')[1].split("</section>")[0]
    assert '<span class="status at_risk">at risk</span>' in xlas
    assert "At risk: 0 responses in this period, fewer than 10, too few to call it" in xlas
    # One counted response (faces-5, no lost time): singular words, a low-sample reason.
    assert "1 response on 1–5" in page and "1 responses" not in page
    assert "Low sample: fewer than 10 responses" not in page  # happiness has no 0–10 answer
    email = (await client.get("/dashboard", params={**JAN, "service": E})).text
    assert "Low sample: fewer than 10 responses (4 responses)" in email
    assert "1.5 h" in email  # 90 lost minutes, one decimal
    # Every drill-down link carries the filter.
    assert (
        "/dashboard/tickets?date_from=2026-01-01&amp;date_to=2026-01-31&amp;tz=UTC&amp;service=Email"
        in email
    )


@pytest.mark.parametrize("k", [3])
async def test_the_overview_says_how_many_periods_are_hidden(client, read_headers, cases) -> None:
    await _sign_in(client, read_headers)
    email = (await client.get("/dashboard", params={**JAN, "service": E})).text
    # Email's 4 answers share the week of 5 January; its other 4 weeks have none (fewer than 3).
    assert "4 periods are left out of every trend: hidden, fewer than 3 responses" in email
    everyone = (await client.get("/dashboard", params=JAN)).text
    assert 'id="trend-hidden"' not in everyone  # the whole organisation is never hidden
