"""The judging page and the arena (issue 39 item 3) in a real browser: Playwright driving Debian's Chromium
against `rankwise judge serve` in its own process. Judge five passages by keyboard, reload, the judgments are
still there and in the exported qrels; undo; the LLM's grade hidden until judged; vote in the arena and see
the leaderboard change. Each page's screenshot is written next to the test's files."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time

import httpx
import pytest
from tests.conftest import FLEA_PASSAGES, FLEA_QUERY

from rankwise.pipelines.judge.arena import Votes, leaderboard
from rankwise.pipelines.judge.human import HumanJudgments
from server_helpers import free_port

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


PASSAGES = [*FLEA_PASSAGES, "Cat fleas live on dogs and cats, and bite people too."]


def candidates_file(folder):
    path = folder / "candidates.jsonl"
    rows = [
        {
            "query": {"text": FLEA_QUERY, "qid": "q1"},
            "candidates": [{"docid": f"d{i}", "doc": {"contents": text}} for i, text in enumerate(PASSAGES)],
        },
        {
            "query": {"text": "what do fleas eat", "qid": "q2"},
            "candidates": [{"docid": f"e{i}", "doc": {"contents": text}} for i, text in enumerate(PASSAGES)],
        },
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def judging(tmp_path_factory):
    if CHROMIUM is None:
        pytest.skip("no chromium: `make setup` installs Debian's (apt-get install chromium) as root")
    folder = tmp_path_factory.mktemp("judging")
    out = folder / "out"
    out.mkdir()
    # the LLM's judgments, as `rankwise judge` writes them: its grade is the suggestion
    (out / "judgments.jsonl").write_text(json.dumps({"qid": "q1", "docid": "d0", "grade": 3}) + "\n")
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rankwise.cli",
            "judge",
            "serve",
            "--input",
            str(candidates_file(folder)),
            "--out",
            str(out),
            "--port",
            str(port),
            "--arena",
            "minilm-embed",
            "maxsim:minilm-embed",
            "--top-k",
            "3",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/judge", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    yield base, out, folder, process
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)


@pytest.fixture(scope="module")
def page(judging):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_FLAGS)
        yield browser.new_page()
        browser.close()


def test_judge_five_passages_by_keyboard_and_find_them_after_a_reload(judging, page):
    base, out, folder, _ = judging
    page.goto(f"{base}/judge")
    page.fill("#judge", "ana")
    page.locator("#judge").dispatch_event("change")
    page.wait_for_selector("#p0")
    assert page.locator("#p0 .suggestion").is_hidden()  # the LLM's grade stays hidden until she judges
    # the query's terms are highlighted, plurals and inflections by their stem ("flea" for "fleas")
    assert page.locator("#p1 mark").all_inner_texts() == ["flea", "lives"]
    assert page.locator("#p0 mark").count() == 0
    page.locator("body").click(position={"x": 5, "y": 5})
    for key in "32100":  # as fast as a person types: each grade is saved in order
        page.keyboard.press(key)
    page.wait_for_function("document.getElementById('progress').textContent.startsWith('5 of')")
    assert page.locator("#p0 .suggestion").is_visible()  # judged: now the LLM's 3 shows
    page.screenshot(path=str(folder / "judge.png"), full_page=True)
    page.reload()
    page.wait_for_function("document.getElementById('progress').textContent.startsWith('5 of')")
    assert [page.locator(f"#p{i} .grade").inner_text() for i in range(5)] == [
        "your grade: 3",
        "your grade: 2",
        "your grade: 1",
        "your grade: 0",
        "your grade: 0",
    ]
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("u")  # undo the last one
    page.wait_for_function("document.getElementById('progress').textContent.startsWith('4 of')")
    qrels = httpx.get(f"{base}/export/qrels", params={"judge": "ana"}).text.splitlines()
    assert qrels == ["q1 0 d0 3", "q1 0 d1 2", "q1 0 d2 1", "q1 0 d3 0"]
    # on disk already: a fresh reader of the folder sees the same grades
    assert HumanJudgments(out).grades("ana") == {"q1": {"d0": 3, "d1": 2, "d2": 1, "d3": 0}}


def test_vote_in_the_arena_and_the_leaderboard_changes(judging, page):
    base, out, folder, _ = judging
    page.goto(f"{base}/leaderboard")
    page.wait_for_selector("#rows tr")
    before = page.locator("#rows").inner_text()
    page.goto(f"{base}/arena")
    page.fill("#judge", "ben")
    page.locator("#judge").dispatch_event("change")
    page.wait_for_selector("#left li")
    assert page.locator("#left li").count() == 3 and page.locator("#right li").count() == 3
    page.screenshot(path=str(folder / "arena.png"), full_page=True)
    page.locator("body").click(position={"x": 5, "y": 5})
    for key in ("1", "1", "t"):
        shown = page.evaluate("document.body.dataset.battle")
        page.keyboard.press(key)
        page.wait_for_function("(b) => document.body.dataset.battle && document.body.dataset.battle !== b", arg=shown)
    votes = Votes(out).votes
    assert len(votes) == 3 and [v["winner"] for v in votes] == ["left", "left", "tie"]
    assert {v["judge"] for v in votes} == {"ben"}
    page.goto(f"{base}/leaderboard")
    page.wait_for_selector("#rows tr")
    after = page.locator("#rows").inner_text()
    assert after != before
    page.screenshot(path=str(folder / "leaderboard.png"), full_page=True)
    standings = {s.model: s for s in leaderboard(votes, ["maxsim:minilm-embed", "minilm-embed"])}
    assert sum(s.votes for s in standings.values()) == 6 and sum(s.wins for s in standings.values()) == 3
    assert all((folder / f"{name}.png").stat().st_size > 5000 for name in ("judge", "arena", "leaderboard"))


def test_bradley_terry_prefers_the_model_that_wins_more():
    votes = [{"left": "a", "right": "b", "winner": "left"}] * 6 + [{"left": "b", "right": "a", "winner": "left"}] * 2
    board = leaderboard(votes, ["a", "b"], resamples=50)
    assert [s.model for s in board] == ["a", "b"]
    assert board[0].rating > 1000 > board[1].rating and board[0].low <= board[0].rating <= board[0].high
    assert (board[0].wins, board[0].votes) == (6.0, 8)
